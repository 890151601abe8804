#include "vrrp/api.h"

namespace shoal::cp {
namespace {

using nlohmann::json;

// Which VIPs this director holds now: what an operator asks first during a failover.
json instances_json(const VrrpRunner& vrrp) {
  json out = json::array();
  for (const VrrpRunner::Member& m : vrrp.members()) {
    json addresses = json::array();
    for (const IpAddress& ip : m.settings.addresses) addresses.push_back(to_string(ip));
    json entry = {{"name", m.settings.name},
                  {"vrid", m.settings.vrid},
                  {"state", std::string(name(m.instance->state()))},
                  {"priority", m.instance->priority()},
                  {"addresses", std::move(addresses)},
                  {"tracks", json::array()},
                  {"peers", json::array()}};
    // What moves the priority or holds the instance in fault: "service:web", "script:chk"…
    const auto& tracks = m.instance->config().tracks;
    for (std::size_t t = 0; t < tracks.size(); ++t)
      entry["tracks"].push_back({{"name", tracks[t].name},
                                 {"weight", tracks[t].weight},
                                 {"up", m.instance->track_ok(t)}});
    // The other router of the VRID, as last heard: the master while we are backup.
    if (const VrrpInstance::Peer& peer = m.instance->last_peer(); peer.address != IpAddress{}) {
      const double ago = static_cast<double>(vrrp_now_ms() - peer.heard_ms) / 1000.0;
      entry["peers"].push_back({{"address", to_string(peer.address)},
                                {"priority", peer.priority},
                                {"seconds_ago", ago}});
      if (m.instance->state() == VrrpState::backup && peer.priority > 0)
        entry["master"] = to_string(peer.address);
    }
    if (m.instance->state() == VrrpState::master) entry["master"] = "this director";
    out.push_back(std::move(entry));
  }
  return out;
}

void add_metrics(const VrrpRunner& vrrp, MetricFamilies& f) {
  for (const VrrpRunner::Member& m : vrrp.members()) {
    const std::string& instance = m.settings.name;
    for (VrrpState s : {VrrpState::init, VrrpState::backup, VrrpState::master, VrrpState::fault})
      f.gauge("shoal_vrrp_state", "1 for the VRRP instance's current state",
              {{"vrrp_instance", instance}, {"state", std::string(name(s))}},
              m.instance->state() == s ? 1 : 0);
    f.gauge("shoal_vrrp_priority", "The instance's effective priority (tracking included)",
            {{"vrrp_instance", instance}}, m.instance->priority());
    const VrrpCounters& c = m.instance->counters();
    const char* adverts = "VRRP advertisements sent and received";
    f.counter("shoal_vrrp_adverts_total", adverts, {{"vrrp_instance", instance}, {"direction", "sent"}},
              static_cast<double>(c.adverts_sent));
    f.counter("shoal_vrrp_adverts_total", adverts,
              {{"vrrp_instance", instance}, {"direction", "received"}},
              static_cast<double>(c.adverts_received));
    for (std::size_t r = 0; r < kVrrpDropCount; ++r)
      f.counter("shoal_vrrp_drops_total", "VRRP advertisements dropped, by reason",
                {{"vrrp_instance", instance}, {"reason", std::string(name(static_cast<VrrpDrop>(r)))}},
                static_cast<double>(c.drops[r]));
  }
}

}  // namespace

void register_vrrp_api(ApiRegistry& registry, const VrrpRunner& vrrp) {
  registry.status_section("vrrp", [&vrrp] { return instances_json(vrrp); });
  registry.metric_families([&vrrp](MetricFamilies& f) { add_metrics(vrrp, f); });
}

}  // namespace shoal::cp

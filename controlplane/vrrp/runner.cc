#include "vrrp/runner.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "net/control_frames.h"
#include "net/neighbour_discovery.h"

namespace shoal::cp {

std::string track_name(VrrpTrackKind kind, const std::string& name) {
  return fmt::format("{}:{}", to_string(kind), name);
}

VrrpInstanceConfig instance_config(const Config& config, const VrrpInstanceSettings& v,
                                   const rte_ether_addr& port_mac) {
  VrrpInstanceConfig c;
  c.name = v.name;
  c.vrid = v.vrid;
  c.priority = v.priority;
  c.advert_interval_cs = v.interval_cs;
  c.preempt = v.preempt;
  c.preempt_delay_ms = v.preempt_delay_ms;
  c.use_virtual_mac = v.virtual_mac;
  c.v2_checksum = v.v2_checksum;
  c.primary_ip = is_ipv6(v) ? IpAddress::from_v6(link_local_address(port_mac))
                            : IpAddress::from_v4(config.ports.at(v.port).addresses.front().address);
  c.addresses = v.addresses;
  c.garp_count = v.garp_count;
  c.garp_interval_ms = v.garp_interval_ms;
  c.garp_refresh_ms = v.garp_refresh_ms;
  for (const VrrpTrackConfig& t : v.tracks) c.tracks.push_back({track_name(t.kind, t.name), t.weight});
  return c;
}

VrrpRunner::VrrpRunner(const Config& config, std::vector<rte_ether_addr> port_macs)
    : ports_(config.ports), port_macs_(std::move(port_macs)) {
  members_.reserve(config.vrrp.instances.size());  // groups point into it: never reallocated
  for (const VrrpInstanceSettings& v : config.vrrp.instances)
    members_.push_back(
        {v, std::make_unique<VrrpInstance>(instance_config(config, v, port_macs_.at(v.port)))});
  for (const VrrpSyncGroupSettings& g : config.vrrp.sync_groups) {
    std::vector<VrrpInstance*> in;
    for (const std::string& name : g.instances)
      for (Member& m : members_)
        if (m.settings.name == name) in.push_back(m.instance.get());
    groups_.push_back(std::make_unique<VrrpSyncGroup>(g.name, std::move(in)));
  }
  group_states_.assign(groups_.size(), VrrpState::init);
}

int VrrpRunner::on_link_port(const IpAddress& ip) const {
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    if (ip.is_v4()) {
      for (const Ipv4Prefix& a : ports_[i].addresses)
        if (a.contains(ip.v4())) return static_cast<int>(i);
    } else {
      for (const Ipv6Prefix& a : ports_[i].addresses6)
        if (a.contains(ip.v6())) return static_cast<int>(i);
    }
  }
  return -1;
}

bool VrrpRunner::is_own_address(std::size_t port, const IpAddress& ip) const {
  if (port >= ports_.size()) return false;
  if (ip.is_v6()) return ip.v6() == link_local_address(port_macs_.at(port));
  return std::any_of(ports_[port].addresses.begin(), ports_[port].addresses.end(),
                     [&](const Ipv4Prefix& a) { return a.address == ip.v4(); });
}

void VrrpRunner::start(uint64_t now_ms) {
  for (Member& m : members_) act(m, m.instance->start(now_ms), now_ms);
  reconcile(now_ms);
}

void VrrpRunner::shutdown(uint64_t now_ms) {
  for (Member& m : members_) act(m, m.instance->shutdown(now_ms), now_ms);
  update_group_states();
}

VrrpRunner::Member* VrrpRunner::member_for(std::size_t port, uint8_t vrid, bool ipv6) {
  for (Member& m : members_)
    if (m.settings.port == port && m.settings.vrid == vrid && is_ipv6(m.settings) == ipv6)
      return &m;
  return nullptr;
}

void VrrpRunner::receive(std::size_t port, const uint8_t* ip, std::size_t len, uint64_t now_ms) {
  const VrrpParseResult r = parse_vrrp_advert(ip, len);
  if (!r.ok) {
    ++drops_[static_cast<std::size_t>(r.reason)];
    return;
  }
  // A port that hands back what it sent (af_packet sees outgoing frames) must not make an
  // instance hear itself.
  if (is_own_address(port, r.received.src)) {
    ++own_adverts_;
    return;
  }
  Member* m = member_for(port, r.received.advert.vrid, r.received.src.is_v6());
  if (m == nullptr) {
    ++drops_[static_cast<std::size_t>(VrrpDrop::unknown_vrid)];
    return;
  }
  act(*m, m->instance->receive(r.received, now_ms), now_ms);
  reconcile(now_ms);
}

void VrrpRunner::tick(uint64_t now_ms) {
  bool any = false;
  for (Member& m : members_) {
    if (m.instance->next_deadline_ms() > now_ms) continue;
    act(m, m.instance->tick(now_ms), now_ms);
    any = true;
  }
  if (any) reconcile(now_ms);
}

void VrrpRunner::track(const std::string& name, bool ok, uint64_t now_ms) {
  for (Member& m : members_) act(m, m.instance->track_changed(name, ok, now_ms), now_ms);
  reconcile(now_ms);
}

uint64_t VrrpRunner::next_deadline_ms() const {
  uint64_t next = VrrpInstance::kNever;
  for (const Member& m : members_) next = std::min(next, m.instance->next_deadline_ms());
  return next;
}

void VrrpRunner::reconcile(uint64_t now_ms) {
  for (auto& g : groups_) {
    for (VrrpSyncGroup::MemberAction& ma : g->reconcile(now_ms)) {
      auto it = std::find_if(members_.begin(), members_.end(),
                             [&](const Member& m) { return m.instance.get() == ma.member; });
      if (it != members_.end()) act(*it, ma.action, now_ms);
    }
  }
  update_group_states();
}

void VrrpRunner::update_group_states() {
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const auto& in = groups_[g]->members();
    auto all = [&](VrrpState s) {
      return std::all_of(in.begin(), in.end(), [s](const VrrpInstance* m) { return m->state() == s; });
    };
    const bool any_fault = std::any_of(in.begin(), in.end(), [](const VrrpInstance* m) {
      return m->state() == VrrpState::fault;
    });
    VrrpState now = group_states_[g];
    if (all(VrrpState::init)) now = VrrpState::init;
    else if (any_fault) now = VrrpState::fault;
    else if (all(VrrpState::master)) now = VrrpState::master;
    else if (all(VrrpState::backup)) now = VrrpState::backup;
    if (now == group_states_[g]) continue;
    group_states_[g] = now;
    events_.push_back({true, groups_[g]->name(), now, 0});
  }
}

void VrrpRunner::act(Member& m, const VrrpInstance::Actions& actions, uint64_t now_ms) {
  for (const VrrpAction& a : actions) act(m, a, now_ms);
}

void VrrpRunner::act(Member& m, const VrrpAction& a, uint64_t /*now_ms*/) {
  const VrrpInstance& in = *m.instance;
  const std::size_t port = m.settings.port;
  switch (a.kind) {
    case VrrpActionKind::send_advert: {
      Frame f{port, std::vector<uint8_t>(kVrrpMaxFrameLen)};
      f.bytes.resize(in.write_advert(f.bytes.data(), port_macs_.at(port), a.priority));
      frames_.push_back(std::move(f));
      if (a.priority == 0) spdlog::info("vrrp {}: sent priority 0 ({})", m.settings.name, a.reason);
      break;
    }
    case VrrpActionKind::become_master:
    case VrrpActionKind::become_backup:
    case VrrpActionKind::become_fault:
    case VrrpActionKind::become_init: {
      // One line per transition, with its reason: what an operator greps for after a failover.
      // The state comes from the action: a list of actions may pass through several.
      const VrrpState to = a.kind == VrrpActionKind::become_master   ? VrrpState::master
                           : a.kind == VrrpActionKind::become_backup ? VrrpState::backup
                           : a.kind == VrrpActionKind::become_fault  ? VrrpState::fault
                                                                     : VrrpState::init;
      const auto log = to == VrrpState::master ? spdlog::level::warn : spdlog::level::info;
      spdlog::log(log, "vrrp {}: {} -> {} (priority {}): {}", m.settings.name, name(m.logged),
                  name(to), in.priority(), a.reason);
      if (to != m.logged) events_.push_back({false, m.settings.name, to, in.priority()});
      m.logged = to;
      changed_ = true;
      break;
    }
    case VrrpActionKind::send_garp:
      for (const IpAddress& ip : m.settings.addresses) {
        // On the segment the address lives on (a NAT gateway may sit on another port); a VIP
        // that is on no segment is announced on the instance's port.
        const int on_link = on_link_port(ip);
        const std::size_t out = on_link >= 0 ? static_cast<std::size_t>(on_link) : port;
        Frame f{out, std::vector<uint8_t>(ip.is_v4() ? kArpFrameLen : kNdFrameLen)};
        if (ip.is_v4())
          write_arp_request(f.bytes.data(), arp_mac(ip, out), ip.v4(), ip.v4());
        else
          write_unsolicited_neighbor_advert(f.bytes.data(), arp_mac(ip, out), ip.v6());
        frames_.push_back(std::move(f));
      }
      spdlog::debug("vrrp {}: {} ({})", m.settings.name,
                    is_ipv6(m.settings) ? "unsolicited neighbour advertisement" : "gratuitous ARP",
                    a.reason);
      break;
    case VrrpActionKind::log:
      spdlog::info("vrrp {}: {}", m.settings.name, a.reason);
      break;
  }
}

std::optional<std::string> VrrpRunner::restart_needed(const Config& next) const {
  const auto& instances = next.vrrp.instances;
  if (instances.size() != members_.size())
    return fmt::format("VRRP instances can only be added or removed with a restart ({} running, "
                       "{} in the file)",
                       members_.size(), instances.size());
  for (std::size_t i = 0; i < instances.size(); ++i) {
    const VrrpInstanceSettings& a = members_[i].settings;
    const VrrpInstanceSettings& b = instances[i];
    if (a.name != b.name)
      return fmt::format("VRRP instance '{}' became '{}': instances are renamed, added or "
                         "reordered only with a restart",
                         a.name, b.name);
    if (a.vrid != b.vrid || a.port != b.port || a.virtual_mac != b.virtual_mac)
      return fmt::format("VRRP instance '{}': its vrid, port and virtual_mac change only with a "
                         "restart",
                         a.name);
  }
  if (next.vrrp.sync_groups.size() != groups_.size())
    return std::string("VRRP sync groups change only with a restart");
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const VrrpSyncGroupSettings& s = next.vrrp.sync_groups[g];
    bool same = s.name == groups_[g]->name() && s.instances.size() == groups_[g]->members().size();
    for (std::size_t k = 0; same && k < s.instances.size(); ++k)
      same = groups_[g]->members()[k]->config().name == s.instances[k];
    if (!same) return fmt::format("VRRP sync group '{}' changes only with a restart", s.name);
  }
  return std::nullopt;
}

void VrrpRunner::reconfigure(const Config& next, uint64_t now_ms) {
  for (std::size_t i = 0; i < members_.size(); ++i) {
    Member& m = members_[i];
    m.settings = next.vrrp.instances[i];
    const std::vector<IpAddress> before = m.instance->config().addresses;
    act(m, m.instance->reconfigure(instance_config(next, m.settings, port_macs_.at(m.settings.port)),
                                   now_ms),
        now_ms);
    // Addresses that moved in or out of an instance change what this director holds.
    if (before != m.settings.addresses) changed_ = true;
  }
  reconcile(now_ms);
}

const VrrpRunner::Member* VrrpRunner::carrier(const IpAddress& ip) const {
  for (const Member& m : members_)
    if (std::find(m.settings.addresses.begin(), m.settings.addresses.end(), ip) !=
        m.settings.addresses.end())
      return &m;
  return nullptr;
}

bool VrrpRunner::carries(const IpAddress& ip) const { return carrier(ip) != nullptr; }

bool VrrpRunner::holds(const IpAddress& ip) const {
  const Member* m = carrier(ip);
  return m != nullptr && m->instance->state() == VrrpState::master;
}

rte_ether_addr VrrpRunner::arp_mac(const IpAddress& ip, std::size_t port) const {
  const Member* m = carrier(ip);
  if (m != nullptr && m->settings.virtual_mac && m->settings.port == port)
    return vrrp_virtual_mac(m->settings.vrid, is_ipv6(m->settings));
  return port_macs_.at(port);
}

std::vector<rte_ether_addr> VrrpRunner::virtual_macs(std::size_t port) const {
  std::vector<rte_ether_addr> out;
  for (const Member& m : members_)
    if (m.settings.port == port && m.settings.virtual_mac)
      out.push_back(vrrp_virtual_mac(m.settings.vrid, is_ipv6(m.settings)));
  return out;
}

VrrpOwnership VrrpRunner::ownership() const {
  VrrpOwnership o;
  for (const Member& m : members_) {
    if (m.instance->state() == VrrpState::master) {
      if (m.settings.virtual_mac)
        o.virtual_macs[m.settings.port].push_back(
            vrrp_virtual_mac(m.settings.vrid, is_ipv6(m.settings)));
    } else {
      o.released.insert(m.settings.addresses.begin(), m.settings.addresses.end());
    }
  }
  return o;
}

std::vector<std::string> VrrpRunner::counter_lines() const {
  std::vector<std::string> out;
  for (const Member& m : members_) {
    const VrrpInstance& in = *m.instance;
    const VrrpCounters& c = in.counters();
    std::string detail;
    for (std::size_t s = 0; s < kVrrpStateCount; ++s)
      if (c.transitions[s])
        detail += fmt::format(" to_{}={}", name(static_cast<VrrpState>(s)), c.transitions[s]);
    for (std::size_t r = 0; r < kVrrpDropCount; ++r)
      if (c.drops[r]) detail += fmt::format(" drop.{}={}", name(static_cast<VrrpDrop>(r)), c.drops[r]);
    if (c.address_list_mismatches)
      detail += fmt::format(" address_list_mismatches={}", c.address_list_mismatches);
    if (c.interval_mismatches) detail += fmt::format(" interval_mismatches={}", c.interval_mismatches);
    out.push_back(fmt::format("counters vrrp {}: state={} priority={} adverts_sent={} "
                              "adverts_received={}{}",
                              m.settings.name, name(in.state()), in.priority(), c.adverts_sent,
                              c.adverts_received, detail));
  }
  std::string detail;
  for (std::size_t r = 0; r < kVrrpDropCount; ++r)
    if (drops_[r]) detail += fmt::format(" drop.{}={}", name(static_cast<VrrpDrop>(r)), drops_[r]);
  out.push_back(fmt::format("counters vrrp unclaimed: own_looped_back={}{}", own_adverts_, detail));
  return out;
}

}  // namespace shoal::cp

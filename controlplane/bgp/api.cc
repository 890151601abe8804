#include "bgp/api.h"

#include <fmt/format.h>

#include <algorithm>

namespace shoal::cp {
namespace {

using nlohmann::json;

bool established(const BirdProtocol& p) {
  return p.state == "up" && p.info.rfind("Established", 0) == 0;
}

bool any_established(const BgpAnnouncer::State& s) {
  return std::any_of(s.sessions.begin(), s.sessions.end(), established);
}

bool in_bird(const BgpAnnouncer::State& s, const IpAddress& vip) {
  return std::find(s.in_bird.begin(), s.in_bird.end(), vip) != s.in_bird.end();
}

json status(const BgpAnnouncer& bgp) {
  const BgpAnnouncer::State s = bgp.state();
  const bool up = any_established(s);
  json vips = json::array();
  for (const VipOffer& o : s.offered) {
    const bool loaded = in_bird(s, o.vip);
    vips.push_back({{"vip", to_string(o.vip)},
                    {"services", o.services},
                    {"offered", o.offered},
                    {"why", o.offered ? json(nullptr) : json(o.why)},
                    {"withdrawn", bgp.withdrawals().vips.count(o.vip) != 0},
                    {"in_bird", loaded},
                    {"announced", loaded && up}});
  }
  json sessions = json::array();
  for (const BirdProtocol& p : s.sessions)
    sessions.push_back({{"name", p.name},
                        {"state", p.state},
                        {"since", p.since},
                        {"info", p.info},
                        {"established", established(p)}});
  return {{"socket", bgp.settings().socket},
          {"file", bgp.settings().file},
          {"file6", bgp.settings().file6},
          {"director_withdrawn", bgp.withdrawals().director},
          {"settled", s.settled},
          {"bird", {{"reachable", s.bird_reachable},
                    {"error", s.error.empty() ? json(nullptr) : json(s.error)},
                    {"reconfigures", s.reconfigures},
                    {"failures", s.failures}}},
          {"vips", vips},
          {"sessions", sessions}};
}

void add_metrics(const BgpAnnouncer& bgp, MetricFamilies& f) {
  const BgpAnnouncer::State s = bgp.state();
  const bool up = any_established(s);
  for (const VipOffer& o : s.offered) {
    const std::string vip = to_string(o.vip);
    f.gauge("shoal_bgp_vip_offered",
            "1 while shoald offers the VIP to bird (a service on it takes traffic, not withdrawn)",
            {{"vip", vip}}, o.offered ? 1 : 0);
    f.gauge("shoal_bgp_vip_announced",
            "1 while bird has the VIP and at least one BGP session is established",
            {{"vip", vip}}, in_bird(s, o.vip) && up ? 1 : 0);
  }
  for (const BirdProtocol& p : s.sessions)
    f.gauge("shoal_bgp_session_up", "1 while the BGP session (a bird protocol) is established",
            {{"session", p.name}}, established(p) ? 1 : 0);
  f.gauge("shoal_bgp_bird_reachable", "1 while bird answers on its control socket", {},
          s.bird_reachable ? 1 : 0);
  f.gauge("shoal_bgp_director_withdrawn", "1 while the operator has withdrawn this director", {},
          bgp.withdrawals().director ? 1 : 0);
  f.counter("shoal_bgp_reconfigures_total", "bird reconfigurations asked for, by result",
            {{"result", "ok"}}, static_cast<double>(s.reconfigures));
  f.counter("shoal_bgp_reconfigures_total", "bird reconfigurations asked for, by result",
            {{"result", "failed"}}, static_cast<double>(s.failures));
}

// withdraw → true, announce → false, anything else → nullopt.
std::optional<bool> withdraw_op(const std::string& op) {
  if (op == "withdraw") return true;
  if (op == "announce") return false;
  return std::nullopt;
}

}  // namespace

void register_bgp_api(ApiRegistry& registry, BgpAnnouncer& bgp, const DirectorView& view,
                      std::function<void()> changed) {
  registry.status_section("bgp", [&bgp] { return status(bgp); });
  registry.metric_families([&bgp](MetricFamilies& f) { add_metrics(bgp, f); });
  Router& r = registry.routes();
  r.add("GET", "/v1/bgp", [&bgp](const HttpRequest&, const PathParams&) {
    return json_response(200, status(bgp).dump());
  });
  r.add("POST", "/v1/bgp/{op}", [&bgp, changed](const HttpRequest&, const PathParams& p) {
    const std::optional<bool> withdraw = withdraw_op(p.at("op"));
    if (!withdraw) return error_response(404, "use /v1/bgp/withdraw or /v1/bgp/announce");
    bgp.withdrawals().director = *withdraw;
    changed();
    return json_response(200, status(bgp).dump());
  });
  r.add("POST", "/v1/bgp/vips/{vip}/{op}",
        [&bgp, &view, changed](const HttpRequest&, const PathParams& p) {
          const std::optional<bool> withdraw = withdraw_op(p.at("op"));
          if (!withdraw)
            return error_response(404, "use /v1/bgp/vips/VIP/withdraw or .../announce");
          const std::optional<IpAddress> vip = parse_ip(p.at("vip"));
          const auto& services = view.config().services;
          if (!vip || std::none_of(services.begin(), services.end(),
                                   [&](const ServiceConfig& s) { return s.vip == *vip; }))
            return error_response(404, fmt::format("no service has the VIP '{}'", p.at("vip")));
          if (*withdraw)
            bgp.withdrawals().vips.insert(*vip);
          else
            bgp.withdrawals().vips.erase(*vip);
          changed();
          return json_response(200, status(bgp).dump());
        });
}

}  // namespace shoal::cp

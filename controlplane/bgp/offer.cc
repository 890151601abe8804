#include "bgp/offer.h"

#include <fmt/format.h>

#include <algorithm>

namespace shoal::cp {

std::vector<VipOffer> offer_vips(const Config& config, const ServiceUp& service_up,
                                 const BgpWithdrawals& withdrawn,
                                 std::string_view held) {
  std::vector<VipOffer> out;
  std::vector<bool> serving;
  for (const ServiceConfig& s : config.services) {
    auto it = std::find_if(out.begin(), out.end(), [&](const VipOffer& o) { return o.vip == s.vip; });
    if (it == out.end()) {
      out.push_back({s.vip, {}, false, ""});
      serving.push_back(false);
      it = out.end() - 1;
    }
    it->services.push_back(s.name);
    // A service below quorum still answers when its all_down policy sends the flows somewhere
    // (fail-open, sorry servers): the routers may keep sending.
    if (service_up(s.name) || s.all_down != AllDownPolicy::drop)
      serving[static_cast<std::size_t>(it - out.begin())] = true;
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    VipOffer& o = out[i];
    if (!held.empty())
      o.why = held;
    else if (withdrawn.director)
      o.why = "the director is withdrawn";
    else if (withdrawn.vips.count(o.vip))
      o.why = "withdrawn";
    else if (!serving[i])
      o.why = "no service on it takes traffic";
    else
      o.offered = true;
  }
  return out;
}

std::string bird_routes(const std::vector<VipOffer>& offers, long pid, bool ipv6) {
  std::string text = fmt::format(
      "# Written by shoald (pid {}): the {} VIPs this director offers. bird's config includes "
      "this\n# file in a static protocol ({}); shoald rewrites it and asks bird to "
      "reconfigure.\n",
      pid, ipv6 ? "IPv6" : "IPv4", ipv6 ? "ipv6" : "ipv4");
  for (const VipOffer& o : offers)
    if (o.offered && o.vip.is_v6() == ipv6)
      text += fmt::format("route {}/{} blackhole;\n", to_string(o.vip), ipv6 ? 128 : 32);
  return text;
}

}  // namespace shoal::cp

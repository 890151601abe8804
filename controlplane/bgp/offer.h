// Which VIPs this director offers to the routers: a pure function of the running config, the
// services' quorum states and the operator's withdrawals, so that it is tested without bird. A
// VIP is offered while one of its services takes traffic (it has quorum, or an all_down policy
// other than drop still answers for it below quorum), the
// operator has withdrawn neither it nor the whole director, and nothing holds every VIP back
// (`held`: shoald is stopping, or still resolving its real servers after a start).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "net/snapshot_builder.h"

namespace shoal::cp {

struct BgpWithdrawals {
  bool director = false;     // the whole director, by the operator
  std::set<IpAddress> vips;  // single VIPs, by the operator
};

struct VipOffer {
  IpAddress vip;                      // IPv4 or IPv6
  std::vector<std::string> services;  // the services on it, in file order
  bool offered = false;
  std::string why;  // why not, when not offered: "stopping", "withdrawn", "no service up"
};

// One entry per distinct VIP of the config, in file order. `held`: why no VIP is offered now,
// or empty.
std::vector<VipOffer> offer_vips(const Config& config, const ServiceUp& service_up,
                                 const BgpWithdrawals& withdrawn,
                                 std::string_view held = {});

// bird's static routes for the offered VIPs of one family (`ipv6`: the IPv6 ones, as /128;
// else the IPv4 ones, as /32): the file bird's config includes in its static protocol of that
// family.
std::string bird_routes(const std::vector<VipOffer>& offers, long pid, bool ipv6 = false);

}  // namespace shoal::cp

// `neighbours:` and `routes:` — what the director knows of the network beyond its ports'
// subnets: static ARP entries, and next hops for addresses that are not on-link.
#pragma once

#include <cstdint>

#include "config/address.h"

namespace shoal::cp {

struct NeighbourConfig {  // a static ARP entry
  uint32_t address = 0;
  MacAddress mac{};
};

struct RouteConfig {
  Ipv4Prefix prefix;  // host bits zero
  uint32_t via = 0;   // on-link next hop
};

}  // namespace shoal::cp

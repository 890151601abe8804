// `neighbours:` and `routes:` — what the director knows of the network beyond its ports'
// subnets: static ARP and Neighbour Discovery entries, and next hops for addresses that are
// not on-link. Each family has a list of its own, as the ports' addresses do; the file mixes
// them in one section.
#pragma once

#include <cstdint>

#include "config/address.h"

namespace shoal::cp {

struct NeighbourConfig {  // a static ARP entry
  uint32_t address = 0;
  MacAddress mac{};
};

struct Neighbour6Config {  // a static Neighbour Discovery entry
  dp::Ipv6Address address{};
  MacAddress mac{};
};

struct RouteConfig {
  Ipv4Prefix prefix;  // host bits zero
  uint32_t via = 0;   // on-link next hop
};

struct Route6Config {
  Ipv6Prefix prefix;       // host bits zero
  dp::Ipv6Address via{};   // on-link next hop (inside a port's IPv6 prefix), resolved by ND
};

}  // namespace shoal::cp

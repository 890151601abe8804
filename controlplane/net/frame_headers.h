// The Ethernet, IPv4 and IPv6 headers of the frames the control plane originates (ARP and
// Neighbour Discovery, ICMP and ICMPv6, VRRP advertisements, connection sync messages): one
// writer per header, so that every sender fills the fields in the same order and byte order
// and what differs between them is named.
#pragma once

#include <rte_ether.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dataplane/ipv6_address.h"
#include "dataplane/packet.h"

namespace shoal::cp {

inline constexpr std::size_t kIpv4HeaderLen = 20;  // the control plane sends no IP options
inline constexpr std::size_t kIpv6HeaderLen = 40;  // nor IPv6 extension headers

// Writes a 14-byte Ethernet header (`ethertype` in host order); returns where L3 begins.
uint8_t* write_eth(uint8_t* out, const rte_ether_addr& dst, const rte_ether_addr& src,
                   uint16_t ethertype);

// What differs between the IPv4 headers the senders write. Addresses in network order.
struct Ipv4Fields {
  uint32_t src = 0;
  uint32_t dst = 0;
  uint8_t proto = 0;
  uint8_t ttl = 0;
  uint16_t payload_len = 0;  // bytes after the header
  uint8_t tos = 0;
  bool dont_fragment = false;
};

// Writes a kIpv4HeaderLen-byte IPv4 header (identification 0) with its checksum; returns
// where L4 begins.
uint8_t* write_ipv4(uint8_t* out, const Ipv4Fields& f);

// What differs between the IPv6 headers the senders write.
struct Ipv6Fields {
  dp::Ipv6Address src{};
  dp::Ipv6Address dst{};
  uint8_t next_header = 0;
  uint8_t hop_limit = 0;
  uint16_t payload_len = 0;  // bytes after the header
  uint8_t traffic_class = 0;
  uint32_t flow_label = 0;  // the low 20 bits are sent
};

// Writes a kIpv6HeaderLen-byte IPv6 header; returns where the payload begins.
uint8_t* write_ipv6(uint8_t* out, const Ipv6Fields& f);

// The source and destination of an IPv6 header: the packet core's readers.
using dp::ipv6_dst;
using dp::ipv6_src;

// The ICMPv6 checksum of the `len`-byte message at `icmp` sent from `src` to `dst`: the
// Internet checksum over the IPv6 pseudo-header (addresses, upper-layer length, next header
// 58) and the message (RFC 4443 §2.3, RFC 8200 §8.1). Returned as it is stored at icmp + 2;
// over a message whose stored checksum is right, it is 0.
uint16_t icmpv6_checksum(const dp::Ipv6Address& src, const dp::Ipv6Address& dst,
                         const uint8_t* icmp, std::size_t len);

}  // namespace shoal::cp

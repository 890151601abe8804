// The Ethernet and IPv4 headers of the frames the control plane originates (ARP, ICMP errors,
// VRRP advertisements, connection sync messages): one writer, so that every sender fills the
// fields in the same order and byte order and what differs between them is named.
#pragma once

#include <rte_ether.h>

#include <cstddef>
#include <cstdint>

namespace shoal::cp {

inline constexpr std::size_t kIpv4HeaderLen = 20;  // the control plane sends no IP options

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

}  // namespace shoal::cp

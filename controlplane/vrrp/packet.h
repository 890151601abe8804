// VRRPv3 advertisements over IPv4 and IPv6 (RFC 9568 §5): the frame a virtual router sends,
// and the checks a received one must pass before it reaches a state machine (RFC 9568 §7.1).
// Pure functions over byte buffers, tested without an EAL. A virtual router is of one family:
// an IPv4 one sends from the port's primary address to 224.0.0.18, an IPv6 one from the
// port's link-local address to ff02::12, with the same VRRP header (RFC 9568 §5.1, §5.2).
//
// Checks that need an instance's configuration (is the VRID ours, do we own the addresses,
// which checksum style is allowed, does the address list match) are the instance's: see
// vrrp/instance.h. Both share the drop reasons below, so that one counter array per port or
// per instance names every discarded advertisement.
#pragma once

#include <rte_ether.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "config/address.h"
#include "dataplane/reasons.h"
#include "dataplane/snapshot.h"

namespace shoal::cp {

#define SHOAL_VRRP_DROP_REASONS(X)                                                          \
  X(truncated, "shorter than its IP header, its IP length or a VRRP header")               \
  X(bad_ip_header, "IP version, header length, total length or header checksum wrong")    \
  X(ip_fragment, "IPv4 fragment (an advertisement is never fragmented)")                  \
  X(not_vrrp, "IP protocol (IPv6: next header) is not 112")                               \
  X(ttl_not_255, "TTL or hop limit is not 255: sent from off-link (RFC 9568 §5.1.1.3)")   \
  X(bad_version, "VRRP version is not 3")                                                 \
  X(bad_type, "VRRP type is not 1 (advertisement)")                                       \
  X(bad_length, "VRRP message length disagrees with its address count")                   \
  X(bad_checksum, "VRRP checksum wrong (or v2-style where the instance wants v3)")        \
  X(no_addresses, "address count is 0 (RFC 9568 §5.2.5)")                                \
  X(zero_interval, "Max Advertise Interval is 0 (RFC 9568 §7.1)")                         \
  X(unknown_vrid, "no virtual router of its family with this VRID on the port")        \
  X(we_are_owner, "we own the addresses (priority 255): the sender is misconfigured")    \
  X(not_running, "the instance is in init or fault and listens to nobody")

SHOAL_REASON_ENUM(VrrpDrop, kVrrpDropCount, SHOAL_VRRP_DROP_REASONS);

inline constexpr uint8_t kVrrpVersion = 3;
inline constexpr uint8_t kVrrpTypeAdvertisement = 1;
inline constexpr uint8_t kVrrpTtl = 255;
inline constexpr uint8_t kVrrpTos = 0xc0;  // DSCP CS6 (network control), as keepalived sends
inline constexpr uint16_t kVrrpMaxIntervalCs = 0x0fff;  // the field has 12 bits
inline constexpr std::size_t kVrrpMaxAddresses = 255;   // the count field has 8 bits
inline constexpr std::size_t kVrrpHeaderLen = 8;
inline constexpr std::size_t kVrrpIpHeaderLen = 20;   // we send no IP options
inline constexpr std::size_t kVrrpIp6HeaderLen = 40;  // nor IPv6 extension headers
inline constexpr std::size_t kVrrpMinFrameLen = 60;   // padded to the Ethernet minimum
inline constexpr std::size_t kVrrpMaxFrameLen =
    RTE_ETHER_HDR_LEN + kVrrpIp6HeaderLen + kVrrpHeaderLen + 16 * kVrrpMaxAddresses;

// 224.0.0.18 and ff02::12, and the Ethernet groups they map to (RFC 1112 §6.4, RFC 2464 §7).
inline constexpr uint32_t kVrrpGroup = dp::ipv4(224, 0, 0, 18);
inline constexpr rte_ether_addr kVrrpGroupMac{{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12}};
inline constexpr dp::Ipv6Address kVrrpGroup6{0xff, 0x02, 0, 0, 0, 0, 0, 0,
                                             0,    0,    0, 0, 0, 0, 0, 0x12};
inline constexpr rte_ether_addr kVrrpGroupMac6{{0x33, 0x33, 0x00, 0x00, 0x00, 0x12}};

// RFC 9568 §7.3: the virtual router MAC is 00-00-5E-00-01-{VRID} for IPv4 and
// 00-00-5E-00-02-{VRID} for IPv6, so that the two families' routers with one VRID differ.
rte_ether_addr vrrp_virtual_mac(uint8_t vrid, bool ipv6 = false);

// What the checksum covers. RFC 9568 §5.2.8 adds the IPv4 pseudo-header (as for UDP);
// VRRPv2 (RFC 3768 §5.3.8) summed the VRRP message alone, and some routers still do that
// when speaking version 3.
enum class VrrpChecksum : uint8_t { v3, v2 };

struct VrrpAdvert {
  uint8_t vrid = 0;
  uint8_t priority = 0;
  uint16_t max_advert_int_cs = 0;    // centiseconds, 12 bits on the wire
  std::vector<IpAddress> addresses;  // one family, in the sender's order
};

// Writes the whole Ethernet frame of `advert` into `out` (at least vrrp_frame_len() bytes,
// kVrrpMaxFrameLen is always enough) and returns its length. The frame goes from `src` (the
// port's primary IPv4 address or its IPv6 link-local address, RFC 9568 §5.1.1.1 and
// §5.1.2.1) and `src_mac` (the virtual MAC, or the port's own when the instance does not use
// one) to the family's group. The advert is written as given, its addresses of src's family:
// validating it is the configuration's job; at most kVrrpMaxAddresses addresses. IPv6 has no
// v2-style checksum: `checksum` applies to IPv4 only.
std::size_t write_vrrp_advert(uint8_t* out, const VrrpAdvert& advert,
                              const rte_ether_addr& src_mac, const IpAddress& src,
                              VrrpChecksum checksum = VrrpChecksum::v3);

constexpr std::size_t vrrp_frame_len(std::size_t address_count, bool ipv6 = false) {
  const std::size_t len = RTE_ETHER_HDR_LEN + (ipv6 ? kVrrpIp6HeaderLen : kVrrpIpHeaderLen) +
                          kVrrpHeaderLen + (ipv6 ? 16 : 4) * address_count;
  return len < kVrrpMinFrameLen ? kVrrpMinFrameLen : len;
}

// A received advertisement that passed every check of RFC 9568 §7.1 that needs no
// configuration.
struct VrrpReceived {
  VrrpAdvert advert;
  IpAddress src;             // the sender's primary (IPv6: link-local) address
  bool v2_checksum = false;  // the checksum is right only in the v2 style (IPv4 only)
};

struct VrrpParseResult {
  bool ok = false;
  VrrpDrop reason = VrrpDrop::truncated;  // meaningful when !ok
  VrrpReceived received;                  // meaningful when ok
};

// Checks and parses the `len` bytes of an IPv4 or IPv6 datagram (from its header on: the
// caller has stripped Ethernet and any VLAN tag, e.g. at dp::ParsedPacket::l3_offset). Bytes
// after the IP length (Ethernet padding) are ignored. Over IPv4 a checksum right in either
// style is accepted here and the style reported; the instance decides whether v2 is allowed.
// Over IPv6 the advertisement must follow the fixed header directly (a sender adds no
// extension header) and only the v3 checksum counts.
VrrpParseResult parse_vrrp_advert(const uint8_t* ip, std::size_t len);

}  // namespace shoal::cp

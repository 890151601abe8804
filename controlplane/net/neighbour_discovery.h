// Neighbour Discovery (RFC 4861), IPv6's ARP: the solicitations and advertisements the
// control plane reads, with the checks of §7.1.1 and §7.1.2, and those it writes to resolve
// next hops, to answer for its addresses and to announce them. Pure functions over byte
// buffers, tested without an EAL. Router advertisements are only recognised, so that the
// caller counts and ignores them: the configured routes win.
#pragma once

#include <rte_ether.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "dataplane/ipv6_address.h"
#include "dataplane/packet.h"
#include "dataplane/reasons.h"

namespace shoal::cp {

// Why a received solicitation or advertisement was discarded; one counter each.
#define SHOAL_ND_DROP_REASONS(X)                                                          \
  X(not_neighbor_message, "not an ICMPv6 neighbor solicitation or advertisement")         \
  X(fragmented, "fragment: ND messages are never fragmented (RFC 6980 §5)")               \
  X(hop_limit_not_255, "hop limit is not 255: sent from off-link (RFC 4861 §7.1)")        \
  X(bad_code, "ICMPv6 code is not 0")                                                     \
  X(too_short, "ICMPv6 message shorter than 24 bytes")                                    \
  X(bad_checksum, "ICMPv6 checksum wrong")                                                \
  X(multicast_target, "target address is multicast")                                      \
  X(option_zero_length, "an option has length 0")                                         \
  X(option_past_end, "an option runs past the end of the message")                        \
  X(bad_lladdr_option, "link-layer address option is not 8 bytes long (Ethernet)")        \
  X(dad_not_to_solicited_node, "solicitation from :: not sent to a solicited-node group") \
  X(dad_with_source_lladdr, "solicitation from :: carries a source link-layer address")   \
  X(solicited_to_multicast, "advertisement to a multicast group has the Solicited flag")

SHOAL_REASON_ENUM(NdDrop, kNdDropCount, SHOAL_ND_DROP_REASONS);

inline constexpr uint8_t kIcmpv6RouterAdvertisement = 134;
inline constexpr uint8_t kIcmpv6NeighborSolicitation = 135;
inline constexpr uint8_t kIcmpv6NeighborAdvertisement = 136;
inline constexpr uint8_t kIcmpv6Redirect = 137;
inline constexpr uint8_t kNdHopLimit = 255;  // every ND message is sent and checked with it

// Every solicitation and advertisement written here: Ethernet, IPv6, the 24-byte message and
// one link-layer address option (86 bytes, over the Ethernet minimum).
inline constexpr uint16_t kNdFrameLen = 14 + 40 + 24 + 8;

// ff02::1, the all-nodes group, and ff02::1:ff00:0/104, the solicited-node groups (RFC 4291
// §2.7.1).
inline constexpr dp::Ipv6Address kAllNodes = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

constexpr bool is_multicast(const dp::Ipv6Address& a) { return a[0] == 0xff; }
bool is_unspecified(const dp::Ipv6Address& a);
bool is_solicited_node(const dp::Ipv6Address& a);

// The solicited-node group of `a`: ff02::1:ff and the low 24 bits of `a`.
dp::Ipv6Address solicited_node_address(const dp::Ipv6Address& a);
// The Ethernet group an IPv6 multicast address maps to: 33:33 and its low 32 bits (RFC 2464
// §7).
rte_ether_addr multicast_mac(const dp::Ipv6Address& group);
// Where a solicitation for `a` goes on Ethernet: 33:33:ff and the low 24 bits of `a`.
rte_ether_addr solicited_node_mac(const dp::Ipv6Address& a);
// fe80::/64 and the modified EUI-64 interface identifier of `mac` (RFC 4291 §2.5.1 and
// appendix A): the link-local address a port without one configured speaks from (VRRPv3 over
// IPv6 must, RFC 9568 §5.1.2.1).
dp::Ipv6Address link_local_address(const rte_ether_addr& mac);

// A solicitation or advertisement that passed every check of RFC 4861 §7.1.1 (solicitation)
// or §7.1.2 (advertisement). An IP Authentication Header is not verified: shoal speaks ND
// without one.
struct NeighborMessage {
  uint8_t type = 0;       // kIcmpv6NeighborSolicitation or kIcmpv6NeighborAdvertisement
  dp::Ipv6Address src{};  // the IPv6 source; :: for duplicate address detection
  dp::Ipv6Address dst{};  // the IPv6 destination
  dp::Ipv6Address target{};
  bool router = false;  // the advertisement's flags; false in a solicitation
  bool solicited = false;
  bool override_flag = false;
  // The source (solicitation) or target (advertisement) link-layer address option.
  std::optional<rte_ether_addr> lladdr;
};

struct NdReadResult {
  bool ok = false;
  NdDrop reason = NdDrop::not_neighbor_message;  // meaningful when !ok
  NeighborMessage message;                       // meaningful when ok
};

// Reads the solicitation or advertisement in `frame`, which dp::parse_packet accepted as `p`.
// Unknown options are skipped, as §4.6 asks; a later link-layer address option wins.
NdReadResult read_neighbor_message(const uint8_t* frame, const dp::ParsedPacket& p);

// Writes kNdFrameLen bytes: a solicitation resolving `target`, from `our_ip` (the port's
// address on target's link), to target's solicited-node group, with our link-layer address so
// that the target can answer without asking back (§7.2.2).
void write_neighbor_solicitation(uint8_t* out, const rte_ether_addr& our_mac,
                                 const dp::Ipv6Address& our_ip, const dp::Ipv6Address& target);

// Writes kNdFrameLen bytes: the unicast solicitation with which neighbour unreachability
// detection re-validates a cached `target_mac` (§7.3.3).
void write_neighbor_probe(uint8_t* out, const rte_ether_addr& our_mac,
                          const dp::Ipv6Address& our_ip, const dp::Ipv6Address& target,
                          const rte_ether_addr& target_mac);

// Writes kNdFrameLen bytes: the advertisement answering `ns`, a solicitation that
// read_neighbor_message accepted and whose target this director answers for, from the
// target address and `our_mac` (the MAC the target's traffic must reach: the port's, or a
// VRRP virtual MAC), with the Router flag clear (a director forwards only what it owns). It
// goes to the solicitation's source at its link-layer address option, or at `ns_eth_src`
// (the solicitation's Ethernet source) when it had none, Solicited set; a solicitation from
// :: (duplicate address detection on our address) is answered to all nodes, Solicited
// clear (§7.2.4).
//
// `override_flag`: set it for an address this director alone answers for (a port's address;
// a VIP it holds as VRRP master), so that an answer replaces a stale entry at once, e.g. the
// previous master's MAC. Clear it for a VIP that several directors may answer for at the
// same time (a VIP without VRRP, served by every director as anycast behind ECMP): RFC 4861
// §7.2.4 asks anycast answers not to override, so that the first answer a neighbour got
// stays and its entry does not flap between directors.
void write_neighbor_advert(uint8_t* out, const NeighborMessage& ns,
                           const rte_ether_addr& ns_eth_src, const rte_ether_addr& our_mac,
                           bool override_flag);

// Writes kNdFrameLen bytes: the unsolicited advertisement of `address` at `our_mac` to all
// nodes, Override set, Solicited and Router clear (§7.2.6): IPv6's gratuitous ARP, sent at
// start, at reload and on a VRRP takeover for the addresses this director alone holds.
void write_unsolicited_neighbor_advert(uint8_t* out, const rte_ether_addr& our_mac,
                                       const dp::Ipv6Address& address);

// A router advertisement, recognised so that the caller counts and ignores it.
struct RouterAdvert {
  dp::Ipv6Address router{};  // its IPv6 source
  uint16_t lifetime_s = 0;   // as a default router; 0: not one
};

// The router advertisement in `frame` (parsed as `p`); nullopt when it is none or shorter
// than the 16 bytes of its fixed part.
std::optional<RouterAdvert> read_router_advert(const uint8_t* frame, const dp::ParsedPacket& p);

}  // namespace shoal::cp

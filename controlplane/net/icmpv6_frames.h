// ICMPv6 (RFC 4443) the control plane answers or originates: echo replies, and the errors it
// owes a sender (packet too big for a TUN encapsulation, hop limit exceeded on a NAT hop).
// Pure functions over byte buffers, tested without an EAL. Neighbour Discovery, the rest of
// ICMPv6, is in net/neighbour_discovery.h; the errors' rate limit in net/icmp_rate_limiter.h.
#pragma once

#include <rte_ether.h>

#include <cstdint>

#include "dataplane/ipv6_address.h"
#include "dataplane/packet.h"

namespace shoal::cp {

inline constexpr uint8_t kIcmpv6PacketTooBig = 2;
inline constexpr uint8_t kIcmpv6TimeExceeded = 3;
inline constexpr uint8_t kIcmpv6EchoRequest = 128;
inline constexpr uint8_t kIcmpv6EchoReply = 129;

// An error is at most the IPv6 minimum MTU (RFC 4443 §2.4(c)).
inline constexpr uint16_t kIpv6MinMtu = 1280;
inline constexpr uint16_t kIcmpv6ErrorMaxFrame = 14 + kIpv6MinMtu;

// Turns the echo request in `frame` (`len` bytes, parsed as `p`) into its reply in place:
// Ethernet and IPv6 addresses swapped, hop limit renewed, the request's extension headers
// left out, type 129 and the checksum recomputed; identifier, sequence number and data kept
// (RFC 4443 §4.2). Returns the reply's frame length, or 0 when there is nothing to answer:
// no echo request, a fragment (never reassembled here), a request whose checksum is wrong, or
// one to a multicast group (its reply must come from a unicast address, which the frame does
// not name).
uint32_t make_echo6_reply(uint8_t* frame, uint32_t len, const dp::ParsedPacket& p);

// RFC 4443 §2.4(e): whether an error of `type` may answer `frame` (parsed as `p`). Never an
// ICMPv6 error or a redirect; never a packet from :: or from a multicast group; a packet to a
// multicast group, or sent to an Ethernet group or broadcast, only with Packet Too Big (so
// that path MTU discovery works for multicast).
bool may_answer_with_icmpv6_error(const uint8_t* frame, const dp::ParsedPacket& p, uint8_t type);

// The errors, about the IPv6 packet `orig` (parsed as `p`), back to its sender from `our_ip`
// and `our_mac`: the Ethernet frame goes to orig's Ethernet source (the sender or the router
// it came through), untagged, and quotes as much of orig, from its IPv6 header on, as fits in
// kIpv6MinMtu bytes. Each returns the frame length written to `out` (which must hold
// kIcmpv6ErrorMaxFrame bytes), or 0 when may_answer_with_icmpv6_error says no.
//
// Packet Too Big (type 2) with the MTU of the next hop (RFC 4443 §3.2).
uint16_t write_packet_too_big(uint8_t* out, const uint8_t* orig, const dp::ParsedPacket& p,
                              const rte_ether_addr& our_mac, const dp::Ipv6Address& our_ip,
                              uint32_t mtu);
// Time Exceeded, code 0: hop limit exceeded in transit (RFC 4443 §3.3).
uint16_t write_hop_limit_exceeded(uint8_t* out, const uint8_t* orig, const dp::ParsedPacket& p,
                                  const rte_ether_addr& our_mac, const dp::Ipv6Address& our_ip);

}  // namespace shoal::cp

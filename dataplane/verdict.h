// What the packet core decided for one packet, and the named reasons behind every drop and
// every hand-off to the control plane. Each reason has a per-worker counter, so that
// rx = tx + Σ drops + Σ to-control holds exactly.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "dataplane/reasons.h"

namespace shoal::dp {

// X-macro lists keep each enum and its printable names in one place (dataplane/reasons.h).
#define SHOAL_DROP_REASONS(X)                                                            \
  X(frame_too_short, "frame shorter than its Ethernet header")                           \
  X(vlan_truncated, "802.1Q tag cut short")                                              \
  X(unsupported_ethertype, "neither IPv4, IPv6 nor ARP")                                 \
  X(chained_mbuf, "frame spans several buffers (raise the mbuf data room for jumbo)")    \
  X(unknown_port, "received on a port the snapshot does not describe")                   \
  X(not_our_mac, "unicast frame addressed to another MAC")                               \
  X(arp_malformed, "ARP of the wrong hardware/protocol type or cut short")              \
  X(ipv4_truncated, "frame shorter than a 20-byte IPv4 header")                          \
  X(ipv4_bad_version, "IP version field is not 4")                                       \
  X(ipv4_bad_ihl, "IPv4 header length below 5 words")                                    \
  X(ipv4_ihl_past_end, "IPv4 header length runs past the frame")                          \
  X(ipv4_bad_total_length, "IPv4 total length shorter than its header")                  \
  X(ipv4_length_exceeds_frame, "IPv4 total length larger than the frame")                \
  X(ipv4_bad_checksum, "NIC reported a bad IPv4 header checksum")                        \
  X(ipv4_fragment, "IPv4 fragment addressed to a service (not reassembled)")             \
  X(ipv6_truncated, "frame shorter than a 40-byte IPv6 header")                          \
  X(ipv6_bad_version, "IP version field is not 6")                                       \
  X(ipv6_length_exceeds_frame, "IPv6 payload length larger than the frame")              \
  X(ipv6_jumbogram, "IPv6 payload length 0 (jumbogram) is not supported")                \
  X(ipv6_hbh_not_first, "hop-by-hop options header not directly after IPv6 header")     \
  X(ipv6_ext_chain_too_long, "more IPv6 extension headers than the parser walks")        \
  X(ipv6_ext_truncated, "IPv6 extension header runs past the packet")                    \
  X(ipv6_no_next_header, "IPv6 chain ends in No Next Header")                            \
  X(ipv6_unknown_next_header, "IPv6 chain holds ESP, Mobility, HIP, Shim6 or type 253/254") \
  X(ipv6_routing_segments_left, "IPv6 Routing header with segments left: not its final hop") \
  X(ipv6_fragment, "IPv6 fragment addressed to a service (not reassembled)")             \
  X(ipv6_udp_zero_checksum, "UDP over IPv6 with checksum 0 (IPv6 requires one)")         \
  X(ipv6_no_service, "IPv6 traffic, but the worker has no IPv6 flow table")            \
  X(tcp_truncated, "packet shorter than a 20-byte TCP header")                           \
  X(tcp_bad_data_offset, "TCP data offset below 5 words")                                \
  X(tcp_data_offset_past_end, "TCP data offset runs past the packet")                    \
  X(udp_truncated, "packet shorter than an 8-byte UDP header")                           \
  X(udp_bad_length, "UDP length field disagrees with the IP length")                     \
  X(icmp_truncated, "ICMP message shorter than its header")                              \
  X(icmp_error_truncated, "ICMP error without the offending IP header and 8 bytes")      \
  X(ttl_zero, "packet arrived with TTL or hop limit 0")                                  \
  X(not_for_us, "destination is no VIP, local address or NAT reply")                     \
  X(vip_port_unknown, "VIP address, but no service on this port and protocol")           \
  X(vip_not_owned, "VIP or address another director holds (this one is VRRP backup)")    \
  X(no_backend, "service has no backend that accepts new flows")                         \
  X(neighbour_unresolved, "next hop's MAC address is not known yet")                     \
  X(no_route, "no route towards the NAT reply's client")                                 \
  X(tun_over_mtu, "encapsulated packet over MTU and DF clear")                           \
  X(no_headroom, "mbuf lacks headroom for encapsulation")                                \
  X(tx_queue_full, "the port's transmit queue refused the packet")                       \
  X(control_ring_full, "the control plane's ring was full")

#define SHOAL_CONTROL_REASONS(X)                                                      \
  X(arp, "ARP request or reply")                                                      \
  X(local, "addressed to the director itself (ICMP echo to a VIP included)")          \
  X(vrrp, "VRRP advertisement")                                                       \
  X(icmp_error, "ICMP error that may concern a flow")                                 \
  X(frag_needed, "TUN encapsulation over MTU with DF set: ICMP frag-needed to send")  \
  X(ttl_exceeded, "NAT hop would expire the TTL: ICMP time-exceeded to send")           \
  X(resolve, "NAT reply to an on-link host ARP has not resolved yet: ARP for it")        \
  X(sync, "connection sync message from a peer director")                              \
  X(neighbour_discovery, "ICMPv6 Neighbour Discovery or router message")

SHOAL_REASON_ENUM(DropReason, kDropReasonCount, SHOAL_DROP_REASONS);
SHOAL_REASON_ENUM(ControlReason, kControlReasonCount, SHOAL_CONTROL_REASONS);

enum class Action : uint8_t { transmit, to_control, drop };

// One packet's outcome. `reason` is a DropReason for drop, a ControlReason for to_control.
struct Verdict {
  Action action = Action::drop;
  uint8_t reason = 0;
  uint16_t tx_port = 0;  // valid for transmit

  static constexpr Verdict transmit(uint16_t port) { return {Action::transmit, 0, port}; }
  static constexpr Verdict drop(DropReason r) {
    return {Action::drop, static_cast<uint8_t>(r), 0};
  }
  static constexpr Verdict control(ControlReason r) {
    return {Action::to_control, static_cast<uint8_t>(r), 0};
  }
  constexpr DropReason drop_reason() const { return static_cast<DropReason>(reason); }
  constexpr ControlReason control_reason() const { return static_cast<ControlReason>(reason); }
  constexpr bool operator==(const Verdict&) const = default;
};

}  // namespace shoal::dp

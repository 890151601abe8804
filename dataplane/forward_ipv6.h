// The IPv6 forwarding transforms, as pure functions over a frame in memory, beside the IPv4
// ones in forward.h (whose rewrite_macs serves both families): NAT66 rewrites addresses and
// ports with incremental checksums, TUN prepends an outer IPv6 header to an IPv6 or an IPv4
// datagram. Each takes the ParsedPacket of the frame it rewrites.
#pragma once

#include <cstdint>

#include "dataplane/forward.h"
#include "dataplane/ipv6_address.h"
#include "dataplane/packet.h"

namespace shoal::dp {

inline constexpr uint16_t kIpv6TunnelOverhead = 40;  // the outer IPv6 header
inline constexpr uint16_t kIpv6MinMtu = 1280;        // RFC 8200 5

// NAT66 forward: destination VIP:vport → backend address and port (kKeepPort keeps the port).
// The L4 checksum (TCP, UDP, ICMPv6: all three cover the IPv6 pseudo-header) is updated
// incrementally; UDP's is never 0 over IPv6 (the parser drops such datagrams), and a result
// of 0 is sent as 0xffff. An ICMPv6 message keeps its identifier: echo to a VIP is answered by
// the director, never translated, so only errors pass through NAT66, and only their checksum
// changes here (their quote: rewrite_icmpv6_quote_*).
void rewrite_dnat6(uint8_t* frame, const ParsedPacket& p, const Ipv6Address& new_dst,
                   uint16_t new_dst_port);
// NAT66 reverse: source backend address and port → VIP:vport.
void rewrite_snat6(uint8_t* frame, const ParsedPacket& p, const Ipv6Address& new_src,
                   uint16_t new_src_port);

// Routed hops (NAT66, and TUN for the inner packet before encapsulation) lower the hop limit
// by one; the caller has checked routed_hop_expires(). IPv6 has no header checksum and the
// pseudo-header leaves the hop limit out, so nothing else changes.
void decrement_hop_limit(uint8_t* frame, const ParsedPacket& p);

// The flow an ICMPv6 error (types 1-4) quotes: the offending packet's addresses, its
// upper-layer protocol (found past any extension headers) and the 4 bytes that follow, the
// ports of TCP and UDP.
struct QuotedFlow6 {
  Ipv6Address src_ip, dst_ip;
  uint16_t src_port, dst_port;
  uint8_t proto;
};
// False unless `p` is an ICMPv6 error quoting an IPv6 header, a well-formed extension chain
// and at least 4 bytes of the upper-layer header.
bool read_icmpv6_quote(const uint8_t* frame, const ParsedPacket& p, QuotedFlow6& out);

// NAT66 for an ICMPv6 error on its way to a backend: the quoted source (VIP:vport) becomes
// the backend's address and port, with the quoted L4 checksum (when quoted) and the ICMPv6
// checksum fixed incrementally. Call only where read_icmpv6_quote() held; the outer
// destination is rewritten separately (rewrite_dnat6).
void rewrite_icmpv6_quote_source(uint8_t* frame, const ParsedPacket& p, const Ipv6Address& new_ip,
                                 uint16_t new_port);
// NAT66 for an ICMPv6 error on its way back to a client: the quoted destination (the backend)
// becomes VIP:vport again. The outer source is rewritten separately (rewrite_snat6).
void rewrite_icmpv6_quote_destination(uint8_t* frame, const ParsedPacket& p,
                                      const Ipv6Address& new_ip, uint16_t new_port);

// Whether a datagram fits `mtu` once inside an outer IPv6 header, and if not the MTU to tell
// the client: IPv6 routers never fragment, so an IPv6 datagram that does not fit gets
// frag_needed (ICMPv6 Packet Too Big to send), never over_mtu; its MTU is not reported below
// 1280, which a host would not go under (RFC 8201 4), so an egress MTU under 1320 cannot
// carry IPv6 in a tunnel at all. An IPv4 datagram (IPv4 VIP, IPv6-only real servers) is
// handled as tun_fit does: frag_needed with DF set, over_mtu without.
struct TunFitMtu {
  TunFit fit;
  uint16_t mtu;  // the path MTU to report when fit is frag_needed
};
TunFitMtu tun_fit_ipv6(const uint8_t* frame, const ParsedPacket& p, uint16_t mtu);

// IPv6-in-IPv6 (next header 41) or IPv4-in-IPv6 (next header 4) encapsulation (RFC 2473), by
// p.l3. `frame` points kIpv6TunnelOverhead bytes before the original frame (the caller made that
// headroom): the L2 header moves to the front, its ethertype becomes IPv6, and the outer header
// is written between it and the inner datagram (Ethernet padding is left out). The outer
// traffic class copies the inner one (ECN included, RFC 6040's normal mode). The flow label is
// derived from `flow_hash`, the inner flow's hash (RFC 6438): every packet of a tunnel to one
// real server has the same outer addresses, so routers on the way can spread (and keep in
// order) its flows only by the label; copying the inner label would not do, as many senders
// leave it 0 and an IPv4 datagram has none. Returns the new frame length.
uint32_t encap_ipv6(uint8_t* frame, const ParsedPacket& p, const Ipv6Address& outer_src,
                    const Ipv6Address& outer_dst, uint8_t hop_limit, uint32_t flow_hash);

// The 20-bit flow label encap_ipv6 writes for `flow_hash`: all 32 bits folded in.
constexpr uint32_t tunnel_flow_label(uint32_t flow_hash) {
  return (flow_hash ^ (flow_hash >> 20)) & 0xfffff;
}

}  // namespace shoal::dp

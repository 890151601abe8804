// The forwarding transforms, as pure functions over a frame in memory: DR rewrites MACs,
// NAT rewrites addresses and ports with incremental checksums, TUN prepends an outer IPv4
// header. Each takes the ParsedPacket of the frame it rewrites.
#pragma once

#include <rte_ether.h>

#include <cstdint>

#include "dataplane/packet.h"

namespace shoal::dp {

inline constexpr uint16_t kIpipOverhead = 20;
// A new port of 0 in the NAT rewrites below keeps the packet's port: a multi-port service
// (and its backends) translates the address alone, as IPVS does for real-server port 0.
inline constexpr uint16_t kKeepPort = 0;

// DR and the last step of every mode: this director as source, the next hop as destination.
void rewrite_macs(uint8_t* frame, const rte_ether_addr& src, const rte_ether_addr& dst);

// NAT forward: destination VIP:vport → backend address and port.
void rewrite_dnat(uint8_t* frame, const ParsedPacket& p, uint32_t new_dst_ip,
                  uint16_t new_dst_port);
// NAT reverse: source backend address and port → VIP:vport.
void rewrite_snat(uint8_t* frame, const ParsedPacket& p, uint32_t new_src_ip,
                  uint16_t new_src_port);

// The flow an ICMP error quotes: the offending packet's addresses, protocol and ports.
struct QuotedFlow {
  uint32_t src_ip, dst_ip;
  uint16_t src_port, dst_port;
  uint8_t proto;
};
// False unless `p` is an ICMP error quoting an IPv4 header and at least 4 bytes past it.
bool read_icmp_quote(const uint8_t* frame, const ParsedPacket& p, QuotedFlow& out);

// NAT for an ICMP error on its way to a backend: the quoted packet's source (VIP:vport, as
// the client saw it) becomes the backend's address and port, with the quoted IP header
// checksum, the quoted L4 checksum (when quoted) and the ICMP checksum fixed incrementally.
// The outer destination is rewritten separately (rewrite_dnat).
void rewrite_icmp_quote_source(uint8_t* frame, const ParsedPacket& p, uint32_t new_ip,
                               uint16_t new_port);
// NAT for an ICMP error on its way back to a client, sent by a backend (port unreachable) or a
// router between director and backend (fragmentation needed) about a packet the director had
// translated: the quoted destination (the backend's address and port) becomes VIP:vport again,
// checksums fixed the same way. The outer source is rewritten separately (rewrite_snat).
void rewrite_icmp_quote_destination(uint8_t* frame, const ParsedPacket& p, uint32_t new_ip,
                                    uint16_t new_port);

// Routed hops (NAT) lower the TTL by one; the caller has checked that it is above 1.
void decrement_ttl(uint8_t* frame, const ParsedPacket& p);

enum class TunFit : uint8_t { fits, frag_needed, over_mtu };

// Whether the IPv4 datagram, encapsulated behind `overhead` bytes of outer header, fits `mtu`;
// frag_needed when it does not and DF is set (the client must be told the smaller MTU),
// over_mtu when it does not and DF is clear.
TunFit tun_fit(const uint8_t* frame, const ParsedPacket& p, uint16_t mtu,
               uint16_t overhead = kIpipOverhead);

// IPv4-in-IPv4 encapsulation (RFC 2003). `frame` points kIpipOverhead bytes before the
// original frame (the caller made that headroom): the L2 header moves to the front and the
// outer IPv4 header is written between it and the inner datagram. The outer header copies
// the inner TOS and DF bit and carries `ttl`. Returns the new frame length.
uint32_t encap_ipip(uint8_t* frame, const ParsedPacket& p, uint32_t outer_src, uint32_t outer_dst,
                    uint8_t ttl);

}  // namespace shoal::dp

#include "dataplane/forward_ipv6.h"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>

#include <algorithm>
#include <cstring>

#include "dataplane/bytes.h"
#include "dataplane/checksum.h"

namespace shoal::dp {
namespace {

constexpr uint32_t kIpv6Header = 40;
constexpr uint32_t kIp6Src = 8;
constexpr uint32_t kIp6Dst = 24;
constexpr uint32_t kIcmpv6HeaderLen = 8;
constexpr uint32_t kIcmpv6Checksum = 2;

// Where an upper-layer header keeps its checksum, 0 for a protocol without one the director
// maintains. All three cover the IPv6 pseudo-header (ICMPv6 too, unlike ICMP).
constexpr uint32_t l4_checksum_at(uint8_t proto) {
  switch (proto) {
    case kIpProtoTcp:
      return 16;
    case kIpProtoUdp:
      return 6;
    case kIpProtoIcmpv6:
      return kIcmpv6Checksum;
    default:
      return 0;
  }
}

constexpr bool has_ports(uint8_t proto) {
  return proto == kIpProtoTcp || proto == kIpProtoUdp;
}

// One end of a flow: the address at `addr`, the port at `port` (null: no port) and the L4
// checksum at `csum` (null: none, or not in the buffer), which covers both. `enclosing`, when not
// null, is the checksum of an ICMPv6 error quoting all of these bytes: it takes every change too.
void rewrite_end(uint8_t* addr, uint8_t* port, uint8_t* csum, bool udp, const Ipv6Address& new_ip,
                 uint16_t new_port, uint8_t* enclosing) {
  const Ipv6Address old_ip = load<Ipv6Address>(addr);
  store(addr, new_ip);
  uint16_t old_port = 0;
  if (port != nullptr) {
    old_port = load<uint16_t>(port);
    if (new_port == kKeepPort) new_port = old_port;
    store(port, new_port);
  }
  uint16_t old_csum = 0, new_csum = 0;
  if (csum != nullptr) {
    old_csum = load<uint16_t>(csum);
    new_csum = csum_replace128(old_csum, old_ip.data(), new_ip.data());
    if (port != nullptr) new_csum = csum_replace16(new_csum, old_port, new_port);
    if (udp) new_csum = udp_csum_nonzero(new_csum);
    store(csum, new_csum);
  }
  if (enclosing != nullptr) {
    uint16_t c = csum_replace128(load<uint16_t>(enclosing), old_ip.data(), new_ip.data());
    if (port != nullptr) c = csum_replace16(c, old_port, new_port);
    if (csum != nullptr) c = csum_replace16(c, old_csum, new_csum);
    store(enclosing, c);
  }
}

// NAT66 of the packet itself: the address at `addr_field` of its IPv6 header, the port at
// `port_field` of its TCP or UDP header. A non-first fragment has no L4 header: its checksum
// sits in the first fragment, which gets the same update.
void rewrite_address_and_port(uint8_t* frame, const ParsedPacket& p, uint32_t addr_field,
                              uint32_t port_field, const Ipv6Address& new_ip, uint16_t new_port) {
  uint8_t* addr = frame + p.l3_offset + addr_field;
  uint8_t* l4 = frame + p.l4_offset;
  uint32_t csum_at = p.has_l4 ? l4_checksum_at(p.l4_proto) : 0;
  uint8_t* port = p.has_l4 && has_ports(p.l4_proto) ? l4 + port_field : nullptr;
  rewrite_end(addr, port, csum_at != 0 ? l4 + csum_at : nullptr, p.l4_proto == kIpProtoUdp, new_ip,
              new_port, nullptr);
}

// Where the packet an ICMPv6 error quotes lies: its IPv6 header at `ip` and the chain behind it.
// False unless the quote holds the whole header, a chain that parses and 4 upper-layer bytes.
bool locate_quote(const uint8_t* frame, const ParsedPacket& p, uint32_t& ip, Ipv6Chain& chain) {
  if (p.l3 != L3::ipv6 || p.l4_proto != kIpProtoIcmpv6 || !p.has_l4 ||
      !is_icmpv6_error(p.icmp_type))
    return false;
  ip = p.l4_offset + kIcmpv6HeaderLen;
  if (ip + kIpv6Header > p.l3_end) return false;  // the parser guarantees it; be explicit
  chain = walk_ipv6_chain(frame, ip, p.l3_end);
  if (!chain.result.ok || (chain.is_fragment && !chain.is_first_fragment)) return false;
  return p.l3_end - chain.l4_offset >= 4;
}

// Rewrites one end of the quoted packet: the address at `addr_field` of its IPv6 header and
// the port at `port_field` of its TCP or UDP header, with its L4 checksum (when quoted) and the
// ICMPv6 checksum, which covers all of them. A quoted UDP checksum is not 0: the director never
// forwarded such a datagram (the parser drops it).
void rewrite_icmpv6_quote(uint8_t* frame, const ParsedPacket& p, uint32_t addr_field,
                          uint32_t port_field, const Ipv6Address& new_ip, uint16_t new_port) {
  uint32_t ip = 0;
  Ipv6Chain chain;
  if (!locate_quote(frame, p, ip, chain)) return;
  uint8_t* l4 = frame + chain.l4_offset;
  uint32_t avail = p.l3_end - chain.l4_offset;
  uint32_t csum_at = l4_checksum_at(chain.l4_proto);
  bool csum_quoted = csum_at != 0 && avail >= csum_at + 2;
  rewrite_end(frame + ip + addr_field, has_ports(chain.l4_proto) ? l4 + port_field : nullptr,
              csum_quoted ? l4 + csum_at : nullptr, chain.l4_proto == kIpProtoUdp, new_ip, new_port,
              frame + p.l4_offset + kIcmpv6Checksum);
}

}  // namespace

void rewrite_dnat6(uint8_t* frame, const ParsedPacket& p, const Ipv6Address& new_dst,
                   uint16_t new_dst_port) {
  rewrite_address_and_port(frame, p, kIp6Dst, 2, new_dst, new_dst_port);
}

void rewrite_snat6(uint8_t* frame, const ParsedPacket& p, const Ipv6Address& new_src,
                   uint16_t new_src_port) {
  rewrite_address_and_port(frame, p, kIp6Src, 0, new_src, new_src_port);
}

void decrement_hop_limit(uint8_t* frame, const ParsedPacket& p) {
  --frame[p.l3_offset + 7];
}

bool read_icmpv6_quote(const uint8_t* frame, const ParsedPacket& p, QuotedFlow6& out) {
  uint32_t ip = 0;
  Ipv6Chain chain;
  if (!locate_quote(frame, p, ip, chain)) return false;
  out.src_ip = load<Ipv6Address>(frame + ip + kIp6Src);
  out.dst_ip = load<Ipv6Address>(frame + ip + kIp6Dst);
  out.proto = chain.l4_proto;
  out.src_port = load<uint16_t>(frame + chain.l4_offset);
  out.dst_port = load<uint16_t>(frame + chain.l4_offset + 2);
  return true;
}

void rewrite_icmpv6_quote_source(uint8_t* frame, const ParsedPacket& p, const Ipv6Address& new_ip,
                                 uint16_t new_port) {
  rewrite_icmpv6_quote(frame, p, kIp6Src, 0, new_ip, new_port);
}

void rewrite_icmpv6_quote_destination(uint8_t* frame, const ParsedPacket& p,
                                      const Ipv6Address& new_ip, uint16_t new_port) {
  rewrite_icmpv6_quote(frame, p, kIp6Dst, 2, new_ip, new_port);
}

TunFitMtu tun_fit_ipv6(const uint8_t* frame, const ParsedPacket& p, uint16_t mtu) {
  uint16_t room = mtu > kIpv6TunnelOverhead ? static_cast<uint16_t>(mtu - kIpv6TunnelOverhead) : 0;
  if (p.l3 == L3::ipv4) return {tun_fit(frame, p, mtu, kIpv6TunnelOverhead), room};
  if (p.l3_end - p.l3_offset + kIpv6TunnelOverhead <= mtu) return {TunFit::fits, room};
  return {TunFit::frag_needed, std::max(room, kIpv6MinMtu)};
}

uint32_t encap_ipv6(uint8_t* frame, const ParsedPacket& p, const Ipv6Address& outer_src,
                    const Ipv6Address& outer_dst, uint8_t hop_limit, uint32_t flow_hash) {
  uint32_t l2_len = p.l3_offset;
  std::memmove(frame, frame + kIpv6TunnelOverhead, l2_len);
  // The ethertype sits right before the L3 header, behind any VLAN tag.
  store(frame + l2_len - 2, rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6));
  const uint8_t* inner = frame + kIpv6TunnelOverhead + l2_len;
  uint16_t inner_len = static_cast<uint16_t>(p.l3_end - p.l3_offset);
  bool v6 = p.l3 == L3::ipv6;
  // IPv6 keeps its traffic class across the first two bytes; IPv4's TOS is the same field.
  uint32_t traffic_class = v6 ? ((inner[0] & 0x0fu) << 4 | inner[1] >> 4) : inner[1];

  rte_ipv6_hdr outer{};
  outer.vtc_flow = rte_cpu_to_be_32(6u << 28 | traffic_class << RTE_IPV6_HDR_TC_SHIFT |
                                    tunnel_flow_label(flow_hash));
  outer.payload_len = rte_cpu_to_be_16(inner_len);
  outer.proto = v6 ? kIpProtoIpv6 : kIpProtoIpip;
  outer.hop_limits = hop_limit;
  std::memcpy(outer.src_addr, outer_src.data(), sizeof outer.src_addr);
  std::memcpy(outer.dst_addr, outer_dst.data(), sizeof outer.dst_addr);
  std::memcpy(frame + l2_len, &outer, sizeof outer);
  return l2_len + kIpv6TunnelOverhead + inner_len;
}

}  // namespace shoal::dp

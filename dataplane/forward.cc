#include "dataplane/forward.h"

#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <cstring>

#include "dataplane/bytes.h"
#include "dataplane/checksum.h"

namespace shoal::dp {
namespace {

constexpr uint32_t kIpChecksum = 10;
constexpr uint32_t kIpSrc = 12;
constexpr uint32_t kIpDst = 16;
constexpr uint32_t kTcpChecksum = 16;
constexpr uint32_t kUdpChecksum = 6;
constexpr uint32_t kIcmpHeaderLen = 8;

// Rewrites one address (at ip_field in the IPv4 header) and one port (at port_field in the
// L4 header), fixing the IPv4 header checksum and the L4 checksum, whose pseudo-header
// covers the address. UDP checksum 0 means "none" and stays 0.
void rewrite_address_and_port(uint8_t* frame, const ParsedPacket& p, uint32_t ip_field,
                              uint32_t port_field, uint32_t new_ip, uint16_t new_port) {
  uint8_t* ip = frame + p.l3_offset;
  uint32_t old_ip = load<uint32_t>(ip + ip_field);
  store(ip + ip_field, new_ip);
  store(ip + kIpChecksum, csum_replace32(load<uint16_t>(ip + kIpChecksum), old_ip, new_ip));
  // Non-first fragments carry no L4 header; only TCP and UDP have ports to rewrite.
  if (!p.has_l4 || (p.l4_proto != kIpProtoTcp && p.l4_proto != kIpProtoUdp)) return;

  uint8_t* l4 = frame + p.l4_offset;
  uint16_t old_port = load<uint16_t>(l4 + port_field);
  if (new_port == kKeepPort) new_port = old_port;
  store(l4 + port_field, new_port);
  uint32_t csum_field = p.l4_proto == kIpProtoTcp ? kTcpChecksum : kUdpChecksum;
  if (p.l4_proto == kIpProtoUdp && load<uint16_t>(l4 + csum_field) == 0) return;  // none
  uint16_t csum = load<uint16_t>(l4 + csum_field);
  csum = csum_replace32(csum, old_ip, new_ip);
  csum = csum_replace16(csum, old_port, new_port);
  if (p.l4_proto == kIpProtoUdp) csum = udp_csum_nonzero(csum);
  store(l4 + csum_field, csum);
}

}  // namespace

void rewrite_macs(uint8_t* frame, const rte_ether_addr& src, const rte_ether_addr& dst) {
  std::memcpy(frame, dst.addr_bytes, RTE_ETHER_ADDR_LEN);
  std::memcpy(frame + RTE_ETHER_ADDR_LEN, src.addr_bytes, RTE_ETHER_ADDR_LEN);
}

void rewrite_dnat(uint8_t* frame, const ParsedPacket& p, uint32_t new_dst_ip,
                  uint16_t new_dst_port) {
  rewrite_address_and_port(frame, p, kIpDst, 2, new_dst_ip, new_dst_port);
}

void rewrite_snat(uint8_t* frame, const ParsedPacket& p, uint32_t new_src_ip,
                  uint16_t new_src_port) {
  rewrite_address_and_port(frame, p, kIpSrc, 0, new_src_ip, new_src_port);
}

bool read_icmp_quote(const uint8_t* frame, const ParsedPacket& p, QuotedFlow& out) {
  if (p.l4_proto != kIpProtoIcmp || !p.has_l4 || !is_icmp_error(p.icmp_type)) return false;
  const uint8_t* inner = frame + p.l4_offset + kIcmpHeaderLen;
  uint32_t avail = p.l3_end - (p.l4_offset + kIcmpHeaderLen);
  uint32_t ihl = (inner[0] & 0x0f) * 4u;
  if (avail < ihl + 4) return false;  // the parser guarantees ihl + 8; be explicit anyway
  out.src_ip = load<uint32_t>(inner + kIpSrc);
  out.dst_ip = load<uint32_t>(inner + kIpDst);
  out.proto = inner[9];
  out.src_port = load<uint16_t>(inner + ihl);
  out.dst_port = load<uint16_t>(inner + ihl + 2);
  return true;
}

namespace {

// Rewrites one end of the packet an ICMP error quotes: the address at `ip_field` of the quoted
// IPv4 header and the port at `port_field` of its L4 header, fixing the quoted IP header
// checksum, the quoted L4 checksum (when quoted, and not UDP's "none") and the ICMP checksum,
// which covers all of them.
void rewrite_icmp_quote(uint8_t* frame, const ParsedPacket& p, uint32_t ip_field,
                        uint32_t port_field, uint32_t new_ip, uint16_t new_port) {
  uint8_t* icmp = frame + p.l4_offset;
  uint8_t* inner = icmp + kIcmpHeaderLen;
  uint32_t avail = p.l3_end - (p.l4_offset + kIcmpHeaderLen);
  uint32_t ihl = (inner[0] & 0x0f) * 4u;
  uint16_t icmp_csum = load<uint16_t>(icmp + 2);
  // Every word changed inside the ICMP payload is also folded into the ICMP checksum.
  auto replace16 = [&](uint8_t* at, uint16_t to) {
    icmp_csum = csum_replace16(icmp_csum, load<uint16_t>(at), to);
    store(at, to);
  };

  uint32_t old_ip = load<uint32_t>(inner + ip_field);
  uint16_t old_port = load<uint16_t>(inner + ihl + port_field);
  if (new_port == kKeepPort) new_port = old_port;
  replace16(inner + kIpChecksum, csum_replace32(load<uint16_t>(inner + kIpChecksum), old_ip, new_ip));
  replace16(inner + ip_field, static_cast<uint16_t>(new_ip));
  replace16(inner + ip_field + 2, static_cast<uint16_t>(new_ip >> 16));
  replace16(inner + ihl + port_field, new_port);

  uint32_t csum_at = inner[9] == kIpProtoTcp ? kTcpChecksum : kUdpChecksum;
  if (avail >= ihl + csum_at + 2) {
    uint8_t* l4_csum = inner + ihl + csum_at;
    uint16_t c = load<uint16_t>(l4_csum);
    if (!(inner[9] == kIpProtoUdp && c == 0)) {
      c = csum_replace16(csum_replace32(c, old_ip, new_ip), old_port, new_port);
      replace16(l4_csum, inner[9] == kIpProtoUdp ? udp_csum_nonzero(c) : c);
    }
  }
  store(icmp + 2, icmp_csum);
}

}  // namespace

void rewrite_icmp_quote_source(uint8_t* frame, const ParsedPacket& p, uint32_t new_ip,
                               uint16_t new_port) {
  rewrite_icmp_quote(frame, p, kIpSrc, 0, new_ip, new_port);
}

void rewrite_icmp_quote_destination(uint8_t* frame, const ParsedPacket& p, uint32_t new_ip,
                                    uint16_t new_port) {
  rewrite_icmp_quote(frame, p, kIpDst, 2, new_ip, new_port);
}

void decrement_ttl(uint8_t* frame, const ParsedPacket& p) {
  uint8_t* ip = frame + p.l3_offset;
  // TTL shares a checksum word with the protocol byte.
  uint16_t old_word = load<uint16_t>(ip + 8);
  ip[8] = static_cast<uint8_t>(ip[8] - 1);
  uint16_t new_word = load<uint16_t>(ip + 8);
  store(ip + kIpChecksum, csum_replace16(load<uint16_t>(ip + kIpChecksum), old_word, new_word));
}

TunFit tun_fit(const uint8_t* frame, const ParsedPacket& p, uint16_t mtu, uint16_t overhead) {
  uint32_t inner = p.l3_end - p.l3_offset;
  if (inner + overhead <= mtu) return TunFit::fits;
  bool df = frame[p.l3_offset + 6] & (RTE_IPV4_HDR_DF_FLAG >> 8);
  return df ? TunFit::frag_needed : TunFit::over_mtu;
}

uint32_t encap_ipip(uint8_t* frame, const ParsedPacket& p, uint32_t outer_src, uint32_t outer_dst,
                    uint8_t ttl) {
  uint32_t l2_len = p.l3_offset;
  std::memmove(frame, frame + kIpipOverhead, l2_len);
  const uint8_t* inner = frame + kIpipOverhead + l2_len;
  uint16_t inner_len = static_cast<uint16_t>(p.l3_end - p.l3_offset);

  rte_ipv4_hdr outer{};
  outer.version_ihl = RTE_IPV4_VHL_DEF;
  outer.type_of_service = inner[1];
  outer.total_length = rte_cpu_to_be_16(static_cast<uint16_t>(inner_len + kIpipOverhead));
  // The inner ID is as unique as the sender made it, which is what a router fragmenting a
  // DF-clear outer packet needs.
  outer.packet_id = load<uint16_t>(inner + 4);
  bool df = inner[6] & (RTE_IPV4_HDR_DF_FLAG >> 8);
  outer.fragment_offset = rte_cpu_to_be_16(df ? RTE_IPV4_HDR_DF_FLAG : 0);
  outer.time_to_live = ttl;
  outer.next_proto_id = kIpProtoIpip;
  outer.src_addr = outer_src;
  outer.dst_addr = outer_dst;
  outer.hdr_checksum = 0;
  outer.hdr_checksum = rte_ipv4_cksum(&outer);
  std::memcpy(frame + l2_len, &outer, sizeof outer);
  return l2_len + kIpipOverhead + inner_len;
}

}  // namespace shoal::dp

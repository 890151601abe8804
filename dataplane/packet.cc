#include "dataplane/packet.h"

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "dataplane/bytes.h"

namespace shoal::dp {
namespace {

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeArp = 0x0806;
constexpr uint16_t kEtherTypeVlan = 0x8100;
constexpr uint16_t kEtherTypeIpv6 = 0x86dd;

constexpr uint8_t kIpv6HopByHop = 0;
constexpr uint8_t kIpv6Routing = 43;
constexpr uint8_t kIpv6Fragment = 44;
constexpr uint8_t kIpv6Esp = 50;
constexpr uint8_t kIpv6Auth = 51;
constexpr uint8_t kIpv6NoNext = 59;
constexpr uint8_t kIpv6DestOpts = 60;
constexpr uint8_t kIpv6Mobility = 135;
constexpr uint8_t kIpv6Hip = 139;
constexpr uint8_t kIpv6Shim6 = 140;
constexpr uint8_t kIpv6Experiment1 = 253;
constexpr uint8_t kIpv6Experiment2 = 254;

constexpr uint32_t kIpv4MinHeader = 20;
constexpr uint32_t kIpv6Header = 40;
constexpr uint32_t kIcmpHeader = 8;
constexpr uint32_t kIcmpErrorQuote = 8;  // bytes of the offending datagram past its IP header

// Reads a big-endian 16-bit field at any alignment.
inline uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

inline ParseResult fail(DropReason r) { return {false, r}; }
inline ParseResult pass() { return {true, DropReason::frame_too_short}; }

// ICMP errors quote the offending datagram; the control plane matches it to a flow, so the
// quote must at least hold that datagram's IP header and its first 8 bytes.
ParseResult check_icmp_error_quote(const uint8_t* quote, uint32_t avail, bool v6) {
  if (v6) {
    if (avail < kIpv6Header + kIcmpErrorQuote || (quote[0] >> 4) != 6)
      return fail(DropReason::icmp_error_truncated);
    return pass();
  }
  if (avail < kIpv4MinHeader) return fail(DropReason::icmp_error_truncated);
  uint32_t ihl = (quote[0] & 0x0f) * 4u;
  if ((quote[0] >> 4) != 4 || ihl < kIpv4MinHeader || avail < ihl + kIcmpErrorQuote)
    return fail(DropReason::icmp_error_truncated);
  return pass();
}

// Parses the L4 header at frame[off, end). `whole_datagram` is false for a first fragment,
// whose length fields describe more than the frame holds.
ParseResult parse_l4(const uint8_t* frame, uint32_t off, uint32_t end, bool whole_datagram,
                     bool v6, ParsedPacket& out) {
  const uint8_t* l4 = frame + off;
  uint32_t avail = end - off;
  out.l4_offset = static_cast<uint16_t>(off);
  switch (out.l4_proto) {
    case kIpProtoTcp: {
      if (avail < sizeof(rte_tcp_hdr)) return fail(DropReason::tcp_truncated);
      uint32_t doff = (l4[12] >> 4) * 4u;
      if (doff < sizeof(rte_tcp_hdr)) return fail(DropReason::tcp_bad_data_offset);
      if (doff > avail) return fail(DropReason::tcp_data_offset_past_end);
      out.src_port = load<uint16_t>(l4);
      out.dst_port = load<uint16_t>(l4 + 2);
      out.tcp_flags = l4[13];
      break;
    }
    case kIpProtoUdp: {
      if (avail < sizeof(rte_udp_hdr)) return fail(DropReason::udp_truncated);
      uint32_t ulen = load_be16(l4 + 4);
      if (whole_datagram && (ulen < sizeof(rte_udp_hdr) || ulen > avail))
        return fail(DropReason::udp_bad_length);
      // IPv4 lets 0 mean "no checksum"; IPv6 does not (RFC 8200 8.1), and with every IPv6
      // datagram carrying one the NAT66 rewrite can always update it incrementally.
      if (v6 && load<uint16_t>(l4 + 6) == 0) return fail(DropReason::ipv6_udp_zero_checksum);
      out.src_port = load<uint16_t>(l4);
      out.dst_port = load<uint16_t>(l4 + 2);
      break;
    }
    case kIpProtoIcmp:
    case kIpProtoIcmpv6: {
      if (avail < kIcmpHeader) return fail(DropReason::icmp_truncated);
      out.icmp_type = l4[0];
      out.icmp_code = l4[1];
      bool error = v6 ? is_icmpv6_error(out.icmp_type) : is_icmp_error(out.icmp_type);
      if (error && whole_datagram) {
        ParseResult r = check_icmp_error_quote(l4 + kIcmpHeader, avail - kIcmpHeader, v6);
        if (!r.ok) return r;
      }
      break;
    }
    default:
      return pass();  // other protocols: no ports, nothing more to check
  }
  out.has_l4 = true;
  return pass();
}

ParseResult parse_ipv4(const uint8_t* frame, uint32_t off, uint32_t len, ParsedPacket& out) {
  out.l3 = L3::ipv4;
  out.l3_offset = static_cast<uint16_t>(off);
  if (len - off < kIpv4MinHeader) return fail(DropReason::ipv4_truncated);
  const uint8_t* ip = frame + off;
  if ((ip[0] >> 4) != 4) return fail(DropReason::ipv4_bad_version);
  uint32_t ihl = (ip[0] & 0x0f) * 4u;
  if (ihl < kIpv4MinHeader) return fail(DropReason::ipv4_bad_ihl);
  if (off + ihl > len) return fail(DropReason::ipv4_ihl_past_end);
  uint32_t total = load_be16(ip + 2);
  if (total < ihl) return fail(DropReason::ipv4_bad_total_length);
  if (off + total > len) return fail(DropReason::ipv4_length_exceeds_frame);
  out.l3_end = static_cast<uint16_t>(off + total);  // frame bytes past this are padding
  out.has_ip_options = ihl > kIpv4MinHeader;
  out.ttl = ip[8];
  out.l4_proto = ip[9];
  out.src_ip = load<uint32_t>(ip + 12);
  out.dst_ip = load<uint32_t>(ip + 16);
  uint16_t frag = load_be16(ip + 6);
  uint16_t frag_offset = frag & RTE_IPV4_HDR_OFFSET_MASK;
  out.is_fragment = (frag & RTE_IPV4_HDR_MF_FLAG) || frag_offset != 0;
  out.is_first_fragment = out.is_fragment && frag_offset == 0;
  if (out.ttl == 0) return fail(DropReason::ttl_zero);
  out.l4_offset = static_cast<uint16_t>(off + ihl);
  if (out.is_fragment && !out.is_first_fragment) return pass();  // no L4 header here
  return parse_l4(frame, off + ihl, off + total, !out.is_fragment, false, out);
}

ParseResult parse_ipv6(const uint8_t* frame, uint32_t off, uint32_t len, ParsedPacket& out) {
  out.l3 = L3::ipv6;
  out.l3_offset = static_cast<uint16_t>(off);
  if (len - off < kIpv6Header) return fail(DropReason::ipv6_truncated);
  const uint8_t* ip = frame + off;
  if ((ip[0] >> 4) != 6) return fail(DropReason::ipv6_bad_version);
  uint32_t payload = load_be16(ip + 4);
  if (payload == 0) return fail(DropReason::ipv6_jumbogram);
  uint32_t end = off + kIpv6Header + payload;
  if (end > len) return fail(DropReason::ipv6_length_exceeds_frame);
  out.l3_end = static_cast<uint16_t>(end);
  out.ttl = ip[7];
  if (out.ttl == 0) return fail(DropReason::ttl_zero);  // 1 is the forwarding mode's call

  Ipv6Chain chain = walk_ipv6_chain(frame, off, end);
  out.is_fragment = chain.is_fragment;
  out.is_first_fragment = chain.is_first_fragment;
  out.l4_proto = chain.l4_proto;
  out.l4_offset = static_cast<uint16_t>(chain.l4_offset);
  if (!chain.result.ok) return chain.result;
  if (out.is_fragment && !out.is_first_fragment) return pass();  // no L4 header here
  return parse_l4(frame, chain.l4_offset, end, !out.is_fragment, true, out);
}

}  // namespace

// "Unknown" is an IPv6 extension header (IANA's registry of them) that the walk does not step
// over: behind ESP the rest is encrypted, and Mobility, HIP and Shim6 (and the experimental 253
// and 254) are signalling a director has no use for, whose bodies it would have to trust to
// find what follows. Either way the transport and its ports cannot be known, so no service
// could take the packet. Any other value ends the chain as the upper-layer protocol, as the
// IPv4 protocol field does: TCP, UDP and ICMPv6 are parsed, the rest carries no ports.
Ipv6Chain walk_ipv6_chain(const uint8_t* buf, uint32_t ip, uint32_t end) {
  Ipv6Chain c;
  c.result = pass();
  auto failed = [&c](DropReason r) {
    c.result = fail(r);
    return c;
  };
  uint8_t next = buf[ip + 6];
  uint32_t p = ip + kIpv6Header;
  for (int walked = 0;; ++walked) {
    switch (next) {
      case kIpv6HopByHop:
        if (walked != 0) return failed(DropReason::ipv6_hbh_not_first);
        break;
      case kIpv6Routing:
      case kIpv6Fragment:
      case kIpv6Auth:
      case kIpv6DestOpts:
        break;
      case kIpv6NoNext:
        return failed(DropReason::ipv6_no_next_header);
      case kIpv6Esp:
      case kIpv6Mobility:
      case kIpv6Hip:
      case kIpv6Shim6:
      case kIpv6Experiment1:
      case kIpv6Experiment2:
        return failed(DropReason::ipv6_unknown_next_header);
      default:
        c.l4_proto = next;
        c.l4_offset = p;
        return c;
    }
    if (walked == kMaxIpv6ExtHeaders) return failed(DropReason::ipv6_ext_chain_too_long);
    if (end - p < 8) return failed(DropReason::ipv6_ext_truncated);
    const uint8_t* ext = buf + p;
    uint32_t ext_len = (ext[1] + 1u) * 8u;
    if (next == kIpv6Fragment) {
      ext_len = 8;
      uint16_t frag_offset = load_be16(ext + 2) & 0xfff8;
      bool more = ext[3] & 0x01;
      // An atomic fragment (offset 0, no more to come) is a whole datagram (RFC 6946).
      if (frag_offset != 0 || more) {
        c.is_fragment = true;
        c.is_first_fragment = frag_offset == 0;
      }
    } else if (next == kIpv6Auth) {
      ext_len = (ext[1] + 2u) * 4u;  // RFC 4302 counts AH in 4-byte words
    }
    if (ext_len > end - p) return failed(DropReason::ipv6_ext_truncated);
    // Segments left: the destination address is a waypoint, the packet's real destination is
    // further down the list (RFC 8200 4.4), and the director implements no routing type.
    if (next == kIpv6Routing && ext[3] != 0)
      return failed(DropReason::ipv6_routing_segments_left);
    next = ext[0];
    p += ext_len;
  }
}

ParseResult parse_packet(const uint8_t* frame, uint32_t len, ParsedPacket& out) {
  out = ParsedPacket{};
  if (len < sizeof(rte_ether_hdr)) return fail(DropReason::frame_too_short);
  uint32_t off = sizeof(rte_ether_hdr);
  uint16_t ethertype = load_be16(frame + 12);
  if (ethertype == kEtherTypeVlan) {
    if (len < off + sizeof(rte_vlan_hdr)) return fail(DropReason::vlan_truncated);
    out.has_vlan = true;
    out.vlan_tci = load_be16(frame + off);
    ethertype = load_be16(frame + off + 2);
    off += sizeof(rte_vlan_hdr);
  }
  switch (ethertype) {
    case kEtherTypeIpv4:
      return parse_ipv4(frame, off, len, out);
    case kEtherTypeIpv6:
      return parse_ipv6(frame, off, len, out);
    case kEtherTypeArp: {
      out.l3 = L3::arp;
      out.l3_offset = static_cast<uint16_t>(off);
      if (len - off < sizeof(rte_arp_hdr)) return fail(DropReason::arp_malformed);
      const uint8_t* arp = frame + off;
      if (load_be16(arp) != RTE_ARP_HRD_ETHER || load_be16(arp + 2) != kEtherTypeIpv4 ||
          arp[4] != RTE_ETHER_ADDR_LEN || arp[5] != 4)
        return fail(DropReason::arp_malformed);
      out.l3_end = static_cast<uint16_t>(off + sizeof(rte_arp_hdr));
      return pass();
    }
    default:
      return fail(DropReason::unsupported_ethertype);
  }
}

}  // namespace shoal::dp

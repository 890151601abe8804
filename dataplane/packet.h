// Parsing of one frame into the offsets and fields the packet core needs. Pure: works on a
// byte buffer, so it is tested without an EAL or a NIC. Every length field is checked
// against the real buffer; a frame that fails gets a named DropReason, never a guess.
#pragma once

#include <cstdint>
#include <cstring>

#include "dataplane/ipv6_address.h"
#include "dataplane/verdict.h"

namespace shoal::dp {

enum class L3 : uint8_t { none, arp, ipv4, ipv6 };

inline constexpr uint8_t kIpProtoIcmp = 1;
inline constexpr uint8_t kIpProtoIpip = 4;
inline constexpr uint8_t kIpProtoTcp = 6;
inline constexpr uint8_t kIpProtoUdp = 17;
inline constexpr uint8_t kIpProtoIpv6 = 41;
inline constexpr uint8_t kIpProtoIcmpv6 = 58;
inline constexpr uint8_t kIpProtoVrrp = 112;

// How many IPv6 extension headers the parser walks before giving up: enough for any sane
// chain, small enough to bound the cost of a hostile one. Every header is at least 8 bytes
// and the walk only moves forward, so a chain cannot loop back on itself; one that repeats
// its headers over and over ends here too.
inline constexpr int kMaxIpv6ExtHeaders = 8;

inline constexpr uint8_t kTcpFinFlag = 0x01;
inline constexpr uint8_t kTcpSynFlag = 0x02;
inline constexpr uint8_t kTcpRstFlag = 0x04;
inline constexpr uint8_t kTcpAckFlag = 0x10;

struct ParsedPacket {
  L3 l3 = L3::none;
  bool has_vlan = false;
  bool is_fragment = false;        // any fragment, first included
  bool is_first_fragment = false;  // offset 0: carries the L4 header
  bool has_ip_options = false;     // IPv4 IHL > 5
  bool has_l4 = false;             // ports (or ICMP type/code) were parsed
  uint8_t l4_proto = 0;            // IPv4 protocol / IPv6 final next header
  // IPv4 TTL or IPv6 hop limit. 0 fails the parse (ttl_zero); 1 does not: DR forwards
  // without decrementing it, and only the modes that route (NAT, TUN) must turn such a packet
  // into a time-exceeded error, so the mode asks routed_hop_expires() rather than the parser
  // deciding for all of them. No separate flag: it would only repeat this field.
  uint8_t ttl = 0;
  uint8_t tcp_flags = 0;
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  uint16_t l3_offset = 0;  // start of the IP (or ARP) header
  uint16_t l4_offset = 0;  // start of the L4 header
  uint16_t l3_end = 0;     // end of the IP datagram per its length field (excludes padding)
  uint16_t vlan_tci = 0;   // host order
  // IPv4 addresses and L4 ports in network byte order, as they sit in the packet: the hot
  // path compares and hashes them without swapping.
  uint32_t src_ip = 0;
  uint32_t dst_ip = 0;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
};

struct ParseResult {
  bool ok = false;
  DropReason reason = DropReason::frame_too_short;  // meaningful when !ok
};

// Parses `len` bytes at `frame`. On failure `out` holds whatever was parsed before the error.
ParseResult parse_packet(const uint8_t* frame, uint32_t len, ParsedPacket& out);

// The source and destination of the IPv6 header at `ip`.
inline Ipv6Address ipv6_src(const uint8_t* ip) {
  Ipv6Address a;
  std::memcpy(a.data(), ip + 8, a.size());
  return a;
}
inline Ipv6Address ipv6_dst(const uint8_t* ip) {
  Ipv6Address a;
  std::memcpy(a.data(), ip + 24, a.size());
  return a;
}
// The same of a parsed IPv6 frame (p.l3 == ipv6), read from the frame itself: copying 32 more
// bytes into every ParsedPacket would cost IPv4 packets about 2.5 ns each (measured in
// tests/bench), and the IPv6 header is in cache whenever these are asked for.
inline Ipv6Address ipv6_src(const uint8_t* frame, const ParsedPacket& p) {
  return ipv6_src(frame + p.l3_offset);
}
inline Ipv6Address ipv6_dst(const uint8_t* frame, const ParsedPacket& p) {
  return ipv6_dst(frame + p.l3_offset);
}

// Whether a hop that routes the packet (NAT, TUN) would expire it: it must not be forwarded,
// the sender gets ICMP time exceeded (ICMPv6 for IPv6) instead.
constexpr bool routed_hop_expires(const ParsedPacket& p) { return p.ttl <= 1; }

// Where the extension header chain behind an IPv6 header ends. On failure `result` names the
// reason and the other fields hold what was found before it.
struct Ipv6Chain {
  ParseResult result;
  uint8_t l4_proto = 0;   // the upper-layer protocol: the chain's last next header
  uint32_t l4_offset = 0;
  bool is_fragment = false;        // a fragment header, and not an atomic one (RFC 6946)
  bool is_first_fragment = false;  // offset 0: carries the L4 header
};
// Walks the chain behind the IPv6 header at buf[ip], reading nothing at or past buf[end]; the
// caller has checked that the 40-byte header lies before `end`. Used for the packet itself and
// for the packet an ICMPv6 error quotes.
Ipv6Chain walk_ipv6_chain(const uint8_t* buf, uint32_t ip, uint32_t end);

// ICMP types that carry the header of the packet that caused them (RFC 792/1812).
constexpr bool is_icmp_error(uint8_t type) {
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}
constexpr bool is_icmpv6_error(uint8_t type) { return type >= 1 && type <= 4; }

}  // namespace shoal::dp

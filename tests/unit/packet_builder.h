// Builds test frames layer by layer: PacketBuilder().eth().ipv4(...).tcp(...).build().
// Lengths and checksums come out right unless a test overrides them to make the frame
// malformed on purpose (ihl(), total_length(), data_offset(), truncate(), ...).
#pragma once

#include <rte_ip.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/ipv6_address.h"
#include "dataplane/snapshot.h"

namespace shoal::test {

using Bytes = std::vector<uint8_t>;

inline rte_ether_addr mac(uint8_t last) { return rte_ether_addr{{0x02, 0, 0, 0, 0, last}}; }

// An IPv6 address from its text form ("2001:db8::1"); a test's typo fails the test.
dp::Ipv6Address ip6(const char* text);

class PacketBuilder {
 public:
  PacketBuilder& eth(rte_ether_addr src = mac(1), rte_ether_addr dst = mac(2)) {
    src_mac_ = src;
    dst_mac_ = dst;
    return *this;
  }
  PacketBuilder& vlan(uint16_t tci) {
    vlan_ = tci;
    return *this;
  }
  PacketBuilder& ethertype(uint16_t t) {
    ethertype_ = t;
    return *this;
  }
  PacketBuilder& arp() {
    l3_ = L3Kind::arp;
    return *this;
  }
  PacketBuilder& ipv4(uint32_t src, uint32_t dst) {
    l3_ = L3Kind::ipv4;
    src_ip_ = src;
    dst_ip_ = dst;
    return *this;
  }
  // IPv6 from 2021:2223:...:2e2f to 3031:3233:...:3e3f, unless addresses are given.
  PacketBuilder& ipv6() {
    l3_ = L3Kind::ipv6;
    return *this;
  }
  PacketBuilder& ipv6(const dp::Ipv6Address& src, const dp::Ipv6Address& dst) {
    l3_ = L3Kind::ipv6;
    src_ip6_ = src;
    dst_ip6_ = dst;
    return *this;
  }
  // IPv6 extension header: next-header value of the header itself, and its total length; a
  // fragment header (44) takes its offset in 8-byte units and its M flag.
  PacketBuilder& ipv6_ext(uint8_t type, uint16_t length = 8, uint16_t frag_offset = 0,
                          bool more_fragments = false) {
    ipv6_exts_.push_back({type, length, frag_offset, more_fragments, 0});
    return *this;
  }
  // IPv6 routing header (43) with the given segments left.
  PacketBuilder& ipv6_routing(uint8_t segments_left, uint16_t length = 8) {
    ipv6_exts_.push_back({43, length, 0, false, segments_left});
    return *this;
  }
  PacketBuilder& flow_label(uint32_t label) {
    flow_label_ = label;
    return *this;
  }
  PacketBuilder& ttl(uint8_t t) {
    ttl_ = t;
    return *this;
  }
  // IPv4 TOS, or IPv6 traffic class.
  PacketBuilder& tos(uint8_t t) {
    tos_ = t;
    return *this;
  }
  PacketBuilder& id(uint16_t i) {
    id_ = i;
    return *this;
  }
  PacketBuilder& df(bool on = true) {
    df_ = on;
    return *this;
  }
  PacketBuilder& fragment(bool more, uint16_t offset_8byte_units) {
    mf_ = more;
    frag_offset_ = offset_8byte_units;
    return *this;
  }
  PacketBuilder& ip_options(uint8_t words) {
    option_words_ = words;
    return *this;
  }
  PacketBuilder& ip_proto(uint8_t p) {
    proto_ = p;
    l4_ = L4Kind::raw;
    return *this;
  }
  PacketBuilder& tcp(uint16_t sport, uint16_t dport, uint8_t flags = 0x02) {
    l4_ = L4Kind::tcp;
    proto_ = 6;
    sport_ = sport;
    dport_ = dport;
    tcp_flags_ = flags;
    return *this;
  }
  PacketBuilder& udp(uint16_t sport, uint16_t dport) {
    l4_ = L4Kind::udp;
    proto_ = 17;
    sport_ = sport;
    dport_ = dport;
    return *this;
  }
  PacketBuilder& icmp(uint8_t type, uint8_t code = 0) {
    l4_ = L4Kind::icmp;
    proto_ = 1;
    icmp_type_ = type;
    icmp_code_ = code;
    return *this;
  }
  PacketBuilder& icmpv6(uint8_t type, uint8_t code = 0) {
    icmp(type, code);
    proto_ = 58;
    return *this;
  }
  PacketBuilder& payload(std::size_t n, uint8_t fill = 0xab) {
    payload_.assign(n, fill);
    return *this;
  }
  PacketBuilder& payload(Bytes b) {
    payload_ = std::move(b);
    return *this;
  }
  // Malformations, applied after lengths and checksums are computed.
  PacketBuilder& ihl(uint8_t words) {
    ihl_override_ = words;
    return *this;
  }
  PacketBuilder& version(uint8_t v) {
    version_override_ = v;
    return *this;
  }
  PacketBuilder& total_length(uint16_t len) {
    total_length_override_ = len;
    return *this;
  }
  PacketBuilder& data_offset(uint8_t words) {
    data_offset_override_ = words;
    return *this;
  }
  PacketBuilder& udp_length(uint16_t len) {
    udp_length_override_ = len;
    return *this;
  }
  PacketBuilder& udp_zero_checksum() {
    udp_zero_checksum_ = true;
    return *this;
  }
  PacketBuilder& truncate(std::size_t frame_len) {
    truncate_ = frame_len;
    return *this;
  }
  PacketBuilder& pad(std::size_t bytes) {
    pad_ = bytes;
    return *this;
  }

  Bytes build() const;
  // Just the IP datagram (no L2), e.g. to quote inside an ICMP error.
  Bytes build_l3() const;

 private:
  enum class L3Kind { none, arp, ipv4, ipv6 };
  enum class L4Kind { none, tcp, udp, icmp, raw };
  struct Ext {
    uint8_t type;
    uint16_t length;
    uint16_t frag_offset;
    bool more_fragments;
    uint8_t segments_left;
  };

  Bytes l4_bytes(std::size_t l4_len_for_pseudo) const;
  // Writes the L4 checksum over `l4` and the pseudo-header's sum, then the malformations
  // that concern the L4 header.
  void finish_l4(Bytes& l4, uint32_t pseudo_sum) const;

  rte_ether_addr src_mac_ = mac(1), dst_mac_ = mac(2);
  std::optional<uint16_t> vlan_;
  std::optional<uint16_t> ethertype_;
  L3Kind l3_ = L3Kind::none;
  L4Kind l4_ = L4Kind::none;
  uint32_t src_ip_ = 0, dst_ip_ = 0;
  dp::Ipv6Address src_ip6_ = {0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
                              0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f};
  dp::Ipv6Address dst_ip6_ = {0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
                              0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f};
  uint32_t flow_label_ = 0;
  uint8_t ttl_ = 64, tos_ = 0, proto_ = 0, option_words_ = 0;
  uint16_t id_ = 0x1234;
  bool df_ = false, mf_ = false;
  uint16_t frag_offset_ = 0;
  std::vector<Ext> ipv6_exts_;
  uint16_t sport_ = 0, dport_ = 0;
  uint8_t tcp_flags_ = 0, icmp_type_ = 0, icmp_code_ = 0;
  Bytes payload_;
  std::optional<uint8_t> ihl_override_, version_override_, data_offset_override_;
  std::optional<uint16_t> total_length_override_, udp_length_override_;
  bool udp_zero_checksum_ = false;
  std::optional<std::size_t> truncate_;
  std::size_t pad_ = 0;
};

// Hex dump, 16 bytes a line with offsets, so a failed comparison shows where frames differ.
std::string hex(const Bytes& b);

// Recomputes every checksum of an IPv4 frame from scratch (IP header, TCP/UDP with the
// pseudo-header, ICMP) and says whether each stored one is right.
bool ipv4_checksums_valid(const Bytes& frame, std::size_t l3_offset = 14);
// The same for an IPv6 frame: the TCP, UDP or ICMPv6 checksum behind any extension headers,
// with the pseudo-header; a UDP checksum of 0 is invalid. IPv6-in-IPv6 and IPv4-in-IPv6 are
// checked inside.
bool ipv6_checksums_valid(const Bytes& frame, std::size_t l3_offset = 14);

// The same for the ICMPv6 checksum of an IPv6 frame without extension headers (RFC 4443
// §2.3); set_icmpv6_checksum stores the right one, for tests that edit a frame's fields.
bool icmpv6_checksum_valid(const Bytes& frame, std::size_t l3_offset = 14);
void set_icmpv6_checksum(Bytes& frame, std::size_t l3_offset = 14);

}  // namespace shoal::test

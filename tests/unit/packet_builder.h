// Builds test frames layer by layer: PacketBuilder().eth().ipv4(...).tcp(...).build().
// Lengths and checksums come out right unless a test overrides them to make the frame
// malformed on purpose (ihl(), total_length(), data_offset(), truncate(), ...).
#pragma once

#include <rte_ip.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "dataplane/snapshot.h"

namespace shoal::test {

using Bytes = std::vector<uint8_t>;

inline rte_ether_addr mac(uint8_t last) { return rte_ether_addr{{0x02, 0, 0, 0, 0, last}}; }

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
  PacketBuilder& ipv6() {
    l3_ = L3Kind::ipv6;
    return *this;
  }
  // IPv6 extension header: next-header value of the header itself, and its total length.
  PacketBuilder& ipv6_ext(uint8_t type, uint16_t length = 8, uint16_t frag_offset = 0) {
    ipv6_exts_.push_back({type, length, frag_offset});
    return *this;
  }
  PacketBuilder& ttl(uint8_t t) {
    ttl_ = t;
    return *this;
  }
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
  };

  Bytes l4_bytes(std::size_t l4_len_for_pseudo) const;

  rte_ether_addr src_mac_ = mac(1), dst_mac_ = mac(2);
  std::optional<uint16_t> vlan_;
  std::optional<uint16_t> ethertype_;
  L3Kind l3_ = L3Kind::none;
  L4Kind l4_ = L4Kind::none;
  uint32_t src_ip_ = 0, dst_ip_ = 0;
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

// Recomputes every checksum of an IPv4 frame from scratch (IP header, TCP/UDP with the
// pseudo-header, ICMP) and says whether each stored one is right.
bool ipv4_checksums_valid(const Bytes& frame, std::size_t l3_offset = 14);

// The same for the ICMPv6 checksum of an IPv6 frame without extension headers (RFC 4443
// §2.3); set_icmpv6_checksum stores the right one, for tests that edit a frame's fields.
bool icmpv6_checksum_valid(const Bytes& frame, std::size_t l3_offset = 14);
void set_icmpv6_checksum(Bytes& frame, std::size_t l3_offset = 14);

}  // namespace shoal::test

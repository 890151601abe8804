#include "packet_builder.h"

#include <arpa/inet.h>
#include <rte_byteorder.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace shoal::test {
namespace {

void put16(Bytes& b, uint16_t host) {
  b.push_back(static_cast<uint8_t>(host >> 8));
  b.push_back(static_cast<uint8_t>(host));
}
void put32be(Bytes& b, uint32_t net) {  // already network order in memory
  const auto* p = reinterpret_cast<const uint8_t*>(&net);
  b.insert(b.end(), p, p + 4);
}
void set16(Bytes& b, std::size_t at, uint16_t host) {
  b[at] = static_cast<uint8_t>(host >> 8);
  b[at + 1] = static_cast<uint8_t>(host);
}

// Plain RFC 1071 sum over bytes, independent of the code under test.
uint32_t sum_bytes(const uint8_t* p, std::size_t n, uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
  if (n & 1) sum += uint32_t(p[n - 1]) << 8;
  return sum;
}
uint16_t finish(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace

std::string hex(const Bytes& b) {
  std::string s;
  char buf[24];
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i % 16 == 0) {
      std::snprintf(buf, sizeof buf, "\n%04zx:", i);
      s += buf;
    }
    std::snprintf(buf, sizeof buf, " %02x", b[i]);
    s += buf;
  }
  return s;
}

dp::Ipv6Address ip6(const char* text) {
  dp::Ipv6Address a;
  if (inet_pton(AF_INET6, text, a.data()) != 1)
    throw std::invalid_argument(std::string("not an IPv6 address: ") + text);
  return a;
}

Bytes PacketBuilder::l4_bytes(std::size_t) const {
  Bytes b;
  switch (l4_) {
    case L4Kind::tcp:
      put16(b, sport_);
      put16(b, dport_);
      put32be(b, rte_cpu_to_be_32(1000));  // seq
      put32be(b, rte_cpu_to_be_32(tcp_flags_ & 0x10 ? 2000 : 0));
      b.push_back(static_cast<uint8_t>((data_offset_override_.value_or(5)) << 4));
      b.push_back(tcp_flags_);
      put16(b, 65535);
      put16(b, 0);  // checksum
      put16(b, 0);  // urgent
      break;
    case L4Kind::udp:
      put16(b, sport_);
      put16(b, dport_);
      put16(b, static_cast<uint16_t>(8 + payload_.size()));
      put16(b, 0);
      break;
    case L4Kind::icmp:
      b.push_back(icmp_type_);
      b.push_back(icmp_code_);
      put16(b, 0);
      put16(b, 0x4242);  // identifier / unused
      put16(b, 1);       // sequence / unused
      break;
    case L4Kind::raw:
    case L4Kind::none:
      break;
  }
  b.insert(b.end(), payload_.begin(), payload_.end());
  return b;
}

void PacketBuilder::finish_l4(Bytes& l4, uint32_t pseudo_sum) const {
  if (l4_ != L4Kind::tcp && l4_ != L4Kind::udp && l4_ != L4Kind::icmp) return;
  std::size_t csum_at = l4_ == L4Kind::tcp ? 16 : l4_ == L4Kind::udp ? 6 : 2;
  uint16_t c = finish(sum_bytes(l4.data(), l4.size(), pseudo_sum));
  if (l4_ == L4Kind::udp && c == 0) c = 0xffff;
  if (l4_ == L4Kind::udp && udp_zero_checksum_) c = 0;
  set16(l4, csum_at, c);
  if (l4_ == L4Kind::udp && udp_length_override_) set16(l4, 4, *udp_length_override_);
}

Bytes PacketBuilder::build_l3() const {
  Bytes out;
  if (l3_ == L3Kind::arp) {
    put16(out, 1);
    put16(out, 0x0800);
    out.push_back(6);
    out.push_back(4);
    put16(out, 1);
    out.insert(out.end(), src_mac_.addr_bytes, src_mac_.addr_bytes + 6);
    put32be(out, src_ip_);
    out.insert(out.end(), 6, 0);
    put32be(out, dst_ip_);
    return out;
  }
  if (l3_ == L3Kind::ipv6) {
    Bytes l4 = l4_bytes(0);
    Bytes exts;
    uint8_t first = ipv6_exts_.empty() ? proto_ : ipv6_exts_[0].type;
    for (std::size_t i = 0; i < ipv6_exts_.size(); ++i) {
      const Ext& e = ipv6_exts_[i];
      uint8_t next = i + 1 < ipv6_exts_.size() ? ipv6_exts_[i + 1].type : proto_;
      Bytes h(e.length, 0);
      h[0] = next;
      if (e.type == 44) {
        set16(h, 2, static_cast<uint16_t>(e.frag_offset << 3 | (e.more_fragments ? 1 : 0)));
      } else if (e.type == 51) {
        h[1] = static_cast<uint8_t>(e.length / 4 - 2);
      } else {
        h[1] = static_cast<uint8_t>(e.length / 8 - 1);
        if (e.type == 43) h[3] = e.segments_left;
      }
      exts.insert(exts.end(), h.begin(), h.end());
    }
    out.push_back(static_cast<uint8_t>(version_override_.value_or(6) << 4 | tos_ >> 4));
    out.push_back(static_cast<uint8_t>((tos_ & 0x0f) << 4 | (flow_label_ >> 16 & 0x0f)));
    put16(out, static_cast<uint16_t>(flow_label_));
    put16(out, total_length_override_.value_or(static_cast<uint16_t>(exts.size() + l4.size())));
    out.push_back(first);
    out.push_back(ttl_);
    out.insert(out.end(), src_ip6_.begin(), src_ip6_.end());
    out.insert(out.end(), dst_ip6_.begin(), dst_ip6_.end());
    // Pseudo-header: both addresses, the upper-layer length and next header (RFC 8200 8.1).
    finish_l4(l4, sum_bytes(out.data() + 8, 32) + static_cast<uint32_t>(l4.size()) + proto_);
    out.insert(out.end(), exts.begin(), exts.end());
    out.insert(out.end(), l4.begin(), l4.end());
    return out;
  }
  if (l3_ != L3Kind::ipv4) return out;

  Bytes l4 = l4_bytes(0);
  std::size_t hlen = 20 + option_words_ * 4u;
  out.push_back(static_cast<uint8_t>(4 << 4 | (hlen / 4)));
  out.push_back(tos_);
  put16(out, static_cast<uint16_t>(hlen + l4.size()));
  put16(out, id_);
  put16(out, static_cast<uint16_t>((df_ ? 0x4000 : 0) | (mf_ ? 0x2000 : 0) | frag_offset_));
  out.push_back(ttl_);
  out.push_back(proto_);
  put16(out, 0);
  put32be(out, src_ip_);
  put32be(out, dst_ip_);
  for (std::size_t i = 0; i < option_words_ * 4u; ++i) out.push_back(1);  // NOP options
  set16(out, 10, finish(sum_bytes(out.data(), hlen)));

  // L4 checksum over the pseudo-header (fragments: as if whole, good enough for tests); ICMP
  // has none.
  uint32_t pseudo = 0;
  if (l4_ != L4Kind::icmp)
    pseudo = sum_bytes(out.data() + 12, 8) + proto_ + static_cast<uint32_t>(l4.size());
  finish_l4(l4, pseudo);
  out.insert(out.end(), l4.begin(), l4.end());

  if (version_override_ || ihl_override_) {
    out[0] = static_cast<uint8_t>(version_override_.value_or(4) << 4 |
                                  ihl_override_.value_or(static_cast<uint8_t>(hlen / 4)));
  }
  if (total_length_override_) set16(out, 2, *total_length_override_);
  return out;
}

Bytes PacketBuilder::build() const {
  Bytes out;
  out.insert(out.end(), dst_mac_.addr_bytes, dst_mac_.addr_bytes + 6);
  out.insert(out.end(), src_mac_.addr_bytes, src_mac_.addr_bytes + 6);
  if (vlan_) {
    put16(out, 0x8100);
    put16(out, *vlan_);
  }
  uint16_t type = l3_ == L3Kind::arp ? 0x0806 : l3_ == L3Kind::ipv6 ? 0x86dd : 0x0800;
  put16(out, ethertype_.value_or(type));
  Bytes l3 = build_l3();
  out.insert(out.end(), l3.begin(), l3.end());
  out.insert(out.end(), pad_, 0);
  if (truncate_ && *truncate_ < out.size()) out.resize(*truncate_);
  return out;
}

bool ipv4_checksums_valid(const Bytes& frame, std::size_t l3) {
  const uint8_t* ip = frame.data() + l3;
  std::size_t hlen = (ip[0] & 0x0f) * 4u;
  std::size_t total = uint32_t(ip[2]) << 8 | ip[3];
  if (finish(sum_bytes(ip, hlen)) != 0) return false;
  uint8_t proto = ip[9];
  const uint8_t* l4 = ip + hlen;
  std::size_t l4_len = total - hlen;
  bool first_fragment_or_whole = ((uint32_t(ip[6]) << 8 | ip[7]) & 0x1fff) == 0;
  if (!first_fragment_or_whole) return true;
  if (proto == 6 || proto == 17) {
    if (proto == 17 && l4[6] == 0 && l4[7] == 0) return true;  // no UDP checksum
    uint32_t sum = sum_bytes(ip + 12, 8) + proto + static_cast<uint32_t>(l4_len);
    return finish(sum_bytes(l4, l4_len, sum)) == 0;
  }
  if (proto == 1) return finish(sum_bytes(l4, l4_len)) == 0;
  if (proto == 4) return ipv4_checksums_valid(frame, l3 + hlen);
  return true;
}

namespace {

// The sum over the pseudo-header and the message, checksum field included.
uint16_t icmpv6_sum(const Bytes& frame, std::size_t l3) {
  const uint8_t* ip = frame.data() + l3;
  std::size_t len = uint32_t(ip[4]) << 8 | ip[5];
  uint32_t sum = sum_bytes(ip + 8, 32) + static_cast<uint32_t>(len) + 58;
  return finish(sum_bytes(ip + 40, len, sum));
}

}  // namespace

bool icmpv6_checksum_valid(const Bytes& frame, std::size_t l3) {
  return icmpv6_sum(frame, l3) == 0;
}

void set_icmpv6_checksum(Bytes& frame, std::size_t l3) {
  set16(frame, l3 + 42, 0);
  set16(frame, l3 + 42, icmpv6_sum(frame, l3));
}

bool ipv6_checksums_valid(const Bytes& frame, std::size_t l3) {
  const uint8_t* ip = frame.data() + l3;
  std::size_t end = l3 + 40 + (uint32_t(ip[4]) << 8 | ip[5]);
  uint8_t next = ip[6];
  std::size_t at = l3 + 40;
  for (bool walking = true; walking;) {
    std::size_t len = 0;
    switch (next) {
      case 0:
      case 43:
      case 60:
        len = (frame[at + 1] + 1u) * 8u;
        break;
      case 51:
        len = (frame[at + 1] + 2u) * 4u;
        break;
      case 44:
        if ((uint32_t(frame[at + 2]) << 8 | frame[at + 3]) & 0xfff8) return true;  // no L4 here
        len = 8;
        break;
      default:
        walking = false;
        continue;
    }
    next = frame[at];
    at += len;
  }
  const uint8_t* l4 = frame.data() + at;
  std::size_t l4_len = end - at;
  switch (next) {
    case 6:
    case 17:
    case 58: {
      if (next == 17 && l4[6] == 0 && l4[7] == 0) return false;  // IPv6 requires one
      uint32_t sum = sum_bytes(ip + 8, 32) + next + static_cast<uint32_t>(l4_len);
      return finish(sum_bytes(l4, l4_len, sum)) == 0;
    }
    case 41:
      return ipv6_checksums_valid(frame, at);
    case 4:
      return ipv4_checksums_valid(frame, at);
    default:
      return true;
  }
}

}  // namespace shoal::test

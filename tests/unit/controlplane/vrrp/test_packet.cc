// VRRPv3 advertisement frames (controlplane/vrrp/packet.*), over IPv4 and IPv6: a known-good
// frame made by another implementation, round trips, every truncation, and each malformed
// field with its exact drop reason. Checksums are checked with a sum written here, not the code under test.
#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <rte_ip.h>

#include <cstring>
#include <string_view>
#include <vector>

#include "packet_builder.h"
#include "vrrp/packet.h"

using namespace shoal::cp;
using shoal::dp::ipv4;
using shoal::test::Bytes;

namespace {

constexpr std::size_t kEth = RTE_ETHER_HDR_LEN;
constexpr uint32_t kPrimary = ipv4(10, 0, 0, 201);
constexpr uint32_t kVip1 = ipv4(10, 0, 0, 100);
constexpr uint32_t kVip2 = ipv4(10, 0, 0, 101);

// Made offline with scapy 2.5 (/usr/bin/python3):
//   raw(Ether(dst="01:00:5e:00:00:12", src="00:00:5e:00:01:33") /
//       IP(src="10.0.0.201", dst="224.0.0.18", ttl=255, tos=0xc0, id=0, flags=0) /
//       VRRPv3(vrid=51, priority=150, adv=100, addrlist=["10.0.0.100", "10.0.0.101"]))
// IPv4 header checksum 0xcfce, VRRP checksum 0x3841 (with the pseudo-header).
const Bytes kScapyAdvert = {
    0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x00, 0x00, 0x5e, 0x00, 0x01, 0x33, 0x08, 0x00,
    0x45, 0xc0, 0x00, 0x24, 0x00, 0x00, 0x00, 0x00, 0xff, 0x70, 0xcf, 0xce, 0x0a, 0x00,
    0x00, 0xc9, 0xe0, 0x00, 0x00, 0x12, 0x31, 0x33, 0x96, 0x02, 0x00, 0x64, 0x38, 0x41,
    0x0a, 0x00, 0x00, 0x64, 0x0a, 0x00, 0x00, 0x65};
// The same message's checksum in the VRRPv2 style (message only), from scapy's checksum()
// over the 16 VRRP bytes with the checksum field zeroed.
constexpr uint16_t kScapyV2Checksum = 0x239d;

// The same over IPv6, made offline with scapy 2.5 the same way:
//   raw(Ether(dst="33:33:00:00:00:12", src="00:00:5e:00:02:33") /
//       IPv6(src="fe80::200:ff:fe00:201", dst="ff02::12", hlim=255, tc=0xc0) /
//       VRRPv3(vrid=51, priority=150, adv=100, addrlist=["fd00::100", "fd00::101"]))
// VRRP checksum 0x3b34 (with the IPv6 pseudo-header).
const Bytes kScapyAdvert6 = {
    0x33, 0x33, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x5e, 0x00, 0x02, 0x33, 0x86, 0xdd,
    0x6c, 0x00, 0x00, 0x00, 0x00, 0x28, 0x70, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x02, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x02, 0x01, 0xff, 0x02, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x31, 0x33,
    0x96, 0x02, 0x00, 0x64, 0x3b, 0x34, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01};

IpAddress v4(uint32_t ip) { return IpAddress::from_v4(ip); }
IpAddress v6(std::string_view text) { return IpAddress::from_v6(*parse_ipv6(text)); }

const IpAddress kLinkLocal = v6("fe80::200:ff:fe00:201");

VrrpAdvert scapy_advert() { return VrrpAdvert{51, 150, 100, {v4(kVip1), v4(kVip2)}}; }
VrrpAdvert scapy_advert6() { return VrrpAdvert{51, 150, 100, {v6("fd00::100"), v6("fd00::101")}}; }

Bytes write(const VrrpAdvert& a, VrrpChecksum style = VrrpChecksum::v3,
            rte_ether_addr mac = vrrp_virtual_mac(51), const IpAddress& src = v4(kPrimary)) {
  Bytes frame(kVrrpMaxFrameLen, 0xee);
  frame.resize(write_vrrp_advert(frame.data(), a, mac, src, style));
  return frame;
}

Bytes write6(const VrrpAdvert& a, rte_ether_addr mac = vrrp_virtual_mac(51, true)) {
  return write(a, VrrpChecksum::v3, mac, kLinkLocal);
}

// The IPv6 datagram of a frame: header and payload length.
Bytes datagram6(const Bytes& frame) {
  std::size_t payload = std::size_t(frame[kEth + 4]) << 8 | frame[kEth + 5];
  return Bytes(frame.begin() + kEth, frame.begin() + kEth + 40 + payload);
}

// The IPv4 datagram of a frame, without Ethernet padding.
Bytes datagram(const Bytes& frame) {
  std::size_t total = std::size_t(frame[kEth + 2]) << 8 | frame[kEth + 3];
  return Bytes(frame.begin() + kEth, frame.begin() + kEth + total);
}

// RFC 1071 one's complement sum of big-endian 16-bit words, folded.
uint16_t ones_sum(const uint8_t* p, std::size_t n, uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
  if (n % 2) sum += uint32_t(p[n - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

std::size_t ihl(const Bytes& ip) { return (ip[0] & 0x0f) * 4u; }

void put16(Bytes& b, std::size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

void fix_ip_checksum(Bytes& ip) {
  put16(ip, 10, 0);
  put16(ip, 10, static_cast<uint16_t>(~ones_sum(ip.data(), ihl(ip))));
}

// Sum of the IPv4 pseudo-header (src, dst, zero, protocol, VRRP length).
uint16_t pseudo_sum(const Bytes& ip) {
  uint8_t ph[12];
  std::memcpy(ph, ip.data() + 12, 8);
  ph[8] = 0;
  ph[9] = ip[9];
  std::size_t len = ip.size() - ihl(ip);
  ph[10] = static_cast<uint8_t>(len >> 8);
  ph[11] = static_cast<uint8_t>(len);
  return ones_sum(ph, sizeof ph);
}

void fix_vrrp_checksum(Bytes& ip, bool v2 = false) {
  std::size_t off = ihl(ip);
  put16(ip, off + 6, 0);
  uint16_t sum = ones_sum(ip.data() + off, ip.size() - off, v2 ? 0 : pseudo_sum(ip));
  put16(ip, off + 6, static_cast<uint16_t>(~sum));
}

bool vrrp_checksum_ok(const Bytes& ip, bool v2) {
  std::size_t off = ihl(ip);
  return ones_sum(ip.data() + off, ip.size() - off, v2 ? 0 : pseudo_sum(ip)) == 0xffff;
}

VrrpParseResult parse(const Bytes& ip) { return parse_vrrp_advert(ip.data(), ip.size()); }

struct Malformed {
  const char* description;
  Bytes ip;
  VrrpDrop reason;
};

std::vector<Malformed> malformed() {
  const Bytes good = datagram(kScapyAdvert);
  const std::size_t v = 20;  // VRRP header offset
  std::vector<Malformed> cases;
  auto add = [&](const char* d, VrrpDrop r, auto mutate) {
    Bytes ip = good;
    mutate(ip);
    cases.push_back({d, std::move(ip), r});
  };
  add("IP version 5", VrrpDrop::bad_ip_header, [](Bytes& ip) {
    ip[0] = 0x55;
    fix_ip_checksum(ip);
  });
  add("IHL of 4 words", VrrpDrop::bad_ip_header, [](Bytes& ip) { ip[0] = 0x44; });
  add("IPv4 header checksum wrong", VrrpDrop::bad_ip_header, [](Bytes& ip) { ip[11] ^= 1; });
  add("total length below the header", VrrpDrop::bad_ip_header, [](Bytes& ip) {
    put16(ip, 2, 16);
    fix_ip_checksum(ip);
  });
  add("more-fragments flag", VrrpDrop::ip_fragment, [](Bytes& ip) {
    ip[6] = 0x20;
    fix_ip_checksum(ip);
  });
  add("fragment offset", VrrpDrop::ip_fragment, [](Bytes& ip) {
    put16(ip, 6, 1);
    fix_ip_checksum(ip);
  });
  add("UDP, not VRRP", VrrpDrop::not_vrrp, [](Bytes& ip) {
    ip[9] = 17;
    fix_ip_checksum(ip);
  });
  add("TTL 254 (one hop away)", VrrpDrop::ttl_not_255, [](Bytes& ip) {
    ip[8] = 254;
    fix_ip_checksum(ip);
  });
  add("TTL 64", VrrpDrop::ttl_not_255, [](Bytes& ip) {
    ip[8] = 64;
    fix_ip_checksum(ip);
  });
  add("VRRP header cut to 4 bytes", VrrpDrop::truncated, [](Bytes& ip) {
    ip.resize(24);
    put16(ip, 2, 24);
    fix_ip_checksum(ip);
  });
  add("VRRP version 2", VrrpDrop::bad_version, [&](Bytes& ip) {
    ip[v] = 0x21;
    fix_vrrp_checksum(ip);
  });
  add("VRRP version 4", VrrpDrop::bad_version, [&](Bytes& ip) {
    ip[v] = 0x41;
    fix_vrrp_checksum(ip);
  });
  add("VRRP type 0", VrrpDrop::bad_type, [&](Bytes& ip) {
    ip[v] = 0x30;
    fix_vrrp_checksum(ip);
  });
  add("VRRP type 2", VrrpDrop::bad_type, [&](Bytes& ip) {
    ip[v] = 0x32;
    fix_vrrp_checksum(ip);
  });
  add("count 3 but 2 addresses", VrrpDrop::bad_length, [&](Bytes& ip) {
    ip[v + 3] = 3;
    fix_vrrp_checksum(ip);
  });
  add("count 1 but 2 addresses", VrrpDrop::bad_length, [&](Bytes& ip) {
    ip[v + 3] = 1;
    fix_vrrp_checksum(ip);
  });
  add("VRRP v2 authentication trailer (8 bytes)", VrrpDrop::bad_length, [](Bytes& ip) {
    ip.resize(ip.size() + 8, 0);
    put16(ip, 2, static_cast<uint16_t>(ip.size()));
    fix_ip_checksum(ip);
    fix_vrrp_checksum(ip);
  });
  add("VRRP checksum wrong", VrrpDrop::bad_checksum, [&](Bytes& ip) { ip[v + 7] ^= 0x10; });
  add("address changed after checksumming", VrrpDrop::bad_checksum,
      [&](Bytes& ip) { ip[v + 11] = 0x66; });
  add("source address changed (pseudo-header)", VrrpDrop::bad_checksum, [](Bytes& ip) {
    ip[15] = 0xca;
    fix_ip_checksum(ip);
  });
  add("count 0, no addresses", VrrpDrop::no_addresses, [&](Bytes& ip) {
    ip.resize(28);
    put16(ip, 2, 28);
    fix_ip_checksum(ip);
    ip[v + 3] = 0;
    fix_vrrp_checksum(ip);
  });
  add("interval 0", VrrpDrop::zero_interval, [&](Bytes& ip) {
    put16(ip, v + 4, 0);
    fix_vrrp_checksum(ip);
  });
  add("interval 0 under set reserved bits", VrrpDrop::zero_interval, [&](Bytes& ip) {
    put16(ip, v + 4, 0xf000);
    fix_vrrp_checksum(ip);
  });
  return cases;
}

}  // namespace

TEST_CASE("vrrp packet: the writer reproduces scapy's advertisement byte for byte", "[vrrp]") {
  const Bytes frame = write(scapy_advert());
  REQUIRE(frame.size() == kVrrpMinFrameLen);  // 50 bytes, padded to 60
  CHECK(Bytes(frame.begin(), frame.begin() + 50) == kScapyAdvert);
  CHECK(Bytes(frame.begin() + 50, frame.end()) == Bytes(10, 0));

  const Bytes ip = datagram(frame);
  CHECK(ones_sum(ip.data(), 20) == 0xffff);
  CHECK(vrrp_checksum_ok(ip, /*v2=*/false));
  CHECK_FALSE(vrrp_checksum_ok(ip, /*v2=*/true));
}

TEST_CASE("vrrp packet: the v2-style checksum covers the message alone", "[vrrp]") {
  const Bytes frame = write(scapy_advert(), VrrpChecksum::v2);
  const Bytes ip = datagram(frame);
  CHECK((uint16_t(ip[26]) << 8 | ip[27]) == kScapyV2Checksum);
  CHECK(vrrp_checksum_ok(ip, /*v2=*/true));
  // Everything else is as in the v3 frame.
  Bytes v3 = datagram(kScapyAdvert);
  v3[26] = ip[26];
  v3[27] = ip[27];
  CHECK(v3 == ip);

  const VrrpParseResult r = parse(ip);
  REQUIRE(r.ok);
  CHECK(r.received.v2_checksum);
  CHECK(r.received.advert.addresses == scapy_advert().addresses);
  CHECK_FALSE(parse(datagram(kScapyAdvert)).received.v2_checksum);
}

TEST_CASE("vrrp packet: scapy's frames parse into their fields", "[vrrp]") {
  struct Known {
    Bytes ip;
    IpAddress src;
    VrrpAdvert advert;
  };
  for (const Known& k : {Known{datagram(kScapyAdvert), v4(kPrimary), scapy_advert()},
                         Known{datagram6(kScapyAdvert6), kLinkLocal, scapy_advert6()}}) {
    CAPTURE(to_string(k.src));
    const VrrpParseResult r = parse(k.ip);
    REQUIRE(r.ok);
    CHECK(r.received.src == k.src);
    CHECK_FALSE(r.received.v2_checksum);
    CHECK(r.received.advert.vrid == 51);
    CHECK(r.received.advert.priority == 150);
    CHECK(r.received.advert.max_advert_int_cs == 100);
    CHECK(r.received.advert.addresses == k.advert.addresses);
  }
}

TEST_CASE("vrrp packet: round trips keep every field", "[vrrp]") {
  std::vector<IpAddress> many;
  for (uint32_t i = 0; i < kVrrpMaxAddresses; ++i)
    many.push_back(v4(ipv4(10, 1, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i))));
  const std::vector<VrrpAdvert> adverts = {
      {1, 255, 1, {v4(kVip1)}},
      {255, 0, kVrrpMaxIntervalCs, {v4(kVip2), v4(kVip1)}},  // a shutdown advert, order kept
      {7, 100, 25, many},
  };
  for (VrrpChecksum style : {VrrpChecksum::v3, VrrpChecksum::v2}) {
    for (const VrrpAdvert& a : adverts) {
      CAPTURE(a.vrid, static_cast<int>(style));
      const Bytes frame = write(a, style, shoal::test::mac(9));
      CHECK(frame.size() == vrrp_frame_len(a.addresses.size()));
      CHECK(std::memcmp(frame.data() + 6, shoal::test::mac(9).addr_bytes, 6) == 0);
      // With Ethernet padding left on: the IP total length bounds the message.
      const VrrpParseResult r =
          parse_vrrp_advert(frame.data() + kEth, frame.size() - kEth);
      REQUIRE(r.ok);
      CHECK(r.received.src == v4(kPrimary));
      CHECK(r.received.v2_checksum == (style == VrrpChecksum::v2));
      CHECK(r.received.advert.vrid == a.vrid);
      CHECK(r.received.advert.priority == a.priority);
      CHECK(r.received.advert.max_advert_int_cs == a.max_advert_int_cs);
      CHECK(r.received.advert.addresses == a.addresses);
    }
  }
}

TEST_CASE("vrrp packet: the virtual MAC carries the VRID", "[vrrp]") {
  const rte_ether_addr m = vrrp_virtual_mac(0xab);
  const uint8_t expected[6] = {0x00, 0x00, 0x5e, 0x00, 0x01, 0xab};
  CHECK(std::memcmp(m.addr_bytes, expected, 6) == 0);
}

TEST_CASE("vrrp packet: every truncation is rejected as truncated", "[vrrp]") {
  const Bytes ip = datagram(kScapyAdvert);
  for (std::size_t n = 0; n < ip.size(); ++n) {
    CAPTURE(n);
    // A copy of exactly n bytes, so that ASan catches any read past them.
    const Bytes prefix(ip.begin(), ip.begin() + static_cast<std::ptrdiff_t>(n));
    const VrrpParseResult r = parse_vrrp_advert(prefix.data(), prefix.size());
    CHECK_FALSE(r.ok);
    CHECK(r.reason == VrrpDrop::truncated);
  }
}

TEST_CASE("vrrp packet: each malformed field gets its exact reason", "[vrrp]") {
  for (const Malformed& m : malformed()) {
    CAPTURE(m.description);
    const VrrpParseResult r = parse(m.ip);
    CHECK_FALSE(r.ok);
    CHECK(name(r.reason) == name(m.reason));
  }
}

TEST_CASE("vrrp packet: reserved bits, IP options and padding are accepted", "[vrrp]") {
  Bytes ip = datagram(kScapyAdvert);
  ip[24] |= 0xf0;  // RFC 9568 §5.2.6: reserved bits are ignored on reception
  fix_vrrp_checksum(ip);
  VrrpParseResult r = parse(ip);
  REQUIRE(r.ok);
  CHECK(r.received.advert.max_advert_int_cs == 100);

  // Router alert option (RFC 2113), as some routers add: IHL 6.
  Bytes opt = datagram(kScapyAdvert);
  const uint8_t router_alert[4] = {0x94, 0x04, 0x00, 0x00};
  opt.insert(opt.begin() + 20, router_alert, router_alert + 4);
  opt[0] = 0x46;
  put16(opt, 2, static_cast<uint16_t>(opt.size()));
  fix_ip_checksum(opt);
  r = parse(opt);
  REQUIRE(r.ok);
  CHECK(r.received.advert.addresses == scapy_advert().addresses);

  Bytes padded = datagram(kScapyAdvert);
  padded.resize(padded.size() + 10, 0xff);
  CHECK(parse(padded).ok);
}

TEST_CASE("vrrp packet: drop reasons have names and descriptions", "[vrrp]") {
  CHECK(name(VrrpDrop::ttl_not_255) == "ttl_not_255");
  CHECK(name(VrrpDrop::not_running) == "not_running");
  for (std::size_t i = 0; i < kVrrpDropCount; ++i)
    CHECK_FALSE(describe(static_cast<VrrpDrop>(i)).empty());
}

TEST_CASE("vrrp packet: over IPv6, the writer reproduces scapy's advertisement", "[vrrp]") {
  const Bytes frame = write6(scapy_advert6());
  CHECK(frame == kScapyAdvert6);  // 94 bytes: no padding
  CHECK(frame.size() == vrrp_frame_len(2, true));
  const rte_ether_addr m = vrrp_virtual_mac(0xab, true);
  const uint8_t expected[6] = {0x00, 0x00, 0x5e, 0x00, 0x02, 0xab};
  CHECK(std::memcmp(m.addr_bytes, expected, 6) == 0);
}

TEST_CASE("vrrp packet: over IPv6, round trips, truncations and malformed fields", "[vrrp]") {
  std::vector<IpAddress> many;
  for (uint32_t i = 0; i < kVrrpMaxAddresses; ++i)
    many.push_back(v6(fmt::format("fd00::1:{:x}", i)));
  for (const VrrpAdvert& a : {scapy_advert6(), VrrpAdvert{255, 0, kVrrpMaxIntervalCs, many}}) {
    const Bytes frame = write6(a);
    CHECK(frame.size() == vrrp_frame_len(a.addresses.size(), true));
    const VrrpParseResult r = parse_vrrp_advert(frame.data() + kEth, frame.size() - kEth);
    REQUIRE(r.ok);
    CHECK(r.received.advert.vrid == a.vrid);
    CHECK(r.received.advert.priority == a.priority);
    CHECK(r.received.advert.addresses == a.addresses);
  }
  CHECK(write6(VrrpAdvert{255, 0, 1, many}).size() == kVrrpMaxFrameLen);

  const Bytes good = datagram6(kScapyAdvert6);
  for (std::size_t n = 0; n < good.size(); ++n) {
    CAPTURE(n);
    const Bytes prefix(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    const VrrpParseResult r = parse_vrrp_advert(prefix.data(), prefix.size());
    CHECK_FALSE(r.ok);
    CHECK(r.reason == VrrpDrop::truncated);
  }

  // The VRRP checksum over the IPv6 pseudo-header (source, destination, length, next header).
  const auto fix_checksum6 = [](Bytes& ip) {
    put16(ip, 46, 0);
    uint8_t ph[40] = {};
    std::memcpy(ph, ip.data() + 8, 32);
    const std::size_t len = ip.size() - 40;
    ph[34] = static_cast<uint8_t>(len >> 8);
    ph[35] = static_cast<uint8_t>(len);
    ph[39] = ip[6];
    const uint16_t sum = ones_sum(ip.data() + 40, len, ones_sum(ph, sizeof ph));
    put16(ip, 46, static_cast<uint16_t>(~sum));
  };
  Bytes refixed = good;
  fix_checksum6(refixed);
  CHECK(refixed == good);  // the sum written here agrees with scapy's

  struct Case {
    const char* description;
    VrrpDrop reason;
    void (*mutate)(Bytes&);
  };
  const Case cases[] = {
      {"hop limit 254 (one hop away)", VrrpDrop::ttl_not_255, [](Bytes& ip) { ip[7] = 254; }},
      {"UDP, not VRRP", VrrpDrop::not_vrrp, [](Bytes& ip) { ip[6] = 17; }},
      {"a destination options header first", VrrpDrop::not_vrrp, [](Bytes& ip) { ip[6] = 60; }},
      {"payload length past the frame", VrrpDrop::truncated, [](Bytes& ip) { put16(ip, 4, 41); }},
      {"VRRP version 2", VrrpDrop::bad_version, [](Bytes& ip) { ip[40] = 0x21; }},
      {"count 1 but 2 addresses", VrrpDrop::bad_length, [](Bytes& ip) { ip[43] = 1; }},
      {"count 8: IPv4-sized addresses", VrrpDrop::bad_length, [](Bytes& ip) { ip[43] = 8; }},
      {"source address changed (pseudo-header)", VrrpDrop::bad_checksum,
       [](Bytes& ip) { ip[23] ^= 1; }},
      {"checksum wrong", VrrpDrop::bad_checksum, [](Bytes& ip) { ip[47] ^= 0x10; }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.description);
    Bytes ip = good;
    c.mutate(ip);
    // Checksums stay right where the case is about something else.
    if (c.reason != VrrpDrop::bad_checksum && c.reason != VrrpDrop::truncated) fix_checksum6(ip);
    const VrrpParseResult r = parse(ip);
    CHECK_FALSE(r.ok);
    CHECK(name(r.reason) == name(c.reason));
  }

  // IPv6 has no v2-style checksum: the message's own sum is not accepted.
  Bytes v2 = good;
  put16(v2, 46, 0);
  put16(v2, 46, static_cast<uint16_t>(~ones_sum(v2.data() + 40, v2.size() - 40)));
  CHECK(parse(v2).reason == VrrpDrop::bad_checksum);
}

// The Ethernet and IP headers every frame the control plane originates begins with, and the
// ICMPv6 checksum.
#include <catch2/catch.hpp>

#include <rte_ip.h>

#include <cstring>

#include "dataplane/packet.h"
#include "net/frame_headers.h"
#include "packet_builder.h"

using namespace shoal::dp;
using shoal::cp::write_eth;
using shoal::cp::icmpv6_checksum;
using shoal::cp::write_ipv4;
using shoal::cp::write_ipv6;
using shoal::test::Bytes;
using shoal::test::mac;

TEST_CASE("frame headers: Ethernet then IPv4, each returning where the next begins", "[control]") {
  Bytes out(64, 0xaa);
  uint8_t* l3 = write_eth(out.data(), mac(1), mac(2), RTE_ETHER_TYPE_IPV4);
  REQUIRE(l3 == out.data() + 14);
  CHECK(Bytes(out.begin(), out.begin() + 14) ==
        Bytes{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00});

  SECTION("VRRP's: TOS set, DF clear") {
    uint8_t* l4 = write_ipv4(l3, {.src = ipv4(10, 0, 0, 2),
                                  .dst = ipv4(224, 0, 0, 18),
                                  .proto = kIpProtoVrrp,
                                  .ttl = 255,
                                  .payload_len = 12,
                                  .tos = 0xc0});
    REQUIRE(l4 == l3 + 20);
    Bytes ip(l3, l4);
    ip[10] = ip[11] = 0;
    CHECK(ip == Bytes{0x45, 0xc0, 0, 32, 0, 0, 0, 0, 255, kIpProtoVrrp, 0, 0,
                      10, 0, 0, 2, 224, 0, 0, 18});
  }
  SECTION("sync's: DF set") {
    write_ipv4(l3, {.src = ipv4(10, 0, 0, 2),
                    .dst = ipv4(239, 1, 2, 3),
                    .proto = kIpProtoUdp,
                    .ttl = 255,
                    .payload_len = 8,
                    .tos = 0xc0,
                    .dont_fragment = true});
    CHECK((l3[6] == 0x40 && l3[7] == 0));
  }
  SECTION("ICMP errors': TOS 0, DF clear") {
    write_ipv4(l3, {.src = ipv4(10, 0, 0, 2), .dst = ipv4(10, 0, 0, 1), .proto = kIpProtoIcmp,
                    .ttl = 64, .payload_len = 36});
    CHECK((l3[1] == 0 && l3[6] == 0 && l3[7] == 0 && l3[8] == 64));
  }
  CHECK(rte_raw_cksum(l3, 20) == 0xffff);  // the header's checksum is right
  CHECK(out[34] == 0xaa);                  // nothing written past the header
}

TEST_CASE("frame headers: IPv6, with traffic class and flow label", "[control]") {
  const Ipv6Address src = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};
  const Ipv6Address dst = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12};
  Bytes out(64, 0xaa);
  uint8_t* l3 = write_eth(out.data(), mac(2), mac(1), RTE_ETHER_TYPE_IPV6);
  CHECK((out[12] == 0x86 && out[13] == 0xdd));
  uint8_t* l4 = write_ipv6(l3, {.src = src,
                                .dst = dst,
                                .next_header = kIpProtoVrrp,
                                .hop_limit = 255,
                                .payload_len = 0x0123,
                                .traffic_class = 0xc0,
                                .flow_label = 0xf'ffff | 0x10'0000});  // 21 bits: one too many
  REQUIRE(l4 == l3 + 40);
  CHECK(Bytes(l3, l4) == Bytes{0x6c, 0x0f, 0xff, 0xff, 0x01, 0x23, kIpProtoVrrp, 255,
                               0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
                               0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12});
  CHECK(out[54] == 0xaa);  // nothing written past the header
  CHECK(shoal::cp::ipv6_src(l3) == src);
  CHECK(shoal::cp::ipv6_dst(l3) == dst);

  write_ipv6(l3, {.src = src, .dst = dst, .next_header = kIpProtoIcmpv6, .hop_limit = 64});
  CHECK(Bytes(l3, l3 + 8) == Bytes{0x60, 0, 0, 0, 0, 0, kIpProtoIcmpv6, 64});
}

TEST_CASE("frame headers: the ICMPv6 checksum covers the pseudo-header", "[control]") {
  // An echo request from 2001:db8::11 to 2001:db8::2 (its checksum as scapy computes it).
  const Ipv6Address src = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11};
  const Ipv6Address dst = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};
  Bytes echo = {0x80, 0x00, 0x00, 0x00, 0x42, 0x42, 0x00, 0x01, 's', 'h', 'o', 'a', 'l', '!'};
  uint16_t csum = icmpv6_checksum(src, dst, echo.data(), echo.size());
  std::memcpy(echo.data() + 2, &csum, 2);
  CHECK((echo[2] == 0x93 && echo[3] == 0x03));
  CHECK(icmpv6_checksum(src, dst, echo.data(), echo.size()) == 0);  // verifies
  CHECK(icmpv6_checksum(dst, src, echo.data(), echo.size()) == 0);  // whichever way it goes
  CHECK(icmpv6_checksum(src, src, echo.data(), echo.size()) != 0);  // the addresses count
  CHECK(icmpv6_checksum(src, dst, echo.data(), echo.size() - 1) != 0);  // and the length
  echo.push_back('?');  // an odd length: the last byte is padded with a zero
  echo[2] = echo[3] = 0;
  csum = icmpv6_checksum(src, dst, echo.data(), echo.size());
  std::memcpy(echo.data() + 2, &csum, 2);
  CHECK(icmpv6_checksum(src, dst, echo.data(), echo.size()) == 0);
}

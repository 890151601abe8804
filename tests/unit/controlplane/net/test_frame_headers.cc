// The Ethernet and IPv4 headers every frame the control plane originates begins with.
#include <catch2/catch.hpp>

#include <rte_ip.h>

#include "dataplane/packet.h"
#include "net/frame_headers.h"
#include "packet_builder.h"

using namespace shoal::dp;
using shoal::cp::write_eth;
using shoal::cp::write_ipv4;
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

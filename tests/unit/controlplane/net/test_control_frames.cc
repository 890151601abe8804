// The ICMP errors the control plane writes about packets it cannot forward.
#include <catch2/catch.hpp>

#include "net/control_frames.h"
#include "packet_builder.h"

using namespace shoal::dp;
using shoal::cp::kIcmpErrorMaxFrame;
using shoal::cp::write_icmp_error;
using shoal::test::Bytes;
using shoal::test::mac;
using shoal::test::PacketBuilder;

namespace {

constexpr uint32_t kOurIp = ipv4(10, 0, 0, 2);

Bytes icmp_error_about(const Bytes& frame, uint8_t type, uint8_t code) {
  ParsedPacket p;
  REQUIRE(parse_packet(frame.data(), static_cast<uint32_t>(frame.size()), p).ok);
  Bytes out(kIcmpErrorMaxFrame);
  out.resize(write_icmp_error(out.data(), frame.data(), p, kOurIp, type, code, 0));
  return out;
}

}  // namespace

TEST_CASE("ICMP errors: time exceeded quotes the packet back to its sender", "[control]") {
  Bytes in = PacketBuilder().eth(mac(0x13), mac(2)).ipv4(ipv4(10, 0, 1, 11), ipv4(10, 0, 0, 1))
                 .tcp(80, 40000, kTcpAckFlag).ttl(1).payload(30).build();
  Bytes out = icmp_error_about(in, 11, 0);
  REQUIRE(out.size() == 14 + 20 + 8 + (in.size() - 14));
  CHECK(std::equal(out.begin(), out.begin() + 6, in.begin() + 6));  // back to its sender
  CHECK(out[14 + 9] == kIpProtoIcmp);
  CHECK(std::equal(out.begin() + 14 + 16, out.begin() + 14 + 20, in.begin() + 14 + 12));
  CHECK((out[34] == 11 && out[35] == 0));
  CHECK(std::equal(out.begin() + 42, out.end(), in.begin() + 14));
  CHECK(shoal::test::ipv4_checksums_valid(out));
}

TEST_CASE("ICMP errors: none about an ICMP error (RFC 1122 3.2.2), echoes still get one",
          "[control]") {
  Bytes quoted = PacketBuilder().ipv4(ipv4(10, 0, 0, 1), ipv4(10, 0, 1, 11)).udp(5000, 9)
                     .build_l3();
  for (uint8_t type : {uint8_t{3}, uint8_t{11}, uint8_t{12}}) {
    Bytes error = PacketBuilder().eth(mac(0x13), mac(2)).ipv4(ipv4(10, 0, 1, 11), ipv4(10, 0, 0, 1))
                      .icmp(type, 0).ttl(1).payload(quoted).build();
    CHECK(icmp_error_about(error, 11, 0).empty());
  }
  Bytes echo = PacketBuilder().eth(mac(0x13), mac(2)).ipv4(ipv4(10, 0, 1, 11), ipv4(10, 0, 0, 1))
                   .icmp(8).ttl(1).payload(8).build();
  CHECK_FALSE(icmp_error_about(echo, 11, 0).empty());
}

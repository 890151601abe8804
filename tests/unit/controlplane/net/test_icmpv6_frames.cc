// The ICMPv6 the control plane answers (echo) and originates (packet too big, hop limit
// exceeded), byte for byte, and the packets no error may answer.
#include <catch2/catch.hpp>

#include "dataplane/packet.h"
#include "net/icmpv6_frames.h"
#include "packet_builder.h"

using namespace shoal::cp;
using shoal::dp::Ipv6Address;
using shoal::dp::ParsedPacket;
using shoal::dp::parse_packet;
using shoal::test::Bytes;
using shoal::test::mac;

namespace {

const Ipv6Address kOurIp = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};

constexpr std::size_t kIpDst = 14 + 24;
constexpr std::size_t kIcmp = 14 + 40;

ParsedPacket parsed(const Bytes& frame) {
  ParsedPacket p;
  REQUIRE(parse_packet(frame.data(), static_cast<uint32_t>(frame.size()), p).ok);
  return p;
}

// A client's ping of our address.
const Bytes kEchoRequest = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x11, 0x86, 0xdd,
    0x60, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x3a, 0x40,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11,  // 2001:db8::11
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,  // 2001:db8::2
    0x80, 0x00, 0x93, 0x03, 0x42, 0x42, 0x00, 0x01,  // echo request, id 0x4242, sequence 1
    's', 'h', 'o', 'a', 'l', '!',
};

// Its answer.
const Bytes kEchoReply = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x11, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x86, 0xdd,
    0x60, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x3a, 0x40,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11,
    0x81, 0x00, 0x92, 0x03, 0x42, 0x42, 0x00, 0x01,
    's', 'h', 'o', 'a', 'l', '!',
};

// A DNS query from 2001:db8::11 to the VIP 2001:db8::80.
const Bytes kUdpToVip = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x11, 0x86, 0xdd,
    0x60, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x11, 0x40,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80,
    0x9c, 0x40, 0x00, 0x35, 0x00, 0x0c, 0x2f, 0xb0, 'd', 'n', 's', '?',
};

uint32_t echo_reply_in_place(Bytes& frame) {
  ParsedPacket p = parsed(frame);
  return make_echo6_reply(frame.data(), static_cast<uint32_t>(frame.size()), p);
}

}  // namespace

TEST_CASE("ICMPv6 echo: the reply, byte for byte", "[control][icmpv6]") {
  Bytes frame = kEchoRequest;
  REQUIRE(echo_reply_in_place(frame) == frame.size());
  CHECK(frame == kEchoReply);

  SECTION("the request's extension headers are not the reply's") {
    Bytes with_options(kEchoRequest.begin(), kEchoRequest.begin() + kIcmp);
    const Bytes destination_options = {0x3a, 0x00, 0x01, 0x04, 0, 0, 0, 0};  // PadN
    with_options.insert(with_options.end(), destination_options.begin(),
                        destination_options.end());
    with_options.insert(with_options.end(), kEchoRequest.begin() + kIcmp, kEchoRequest.end());
    with_options[14 + 5] += 8;
    with_options[14 + 6] = 60;
    const uint32_t n = echo_reply_in_place(with_options);
    REQUIRE(n == kEchoReply.size());
    with_options.resize(n);
    CHECK(with_options == kEchoReply);
  }
  SECTION("the traffic class is kept") {
    Bytes frame2 = kEchoRequest;
    frame2[14] = 0x6b;  // traffic class 0xb8 (EF), flow label 0x12345
    frame2[15] = 0x81;
    frame2[16] = 0x23;
    frame2[17] = 0x45;
    REQUIRE(echo_reply_in_place(frame2) != 0);
    CHECK(Bytes(frame2.begin() + 14, frame2.begin() + 18) == Bytes{0x6b, 0x80, 0x00, 0x00});
    CHECK(shoal::test::icmpv6_checksum_valid(frame2));
  }
  SECTION("nothing to answer") {
    Bytes reply = kEchoReply;
    CHECK(echo_reply_in_place(reply) == 0);
    CHECK(reply == kEchoReply);
    Bytes udp = kUdpToVip;
    CHECK(echo_reply_in_place(udp) == 0);
    Bytes damaged = kEchoRequest;
    damaged.back() ^= 0x20;
    CHECK(echo_reply_in_place(damaged) == 0);
    Bytes to_all_nodes = kEchoRequest;
    const uint8_t all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    std::copy(all_nodes, all_nodes + 16, to_all_nodes.begin() + kIpDst);
    shoal::test::set_icmpv6_checksum(to_all_nodes);
    CHECK(echo_reply_in_place(to_all_nodes) == 0);
  }
}

TEST_CASE("ICMPv6 errors: packet too big quotes the packet back to its sender",
          "[control][icmpv6]") {
  Bytes out(kIcmpv6ErrorMaxFrame);
  ParsedPacket p = parsed(kUdpToVip);
  out.resize(write_packet_too_big(out.data(), kUdpToVip.data(), p, mac(0x02), kOurIp, 1400));
  Bytes expected = {
      0x02, 0x00, 0x00, 0x00, 0x00, 0x11, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x86, 0xdd,
      0x60, 0x00, 0x00, 0x00, 0x00, 0x3c, 0x3a, 0x40,  // 60 bytes of ICMPv6, hop limit 64
      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,  // from our address
      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11,  // to the client
      0x02, 0x00, 0x2b, 0x5d, 0x00, 0x00, 0x05, 0x78,  // packet too big, MTU 1400
  };
  expected.resize(expected.size() + kUdpToVip.size() - 14);  // and the packet, quoted whole
  std::copy(kUdpToVip.begin() + 14, kUdpToVip.end(), expected.end() - (kUdpToVip.size() - 14));
  CHECK(out == expected);

  SECTION("as much as fits in 1280 bytes") {
    Bytes big(14 + 40 + 1460, 0x5a);
    std::copy(kUdpToVip.begin(), kUdpToVip.begin() + kIcmp, big.begin());
    big[14 + 4] = 1460 >> 8;
    big[14 + 5] = 1460 & 0xff;
    big[14 + 6] = 132;  // SCTP, which the parser does not read: only the quote matters
    Bytes error(kIcmpv6ErrorMaxFrame + 4, 0xaa);
    const uint16_t n = write_packet_too_big(error.data(), big.data(), parsed(big), mac(0x02),
                                            kOurIp, 1280);
    REQUIRE(n == kIcmpv6ErrorMaxFrame);
    CHECK(error[n] == 0xaa);
    error.resize(n);
    CHECK((error[14 + 4] == (1240 >> 8) && error[14 + 5] == (1240 & 0xff)));
    CHECK(std::equal(error.begin() + kIcmp + 8, error.end(), big.begin() + 14));
    CHECK(shoal::test::icmpv6_checksum_valid(error));
  }
}

TEST_CASE("ICMPv6 errors: hop limit exceeded in transit", "[control][icmpv6]") {
  Bytes out(kIcmpv6ErrorMaxFrame);
  ParsedPacket p = parsed(kUdpToVip);
  out.resize(write_hop_limit_exceeded(out.data(), kUdpToVip.data(), p, mac(0x02), kOurIp));
  REQUIRE(out.size() == 14 + 40 + 8 + kUdpToVip.size() - 14);
  CHECK(Bytes(out.begin() + kIcmp, out.begin() + kIcmp + 2) == Bytes{3, 0});
  CHECK(Bytes(out.begin() + kIcmp + 4, out.begin() + kIcmp + 8) == Bytes{0, 0, 0, 0});
  CHECK(std::equal(out.begin() + kIcmp + 8, out.end(), kUdpToVip.begin() + 14));
  CHECK(shoal::test::icmpv6_checksum_valid(out));
}

TEST_CASE("ICMPv6 errors: never about an error, a redirect, or (but too big) a group",
          "[control][icmpv6]") {
  auto may = [](const Bytes& f, uint8_t type) {
    return may_answer_with_icmpv6_error(f.data(), parsed(f), type);
  };
  CHECK(may(kUdpToVip, kIcmpv6TimeExceeded));
  CHECK(may(kUdpToVip, kIcmpv6PacketTooBig));
  CHECK(may(kEchoRequest, kIcmpv6TimeExceeded));  // informational messages may get errors

  Bytes out(kIcmpv6ErrorMaxFrame);
  const uint16_t n = write_packet_too_big(out.data(), kUdpToVip.data(), parsed(kUdpToVip),
                                          mac(0x02), kOurIp, 1400);
  out.resize(n);
  CHECK_FALSE(may(out, kIcmpv6PacketTooBig));  // an error about our error
  Bytes again(kIcmpv6ErrorMaxFrame);
  CHECK(write_hop_limit_exceeded(again.data(), out.data(), parsed(out), mac(0x02), kOurIp) ==
        0);

  auto retyped = [](Bytes f, uint8_t type) {
    f[kIcmp] = type;
    shoal::test::set_icmpv6_checksum(f);
    return f;
  };
  CHECK_FALSE(may(retyped(out, 1), kIcmpv6TimeExceeded));    // destination unreachable
  CHECK_FALSE(may(retyped(out, 4), kIcmpv6PacketTooBig));    // parameter problem
  CHECK_FALSE(may(retyped(kEchoRequest, 100), kIcmpv6TimeExceeded));  // experimental error
  CHECK_FALSE(may(retyped(kEchoRequest, 137), kIcmpv6TimeExceeded));  // redirect

  const uint8_t group[16] = {0xff, 0x0e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x01};
  Bytes to_group = kUdpToVip;
  std::copy(group, group + 16, to_group.begin() + kIpDst);
  CHECK_FALSE(may(to_group, kIcmpv6TimeExceeded));
  CHECK(may(to_group, kIcmpv6PacketTooBig));
  Bytes from_group = kUdpToVip;
  std::copy(group, group + 16, from_group.begin() + 14 + 8);
  CHECK_FALSE(may(from_group, kIcmpv6PacketTooBig));
  Bytes from_nowhere = kUdpToVip;
  std::fill(from_nowhere.begin() + 14 + 8, from_nowhere.begin() + 14 + 24, 0);
  CHECK_FALSE(may(from_nowhere, kIcmpv6PacketTooBig));
  for (uint8_t first : {uint8_t{0x33}, uint8_t{0xff}}) {  // an Ethernet group, broadcast
    Bytes l2_group = kUdpToVip;
    std::fill(l2_group.begin(), l2_group.begin() + 6, first);
    CHECK_FALSE(may(l2_group, kIcmpv6TimeExceeded));
    CHECK(may(l2_group, kIcmpv6PacketTooBig));
  }

  Bytes v4 = shoal::test::PacketBuilder().eth(mac(0x11), mac(2))
                 .ipv4(shoal::dp::ipv4(10, 0, 1, 11), shoal::dp::ipv4(10, 0, 0, 1))
                 .udp(5000, 53).build();
  CHECK_FALSE(may(v4, kIcmpv6PacketTooBig));
}

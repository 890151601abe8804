// Neighbour Discovery: the frames the control plane writes, byte for byte, and the checks of
// RFC 4861 §7.1 on the ones it reads, each refusal with its reason.
#include <catch2/catch.hpp>

#include <set>

#include "dataplane/packet.h"
#include "net/neighbour_discovery.h"
#include "packet_builder.h"

using namespace shoal::cp;
using shoal::dp::Ipv6Address;
using shoal::dp::ParsedPacket;
using shoal::dp::parse_packet;
using shoal::test::Bytes;
using shoal::test::mac;

namespace {

// 2001:db8::<last>
Ipv6Address doc_address(uint8_t last) {
  return {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
}

const Ipv6Address kOurIp = doc_address(0x02);   // the port's address, at mac(0x02)
const Ipv6Address kNextHop = doc_address(0x11);  // a real server or gateway, at mac(0x11)
const Ipv6Address kVip = doc_address(0x80);

// Offsets in an untagged frame.
constexpr std::size_t kHopLimit = 14 + 7;
constexpr std::size_t kIpSrc = 14 + 8;
constexpr std::size_t kIpDst = 14 + 24;
constexpr std::size_t kIcmp = 14 + 40;

// The next hop resolving our address: what Linux sends (checked against scapy's).
const Bytes kSolicitationForUs = {
    0x33, 0x33, 0xff, 0x00, 0x00, 0x02,  // to our solicited-node group's MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x11,  // from the next hop
    0x86, 0xdd,
    0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff,  // 32 bytes of ICMPv6, hop limit 255
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11,  // 2001:db8::11
    0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0x00, 0x00, 0x02,  // ff02::1:ff00:2
    0x87, 0x00, 0x1c, 0x07,  // solicitation, code 0, checksum
    0x00, 0x00, 0x00, 0x00,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,  // target 2001:db8::2
    0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x11,  // source link-layer address
};

ParsedPacket parsed(const Bytes& frame) {
  ParsedPacket p;
  REQUIRE(parse_packet(frame.data(), static_cast<uint32_t>(frame.size()), p).ok);
  return p;
}

NdReadResult read_nd(const Bytes& frame) {
  return read_neighbor_message(frame.data(), parsed(frame));
}

void put_address(Bytes& frame, std::size_t at, const Ipv6Address& a) {
  std::copy(a.begin(), a.end(), frame.begin() + static_cast<std::ptrdiff_t>(at));
}

// A solicitation with the given IPv6 source and destination and options, checksum right.
Bytes solicitation(const Ipv6Address& src, const Ipv6Address& dst, const Bytes& options) {
  Bytes f(kIcmp + 24 + options.size());
  std::copy(kSolicitationForUs.begin(), kSolicitationForUs.begin() + kIcmp + 24, f.begin());
  std::copy(options.begin(), options.end(), f.begin() + kIcmp + 24);
  put_address(f, kIpSrc, src);
  put_address(f, kIpDst, dst);
  f[14 + 5] = static_cast<uint8_t>(f.size() - kIcmp);
  shoal::test::set_icmpv6_checksum(f);
  return f;
}

}  // namespace

TEST_CASE("ND: a solicitation resolving a next hop, byte for byte", "[control][nd]") {
  Bytes out(kNdFrameLen + 4, 0xaa);
  write_neighbor_solicitation(out.data(), mac(0x02), kOurIp, kNextHop);
  CHECK(out[kNdFrameLen] == 0xaa);
  out.resize(kNdFrameLen);
  CHECK(out == Bytes{
      0x33, 0x33, 0xff, 0x00, 0x00, 0x11,  // the target's solicited-node MAC
      0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
      0x86, 0xdd,
      0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff,
      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,        // from us
      0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0x00, 0x00, 0x11,  // ff02::1:ff00:11
      0x87, 0x00, 0x1c, 0x07,
      0x00, 0x00, 0x00, 0x00,
      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11,  // target 2001:db8::11
      0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,  // our link-layer address
  });
  CHECK(shoal::test::icmpv6_checksum_valid(out));

  SECTION("it reads back as what was meant") {
    NdReadResult r = read_nd(out);
    REQUIRE(r.ok);
    CHECK(r.message.type == kIcmpv6NeighborSolicitation);
    CHECK(r.message.src == kOurIp);
    CHECK(r.message.dst == solicited_node_address(kNextHop));
    CHECK(r.message.target == kNextHop);
    REQUIRE(r.message.lladdr);
    CHECK(Bytes(r.message.lladdr->addr_bytes, r.message.lladdr->addr_bytes + 6) ==
          Bytes{0x02, 0, 0, 0, 0, 0x02});
  }
}

TEST_CASE("ND: the unreachability probe goes straight to the cached neighbour",
          "[control][nd]") {
  Bytes out(kNdFrameLen);
  write_neighbor_probe(out.data(), mac(0x02), kOurIp, kNextHop, mac(0x11));
  Bytes multicast(kNdFrameLen);
  write_neighbor_solicitation(multicast.data(), mac(0x02), kOurIp, kNextHop);
  CHECK(Bytes(out.begin(), out.begin() + 6) == Bytes{0x02, 0, 0, 0, 0, 0x11});
  CHECK(Bytes(out.begin() + kIpDst, out.begin() + kIpDst + 16) ==
        Bytes(kNextHop.begin(), kNextHop.end()));
  // Only the destinations and the checksum differ from the multicast solicitation.
  CHECK(Bytes(out.begin() + 6, out.begin() + kIpDst) ==
        Bytes(multicast.begin() + 6, multicast.begin() + kIpDst));
  CHECK(Bytes(out.begin() + kIcmp + 4, out.end()) ==
        Bytes(multicast.begin() + kIcmp + 4, multicast.end()));
  CHECK(shoal::test::icmpv6_checksum_valid(out));
  CHECK(read_nd(out).ok);
}

TEST_CASE("ND: a solicitation for our address is answered, byte for byte", "[control][nd]") {
  NdReadResult ns = read_nd(kSolicitationForUs);
  REQUIRE(ns.ok);
  CHECK(ns.message.src == kNextHop);
  CHECK(ns.message.target == kOurIp);
  CHECK((ns.message.lladdr && ns.message.lladdr->addr_bytes[5] == 0x11));

  Bytes out(kNdFrameLen + 4, 0xaa);
  SECTION("our own address: Solicited and Override") {
    write_neighbor_advert(out.data(), ns.message, mac(0x11), mac(0x02), true);
    CHECK(out[kNdFrameLen] == 0xaa);
    out.resize(kNdFrameLen);
    CHECK(out == Bytes{
        0x02, 0x00, 0x00, 0x00, 0x00, 0x11,  // to the solicitation's source link-layer address
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
        0x86, 0xdd,
        0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff,
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,  // from the target
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11,  // to the solicitor
        0x88, 0x00, 0x8a, 0x61,
        0x60, 0x00, 0x00, 0x00,  // Router clear, Solicited, Override
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
        0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,  // target link-layer address: ours
    });
    NdReadResult na = read_nd(out);
    REQUIRE(na.ok);
    CHECK((na.message.type == kIcmpv6NeighborAdvertisement && na.message.solicited &&
           na.message.override_flag && !na.message.router));
  }
  SECTION("a VIP several directors answer for: Override clear") {
    write_neighbor_advert(out.data(), ns.message, mac(0x11), mac(0x02), false);
    CHECK(out[kIcmp + 4] == 0x40);
    out.resize(kNdFrameLen);
    CHECK(shoal::test::icmpv6_checksum_valid(out));
  }
  SECTION("no source link-layer option: back to the Ethernet source") {
    Bytes unicast = solicitation(kNextHop, kOurIp, {});
    NdReadResult probe = read_nd(unicast);
    REQUIRE(probe.ok);
    CHECK_FALSE(probe.message.lladdr);
    write_neighbor_advert(out.data(), probe.message, mac(0x33), mac(0x02), true);
    CHECK(Bytes(out.begin(), out.begin() + 6) == Bytes{0x02, 0, 0, 0, 0, 0x33});
  }
}

TEST_CASE("ND: duplicate address detection on our address is answered to all nodes",
          "[control][nd]") {
  Bytes dad = solicitation(Ipv6Address{}, solicited_node_address(kOurIp), {});
  NdReadResult ns = read_nd(dad);
  REQUIRE(ns.ok);
  Bytes out(kNdFrameLen);
  write_neighbor_advert(out.data(), ns.message, mac(0x11), mac(0x02), true);
  CHECK(Bytes(out.begin(), out.begin() + 6) == Bytes{0x33, 0x33, 0, 0, 0, 0x01});
  CHECK(Bytes(out.begin() + kIpDst, out.begin() + kIpDst + 16) ==
        Bytes(kAllNodes.begin(), kAllNodes.end()));
  CHECK(out[kIcmp + 4] == 0x20);  // Solicited clear (RFC 4861 §7.2.4), Override kept
  CHECK(shoal::test::icmpv6_checksum_valid(out));
  CHECK(read_nd(out).ok);
}

TEST_CASE("ND: the unsolicited advertisement of a VIP, byte for byte", "[control][nd]") {
  Bytes out(kNdFrameLen + 4, 0xaa);
  write_unsolicited_neighbor_advert(out.data(), mac(0x02), kVip);
  CHECK(out[kNdFrameLen] == 0xaa);
  out.resize(kNdFrameLen);
  CHECK(out == Bytes{
      0x33, 0x33, 0x00, 0x00, 0x00, 0x01,  // all nodes
      0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
      0x86, 0xdd,
      0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff,
      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80,  // from the VIP
      0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,        // ff02::1
      0x88, 0x00, 0xf8, 0x2b,
      0x20, 0x00, 0x00, 0x00,  // Override only
      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80,
      0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
  });
  NdReadResult na = read_nd(out);
  REQUIRE(na.ok);
  CHECK((na.message.override_flag && !na.message.solicited && !na.message.router));
  CHECK(na.message.target == kVip);
}

TEST_CASE("ND: every refusal of RFC 4861 §7.1, each with its reason", "[control][nd]") {
  const Bytes sll = {0x01, 0x01, 0x02, 0, 0, 0, 0, 0x11};
  const Bytes nonce = {0x0e, 0x01, 1, 2, 3, 4, 5, 6};
  const Ipv6Address group = solicited_node_address(kOurIp);
  Bytes advert(kNdFrameLen);
  NdReadResult ns = read_nd(kSolicitationForUs);
  REQUIRE(ns.ok);
  write_neighbor_advert(advert.data(), ns.message, mac(0x11), mac(0x02), true);

  struct Case {
    const char* what;
    Bytes frame;
    NdDrop reason;
  };
  std::vector<Case> cases;
  auto edited = [](Bytes f, std::size_t at, uint8_t value) {
    f[at] = value;
    shoal::test::set_icmpv6_checksum(f);
    return f;
  };
  Bytes echo = edited(kSolicitationForUs, kIcmp, 128);
  cases.push_back({"an echo request", echo, NdDrop::not_neighbor_message});
  {
    // The solicitation behind a fragment header: first fragment, more to come.
    Bytes f(kSolicitationForUs.begin(), kSolicitationForUs.begin() + kIcmp);
    const Bytes fragment = {0x3a, 0, 0x00, 0x01, 0, 0, 0, 7};
    f.insert(f.end(), fragment.begin(), fragment.end());
    f.insert(f.end(), kSolicitationForUs.begin() + kIcmp, kSolicitationForUs.end());
    f[14 + 5] = 40;
    f[14 + 6] = 44;
    cases.push_back({"a fragment", f, NdDrop::fragmented});
  }
  cases.push_back({"hop limit 254", edited(kSolicitationForUs, kHopLimit, 254),
                   NdDrop::hop_limit_not_255});
  cases.push_back({"advertisement, hop limit 64", edited(advert, kHopLimit, 64),
                   NdDrop::hop_limit_not_255});
  cases.push_back({"code 1", edited(kSolicitationForUs, kIcmp + 1, 1), NdDrop::bad_code});
  {
    Bytes f(kSolicitationForUs.begin(), kSolicitationForUs.begin() + kIcmp + 20);
    f[14 + 5] = 20;
    shoal::test::set_icmpv6_checksum(f);
    cases.push_back({"20 bytes of ICMPv6", f, NdDrop::too_short});
  }
  {
    Bytes f = kSolicitationForUs;
    f[kIcmp + 3] ^= 0x01;
    cases.push_back({"checksum off by one", f, NdDrop::bad_checksum});
    Bytes a = advert;
    a[kIcmp + 2] ^= 0x80;
    cases.push_back({"advertisement, checksum wrong", a, NdDrop::bad_checksum});
  }
  cases.push_back({"a multicast target", edited(edited(kSolicitationForUs, kIcmp + 8, 0xff),
                                            kIcmp + 9, 0x02),
                   NdDrop::multicast_target});
  cases.push_back({"advertisement for a multicast target", edited(advert, kIcmp + 8, 0xff),
                   NdDrop::multicast_target});
  cases.push_back({"option of length 0", edited(kSolicitationForUs, kIcmp + 25, 0),
                   NdDrop::option_zero_length});
  cases.push_back({"option of 16 bytes in 8", edited(kSolicitationForUs, kIcmp + 25, 2),
                   NdDrop::option_past_end});
  cases.push_back({"a lone byte after the options",
                   solicitation(kNextHop, group, {0x01, 0x01, 0x02, 0, 0, 0, 0, 0x11, 0x00}),
                   NdDrop::option_past_end});
  cases.push_back({"source link-layer address of 16 bytes",
                   solicitation(kNextHop, group, {0x01, 0x02, 0x02, 0, 0, 0, 0, 0x11, 0, 0, 0, 0,
                                                  0, 0, 0, 0}),
                   NdDrop::bad_lladdr_option});
  cases.push_back({"from :: to a unicast address", solicitation(Ipv6Address{}, kOurIp, {}),
                   NdDrop::dad_not_to_solicited_node});
  cases.push_back({"from :: to all nodes", solicitation(Ipv6Address{}, kAllNodes, nonce),
                   NdDrop::dad_not_to_solicited_node});
  cases.push_back({"from :: with a source link-layer address",
                   solicitation(Ipv6Address{}, group, sll), NdDrop::dad_with_source_lladdr});
  {
    Bytes a = advert;
    put_address(a, kIpDst, kAllNodes);
    shoal::test::set_icmpv6_checksum(a);
    cases.push_back({"solicited advertisement to all nodes", a,
                     NdDrop::solicited_to_multicast});
  }

  std::set<NdDrop> seen;
  for (const Case& c : cases) {
    INFO(c.what);
    NdReadResult r = read_nd(c.frame);
    CHECK_FALSE(r.ok);
    CHECK(name(r.reason) == name(c.reason));
    seen.insert(c.reason);
  }
  CHECK(seen.size() == kNdDropCount);  // every reason has a case
  for (std::size_t i = 0; i < kNdDropCount; ++i) {
    CHECK_FALSE(name(static_cast<NdDrop>(i)).empty());
    CHECK_FALSE(describe(static_cast<NdDrop>(i)).empty());
  }

  SECTION("what passes") {
    CHECK(read_nd(solicitation(kNextHop, group, sll)).ok);
    CHECK(read_nd(solicitation(Ipv6Address{}, group, nonce)).ok);  // DAD with a nonce (RFC 7527)
    NdReadResult r = read_nd(solicitation(kNextHop, group, {0x0e, 0x01, 1, 2, 3, 4, 5, 6, 0x01,
                                                         0x01, 0x02, 0, 0, 0, 0, 0x42}));
    REQUIRE(r.ok);  // an unknown option is skipped, the link-layer address still found
    CHECK((r.message.lladdr && r.message.lladdr->addr_bytes[5] == 0x42));
    Bytes unsolicited(kNdFrameLen);
    write_unsolicited_neighbor_advert(unsolicited.data(), mac(0x02), kVip);
    CHECK(read_nd(unsolicited).ok);  // to all nodes, Solicited clear
  }
}

TEST_CASE("ND: addresses and the Ethernet groups they map to", "[control][nd]") {
  const Ipv6Address a = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78};
  const Ipv6Address group = solicited_node_address(a);
  CHECK(group == Ipv6Address{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0x34, 0x56, 0x78});
  CHECK(is_solicited_node(group));
  CHECK_FALSE(is_solicited_node(kAllNodes));
  CHECK_FALSE(is_solicited_node(a));

  auto bytes = [](const rte_ether_addr& m) { return Bytes(m.addr_bytes, m.addr_bytes + 6); };
  CHECK(bytes(solicited_node_mac(a)) == Bytes{0x33, 0x33, 0xff, 0x34, 0x56, 0x78});
  CHECK(bytes(multicast_mac(kAllNodes)) == Bytes{0x33, 0x33, 0, 0, 0, 0x01});
  const Ipv6Address all_dhcp = {0xff, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0x03};
  CHECK(bytes(multicast_mac(all_dhcp)) == Bytes{0x33, 0x33, 0, 0x01, 0, 0x03});

  // Modified EUI-64: the universal/local bit flips, ff:fe goes in the middle.
  CHECK(link_local_address(rte_ether_addr{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}}) ==
        Ipv6Address{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34,
                    0x56});
  CHECK(link_local_address(mac(0x02)) ==
        Ipv6Address{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00,
                    0x02});

  CHECK(is_unspecified(Ipv6Address{}));
  CHECK_FALSE(is_unspecified(a));
  CHECK(is_multicast(kAllNodes));
  CHECK_FALSE(is_multicast(a));
}

TEST_CASE("ND: router advertisements are recognised, to be counted and ignored",
          "[control][nd]") {
  const Bytes ra = {
      0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x86, 0xdd,
      0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x3a, 0xff,
      0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe,  // fe80::fe
      0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
      0x86, 0x00, 0x34, 0x22,
      0x40, 0x08, 0x07, 0x08,  // current hop limit 64, flags, router lifetime 1800 s
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };
  CHECK(shoal::test::icmpv6_checksum_valid(ra));
  auto advert = read_router_advert(ra.data(), parsed(ra));
  REQUIRE(advert);
  CHECK(advert->router ==
        Ipv6Address{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe});
  CHECK(advert->lifetime_s == 1800);
  CHECK(read_nd(ra).reason == NdDrop::not_neighbor_message);

  CHECK_FALSE(read_router_advert(kSolicitationForUs.data(), parsed(kSolicitationForUs)));
  Bytes cut(ra.begin(), ra.end() - 4);
  cut[14 + 5] = 12;
  CHECK_FALSE(read_router_advert(cut.data(), parsed(cut)));
}

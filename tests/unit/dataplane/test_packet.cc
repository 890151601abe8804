// Parser fixtures: every malformed-input class gets its exact verdict and reason, and the
// well-formed frames their parsed fields.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstring>
#include <optional>

#include "dataplane/packet.h"
#include "packet_builder.h"

using namespace shoal::dp;
using shoal::test::Bytes;
using shoal::test::ip6;
using shoal::test::PacketBuilder;

namespace {

constexpr uint32_t kClient = ipv4(10, 0, 0, 1);
constexpr uint32_t kVip = ipv4(10, 0, 0, 100);

PacketBuilder tcp_syn() { return PacketBuilder().eth().ipv4(kClient, kVip).tcp(40000, 80); }
PacketBuilder udp_dgram() {
  return PacketBuilder().eth().ipv4(kClient, kVip).udp(40000, 53).payload(12);
}
PacketBuilder tcp6() { return PacketBuilder().eth().ipv6().tcp(40000, 80); }
PacketBuilder udp6() { return PacketBuilder().eth().ipv6().udp(40000, 53).payload(12); }

struct Fixture {
  const char* description;
  Bytes frame;
  bool ok;
  DropReason reason;  // when !ok
};

Bytes first_bytes(const Bytes& b, std::size_t n) { return Bytes(b.begin(), b.begin() + n); }

Fixture pass(const char* d, Bytes f) { return {d, std::move(f), true, DropReason::frame_too_short}; }
Fixture fail(const char* d, Bytes f, DropReason r) { return {d, std::move(f), false, r}; }

std::vector<Fixture> fixtures() {
  Bytes syn = tcp_syn().build();  // 14 + 20 + 20 = 54 bytes
  return {
      pass("TCP SYN", syn),
      pass("TCP SYN with 802.1Q tag", tcp_syn().vlan(42).build()),
      pass("UDP datagram", udp_dgram().build()),
      pass("ICMP echo request", PacketBuilder().eth().ipv4(kClient, kVip).icmp(8).build()),
      pass("ARP request", PacketBuilder().eth().arp().build()),
      pass("trailing Ethernet padding", tcp_syn().pad(6).build()),
      pass("IPv4 options (IHL 15)", tcp_syn().ip_options(10).build()),
      pass("first IPv4 fragment", udp_dgram().payload(100).fragment(true, 0).build()),
      pass("non-first IPv4 fragment (no L4 header)",
           PacketBuilder().eth().ipv4(kClient, kVip).ip_proto(17).payload(3).fragment(false, 10).build()),
      pass("TTL 1 is still a valid packet", tcp_syn().ttl(1).build()),
      pass("TCP with 40 bytes of options", tcp_syn().data_offset(15).payload(40).build()),
      pass("ICMP error quoting IP header + 8 bytes",
           PacketBuilder().eth().ipv4(kVip, kClient).icmp(3, 4)
               .payload(tcp_syn().build_l3()).build()),
      pass("IPv6 TCP", PacketBuilder().eth().ipv6().tcp(1, 2).build()),
      pass("IPv6 hop-by-hop then destination options then UDP",
           PacketBuilder().eth().ipv6().ipv6_ext(0).ipv6_ext(60, 16).udp(1, 2).build()),
      pass("IPv6 first fragment", PacketBuilder().eth().ipv6().ipv6_ext(44).udp(1, 2).build()),
      pass("IPv6 non-first fragment",
           PacketBuilder().eth().ipv6().ipv6_ext(44, 8, 100).ip_proto(17).payload(16).build()),
      pass("IPv6 authentication header (4-byte units)",
           PacketBuilder().eth().ipv6().ipv6_ext(51, 24).tcp(1, 2).build()),
      pass("ICMPv6 echo", PacketBuilder().eth().ipv6().ip_proto(58).payload(8).build()),
      pass("IPv6 UDP", udp6().build()),
      pass("IPv6 TCP with 802.1Q tag and Ethernet padding", tcp6().vlan(9).pad(8).build()),
      pass("IPv6 hop limit 1 (the forwarding mode decides)", tcp6().ttl(1).build()),
      pass("IPv6 first fragment (M set)",
           PacketBuilder().eth().ipv6().ipv6_ext(44, 8, 0, true).udp(1, 2).build()),
      pass("IPv6 atomic fragment (offset 0, M clear): a whole datagram",
           PacketBuilder().eth().ipv6().ipv6_ext(44).udp(1, 2).build()),
      pass("IPv6 routing header with no segments left",
           PacketBuilder().eth().ipv6().ipv6_routing(0, 24).tcp(1, 2).build()),
      pass("IPv6 chain of 8 extension headers (as many as are walked)",
           PacketBuilder().eth().ipv6().ipv6_ext(0).ipv6_ext(60).ipv6_ext(43).ipv6_ext(51, 12)
               .ipv6_ext(44).ipv6_ext(60).ipv6_ext(51).ipv6_ext(60).udp(1, 2).build()),
      pass("IPv6 upper layer without ports (SCTP)",
           PacketBuilder().eth().ipv6().ip_proto(132).payload(12).build()),
      pass("ICMPv6 echo request", PacketBuilder().eth().ipv6().icmpv6(128).payload(16).build()),
      pass("ICMPv6 destination unreachable quoting an IPv6 header + 8 bytes",
           PacketBuilder().eth().ipv6().icmpv6(1, 4)
               .payload(first_bytes(tcp6().build_l3(), 48)).build()),
      pass("ICMPv6 packet too big quoting a whole IPv6 datagram",
           PacketBuilder().eth().ipv6().icmpv6(2).payload(udp6().build_l3()).build()),

      fail("empty frame", {}, DropReason::frame_too_short),
      fail("13-byte frame", Bytes(syn.begin(), syn.begin() + 13), DropReason::frame_too_short),
      fail("VLAN tag cut short", tcp_syn().vlan(1).truncate(16).build(), DropReason::vlan_truncated),
      fail("unknown ethertype (LLDP)", tcp_syn().ethertype(0x88cc).build(),
           DropReason::unsupported_ethertype),
      fail("ARP cut short", PacketBuilder().eth().arp().truncate(14 + 27).build(),
           DropReason::arp_malformed),
      fail("IPv4 header cut short", tcp_syn().truncate(14 + 19).build(), DropReason::ipv4_truncated),
      fail("IP version 5 in an IPv4 frame", tcp_syn().version(5).build(),
           DropReason::ipv4_bad_version),
      fail("IHL 4", tcp_syn().ihl(4).build(), DropReason::ipv4_bad_ihl),
      fail("IHL 0", tcp_syn().ihl(0).build(), DropReason::ipv4_bad_ihl),
      fail("IHL 15 past the end of a short frame", tcp_syn().ihl(15).truncate(14 + 40).build(),
           DropReason::ipv4_ihl_past_end),
      fail("total length smaller than the header", tcp_syn().total_length(19).build(),
           DropReason::ipv4_bad_total_length),
      fail("total length larger than the frame", tcp_syn().total_length(41).build(),
           DropReason::ipv4_length_exceeds_frame),
      fail("frame cut inside the TCP header", tcp_syn().truncate(14 + 20 + 19).total_length(39).build(),
           DropReason::tcp_truncated),
      fail("TCP data offset 4", tcp_syn().data_offset(4).build(), DropReason::tcp_bad_data_offset),
      fail("TCP data offset past the datagram", tcp_syn().data_offset(6).build(),
           DropReason::tcp_data_offset_past_end),
      fail("UDP header cut short", udp_dgram().payload(0).truncate(14 + 20 + 7).total_length(27).build(),
           DropReason::udp_truncated),
      fail("UDP length larger than the datagram", udp_dgram().udp_length(100).build(),
           DropReason::udp_bad_length),
      fail("UDP length below 8", udp_dgram().udp_length(7).build(), DropReason::udp_bad_length),
      fail("ICMP shorter than 8 bytes",
           PacketBuilder().eth().ipv4(kClient, kVip).ip_proto(1).payload(4).build(),
           DropReason::icmp_truncated),
      fail("ICMP error quoting only 20 bytes",
           PacketBuilder().eth().ipv4(kVip, kClient).icmp(3, 4)
               .payload(first_bytes(tcp_syn().build_l3(), 20))
               .build(),
           DropReason::icmp_error_truncated),
      fail("ICMP time-exceeded quoting a header with IHL 3",
           PacketBuilder().eth().ipv4(kVip, kClient).icmp(11)
               .payload(tcp_syn().ihl(3).build_l3()).build(),
           DropReason::icmp_error_truncated),
      fail("TTL 0", tcp_syn().ttl(0).build(), DropReason::ttl_zero),
      fail("IPv6 header cut short", PacketBuilder().eth().ipv6().tcp(1, 2).truncate(14 + 39).build(),
           DropReason::ipv6_truncated),
      fail("IPv6 version 4 in an IPv6 frame", PacketBuilder().eth().ipv6().version(4).tcp(1, 2).build(),
           DropReason::ipv6_bad_version),
      fail("IPv6 payload length larger than the frame",
           PacketBuilder().eth().ipv6().tcp(1, 2).total_length(21).build(),
           DropReason::ipv6_length_exceeds_frame),
      fail("IPv6 jumbogram (payload length 0)",
           PacketBuilder().eth().ipv6().tcp(1, 2).total_length(0).build(), DropReason::ipv6_jumbogram),
      fail("IPv6 hop-by-hop not first",
           PacketBuilder().eth().ipv6().ipv6_ext(60).ipv6_ext(0).udp(1, 2).build(),
           DropReason::ipv6_hbh_not_first),
      fail("IPv6 chain of 9 extension headers",
           PacketBuilder().eth().ipv6().ipv6_ext(60).ipv6_ext(60).ipv6_ext(60).ipv6_ext(60)
               .ipv6_ext(60).ipv6_ext(60).ipv6_ext(60).ipv6_ext(60).ipv6_ext(60).udp(1, 2).build(),
           DropReason::ipv6_ext_chain_too_long),
      fail("IPv6 extension header longer than the packet",
           PacketBuilder().eth().ipv6().ipv6_ext(60, 64).ip_proto(17).total_length(16).build(),
           DropReason::ipv6_ext_truncated),
      fail("IPv6 No Next Header", PacketBuilder().eth().ipv6().ip_proto(59).payload(8).build(),
           DropReason::ipv6_no_next_header),
      fail("IPv6 hop limit 0", PacketBuilder().eth().ipv6().ttl(0).tcp(1, 2).build(),
           DropReason::ttl_zero),
      fail("IPv6 TCP data offset past the end",
           PacketBuilder().eth().ipv6().tcp(1, 2).data_offset(9).build(),
           DropReason::tcp_data_offset_past_end),
      fail("ICMPv6 error quoting less than 48 bytes",
           PacketBuilder().eth().ipv6().ip_proto(58).payload(Bytes{1, 0, 0, 0, 0, 0, 0, 0, 0x60}).build(),
           DropReason::icmp_error_truncated),
      fail("ICMPv6 time exceeded quoting 47 bytes",
           PacketBuilder().eth().ipv6().icmpv6(3)
               .payload(first_bytes(tcp6().build_l3(), 47)).build(),
           DropReason::icmp_error_truncated),
      fail("ICMPv6 error quoting an IPv4 header",
           PacketBuilder().eth().ipv6().icmpv6(1).payload(tcp_syn().payload(20).build_l3()).build(),
           DropReason::icmp_error_truncated),
      fail("ICMPv6 shorter than 8 bytes",
           PacketBuilder().eth().ipv6().ip_proto(58).payload(7).build(), DropReason::icmp_truncated),
      fail("IPv6 hop-by-hop after a fragment header",
           PacketBuilder().eth().ipv6().ipv6_ext(44).ipv6_ext(0).udp(1, 2).build(),
           DropReason::ipv6_hbh_not_first),
      fail("IPv6 chain of 9 mixed extension headers (one more than walked)",
           PacketBuilder().eth().ipv6().ipv6_ext(0).ipv6_ext(60).ipv6_ext(43).ipv6_ext(51, 12)
               .ipv6_ext(44).ipv6_ext(60).ipv6_ext(51).ipv6_ext(60).ipv6_ext(43).udp(1, 2).build(),
           DropReason::ipv6_ext_chain_too_long),
      fail("IPv6 extension header cut inside its first 8 bytes",
           PacketBuilder().eth().ipv6().ipv6_ext(60).ip_proto(17).total_length(7).build(),
           DropReason::ipv6_ext_truncated),
      fail("IPv6 authentication header longer than the packet",
           PacketBuilder().eth().ipv6().ipv6_ext(51, 24).ip_proto(6).total_length(20).build(),
           DropReason::ipv6_ext_truncated),
      fail("IPv6 ESP", PacketBuilder().eth().ipv6().ip_proto(50).payload(32).build(),
           DropReason::ipv6_unknown_next_header),
      fail("IPv6 ESP behind destination options",
           PacketBuilder().eth().ipv6().ipv6_ext(60).ip_proto(50).payload(32).build(),
           DropReason::ipv6_unknown_next_header),
      fail("IPv6 Mobility header", PacketBuilder().eth().ipv6().ip_proto(135).payload(16).build(),
           DropReason::ipv6_unknown_next_header),
      fail("IPv6 HIP", PacketBuilder().eth().ipv6().ip_proto(139).payload(16).build(),
           DropReason::ipv6_unknown_next_header),
      fail("IPv6 Shim6", PacketBuilder().eth().ipv6().ip_proto(140).payload(16).build(),
           DropReason::ipv6_unknown_next_header),
      fail("IPv6 experimental header 253",
           PacketBuilder().eth().ipv6().ip_proto(253).payload(16).build(),
           DropReason::ipv6_unknown_next_header),
      fail("IPv6 experimental header 254",
           PacketBuilder().eth().ipv6().ip_proto(254).payload(16).build(),
           DropReason::ipv6_unknown_next_header),
      fail("IPv6 routing header with segments left",
           PacketBuilder().eth().ipv6().ipv6_routing(1, 24).tcp(1, 2).build(),
           DropReason::ipv6_routing_segments_left),
      fail("IPv6 No Next Header behind hop-by-hop",
           PacketBuilder().eth().ipv6().ipv6_ext(0).ip_proto(59).payload(8).build(),
           DropReason::ipv6_no_next_header),
      fail("IPv6 TCP header cut short", tcp6().truncate(14 + 40 + 19).total_length(19).build(),
           DropReason::tcp_truncated),
      fail("IPv6 TCP data offset 4", tcp6().data_offset(4).build(),
           DropReason::tcp_bad_data_offset),
      fail("IPv6 UDP header cut short",
           udp6().payload(0).truncate(14 + 40 + 7).total_length(7).build(),
           DropReason::udp_truncated),
      fail("IPv6 UDP length larger than the datagram", udp6().udp_length(21).build(),
           DropReason::udp_bad_length),
      fail("IPv6 UDP length below 8", udp6().udp_length(7).build(), DropReason::udp_bad_length),
      fail("IPv6 UDP checksum 0", udp6().udp_zero_checksum().build(),
           DropReason::ipv6_udp_zero_checksum),
      fail("IPv6 first fragment of UDP with checksum 0",
           PacketBuilder().eth().ipv6().ipv6_ext(44, 8, 0, true).udp(1, 2).payload(40)
               .udp_zero_checksum().build(),
           DropReason::ipv6_udp_zero_checksum),
  };
}

}  // namespace

TEST_CASE("parser: every fixture gets its exact verdict", "[packet]") {
  for (const Fixture& f : fixtures()) {
    INFO(f.description);
    ParsedPacket p;
    ParseResult r = parse_packet(f.frame.data(), static_cast<uint32_t>(f.frame.size()), p);
    CHECK(r.ok == f.ok);
    if (!f.ok && !r.ok) CHECK(name(r.reason) == name(f.reason));
  }
}

TEST_CASE("parser: fields of a TCP SYN", "[packet]") {
  Bytes f = tcp_syn().vlan(0x0123).ttl(17).build();
  ParsedPacket p;
  REQUIRE(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p).ok);
  CHECK(p.l3 == L3::ipv4);
  CHECK(p.has_vlan);
  CHECK(p.vlan_tci == 0x0123);
  CHECK(p.l3_offset == 18);
  CHECK(p.l4_offset == 38);
  CHECK(p.l3_end == 58);
  CHECK(p.src_ip == kClient);
  CHECK(p.dst_ip == kVip);
  CHECK(p.src_port == be16(40000));
  CHECK(p.dst_port == be16(80));
  CHECK(p.l4_proto == kIpProtoTcp);
  CHECK(p.tcp_flags == kTcpSynFlag);
  CHECK(p.ttl == 17);
  CHECK(p.has_l4);
  CHECK_FALSE(p.is_fragment);
  CHECK_FALSE(p.has_ip_options);
}

TEST_CASE("parser: fields of an IPv6 TCP segment", "[packet]") {
  const Ipv6Address client = ip6("2001:db8::1");
  const Ipv6Address vip = ip6("2001:db8:0:100::80");
  Bytes f = PacketBuilder().eth().vlan(0x0123).ipv6(client, vip).ttl(17)
                .ipv6_ext(0).tcp(40000, 443, 0x18).payload(5).pad(3).build();
  ParsedPacket p;
  REQUIRE(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p).ok);
  CHECK(p.l3 == L3::ipv6);
  CHECK(p.has_vlan);
  CHECK(p.l3_offset == 18);
  CHECK(p.l4_offset == 18 + 40 + 8);
  CHECK(p.l3_end == 18 + 40 + 8 + 20 + 5);
  CHECK(ipv6_src(f.data(), p) == client);
  CHECK(ipv6_dst(f.data(), p) == vip);
  CHECK(p.src_ip == 0);  // the IPv4 fields stay clear
  CHECK(p.dst_ip == 0);
  CHECK(p.src_port == be16(40000));
  CHECK(p.dst_port == be16(443));
  CHECK(p.l4_proto == kIpProtoTcp);
  CHECK(p.tcp_flags == (kTcpAckFlag | 0x08));
  CHECK(p.ttl == 17);
  CHECK(p.has_l4);
  CHECK_FALSE(p.is_fragment);
}

TEST_CASE("parser: hop limit 1 expires only on a routed hop", "[packet]") {
  ParsedPacket p;
  Bytes one = tcp6().ttl(1).build();
  REQUIRE(parse_packet(one.data(), static_cast<uint32_t>(one.size()), p).ok);
  CHECK(routed_hop_expires(p));
  Bytes two = tcp6().ttl(2).build();
  REQUIRE(parse_packet(two.data(), static_cast<uint32_t>(two.size()), p).ok);
  CHECK_FALSE(routed_hop_expires(p));
  Bytes v4 = tcp_syn().ttl(1).build();
  REQUIRE(parse_packet(v4.data(), static_cast<uint32_t>(v4.size()), p).ok);
  CHECK(routed_hop_expires(p));
}

TEST_CASE("parser: IPv6 fragment headers", "[packet]") {
  ParsedPacket p;
  auto parse = [&p](const Bytes& f) {
    return parse_packet(f.data(), static_cast<uint32_t>(f.size()), p).ok;
  };
  SECTION("first fragment: ports parsed, UDP length not checked against the fragment") {
    REQUIRE(parse(PacketBuilder().eth().ipv6().ipv6_ext(44, 8, 0, true).udp(1, 2).payload(40)
                      .udp_length(1000).build()));
    CHECK(p.is_fragment);
    CHECK(p.is_first_fragment);
    CHECK(p.has_l4);
    CHECK(p.dst_port == be16(2));
  }
  SECTION("middle fragment: no L4 header") {
    REQUIRE(parse(
        PacketBuilder().eth().ipv6().ipv6_ext(44, 8, 7, true).ip_proto(17).payload(3).build()));
    CHECK(p.is_fragment);
    CHECK_FALSE(p.is_first_fragment);
    CHECK_FALSE(p.has_l4);
    CHECK(p.l4_proto == kIpProtoUdp);
  }
  SECTION("atomic fragment: a whole datagram (RFC 6946)") {
    REQUIRE(parse(PacketBuilder().eth().ipv6().ipv6_ext(44).udp(1, 2).payload(4).build()));
    CHECK_FALSE(p.is_fragment);
    CHECK(p.has_l4);
    CHECK(p.l4_offset == 14 + 40 + 8);
  }
}

TEST_CASE("parser: walk_ipv6_chain stays inside the bytes it is given", "[packet]") {
  // The packet an ICMPv6 error quotes is walked with the quote's end as its limit.
  Bytes l3 = PacketBuilder().ipv6().ipv6_ext(0).ipv6_ext(60, 16).udp(7, 9).build_l3();
  Ipv6Chain c = walk_ipv6_chain(l3.data(), 0, static_cast<uint32_t>(l3.size()));
  REQUIRE(c.result.ok);
  CHECK(c.l4_proto == kIpProtoUdp);
  CHECK(c.l4_offset == 40 + 8 + 16);
  c = walk_ipv6_chain(l3.data(), 0, 40 + 8 + 15);
  CHECK_FALSE(c.result.ok);
  CHECK(name(c.result.reason) == name(DropReason::ipv6_ext_truncated));
}

TEST_CASE("parser: padding, options and fragments are recognised", "[packet]") {
  ParsedPacket p;
  SECTION("padding lies past l3_end") {
    Bytes f = tcp_syn().pad(10).build();
    REQUIRE(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p).ok);
    CHECK(p.l3_end == f.size() - 10);
  }
  SECTION("options move the L4 header") {
    Bytes f = tcp_syn().ip_options(3).build();
    REQUIRE(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p).ok);
    CHECK(p.has_ip_options);
    CHECK(p.l4_offset == 14 + 32);
    CHECK(p.dst_port == be16(80));
  }
  SECTION("first fragment has ports") {
    Bytes f = udp_dgram().fragment(true, 0).build();
    REQUIRE(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p).ok);
    CHECK(p.is_fragment);
    CHECK(p.is_first_fragment);
    CHECK(p.has_l4);
    CHECK(p.dst_port == be16(53));
  }
  SECTION("non-first fragment has none") {
    Bytes f = PacketBuilder().eth().ipv4(kClient, kVip).ip_proto(6).payload(24).fragment(true, 3).build();
    REQUIRE(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p).ok);
    CHECK(p.is_fragment);
    CHECK_FALSE(p.is_first_fragment);
    CHECK_FALSE(p.has_l4);
  }
  SECTION("IPv6 fragment header") {
    Bytes f = PacketBuilder().eth().ipv6().ipv6_ext(0).ipv6_ext(44, 8, 5).ip_proto(6).payload(8).build();
    REQUIRE(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p).ok);
    CHECK(p.is_fragment);
    CHECK_FALSE(p.is_first_fragment);
    CHECK(p.l4_proto == kIpProtoTcp);
    CHECK(p.l4_offset == 14 + 40 + 8 + 8);
  }
}

TEST_CASE("parser: every prefix of a valid frame is handled without reading past it", "[packet]") {
  // Under ASan this proves that no truncation makes the parser read beyond the buffer.
  std::vector<Bytes> frames = {
      tcp_syn().vlan(7).ip_options(2).build(),
      PacketBuilder().eth().ipv4(kVip, kClient).icmp(3, 4).payload(tcp_syn().build_l3()).build(),
      PacketBuilder().eth().ipv6().ipv6_ext(0).ipv6_ext(43, 16).ipv6_ext(44).udp(1, 2).build(),
      PacketBuilder().eth().arp().build(),
  };
  for (const Bytes& whole : frames) {
    for (std::size_t len = 0; len < whole.size(); ++len) {
      Bytes cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(len));
      cut.shrink_to_fit();
      ParsedPacket p;
      INFO("length " << len << " of " << whole.size());
      CHECK_FALSE(parse_packet(cut.data(), static_cast<uint32_t>(cut.size()), p).ok);
    }
  }
}

TEST_CASE("parser: every truncation of a valid IPv6 frame gets its reason", "[packet]") {
  // Each frame is cut at every length twice: as a frame cut short (the payload length still
  // claims the whole datagram), and as a shorter datagram (the payload length says so), whose
  // reason depends on the header the cut falls in.
  enum class L4 { tcp, udp, echo, error };
  struct Case {
    const char* what;
    Bytes frame;
    uint32_t l4;  // where the L4 header starts
    L4 kind;
  };
  const std::vector<Case> cases = {
      {"TCP with 20 bytes of options", tcp6().data_offset(10).payload(26).build(), 54, L4::tcp},
      {"UDP behind hop-by-hop and destination options",
       PacketBuilder().eth().ipv6().ipv6_ext(0).ipv6_ext(60, 16).udp(5, 53).payload(9).build(),
       54 + 24, L4::udp},
      {"ICMPv6 echo request", PacketBuilder().eth().ipv6().icmpv6(128).payload(12).build(), 54,
       L4::echo},
      {"ICMPv6 destination unreachable quoting a TCP segment",
       PacketBuilder().eth().ipv6().icmpv6(1, 4).payload(tcp6().build_l3()).build(), 54,
       L4::error},
  };
  auto cut_datagram = [](uint32_t len, const Case& c) -> std::optional<DropReason> {
    if (len == 54) return DropReason::ipv6_jumbogram;  // payload length 0
    if (len < c.l4) return DropReason::ipv6_ext_truncated;
    uint32_t l4 = len - c.l4;
    switch (c.kind) {
      case L4::tcp:
        if (l4 < 20) return DropReason::tcp_truncated;
        if (l4 < 40) return DropReason::tcp_data_offset_past_end;
        return std::nullopt;  // TCP has no length of its own
      case L4::udp:
        return l4 < 8 ? DropReason::udp_truncated : DropReason::udp_bad_length;
      case L4::echo:
        if (l4 < 8) return DropReason::icmp_truncated;
        return std::nullopt;
      case L4::error:
        if (l4 < 8) return DropReason::icmp_truncated;
        if (l4 < 8 + 48) return DropReason::icmp_error_truncated;
        return std::nullopt;
    }
    return std::nullopt;
  };
  for (const Case& c : cases) {
    INFO(c.what);
    ParsedPacket p;
    REQUIRE(parse_packet(c.frame.data(), static_cast<uint32_t>(c.frame.size()), p).ok);
    for (uint32_t len = 0; len < c.frame.size(); ++len) {
      INFO("length " << len << " of " << c.frame.size());
      Bytes cut(c.frame.begin(), c.frame.begin() + len);
      cut.shrink_to_fit();  // under ASan, a read past the cut is caught
      ParseResult r = parse_packet(cut.data(), len, p);
      DropReason want = len < 14   ? DropReason::frame_too_short
                        : len < 54 ? DropReason::ipv6_truncated
                                   : DropReason::ipv6_length_exceeds_frame;
      CHECK_FALSE(r.ok);
      CHECK(name(r.reason) == name(want));
      if (len < 54) continue;
      cut[18] = static_cast<uint8_t>((len - 54) >> 8);
      cut[19] = static_cast<uint8_t>(len - 54);
      r = parse_packet(cut.data(), len, p);
      std::optional<DropReason> reason = cut_datagram(len, c);
      CHECK(r.ok == !reason.has_value());
      if (reason && !r.ok) CHECK(name(r.reason) == name(*reason));
    }
  }
}

TEST_CASE("verdict reasons have names and descriptions", "[packet]") {
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    CHECK_FALSE(name(static_cast<DropReason>(i)).empty());
    CHECK_FALSE(describe(static_cast<DropReason>(i)).empty());
  }
  for (std::size_t i = 0; i < kControlReasonCount; ++i)
    CHECK_FALSE(name(static_cast<ControlReason>(i)).empty());
  CHECK(name(DropReason::ttl_zero) == "ttl_zero");
}

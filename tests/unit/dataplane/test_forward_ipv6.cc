// IPv6 forwarding transforms: NAT66 with incremental checksums, hop limit, ICMPv6 error quotes,
// TUN encapsulation in IPv6 (IPv6 and IPv4 inside) and its MTU check.
//
// The oracles are independent of the code under test: every fixed case compares the output
// frame with bytes written out literally below (produced with a separate throwaway Python
// script, header by header, every checksum summed from scratch: nothing here is computed by
// forward_ipv6.cc or checksum.h); the randomised tests recompute every checksum, pseudo-header
// included, and compare each rewritten frame with the same frame built from scratch by
// PacketBuilder.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/checksum.h"
#include "dataplane/forward_ipv6.h"
#include "dataplane/packet.h"
#include "packet_builder.h"
#include "random.h"

namespace {

using shoal::dp::be16;
using shoal::dp::csum_replace128;
using shoal::dp::decrement_hop_limit;
using shoal::dp::encap_ipv6;
using shoal::dp::ipv4;
using shoal::dp::Ipv6Address;
using shoal::dp::kIpProtoTcp;
using shoal::dp::kIpProtoUdp;
using shoal::dp::kIpv6TunnelOverhead;
using shoal::dp::kKeepPort;
using shoal::dp::parse_packet;
using shoal::dp::ParsedPacket;
using shoal::dp::QuotedFlow6;
using shoal::dp::read_icmpv6_quote;
using shoal::dp::rewrite_dnat6;
using shoal::dp::rewrite_icmpv6_quote_destination;
using shoal::dp::rewrite_icmpv6_quote_source;
using shoal::dp::rewrite_snat6;
using shoal::dp::tun_fit_ipv6;
using shoal::dp::TunFit;
using shoal::dp::tunnel_flow_label;
using shoal::test::Bytes;
using shoal::test::hex;
using shoal::test::ip6;
using shoal::test::ipv6_checksums_valid;
using shoal::test::PacketBuilder;
using shoal::test::Random;

// ---------------------------------------------------------------------------------------
// Helpers

ParsedPacket parse(const Bytes& frame) {
  ParsedPacket p;
  auto r = parse_packet(frame.data(), static_cast<uint32_t>(frame.size()), p);
  REQUIRE(r.ok);
  return p;
}

uint16_t read_be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

const Ipv6Address kClient = ip6("2001:db8::1");
const Ipv6Address kVip = ip6("2001:db8:0:100::80");
const Ipv6Address kBackend = ip6("2001:db8:0:200::11");
const Ipv6Address kBackend2 = ip6("2001:db8:0:200::12");
const Ipv6Address kDirectorLocal = ip6("2001:db8:ffff::1");
const Ipv6Address kRouter = ip6("2001:db8:0:300::1");
constexpr uint32_t kClient4 = ipv4(10, 0, 0, 1);
constexpr uint32_t kVip4 = ipv4(10, 0, 0, 100);

// ---------------------------------------------------------------------------------------
// Expected frames, written out byte by byte (see the file comment). Unless a name says
// otherwise: src MAC 02:00:00:00:00:01, dst MAC 02:00:00:00:00:02, hop limit 64, TCP seq 1000,
// window 65535, ICMPv6 bytes 4-7 0x42420001.

const Bytes kNat6FwdIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x86, 0xdd,                                      // ethertype
    0x60, 0x00, 0x00, 0x00, 0x00, 0x1a, 0x06, 0x40,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x01, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
    0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x07, 0xd0, 0x50, 0x18, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0xa7, 0x88, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab,              // payload
};

const Bytes kNat6FwdOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x86, 0xdd,                                      // ethertype
    0x60, 0x00, 0x00, 0x00, 0x00, 0x1a, 0x06, 0x3f,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x02, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11,
    0x9c, 0x40, 0x1f, 0x90, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x07, 0xd0, 0x50, 0x18, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0x87, 0xb7, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab,              // payload
};

const Bytes kNat6RevIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x86, 0xdd,                                      // ethertype
    0x60, 0x00, 0x00, 0x00, 0x00, 0x14, 0x06, 0x40,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x02, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x1f, 0x90, 0x9c, 0x40, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x07, 0xd0, 0x50, 0x12, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0x8a, 0xc6, 0x00, 0x00,                          // TCP: checksum, urgent
};

const Bytes kNat6RevOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x86, 0xdd,                                      // ethertype
    0x60, 0x00, 0x00, 0x00, 0x00, 0x14, 0x06, 0x3f,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x01, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x07, 0xd0, 0x50, 0x12, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0xaa, 0x97, 0x00, 0x00,                          // TCP: checksum, urgent
};

const Bytes kNat6UdpIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x86, 0xdd,                                      // ethertype
    0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x40,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x01, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
    0x14, 0xe9, 0x00, 0x35, 0x00, 0x10, 0xdf, 0x0e,  // UDP: sport, dport, length, checksum
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,  // payload
};

const Bytes kNat6UdpOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x86, 0xdd,                                      // ethertype
    0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x3f,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x02, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12,
    0x14, 0xe9, 0x14, 0xb4, 0x00, 0x10, 0xc9, 0xfd,  // UDP: sport, dport, length, checksum
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,  // payload
};

const Bytes kNat6UdpFfffIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x86, 0xdd,                                      // ethertype
    0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x40,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x01, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
    0x14, 0xe9, 0x00, 0x35, 0x00, 0x10, 0x15, 0x11,  // UDP: sport, dport, length, checksum
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0x75, 0xa9,  // payload
};

const Bytes kNat6UdpFfffOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x86, 0xdd,                                      // ethertype
    0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x3f,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x02, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12,
    0x14, 0xe9, 0x14, 0xb4, 0x00, 0x10, 0xff, 0xff,  // UDP: sport, dport, length, checksum
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0x75, 0xa9,  // payload
};

const Bytes kNat6KeepPortIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x81, 0x00, 0x00, 0x64,                          // 802.1Q TPID, TCI
    0x86, 0xdd,                                      // ethertype
    0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3c, 0x40,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x01, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
    0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // destination options
    0x9c, 0x40, 0x01, 0xbb, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x07, 0xd0, 0x50, 0x10, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0x51, 0xd3, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab,                          // payload
};

const Bytes kNat6KeepPortOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x81, 0x00, 0x00, 0x64,                          // 802.1Q TPID, TCI
    0x86, 0xdd,                                      // ethertype
    0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3c, 0x3f,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x02, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11,
    0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // destination options
    0x9c, 0x40, 0x01, 0xbb, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x07, 0xd0, 0x50, 0x10, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0x51, 0x42, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab,                          // payload
};

const Bytes kIcmp6ToClientIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x86, 0xdd,                                      // ethertype
    0x60, 0x00, 0x00, 0x00, 0x00, 0x40, 0x3a, 0x40,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x02, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x01, 0x04, 0xed, 0x8b, 0x42, 0x42, 0x00, 0x01,  // ICMPv6: type, code, checksum, unused
    0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x3f,  // quoted: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // quoted: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x02, 0x00,  // quoted: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11,
    0x14, 0xe9, 0x14, 0xb4, 0x00, 0x10, 0xc9, 0xfe,  // quoted UDP: sport, dport, length, checksum
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,  // quoted payload
};

const Bytes kIcmp6ToClientOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x86, 0xdd,                                      // ethertype
    0x60, 0x00, 0x00, 0x00, 0x00, 0x40, 0x3a, 0x3f,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x01, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x01, 0x04, 0xee, 0x1c, 0x42, 0x42, 0x00, 0x01,  // ICMPv6: type, code, checksum, unused
    0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x3f,  // quoted: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // quoted: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x01, 0x00,  // quoted: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
    0x14, 0xe9, 0x00, 0x35, 0x00, 0x10, 0xdf, 0x0e,  // quoted UDP: sport, dport, length, checksum
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,  // quoted payload
};

const Bytes kIcmp6ToBackendIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x86, 0xdd,                                      // ethertype
    0x60, 0x00, 0x00, 0x00, 0x00, 0x48, 0x3a, 0x40,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x03, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x01, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
    0x02, 0x00, 0xf5, 0x10, 0x42, 0x42, 0x00, 0x01,  // ICMPv6: type, code, checksum, unused
    0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x06, 0x3c,  // quoted: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x01, 0x00,  // quoted: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // quoted: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x03, 0xe8,  // quoted TCP: sport, dport, seq
    0x00, 0x00, 0x07, 0xd0, 0x50, 0x10, 0xff, 0xff,  // quoted TCP: ack, data offset, flags, window
    0x53, 0x3e, 0x00, 0x00,                          // quoted TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab,                          // quoted payload
};

const Bytes kIcmp6ToBackendOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x86, 0xdd,                                      // ethertype
    0x60, 0x00, 0x00, 0x00, 0x00, 0x48, 0x3a, 0x3f,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x03, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x02, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11,
    0x02, 0x00, 0xf4, 0x7f, 0x42, 0x42, 0x00, 0x01,  // ICMPv6: type, code, checksum, unused
    0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x06, 0x3c,  // quoted: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x02, 0x00,  // quoted: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // quoted: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x1f, 0x90, 0x9c, 0x40, 0x00, 0x00, 0x03, 0xe8,  // quoted TCP: sport, dport, seq
    0x00, 0x00, 0x07, 0xd0, 0x50, 0x10, 0xff, 0xff,  // quoted TCP: ack, data offset, flags, window
    0x33, 0x6d, 0x00, 0x00,                          // quoted TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab,                          // quoted payload
};

const Bytes kTun6In = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x86, 0xdd,                                      // ethertype
    0x6b, 0x91, 0x23, 0x45, 0x00, 0x18, 0x06, 0x40,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x01, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
    0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0x5b, 0x1c, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab,                          // payload
};

const Bytes kTun6Out = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x86, 0xdd,                                      // ethertype
    0x6b, 0x9d, 0xb3, 0x05, 0x00, 0x40, 0x29, 0x20,  // outer: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0x00, 0x00,  // outer: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x02, 0x00,  // outer: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11,
    0x6b, 0x91, 0x23, 0x45, 0x00, 0x18, 0x06, 0x40,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x01, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
    0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0x5b, 0x1c, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab,                          // payload
};

const Bytes kTun6VlanIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x81, 0x00, 0x00, 0x64,                          // 802.1Q TPID, TCI
    0x86, 0xdd,                                      // ethertype
    0x60, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x11, 0x40,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x01, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
    0x14, 0xe9, 0x00, 0x35, 0x00, 0x0a, 0xe2, 0x1d,  // UDP: sport, dport, length, checksum
    0xab, 0xab,                                      // payload
    0xee, 0xee, 0xee, 0xee, 0xee, 0xee,              // Ethernet padding
};

const Bytes kTun6VlanOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x81, 0x00, 0x00, 0x64,                          // 802.1Q TPID, TCI
    0x86, 0xdd,                                      // ethertype
    0x60, 0x0f, 0xff, 0xff, 0x00, 0x32, 0x29, 0x40,  // outer: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0x00, 0x00,  // outer: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x02, 0x00,  // outer: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11,
    0x60, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x11, 0x40,  // IPv6: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // IPv6: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x01, 0x00,  // IPv6: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
    0x14, 0xe9, 0x00, 0x35, 0x00, 0x0a, 0xe2, 0x1d,  // UDP: sport, dport, length, checksum
    0xab, 0xab,                                      // payload
};

const Bytes kTun4in6In = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x10, 0x00, 0x2c, 0xbe, 0xef, 0x40, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x06, 0x67, 0x68,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0xa3, 0xaa, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab,                          // payload
};

const Bytes kTun4in6Out = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x86, 0xdd,                                      // ethertype
    0x61, 0x04, 0x57, 0x5b, 0x00, 0x2c, 0x04, 0x40,  // outer: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0x00, 0x00,  // outer: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x02, 0x00,  // outer: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11,
    0x45, 0x10, 0x00, 0x2c, 0xbe, 0xef, 0x40, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x06, 0x67, 0x68,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0xa3, 0xaa, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab,                          // payload
};

const Bytes kTun4in6VlanIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x81, 0x00, 0x00, 0x07,                          // 802.1Q TPID, TCI
    0x08, 0x00,                                      // ethertype
    0x45, 0x10, 0x00, 0x2c, 0xbe, 0xef, 0x40, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x06, 0x67, 0x68,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0xa3, 0xaa, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab,                          // payload
};

const Bytes kTun4in6VlanOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x81, 0x00, 0x00, 0x07,                          // 802.1Q TPID, TCI
    0x86, 0xdd,                                      // ethertype
    0x61, 0x04, 0x57, 0x5b, 0x00, 0x2c, 0x04, 0x40,  // outer: ver/class/label, length, next, hops
    0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0x00, 0x00,  // outer: src
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x02, 0x00,  // outer: dst
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11,
    0x45, 0x10, 0x00, 0x2c, 0xbe, 0xef, 0x40, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x06, 0x67, 0x68,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0xa3, 0xaa, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab,                          // payload
};

// ---------------------------------------------------------------------------------------
// Runners

enum class Nat { dnat, snat };

// Checks `frame` against its literal, applies the rewrite then the hop limit decrement,
// checking the checksums after each step, and compares the result with the expected literal.
void run_nat6_case(Bytes frame, const Bytes& expected_in, const Bytes& expected_out, Nat dir,
                   const Ipv6Address& new_ip, uint16_t new_port_host) {
  REQUIRE(hex(frame) == hex(expected_in));
  ParsedPacket p = parse(frame);
  REQUIRE(ipv6_checksums_valid(frame, p.l3_offset));
  if (dir == Nat::dnat)
    rewrite_dnat6(frame.data(), p, new_ip, be16(new_port_host));
  else
    rewrite_snat6(frame.data(), p, new_ip, be16(new_port_host));
  CHECK(ipv6_checksums_valid(frame, p.l3_offset));
  decrement_hop_limit(frame.data(), p);
  CHECK(ipv6_checksums_valid(frame, p.l3_offset));
  CHECK(hex(frame) == hex(expected_out));
}

// Runs encap_ipv6 on `frame` placed after kIpv6TunnelOverhead bytes of headroom (filled with
// junk), returns the resulting frame.
Bytes run_encap6(const Bytes& frame, const Ipv6Address& outer_src, const Ipv6Address& outer_dst,
                 uint8_t hop_limit, uint32_t flow_hash) {
  ParsedPacket p = parse(frame);
  Bytes buf(kIpv6TunnelOverhead + frame.size(), 0xcc);
  std::copy(frame.begin(), frame.end(), buf.begin() + kIpv6TunnelOverhead);
  uint32_t len = encap_ipv6(buf.data(), p, outer_src, outer_dst, hop_limit, flow_hash);
  REQUIRE(len == uint32_t{p.l3_end} + kIpv6TunnelOverhead);
  REQUIRE(len <= buf.size());
  buf.resize(len);
  return buf;
}

}  // namespace

// =======================================================================================
// Checksum helper

TEST_CASE("csum_replace128 equals an RFC 1071 recomputation over many random replacements",
          "[forward6]") {
  // A 40-byte buffer and its checksum; a 16-byte field at a random even offset is replaced
  // (now and then by all-zero or all-one bytes), and the updated checksum must equal the one
  // recomputed over the whole buffer. The buffer ends in a word that stays 6, as a
  // pseudo-header's next header does: a buffer of zeros alone, which no packet is, has two
  // checksums (0x0000 and 0xffff are both zero in one's complement).
  constexpr uint32_t kSeed = 128001;
  Random rng(kSeed);
  auto sum_of = [](const Bytes& b) {
    uint32_t sum = 0;
    for (std::size_t i = 0; i < b.size(); i += 2) sum += uint32_t(b[i]) << 8 | b[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
  };
  Bytes data = rng.bytes(40);
  data.push_back(0);
  data.push_back(6);
  uint16_t csum = be16(sum_of(data));  // as it sits in a packet
  for (int iter = 0; iter < 20000; ++iter) {
    INFO("seed " << kSeed << " iteration " << iter);
    std::size_t at = rng.uniform(0, 12) * 2;
    Bytes from(data.begin() + at, data.begin() + at + 16);
    uint32_t kind = rng.uniform(0, 5);
    Bytes to = kind == 0 ? Bytes(16, 0x00) : kind == 1 ? Bytes(16, 0xff) : rng.bytes(16);
    csum = csum_replace128(csum, from.data(), to.data());
    std::copy(to.begin(), to.end(), data.begin() + at);
    REQUIRE(csum == be16(sum_of(data)));
  }
}

// =======================================================================================
// NAT66 and hop limit

TEST_CASE("NAT66 forward: DNAT [vip]:80 to [backend]:8080, hop limit 64 to 63 (TCP)",
          "[forward6]") {
  Bytes frame = PacketBuilder().eth().ipv6(kClient, kVip).tcp(40000, 80, 0x18).payload(6).build();
  run_nat6_case(frame, kNat6FwdIn, kNat6FwdOut, Nat::dnat, kBackend, 8080);
}

TEST_CASE("NAT66 reverse: SNAT the backend's reply back to [vip]:80, hop limit 64 to 63 (TCP)",
          "[forward6]") {
  Bytes frame = PacketBuilder().eth().ipv6(kBackend, kClient).tcp(8080, 40000, 0x12).build();
  run_nat6_case(frame, kNat6RevIn, kNat6RevOut, Nat::snat, kVip, 80);
}

TEST_CASE("NAT66 UDP: checksum updated incrementally, a computed 0 goes out 0xffff", "[forward6]") {
  SECTION("UDP") {
    Bytes frame = PacketBuilder().eth().ipv6(kClient, kVip).udp(5353, 53).payload(8).build();
    run_nat6_case(frame, kNat6UdpIn, kNat6UdpOut, Nat::dnat, kBackend2, 5300);
  }
  SECTION("UDP whose rewritten checksum computes to 0: sent as 0xffff") {
    Bytes payload(8, 0xab);
    payload[6] = 0x75;
    payload[7] = 0xa9;
    Bytes frame = PacketBuilder().eth().ipv6(kClient, kVip).udp(5353, 53).payload(payload).build();
    run_nat6_case(frame, kNat6UdpFfffIn, kNat6UdpFfffOut, Nat::dnat, kBackend2, 5300);
  }
}

TEST_CASE("NAT66 behind a VLAN tag and an extension header, port kept (multi-port service)",
          "[forward6]") {
  Bytes frame = PacketBuilder()
                    .eth()
                    .vlan(100)
                    .ipv6(kClient, kVip)
                    .ipv6_ext(60)
                    .tcp(40000, 443, 0x10)
                    .payload(4)
                    .build();
  run_nat6_case(frame, kNat6KeepPortIn, kNat6KeepPortOut, Nat::dnat, kBackend, kKeepPort);
}

TEST_CASE("decrement_hop_limit changes the hop limit alone", "[forward6]") {
  Bytes frame = kNat6UdpIn;
  ParsedPacket p = parse(frame);
  decrement_hop_limit(frame.data(), p);
  Bytes expected = kNat6UdpIn;
  expected[14 + 7] = 0x3f;
  CHECK(hex(frame) == hex(expected));
  CHECK(ipv6_checksums_valid(frame));
}

// =======================================================================================
// ICMPv6 error quotes

TEST_CASE(
    "ICMPv6 error from a NAT backend to a client: outer source and quoted destination "
    "become the VIP",
    "[forward6]") {
  Bytes quote =
      PacketBuilder().ipv6(kClient, kBackend).ttl(63).udp(5353, 5300).payload(8).build_l3();
  Bytes frame = PacketBuilder().eth().ipv6(kBackend, kClient).icmpv6(1, 4).payload(quote).build();
  REQUIRE(hex(frame) == hex(kIcmp6ToClientIn));
  REQUIRE(ipv6_checksums_valid(frame));
  ParsedPacket p = parse(frame);

  QuotedFlow6 q{};
  REQUIRE(read_icmpv6_quote(frame.data(), p, q));
  CHECK(q.src_ip == kClient);
  CHECK(q.dst_ip == kBackend);
  CHECK(q.src_port == be16(5353));
  CHECK(q.dst_port == be16(5300));
  CHECK(q.proto == kIpProtoUdp);

  rewrite_snat6(frame.data(), p, kVip, kKeepPort);
  CHECK(ipv6_checksums_valid(frame));
  rewrite_icmpv6_quote_destination(frame.data(), p, kVip, be16(53));
  CHECK(ipv6_checksums_valid(frame));
  CHECK(ipv6_checksums_valid(frame, p.l4_offset + 8));  // the quoted datagram, whole
  decrement_hop_limit(frame.data(), p);
  CHECK(hex(frame) == hex(kIcmp6ToClientOut));
}

TEST_CASE(
    "ICMPv6 packet too big to the VIP: outer destination and quoted source become the "
    "backend",
    "[forward6]") {
  Bytes quote =
      PacketBuilder().ipv6(kVip, kClient).ttl(60).tcp(80, 40000, 0x10).payload(4).build_l3();
  Bytes frame = PacketBuilder().eth().ipv6(kRouter, kVip).icmpv6(2).payload(quote).build();
  REQUIRE(hex(frame) == hex(kIcmp6ToBackendIn));
  ParsedPacket p = parse(frame);

  QuotedFlow6 q{};
  REQUIRE(read_icmpv6_quote(frame.data(), p, q));
  CHECK(q.src_ip == kVip);
  CHECK(q.dst_ip == kClient);
  CHECK(q.src_port == be16(80));
  CHECK(q.dst_port == be16(40000));
  CHECK(q.proto == kIpProtoTcp);

  rewrite_dnat6(frame.data(), p, kBackend, kKeepPort);
  rewrite_icmpv6_quote_source(frame.data(), p, kBackend, be16(8080));
  decrement_hop_limit(frame.data(), p);
  CHECK(ipv6_checksums_valid(frame));
  CHECK(ipv6_checksums_valid(frame, p.l4_offset + 8));
  CHECK(hex(frame) == hex(kIcmp6ToBackendOut));
}

TEST_CASE("read_icmpv6_quote: extension headers in the quote, and what it refuses", "[forward6]") {
  auto error_quoting = [](const Bytes& quote, uint8_t type = 1) {
    return PacketBuilder().eth().ipv6(kRouter, kVip).icmpv6(type).payload(quote).build();
  };
  QuotedFlow6 q{};
  SECTION("ports found past hop-by-hop and fragment headers") {
    Bytes f = error_quoting(PacketBuilder()
                                .ipv6(kVip, kClient)
                                .ipv6_ext(0)
                                .ipv6_ext(44, 8, 0, true)
                                .udp(53, 5353)
                                .payload(8)
                                .build_l3());
    REQUIRE(read_icmpv6_quote(f.data(), parse(f), q));
    CHECK(q.src_ip == kVip);
    CHECK(q.dst_ip == kClient);
    CHECK(q.proto == kIpProtoUdp);
    CHECK(q.src_port == be16(53));
    CHECK(q.dst_port == be16(5353));
  }
  SECTION("a quote cut right after the IPv6 header and 8 bytes of extension header") {
    Bytes quote = PacketBuilder().ipv6(kVip, kClient).ipv6_ext(60).tcp(80, 1).build_l3();
    quote.resize(48);
    Bytes f = error_quoting(quote);
    CHECK_FALSE(read_icmpv6_quote(f.data(), parse(f), q));
  }
  SECTION("a quote whose ports are cut to 3 bytes") {
    Bytes quote = PacketBuilder().ipv6(kVip, kClient).ipv6_ext(60).tcp(80, 1).build_l3();
    quote.resize(40 + 8 + 3);
    Bytes f = error_quoting(quote);
    CHECK_FALSE(read_icmpv6_quote(f.data(), parse(f), q));
    quote = PacketBuilder().ipv6(kVip, kClient).ipv6_ext(60).tcp(80, 1).build_l3();
    quote.resize(40 + 8 + 4);
    f = error_quoting(quote);
    CHECK(read_icmpv6_quote(f.data(), parse(f), q));
  }
  SECTION("a quoted later fragment carries no ports") {
    Bytes f = error_quoting(
        PacketBuilder().ipv6(kVip, kClient).ipv6_ext(44, 8, 9).ip_proto(6).payload(20).build_l3());
    CHECK_FALSE(read_icmpv6_quote(f.data(), parse(f), q));
  }
  SECTION("a quoted ESP packet") {
    Bytes f =
        error_quoting(PacketBuilder().ipv6(kVip, kClient).ip_proto(50).payload(16).build_l3());
    CHECK_FALSE(read_icmpv6_quote(f.data(), parse(f), q));
  }
  SECTION("not an error: echo request and reply") {
    for (uint8_t type : {128, 129}) {
      Bytes f = PacketBuilder().eth().ipv6(kClient, kVip).icmpv6(type).payload(48).build();
      CHECK_FALSE(read_icmpv6_quote(f.data(), parse(f), q));
    }
  }
  SECTION("not ICMPv6: an IPv4 ICMP error") {
    Bytes inner = PacketBuilder().ipv4(kVip4, kClient4).tcp(80, 1).build_l3();
    Bytes f = PacketBuilder().eth().ipv4(kClient4, kVip4).icmp(3, 4).payload(inner).build();
    CHECK_FALSE(read_icmpv6_quote(f.data(), parse(f), q));
  }
}

// =======================================================================================
// TUN

TEST_CASE("TUN: IPv6 in IPv6, traffic class copied, flow label from the flow hash", "[forward6]") {
  Bytes frame = PacketBuilder()
                    .eth()
                    .ipv6(kClient, kVip)
                    .tos(0xb9)
                    .flow_label(0x12345)
                    .tcp(40000, 80, 0x02)
                    .payload(4)
                    .build();
  REQUIRE(hex(frame) == hex(kTun6In));
  Bytes out = run_encap6(frame, kDirectorLocal, kBackend, 32, 0xdeadbeef);
  CHECK(hex(out) == hex(kTun6Out));

  // The same, field by field, for a readable failure.
  const uint8_t* outer = out.data() + 14;
  CHECK(Bytes(out.begin(), out.begin() + 14) == Bytes(frame.begin(), frame.begin() + 14));
  CHECK(outer[0] == 0x6b);  // version 6, class 0xb9...
  CHECK(outer[1] == 0x9d);  // ...label 0xdb305
  CHECK(read_be16(outer + 2) == 0xb305);
  CHECK(read_be16(outer + 4) == 40 + 24);  // payload length: the inner datagram
  CHECK(outer[6] == 41);                   // IPv6 in IPv6
  CHECK(outer[7] == 32);                   // hop limit as given
  CHECK(Bytes(outer + 8, outer + 24) == Bytes(kDirectorLocal.begin(), kDirectorLocal.end()));
  CHECK(Bytes(outer + 24, outer + 40) == Bytes(kBackend.begin(), kBackend.end()));
  CHECK(Bytes(out.begin() + 54, out.end()) == Bytes(frame.begin() + 14, frame.end()));
  CHECK(ipv6_checksums_valid(out));  // the inner TCP checksum, through the outer header
  CHECK(tunnel_flow_label(0xdeadbeef) == 0xdb305);
}

TEST_CASE("TUN: IPv6 in IPv6 behind a VLAN tag, Ethernet padding left out", "[forward6]") {
  Bytes frame =
      PacketBuilder().eth().vlan(100).ipv6(kClient, kVip).udp(5353, 53).payload(2).pad(6).build();
  for (std::size_t i = frame.size() - 6; i < frame.size(); ++i) frame[i] = 0xee;
  REQUIRE(hex(frame) == hex(kTun6VlanIn));
  Bytes out = run_encap6(frame, kDirectorLocal, kBackend, 64, 0x000fffff);
  CHECK(hex(out) == hex(kTun6VlanOut));
  CHECK(ipv6_checksums_valid(out, 18));
}

TEST_CASE("TUN: IPv4 in IPv6, the ethertype becomes IPv6 and the TOS the traffic class",
          "[forward6]") {
  auto build = [](bool vlan) {
    PacketBuilder b;
    b.eth();
    if (vlan) b.vlan(7);
    return b.ipv4(kClient4, kVip4)
        .tos(0x10)
        .id(0xbeef)
        .df()
        .tcp(40000, 80, 0x02)
        .payload(4)
        .build();
  };
  SECTION("untagged") {
    Bytes frame = build(false);
    REQUIRE(hex(frame) == hex(kTun4in6In));
    Bytes out = run_encap6(frame, kDirectorLocal, kBackend, 64, 0x12345678);
    CHECK(hex(out) == hex(kTun4in6Out));
    CHECK(read_be16(out.data() + 12) == 0x86dd);
    CHECK(out[14 + 6] == 4);           // IPv4 in IPv6
    CHECK(ipv6_checksums_valid(out));  // and (next header 4) the inner IPv4 ones
  }
  SECTION("802.1Q-tagged: the ethertype behind the tag changes") {
    Bytes frame = build(true);
    REQUIRE(hex(frame) == hex(kTun4in6VlanIn));
    Bytes out = run_encap6(frame, kDirectorLocal, kBackend, 64, 0x12345678);
    CHECK(hex(out) == hex(kTun4in6VlanOut));
    CHECK(read_be16(out.data() + 12) == 0x8100);
    CHECK(read_be16(out.data() + 16) == 0x86dd);
    CHECK(ipv6_checksums_valid(out, 18));
  }
}

TEST_CASE("TUN: tun_fit_ipv6 at, and one byte over, the MTU", "[forward6]") {
  // A 1460-byte IPv6 datagram: 40 header + 20 TCP + 1400 payload; encapsulated it is 1500.
  Bytes v6 = PacketBuilder().eth().ipv6(kClient, kVip).tcp(40000, 80, 0x10).payload(1400).build();
  ParsedPacket p6 = parse(v6);
  REQUIRE(p6.l3_end - p6.l3_offset == 1460);
  CHECK(tun_fit_ipv6(v6.data(), p6, 1500).fit == TunFit::fits);
  CHECK(tun_fit_ipv6(v6.data(), p6, 1501).fit == TunFit::fits);
  auto over = tun_fit_ipv6(v6.data(), p6, 1499);
  CHECK(over.fit == TunFit::frag_needed);  // Packet Too Big: IPv6 is never fragmented on the way
  CHECK(over.mtu == 1459);
  // Never below the IPv6 minimum MTU, however small the egress link.
  over = tun_fit_ipv6(v6.data(), p6, 1300);
  CHECK(over.fit == TunFit::frag_needed);
  CHECK(over.mtu == 1280);

  // IPv4 inside: DF decides, as for IPIP, with 40 bytes of overhead.
  auto v4 = [](bool df) {
    return PacketBuilder()
        .eth()
        .ipv4(kClient4, kVip4)
        .df(df)
        .tcp(40000, 80, 0x10)
        .payload(1420)
        .build();
  };
  Bytes with_df = v4(true), without_df = v4(false);
  ParsedPacket pd = parse(with_df), pn = parse(without_df);
  REQUIRE(pd.l3_end - pd.l3_offset == 1460);
  CHECK(tun_fit_ipv6(with_df.data(), pd, 1500).fit == TunFit::fits);
  CHECK(tun_fit_ipv6(without_df.data(), pn, 1500).fit == TunFit::fits);
  over = tun_fit_ipv6(with_df.data(), pd, 1499);
  CHECK(over.fit == TunFit::frag_needed);
  CHECK(over.mtu == 1459);
  CHECK(tun_fit_ipv6(without_df.data(), pn, 1499).fit == TunFit::over_mtu);

  // Ethernet padding is not part of the datagram.
  Bytes padded = PacketBuilder().eth().ipv6(kClient, kVip).udp(1, 2).payload(4).pad(30).build();
  ParsedPacket pp = parse(padded);
  CHECK(tun_fit_ipv6(padded.data(), pp, 40 + 40 + 12).fit == TunFit::fits);
  CHECK(tun_fit_ipv6(padded.data(), pp, 40 + 40 + 11).fit == TunFit::frag_needed);
}

// =======================================================================================
// Randomised property tests

namespace {

Ipv6Address random_address(Random& rng) {
  Ipv6Address a;
  Bytes b = rng.bytes(a.size());
  std::copy(b.begin(), b.end(), a.begin());
  return a;
}

}  // namespace

TEST_CASE("NAT66: random TCP/UDP packets, random DNAT/SNAT targets, hop limit (property test)",
          "[forward6]") {
  constexpr uint32_t kSeed = 20261207;
  constexpr int kIterations = 5000;
  Random rng(kSeed);

  int dnats = 0, snats = 0, with_exts = 0, fragments = 0;
  for (int iter = 0; iter < kIterations; ++iter) {
    INFO("seed " << kSeed << " iteration " << iter);
    Ipv6Address src = random_address(rng), dst = random_address(rng);
    uint16_t sport = static_cast<uint16_t>(rng.uniform(0, 0xffff));
    uint16_t dport = static_cast<uint16_t>(rng.uniform(0, 0xffff));
    bool tcp = rng.chance(2);
    uint8_t flags = static_cast<uint8_t>(rng.uniform(0, 0xff));
    Bytes payload = rng.bytes(rng.uniform(0, 1400));
    uint8_t hop_limit = static_cast<uint8_t>(rng.uniform(2, 255));
    bool vlan = rng.chance(4);
    uint16_t vlan_tci = static_cast<uint16_t>(rng.uniform(0, 0xffff));
    uint8_t traffic_class = static_cast<uint8_t>(rng.uniform(0, 0xff));
    uint32_t label = rng.uniform(0, 0xfffff);
    int exts = rng.chance(2) ? 0 : static_cast<int>(rng.uniform(1, 3));
    // Now and then a fragment: a first one carries the L4 header, a later one does not.
    int frag = rng.chance(10) ? static_cast<int>(rng.uniform(1, 2)) : 0;
    uint16_t frag_offset = frag == 2 ? static_cast<uint16_t>(rng.uniform(1, 0x1fff)) : 0;

    uint32_t what = rng.uniform(0, 2);  // 0 DNAT, 1 SNAT, 2 both; sometimes to the same value
    bool do_dnat = what != 1, do_snat = what != 0;
    Ipv6Address new_dst = rng.chance(16) ? dst : random_address(rng);
    Ipv6Address new_src = rng.chance(16) ? src : random_address(rng);
    // Never 0 (kKeepPort) unless the old port is 0 too.
    uint16_t new_dport = rng.chance(16) ? dport : static_cast<uint16_t>(rng.uniform(1, 0xffff));
    uint16_t new_sport = rng.chance(16) ? sport : static_cast<uint16_t>(rng.uniform(1, 0xffff));
    INFO((tcp ? "tcp" : "udp") << " payload " << payload.size() << " exts " << exts << " vlan "
                               << vlan << " frag " << frag << " dnat " << do_dnat << " snat "
                               << do_snat);

    auto make = [&](const Ipv6Address& s, const Ipv6Address& d, uint16_t sp, uint16_t dp,
                    uint8_t hl) {
      PacketBuilder b;
      b.eth();
      if (vlan) b.vlan(vlan_tci);
      b.ipv6(s, d).ttl(hl).tos(traffic_class).flow_label(label);
      if (exts >= 1) b.ipv6_ext(0, 16);
      if (exts >= 2) b.ipv6_ext(60, 8);
      if (exts >= 3) b.ipv6_ext(51, 16);
      if (frag) b.ipv6_ext(44, 8, frag_offset, true);
      if (tcp)
        b.tcp(sp, dp, flags);
      else
        b.udp(sp, dp);
      return b.payload(payload).build();
    };

    const Bytes in = make(src, dst, sport, dport, hop_limit);
    ParsedPacket p = parse(in);
    REQUIRE(ipv6_checksums_valid(in, p.l3_offset));
    bool has_l4 = frag != 2;
    REQUIRE(p.has_l4 == has_l4);

    Bytes out = in;
    if (do_dnat) rewrite_dnat6(out.data(), p, new_dst, be16(new_dport));
    if (do_snat) rewrite_snat6(out.data(), p, new_src, be16(new_sport));
    decrement_hop_limit(out.data(), p);

    // Every checksum recomputed from scratch, pseudo-header included.
    REQUIRE(ipv6_checksums_valid(out, p.l3_offset));

    ParsedPacket q = parse(out);
    Ipv6Address want_src = do_snat ? new_src : src, want_dst = do_dnat ? new_dst : dst;
    uint16_t want_sport = do_snat && has_l4 ? new_sport : sport;
    uint16_t want_dport = do_dnat && has_l4 ? new_dport : dport;
    CHECK(ipv6_src(out.data(), q) == want_src);
    CHECK(ipv6_dst(out.data(), q) == want_dst);
    CHECK(q.ttl == hop_limit - 1);

    // And the whole frame equals the same packet built from scratch with the new values.
    Bytes expected =
        make(want_src, want_dst, want_sport, want_dport, static_cast<uint8_t>(hop_limit - 1));
    if (!has_l4) {
      // A later fragment has no L4 header: whatever follows the chain is left alone
      // (PacketBuilder would recompute a checksum there as if the header were real).
      std::copy(in.begin() + p.l4_offset, in.end(), expected.begin() + p.l4_offset);
    }
    REQUIRE(hex(out) == hex(expected));

    dnats += do_dnat;
    snats += do_snat;
    with_exts += exts != 0;
    fragments += frag != 0;
  }
  // The mix really happened.
  CHECK(dnats > 1000);
  CHECK(snats > 1000);
  CHECK(with_exts > 1000);
  CHECK(fragments > 200);
}

TEST_CASE("ICMPv6 quotes: random quoted flows translated both ways (property test)", "[forward6]") {
  constexpr uint32_t kSeed = 61207;
  constexpr int kIterations = 2000;
  Random rng(kSeed);
  for (int iter = 0; iter < kIterations; ++iter) {
    INFO("seed " << kSeed << " iteration " << iter);
    Ipv6Address a = random_address(rng), b = random_address(rng), sender = random_address(rng);
    Ipv6Address to = random_address(rng), new_ip = random_address(rng);
    uint16_t pa = static_cast<uint16_t>(rng.uniform(0, 0xffff));
    uint16_t pb = static_cast<uint16_t>(rng.uniform(0, 0xffff));
    uint16_t new_port = static_cast<uint16_t>(rng.uniform(1, 0xffff));  // 0 would be kKeepPort
    bool tcp = rng.uniform(0, 1) == 0;
    bool to_backend = rng.uniform(0, 1) == 0;  // quoted source rewritten, else quoted destination
    uint8_t type = static_cast<uint8_t>(rng.uniform(1, 4));
    Bytes payload = rng.bytes(rng.uniform(0, 200));

    auto quoted = [&](const Ipv6Address& s, const Ipv6Address& d, uint16_t sp, uint16_t dp) {
      PacketBuilder q;
      q.ipv6(s, d).ttl(60);
      if (tcp)
        q.tcp(sp, dp, 0x10);
      else
        q.udp(sp, dp);
      return q.payload(payload).build_l3();
    };
    auto error = [&](const Ipv6Address& s, const Ipv6Address& d, const Bytes& quote) {
      return PacketBuilder().eth().ipv6(s, d).icmpv6(type).payload(quote).build();
    };

    // To a backend: sent to `to` about a packet a→b; outer destination and quoted source
    // become new_ip (new_port). Back to a client: sent from `sender` to `to` about a→b; outer
    // source and quoted destination become new_ip.
    const Bytes in = error(sender, to, quoted(a, b, pa, pb));
    ParsedPacket p = parse(in);
    REQUIRE(ipv6_checksums_valid(in));
    QuotedFlow6 q{};
    REQUIRE(read_icmpv6_quote(in.data(), p, q));
    CHECK(q.src_ip == a);
    CHECK(q.dst_port == be16(pb));

    Bytes out = in;
    Bytes expected;
    if (to_backend) {
      rewrite_dnat6(out.data(), p, new_ip, kKeepPort);
      rewrite_icmpv6_quote_source(out.data(), p, new_ip, be16(new_port));
      expected = error(sender, new_ip, quoted(new_ip, b, new_port, pb));
    } else {
      rewrite_snat6(out.data(), p, new_ip, kKeepPort);
      rewrite_icmpv6_quote_destination(out.data(), p, new_ip, be16(new_port));
      expected = error(new_ip, to, quoted(a, new_ip, pa, new_port));
    }
    REQUIRE(ipv6_checksums_valid(out));
    REQUIRE(ipv6_checksums_valid(out, p.l4_offset + 8));
    REQUIRE(hex(out) == hex(expected));
  }
}

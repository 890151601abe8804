// Forwarding transforms (DR MAC rewrite, NAT DNAT/SNAT + TTL, TUN IPIP encapsulation) and the
// incremental checksum helpers they use.
//
// The oracles are independent of the code under test: the checksum helpers are checked
// against a plain RFC 1071 sum written here; every fixed case compares the output frame with
// bytes written out literally below (produced with a separate throwaway Python script, header by
// header, so nothing here is computed by forward.cc or checksum.h); the randomised test
// compares each rewritten frame with the same frame built from scratch by PacketBuilder.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "dataplane/checksum.h"
#include "dataplane/forward.h"
#include "dataplane/packet.h"
#include "packet_builder.h"
#include "random.h"
#include "dataplane/snapshot.h"

namespace {

using shoal::dp::be16;
using shoal::dp::csum_replace16;
using shoal::dp::csum_replace32;
using shoal::dp::decrement_ttl;
using shoal::dp::encap_ipip;
using shoal::dp::ipv4;
using shoal::dp::kIpipOverhead;
using shoal::dp::parse_packet;
using shoal::dp::ParsedPacket;
using shoal::dp::rewrite_dnat;
using shoal::dp::rewrite_macs;
using shoal::dp::rewrite_snat;
using shoal::dp::tun_fit;
using shoal::dp::TunFit;
using shoal::dp::udp_csum_nonzero;
using shoal::test::Bytes;
using shoal::test::hex;
using shoal::test::ipv4_checksums_valid;
using shoal::test::mac;
using shoal::test::PacketBuilder;
using shoal::test::Random;

// ---------------------------------------------------------------------------------------
// Helpers

// RFC 1071, the slow obvious way: big-endian 16-bit words, end-around carry, complement.
// `skip_word` (a word index) is left out of the sum: that is where the checksum lives.
uint16_t rfc1071(const uint8_t* p, std::size_t n, std::size_t skip_word = SIZE_MAX) {
  uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2) {
    if (i / 2 == skip_word) continue;
    sum += uint32_t(p[i]) << 8 | p[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  }
  if (n & 1) sum += uint32_t(p[n - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// Values as the dataplane sees them: loaded from memory as they sit (network order).
uint16_t load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
void store16(uint8_t* p, uint16_t v) {
  std::memcpy(p, &v, sizeof v);
}
void store32(uint8_t* p, uint32_t v) {
  std::memcpy(p, &v, sizeof v);
}
void store_be16(uint8_t* p, uint16_t host) {
  p[0] = static_cast<uint8_t>(host >> 8);
  p[1] = static_cast<uint8_t>(host);
}
uint16_t read_be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

ParsedPacket parse(const Bytes& frame) {
  ParsedPacket p;
  auto r = parse_packet(frame.data(), static_cast<uint32_t>(frame.size()), p);
  REQUIRE(r.ok);
  REQUIRE(p.l3 == shoal::dp::L3::ipv4);
  return p;
}

const rte_ether_addr kDirectorMac{{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01}};
const rte_ether_addr kRealServerMac{{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}};

constexpr uint32_t kClient = ipv4(10, 0, 0, 1);
constexpr uint32_t kVip = ipv4(10, 0, 0, 100);
constexpr uint32_t kBackend = ipv4(10, 0, 1, 11);
constexpr uint32_t kBackend2 = ipv4(10, 0, 1, 12);
constexpr uint32_t kDirectorLocal = ipv4(192, 168, 1, 1);

// ---------------------------------------------------------------------------------------
// Expected frames, written out byte by byte (see the file comment). Unless a name says
// otherwise: src MAC 02:00:00:00:00:01, dst MAC 02:00:00:00:00:02, IPv4 ID 0x1234, TTL 64,
// TCP seq 1000, window 65535.

const Bytes kDrSynIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x06, 0x54, 0x38,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x04, 0xd2, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0x92, 0x74, 0x00, 0x00,                          // TCP: checksum, urgent
};

const Bytes kDrSynOut = {
    0x02, 0x11, 0x22, 0x33, 0x44, 0x55,              // dst MAC
    0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x06, 0x54, 0x38,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x04, 0xd2, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0x92, 0x74, 0x00, 0x00,                          // TCP: checksum, urgent
};

const Bytes kDrVlanIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x81, 0x00, 0x00, 0x64,                          // 802.1Q TPID, TCI
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x06, 0x54, 0x38,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x04, 0xd2, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0x92, 0x74, 0x00, 0x00,                          // TCP: checksum, urgent
};

const Bytes kDrVlanOut = {
    0x02, 0x11, 0x22, 0x33, 0x44, 0x55,              // dst MAC
    0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01,              // src MAC
    0x81, 0x00, 0x00, 0x64,                          // 802.1Q TPID, TCI
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x06, 0x54, 0x38,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x04, 0xd2, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0x92, 0x74, 0x00, 0x00,                          // TCP: checksum, urgent
};

const Bytes kNatFwdIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x2e, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x06, 0x54, 0x32,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x07, 0xd0, 0x50, 0x18, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0xf0, 0x16, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab,              // payload
};

const Bytes kNatFwdOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x2e, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x3f, 0x06, 0x54, 0x8b,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x01, 0x0b,  // IPv4: src, dst
    0x9c, 0x40, 0x1f, 0x90, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x07, 0xd0, 0x50, 0x18, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0xd0, 0x2f, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab,              // payload
};

const Bytes kNatRevIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x06, 0x53, 0x91,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x01, 0x0b, 0x0a, 0x00, 0x00, 0x01,  // IPv4: src, dst
    0x1f, 0x90, 0x9c, 0x40, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x07, 0xd0, 0x50, 0x12, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0xd3, 0x3e, 0x00, 0x00,                          // TCP: checksum, urgent
};

const Bytes kNatRevOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x3f, 0x06, 0x55, 0x38,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x64, 0x0a, 0x00, 0x00, 0x01,  // IPv4: src, dst
    0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x07, 0xd0, 0x50, 0x12, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0xf3, 0x25, 0x00, 0x00,                          // TCP: checksum, urgent
};

const Bytes kNatUdpIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x24, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x11, 0x54, 0x31,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x14, 0xe9, 0x00, 0x35, 0x00, 0x10, 0x27, 0x9d,  // UDP: sport, dport, length, checksum
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,  // payload
};

const Bytes kNatUdpOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x24, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x3f, 0x11, 0x54, 0x89,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x01, 0x0c,  // IPv4: src, dst
    0x14, 0xe9, 0x14, 0xb4, 0x00, 0x10, 0x12, 0x76,  // UDP: sport, dport, length, checksum
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,  // payload
};

const Bytes kNatUdpFfffIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x24, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x11, 0x54, 0x31,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x14, 0xe9, 0x00, 0x35, 0x00, 0x10, 0x15, 0x27,  // UDP: sport, dport, length, checksum
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xbe, 0x21,  // payload
};

const Bytes kNatUdpFfffOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x24, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x3f, 0x11, 0x54, 0x89,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x01, 0x0c,  // IPv4: src, dst
    0x14, 0xe9, 0x14, 0xb4, 0x00, 0x10, 0xff, 0xff,  // UDP: sport, dport, length, checksum
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xbe, 0x21,  // payload
};

const Bytes kNatUdpZeroIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x24, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x11, 0x54, 0x31,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x14, 0xe9, 0x00, 0x35, 0x00, 0x10, 0x00, 0x00,  // UDP: sport, dport, length, checksum
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,  // payload
};

const Bytes kNatUdpZeroOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x24, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x3f, 0x11, 0x54, 0x89,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x01, 0x0c,  // IPv4: src, dst
    0x14, 0xe9, 0x14, 0xb4, 0x00, 0x10, 0x00, 0x00,  // UDP: sport, dport, length, checksum
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,  // payload
};

const Bytes kNatOptIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x47, 0x00, 0x00, 0x34, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x06, 0x4e, 0x28,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,  // IPv4 options (NOP)
    0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x07, 0xd0, 0x50, 0x10, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0x9b, 0xcc, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab,                          // payload
};

const Bytes kNatOptOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x47, 0x00, 0x00, 0x34, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x3f, 0x06, 0x4e, 0x81,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x01, 0x0b,  // IPv4: src, dst
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,  // IPv4 options (NOP)
    0x9c, 0x40, 0x1f, 0x90, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x07, 0xd0, 0x50, 0x10, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0x7b, 0xe5, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab,                          // payload
};

const Bytes kNatPadIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x20, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x11, 0x53, 0x8e,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x01, 0x0b, 0x0a, 0x00, 0x00, 0x01,  // IPv4: src, dst
    0x1f, 0x90, 0x9c, 0x40, 0x00, 0x0c, 0xd7, 0xa2,  // UDP: sport, dport, length, checksum
    0xab, 0xab, 0xab, 0xab,                          // payload
    0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,  // Ethernet padding
    0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
};

const Bytes kNatPadOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x20, 0x12, 0x34, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x3f, 0x11, 0x55, 0x35,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x64, 0x0a, 0x00, 0x00, 0x01,  // IPv4: src, dst
    0x00, 0x50, 0x9c, 0x40, 0x00, 0x0c, 0xf7, 0x89,  // UDP: sport, dport, length, checksum
    0xab, 0xab, 0xab, 0xab,                          // payload
    0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,  // Ethernet padding
    0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
};

const Bytes kTunDfIn = {
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

const Bytes kTunDfOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x10, 0x00, 0x40, 0xbe, 0xef, 0x40, 0x00,  // outer IPv4: ver/ihl, tos, length, id, flags
    0x20, 0x04, 0xcf, 0x06,                          // outer IPv4: ttl, protocol, header checksum
    0xc0, 0xa8, 0x01, 0x01, 0x0a, 0x00, 0x01, 0x0b,  // outer IPv4: src, dst
    0x45, 0x10, 0x00, 0x2c, 0xbe, 0xef, 0x40, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x06, 0x67, 0x68,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0xa3, 0xaa, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab,                          // payload
};

const Bytes kTunNoDfIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x2c, 0x00, 0x42, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x06, 0x66, 0x26,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0xa3, 0xaa, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab,                          // payload
};

const Bytes kTunNoDfOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x08, 0x00,                                      // ethertype
    0x45, 0x00, 0x00, 0x40, 0x00, 0x42, 0x00, 0x00,  // outer IPv4: ver/ihl, tos, length, id, flags
    0x11, 0x04, 0xdc, 0xc4,                          // outer IPv4: ttl, protocol, header checksum
    0xc0, 0xa8, 0x01, 0x01, 0x0a, 0x00, 0x01, 0x0b,  // outer IPv4: src, dst
    0x45, 0x00, 0x00, 0x2c, 0x00, 0x42, 0x00, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x06, 0x66, 0x26,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0xa3, 0xaa, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab,                          // payload
};

const Bytes kTunVlanIn = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x81, 0x00, 0x00, 0x64,                          // 802.1Q TPID, TCI
    0x08, 0x00,                                      // ethertype
    0x45, 0x10, 0x00, 0x2c, 0xbe, 0xef, 0x40, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x06, 0x67, 0x68,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0xa3, 0xaa, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab,                          // payload
};

const Bytes kTunVlanOut = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // dst MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // src MAC
    0x81, 0x00, 0x00, 0x64,                          // 802.1Q TPID, TCI
    0x08, 0x00,                                      // ethertype
    0x45, 0x10, 0x00, 0x40, 0xbe, 0xef, 0x40, 0x00,  // outer IPv4: ver/ihl, tos, length, id, flags
    0x64, 0x04, 0x8b, 0x06,                          // outer IPv4: ttl, protocol, header checksum
    0xc0, 0xa8, 0x01, 0x01, 0x0a, 0x00, 0x01, 0x0b,  // outer IPv4: src, dst
    0x45, 0x10, 0x00, 0x2c, 0xbe, 0xef, 0x40, 0x00,  // IPv4: ver/ihl, tos, length, id, flags
    0x40, 0x06, 0x67, 0x68,                          // IPv4: ttl, protocol, header checksum
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x64,  // IPv4: src, dst
    0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,  // TCP: sport, dport, seq
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff,  // TCP: ack, data offset, flags, window
    0xa3, 0xaa, 0x00, 0x00,                          // TCP: checksum, urgent
    0xab, 0xab, 0xab, 0xab,                          // payload
};

// ---------------------------------------------------------------------------------------
// NAT fixture runner: builds the input, checks it against its literal, applies the rewrite
// then the TTL decrement, checking the checksums after each step, and compares the result
// with the expected literal.
enum class Nat { dnat, snat };

void run_nat_case(Bytes frame, const Bytes& expected_in, const Bytes& expected_out, Nat dir,
                  uint32_t new_ip, uint16_t new_port_host) {
  REQUIRE(hex(frame) == hex(expected_in));
  REQUIRE(ipv4_checksums_valid(frame));
  ParsedPacket p = parse(frame);
  if (dir == Nat::dnat)
    rewrite_dnat(frame.data(), p, new_ip, be16(new_port_host));
  else
    rewrite_snat(frame.data(), p, new_ip, be16(new_port_host));
  CHECK(ipv4_checksums_valid(frame, p.l3_offset));
  decrement_ttl(frame.data(), p);
  CHECK(ipv4_checksums_valid(frame, p.l3_offset));
  CHECK(hex(frame) == hex(expected_out));
}

// Runs encap_ipip on `frame` placed after kIpipOverhead bytes of headroom (filled with junk),
// returns the resulting frame.
Bytes run_encap(const Bytes& frame, uint32_t outer_src, uint32_t outer_dst, uint8_t ttl) {
  ParsedPacket p = parse(frame);
  Bytes buf(kIpipOverhead + frame.size(), 0xcc);
  std::copy(frame.begin(), frame.end(), buf.begin() + kIpipOverhead);
  uint32_t len = encap_ipip(buf.data(), p, outer_src, outer_dst, ttl);
  REQUIRE(len == uint32_t{p.l3_end} + kIpipOverhead);
  REQUIRE(len <= buf.size());
  buf.resize(len);
  return buf;
}

}  // namespace

// =======================================================================================
// Checksum helpers

TEST_CASE("csum_replace16 equals an RFC 1071 recomputation over many random replacements",
          "[forward]") {
  constexpr uint32_t kSeed = 16001;
  constexpr std::size_t kWords = 32;
  constexpr std::size_t kCsumWord = 5;  // where an IPv4 header keeps it
  std::mt19937 rng(kSeed);
  std::uniform_int_distribution<uint32_t> u16(0, 0xffff);
  std::uniform_int_distribution<std::size_t> word(0, kWords - 1);
  std::uniform_int_distribution<int> kind(0, 7);

  Bytes buf(kWords * 2);
  for (auto& b : buf) b = static_cast<uint8_t>(u16(rng));
  store_be16(&buf[kCsumWord * 2], rfc1071(buf.data(), buf.size(), kCsumWord));

  int zero_csums = 0, ffff_writes = 0, zero_writes = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    INFO("seed " << kSeed << " iteration " << iter);
    std::size_t k = word(rng);
    if (k == kCsumWord) k = (k + 1) % kWords;
    uint16_t to_be;  // the new word, as a big-endian value
    switch (kind(rng)) {
      case 0:
        to_be = 0x0000;
        ++zero_writes;
        break;
      case 1:
        to_be = 0xffff;
        ++ffff_writes;
        break;
      case 2: {
        // The value that makes the data sum 0xffff, i.e. the new checksum 0x0000.
        Bytes tmp = buf;
        store_be16(&tmp[k * 2], 0);
        uint16_t others = static_cast<uint16_t>(~rfc1071(tmp.data(), tmp.size(), kCsumWord));
        to_be = static_cast<uint16_t>(0xffff - others);
        break;
      }
      default:
        to_be = static_cast<uint16_t>(u16(rng));
    }
    uint16_t from = load16(&buf[k * 2]);
    uint16_t csum = load16(&buf[kCsumWord * 2]);
    store_be16(&buf[k * 2], to_be);
    uint16_t to = load16(&buf[k * 2]);
    uint16_t updated = csum_replace16(csum, from, to);
    store16(&buf[kCsumWord * 2], updated);

    uint16_t expected = rfc1071(buf.data(), buf.size(), kCsumWord);
    REQUIRE(read_be16(&buf[kCsumWord * 2]) == expected);
    REQUIRE(rfc1071(buf.data(), buf.size()) == 0);  // and it verifies
    if (expected == 0) ++zero_csums;
  }
  // The edge values really came up.
  CHECK(zero_csums > 100);
  CHECK(zero_writes > 100);
  CHECK(ffff_writes > 100);
}

TEST_CASE("csum_replace32 equals an RFC 1071 recomputation over many random replacements",
          "[forward]") {
  constexpr uint32_t kSeed = 32001;
  constexpr std::size_t kWords = 32;
  constexpr std::size_t kCsumWord = 8;  // where a TCP header keeps it
  std::mt19937 rng(kSeed);
  std::uniform_int_distribution<uint32_t> u32(0, 0xffffffff);
  std::uniform_int_distribution<std::size_t> word(0, kWords - 2);
  std::uniform_int_distribution<int> kind(0, 9);

  Bytes buf(kWords * 2);
  for (auto& b : buf) b = static_cast<uint8_t>(u32(rng));
  store_be16(&buf[kCsumWord * 2], rfc1071(buf.data(), buf.size(), kCsumWord));

  int zero_csums = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    INFO("seed " << kSeed << " iteration " << iter);
    std::size_t k = word(rng);  // the field covers words k and k + 1
    while (k == kCsumWord || k + 1 == kCsumWord) k = word(rng);
    uint8_t to_bytes[4];
    switch (kind(rng)) {
      case 0:
        std::memset(to_bytes, 0x00, 4);
        break;
      case 1:
        std::memset(to_bytes, 0xff, 4);
        break;
      case 2:
        store_be16(to_bytes, 0xffff);
        store_be16(to_bytes + 2, 0x0000);
        break;
      case 3:
        store_be16(to_bytes, 0x0000);
        store_be16(to_bytes + 2, 0xffff);
        break;
      case 4: {
        // Random high word, low word chosen so that the new checksum is 0x0000.
        Bytes tmp = buf;
        store_be16(to_bytes, static_cast<uint16_t>(u32(rng)));
        tmp[k * 2] = to_bytes[0];
        tmp[k * 2 + 1] = to_bytes[1];
        store_be16(&tmp[k * 2 + 2], 0);
        uint16_t others = static_cast<uint16_t>(~rfc1071(tmp.data(), tmp.size(), kCsumWord));
        store_be16(to_bytes + 2, static_cast<uint16_t>(0xffff - others));
        break;
      }
      default:
        store32(to_bytes, u32(rng));
    }
    uint32_t from = load32(&buf[k * 2]);
    uint16_t csum = load16(&buf[kCsumWord * 2]);
    std::memcpy(&buf[k * 2], to_bytes, 4);
    uint32_t to = load32(&buf[k * 2]);
    store16(&buf[kCsumWord * 2], csum_replace32(csum, from, to));

    uint16_t expected = rfc1071(buf.data(), buf.size(), kCsumWord);
    REQUIRE(read_be16(&buf[kCsumWord * 2]) == expected);
    REQUIRE(rfc1071(buf.data(), buf.size()) == 0);
    if (expected == 0) ++zero_csums;
  }
  CHECK(zero_csums > 100);
}

TEST_CASE("csum_replace16/32 on one fixed header (hand-computed values)", "[forward]") {
  // kDrSynIn's IPv4 header (checksum 0x5438) with its destination 10.0.0.100 → 10.0.1.11
  // has checksum 0x5391; then TTL 64 → 63 (TTL/protocol word 0x4006 → 0x3f06): 0x5491.
  // Both values recomputed from scratch over the whole header by the generator script.
  uint16_t csum = be16(0x5438);
  csum = csum_replace32(csum, kVip, kBackend);
  CHECK(csum == be16(0x5391));
  csum = csum_replace16(csum, be16(0x4006), be16(0x3f06));
  CHECK(csum == be16(0x5491));
  // Replacing a word by itself changes nothing.
  CHECK(csum_replace16(be16(0x1234), be16(0xabcd), be16(0xabcd)) == be16(0x1234));
  CHECK(csum_replace32(be16(0x1234), kVip, kVip) == be16(0x1234));
}

TEST_CASE("udp_csum_nonzero maps only 0 to 0xffff", "[forward]") {
  CHECK(udp_csum_nonzero(0x0000) == 0xffff);
  CHECK(udp_csum_nonzero(0xffff) == 0xffff);
  CHECK(udp_csum_nonzero(0x0001) == 0x0001);
  CHECK(udp_csum_nonzero(0x0100) == 0x0100);
  CHECK(udp_csum_nonzero(0x1234) == 0x1234);
  CHECK(udp_csum_nonzero(0xfffe) == 0xfffe);
}

// =======================================================================================
// DR

TEST_CASE("DR: rewrite_macs changes only the 12 MAC bytes", "[forward]") {
  SECTION("untagged TCP SYN") {
    Bytes frame = PacketBuilder().eth().ipv4(kClient, kVip).tcp(1234, 80, 0x02).build();
    REQUIRE(hex(frame) == hex(kDrSynIn));
    rewrite_macs(frame.data(), kDirectorMac, kRealServerMac);
    CHECK(hex(frame) == hex(kDrSynOut));
    CHECK(Bytes(frame.begin() + 12, frame.end()) == Bytes(kDrSynIn.begin() + 12, kDrSynIn.end()));
    CHECK(ipv4_checksums_valid(frame));
  }
  SECTION("802.1Q-tagged TCP SYN") {
    Bytes frame = PacketBuilder().eth().vlan(100).ipv4(kClient, kVip).tcp(1234, 80, 0x02).build();
    REQUIRE(hex(frame) == hex(kDrVlanIn));
    rewrite_macs(frame.data(), kDirectorMac, kRealServerMac);
    CHECK(hex(frame) == hex(kDrVlanOut));
    CHECK(Bytes(frame.begin() + 12, frame.end()) == Bytes(kDrVlanIn.begin() + 12, kDrVlanIn.end()));
    CHECK(ipv4_checksums_valid(frame, 18));
  }
}

// =======================================================================================
// NAT

TEST_CASE("NAT forward: DNAT 10.0.0.100:80 to 10.0.1.11:8080 and TTL 64 to 63 (TCP)", "[forward]") {
  Bytes frame = PacketBuilder().eth().ipv4(kClient, kVip).tcp(40000, 80, 0x18).payload(6).build();
  run_nat_case(frame, kNatFwdIn, kNatFwdOut, Nat::dnat, kBackend, 8080);
}

TEST_CASE("NAT reverse: SNAT the backend's reply back to 10.0.0.100:80 and TTL 64 to 63 (TCP)",
          "[forward]") {
  Bytes frame = PacketBuilder().eth().ipv4(kBackend, kClient).tcp(8080, 40000, 0x12).build();
  run_nat_case(frame, kNatRevIn, kNatRevOut, Nat::snat, kVip, 80);
}

TEST_CASE("NAT UDP: checksum updated incrementally, 0 stays 0, a computed 0 goes out 0xffff",
          "[forward]") {
  SECTION("UDP with a checksum") {
    Bytes frame = PacketBuilder().eth().ipv4(kClient, kVip).udp(5353, 53).payload(8).build();
    run_nat_case(frame, kNatUdpIn, kNatUdpOut, Nat::dnat, kBackend2, 5300);
  }
  SECTION("UDP whose rewritten checksum computes to 0: sent as 0xffff") {
    Bytes payload(8, 0xab);
    payload[6] = 0xbe;
    payload[7] = 0x21;
    Bytes frame = PacketBuilder().eth().ipv4(kClient, kVip).udp(5353, 53).payload(payload).build();
    run_nat_case(frame, kNatUdpFfffIn, kNatUdpFfffOut, Nat::dnat, kBackend2, 5300);
  }
  SECTION("UDP without a checksum (0): stays 0") {
    Bytes frame = PacketBuilder()
                      .eth()
                      .ipv4(kClient, kVip)
                      .udp(5353, 53)
                      .payload(8)
                      .udp_zero_checksum()
                      .build();
    run_nat_case(frame, kNatUdpZeroIn, kNatUdpZeroOut, Nat::dnat, kBackend2, 5300);
    CHECK(frame.size() == kNatUdpZeroOut.size());
  }
}

TEST_CASE("NAT with IP options: L4 found past the options, options untouched", "[forward]") {
  Bytes frame = PacketBuilder()
                    .eth()
                    .ipv4(kClient, kVip)
                    .ip_options(2)
                    .tcp(40000, 80, 0x10)
                    .payload(4)
                    .build();
  run_nat_case(frame, kNatOptIn, kNatOptOut, Nat::dnat, kBackend, 8080);
}

TEST_CASE("NAT with Ethernet padding after the datagram: padding untouched", "[forward]") {
  Bytes frame =
      PacketBuilder().eth().ipv4(kBackend, kClient).udp(8080, 40000).payload(4).pad(14).build();
  REQUIRE(frame.size() == 60);
  // Non-zero padding, so that a checksum that wrongly covered it would show.
  for (std::size_t i = 46; i < 60; ++i) frame[i] = 0xee;
  run_nat_case(frame, kNatPadIn, kNatPadOut, Nat::snat, kVip, 80);
}

// =======================================================================================
// TUN

TEST_CASE("TUN: encap_ipip, DF set and TOS 0x10: outer header bytes, inner datagram intact",
          "[forward]") {
  Bytes frame = PacketBuilder()
                    .eth()
                    .ipv4(kClient, kVip)
                    .tos(0x10)
                    .id(0xbeef)
                    .df()
                    .tcp(40000, 80, 0x02)
                    .payload(4)
                    .build();
  REQUIRE(hex(frame) == hex(kTunDfIn));
  Bytes out = run_encap(frame, kDirectorLocal, kBackend, 32);
  CHECK(hex(out) == hex(kTunDfOut));

  // The same, field by field, for a readable failure.
  const uint8_t* outer = out.data() + 14;
  CHECK(Bytes(out.begin(), out.begin() + 14) == Bytes(frame.begin(), frame.begin() + 14));
  CHECK(outer[0] == 0x45);
  CHECK(outer[1] == 0x10);                 // TOS copied
  CHECK(read_be16(outer + 2) == 20 + 44);  // total length
  CHECK(read_be16(outer + 4) == 0xbeef);   // ID copied
  CHECK(read_be16(outer + 6) == 0x4000);   // DF copied, no fragment offset
  CHECK(outer[8] == 32);                   // TTL as given
  CHECK(outer[9] == 4);                    // IPIP
  CHECK(read_be16(outer + 10) == 0xcf06);  // header checksum (hand-computed)
  CHECK(load32(outer + 12) == kDirectorLocal);
  CHECK(load32(outer + 16) == kBackend);
  CHECK(Bytes(out.begin() + 34, out.end()) == Bytes(frame.begin() + 14, frame.end()));
  CHECK(ipv4_checksums_valid(out));  // outer, and (protocol 4) the inner one too
}

TEST_CASE("TUN: encap_ipip with DF clear: outer DF clear", "[forward]") {
  Bytes frame =
      PacketBuilder().eth().ipv4(kClient, kVip).id(0x0042).tcp(40000, 80, 0x02).payload(4).build();
  REQUIRE(hex(frame) == hex(kTunNoDfIn));
  Bytes out = run_encap(frame, kDirectorLocal, kBackend, 17);
  CHECK(hex(out) == hex(kTunNoDfOut));
  CHECK(read_be16(out.data() + 14 + 6) == 0x0000);
  CHECK(Bytes(out.begin() + 34, out.end()) == Bytes(frame.begin() + 14, frame.end()));
  CHECK(ipv4_checksums_valid(out));
}

TEST_CASE("TUN: encap_ipip with an 802.1Q tag: the whole L2 header moves to the front",
          "[forward]") {
  Bytes frame = PacketBuilder()
                    .eth()
                    .vlan(100)
                    .ipv4(kClient, kVip)
                    .tos(0x10)
                    .id(0xbeef)
                    .df()
                    .tcp(40000, 80, 0x02)
                    .payload(4)
                    .build();
  REQUIRE(hex(frame) == hex(kTunVlanIn));
  Bytes out = run_encap(frame, kDirectorLocal, kBackend, 100);
  CHECK(hex(out) == hex(kTunVlanOut));
  CHECK(Bytes(out.begin(), out.begin() + 18) == Bytes(frame.begin(), frame.begin() + 18));
  CHECK(Bytes(out.begin() + 38, out.end()) == Bytes(frame.begin() + 18, frame.end()));
  CHECK(ipv4_checksums_valid(out, 18));
}

TEST_CASE("TUN: encap_ipip leaves Ethernet padding out of the encapsulated datagram", "[forward]") {
  Bytes frame =
      PacketBuilder().eth().ipv4(kClient, kVip).df().udp(5353, 53).payload(4).pad(14).build();
  REQUIRE(frame.size() == 60);
  Bytes out = run_encap(frame, kDirectorLocal, kBackend, 64);
  REQUIRE(out.size() == 14 + 20 + 32);
  CHECK(read_be16(out.data() + 14 + 2) == 20 + 32);
  CHECK(Bytes(out.begin() + 34, out.end()) == Bytes(frame.begin() + 14, frame.begin() + 46));
  CHECK(ipv4_checksums_valid(out));
}

TEST_CASE("TUN: tun_fit at, and one byte over, the MTU", "[forward]") {
  // A 1480-byte datagram: 20 IPv4 + 20 TCP + 1440 payload; encapsulated it is 1500.
  auto build = [](bool df, bool vlan, std::size_t pad) {
    PacketBuilder b;
    b.eth();
    if (vlan) b.vlan(7);
    return b.ipv4(kClient, kVip).df(df).tcp(40000, 80, 0x10).payload(1440).pad(pad).build();
  };
  for (bool vlan : {false, true}) {
    INFO("vlan " << vlan);
    Bytes with_df = build(true, vlan, 0);
    Bytes without_df = build(false, vlan, 0);
    ParsedPacket pd = parse(with_df);
    ParsedPacket pn = parse(without_df);
    REQUIRE(pd.l3_end - pd.l3_offset == 1480);

    CHECK(tun_fit(with_df.data(), pd, 1500) == TunFit::fits);  // inner + 20 == mtu
    CHECK(tun_fit(without_df.data(), pn, 1500) == TunFit::fits);
    CHECK(tun_fit(with_df.data(), pd, 1501) == TunFit::fits);
    CHECK(tun_fit(with_df.data(), pd, 1499) == TunFit::frag_needed);  // one byte over, DF
    CHECK(tun_fit(without_df.data(), pn, 1499) == TunFit::over_mtu);  // one byte over, no DF
    CHECK(tun_fit(with_df.data(), pd, 576) == TunFit::frag_needed);
    CHECK(tun_fit(without_df.data(), pn, 576) == TunFit::over_mtu);
  }
  // Ethernet padding is not part of the datagram.
  Bytes padded = build(true, false, 30);
  ParsedPacket pp = parse(padded);
  CHECK(tun_fit(padded.data(), pp, 1500) == TunFit::fits);
  CHECK(tun_fit(padded.data(), pp, 1499) == TunFit::frag_needed);
}

// =======================================================================================
// Randomised NAT property test

TEST_CASE("NAT: random packets, random DNAT/SNAT targets, TTL decrement (property test)",
          "[forward]") {
  constexpr uint32_t kSeed = 20240611;
  constexpr int kIterations = 5000;
  Random rng(kSeed);

  int dnats = 0, snats = 0, udp_zero = 0, with_options = 0, fragments = 0;
  for (int iter = 0; iter < kIterations; ++iter) {
    INFO("seed " << kSeed << " iteration " << iter);
    uint32_t src = rng.uniform(0, 0xffffffff), dst = rng.uniform(0, 0xffffffff);
    uint16_t sport = static_cast<uint16_t>(rng.uniform(0, 0xffff));
    uint16_t dport = static_cast<uint16_t>(rng.uniform(0, 0xffff));
    bool tcp = rng.chance(2);
    uint8_t flags = static_cast<uint8_t>(rng.uniform(0, 0xff));
    Bytes payload = rng.bytes(rng.uniform(0, 1400));
    uint8_t ttl = static_cast<uint8_t>(rng.uniform(2, 255));
    uint8_t options = rng.chance(2) ? 0 : static_cast<uint8_t>(rng.uniform(1, 10));
    bool vlan = rng.chance(4);
    uint16_t vlan_tci = static_cast<uint16_t>(rng.uniform(0, 0xffff));
    uint8_t tos = static_cast<uint8_t>(rng.uniform(0, 0xff));
    uint16_t id = static_cast<uint16_t>(rng.uniform(0, 0xffff));
    bool df = rng.chance(2);
    bool zero_csum = !tcp && rng.chance(4);
    // Now and then a fragment: a first one carries the L4 header, a later one does not.
    int frag = rng.chance(10) ? static_cast<int>(rng.uniform(1, 2)) : 0;
    bool more_fragments = frag == 1 || rng.chance(2);
    uint16_t frag_offset = frag == 2 ? static_cast<uint16_t>(rng.uniform(1, 0x1fff)) : 0;

    // Rewrite: 0 DNAT, 1 SNAT, 2 both; sometimes to the value already there.
    uint32_t what = rng.uniform(0, 2);
    bool do_dnat = what != 1, do_snat = what != 0;
    uint32_t new_dst = rng.chance(16) ? dst : rng.uniform(0, 0xffffffff);
    uint32_t new_src = rng.chance(16) ? src : rng.uniform(0, 0xffffffff);
    uint16_t new_dport = rng.chance(16) ? dport : static_cast<uint16_t>(rng.uniform(0, 0xffff));
    uint16_t new_sport = rng.chance(16) ? sport : static_cast<uint16_t>(rng.uniform(0, 0xffff));
    INFO((tcp ? "tcp" : "udp") << " payload " << payload.size() << " options " << int(options)
                               << " vlan " << vlan << " ttl " << int(ttl) << " zero_csum "
                               << zero_csum << " frag " << frag << " dnat " << do_dnat << " snat "
                               << do_snat);

    auto make = [&](uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, uint8_t t) {
      PacketBuilder b;
      b.eth();
      if (vlan) b.vlan(vlan_tci);
      b.ipv4(s, d).ttl(t).tos(tos).id(id).df(df).ip_options(options);
      if (frag) b.fragment(more_fragments, frag_offset);
      if (tcp)
        b.tcp(sp, dp, flags);
      else
        b.udp(sp, dp);
      b.payload(payload);
      if (zero_csum) b.udp_zero_checksum();
      return b.build();
    };

    const Bytes in = make(src, dst, sport, dport, ttl);
    REQUIRE(ipv4_checksums_valid(in, vlan ? 18 : 14));
    ParsedPacket p = parse(in);
    bool has_l4 = frag != 2;
    REQUIRE(p.has_l4 == has_l4);

    Bytes out = in;
    if (do_dnat) rewrite_dnat(out.data(), p, new_dst, be16(new_dport));
    if (do_snat) rewrite_snat(out.data(), p, new_src, be16(new_sport));
    decrement_ttl(out.data(), p);

    // Checksums are right.
    REQUIRE(ipv4_checksums_valid(out, p.l3_offset));

    // The rewritten fields hold the new values.
    uint32_t want_src = do_snat ? new_src : src, want_dst = do_dnat ? new_dst : dst;
    uint16_t want_sport = do_snat && has_l4 ? new_sport : sport;
    uint16_t want_dport = do_dnat && has_l4 ? new_dport : dport;
    ParsedPacket q = parse(out);
    CHECK(q.src_ip == want_src);
    CHECK(q.dst_ip == want_dst);
    CHECK(q.ttl == ttl - 1);
    if (has_l4) {
      CHECK(q.src_port == be16(want_sport));
      CHECK(q.dst_port == be16(want_dport));
    }

    // Every other byte is unchanged.
    std::vector<bool> may_change(in.size(), false);
    auto allow = [&](std::size_t at, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) may_change[at + i] = true;
    };
    allow(p.l3_offset + 8, 1);   // TTL
    allow(p.l3_offset + 10, 2);  // header checksum
    if (do_snat) allow(p.l3_offset + 12, 4);
    if (do_dnat) allow(p.l3_offset + 16, 4);
    if (has_l4) {
      if (do_snat) allow(p.l4_offset, 2);
      if (do_dnat) allow(p.l4_offset + 2, 2);
      allow(p.l4_offset + (tcp ? 16 : 6), 2);
    }
    for (std::size_t i = 0; i < in.size(); ++i)
      if (!may_change[i] && in[i] != out[i]) {
        FAIL_CHECK("byte " << i << " changed from " << int(in[i]) << " to " << int(out[i]));
        break;
      }
    if (zero_csum) CHECK(load16(out.data() + p.l4_offset + 6) == 0);

    // And the whole frame equals the same packet built from scratch with the new values.
    Bytes expected =
        make(want_src, want_dst, want_sport, want_dport, static_cast<uint8_t>(ttl - 1));
    if (!has_l4) {
      // A later fragment has no L4 header: whatever follows the IP header is left alone
      // (PacketBuilder would recompute a checksum there as if the header were real).
      std::copy(in.begin() + p.l4_offset, in.end(), expected.begin() + p.l4_offset);
    }
    REQUIRE(hex(out) == hex(expected));

    dnats += do_dnat;
    snats += do_snat;
    udp_zero += zero_csum;
    with_options += options != 0;
    fragments += frag != 0;
  }
  // The mix really happened.
  CHECK(dnats > 1000);
  CHECK(snats > 1000);
  CHECK(udp_zero > 200);
  CHECK(with_options > 1000);
  CHECK(fragments > 200);
}

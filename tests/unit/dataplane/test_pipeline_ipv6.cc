// The pipeline's IPv6 path over real mbufs: an IPv6 VIP in DR, NAT66 and TUN (6-in-6), an IPv4
// VIP carried to an IPv6 real server (4-in-6), NAT66 replies, the hand-offs to the control
// plane (Neighbour Discovery, echo, hop limit, Packet Too Big), and drops with their reasons.
#include <catch2/catch.hpp>

#include <rte_mbuf.h>

#include <cstring>
#include <map>

#include "dataplane/forward_ipv6.h"
#include "dataplane/pipeline.h"
#include "packet_builder.h"

using namespace shoal::dp;
using shoal::test::Bytes;
using shoal::test::ip6;
using shoal::test::mac;
using shoal::test::PacketBuilder;

namespace {

const rte_ether_addr kOurMac = mac(2);  // PacketBuilder's default destination
const rte_ether_addr kClientMac = mac(1);
const Ipv6Address kClient = ip6("fd00::1");
const Ipv6Address kLocal = ip6("fd00::2");
const Ipv6Address kVip = ip6("fd00::100");
const Ipv6Address kTunVip = ip6("fd00::101");
constexpr uint32_t kVip4 = ipv4(10, 0, 0, 102);  // carried to an IPv6 real server (4-in-6)

rte_mempool* pool() {
  static rte_mempool* p = rte_pktmbuf_pool_create("unit_pipeline6", 1023, 64, 0,
                                                  RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  return p;
}

// Backend i's neighbour is next hop i+1; next hop 0 is the client.
const struct {
  const char* ip;
  uint16_t port;
} kBackends[] = {
    {"fd00::11", 80}, {"fd00::12", 80},      // DR 0-1
    {"fd00:1::11", 8080},                    // NAT66 2
    {"fd00::13", 80},                        // TUN 3
    {"fd00::14", 80},                        // 4-in-6 4
};

BackendSpec backend(uint16_t id) {
  BackendSpec b;
  b.id = id;
  b.ipv6 = true;
  b.ip6 = ip6(kBackends[id].ip);
  b.port = be16(kBackends[id].port);
  b.next_hop = id + 1u;
  return b;
}

ServiceSpec service6(const Ipv6Address& vip, uint16_t port, ForwardMode mode,
                     std::vector<BackendSpec> backends) {
  ServiceSpec s;
  s.ipv6 = true;
  s.vip6 = vip;
  s.port = be16(port);
  s.proto = kIpProtoTcp;
  s.mode = mode;
  s.backends = std::move(backends);
  return s;
}

SnapshotSpec spec() {
  SnapshotSpec s;
  PortSpec port;
  port.mac = kOurMac;
  port.local_ip = ipv4(10, 0, 0, 2);
  port.local_ip6 = kLocal;
  port.mtu = 1500;
  s.ports.push_back(port);
  s.next_hops.push_back({0, true, kClientMac});
  for (uint16_t id = 0; id < std::size(kBackends); ++id)
    s.next_hops.push_back({0, true, mac(static_cast<uint8_t>(0x10 + id))});
  s.routes6.push_back({kClient, 128, 0});
  s.local_addresses6.push_back(kLocal);
  ServiceSpec four_in_six;
  four_in_six.vip = kVip4;
  four_in_six.port = be16(80);
  four_in_six.mode = ForwardMode::tun;
  four_in_six.backends = {backend(4)};
  s.services = {service6(kVip, 80, ForwardMode::dr, {backend(0), backend(1)}),
                service6(kVip, 8080, ForwardMode::nat, {backend(2)}),
                service6(kTunVip, 80, ForwardMode::tun, {backend(3)}), four_in_six};
  return s;
}

struct Result {
  Verdict verdict;
  Bytes out;
};

class Harness {
 public:
  Harness() {
    std::string error;
    snap_ = Snapshot::build(spec(), &error);
    INFO(error);
    REQUIRE(snap_);
  }
  Result run(const Bytes& f) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool());
    REQUIRE(m != nullptr);
    std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(f.size())), f.data(), f.size());
    m->port = 0;
    Verdict v;
    process_burst(&m, 1, {*snap_, flows_, counters_, scheduler_, 1000, {}, &flows6_}, &v);
    const auto* d = rte_pktmbuf_mtod(m, const uint8_t*);
    Result r{v, Bytes(d, d + rte_pktmbuf_data_len(m))};
    rte_pktmbuf_free(m);
    return r;
  }
  bool balanced() const {
    return counters_.rx.get() == counters_.tx.get() + counters_.dropped() + counters_.to_control();
  }
  FlowTable6& flows6() { return flows6_; }
  const FlowTable& flows() const { return flows_; }

 private:
  std::unique_ptr<Snapshot> snap_;
  FlowTable flows_{1024};
  FlowTable6 flows6_{1024, {}, -1, &flows_.connections()};
  WorkerCounters counters_;
  WorkerScheduler scheduler_{flows_.connections()};
};

Ipv6Address at(const Bytes& frame, std::size_t offset) {
  Ipv6Address a;
  std::memcpy(a.data(), frame.data() + offset, a.size());
  return a;
}
uint16_t port_at(const Bytes& frame, std::size_t offset) {
  return static_cast<uint16_t>(frame[offset] << 8 | frame[offset + 1]);
}
rte_ether_addr eth_dst(const Bytes& frame) {
  rte_ether_addr a;
  std::memcpy(a.addr_bytes, frame.data(), 6);
  return a;
}

PacketBuilder to_vip(const Ipv6Address& vip, uint16_t sport, uint16_t dport, uint8_t flags = 0x02) {
  PacketBuilder b;
  b.eth(kClientMac, kOurMac).ipv6(kClient, vip).tcp(sport, dport, flags).payload(20);
  return b;
}

}  // namespace

TEST_CASE("pipeline6: DR to an IPv6 VIP rewrites the MACs only, and pins the flow",
          "[pipeline][ipv6]") {
  Harness h;
  const Bytes in = to_vip(kVip, 40000, 80).build();
  const Result r = h.run(in);
  REQUIRE(r.verdict.action == Action::transmit);
  const rte_ether_addr to = eth_dst(r.out);
  const bool rs1 = rte_is_same_ether_addr(&to, &static_cast<const rte_ether_addr&>(mac(0x10)));
  const bool rs2 = rte_is_same_ether_addr(&to, &static_cast<const rte_ether_addr&>(mac(0x11)));
  CHECK((rs1 || rs2));
  CHECK(Bytes(r.out.begin() + 12, r.out.end()) == Bytes(in.begin() + 12, in.end()));
  CHECK(h.flows6().size() == 1);
  CHECK(h.flows().size() == 0);
  // The rest of the flow goes to the same real server, whichever it was.
  for (int i = 0; i < 5; ++i) {
    const Result again = h.run(to_vip(kVip, 40000, 80, 0x10).build());
    const rte_ether_addr a = eth_dst(again.out);
    CHECK(rte_is_same_ether_addr(&a, &to));
  }
  CHECK(h.balanced());
}

TEST_CASE("pipeline6: IPv6 flows spread over the DR backends", "[pipeline][ipv6]") {
  Harness h;
  std::map<uint8_t, int> seen;
  for (uint16_t sport = 1000; sport < 1400; ++sport)
    ++seen[h.run(to_vip(kVip, sport, 80).build()).out[5]];
  REQUIRE(seen.size() == 2);
  for (const auto& [m, n] : seen) CHECK(n > 120);
  CHECK(h.balanced());
}

TEST_CASE("pipeline6: NAT66 translates both ways with valid checksums", "[pipeline][ipv6]") {
  Harness h;
  const Result fwd = h.run(to_vip(kVip, 40001, 8080).build());
  REQUIRE(fwd.verdict.action == Action::transmit);
  CHECK(at(fwd.out, 14 + 24) == ip6("fd00:1::11"));
  CHECK(port_at(fwd.out, 14 + 40 + 2) == 8080);
  CHECK(fwd.out[14 + 7] == 63);  // hop limit 64 - 1
  CHECK(shoal::test::ipv6_checksums_valid(fwd.out));

  PacketBuilder reply;
  reply.eth(mac(0x12), kOurMac).ipv6(ip6("fd00:1::11"), kClient).tcp(8080, 40001, 0x12).payload(7);
  const Result back = h.run(reply.build());
  REQUIRE(back.verdict.action == Action::transmit);
  CHECK(at(back.out, 14 + 8) == kVip);
  CHECK(port_at(back.out, 14 + 40) == 8080);
  const rte_ether_addr to = eth_dst(back.out);
  CHECK(rte_is_same_ether_addr(&to, &kClientMac));
  CHECK(shoal::test::ipv6_checksums_valid(back.out));
  CHECK(h.balanced());
}

TEST_CASE("pipeline6: TUN encapsulates IPv6 in IPv6, and IPv4 in IPv6", "[pipeline][ipv6]") {
  Harness h;
  const Bytes in = to_vip(kTunVip, 40002, 80).build();
  const Result r = h.run(in);
  REQUIRE(r.verdict.action == Action::transmit);
  REQUIRE(r.out.size() == in.size() + kIpv6TunnelOverhead);
  CHECK(r.out[14 + 6] == kIpProtoIpv6);  // next header 41
  CHECK(at(r.out, 14 + 8) == kLocal);
  CHECK(at(r.out, 14 + 24) == ip6("fd00::13"));
  CHECK(Bytes(r.out.begin() + 54, r.out.end()) == Bytes(in.begin() + 14, in.end()));

  PacketBuilder v4;
  v4.eth(kClientMac, kOurMac).ipv4(ipv4(10, 0, 0, 1), kVip4).tcp(40003, 80).payload(10);
  const Bytes in4 = v4.build();
  const Result r4 = h.run(in4);
  REQUIRE(r4.verdict.action == Action::transmit);
  CHECK(r4.out[12] == 0x86);
  CHECK(r4.out[13] == 0xdd);
  CHECK(r4.out[14 + 6] == kIpProtoIpip);  // next header 4
  CHECK(at(r4.out, 14 + 24) == ip6("fd00::14"));
  CHECK(Bytes(r4.out.begin() + 54, r4.out.end()) == Bytes(in4.begin() + 14, in4.end()));
  CHECK(h.balanced());
}

TEST_CASE("pipeline6: what goes to the control plane, and what is dropped", "[pipeline][ipv6]") {
  Harness h;
  auto verdict = [&](const Bytes& f) { return h.run(f).verdict; };
  PacketBuilder ns;
  ns.eth(kClientMac, kOurMac).ipv6(kClient, ip6("ff02::1:ff00:2")).icmpv6(135).payload(20);
  CHECK(verdict(ns.build()) == Verdict::control(ControlReason::neighbour_discovery));
  PacketBuilder echo;
  echo.eth(kClientMac, kOurMac).ipv6(kClient, kVip).icmpv6(128).payload(8);
  CHECK(verdict(echo.build()) == Verdict::control(ControlReason::local));
  PacketBuilder local;
  local.eth(kClientMac, kOurMac).ipv6(kClient, kLocal).tcp(40000, 22);
  CHECK(verdict(local.build()) == Verdict::control(ControlReason::local));
  // A NAT66 hop would expire it: the sender gets Time Exceeded from the control plane.
  CHECK(verdict(to_vip(kVip, 40004, 8080).ttl(1).build()) ==
        Verdict::control(ControlReason::ttl_exceeded));
  // Too big for the tunnel: Packet Too Big, never fragmented.
  CHECK(verdict(to_vip(kTunVip, 40005, 80).payload(1500 - 60).build()) ==
        Verdict::control(ControlReason::frag_needed));
  CHECK(verdict(to_vip(kVip, 40006, 443).build()) == Verdict::drop(DropReason::vip_port_unknown));
  CHECK(verdict(to_vip(ip6("fd00::999"), 40007, 80).build()) ==
        Verdict::drop(DropReason::not_for_us));
  CHECK(verdict(to_vip(kVip, 40008, 80).ipv6_ext(44, 8, 0, true).build()) ==
        Verdict::drop(DropReason::ipv6_fragment));
  CHECK(h.balanced());
}

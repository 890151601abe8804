// The entry point the workers call, end to end over real mbufs: classification, scheduling,
// flow pinning, each forwarding mode, hand-offs to the control plane, drops, and counters
// that balance.
#include <catch2/catch.hpp>

#include <rte_mbuf.h>

#include <map>
#include <random>
#include <set>

#include "dataplane/forward.h"
#include "packet_builder.h"
#include "dataplane/pipeline.h"

using namespace shoal::dp;
using shoal::test::Bytes;
using shoal::test::mac;
using shoal::test::PacketBuilder;

namespace {

constexpr uint32_t kClient = ipv4(10, 0, 0, 1);
constexpr uint32_t kLocal = ipv4(10, 0, 0, 2);
constexpr uint32_t kVip = ipv4(10, 0, 0, 100);
constexpr uint32_t kTunVip = ipv4(10, 0, 0, 101);
const rte_ether_addr kOurMac = mac(2);  // PacketBuilder's default destination
const rte_ether_addr kClientMac = mac(1);

rte_mempool* pool() {
  static rte_mempool* p = rte_pktmbuf_pool_create("unit_pipeline", 8191, 256, 0,
                                                  RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  return p;
}

// Backends by stable id; next hop i+1 is backend i's neighbour, next hop 0 the client.
struct BackendDef {
  uint32_t ip;
  uint16_t port;
};
const BackendDef kBackends[] = {
    {ipv4(10, 0, 0, 11), 80}, {ipv4(10, 0, 0, 12), 80}, {ipv4(10, 0, 0, 13), 80},  // DR 0-2
    {ipv4(10, 0, 1, 11), 8080}, {ipv4(10, 0, 1, 12), 8080},                         // NAT 3-4
    {ipv4(10, 0, 2, 11), 80},                                                       // TUN 5
    {ipv4(10, 0, 0, 11), 53}, {ipv4(10, 0, 0, 12), 53},                             // UDP 6-7
    // Multi-port services' backends keep each packet's port (0).
    {ipv4(10, 0, 0, 14), 0}, {ipv4(10, 0, 0, 15), 0},  // DR on listed ports 8-9
    {ipv4(10, 0, 1, 13), 0}, {ipv4(10, 0, 1, 14), 0},  // NAT on every port 10-11
    {ipv4(10, 0, 0, 16), 0},                           // UDP on every port 12
};

BackendSpec backend(uint16_t id, uint32_t weight = 1) {
  BackendSpec b;
  b.id = id;
  b.ip = kBackends[id].ip;
  b.port = be16(kBackends[id].port);
  b.weight = weight;
  b.next_hop = id + 1u;
  return b;
}

SnapshotSpec lab_spec() {
  SnapshotSpec s;
  s.ports.push_back({kOurMac, kLocal, 1500, {}});
  s.next_hops.push_back({0, true, kClientMac});
  for (uint16_t id = 0; id < std::size(kBackends); ++id)
    s.next_hops.push_back({0, true, mac(static_cast<uint8_t>(0x10 + id))});
  s.routes.push_back({kClient, 32, 0});
  s.local_addresses.push_back(kLocal);

  ServiceSpec dr{kVip, be16(80), kIpProtoTcp, ForwardMode::dr, HashOn::five_tuple, 65537, {}};
  dr.backends = {backend(0), backend(1), backend(2)};
  ServiceSpec nat{kVip, be16(8080), kIpProtoTcp, ForwardMode::nat, HashOn::five_tuple, 65537, {}};
  nat.backends = {backend(3), backend(4)};
  ServiceSpec tun{kTunVip, be16(80), kIpProtoTcp, ForwardMode::tun, HashOn::five_tuple, 65537, {}};
  tun.backends = {backend(5)};
  ServiceSpec udp{kVip, be16(53), kIpProtoUdp, ForwardMode::dr, HashOn::source_address, 65537, {}};
  udp.backends = {backend(6), backend(7)};
  s.services = {dr, nat, tun, udp};
  return s;
}

struct Result {
  Verdict verdict;
  Bytes out;
};

class Harness {
 public:
  explicit Harness(SnapshotSpec spec = lab_spec(), uint32_t flows = 4096) : flows_(flows) {
    publish(spec);
  }
  void publish(const SnapshotSpec& spec) {
    std::string error;
    snap_ = Snapshot::build(spec, &error);
    INFO(error);
    REQUIRE(snap_);
  }

  std::vector<Result> run(const std::vector<Bytes>& frames, uint16_t port = 0) {
    std::vector<rte_mbuf*> mbufs;
    for (const Bytes& f : frames) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool());
      REQUIRE(m != nullptr);
      char* data = rte_pktmbuf_append(m, static_cast<uint16_t>(f.size()));
      REQUIRE((data != nullptr || f.empty()));
      if (!f.empty()) std::memcpy(data, f.data(), f.size());
      m->port = port;
      mbufs.push_back(m);
    }
    std::vector<Verdict> verdicts(frames.size());
    process_burst(mbufs.data(), static_cast<uint16_t>(mbufs.size()),
                  {*snap_, flows_, counters_, scheduler_, now_ms}, verdicts.data());
    std::vector<Result> results;
    for (std::size_t i = 0; i < mbufs.size(); ++i) {
      const auto* d = rte_pktmbuf_mtod(mbufs[i], const uint8_t*);
      results.push_back({verdicts[i], Bytes(d, d + rte_pktmbuf_data_len(mbufs[i]))});
      rte_pktmbuf_free(mbufs[i]);
    }
    return results;
  }
  Result run1(const Bytes& frame, uint16_t port = 0) { return run({frame}, port)[0]; }

  bool balanced() const {
    return counters_.rx.get() ==
           counters_.tx.get() + counters_.dropped() + counters_.to_control();
  }

  FlowTable& flows() { return flows_; }
  WorkerCounters& counters() { return counters_; }
  WorkerScheduler& scheduler() { return scheduler_; }
  uint32_t now_ms = 1000;

 private:
  std::unique_ptr<Snapshot> snap_;
  FlowTable flows_;
  WorkerCounters counters_;
  WorkerScheduler scheduler_{flows_.connections()};
};

rte_ether_addr dst_mac(const Bytes& f) {
  rte_ether_addr a;
  std::memcpy(a.addr_bytes, f.data(), 6);
  return a;
}
uint32_t load32(const Bytes& f, std::size_t at) {
  uint32_t v;
  std::memcpy(&v, f.data() + at, 4);
  return v;
}
uint16_t load16(const Bytes& f, std::size_t at) {
  uint16_t v;
  std::memcpy(&v, f.data() + at, 2);
  return v;
}
// Which DR backend (by MAC) a transmitted frame went to.
int backend_of(const Bytes& f) { return dst_mac(f).addr_bytes[5] - 0x10; }

PacketBuilder to_vip(uint16_t sport, uint16_t dport = 80, uint8_t flags = kTcpSynFlag,
                     uint32_t client = kClient) {
  return PacketBuilder().eth(kClientMac, kOurMac).ipv4(client, kVip).tcp(sport, dport, flags);
}

std::string verdict_text(const Verdict& v) {
  switch (v.action) {
    case Action::transmit:
      return "transmit";
    case Action::drop:
      return "drop " + std::string(name(v.drop_reason()));
    case Action::to_control:
      return "control " + std::string(name(v.control_reason()));
  }
  return "?";
}

// A NAT reply on its way to the client: from VIP:port again, one hop further, checksums right.
void check_translated_back(const Result& back, uint32_t vip, uint16_t port) {
  REQUIRE(verdict_text(back.verdict) == "transmit");
  CHECK(load32(back.out, 14 + 12) == vip);
  CHECK(load16(back.out, 34) == be16(port));
  CHECK(dst_mac(back.out).addr_bytes[5] == kClientMac.addr_bytes[5]);
  CHECK(back.out[14 + 8] == 63);
  CHECK(shoal::test::ipv4_checksums_valid(back.out));
}

}  // namespace

TEST_CASE("pipeline: DR forwards to a backend by MAC and leaves the datagram alone", "[pipeline]") {
  Harness h;
  Bytes in = to_vip(40000).payload(20).build();
  Result r = h.run1(in);
  REQUIRE(verdict_text(r.verdict) == "transmit");
  CHECK(r.verdict.tx_port == 0);
  int b = backend_of(r.out);
  CHECK((b >= 0 && b <= 2));
  CHECK(std::equal(r.out.begin() + 6, r.out.begin() + 12, kOurMac.addr_bytes));
  CHECK(std::equal(r.out.begin() + 12, r.out.end(), in.begin() + 12));
  CHECK(h.counters().flows_created.get() == 1);
  CHECK(h.balanced());
}

TEST_CASE("pipeline: a flow stays on its backend; flows spread over all backends", "[pipeline]") {
  Harness h;
  std::map<int, int> share;
  for (uint16_t sport = 1000; sport < 4000; ++sport) {
    int first = backend_of(h.run1(to_vip(sport).build()).out);
    share[first]++;
    for (uint8_t flags : {kTcpAckFlag, uint8_t(kTcpAckFlag | 0x08), kTcpFinFlag})
      REQUIRE(backend_of(h.run1(to_vip(sport, 80, flags).build()).out) == first);
  }
  REQUIRE(share.size() == 3);
  for (auto [b, n] : share) CHECK(std::abs(n - 1000) < 150);  // 3000 flows over 3 equal backends
  CHECK(h.counters().flows_created.get() == 3000);
  CHECK(h.flows().size() == 3000);
  CHECK(h.balanced());
}

TEST_CASE("pipeline: new and existing flows across backend changes", "[pipeline]") {
  Harness h;
  std::map<uint16_t, int> pinned;
  for (uint16_t sport = 1000; sport < 1600; ++sport)
    pinned[sport] = backend_of(h.run1(to_vip(sport).build()).out);

  SECTION("drained (weight 0): keeps its flows, gets no new ones") {
    SnapshotSpec spec = lab_spec();
    spec.services[0].backends[1].weight = 0;
    h.publish(spec);
    for (auto [sport, b] : pinned) REQUIRE(backend_of(h.run1(to_vip(sport, 80, kTcpAckFlag).build()).out) == b);
    for (uint16_t sport = 5000; sport < 5600; ++sport) REQUIRE(backend_of(h.run1(to_vip(sport).build()).out) != 1);
    CHECK(h.counters().flows_rescheduled.get() == 0);
  }
  SECTION("health down: its flows are rescheduled, others stay") {
    SnapshotSpec spec = lab_spec();
    spec.services[0].backends[1].healthy = false;
    h.publish(spec);
    int moved = 0;
    for (auto [sport, b] : pinned) {
      int now = backend_of(h.run1(to_vip(sport, 80, kTcpAckFlag).build()).out);
      REQUIRE(now != 1);
      if (b == 1) ++moved; else REQUIRE(now == b);
    }
    CHECK(moved > 0);
    CHECK(h.counters().flows_rescheduled.get() == static_cast<uint64_t>(moved));
  }
  SECTION("removed from the config: same as down") {
    SnapshotSpec spec = lab_spec();
    spec.services[0].backends.erase(spec.services[0].backends.begin() + 2);
    h.publish(spec);
    for (auto [sport, b] : pinned) {
      int now = backend_of(h.run1(to_vip(sport, 80, kTcpAckFlag).build()).out);
      REQUIRE(now != 2);
      if (b != 2) REQUIRE(now == b);
    }
  }
  SECTION("a backend added: pinned flows stay where they are") {
    SnapshotSpec spec = lab_spec();
    BackendSpec extra = backend(0);
    extra.id = 20;
    extra.ip = ipv4(10, 0, 0, 14);
    spec.services[0].backends.push_back(extra);
    h.publish(spec);
    for (auto [sport, b] : pinned) REQUIRE(backend_of(h.run1(to_vip(sport, 80, kTcpAckFlag).build()).out) == b);
  }
  SECTION("every backend down: no_backend") {
    SnapshotSpec spec = lab_spec();
    for (BackendSpec& b : spec.services[0].backends) b.healthy = false;
    h.publish(spec);
    CHECK(verdict_text(h.run1(to_vip(1000, 80, kTcpAckFlag).build()).verdict) == "drop no_backend");
    CHECK(verdict_text(h.run1(to_vip(9999).build()).verdict) == "drop no_backend");
  }
  CHECK(h.balanced());
}

TEST_CASE("pipeline: a backend counts the flows scheduled to it, not ICMP errors", "[pipeline]") {
  Harness h;
  auto new_flows = [&h](int id) {
    return h.counters().backends[static_cast<std::size_t>(id)].new_flows.get();
  };
  auto all_new_flows = [&] { return new_flows(0) + new_flows(1) + new_flows(2); };
  const int b = backend_of(h.run1(to_vip(1000).build()).out);
  CHECK(new_flows(b) == 1);
  h.run1(to_vip(1000, 80, kTcpAckFlag).build());
  CHECK(all_new_flows() == 1);

  SECTION("a reused 5-tuple is a new flow") {
    h.run1(to_vip(1000, 80, kTcpFinFlag | kTcpAckFlag).build());
    REQUIRE(verdict_text(h.run1(to_vip(1000).build()).verdict) == "transmit");
    CHECK(all_new_flows() == 2);
    CHECK(h.counters().flows_created.get() == 2);
  }
  SECTION("a rescheduled flow counts on its new backend") {
    SnapshotSpec spec = lab_spec();
    spec.services[0].backends[static_cast<std::size_t>(b)].healthy = false;
    h.publish(spec);
    const int now = backend_of(h.run1(to_vip(1000, 80, kTcpAckFlag).build()).out);
    REQUIRE(now != b);
    CHECK(new_flows(b) == 1);
    CHECK(new_flows(now) == 1);
    CHECK(h.counters().flows_rescheduled.get() == 1);
  }
  SECTION("an ICMP error about no flow reaches a backend, which gets no flow from it") {
    Bytes quoted = PacketBuilder().ipv4(kVip, kClient).tcp(80, 2000, kTcpAckFlag).build_l3();
    Bytes icmp = PacketBuilder().eth(mac(0x99), kOurMac).ipv4(ipv4(192, 0, 2, 1), kVip).icmp(3, 4)
                     .payload(quoted).build();
    REQUIRE(verdict_text(h.run1(icmp).verdict) == "transmit");
    CHECK(all_new_flows() == 1);
    CHECK(h.counters().flows_created.get() == 1);
  }
  SECTION("no backend: nothing counted") {
    SnapshotSpec spec = lab_spec();
    for (BackendSpec& d : spec.services[0].backends) d.healthy = false;
    h.publish(spec);
    REQUIRE(verdict_text(h.run1(to_vip(3000).build()).verdict) == "drop no_backend");
    REQUIRE(verdict_text(h.run1(to_vip(1000, 80, kTcpAckFlag).build()).verdict) ==
            "drop no_backend");
    CHECK(all_new_flows() == 1);
    CHECK(h.counters().flows_rescheduled.get() == 0);
  }
  CHECK(h.balanced());
}

TEST_CASE("pipeline: Maglev makes two workers (or directors) agree without shared state", "[pipeline]") {
  Harness a, b;
  for (uint16_t sport = 1; sport < 2000; ++sport) {
    Bytes f = to_vip(sport, 80, kTcpAckFlag).build();  // mid-stream: no SYN seen by either
    REQUIRE(backend_of(a.run1(f).out) == backend_of(b.run1(f).out));
  }
}

TEST_CASE("pipeline: source-address hashing sends every flow of a client to one backend", "[pipeline]") {
  Harness h;
  std::set<int> per_client[8];
  for (uint8_t c = 0; c < 8; ++c)
    for (uint16_t sport = 1000; sport < 1100; ++sport) {
      Bytes f = PacketBuilder().eth(kClientMac, kOurMac).ipv4(ipv4(10, 0, 5, c), kVip)
                    .udp(sport, 53).payload(8).build();
      Result r = h.run1(f);
      REQUIRE(r.verdict.action == Action::transmit);
      per_client[c].insert(backend_of(r.out));
    }
  std::set<int> used;
  for (auto& s : per_client) {
    CHECK(s.size() == 1);
    used.insert(*s.begin());
  }
  CHECK(used.size() == 2);  // 8 clients over 2 backends: both in use
}

TEST_CASE("pipeline: NAT translates both directions", "[pipeline]") {
  Harness h;
  Bytes in = to_vip(40000, 8080).ttl(64).payload(30).build();
  Result fwd = h.run1(in);
  REQUIRE(verdict_text(fwd.verdict) == "transmit");
  uint32_t rip = load32(fwd.out, 14 + 16);
  CHECK((rip == kBackends[3].ip || rip == kBackends[4].ip));
  CHECK(load16(fwd.out, 34 + 2) == be16(8080));
  CHECK(fwd.out[14 + 8] == 63);
  CHECK(shoal::test::ipv4_checksums_valid(fwd.out));

  // The reply, as the backend sends it, may reach any worker: a fresh flow table translates it.
  Harness other;
  Bytes reply = PacketBuilder().eth(mac(0x13), kOurMac).ipv4(rip, kClient)
                    .tcp(8080, 40000, kTcpSynFlag | kTcpAckFlag).payload(10).build();
  check_translated_back(other.run1(reply), kVip, 8080);

  SECTION("TTL 1 goes to the control plane for ICMP time-exceeded") {
    CHECK(verdict_text(h.run1(to_vip(40001, 8080).ttl(1).build()).verdict) == "control ttl_exceeded");
    CHECK(verdict_text(other.run1(PacketBuilder().eth(mac(0x13), kOurMac).ipv4(rip, kClient)
                                      .tcp(8080, 40000, kTcpAckFlag).ttl(1).build()).verdict) ==
          "control ttl_exceeded");
  }
  SECTION("a reply to a client without a route is dropped") {
    Bytes lost = PacketBuilder().eth(mac(0x13), kOurMac).ipv4(rip, ipv4(192, 0, 2, 1))
                     .tcp(8080, 40000, kTcpAckFlag).build();
    CHECK(verdict_text(other.run1(lost).verdict) == "drop no_route");
  }
}

TEST_CASE("pipeline: TUN encapsulates towards the backend", "[pipeline]") {
  Harness h;
  Bytes in = PacketBuilder().eth(kClientMac, kOurMac).ipv4(kClient, kTunVip).df().tcp(40000, 80)
                 .payload(100).pad(0).build();
  Result r = h.run1(in);
  REQUIRE(verdict_text(r.verdict) == "transmit");
  REQUIRE(r.out.size() == in.size() + 20);
  CHECK(r.out[14] == 0x45);
  CHECK(r.out[14 + 9] == kIpProtoIpip);
  CHECK(load32(r.out, 14 + 12) == kLocal);
  CHECK(load32(r.out, 14 + 16) == kBackends[5].ip);
  CHECK(std::equal(r.out.begin() + 34, r.out.end(), in.begin() + 14));
  CHECK(shoal::test::ipv4_checksums_valid(r.out));

  SECTION("Ethernet padding is not encapsulated") {
    Bytes small = PacketBuilder().eth(kClientMac, kOurMac).ipv4(kClient, kTunVip).tcp(40001, 80)
                      .pad(6).build();
    Result p = h.run1(small);
    REQUIRE(p.verdict.action == Action::transmit);
    CHECK(p.out.size() == small.size() - 6 + 20);
  }
  SECTION("over the MTU with DF: frag_needed to the control plane; without DF: dropped") {
    Bytes big_df = PacketBuilder().eth(kClientMac, kOurMac).ipv4(kClient, kTunVip).df()
                       .tcp(40002, 80).payload(1500 - 40 - 19).build();  // 1481 + 20 > 1500
    CHECK(verdict_text(h.run1(big_df).verdict) == "control frag_needed");
    Bytes big = PacketBuilder().eth(kClientMac, kOurMac).ipv4(kClient, kTunVip)
                    .tcp(40003, 80).payload(1500 - 40 - 19).build();
    CHECK(verdict_text(h.run1(big).verdict) == "drop tun_over_mtu");
    Bytes fits = PacketBuilder().eth(kClientMac, kOurMac).ipv4(kClient, kTunVip).df()
                     .tcp(40004, 80).payload(1500 - 40 - 20).build();
    CHECK(verdict_text(h.run1(fits).verdict) == "transmit");
  }
  CHECK(h.balanced());
}

TEST_CASE("pipeline: frames the dataplane does not forward get their verdict", "[pipeline]") {
  Harness h;
  struct Case {
    const char* what;
    Bytes frame;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"ARP", PacketBuilder().eth(kClientMac, {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}).arp().build(),
       "control arp"},
      {"VRRP advertisement",
       PacketBuilder().eth(kClientMac, {{0x01, 0, 0x5e, 0, 0, 0x12}}).ipv4(kClient, ipv4(224, 0, 0, 18))
           .ip_proto(kIpProtoVrrp).payload(20).ttl(255).build(),
       "control vrrp"},
      {"ICMP echo to a VIP", PacketBuilder().eth(kClientMac, kOurMac).ipv4(kClient, kVip).icmp(8).build(),
       "control local"},
      {"TCP to a local address",
       PacketBuilder().eth(kClientMac, kOurMac).ipv4(kClient, kLocal).tcp(1, 22).build(), "control local"},
      {"ICMP error about a service flow: to its backend",
       PacketBuilder().eth(kClientMac, kOurMac).ipv4(ipv4(192, 0, 2, 9), kVip).icmp(3, 4)
           .payload(PacketBuilder().ipv4(kVip, kClient).tcp(80, 40000).build_l3()).build(),
       "transmit"},
      {"ICMP echo request to a VIP",
       PacketBuilder().eth(kClientMac, kOurMac).ipv4(kClient, kVip).icmp(8).build(), "control local"},
      {"ICMP error to nobody we know",
       PacketBuilder().eth(kClientMac, kOurMac).ipv4(ipv4(192, 0, 2, 9), ipv4(10, 9, 9, 9)).icmp(3, 4)
           .payload(PacketBuilder().ipv4(kVip, kClient).tcp(80, 40000).build_l3()).build(),
       "control icmp_error"},
      {"VIP on a port without a service", to_vip(1, 443).build(), "drop vip_port_unknown"},
      {"UDP to the TCP-only VIP port",
       PacketBuilder().eth(kClientMac, kOurMac).ipv4(kClient, kVip).udp(1, 80).build(),
       "drop vip_port_unknown"},
      {"another host's unicast MAC", PacketBuilder().eth(kClientMac, mac(0x77)).ipv4(kClient, kVip)
                                         .tcp(1, 80).build(),
       "drop not_our_mac"},
      {"address that is none of ours",
       PacketBuilder().eth(kClientMac, kOurMac).ipv4(kClient, ipv4(10, 9, 9, 9)).tcp(1, 80).build(),
       "drop not_for_us"},
      {"first fragment to a service", to_vip(1).fragment(true, 0).payload(64).build(),
       "drop ipv4_fragment"},
      {"later fragment to a service",
       PacketBuilder().eth(kClientMac, kOurMac).ipv4(kClient, kVip).ip_proto(kIpProtoTcp)
           .payload(64).fragment(false, 8).build(),
       "drop ipv4_fragment"},
      {"IPv6", PacketBuilder().eth(kClientMac, kOurMac).ipv6().tcp(1, 80).build(), "drop ipv6_no_service"},
      {"malformed IPv4", to_vip(1).ihl(4).build(), "drop ipv4_bad_ihl"},
      {"TTL 0", to_vip(1).ttl(0).build(), "drop ttl_zero"},
      {"DR forwards TTL 1 unchanged (no routed hop)", to_vip(2).ttl(1).build(), "transmit"},
  };
  std::vector<Bytes> burst;
  for (const Case& c : cases) burst.push_back(c.frame);
  std::vector<Result> results = h.run(burst);  // all in one burst, as a worker would see them
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO(cases[i].what);
    CHECK(verdict_text(results[i].verdict) == cases[i].expected);
  }
  CHECK(h.counters().rx.get() == cases.size());
  CHECK(h.counters().drops[static_cast<int>(DropReason::not_our_mac)].get() == 1);
  CHECK(h.counters().control[static_cast<int>(ControlReason::arp)].get() == 1);
  CHECK(h.balanced());
}

TEST_CASE("pipeline: unresolved neighbours and unknown ports", "[pipeline]") {
  SnapshotSpec spec = lab_spec();
  for (std::size_t i = 1; i < spec.next_hops.size(); ++i) spec.next_hops[i].resolved = false;
  Harness h(spec);
  CHECK(verdict_text(h.run1(to_vip(1).build()).verdict) == "drop neighbour_unresolved");
  CHECK(verdict_text(h.run1(to_vip(1).build(), 7).verdict) == "drop unknown_port");
  CHECK(h.balanced());
}

TEST_CASE("pipeline: a VRRP backup drops what another director holds", "[pipeline][vrrp]") {
  constexpr uint32_t kGateway = ipv4(10, 0, 0, 254);  // an extra VRRP address, held elsewhere
  const rte_ether_addr vmac = mac(0x51);                // stands for a virtual MAC
  SnapshotSpec spec = lab_spec();
  for (ServiceSpec& s : spec.services)
    if (s.vip == kVip) s.owned = false;
  spec.unowned_addresses.push_back(kGateway);
  Harness h(spec);
  CHECK(verdict_text(h.run1(to_vip(1).build()).verdict) == "drop vip_not_owned");
  CHECK(verdict_text(h.run1(to_vip(1, 9999).build()).verdict) == "drop vip_not_owned");
  CHECK(verdict_text(h.run1(PacketBuilder().eth(kClientMac, kOurMac).ipv4(kClient, kVip)
                                .icmp(8).payload(8).build())
                         .verdict) == "drop vip_not_owned");
  CHECK(verdict_text(h.run1(PacketBuilder().eth(kClientMac, kOurMac).ipv4(kClient, kGateway)
                                .icmp(8).payload(8).build())
                         .verdict) == "drop vip_not_owned");
  // A NAT reply of a service we do not hold: the master translates it, not us.
  Bytes reply = PacketBuilder().eth(mac(0x13), kOurMac).ipv4(kBackends[3].ip, kClient)
                    .tcp(8080, 40000, kTcpAckFlag).build();
  CHECK(verdict_text(h.run1(reply).verdict) == "drop vip_not_owned");
  // The TUN VIP is in no instance: still ours.
  CHECK(verdict_text(h.run1(PacketBuilder().eth(kClientMac, kOurMac).ipv4(kClient, kTunVip)
                                .tcp(1, 80).build())
                         .verdict) == "transmit");
  // Frames to the virtual MAC are someone else's until we are master.
  CHECK(verdict_text(h.run1(PacketBuilder().eth(kClientMac, vmac).ipv4(kClient, kTunVip)
                                .tcp(2, 80).build())
                         .verdict) == "drop not_our_mac");
  CHECK(h.balanced());

  SnapshotSpec master = lab_spec();
  master.ports[0].extra_macs.push_back(vmac);
  master.local_addresses.push_back(kGateway);
  h.publish(master);
  CHECK(verdict_text(h.run1(PacketBuilder().eth(kClientMac, vmac).ipv4(kClient, kVip)
                                .tcp(3, 80).build())
                         .verdict) == "transmit");
  CHECK(verdict_text(h.run1(PacketBuilder().eth(kClientMac, vmac).ipv4(kClient, kGateway)
                                .icmp(8).payload(8).build())
                         .verdict) == "control local");
  CHECK(h.balanced());
}

TEST_CASE("pipeline: counters balance over random traffic in large bursts", "[pipeline]") {
  Harness h;
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> pick(0, 9);
  for (int round = 0; round < 50; ++round) {
    std::vector<Bytes> burst;
    for (int i = 0; i < 100; ++i) {  // more than kMaxBurst: processed in chunks
      uint16_t sport = static_cast<uint16_t>(rng());
      switch (pick(rng)) {
        case 0: burst.push_back(to_vip(sport).ihl(3).build()); break;
        case 1: burst.push_back(PacketBuilder().eth(kClientMac, kOurMac).arp().build()); break;
        case 2: burst.push_back(to_vip(sport, 8080).build()); break;
        case 3: burst.push_back(to_vip(sport, 443).build()); break;
        case 4: burst.push_back(Bytes(10, 0)); break;
        default: burst.push_back(to_vip(sport, 80, kTcpAckFlag).build()); break;
      }
    }
    h.run(burst);
    h.now_ms += 100;
  }
  CHECK(h.counters().rx.get() == 5000);
  CHECK(h.balanced());
}

TEST_CASE("snapshot: inconsistent specs are refused with a reason", "[pipeline]") {
  std::string error;
  SECTION("duplicate service") {
    SnapshotSpec s = lab_spec();
    s.services.push_back(s.services[0]);
    CHECK(Snapshot::build(s, &error) == nullptr);
    CHECK(error.find("duplicate service 10.0.0.100:80") != std::string::npos);
  }
  SECTION("NAT backend shared by two NAT services") {
    SnapshotSpec s = lab_spec();
    ServiceSpec again = s.services[1];
    again.port = be16(8081);
    for (BackendSpec& b : again.backends) b.id = static_cast<uint16_t>(b.id + 100);
    s.services.push_back(again);
    CHECK(Snapshot::build(s, &error) == nullptr);
    CHECK(error.find("more than one NAT service") != std::string::npos);
  }
  SECTION("backend id reused") {
    SnapshotSpec s = lab_spec();
    s.services[1].backends[0].id = 0;
    CHECK(Snapshot::build(s, &error) == nullptr);
    CHECK(error.find("used twice") != std::string::npos);
  }
  SECTION("Maglev size not prime") {
    SnapshotSpec s = lab_spec();
    s.services[0].maglev_size = 65536;
    CHECK(Snapshot::build(s, &error) == nullptr);
    CHECK(error.find("prime") != std::string::npos);
  }
  SECTION("VIP that is a local address") {
    SnapshotSpec s = lab_spec();
    s.local_addresses.push_back(kVip);
    CHECK(Snapshot::build(s, &error) == nullptr);
    CHECK(error.find("local address") != std::string::npos);
  }
}

TEST_CASE("pipeline: ICMP errors about a flow reach the backend that owns it", "[pipeline]") {
  Harness h;
  // A router on the client's path tells the VIP that a reply (VIP:port → client) needs a
  // smaller MTU. The backend that owns the client's flow sent that reply.
  auto icmp_about = [](uint16_t vport, uint16_t cport) {
    Bytes quoted = PacketBuilder().ipv4(kVip, kClient).df().tcp(vport, cport, kTcpAckFlag)
                       .payload(1400).build_l3();
    quoted.resize(20 + 20 + 8);  // the IP header, the TCP header, 8 bytes of data
    return PacketBuilder().eth(mac(0x99), kOurMac).ipv4(ipv4(192, 0, 2, 1), kVip).icmp(3, 4)
        .payload(quoted).build();
  };

  SECTION("DR: forwarded unchanged to the flow's backend") {
    for (uint16_t cport = 41000; cport < 41100; ++cport) {
      int owner = backend_of(h.run1(to_vip(cport).build()).out);
      Bytes icmp = icmp_about(80, cport);
      Result r = h.run1(icmp);
      REQUIRE(verdict_text(r.verdict) == "transmit");
      CHECK(backend_of(r.out) == owner);
      CHECK(std::equal(r.out.begin() + 12, r.out.end(), icmp.begin() + 12));
    }
  }
  SECTION("NAT: outer destination and quoted source become the backend's") {
    Result fwd = h.run1(to_vip(42000, 8080).build());
    uint32_t rip = load32(fwd.out, 14 + 16);
    Result r = h.run1(icmp_about(8080, 42000));
    REQUIRE(verdict_text(r.verdict) == "transmit");
    CHECK(load32(r.out, 14 + 16) == rip);                   // outer destination
    constexpr std::size_t kQuote = 14 + 20 + 8;             // quoted IP header
    CHECK(load32(r.out, kQuote + 12) == rip);               // quoted source address
    CHECK(load16(r.out, kQuote + 20) == be16(kBackends[rip == kBackends[3].ip ? 3 : 4].port));
    CHECK(shoal::test::ipv4_checksums_valid(r.out));        // outer IP and ICMP checksums
    Bytes quoted(r.out.begin() + kQuote, r.out.begin() + kQuote + 20);
    uint32_t sum = 0;
    for (std::size_t k = 0; k < 20; k += 2) sum += uint32_t(quoted[k]) << 8 | quoted[k + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    CHECK(sum == 0xffff);  // quoted IP header checksum still right
  }
  SECTION("NAT: an error from the backend reaches the client as from VIP:vport") {
    // The backend (or a router on its side) answers the datagram it received, as DNAT left
    // it, with an error: translated back, the quote is the client's own packet again.
    Bytes in = to_vip(42001, 8080, kTcpAckFlag).ttl(64).payload(30).build();
    Result fwd = h.run1(in);
    REQUIRE(verdict_text(fwd.verdict) == "transmit");
    uint32_t rip = load32(fwd.out, 14 + 16);
    Bytes received(fwd.out.begin() + 14, fwd.out.end());
    for (uint8_t type : {uint8_t{3}, uint8_t{11}}) {
      Bytes icmp = PacketBuilder().eth(mac(0x13), kOurMac).ipv4(rip, kClient).icmp(type, 3)
                       .payload(received).build();
      Harness other;  // any worker: no flow state needed, as for replies
      Result r = other.run1(icmp);
      REQUIRE(verdict_text(r.verdict) == "transmit");
      CHECK(load32(r.out, 14 + 12) == kVip);  // outer source
      CHECK(load32(r.out, 14 + 16) == kClient);
      CHECK(dst_mac(r.out).addr_bytes[5] == kClientMac.addr_bytes[5]);
      CHECK(r.out[14 + 8] == 63);
      CHECK(shoal::test::ipv4_checksums_valid(r.out));  // outer IP and ICMP
      constexpr std::size_t kQuote = 14 + 20 + 8;
      CHECK(shoal::test::ipv4_checksums_valid(r.out, kQuote));  // quoted IP and TCP
      Bytes quote(r.out.begin() + kQuote, r.out.end());
      Bytes sent(in.begin() + 14, in.end());
      REQUIRE(quote.size() == sent.size());
      quote[8] = sent[8];  // the TTL (DNAT lowered it) and so the header checksum differ
      quote[10] = sent[10];
      quote[11] = sent[11];
      CHECK(quote == sent);
      CHECK(other.balanced());
    }
    SECTION("a backup leaves it to the master") {
      SnapshotSpec s = lab_spec();
      for (ServiceSpec& svc : s.services)
        if (svc.vip == kVip) svc.owned = false;
      Harness backup(s);
      Bytes icmp = PacketBuilder().eth(mac(0x13), kOurMac).ipv4(rip, kClient).icmp(3, 3)
                       .payload(received).build();
      CHECK(verdict_text(backup.run1(icmp).verdict) == "drop vip_not_owned");
    }
    SECTION("TTL 1: handed to the control plane, which answers no error with an error") {
      Bytes icmp = PacketBuilder().eth(mac(0x13), kOurMac).ipv4(rip, kClient).icmp(3, 3)
                       .ttl(1).payload(received).build();
      CHECK(verdict_text(h.run1(icmp).verdict) == "control ttl_exceeded");
    }
  }
  SECTION("an error quoting no service flow goes to the control plane") {
    Bytes quoted = PacketBuilder().ipv4(kVip, kClient).tcp(9999, 1).build_l3();
    Bytes icmp = PacketBuilder().eth(mac(0x99), kOurMac).ipv4(ipv4(192, 0, 2, 1), kVip).icmp(3, 1)
                     .payload(quoted).build();
    CHECK(verdict_text(h.run1(icmp).verdict) == "control icmp_error");
  }
  CHECK(h.balanced());
}

TEST_CASE("pipeline: wrr gives exact ratios by weight, and each flow stays pinned", "[pipeline][scheduler]") {
  SnapshotSpec spec = lab_spec();
  spec.services[0].scheduler = Scheduler::wrr;
  spec.services[0].backends = {backend(0, 1), backend(1, 2), backend(2, 3)};
  Harness h(spec);
  std::map<int, int> n;
  for (uint16_t sport = 1000; sport < 1600; ++sport) {
    const int b = backend_of(h.run1(to_vip(sport).build()).out);
    ++n[b];
    REQUIRE(backend_of(h.run1(to_vip(sport, 80, kTcpAckFlag).build()).out) == b);
  }
  CHECK(n == std::map<int, int>{{0, 100}, {1, 200}, {2, 300}});
  // rr over the same backends ignores the weights.
  spec.services[0].scheduler = Scheduler::rr;
  h.publish(spec);
  n.clear();
  for (uint16_t sport = 2000; sport < 2300; ++sport) ++n[backend_of(h.run1(to_vip(sport).build()).out)];
  CHECK(n == std::map<int, int>{{0, 100}, {1, 100}, {2, 100}});
  CHECK(h.balanced());
}

TEST_CASE("pipeline: lc sends new flows away from a backend holding a connection", "[pipeline][scheduler]") {
  SnapshotSpec spec = lab_spec();
  spec.services[0].scheduler = Scheduler::lc;
  Harness h(spec);
  // Three connections, one on each backend (ties go to the first; each SYN counts at once).
  for (uint16_t sport : {1, 2, 3}) CHECK(backend_of(h.run1(to_vip(sport).build()).out) == sport - 1);
  for (uint16_t sport : {1, 2, 3}) h.run1(to_vip(sport, 80, kTcpAckFlag).build());
  CHECK(h.flows().connections().active(0) == 1);
  // The ones on backends 1 and 2 close: each now weighs 1 against backend 0's 256.
  for (uint16_t sport : {2, 3}) h.run1(to_vip(sport, 80, kTcpFinFlag | kTcpAckFlag).build());
  CHECK(h.flows().connections().active(1) == 0);
  CHECK(h.flows().connections().inactive(1) == 1);
  std::map<int, int> n;
  for (uint16_t sport = 100; sport < 140; ++sport) ++n[backend_of(h.run1(to_vip(sport).build()).out)];
  CHECK(n == std::map<int, int>{{1, 20}, {2, 20}});
  CHECK(h.balanced());
}

TEST_CASE("pipeline: a mid-connection packet of an unknown flow is counted and forwarded", "[pipeline]") {
  Harness h;
  const int b = backend_of(h.run1(to_vip(5000, 80, kTcpAckFlag).build()).out);
  CHECK(b >= 0);
  CHECK(h.counters().flows_midstream.get() == 1);
  h.run1(to_vip(5000, 80, kTcpAckFlag).build());  // known now
  h.run1(to_vip(5001).build());                   // a SYN opens; not mid-connection
  h.run1(to_vip(5002, 80, kTcpRstFlag).build());  // a reset is no connection to carry on
  CHECK(h.counters().flows_midstream.get() == 1);
}

TEST_CASE("pipeline: persistence keeps a client's new flows on one backend, across workers", "[pipeline][scheduler][persistence]") {
  SnapshotSpec spec = lab_spec();
  spec.services[0].scheduler = Scheduler::rr;
  spec.services[0].persistence_timeout_ms = 60'000;
  spec.services[0].persistence_mask = ipv4(255, 255, 255, 0);
  Harness h(spec), peer(spec);
  std::vector<const WorkerScheduler*> peers_of_h{&peer.scheduler()}, peers_of_peer{&h.scheduler()};
  h.scheduler().set_peers(peers_of_h);
  peer.scheduler().set_peers(peers_of_peer);
  // rr would spread these; persistence holds every one on the first one's backend, and so
  // does another address in the same /24.
  const int first = backend_of(h.run1(to_vip(100).build()).out);
  for (uint16_t sport = 101; sport < 130; ++sport)
    REQUIRE(backend_of(h.run1(to_vip(sport).build()).out) == first);
  CHECK(backend_of(h.run1(to_vip(200, 80, kTcpSynFlag, ipv4(10, 0, 0, 77)).build()).out) == first);
  CHECK(h.counters().persistence_hits.get() == 30);
  // The other worker follows the entry its peer made.
  CHECK(backend_of(peer.run1(to_vip(300).build()).out) == first);
  CHECK(peer.counters().persistence_hits.get() == 1);
  // Another /24 gets rr's next choice.
  const int elsewhere = backend_of(h.run1(to_vip(400, 80, kTcpSynFlag, ipv4(10, 0, 9, 1)).build()).out);
  CHECK(elsewhere != first);
  // The backend goes down: the entry no longer applies; the client moves and stays moved.
  SnapshotSpec down = spec;
  down.services[0].backends[static_cast<std::size_t>(first)].healthy = false;
  h.publish(down);
  const int moved = backend_of(h.run1(to_vip(500).build()).out);
  CHECK(moved != first);
  for (uint16_t sport = 501; sport < 510; ++sport)
    CHECK(backend_of(h.run1(to_vip(sport).build()).out) == moved);
  // After the timeout with no activity, the entry is gone.
  h.now_ms += 61'000;
  h.run1(to_vip(600).build());
  CHECK(h.counters().persistence_hits.get() == 39);
}

namespace {

// lab_spec() and, beside its single-port services, multi-port ones on the same VIPs:
// 4: kVip TCP 443 and 9000-9100, DR, with persistence;
// 5: kTunVip TCP every port, NAT (kTunVip's TCP 80 stays with the TUN service);
// 6: kVip UDP every port, DR (kVip's UDP 53 stays with its service).
SnapshotSpec multiport_spec() {
  SnapshotSpec s = lab_spec();
  ServiceSpec listed{kVip, 0, kIpProtoTcp, ForwardMode::dr, HashOn::five_tuple, 65537, {}};
  listed.port_ranges = {{443, 443}, {9000, 9100}};
  listed.persistence_timeout_ms = 300000;
  listed.backends = {backend(8), backend(9)};
  ServiceSpec every{kTunVip, 0, kIpProtoTcp, ForwardMode::nat, HashOn::five_tuple, 65537, {}};
  every.backends = {backend(10), backend(11)};
  ServiceSpec every_udp{kVip, 0, kIpProtoUdp, ForwardMode::dr, HashOn::five_tuple, 65537, {}};
  every_udp.backends = {backend(12)};
  s.services.push_back(listed);
  s.services.push_back(every);
  s.services.push_back(every_udp);
  return s;
}

}  // namespace

TEST_CASE("snapshot: single-port, listed-port and every-port services of one VIP",
          "[pipeline][multiport]") {
  std::string error;
  std::unique_ptr<Snapshot> snap = Snapshot::build(multiport_spec(), &error);
  INFO(error);
  REQUIRE(snap);
  struct Case {
    const char* what;
    uint32_t ip;
    uint16_t port;
    uint8_t proto;
    AddressKind kind;
    uint16_t service;
  };
  const Case cases[] = {
      {"single port", kVip, 80, kIpProtoTcp, AddressKind::service, 0},
      {"a listed port", kVip, 443, kIpProtoTcp, AddressKind::service, 4},
      {"a range's first port", kVip, 9000, kIpProtoTcp, AddressKind::service, 4},
      {"inside a range", kVip, 9050, kIpProtoTcp, AddressKind::service, 4},
      {"a range's last port", kVip, 9100, kIpProtoTcp, AddressKind::service, 4},
      {"past a range", kVip, 9101, kIpProtoTcp, AddressKind::vip_address, 0},
      {"another port of the VIP", kVip, 22, kIpProtoTcp, AddressKind::vip_address, 0},
      {"single port beside an every-port service", kTunVip, 80, kIpProtoTcp,
       AddressKind::service, 2},
      {"any other port of an every-port service", kTunVip, 12345, kIpProtoTcp,
       AddressKind::service, 5},
      {"port 0 itself", kTunVip, 0, kIpProtoTcp, AddressKind::service, 5},
      {"the every-port service's other protocol", kTunVip, 12345, kIpProtoUdp,
       AddressKind::vip_address, 0},
      {"UDP single port", kVip, 53, kIpProtoUdp, AddressKind::service, 3},
      {"UDP every port", kVip, 5353, kIpProtoUdp, AddressKind::service, 6},
      {"ICMP to a VIP with an every-port service", kTunVip, 0, 0, AddressKind::vip_address, 0},
      {"local address", kLocal, 22, kIpProtoTcp, AddressKind::local_address, 0},
      {"nobody", ipv4(10, 9, 9, 9), 443, kIpProtoTcp, AddressKind::unknown, 0},
  };
  std::vector<uint32_t> ips;
  std::vector<uint16_t> ports;
  std::vector<uint8_t> protos;
  for (const Case& c : cases) {
    ips.push_back(c.ip);
    ports.push_back(be16(c.port));
    protos.push_back(c.proto);
  }
  std::vector<AddressKind> kinds(std::size(cases));
  std::vector<uint16_t> index(std::size(cases), 0xeeee);
  snap->classify_bulk(ips.data(), ports.data(), protos.data(), static_cast<uint32_t>(ips.size()),
                      kinds.data(), index.data());
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    const Case& c = cases[i];
    INFO(c.what);
    uint16_t one = 0xeeee;
    CHECK(snap->classify(c.ip, be16(c.port), c.proto, &one) == c.kind);
    CHECK(kinds[i] == c.kind);
    if (c.kind == AddressKind::service) {
      CHECK(one == c.service);
      CHECK(index[i] == c.service);
    }
  }
  // NAT replies of the every-port service come from any port of its backends.
  CHECK(snap->nat_reply_service(kBackends[10].ip, be16(12345), kIpProtoTcp) == 5);
  CHECK(snap->nat_reply_service(kBackends[11].ip, be16(22), kIpProtoTcp) == 5);
  CHECK(snap->nat_reply_service(kBackends[11].ip, be16(22), kIpProtoUdp) == -1);
  CHECK(snap->nat_reply_service(kBackends[3].ip, be16(8080), kIpProtoTcp) == 1);
  CHECK(snap->nat_reply_service(kBackends[3].ip, be16(8081), kIpProtoTcp) == -1);
}

TEST_CASE("snapshot: NAT replies of a listed-port service come from each listed port",
          "[pipeline][multiport]") {
  SnapshotSpec spec = lab_spec();
  ServiceSpec listed{kTunVip, 0, kIpProtoTcp, ForwardMode::nat, HashOn::five_tuple, 65537, {}};
  listed.port_ranges = {{443, 443}, {8000, 8001}};
  listed.backends = {backend(10)};
  spec.services.push_back(listed);
  std::string error;
  std::unique_ptr<Snapshot> snap = Snapshot::build(spec, &error);
  INFO(error);
  REQUIRE(snap);
  for (uint16_t port : {443, 8000, 8001})
    CHECK(snap->nat_reply_service(kBackends[10].ip, be16(port), kIpProtoTcp) == 4);
  CHECK(snap->nat_reply_service(kBackends[10].ip, be16(8002), kIpProtoTcp) == -1);

  SECTION("a backend of a multi-port service has no port of its own") {
    spec.services.back().backends[0].port = be16(443);
    CHECK(Snapshot::build(spec, &error) == nullptr);
    CHECK(error.find("has a port") != std::string::npos);
  }
  SECTION("a port in two services is refused") {
    spec.services.back().port_ranges = {{8079, 8081}};
    spec.services.back().vip = kVip;
    CHECK(Snapshot::build(spec, &error) == nullptr);
    CHECK(error.find("duplicate service 10.0.0.100:8080") != std::string::npos);
  }
}

TEST_CASE("pipeline: a multi-port service with persistence keeps a client on one backend "
          "across its ports",
          "[pipeline][multiport]") {
  Harness h(multiport_spec());
  for (uint32_t c = 0; c < 50; ++c) {
    const uint32_t client = ipv4(10, 0, 0, static_cast<uint8_t>(150 + c));
    Bytes https = to_vip(40000, 443, kTcpSynFlag, client).build();
    Result first = h.run1(https);
    REQUIRE(verdict_text(first.verdict) == "transmit");
    const int b = backend_of(first.out);
    CHECK((b == 8 || b == 9));
    // DR: the frame goes on as it came, to its own port.
    CHECK(std::equal(first.out.begin() + 12, first.out.end(), https.begin() + 12));
    for (uint16_t port : {9000, 9050, 9100, 443}) {
      INFO("client " << c << " port " << port);
      Result r = h.run1(to_vip(static_cast<uint16_t>(40001 + port), port, kTcpSynFlag, client).build());
      REQUIRE(verdict_text(r.verdict) == "transmit");
      CHECK(backend_of(r.out) == b);
    }
  }
  CHECK(h.counters().persistence_hits.get() == 50 * 4);
  CHECK(h.counters().flows_created.get() == 50 * 5);

  // A port the service does not list is the VIP's, for nobody: dropped, counted.
  CHECK(verdict_text(h.run1(to_vip(40000, 9101).build()).verdict) == "drop vip_port_unknown");
  CHECK(h.counters().drops[static_cast<int>(DropReason::vip_port_unknown)].get() == 1);
  CHECK(h.balanced());
}

TEST_CASE("pipeline: NAT of an every-port service keeps the port both ways",
          "[pipeline][multiport]") {
  Harness h(multiport_spec());
  Bytes in = PacketBuilder().eth(kClientMac, kOurMac).ipv4(kClient, kTunVip)
                 .tcp(40000, 31337, kTcpSynFlag).payload(20).build();
  Result fwd = h.run1(in);
  REQUIRE(verdict_text(fwd.verdict) == "transmit");
  const uint32_t rip = load32(fwd.out, 14 + 16);
  CHECK((rip == kBackends[10].ip || rip == kBackends[11].ip));
  CHECK(load16(fwd.out, 34 + 2) == be16(31337));
  CHECK(shoal::test::ipv4_checksums_valid(fwd.out));

  // Port 80 of that VIP is its TUN service's: the more specific service wins.
  Result tun = h.run1(PacketBuilder().eth(kClientMac, kOurMac).ipv4(kClient, kTunVip)
                          .tcp(40000, 80, kTcpSynFlag).build());
  REQUIRE(verdict_text(tun.verdict) == "transmit");
  CHECK(backend_of(tun.out) == 5);

  Harness other(multiport_spec());  // the reply may reach another worker
  Bytes reply = PacketBuilder().eth(mac(0x1a), kOurMac).ipv4(rip, kClient)
                    .tcp(31337, 40000, kTcpSynFlag | kTcpAckFlag).payload(10).build();
  check_translated_back(other.run1(reply), kTunVip, 31337);
  CHECK(h.balanced());
  CHECK(other.balanced());
}

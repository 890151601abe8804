// Connection sync: the message codec and its drop reasons, the frame on the wire, the packet
// core's side (reporting the flows of synced services, claiming the flows peers pinned), the
// shared table, the control side (installing, refusing, pulling) and the config keys; IPv6
// flows (and IPv4 ones to IPv6 real servers) through the same steps in wide entries.
#include <catch2/catch.hpp>

#include <rte_ip.h>
#include <rte_udp.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include <map>
#include <nlohmann/json.hpp>

#include "config/config.h"
#include "sync/connection_sync.h"
#include "packet_builder.h"
#include "dataplane/pipeline.h"
#include "sync/message.h"

using namespace shoal::dp;
using namespace shoal::cp;
using shoal::test::Bytes;
using shoal::test::ip6;
using shoal::test::mac;
using shoal::test::PacketBuilder;

namespace {

constexpr uint32_t kClient = ipv4(10, 0, 0, 1);
constexpr uint32_t kVip = ipv4(10, 0, 0, 100);
constexpr uint32_t kPeer = ipv4(10, 0, 0, 3);
constexpr uint32_t kUs = ipv4(10, 0, 0, 2);
constexpr uint32_t kRs1 = ipv4(10, 0, 1, 11);
constexpr uint32_t kRs2 = ipv4(10, 0, 1, 12);
const rte_ether_addr kOurMac = mac(2);

SyncEntry entry(uint16_t client_port, uint32_t backend_ip = kRs1,
                FlowState state = FlowState::established, SyncOp op = SyncOp::upsert) {
  SyncEntry e;
  e.op = op;
  e.proto = kIpProtoTcp;
  e.state = state;
  e.client = IpAddress::from_v4(kClient);
  e.vip = IpAddress::from_v4(kVip);
  e.client_port = be16(client_port);
  e.vip_port = be16(80);
  e.backend = IpAddress::from_v4(backend_ip);
  e.backend_port = be16(8080);
  return e;
}

Bytes message(SyncMessageType type, const std::vector<SyncEntry>& entries, uint8_t id = 0,
              uint32_t sequence = 7) {
  Bytes b(kSyncHeaderLen + kSyncEntryLen * entries.size());
  write_sync_header(b.data(), {type, id, static_cast<uint16_t>(entries.size()), sequence});
  for (std::size_t i = 0; i < entries.size(); ++i)
    write_sync_entry(b.data() + kSyncHeaderLen + i * kSyncEntryLen, entries[i]);
  return b;
}

// A NAT service on the VIP (backends 0 and 1, synced) and a DR one on port 81 (not synced).
SnapshotSpec spec(bool owned = true) {
  SnapshotSpec s;
  s.ports.push_back({kOurMac, kUs, 1500, {}});
  s.next_hops.push_back({0, true, mac(0x10)});
  s.next_hops.push_back({0, true, mac(0x11)});
  ServiceSpec nat{kVip, be16(80), kIpProtoTcp, ForwardMode::nat, HashOn::five_tuple, 65537, {}};
  nat.backends = {{0, kRs1, be16(8080), 1, true, 0}, {1, kRs2, be16(8080), 1, true, 1}};
  nat.owned = owned;
  nat.sync = true;
  ServiceSpec dr{kVip, be16(81), kIpProtoTcp, ForwardMode::dr, HashOn::five_tuple, 65537, {}};
  dr.backends = {{2, kRs1, be16(81), 1, true, 0}};
  dr.owned = owned;
  s.services = {nat, dr};
  s.sync_group = kDefaultSyncGroup;
  s.sync_port = be16(kDefaultSyncPort);
  return s;
}

// Sync on, a small table, and refreshes too rare to get in a test's way.
ConnectionSyncSettings receiving_settings() {
  ConnectionSyncSettings settings;
  settings.enabled = true;
  settings.table_size = 1024;
  settings.refresh_ms = 60'000;
  return settings;
}

rte_mempool* pool() {
  static rte_mempool* p = rte_pktmbuf_pool_create("unit_sync", 1023, 64, 0,
                                                  RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  return p;
}

std::string unique(const char* what) {
  static int n = 0;
  return what + std::to_string(n++);
}

// One worker's view: its flow tables and counters, the shared tables, its event rings.
struct Worker {
  std::unique_ptr<Snapshot> snap;
  FlowTable flows{4096};
  FlowTable6 flows6{1024, {}, SOCKET_ID_ANY, &flows.connections()};
  WorkerCounters counters;
  WorkerScheduler scheduler{flows.connections()};
  SyncedFlows synced{1024, nullptr, SOCKET_ID_ANY};
  FlowEventRing events{unique("unit_sync_events").c_str(), 1024, SOCKET_ID_ANY};
  SyncedFlows6 synced6{1024, nullptr, SOCKET_ID_ANY};
  FlowEventRing6 events6{unique("unit_sync_events6_").c_str(), 1024, SOCKET_ID_ANY};
  uint32_t now_ms = 1000;

  explicit Worker(const SnapshotSpec& s = spec()) {
    std::string error;
    snap = Snapshot::build(s, &error);
    INFO(error);
    REQUIRE(snap);
  }
  Verdict run(const Bytes& frame, Bytes* out = nullptr) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool());
    REQUIRE(m != nullptr);
    std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(),
                frame.size());
    m->port = 0;
    Verdict v;
    process_burst(&m, 1,
                  {*snap, flows, counters, scheduler, now_ms,
                   {&synced, &events, nullptr, &synced6, &events6}, &flows6},
                  &v);
    if (out) {
      const auto* d = rte_pktmbuf_mtod(m, const uint8_t*);
      out->assign(d, d + rte_pktmbuf_data_len(m));
    }
    rte_pktmbuf_free(m);
    return v;
  }
  std::vector<FlowEvent> take_events() {
    std::vector<FlowEvent> out(1024);
    out.resize(events.pop(out.data(), 1024));
    return out;
  }
  std::vector<FlowEvent6> take_events6() {
    std::vector<FlowEvent6> out(1024);
    out.resize(events6.pop(out.data(), 1024));
    return out;
  }
};

Bytes to_vip(uint16_t sport, uint8_t flags, uint16_t dport = 80) {
  return PacketBuilder().eth(mac(1), kOurMac).ipv4(kClient, kVip).tcp(sport, dport, flags).build();
}

uint32_t dst_ip_of(const Bytes& frame) {
  uint32_t ip;
  std::memcpy(&ip, frame.data() + RTE_ETHER_HDR_LEN + 16, 4);
  return ip;
}

// Five rounds of 600 flows in and out of a table of 1024: the slots must come back.
template <typename AfterRound>
void churn(SyncedFlows& s, AfterRound after_round) {
  for (uint16_t round = 0; round < 5; ++round) {
    for (uint16_t p = 0; p < 600; ++p)
      REQUIRE(s.upsert({kClient, kVip, p, round, kIpProtoTcp}, {1, FlowState::established, 0}));
    for (uint16_t p = 0; p < 600; ++p)
      REQUIRE(s.remove({kClient, kVip, p, round, kIpProtoTcp}));
    after_round();
  }
}

}  // namespace

TEST_CASE("sync messages: entries round-trip; every malformation is named", "[sync]") {
  const std::vector<SyncEntry> entries = {entry(1000), entry(1001, kRs2, FlowState::syn),
                                          entry(1002, kRs1, FlowState::closing, SyncOp::remove)};
  Bytes b = message(SyncMessageType::flows, entries, 9);
  SyncHeader h;
  REQUIRE(parse_sync_header(b.data(), b.size(), 9, h) == std::nullopt);
  CHECK(h.type == SyncMessageType::flows);
  CHECK(h.count == 3);
  CHECK(h.sequence == 7);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto e = read_sync_entry(b.data() + kSyncHeaderLen + i * kSyncEntryLen);
    REQUIRE(e);
    CHECK(e->op == entries[i].op);
    CHECK(e->state == entries[i].state);
    CHECK(e->client_port == entries[i].client_port);
    CHECK(e->backend == entries[i].backend);
    CHECK(e->backend_port == entries[i].backend_port);
    CHECK(e->vip == IpAddress::from_v4(kVip));
  }

  auto drop_of = [](Bytes m, uint8_t id = 9) {
    SyncHeader h;
    auto r = parse_sync_header(m.data(), m.size(), id, h);
    return r ? std::string(name(*r)) : std::string("accepted");
  };
  CHECK(drop_of(Bytes(b.begin(), b.begin() + 15)) == "truncated");
  Bytes bad = b;
  bad[0] = 'X';
  CHECK(drop_of(bad) == "bad_magic");
  bad = b;
  bad[4] = 2;
  CHECK(drop_of(bad) == "bad_version");
  bad = b;
  bad[5] = 9;
  CHECK(drop_of(bad) == "bad_type");
  CHECK(drop_of(Bytes(b.begin(), b.end() - 1)) == "bad_length");
  bad = b;
  bad.push_back(0);
  CHECK(drop_of(bad) == "bad_length");
  CHECK(drop_of(b, 8) == "wrong_id");
  Bytes pull = message(SyncMessageType::pull_request, {});
  CHECK(drop_of(pull, 0) == "accepted");
  pull[9] = 1;  // a pull request carries no entries
  pull.resize(kSyncHeaderLen + kSyncEntryLen);
  CHECK(drop_of(pull, 0) == "bad_length");

  uint8_t raw[kSyncEntryLen];
  write_sync_entry(raw, entry(1));
  raw[0] = 3;
  CHECK_FALSE(read_sync_entry(raw));
  write_sync_entry(raw, entry(1));
  raw[1] = kIpProtoIcmp;
  CHECK_FALSE(read_sync_entry(raw));
  write_sync_entry(raw, entry(1));
  raw[2] = 0;  // "empty" is no state a peer sends
  CHECK_FALSE(read_sync_entry(raw));
}

TEST_CASE("sync frame: UDP to the group's MAC and port, TTL 255, checksums right", "[sync]") {
  Bytes frame(kSyncFrameOverhead + kSyncHeaderLen + kSyncEntryLen);
  Bytes payload = message(SyncMessageType::flows, {entry(1000)});
  std::memcpy(frame.data() + kSyncFrameOverhead, payload.data(), payload.size());
  REQUIRE(finish_sync_frame(frame.data(), payload.size(), kOurMac, kUs, kDefaultSyncGroup,
                            kDefaultSyncPort) == frame.size());
  ParsedPacket p;
  REQUIRE(parse_packet(frame.data(), static_cast<uint32_t>(frame.size()), p).ok);
  CHECK(p.l4_proto == kIpProtoUdp);
  CHECK(p.ttl == 255);
  CHECK(p.src_ip == kUs);
  CHECK(p.dst_ip == kDefaultSyncGroup);
  CHECK(p.dst_port == be16(kDefaultSyncPort));
  const Bytes group_mac = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x51};  // 224.0.0.81
  CHECK(Bytes(frame.begin(), frame.begin() + 6) == group_mac);
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(frame.data() + RTE_ETHER_HDR_LEN);
  CHECK(rte_ipv4_cksum(ip) == 0);  // a header with its checksum sums to zero
  Bytes zeroed = frame;
  auto* udp = reinterpret_cast<rte_udp_hdr*>(zeroed.data() + RTE_ETHER_HDR_LEN + 20);
  const uint16_t sent = udp->dgram_cksum;
  udp->dgram_cksum = 0;
  CHECK(sent != 0);
  CHECK(rte_ipv4_udptcp_cksum(ip, udp) == sent);

  // The packet core hands it to the control plane; to another port it is no service's.
  Worker w;
  rte_mbuf* m = rte_pktmbuf_alloc(pool());
  std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(),
              frame.size());
  m->port = 0;
  Verdict v;
  process_burst(&m, 1, {*w.snap, w.flows, w.counters, w.scheduler, 0, {}}, &v);
  CHECK(v.action == Action::to_control);
  CHECK(v.control_reason() == ControlReason::sync);
  rte_pktmbuf_free(m);
}

TEST_CASE("pipeline: a synced service reports its flows; others do not", "[sync][pipeline]") {
  Worker w;
  REQUIRE(w.run(to_vip(40000, kTcpSynFlag)).action == Action::transmit);
  REQUIRE(w.run(to_vip(40000, kTcpAckFlag)).action == Action::transmit);
  REQUIRE(w.run(to_vip(40000, kTcpAckFlag | 0x08)).action == Action::transmit);  // no change
  REQUIRE(w.run(to_vip(40000, kTcpFinFlag | kTcpAckFlag)).action == Action::transmit);
  std::vector<FlowEvent> ev = w.take_events();
  REQUIRE(ev.size() == 3);
  CHECK(ev[0].state == FlowState::syn);
  CHECK(ev[1].state == FlowState::established);
  CHECK(ev[2].state == FlowState::closing);
  for (const FlowEvent& e : ev) {
    CHECK(e.src_ip == kClient);
    CHECK(e.dst_port == be16(80));
    CHECK(e.src_port == be16(40000));
    CHECK(e.backend == ev[0].backend);
  }
  // DR on port 81 is not synced.
  REQUIRE(w.run(to_vip(40001, kTcpSynFlag, 81)).action == Action::transmit);
  CHECK(w.take_events().empty());
  CHECK(w.counters.flows_claimed.get() == 0);
}

TEST_CASE("pipeline: a flow a peer pinned keeps its backend after a takeover", "[sync][pipeline]") {
  Worker w;
  // Which backend would Maglev here give each of these flows?
  std::vector<std::pair<uint16_t, uint16_t>> flows;  // client port, the other backend
  for (uint16_t sport = 50000; sport < 50040; ++sport) {
    FlowKey key{kClient, kVip, be16(sport), be16(80), kIpProtoTcp};
    const uint16_t mine = w.snap->service(0).maglev_pick(FlowTable::hash(key));
    flows.push_back({sport, static_cast<uint16_t>(1 - mine)});
    REQUIRE(w.synced.upsert(key, {static_cast<uint16_t>(1 - mine), FlowState::established, 0}));
  }
  for (auto [sport, pinned] : flows) {
    Bytes out;
    // Mid-connection (an ACK with data): the peer's backend, not ours.
    REQUIRE(w.run(to_vip(sport, kTcpAckFlag | 0x08), &out).action == Action::transmit);
    CHECK(dst_ip_of(out) == (pinned == 0 ? kRs1 : kRs2));
  }
  CHECK(w.counters.flows_claimed.get() == flows.size());
  CHECK(w.counters.flows_created.get() == 0);
  // Claimed flows are ours now: reported, so that the peer learns them back.
  CHECK(w.take_events().size() == flows.size());
  // Next packets hit the worker's own table.
  REQUIRE(w.run(to_vip(flows[0].first, kTcpAckFlag)).action == Action::transmit);
  CHECK(w.counters.flows_claimed.get() == flows.size());

  SECTION("a SYN is a connection opening: scheduled here, whatever a peer pinned") {
    FlowKey key{kClient, kVip, be16(60000), be16(80), kIpProtoTcp};
    const uint16_t mine = w.snap->service(0).maglev_pick(FlowTable::hash(key));
    const FlowState pinned_state = GENERATE(FlowState::closing, FlowState::syn);
    REQUIRE(w.synced.upsert(key, {static_cast<uint16_t>(1 - mine), pinned_state, 0}));
    Bytes out;
    REQUIRE(w.run(to_vip(60000, kTcpSynFlag), &out).action == Action::transmit);
    CHECK(dst_ip_of(out) == (mine == 0 ? kRs1 : kRs2));
  }
}

TEST_CASE("flow table: the removal hook sees expired and evicted flows", "[sync][flow_table]") {
  FlowTable t(3, {1000, 1000, 1000, 1000});  // one bucket
  std::vector<uint16_t> gone;
  t.on_remove([](void* ctx, const FlowEntry& e) {
    static_cast<std::vector<uint16_t>*>(ctx)->push_back(e.src_port);
  }, &gone);
  for (uint16_t p = 1; p <= 3; ++p) {
    FlowKey k{kClient, kVip, p, 80, kIpProtoTcp};
    t.insert(k, FlowTable::hash(k), 0, FlowState::established, 0);
  }
  FlowKey k4{kClient, kVip, 4, 80, kIpProtoTcp};
  t.insert(k4, FlowTable::hash(k4), 0, FlowState::established, 10);  // evicts one
  REQUIRE(gone.size() == 1);
  t.age(5000, 1);  // the rest expire
  CHECK(gone.size() == 4);
  CHECK(t.size() == 0);
}

TEST_CASE("synced flows: upsert, update, remove, age", "[sync]") {
  SyncedFlows s(1024, nullptr, SOCKET_ID_ANY);
  FlowKey a{kClient, kVip, 1, 80, kIpProtoTcp};
  FlowKey b{kClient, kVip, 2, 80, kIpProtoTcp};
  CHECK_FALSE(s.lookup(a, FlowTable::hash(a)));
  REQUIRE(s.upsert(a, {3, FlowState::syn, 100}));
  REQUIRE(s.upsert(b, {4, FlowState::established, 100}));
  REQUIRE(s.upsert(a, {5, FlowState::established, 200}));  // an update, not a second entry
  CHECK(s.size() == 2);
  auto f = s.lookup(a, FlowTable::hash(a));
  REQUIRE(f);
  CHECK(f->backend == 5);
  CHECK(f->state == FlowState::established);
  CHECK(f->updated_ms == 200);
  CHECK(s.remove(b));
  CHECK_FALSE(s.remove(b));
  CHECK(s.size() == 1);
  FlowTimeouts t{1000, 5000, 1000, 1000};
  CHECK(s.age(4000, t, 100) == 0);
  CHECK(s.age(5300, t, 100) == 1);  // 5100 ms since its last report > 5000
  CHECK(s.size() == 0);

  // Removed flows give their slots back: far more flows than the capacity come and go.
  churn(s, [] {});
  CHECK(s.size() == 0);
}

TEST_CASE("synced flows: with RCU, removed slots come back once readers were quiescent",
          "[sync]") {
  const size_t bytes = rte_rcu_qsbr_get_memsize(1);
  auto* qsbr = static_cast<rte_rcu_qsbr*>(rte_zmalloc("unit_sync_qsbr", bytes, RTE_CACHE_LINE_SIZE));
  REQUIRE(qsbr != nullptr);
  REQUIRE(rte_rcu_qsbr_init(qsbr, 1) == 0);
  rte_rcu_qsbr_thread_register(qsbr, 0);  // one reader, as a worker
  rte_rcu_qsbr_thread_online(qsbr, 0);
  {
    SyncedFlows s(1024, qsbr, SOCKET_ID_ANY);
    churn(s, [qsbr] { rte_rcu_qsbr_quiescent(qsbr, 0); });  // the reader's loop went round
    CHECK(s.size() == 0);
  }
  rte_rcu_qsbr_thread_offline(qsbr, 0);
  rte_rcu_qsbr_thread_unregister(qsbr, 0);
  rte_free(qsbr);
}

TEST_CASE("connection sync: installs peers' flows it does not hold, names what it refuses",
          "[sync]") {
  ConnectionSync cs(receiving_settings(), {}, 1, nullptr, SOCKET_ID_ANY, kOurMac, kUs, 1500, 1024);
  cs.update(spec(/*owned=*/false));
  cs.start(0);
  std::vector<std::vector<uint8_t>> frames = cs.take_frames();
  REQUIRE(frames.size() == 1);  // the pull request
  SyncHeader h;
  REQUIRE(parse_sync_header(frames[0].data() + kSyncFrameOverhead, kSyncHeaderLen, 0, h) ==
          std::nullopt);
  CHECK(h.type == SyncMessageType::pull_request);
  CHECK_FALSE(cs.pull_settled());

  SyncEntry other_vip = entry(1003);
  other_vip.vip = IpAddress::from_v4(ipv4(10, 0, 0, 200));
  SyncEntry dr = entry(1004);
  dr.vip_port = be16(81);  // DR: not synced here
  Bytes m = message(SyncMessageType::flows,
                    {entry(1000), entry(1001, kRs2, FlowState::syn),
                     entry(1002, ipv4(10, 0, 1, 99)), other_vip, dr});
  cs.receive(m.data(), m.size(), kPeer, 255, 10);
  CHECK(cs.table_size() == 2);
  CHECK(cs.counters().installed == 2);
  CHECK(cs.counters().drops[static_cast<std::size_t>(SyncDrop::unknown_backend)] == 1);
  CHECK(cs.counters().drops[static_cast<std::size_t>(SyncDrop::unknown_service)] == 2);

  cs.receive(m.data(), m.size(), kPeer, 64, 10);  // routed from elsewhere
  CHECK(cs.counters().drops[static_cast<std::size_t>(SyncDrop::bad_ttl)] == 1);
  cs.receive(m.data(), m.size(), kUs, 255, 10);  // our own, looped back: ignored
  CHECK(cs.counters().messages_received == 1);

  Bytes rm = message(SyncMessageType::flows,
                     {entry(1000, kRs1, FlowState::closing, SyncOp::remove)});
  cs.receive(rm.data(), rm.size(), kPeer, 255, 20);
  CHECK(cs.counters().removed == 1);
  CHECK(cs.table_size() == 1);

  // The peer has answered the pull.
  Bytes done = message(SyncMessageType::pull_done, {});
  cs.receive(done.data(), done.size(), kPeer, 255, 30);
  CHECK(cs.pull_settled());
  CHECK(cs.pull_state() == PullState::done);
  CHECK(cs.status(0)["table"]["entries"] == 1);

  SECTION("a flow no peer reports again ages out after its state's timeout") {
    cs.poll(10 + 30'000);  // the flow left is half-open: 30 s since it was heard of at 10 ms
    CHECK(cs.table_size() == 1);
    cs.poll(10 + 30'100);
    CHECK(cs.table_size() == 0);
    CHECK(cs.counters().aged == 1);
  }
  SECTION("gaps in a peer's sequence numbers count datagrams lost") {
    for (uint32_t seq : {8u, 9u, 12u, 13u, 1u /* the peer restarted */, 2u}) {
      Bytes b = message(SyncMessageType::flows, {entry(2000)}, 0, seq);
      cs.receive(b.data(), b.size(), kPeer, 255, 50);
    }
    CHECK(cs.counters().messages_missed == 2);
  }
  SECTION("holding the VIP, its flows from peers are refused") {
    cs.update(spec(/*owned=*/true));
    cs.receive(m.data(), m.size(), kPeer, 255, 40);
    CHECK(cs.counters().drops[static_cast<std::size_t>(SyncDrop::owned_service)] == 3);
  }
}

TEST_CASE("connection sync: a pull is answered with a full walk, then pull_done", "[sync]") {
  ConnectionSyncSettings settings;
  settings.enabled = true;
  settings.table_size = 1024;
  settings.refresh_ms = 60'000;
  settings.pull_timeout_ms = 3000;
  ConnectionSync cs(settings, {}, 1, nullptr, SOCKET_ID_ANY, kOurMac, kUs, 1500, 1024);
  // Five flows a peer pinned while it held the VIP; then we took over, and no packet of them
  // has come yet: they are part of the answer too.
  cs.update(spec(/*owned=*/false));
  Bytes pinned = message(SyncMessageType::flows, {entry(1), entry(2), entry(3), entry(4),
                                                  entry(5, kRs2)});
  cs.receive(pinned.data(), pinned.size(), kPeer, 255, 0);
  REQUIRE(cs.table_size() == 5);
  const SnapshotSpec held = spec(/*owned=*/true);
  cs.update(held);
  cs.start(0);
  cs.take_frames();
  std::string error;
  auto snap = Snapshot::build(held, &error);
  REQUIRE(snap);
  // A worker's table with 100 flows of the synced service and 5 of the DR one.
  FlowTable table(4096);
  for (uint16_t p = 0; p < 105; ++p) {
    FlowKey k{kClient, kVip, be16(static_cast<uint16_t>(20000 + p)), be16(p < 100 ? 80 : 81),
              kIpProtoTcp};
    table.insert(k, FlowTable::hash(k), p < 100 ? p % 2 : 2, FlowState::established, 0);
  }
  FlowTable6 table6(1024);
  FlowSyncContext ctx = cs.context(0);
  SyncWalker* walker = cs.walker(0);
  // The first refresh pass (everything) runs at start; let it finish.
  for (int i = 0; i < 200; ++i) walker->step(table, table6, *snap, *ctx.events, *ctx.events6, 10);
  cs.poll(10);
  cs.take_frames();
  const uint64_t refreshed = cs.counters().flows_sent;
  CHECK(refreshed == 100);

  Bytes pull = message(SyncMessageType::pull_request, {});
  cs.receive(pull.data(), pull.size(), kPeer, 255, 20);
  cs.poll(20);  // the pinned flows go at once; the workers have not walked yet: no pull_done
  std::vector<std::vector<uint8_t>> frames = cs.take_frames();
  REQUIRE(frames.size() == 1);
  // The asker retries before the answer is complete: the walk goes on, it does not restart
  // (which, on a large table, would never finish).
  cs.receive(pull.data(), pull.size(), kPeer, 255, 25);
  for (int i = 0; i < 200; ++i) walker->step(table, table6, *snap, *ctx.events, *ctx.events6, 30);
  cs.poll(30);
  for (auto& f : cs.take_frames()) frames.push_back(std::move(f));
  REQUIRE(frames.size() >= 3);
  uint32_t flows = 0;
  for (std::size_t i = 0; i + 1 < frames.size(); ++i) {
    SyncHeader h;
    const auto& f = frames[i];
    REQUIRE(parse_sync_header(f.data() + kSyncFrameOverhead, f.size() - kSyncFrameOverhead, 0, h) ==
            std::nullopt);
    CHECK(h.type == SyncMessageType::flows);
    CHECK(h.count <= sync_entries_per_message(1500));
    flows += h.count;
  }
  CHECK(flows == 105);
  SyncHeader last;
  REQUIRE(parse_sync_header(frames.back().data() + kSyncFrameOverhead, kSyncHeaderLen, 0, last) ==
          std::nullopt);
  CHECK(last.type == SyncMessageType::pull_done);
  CHECK(cs.counters().pulls_answered == 1);

  // Nobody answered our own pull: it times out, and VRRP may preempt.
  CHECK_FALSE(cs.pull_settled());
  cs.poll(3001);
  CHECK(cs.pull_state() == PullState::timed_out);
}

TEST_CASE("config: connection_sync defaults, per-service sync and mistakes", "[sync][config]") {
  const std::string base = R"(ports:
  - {name: lan, device: "net_null0", addresses: [10.0.0.2/24, 10.0.1.1/24]}
services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: nat
    backends: [{address: 10.0.1.11}]
  - name: dr
    vip: 10.0.0.100
    port: 81
    forwarding: dr
    backends: [{address: 10.0.0.11}]
)";
  {
    LoadResult r = load_config_string(base + "connection_sync: {}\n");
    REQUIRE(r.errors.empty());
    const ConnectionSyncSettings& c = r.config->connection_sync;
    CHECK(c.enabled);
    CHECK(c.group == ipv4(224, 0, 0, 81));
    CHECK(c.udp_port == 8848);
    CHECK(c.refresh_ms == 60'000);
    CHECK(c.table_size == kDefaultFlowTableSize);
    CHECK(r.config->services[0].sync);
    CHECK_FALSE(r.config->services[1].sync);
  }
  CHECK_FALSE(load_config_string(base).config->connection_sync.enabled);
  {
    LoadResult r = load_config_string(
        base + "workers: {flow_timeouts: {established: 60}}\nconnection_sync: {port: lan, "
               "group: 239.1.2.3, udp_port: 9000, id: 7, table_size: 2048, pull_timeout: 1.5}\n");
    REQUIRE(r.errors.empty());
    const ConnectionSyncSettings& c = r.config->connection_sync;
    CHECK(c.group == ipv4(239, 1, 2, 3));
    CHECK(c.id == 7);
    CHECK(c.table_size == 2048);
    CHECK(c.pull_timeout_ms == 1500);
    CHECK(c.refresh_ms == 30'000);  // half the established timeout
  }
  auto first_error = [&](const std::string& extra) {
    LoadResult r = load_config_string(base + extra, "t.yaml");
    return r.errors.empty() ? std::string() : r.errors.front();
  };
  CHECK_THAT(first_error("connection_sync: {group: 10.0.0.9}\n"),
             Catch::Contains("t.yaml:14:") && Catch::Contains("multicast"));
  CHECK_THAT(first_error("connection_sync: {port: wan}\n"), Catch::Contains("no port named 'wan'"));
  CHECK_THAT(first_error("connection_sync: {refresh: 600}\n"),
             Catch::Contains("at most half the established and udp flow timeouts"));
  CHECK_THAT(first_error("connection_sync: {id: 256}\n"), Catch::Contains("t.yaml:14:"));
  CHECK_THAT(first_error("connection_sync: {groop: 224.0.0.81}\n"), Catch::Contains("groop"));
}

namespace {

// The synced NAT service with persistence: 60 s, clients grouped by /24.
SnapshotSpec persistent_spec(bool owned) {
  SnapshotSpec s = spec(owned);
  s.services[0].persistence_timeout_ms = 60'000;
  s.services[0].persistence_mask = ipv4(255, 255, 255, 0);
  return s;
}

// The payloads of the frames `cs` has to send, of one type.
std::vector<Bytes> payloads(ConnectionSync& cs, SyncMessageType type) {
  std::vector<Bytes> out;
  for (const auto& f : cs.take_frames()) {
    SyncHeader h;
    const uint8_t* p = f.data() + kSyncFrameOverhead;
    REQUIRE(parse_sync_header(p, f.size() - kSyncFrameOverhead, 0, h) == std::nullopt);
    if (h.type == type) out.emplace_back(p, f.data() + f.size());
  }
  return out;
}

uint16_t entries_in(const Bytes& payload) {
  SyncHeader h;
  REQUIRE(parse_sync_header(payload.data(), payload.size(), 0, h) == std::nullopt);
  return h.count;
}

}  // namespace

TEST_CASE("sync messages: persistence entries round-trip; a bad one is refused", "[sync]") {
  SyncPersistence p{kIpProtoUdp, ipv4(10, 0, 0, 0), IpAddress::from_v4(kVip), be16(53),
                    IpAddress::from_v4(kRs2), be16(5353), 299'500};
  uint8_t buf[kSyncEntryLen];
  write_sync_persistence(buf, p);
  const auto back = read_sync_persistence(buf);
  REQUIRE(back);
  CHECK((back->proto == p.proto && back->client == p.client && back->vip == p.vip &&
         back->vip_port == p.vip_port && back->backend == p.backend &&
         back->backend_port == p.backend_port && back->left_ms == 299'500));
  p.left_ms = 0;
  write_sync_persistence(buf, p);
  CHECK_FALSE(read_sync_persistence(buf));
  buf[0] = 1;  // ICMP
  CHECK_FALSE(read_sync_persistence(buf));
}

TEST_CASE("connection sync: persistence entries reach the peers, whose workers follow them",
          "[sync][persistence]") {
  ConnectionSyncSettings settings;
  settings.enabled = true;
  settings.table_size = 1024;
  settings.refresh_ms = 60'000;
  ConnectionSync holder(settings, {}, 1, nullptr, SOCKET_ID_ANY, kOurMac, kUs, 1500, 1024);
  ConnectionSync peer(settings, {}, 1, nullptr, SOCKET_ID_ANY, mac(3), kPeer, 1500, 1024);
  holder.update(persistent_spec(/*owned=*/true));
  peer.update(persistent_spec(/*owned=*/false));
  holder.take_frames();
  peer.take_frames();

  // The holder's worker table: two clients of the persistent service, one of the DR service on
  // port 81 (not synced, no persistence).
  PersistenceTable table(1024);
  holder.watch_persistence({&table});
  const SnapshotSpec held = persistent_spec(/*owned=*/true);
  const uint16_t tag = persistence_tag(held.services[0]);
  const uint32_t net = kClient & ipv4(255, 255, 255, 0);
  table.record({tag, net}, 1, 1000, 60'000);  // rs2
  table.record({tag, ipv4(10, 0, 9, 0)}, 0, 1000, 60'000);
  table.record({persistence_tag(held.services[1]), net}, 2, 1000, 60'000);
  holder.poll(2000);
  std::vector<Bytes> sent = payloads(holder, SyncMessageType::persistence);
  REQUIRE(sent.size() == 1);
  CHECK(entries_in(sent[0]) == 2);
  CHECK(holder.counters().persistence_sent == 2);

  peer.receive(sent[0].data(), sent[0].size(), kUs, 255, 5000);
  CHECK(peer.counters().persistence_installed == 2);
  const auto found = peer.synced_persistence().find({tag, net}, 5000);
  REQUIRE(found);
  CHECK(found->backend == 1);
  CHECK(found->expires_ms == 5000 + 59'000);  // what it had left when sent
  CHECK(peer.status(0)["persistence"]["installed"] == 2);

  // The next pass sends only what changed: nothing, then the entry a new connection extended.
  holder.poll(3100);
  CHECK(payloads(holder, SyncMessageType::persistence).empty());
  table.touch({tag, net}, 1, 4000, 60'000);
  holder.poll(4200);
  sent = payloads(holder, SyncMessageType::persistence);
  REQUIRE(sent.size() == 1);
  CHECK(entries_in(sent[0]) == 1);
  peer.receive(sent[0].data(), sent[0].size(), kUs, 255, 5000);
  CHECK(peer.counters().persistence_installed == 3);
  // The same entry again (another worker's copy, say) changes nothing.
  peer.receive(sent[0].data(), sent[0].size(), kUs, 255, 5000);
  CHECK(peer.counters().persistence_installed == 3);

  SECTION("after a takeover, the peer's workers send the clients to the same real server") {
    Worker w(persistent_spec(/*owned=*/true));
    w.scheduler.set_synced_persistence(&peer.synced_persistence());
    w.now_ms = 6000;
    for (uint16_t sport = 40000; sport < 40016; ++sport) {
      Bytes out;
      REQUIRE(w.run(to_vip(sport, kTcpSynFlag), &out).action == Action::transmit);
      CHECK(dst_ip_of(out) == kRs2);
    }
    CHECK(w.counters.persistence_hits.get() == 16);
  }
  SECTION("refused: by the director holding the VIP, and for a service without persistence") {
    holder.receive(sent[0].data(), sent[0].size(), kPeer, 255, 5000);
    CHECK(holder.counters().drops[static_cast<std::size_t>(SyncDrop::owned_service)] == 1);
    ConnectionSync plain(settings, {}, 1, nullptr, SOCKET_ID_ANY, mac(4), ipv4(10, 0, 0, 4),
                         1500, 1024);
    plain.update(spec(/*owned=*/false));
    plain.receive(sent[0].data(), sent[0].size(), kUs, 255, 5000);
    CHECK(plain.counters().drops[static_cast<std::size_t>(SyncDrop::not_persistent)] == 1);
  }
  SECTION("a pull sends every live entry again") {
    Bytes pull = message(SyncMessageType::pull_request, {});
    holder.receive(pull.data(), pull.size(), kPeer, 255, 4300);
    holder.poll(4300);
    uint32_t entries = 0;
    for (const Bytes& b : payloads(holder, SyncMessageType::persistence)) entries += entries_in(b);
    CHECK(entries == 2);
  }
}

TEST_CASE("connection sync: a peer's flow of a multi-port service is found by its port",
          "[sync][multiport]") {
  ConnectionSync cs(receiving_settings(), {}, 1, nullptr, SOCKET_ID_ANY, kOurMac, kUs, 1500, 1024);
  // On kVip: NAT on 443 and 8000-8100 (backends keep each packet's port), NAT on every
  // other port; the single-port service on 80 stays as it is.
  SnapshotSpec s = spec(/*owned=*/false);
  ServiceSpec listed{kVip, 0, kIpProtoTcp, ForwardMode::nat, HashOn::five_tuple, 65537, {}};
  listed.port_ranges = {{443, 443}, {8000, 8100}};
  listed.backends = {{3, ipv4(10, 0, 1, 21), 0, 1, true, 0}};
  ServiceSpec every{kVip, 0, kIpProtoTcp, ForwardMode::nat, HashOn::five_tuple, 65537, {}};
  every.backends = {{4, ipv4(10, 0, 1, 31), 0, 1, true, 0}};
  for (ServiceSpec* m : {&listed, &every}) {
    m->owned = false;
    m->sync = true;
    s.services.push_back(*m);
  }
  cs.update(s);
  auto to = [](uint16_t client_port, uint16_t vip_port, uint32_t backend) {
    SyncEntry e = entry(client_port, backend);
    e.vip_port = be16(vip_port);
    e.backend_port = 0;
    return e;
  };
  Bytes m = message(SyncMessageType::flows,
                    {to(1000, 443, ipv4(10, 0, 1, 21)), to(1001, 8050, ipv4(10, 0, 1, 21)),
                     to(1002, 22, ipv4(10, 0, 1, 31)),
                     // a listed port's flow naming the every-port service's backend
                     to(1003, 8100, ipv4(10, 0, 1, 31))});
  cs.receive(m.data(), m.size(), kPeer, 255, 10);
  CHECK(cs.counters().installed == 3);
  CHECK(cs.counters().drops[static_cast<std::size_t>(SyncDrop::unknown_backend)] == 1);
  CHECK(cs.table_size() == 3);
}

namespace {

const Ipv6Address kClient6 = ip6("fd00::1");
const Ipv6Address kVip6 = ip6("fd00::100");
const Ipv6Address kRs6a = ip6("fd00:1::11");
const Ipv6Address kRs6b = ip6("fd00:1::12");
const Ipv6Address kTunRs6 = ip6("fd00::14");
constexpr uint32_t kVip4in6 = ipv4(10, 0, 0, 102);

BackendSpec backend6(uint16_t id, const Ipv6Address& ip, uint16_t port, uint32_t next_hop) {
  BackendSpec b;
  b.id = id;
  b.ipv6 = true;
  b.ip6 = ip;
  b.port = be16(port);
  b.next_hop = next_hop;
  return b;
}

// spec() and two more synced services: NAT66 on [fd00::100]:80 (backends 3 and 4), and TUN
// from the IPv4 VIP 10.0.0.102 to an IPv6 real server (backend 5).
SnapshotSpec spec6(bool owned = true) {
  SnapshotSpec s = spec(owned);
  s.ports[0].local_ip6 = ip6("fd00::2");
  s.local_addresses6.push_back(ip6("fd00::2"));
  s.routes6.push_back({kClient6, 128, 0});
  ServiceSpec nat6;
  nat6.ipv6 = true;
  nat6.vip6 = kVip6;
  nat6.mode = ForwardMode::nat;
  nat6.backends = {backend6(3, kRs6a, 8080, 0), backend6(4, kRs6b, 8080, 1)};
  ServiceSpec four_in_six;
  four_in_six.vip = kVip4in6;
  four_in_six.mode = ForwardMode::tun;
  four_in_six.backends = {backend6(5, kTunRs6, 80, 0)};
  for (ServiceSpec* x : {&nat6, &four_in_six}) {
    x->port = be16(80);
    x->proto = kIpProtoTcp;
    x->owned = owned;
    x->sync = true;
    s.services.push_back(*x);
  }
  return s;
}

Bytes to_vip6(uint16_t sport, uint8_t flags) {
  return PacketBuilder().eth(mac(1), kOurMac).ipv6(kClient6, kVip6).tcp(sport, 80, flags).build();
}

Ipv6Address dst_ip6_of(const Bytes& frame) {
  Ipv6Address ip;
  std::memcpy(ip.data(), frame.data() + RTE_ETHER_HDR_LEN + 24, 16);
  return ip;
}

// Every frame `cs` has to send, each payload handed to `peer` (if any); the entries per type.
std::map<SyncMessageType, uint32_t> deliver(ConnectionSync& cs, ConnectionSync* peer,
                                            uint32_t from, uint32_t now_ms) {
  std::map<SyncMessageType, uint32_t> entries;
  for (const auto& f : cs.take_frames()) {
    SyncHeader h;
    const uint8_t* p = f.data() + kSyncFrameOverhead;
    const std::size_t len = f.size() - kSyncFrameOverhead;
    REQUIRE(parse_sync_header(p, len, 0, h) == std::nullopt);
    entries[h.type] += h.count;
    if (h.count != 0) CHECK(h.count <= sync_entries_per_message(1500, sync_entry_len(h.type)));
    if (peer) peer->receive(p, len, from, 255, now_ms);
  }
  return entries;
}

}  // namespace

TEST_CASE("sync messages: wide entries carry IPv6 flows and IPv4 flows to IPv6 real servers",
          "[sync][ipv6]") {
  SyncEntry e6;
  e6.state = FlowState::established;
  e6.client = IpAddress::from_v6(kClient6);
  e6.vip = IpAddress::from_v6(kVip6);
  e6.client_port = be16(40000);
  e6.vip_port = be16(80);
  e6.backend = IpAddress::from_v6(kRs6a);
  e6.backend_port = be16(8080);
  CHECK_FALSE(e6.narrow());
  Bytes raw(kSyncWideEntryLen);
  write_sync_wide_entry(raw.data(), e6);
  const Bytes expected = {
      0x01, 0x06, 0x04, 0x00,                                                  // upsert, TCP, established
      0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,                 // fd00::1
      0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,              // fd00::100
      0x9c, 0x40, 0x00, 0x50,                                                  // 40000, 80
      0xfd, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11,           // fd00:1::11
      0x1f, 0x90, 0x00, 0x00};                                                 // 8080
  CHECK(raw == expected);
  auto back = read_sync_wide_entry(raw.data());
  REQUIRE(back);
  CHECK(back->ipv6());
  CHECK(back->client == e6.client);
  CHECK(back->vip == e6.vip);
  CHECK(back->backend == e6.backend);
  CHECK((back->client_port == e6.client_port && back->vip_port == e6.vip_port &&
         back->backend_port == e6.backend_port && back->state == e6.state));

  // TUN 4-in-6: an IPv4 flow to an IPv6 real server, its addresses IPv4-mapped.
  SyncEntry e4 = entry(40001);
  e4.vip = IpAddress::from_v4(kVip4in6);
  e4.backend = IpAddress::from_v6(kTunRs6);
  CHECK_FALSE(e4.narrow());
  write_sync_wide_entry(raw.data(), e4);
  const Bytes mapped_client = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
  CHECK(Bytes(raw.begin() + 4, raw.begin() + 20) == mapped_client);
  back = read_sync_wide_entry(raw.data());
  REQUIRE(back);
  CHECK_FALSE(back->ipv6());
  CHECK(back->key().src_ip == kClient);
  CHECK(back->key().dst_ip == kVip4in6);
  CHECK(back->backend == IpAddress::from_v6(kTunRs6));

  // A client and a VIP of different families, an unknown op: refused.
  Bytes mixed = raw;
  std::memcpy(mixed.data() + 20, kVip6.data(), 16);
  CHECK_FALSE(read_sync_wide_entry(mixed.data()));
  Bytes bad_op = raw;
  bad_op[0] = 7;
  CHECK_FALSE(read_sync_wide_entry(bad_op.data()));

  // A wide message's length counts 60 bytes an entry.
  Bytes m(kSyncHeaderLen + 2 * kSyncWideEntryLen);
  write_sync_header(m.data(), {SyncMessageType::wide_flows, 0, 2, 1});
  SyncHeader h;
  CHECK(parse_sync_header(m.data(), m.size(), 0, h) == std::nullopt);
  CHECK(h.type == SyncMessageType::wide_flows);
  m.resize(kSyncHeaderLen + 2 * kSyncEntryLen);
  CHECK(parse_sync_header(m.data(), m.size(), 0, h) == SyncDrop::bad_length);
}

TEST_CASE("pipeline: IPv6 flows of a synced service are reported; a peer's pin is kept",
          "[sync][pipeline][ipv6]") {
  Worker w(spec6());
  REQUIRE(w.run(to_vip6(40000, kTcpSynFlag)).action == Action::transmit);
  REQUIRE(w.run(to_vip6(40000, kTcpAckFlag)).action == Action::transmit);
  REQUIRE(w.run(to_vip6(40000, kTcpFinFlag | kTcpAckFlag)).action == Action::transmit);
  const std::vector<FlowEvent6> ev = w.take_events6();
  REQUIRE(ev.size() == 3);
  CHECK(ev[0].state == FlowState::syn);
  CHECK(ev[1].state == FlowState::established);
  CHECK(ev[2].state == FlowState::closing);
  for (const FlowEvent6& e : ev) {
    CHECK(e.src_ip == kClient6);
    CHECK(e.dst_ip == kVip6);
    CHECK(e.src_port == be16(40000));
    CHECK((e.backend == 3 || e.backend == 4));
  }
  CHECK(w.take_events().empty());  // nothing on the IPv4 ring

  // An IPv4 flow to the IPv6 real server goes on the IPv4 ring.
  REQUIRE(w.run(PacketBuilder().eth(mac(1), kOurMac).ipv4(kClient, kVip4in6).tcp(40002, 80, kTcpSynFlag).build())
              .action == Action::transmit);
  const std::vector<FlowEvent> ev4 = w.take_events();
  REQUIRE(ev4.size() == 1);
  CHECK(ev4[0].backend == 5);

  // Flows a peer pinned to the other backend keep it, mid-connection.
  uint16_t nat6 = 0;
  REQUIRE(w.snap->classify6(kVip6, be16(80), kIpProtoTcp, &nat6) == AddressKind::service);
  const uint64_t created = w.counters.flows_created.get();
  for (uint16_t sport = 50000; sport < 50020; ++sport) {
    const FlowKey6 key{kClient6, kVip6, be16(sport), be16(80), kIpProtoTcp};
    const uint16_t mine = w.snap->service(nat6).maglev_pick(FlowTable6::hash(key));
    REQUIRE((mine == 3 || mine == 4));
    const uint16_t pinned = mine == 3 ? 4 : 3;
    REQUIRE(w.synced6.upsert(key, {pinned, FlowState::established, 0}));
    Bytes out;
    REQUIRE(w.run(to_vip6(sport, kTcpAckFlag | 0x08), &out).action == Action::transmit);
    CHECK(dst_ip6_of(out) == (pinned == 3 ? kRs6a : kRs6b));
  }
  CHECK(w.counters.flows_claimed.get() == 20);
  CHECK(w.counters.flows_created.get() == created);
  CHECK(w.take_events6().size() == 20);  // claimed: reported back
}

TEST_CASE("connection sync: IPv6 flows reach the peers in wide entries and come back in a pull",
          "[sync][ipv6]") {
  ConnectionSync holder(receiving_settings(), {}, 1, nullptr, SOCKET_ID_ANY, kOurMac, kUs, 1500,
                        1024);
  ConnectionSync peer(receiving_settings(), {}, 1, nullptr, SOCKET_ID_ANY, mac(3), kPeer, 1500,
                      1024);
  holder.update(spec6(/*owned=*/true));
  peer.update(spec6(/*owned=*/false));
  holder.take_frames();
  peer.take_frames();

  // What the holder's worker reports: 30 IPv6 flows, an IPv4 flow to the IPv6 real server and
  // an IPv4 flow.
  FlowSyncContext ctx = holder.context(0);
  for (uint16_t p = 0; p < 30; ++p)
    REQUIRE(ctx.events6->push({kClient6, kVip6, be16(static_cast<uint16_t>(20000 + p)), be16(80),
                               static_cast<uint16_t>(3 + p % 2), kIpProtoTcp,
                               FlowState::established}));
  REQUIRE(ctx.events->push({kClient, kVip4in6, be16(30000), be16(80), 5, kIpProtoTcp,
                            FlowState::established}));
  REQUIRE(ctx.events->push({kClient, kVip, be16(30001), be16(80), 1, kIpProtoTcp,
                            FlowState::syn}));
  holder.poll(10);
  auto sent = deliver(holder, &peer, kUs, 10);
  CHECK(sent[SyncMessageType::flows] == 1);
  CHECK(sent[SyncMessageType::wide_flows] == 31);
  CHECK(peer.counters().installed == 32);
  CHECK(peer.table_size6() == 30);
  CHECK(peer.table_size() == 32);
  CHECK(peer.status(0)["table6"]["entries"] == 30);

  // A flow that ends is removed at the peer.
  REQUIRE(ctx.events6->push({kClient6, kVip6, be16(20000), be16(80), 3, kIpProtoTcp,
                             FlowState::empty}));
  holder.poll(20);
  deliver(holder, &peer, kUs, 20);
  CHECK(peer.counters().removed == 1);
  CHECK(peer.table_size6() == 29);

  // A wide entry naming a real server the peer does not have is refused with its reason.
  SyncEntry stranger;
  stranger.client = IpAddress::from_v6(kClient6);
  stranger.vip = IpAddress::from_v6(kVip6);
  stranger.client_port = be16(1);
  stranger.vip_port = be16(80);
  stranger.backend = IpAddress::from_v6(ip6("fd00:1::99"));
  stranger.backend_port = be16(8080);
  Bytes m(kSyncHeaderLen + kSyncWideEntryLen);
  write_sync_header(m.data(), {SyncMessageType::wide_flows, 0, 1, 100});
  write_sync_wide_entry(m.data() + kSyncHeaderLen, stranger);
  peer.receive(m.data(), m.size(), kUs, 255, 30);
  CHECK(peer.counters().drops[static_cast<std::size_t>(SyncDrop::unknown_backend)] == 1);

  // The peer takes over; a third director pulls: the flows it holds from the old master, of
  // both families, are the answer, then pull_done.
  const SnapshotSpec held = spec6(/*owned=*/true);
  peer.update(held);
  std::string error;
  auto snap = Snapshot::build(held, &error);
  INFO(error);
  REQUIRE(snap);
  Bytes pull = message(SyncMessageType::pull_request, {});
  peer.receive(pull.data(), pull.size(), ipv4(10, 0, 0, 4), 255, 40);
  FlowTable table(1024);
  FlowTable6 table6(1024);
  FlowSyncContext peer_ctx = peer.context(0);
  std::map<SyncMessageType, uint32_t> answer;
  for (int round = 0; round < 50 && peer.counters().pulls_answered == 0; ++round) {
    for (int i = 0; i < 20; ++i)
      peer.walker(0)->step(table, table6, *snap, *peer_ctx.events, *peer_ctx.events6, 40);
    peer.poll(40);
    for (auto [type, n] : deliver(peer, nullptr, kPeer, 40)) answer[type] += n;
  }
  CHECK(peer.counters().pulls_answered == 1);
  CHECK(answer[SyncMessageType::wide_flows] == 29 + 1);
  CHECK(answer[SyncMessageType::flows] == 1);
}

TEST_CASE("persistence over IPv6: a client's prefix keeps its real server, here and at a peer",
          "[sync][persistence][ipv6]") {
  // The NAT66 service with persistence: 60 s, clients grouped by /64.
  auto persistent6 = [](bool owned) {
    SnapshotSpec s = spec6(owned);
    s.services[2].persistence_timeout_ms = 60'000;
    s.services[2].persistence_prefix6 = 64;
    return s;
  };
  Worker w(persistent6(/*owned=*/true));
  uint16_t nat6 = 0;
  REQUIRE(w.snap->classify6(kVip6, be16(80), kIpProtoTcp, &nat6) == AddressKind::service);
  const Service& svc = w.snap->service(nat6);
  // Clients of one /64 fold alike; another /64 does not.
  CHECK(client_address6(svc, ip6("fd00::1")) == client_address6(svc, ip6("fd00::ffff:2")));
  CHECK(client_address6(svc, ip6("fd00::1")) != client_address6(svc, ip6("fd00:0:0:1::1")));
  auto syn_from = [&](Worker& worker, const Ipv6Address& client, uint16_t sport) {
    Bytes out;
    REQUIRE(worker.run(PacketBuilder().eth(mac(1), kOurMac).ipv6(client, kVip6)
                           .tcp(sport, 80, kTcpSynFlag).build(), &out).action == Action::transmit);
    return dst_ip6_of(out);
  };
  // Whatever Maglev gives each port, every connection of the prefix follows the first.
  const Ipv6Address first = syn_from(w, kClient6, 41000);
  for (uint16_t sport = 41001; sport < 41017; ++sport) {
    CHECK(syn_from(w, kClient6, sport) == first);
    CHECK(syn_from(w, ip6("fd00::ffff:2"), sport) == first);
  }
  CHECK(w.counters.persistence_hits.get() == 32);

  // The entry goes to a peer in a wide persistence entry; there it decides the same.
  ConnectionSync holder(receiving_settings(), {}, 1, nullptr, SOCKET_ID_ANY, kOurMac, kUs, 1500,
                        1024);
  ConnectionSync peer(receiving_settings(), {}, 1, nullptr, SOCKET_ID_ANY, mac(3), kPeer, 1500,
                      1024);
  holder.update(persistent6(/*owned=*/true));
  peer.update(persistent6(/*owned=*/false));
  holder.take_frames();
  peer.take_frames();
  holder.watch_persistence({&w.scheduler.persistence()});
  // The walk takes kPersistenceSlotsPerPoll slots a loop of the worker's (default-sized) table.
  for (uint32_t now = 2000; now < 2016; ++now) holder.poll(now);
  const auto sent = deliver(holder, &peer, kUs, 2016);
  CHECK(sent.count(SyncMessageType::wide_persistence) == 1);
  CHECK(sent.at(SyncMessageType::wide_persistence) == 1);
  CHECK(peer.counters().persistence_installed == 1);
  Worker taken_over(persistent6(/*owned=*/true));
  taken_over.scheduler.set_synced_persistence(&peer.synced_persistence());
  taken_over.now_ms = 3000;
  for (uint16_t sport = 42000; sport < 42016; ++sport)
    CHECK(syn_from(taken_over, ip6("fd00::77"), sport) == first);
  CHECK(taken_over.counters.persistence_hits.get() == 16);

  // The 48-byte entry, field by field.
  SyncPersistence p{kIpProtoTcp, 0x01020304, IpAddress::from_v6(kVip6), be16(80),
                    IpAddress::from_v6(kRs6b), be16(8080), 59'000};
  CHECK_FALSE(p.narrow());
  Bytes raw(kSyncWidePersistenceLen);
  write_sync_wide_persistence(raw.data(), p);
  const Bytes expected = {
      0x06, 0x00, 0x00, 0x00, 0x04, 0x03, 0x02, 0x01,                      // TCP; the fold as stored
      0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,           // fd00::100
      0x00, 0x50, 0x1f, 0x90,                                               // 80, 8080
      0xfd, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12,        // fd00:1::12
      0x00, 0x00, 0xe6, 0x78};                                              // 59000 ms
  CHECK(raw == expected);
  const auto back = read_sync_wide_persistence(raw.data());
  REQUIRE(back);
  CHECK((back->client == p.client && back->vip == p.vip && back->backend == p.backend &&
         back->vip_port == p.vip_port && back->backend_port == p.backend_port &&
         back->left_ms == p.left_ms));
}

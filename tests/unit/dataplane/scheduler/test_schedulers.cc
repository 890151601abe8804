// LVS's schedulers as pure functions over a candidate list, and the connection counts the
// least-connection ones read: exact in one worker's table, summed over the others.
#include <catch2/catch.hpp>

#include <map>
#include <numeric>
#include <set>
#include <random>
#include <vector>

#include "dataplane/flow_table.h"
#include "dataplane/scheduler/hash_buckets.h"
#include "dataplane/scheduler/least_connections.h"
#include "dataplane/scheduler/persistence.h"
#include "dataplane/scheduler/round_robin.h"
#include "dataplane/snapshot.h"

using namespace shoal::dp;

namespace {

std::vector<uint16_t> sequence(std::vector<Candidate> c, uint32_t picks, bool weighted) {
  uint32_t max_weight = 0, gcd = 0;
  for (const Candidate& x : c) max_weight = std::max(max_weight, x.weight), gcd = std::gcd(gcd, x.weight);
  RoundRobinCursor cursor;
  std::vector<uint16_t> out;
  for (uint32_t i = 0; i < picks; ++i)
    out.push_back(weighted ? pick_weighted_round_robin(c, max_weight, gcd, cursor)
                           : pick_round_robin(c, cursor));
  return out;
}

}  // namespace

TEST_CASE("rr: each candidate in turn, in config order", "[scheduler]") {
  CHECK(sequence({{7, 1}, {9, 5}, {3, 1}}, 7, false) == std::vector<uint16_t>{0, 1, 2, 0, 1, 2, 0});
  CHECK(sequence({}, 2, false) == std::vector<uint16_t>{kNoCandidate, kNoCandidate});
  // The cursor outlives a shorter list (a backend went down): it wraps instead of overrunning.
  RoundRobinCursor cursor{5, 0};
  std::vector<Candidate> two{{1, 1}, {2, 1}};
  CHECK(pick_round_robin(two, cursor) == 0);
  CHECK(pick_round_robin(two, cursor) == 1);
}

TEST_CASE("wrr: LVS's interleaved sequence, each candidate weight/gcd times a cycle", "[scheduler]") {
  // Weights 1:2:3 → thresholds 3, 2, 1: C; B C; A B C.
  CHECK(sequence({{0, 1}, {1, 2}, {2, 3}}, 6, true) == std::vector<uint16_t>{2, 1, 2, 0, 1, 2});
  // Exact ratios over whole cycles, whatever the weights' scale.
  for (std::vector<Candidate> c : {std::vector<Candidate>{{0, 100}, {1, 200}, {2, 300}},
                                   std::vector<Candidate>{{0, 5}, {1, 1}, {2, 1}, {3, 3}},
                                   std::vector<Candidate>{{0, 65535}, {1, 1}}}) {
    uint32_t gcd = 0, total = 0;
    for (const Candidate& x : c) gcd = std::gcd(gcd, x.weight);
    for (const Candidate& x : c) total += x.weight / gcd;
    std::map<uint16_t, uint32_t> n;
    for (uint16_t i : sequence(c, total * 3, true)) ++n[i];
    for (uint16_t i = 0; i < c.size(); ++i) CHECK(n[i] == 3 * c[i].weight / gcd);
  }
  // Weights that went down under a cursor that was high: still a pick, and the new ratio.
  std::vector<Candidate> c{{0, 1}, {1, 1}};
  RoundRobinCursor cursor{1, 60000};
  std::map<uint16_t, int> n;
  for (int i = 0; i < 10; ++i) ++n[pick_weighted_round_robin(c, 1, 1, cursor)];
  CHECK(n[0] == 5);
  CHECK(n[1] == 5);
}

TEST_CASE("lc, wlc, sed, nq: LVS's overheads, ties to the first", "[scheduler]") {
  std::vector<Candidate> c{{10, 1}, {11, 2}, {12, 1}};
  std::map<uint16_t, Load> loads;
  auto load_of = [&](uint16_t id) { return loads[id]; };
  // All idle: the first, but for sed, which counts the newcomer: 1/2 beats 1/1.
  for (Scheduler s : {Scheduler::lc, Scheduler::wlc, Scheduler::nq})
    CHECK(pick_least_loaded(s, c, load_of) == 0);
  CHECK(pick_least_loaded(Scheduler::sed, c, load_of) == 1);
  // An active connection outweighs 255 inactive ones (lc), not 256.
  loads = {{10, {1, 0}}, {11, {0, 300}}, {12, {0, 255}}};
  CHECK(pick_least_loaded(Scheduler::lc, c, load_of) == 2);
  loads[12] = {0, 256};
  CHECK(pick_least_loaded(Scheduler::lc, c, load_of) == 0);
  // wlc divides by weight: 2 active on weight 2 ties 1 active on weight 1 → the first.
  loads = {{10, {1, 0}}, {11, {2, 0}}, {12, {1, 1}}};
  CHECK(pick_least_loaded(Scheduler::wlc, c, load_of) == 0);
  loads[11] = {1, 0};
  CHECK(pick_least_loaded(Scheduler::wlc, c, load_of) == 1);
  // sed counts active ones, plus the newcomer: (1+1)/1 = 2 against (2+1)/2 = 1.5.
  loads = {{10, {1, 500}}, {11, {2, 0}}, {12, {1, 0}}};
  CHECK(pick_least_loaded(Scheduler::sed, c, load_of) == 1);
  // nq takes an idle backend first, whatever sed would say.
  loads = {{10, {1, 0}}, {11, {1, 0}}, {12, {0, 900}}};
  CHECK(pick_least_loaded(Scheduler::nq, c, load_of) == 2);
  CHECK(pick_least_loaded(Scheduler::sed, c, load_of) == 1);
  CHECK(pick_least_loaded(Scheduler::lc, {}, load_of) == kNoCandidate);
}

TEST_CASE("sh and dh: 256 buckets shared out in config order", "[scheduler]") {
  std::vector<Candidate> c{{0, 300}, {1, 100}, {2, 200}};
  std::vector<uint16_t> sh = build_source_hash_buckets(c, 100);
  REQUIRE(sh.size() == kHashBuckets);
  // Runs of weight/gcd: 0 0 0 1 2 2, again and again.
  CHECK(std::vector<uint16_t>(sh.begin(), sh.begin() + 8) == std::vector<uint16_t>{0, 0, 0, 1, 2, 2, 0, 0});
  std::map<uint16_t, int> n;
  for (uint16_t b : sh) ++n[b];
  CHECK(n[0] == 129);  // 42 full runs of 6 and 4 buckets over: 0 0 0 1
  CHECK(n[1] == 43);
  CHECK(n[2] == 84);
  std::vector<uint16_t> dh = build_destination_hash_buckets(c);
  REQUIRE(dh.size() == kHashBuckets);
  for (uint32_t b = 0; b < kHashBuckets; ++b) CHECK(dh[b] == b % 3);
  CHECK(build_source_hash_buckets({}, 0).empty());
  // Hashes spread addresses over the buckets.
  std::set<uint32_t> seen;
  for (uint32_t host = 1; host < 200; ++host) seen.insert(source_hash_bucket(ipv4(10, 0, 0, 0) | host << 24));
  CHECK(seen.size() > 100);
}

TEST_CASE("connection counts stay exact through every way a flow comes and goes", "[scheduler][flow_table]") {
  FlowTimeouts t;
  t.syn_ms = 50;
  t.established_ms = 400;
  t.closing_ms = 100;
  t.udp_ms = 200;
  FlowTable table(96, t);  // small: inserts evict and cuckoo-move
  std::mt19937 rng(7);
  std::vector<FlowKey> keys;
  for (uint32_t i = 0; i < 300; ++i)
    keys.push_back({ipv4(10, 1, 0, 0) | (i << 24), ipv4(10, 0, 0, 100), static_cast<uint16_t>(1000 + i),
                    be16(80), static_cast<uint8_t>(i % 5 == 0 ? kIpProtoUdp : kIpProtoTcp)});
  const uint8_t flags[] = {kTcpSynFlag, kTcpAckFlag, kTcpFinFlag, kTcpRstFlag, uint8_t(kTcpSynFlag | kTcpAckFlag)};
  uint32_t now = 1000;
  for (int step = 0; step < 20000; ++step) {
    now += rng() % 3;
    const FlowKey& k = keys[rng() % keys.size()];
    const uint32_t h = FlowTable::hash(k);
    FlowEntry* e = table.lookup(k, h, now);
    const uint16_t backend = static_cast<uint16_t>(rng() % 4);
    const uint8_t f = flags[rng() % std::size(flags)];
    if (e == nullptr) {
      table.insert(k, h, backend, k.proto == kIpProtoUdp ? FlowState::udp : FlowTable::initial_tcp_state(f), now);
    } else {
      const uint16_t was_backend = e->backend;
      const FlowState was = e->state;
      if (rng() % 4 == 0) e->backend = backend;  // a reschedule
      if (k.proto == kIpProtoTcp) FlowTable::observe_tcp(*e, f, now);
      table.changed(*e, was_backend, was);
    }
    if (step % 7 == 0) table.age(now, 5);
    if (step % 500 == 0) {
      // Expired entries count until the table frees them: age the whole table, then every
      // entry left is live and counted once.
      table.age(now, table.bucket_count());
      uint32_t active[4] = {}, inactive[4] = {};
      table.for_each(now, [&](const FlowEntry& x) {
        (FlowTable::is_active(x.state) ? active : inactive)[x.backend]++;
      });
      for (uint16_t b = 0; b < 4; ++b) {
        INFO("step " << step << " backend " << b);
        CHECK(table.connections().active(b) == active[b]);
        CHECK(table.connections().inactive(b) == inactive[b]);
      }
    }
  }
  CHECK(table.stats().evicted[static_cast<std::size_t>(FlowState::syn)] +
            table.stats().evicted[static_cast<std::size_t>(FlowState::established)] > 0);
  CHECK(table.stats().expired > 0);
}

TEST_CASE("peer connections: a worker sums the other workers' counts when it refreshes", "[scheduler]") {
  FlowTable a(64), b(64), c(64);
  FlowKey k1{ipv4(10, 0, 0, 1), ipv4(10, 0, 0, 100), 1, be16(80), kIpProtoTcp};
  FlowKey k2{ipv4(10, 0, 0, 2), ipv4(10, 0, 0, 100), 2, be16(80), kIpProtoTcp};
  b.insert(k1, FlowTable::hash(k1), 5, FlowState::established, 1);
  c.insert(k1, FlowTable::hash(k1), 5, FlowState::established, 1);
  c.insert(k2, FlowTable::hash(k2), 5, FlowState::syn, 1);
  PeerConnections peers;
  peers.set_peers({&b.connections(), &c.connections()});
  const std::vector<uint16_t> counted{5};
  CHECK(peers.active(5) == 0);  // nothing until the refresh
  peers.refresh(counted);
  CHECK(peers.active(5) == 2);
  CHECK(peers.inactive(5) == 1);
  CHECK(a.connections().active(5) == 0);  // a's own, not among its peers
}

namespace {
constexpr uint32_t kNoEntry = 0xffffffff;
uint32_t found(const PersistenceTable& t, const PersistenceTable::Client& c, uint32_t now) {
  const auto f = t.find(c, now);
  return f ? f->backend : kNoEntry;
}
}  // namespace

TEST_CASE("persistence table: entries live for their timeout, across tables, and make room", "[scheduler][persistence]") {
  PersistenceTable own(64), peer(64);
  const PersistenceTable::Client a{7, ipv4(10, 0, 0, 0)}, b{7, ipv4(10, 0, 1, 0)}, other{9, ipv4(10, 0, 0, 0)};
  CHECK(found(own, a, 1000) == kNoEntry);
  CHECK_FALSE(own.record(a, 3, 1000, 300));
  CHECK(found(own, a, 1299) == 3);
  CHECK(found(own, a, 1300) == kNoEntry);  // expired: timeout after the last use
  CHECK(found(own, other, 1000) == kNoEntry);  // another service's client
  // touch extends it, but writes at most once a second.
  own.record(a, 3, 2000, 3000);
  own.touch(a, 3, 2500, 3000);
  CHECK(found(own, a, 4999) == 3);
  CHECK(found(own, a, 5000) == kNoEntry);
  own.touch(a, 3, 4000, 3000);
  CHECK(found(own, a, 6999) == 3);
  own.touch(a, 4, 6000, 3000);  // another backend: not this entry
  CHECK(found(own, a, 7000) == kNoEntry);
  // A peer's table is read the same way.
  peer.record(b, 5, 10000, 1000);
  CHECK(found(peer, b, 10500) == 5);
  // Full buckets give up the entry closest to its expiry, and count it.
  PersistenceTable tiny(4);  // one bucket of four
  REQUIRE(tiny.capacity() == 4);
  for (uint32_t i = 0; i < 4; ++i) CHECK_FALSE(tiny.record({1, i << 24}, uint16_t(i), 100 + i, 1000));
  CHECK(tiny.record({1, 9u << 24}, 9, 200, 1000));
  CHECK(tiny.evictions() == 1);
  CHECK(found(tiny, {1, 0}, 300) == kNoEntry);  // the oldest went
  CHECK(found(tiny, {1, 1u << 24}, 300) == 1);
  CHECK(found(tiny, {1, 9u << 24}, 300) == 9);
  // A dead entry makes room without an eviction.
  CHECK_FALSE(tiny.record({1, 10u << 24}, 10, 1200, 1000));
  CHECK(tiny.evictions() == 1);
}

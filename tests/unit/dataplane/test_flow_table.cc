// Unit tests for the per-worker flow table (dataplane/flow_table.{h,cc}). The clock is the
// `now_ms` argument, so every test drives time with explicit values.
#include <catch2/catch.hpp>

#include "dataplane/flow_table.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

using shoal::dp::FlowEntry;
using shoal::dp::FlowEntry6;
using shoal::dp::FlowKey;
using shoal::dp::FlowKey6;
using shoal::dp::FlowState;
using shoal::dp::FlowTable;
using shoal::dp::FlowTable6;
using shoal::dp::FlowTimeouts;
using shoal::dp::kFlowEntriesPerBucket;
using shoal::dp::kTcpAckFlag;
using shoal::dp::kTcpFinFlag;
using shoal::dp::kTcpRstFlag;
using shoal::dp::kTcpSynFlag;

namespace {

constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;
constexpr uint8_t kTcpPshFlag = 0x08;

// Small, pairwise distinct timeouts so that a test can tell the states apart.
constexpr uint32_t kSynMs = 10;
constexpr uint32_t kClosingMs = 20;
constexpr uint32_t kUdpMs = 30;
constexpr uint32_t kEstablishedMs = 40;

FlowTimeouts small_timeouts() {
  FlowTimeouts t;
  t.syn_ms = kSynMs;
  t.established_ms = kEstablishedMs;
  t.closing_ms = kClosingMs;
  t.udp_ms = kUdpMs;
  return t;
}

// Timeouts long enough that nothing expires within a test's time span.
FlowTimeouts long_timeouts() {
  FlowTimeouts t;
  t.syn_ms = 1'000'000;
  t.established_ms = 1'000'000;
  t.closing_ms = 1'000'000;
  t.udp_ms = 1'000'000;
  return t;
}

// The two families' tables under one interface, so that the tests that do not depend on
// the bucket geometry run on both (TEMPLATE_TEST_CASE over Ipv4 and Ipv6). Key n is flow
// number n: client address base + n, one VIP, client port from n.
struct Ipv4 {
  using Table = FlowTable;
  using Entry = FlowEntry;
  using Key = FlowKey;

  static Key key(uint32_t n, uint8_t proto = kTcp) {
    Key k;
    k.src_ip = 0x0a000000u + n;  // 10.0.0.0 + n, byte order is irrelevant to the table
    k.dst_ip = 0xc0a80001u;
    k.src_port = static_cast<uint16_t>(1024 + (n % 60000));
    k.dst_port = 80;
    k.proto = proto;
    return k;
  }
  static constexpr uint64_t kMaxMissingOf80kIn100k = 80'000 / 100;

  static uint32_t number(const Entry& e) { return e.src_ip - 0x0a000000u; }
  template <typename Rng>
  static Key random_key(Rng& rng) {
    Key k;
    uint64_t r = rng();
    k.src_ip = static_cast<uint32_t>(r);
    k.dst_ip = static_cast<uint32_t>(r >> 32);
    uint64_t r2 = rng();
    k.src_port = static_cast<uint16_t>(r2);
    k.dst_port = static_cast<uint16_t>(r2 >> 16);
    k.proto = (r2 >> 32) & 1 ? kTcp : kUdp;
    return k;
  }
};

struct Ipv6 {
  using Table = FlowTable6;
  using Entry = FlowEntry6;
  using Key = FlowKey6;

  // Client 2001:db8::<n>, VIP 2001:db8:ffff::1.
  static Key key(uint32_t n, uint8_t proto = kTcp) {
    Key k;
    k.src_ip = {0x20, 0x01, 0x0d, 0xb8};
    for (int i = 0; i < 4; ++i) k.src_ip[12 + i] = static_cast<uint8_t>(n >> (24 - 8 * i));
    k.dst_ip = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff};
    k.dst_ip[15] = 1;
    k.src_port = static_cast<uint16_t>(1024 + (n % 60000));
    k.dst_port = 80;
    k.proto = proto;
    return k;
  }
  static constexpr uint64_t kMaxMissingOf80kIn100k = 80'000 / 100;

  static uint32_t number(const Entry& e) {
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n = n << 8 | e.src_ip[12 + i];
    return n;
  }
  template <typename Rng>
  static Key random_key(Rng& rng) {
    Key k;
    for (shoal::dp::Ipv6Address* a : {&k.src_ip, &k.dst_ip})
      for (int i = 0; i < 16; i += 8) {
        uint64_t r = rng();
        std::memcpy(a->data() + i, &r, 8);
      }
    uint64_t r2 = rng();
    k.src_port = static_cast<uint16_t>(r2);
    k.dst_port = static_cast<uint16_t>(r2 >> 16);
    k.proto = (r2 >> 32) & 1 ? kTcp : kUdp;
    return k;
  }
};

FlowKey make_key(uint32_t n, uint8_t proto = kTcp) {
  return Ipv4::key(n, proto);
}

// A key's fields as bytes, to index flows by key in a std::map.
template <typename Key>
std::string key_bytes(const Key& k) {
  std::string out;
  auto put = [&](const auto& field) {
    out.append(reinterpret_cast<const char*>(&field), sizeof field);
  };
  put(k.src_ip);
  put(k.dst_ip);
  put(k.src_port);
  put(k.dst_port);
  put(k.proto);
  return out;
}

bool same(const FlowEntry& e, const FlowKey& k) {
  return e.src_ip == k.src_ip && e.dst_ip == k.dst_ip && e.src_port == k.src_port &&
         e.dst_port == k.dst_port && e.proto == k.proto;
}

bool same(const FlowEntry6& e, const FlowKey6& k) {
  return e.src_ip == k.src_ip && e.dst_ip == k.dst_ip && e.src_port == k.src_port &&
         e.dst_port == k.dst_port && e.proto == k.proto;
}

// Another value of a key field, differing in one bit.
void flip(uint32_t& ip) {
  ip ^= 1;
}
void flip(shoal::dp::Ipv6Address& ip) {
  ip[15] ^= 1;
}

template <typename T>
auto* find(T& t, const typename T::Key& k, uint32_t now) {
  return t.lookup(k, T::hash(k), now);
}

template <typename T>
auto* add(T& t, const typename T::Key& k, uint16_t backend, FlowState s, uint32_t now) {
  return t.insert(k, T::hash(k), backend, s, now);
}

template <typename T>
uint64_t total_evicted(const T& t) {
  uint64_t sum = 0;
  for (uint64_t v : t.stats().evicted) sum += v;
  return sum;
}

template <typename T>
uint64_t evicted(const T& t, FlowState s) {
  return t.stats().evicted[static_cast<std::size_t>(s)];
}

template <typename T>
uint32_t live_count(const T& t, uint32_t now) {
  uint32_t n = 0;
  t.for_each(now, [&](const auto&) { ++n; });
  return n;
}

// The two candidate buckets of a hash, as flow_table.cc computes them (Lemire range of the
// hash and of the hash times the Fibonacci multiplier). Only the tests that must place flows
// in chosen buckets use this; "candidate bucket mirror matches placement" checks it against
// the table's observable behaviour, so a change of the mapping shows up there first.
uint32_t range(uint32_t h, uint32_t n) {
  return static_cast<uint32_t>((uint64_t(h) * n) >> 32);
}
uint32_t hash_of(const FlowKey& k) {
  return FlowTable::hash(k);
}
uint32_t hash_of(const FlowKey6& k) {
  return FlowTable6::hash(k);
}
template <typename Key>
std::pair<uint32_t, uint32_t> candidates(const Key& k, uint32_t buckets) {
  uint32_t h = hash_of(k);
  return {range(h, buckets), range(h * 0x9e3779b1u, buckets)};
}

// `count` distinct keys, numbered from `*next`, whose candidate buckets are exactly (b1, b2).
template <typename Family = Ipv4>
std::vector<typename Family::Key> keys_with_candidates(uint32_t buckets, uint32_t b1, uint32_t b2,
                                                       std::size_t count, uint32_t* next) {
  std::vector<typename Family::Key> out;
  while (out.size() < count) {
    typename Family::Key k = Family::key((*next)++);
    if (candidates(k, buckets) == std::make_pair(b1, b2)) out.push_back(k);
  }
  return out;
}

// Bucket of an entry as a memory position (buckets are aligned to their size, so consecutive
// buckets have consecutive positions), and its slot in the bucket. For IPv4 a bucket is one
// cache line.
template <typename Entry>
uintptr_t line_of(const Entry* e) {
  return reinterpret_cast<uintptr_t>(e) / sizeof(shoal::dp::FlowBucketOf<Entry>);
}
template <typename Entry>
uintptr_t slot_of(const Entry* e) {
  return (reinterpret_cast<uintptr_t>(e) % sizeof(shoal::dp::FlowBucketOf<Entry>)) / sizeof(Entry);
}

}  // namespace

// In a test over both families: the names of the IPv4 tests, bound to TestType's family.
#define FLOW_FAMILY_NAMES                                                       \
  using FlowTable [[maybe_unused]] = typename TestType::Table;                  \
  using FlowEntry [[maybe_unused]] = typename TestType::Entry;                  \
  using FlowKey [[maybe_unused]] = typename TestType::Key;                      \
  [[maybe_unused]] const auto make_key = [](uint32_t n, uint8_t proto = kTcp) { \
    return TestType::key(n, proto);                                             \
  }

// ---------------------------------------------------------------------------------------------
// Layout and sizing

TEST_CASE("flow table sizing: capacity rounds up to whole 64-byte buckets", "[flow_table]") {
  STATIC_REQUIRE(sizeof(FlowEntry) == 20);
  STATIC_REQUIRE(kFlowEntriesPerBucket == 3);
  CHECK(shoal::dp::kBytesPerFlow == Approx(21.3333).epsilon(1e-4));
  CHECK(shoal::dp::kBytesPerFlow == Approx(64.0 / 3.0));

  struct Case {
    uint32_t requested, buckets;
  };
  for (Case c : {Case{0, 1}, Case{1, 1}, Case{3, 1}, Case{4, 2}, Case{6, 2}, Case{7, 3},
                 Case{100, 34}, Case{100'000, 33'334}}) {
    CAPTURE(c.requested);
    FlowTable t(c.requested);
    CHECK(t.bucket_count() == c.buckets);
    CHECK(t.capacity() == c.buckets * 3);
    CHECK(t.capacity() >= c.requested);
    CHECK(t.memory_bytes() == std::size_t(t.bucket_count()) * 64);
    CHECK(t.size() == 0);
    CHECK(t.stats().inserted == 0);
    CHECK(t.stats().expired == 0);
    CHECK(total_evicted(t) == 0);
    CHECK(live_count(t, 0) == 0);
  }
}

TEST_CASE("flow table keeps the timeouts it was given; defaults follow IPVS", "[flow_table]") {
  FlowTable d(30);
  CHECK(d.timeouts().syn_ms == 30'000);
  CHECK(d.timeouts().established_ms == 900'000);
  CHECK(d.timeouts().closing_ms == 120'000);
  CHECK(d.timeouts().udp_ms == 300'000);

  FlowTable t(30, small_timeouts());
  CHECK(t.timeouts().syn_ms == kSynMs);
  CHECK(t.timeouts().established_ms == kEstablishedMs);
  CHECK(t.timeouts().closing_ms == kClosingMs);
  CHECK(t.timeouts().udp_ms == kUdpMs);
}

// ---------------------------------------------------------------------------------------------
// Insert and lookup

TEMPLATE_TEST_CASE("flow table insert then lookup returns the entry", "[flow_table]", Ipv4, Ipv6) {
  FLOW_FAMILY_NAMES;
  FlowTable t(1024, long_timeouts());
  FlowKey k = make_key(7);
  uint32_t h = FlowTable::hash(k);
  CHECK(h == FlowTable::hash(k));  // deterministic

  REQUIRE(t.lookup(k, h, 100) == nullptr);
  t.prefetch(h);  // must be harmless
  FlowEntry* e = t.insert(k, h, 42, FlowState::syn, 100);
  REQUIRE(e != nullptr);
  CHECK(same(*e, k));
  CHECK(e->backend == 42);
  CHECK(e->state == FlowState::syn);
  CHECK(e->last_seen_ms == 100);
  CHECK(t.size() == 1);
  CHECK(t.stats().inserted == 1);

  FlowEntry* found = t.lookup(k, h, 150);
  CHECK(found == e);
  REQUIRE(found != nullptr);
  CHECK(found->backend == 42);
  CHECK(found->state == FlowState::syn);
  // A lookup does not refresh the flow: only observe_* does.
  CHECK(found->last_seen_ms == 100);

  // A second flow with another backend and state does not disturb the first.
  FlowKey k2 = make_key(8, kUdp);
  FlowEntry* e2 = add(t, k2, 7, FlowState::udp, 120);
  REQUIRE(e2 != nullptr);
  CHECK(e2 != e);
  CHECK(t.size() == 2);
  REQUIRE(find(t, k, 130) == e);
  CHECK(find(t, k, 130)->backend == 42);
  REQUIRE(find(t, k2, 130) == e2);
  CHECK(find(t, k2, 130)->backend == 7);
  CHECK(find(t, k2, 130)->state == FlowState::udp);
}

TEMPLATE_TEST_CASE("flow table lookup misses when any single key field differs", "[flow_table]",
                   Ipv4, Ipv6) {
  FLOW_FAMILY_NAMES;
  FlowKey base = make_key(1);
  base.src_port = 40000;
  base.dst_port = 443;

  struct Variant {
    const char* name;
    FlowKey key;
  };
  std::vector<Variant> variants;
  FlowKey v = base;
  flip(v.src_ip);
  variants.push_back({"src ip", v});
  v = base;
  flip(v.dst_ip);
  variants.push_back({"dst ip", v});
  v = base;
  v.src_port ^= 1;
  variants.push_back({"src port", v});
  v = base;
  v.dst_port ^= 1;
  variants.push_back({"dst port", v});
  v = base;
  v.proto = kUdp;
  variants.push_back({"proto", v});
  // Swapped direction (the reply's tuple) is another flow too.
  v = base;
  std::swap(v.src_ip, v.dst_ip);
  std::swap(v.src_port, v.dst_port);
  variants.push_back({"reversed tuple", v});

  FlowTable t(300, long_timeouts());
  uint32_t hb = FlowTable::hash(base);
  REQUIRE(t.insert(base, hb, 3, FlowState::established, 0) != nullptr);

  for (const Variant& var : variants) {
    CAPTURE(var.name);
    // Each field takes part in the hash ...
    CHECK(FlowTable::hash(var.key) != hb);
    // ... and in the key comparison: even probed with the base's hash (same buckets), the
    // variant must not match the base's entry.
    CHECK(t.lookup(var.key, FlowTable::hash(var.key), 1) == nullptr);
    CHECK(t.lookup(var.key, hb, 1) == nullptr);
  }
  REQUIRE(t.lookup(base, hb, 1) != nullptr);
  CHECK(t.lookup(base, hb, 1)->backend == 3);

  // All variants can live side by side with their own backends.
  uint16_t backend = 10;
  for (const Variant& var : variants)
    REQUIRE(t.insert(var.key, FlowTable::hash(var.key), backend++, FlowState::udp, 2));
  CHECK(t.size() == variants.size() + 1);
  backend = 10;
  for (const Variant& var : variants) {
    CAPTURE(var.name);
    FlowEntry* e = t.lookup(var.key, FlowTable::hash(var.key), 3);
    REQUIRE(e != nullptr);
    CHECK(same(*e, var.key));
    CHECK(e->backend == backend++);
  }
  REQUIRE(t.lookup(base, hb, 3) != nullptr);
  CHECK(t.lookup(base, hb, 3)->backend == 3);
  CHECK(t.lookup(base, hb, 3)->state == FlowState::established);
}

// ---------------------------------------------------------------------------------------------
// Timeouts

TEMPLATE_TEST_CASE("flow table timeouts: each state alive at its timeout, gone one ms later",
                   "[flow_table]", Ipv4, Ipv6) {
  FLOW_FAMILY_NAMES;
  struct Case {
    FlowState state;
    uint32_t timeout;
    uint8_t proto;
  };
  for (Case c :
       {Case{FlowState::syn, kSynMs, kTcp}, Case{FlowState::established, kEstablishedMs, kTcp},
        Case{FlowState::closing, kClosingMs, kTcp}, Case{FlowState::udp, kUdpMs, kUdp}}) {
    CAPTURE(static_cast<int>(c.state), c.timeout);
    FlowTable t(30, small_timeouts());
    FlowKey k = make_key(1, c.proto);
    const uint32_t t0 = 1000;
    FlowEntry* e = add(t, k, 5, c.state, t0);
    REQUIRE(e != nullptr);

    CHECK_FALSE(t.expired(*e, t0));
    CHECK_FALSE(t.expired(*e, t0 + c.timeout));
    CHECK(t.expired(*e, t0 + c.timeout + 1));

    CHECK(find(t, k, t0) == e);
    CHECK(find(t, k, t0 + c.timeout - 1) == e);
    CHECK(find(t, k, t0 + c.timeout) == e);
    CHECK(live_count(t, t0 + c.timeout) == 1);
    CHECK(live_count(t, t0 + c.timeout + 1) == 0);
    // An expired entry still occupies its slot until ageing, a lookup of its key or a
    // replacement frees it.
    CHECK(t.size() == 1);
    t.age(t0 + c.timeout, t.bucket_count());
    CHECK(t.size() == 1);
    CHECK(t.stats().expired == 0);
    CHECK(find(t, k, t0 + c.timeout) == e);

    // Freed by ageing ...
    FlowTable aged(30, small_timeouts());
    REQUIRE(add(aged, k, 5, c.state, t0));
    aged.age(t0 + c.timeout + 1, aged.bucket_count());
    CHECK(aged.size() == 0);
    CHECK(aged.stats().expired == 1);
    CHECK(find(aged, k, t0 + c.timeout + 1) == nullptr);
    CHECK(aged.stats().expired == 1);

    // ... or by the lookup that finds it timed out.
    CHECK(find(t, k, t0 + c.timeout + 1) == nullptr);
    CHECK(t.size() == 0);
    CHECK(t.stats().expired == 1);
    CHECK(find(t, k, t0 + c.timeout + 1) == nullptr);
    CHECK(t.stats().expired == 1);
    t.age(t0 + c.timeout + 1, t.bucket_count());
    CHECK(t.stats().expired == 1);
    CHECK(total_evicted(t) == 0);
  }
}

TEMPLATE_TEST_CASE("flow table observe_* refreshes last_seen so the flow lives on", "[flow_table]",
                   Ipv4, Ipv6) {
  FLOW_FAMILY_NAMES;
  struct Case {
    FlowState state;
    uint32_t timeout;
    uint8_t proto;
    uint8_t flags;  // a packet that keeps the state
  };
  for (Case c : {Case{FlowState::syn, kSynMs, kTcp, kTcpSynFlag},
                 Case{FlowState::established, kEstablishedMs, kTcp, kTcpAckFlag | kTcpPshFlag},
                 Case{FlowState::closing, kClosingMs, kTcp, kTcpAckFlag},
                 Case{FlowState::udp, kUdpMs, kUdp, 0}}) {
    CAPTURE(static_cast<int>(c.state), c.timeout);
    FlowTable t(30, small_timeouts());
    FlowKey k = make_key(2, c.proto);
    const uint32_t t0 = 5000;
    FlowEntry* e = add(t, k, 9, c.state, t0);
    REQUIRE(e != nullptr);

    // Refresh three times, each time at the last moment the flow is still alive.
    uint32_t now = t0;
    for (int i = 0; i < 3; ++i) {
      now += c.timeout;
      FlowEntry* f = find(t, k, now);
      REQUIRE(f == e);
      if (c.proto == kUdp)
        FlowTable::observe_udp(*f, now);
      else
        FlowTable::observe_tcp(*f, c.flags, now);
      CHECK(f->last_seen_ms == now);
      CHECK(f->state == c.state);
      CHECK(f->backend == 9);
      // Ageing in between frees nothing: the flow is fresh.
      t.age(now + c.timeout, t.bucket_count());
      CHECK(t.size() == 1);
    }
    // Without the refreshes the flow would have been gone long ago.
    CHECK(now + c.timeout > t0 + c.timeout + 1);
    CHECK(find(t, k, now + c.timeout) == e);
    CHECK(find(t, k, now + c.timeout + 1) == nullptr);
    t.age(now + c.timeout + 1, t.bucket_count());
    CHECK(t.size() == 0);
    CHECK(t.stats().expired == 1);
  }
}

TEMPLATE_TEST_CASE("flow table timeouts follow the current state after a transition",
                   "[flow_table]", Ipv4, Ipv6) {
  FLOW_FAMILY_NAMES;
  FlowTable t(30, small_timeouts());
  FlowKey k = make_key(3);
  FlowEntry* e = add(t, k, 1, FlowState::syn, 0);
  REQUIRE(e != nullptr);
  // syn (10 ms) -> established (40 ms) at t=10: alive until 50, not just until 20.
  FlowTable::observe_tcp(*e, kTcpAckFlag, 10);
  REQUIRE(e->state == FlowState::established);
  CHECK(find(t, k, 21) == e);
  CHECK(find(t, k, 50) == e);
  CHECK(t.expired(*e, 51));
  // established -> closing (20 ms) at t=50: alive until 70, not until 90.
  FlowTable::observe_tcp(*e, kTcpFinFlag | kTcpAckFlag, 50);
  REQUIRE(e->state == FlowState::closing);
  CHECK(find(t, k, 70) == e);
  CHECK(t.expired(*e, 71));
  CHECK(find(t, k, 71) == nullptr);
  CHECK(t.size() == 0);
}

TEMPLATE_TEST_CASE("flow table idle time is wrap-safe across the 32-bit millisecond clock",
                   "[flow_table]", Ipv4, Ipv6) {
  FLOW_FAMILY_NAMES;
  FlowTable t(30, small_timeouts());
  FlowKey k = make_key(4);
  const uint32_t t0 = std::numeric_limits<uint32_t>::max() - 5;  // clock wraps 6 ms later
  FlowEntry* e = add(t, k, 2, FlowState::established, t0);
  REQUIRE(e != nullptr);
  const uint32_t at_timeout = t0 + kEstablishedMs;  // wrapped: 34
  CHECK(at_timeout == kEstablishedMs - 6);
  CHECK(find(t, k, 0) == e);
  CHECK(find(t, k, at_timeout) == e);
  CHECK_FALSE(t.expired(*e, at_timeout));
  CHECK(t.expired(*e, at_timeout + 1));
  t.age(at_timeout, t.bucket_count());
  CHECK(t.size() == 1);
  t.age(at_timeout + 1, t.bucket_count());
  CHECK(t.size() == 0);
  CHECK(t.stats().expired == 1);
  CHECK(find(t, k, at_timeout + 1) == nullptr);
}

// ---------------------------------------------------------------------------------------------
// TCP state machine

TEMPLATE_TEST_CASE("flow table initial_tcp_state of the first packet", "[flow_table]", Ipv4, Ipv6) {
  FLOW_FAMILY_NAMES;
  CHECK(FlowTable::initial_tcp_state(kTcpSynFlag) == FlowState::syn);
  // SYN+ACK, ACK, PSH|ACK: a flow picked up mid-stream is taken as established.
  CHECK(FlowTable::initial_tcp_state(kTcpSynFlag | kTcpAckFlag) == FlowState::established);
  CHECK(FlowTable::initial_tcp_state(kTcpAckFlag) == FlowState::established);
  CHECK(FlowTable::initial_tcp_state(kTcpPshFlag | kTcpAckFlag) == FlowState::established);
  CHECK(FlowTable::initial_tcp_state(kTcpFinFlag) == FlowState::closing);
  CHECK(FlowTable::initial_tcp_state(kTcpFinFlag | kTcpAckFlag) == FlowState::closing);
  CHECK(FlowTable::initial_tcp_state(kTcpRstFlag) == FlowState::closing);
  CHECK(FlowTable::initial_tcp_state(kTcpRstFlag | kTcpAckFlag) == FlowState::closing);
  // RST/FIN win over SYN.
  CHECK(FlowTable::initial_tcp_state(kTcpSynFlag | kTcpFinFlag) == FlowState::closing);
  CHECK(FlowTable::initial_tcp_state(kTcpSynFlag | kTcpRstFlag) == FlowState::closing);
}

TEMPLATE_TEST_CASE("flow table observe_tcp state transitions", "[flow_table]", Ipv4, Ipv6) {
  FLOW_FAMILY_NAMES;
  auto entry = [](FlowState s) {
    FlowEntry e{};
    e.state = s;
    e.backend = 77;
    e.last_seen_ms = 1;
    return e;
  };
  struct Case {
    const char* name;
    FlowState from;
    uint8_t flags;
    FlowState to;
  };
  const Case cases[] = {
      {"syn + ACK -> established", FlowState::syn, kTcpAckFlag, FlowState::established},
      {"syn + PSH|ACK -> established", FlowState::syn, kTcpPshFlag | kTcpAckFlag,
       FlowState::established},
      {"syn + SYN (retransmit) stays syn", FlowState::syn, kTcpSynFlag, FlowState::syn},
      {"syn + SYN|ACK stays syn", FlowState::syn, kTcpSynFlag | kTcpAckFlag, FlowState::syn},
      {"syn + bare PSH stays syn", FlowState::syn, kTcpPshFlag, FlowState::syn},
      {"syn + RST -> closing", FlowState::syn, kTcpRstFlag, FlowState::closing},
      {"established + ACK stays", FlowState::established, kTcpAckFlag, FlowState::established},
      {"established + PSH|ACK stays", FlowState::established, kTcpPshFlag | kTcpAckFlag,
       FlowState::established},
      {"established + FIN -> closing", FlowState::established, kTcpFinFlag, FlowState::closing},
      {"established + FIN|ACK -> closing", FlowState::established, kTcpFinFlag | kTcpAckFlag,
       FlowState::closing},
      {"established + RST -> closing", FlowState::established, kTcpRstFlag, FlowState::closing},
      {"established + RST|ACK -> closing", FlowState::established, kTcpRstFlag | kTcpAckFlag,
       FlowState::closing},
      {"established + new SYN -> syn", FlowState::established, kTcpSynFlag, FlowState::syn},
      {"closing + new SYN -> syn", FlowState::closing, kTcpSynFlag, FlowState::syn},
      {"closing + ACK stays closing", FlowState::closing, kTcpAckFlag, FlowState::closing},
      {"closing + FIN stays closing", FlowState::closing, kTcpFinFlag, FlowState::closing},
      {"closing + SYN|ACK stays closing", FlowState::closing, kTcpSynFlag | kTcpAckFlag,
       FlowState::closing},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    FlowEntry e = entry(c.from);
    FlowTable::observe_tcp(e, c.flags, 12345);
    CHECK(e.state == c.to);
    CHECK(e.last_seen_ms == 12345);
    CHECK(e.backend == 77);  // the backend is pinned whatever the state does
  }
}

TEMPLATE_TEST_CASE("flow table full TCP lifecycle through the table", "[flow_table]", Ipv4, Ipv6) {
  FLOW_FAMILY_NAMES;
  FlowTable t(30, small_timeouts());
  FlowKey k = make_key(5);
  uint32_t now = 100;
  FlowEntry* e = add(t, k, 4, FlowTable::initial_tcp_state(kTcpSynFlag), now);
  REQUIRE(e != nullptr);
  CHECK(e->state == FlowState::syn);
  // Each packet arrives within the timeout of the state the flow is in.
  auto packet = [&](uint32_t gap, uint8_t flags) {
    now += gap;
    FlowEntry* f = find(t, k, now);
    REQUIRE(f == e);
    FlowTable::observe_tcp(*f, flags, now);
    return f->state;
  };
  CHECK(packet(5, kTcpAckFlag) == FlowState::established);
  CHECK(packet(30, kTcpPshFlag | kTcpAckFlag) == FlowState::established);
  CHECK(packet(30, kTcpFinFlag | kTcpAckFlag) == FlowState::closing);
  CHECK(packet(15, kTcpSynFlag) == FlowState::syn);  // the client reuses the port
  CHECK(packet(5, kTcpAckFlag) == FlowState::established);
  CHECK(packet(1, kTcpRstFlag) == FlowState::closing);
  CHECK(e->backend == 4);
  CHECK(find(t, k, now + kClosingMs) == e);
  CHECK(t.stats().inserted == 1);
  CHECK(t.size() == 1);
  CHECK(find(t, k, now + kClosingMs + 1) == nullptr);
  CHECK(t.size() == 0);
  CHECK(t.stats().expired == 1);
}

// ---------------------------------------------------------------------------------------------
// Re-inserting a flow whose entry timed out but was not aged out yet

TEST_CASE("flow table re-insert of a timed-out flow is found again", "[flow_table]") {
  // One bucket (capacity 3), so both candidate positions are the same three slots.
  FlowTable t(3, small_timeouts());
  FlowKey a = make_key(1), b = make_key(2), c = make_key(3);

  SECTION("an empty slot after the stale entry") {
    REQUIRE(add(t, a, 1, FlowState::established, 0));  // slot 0
    REQUIRE(add(t, b, 2, FlowState::syn, 0));          // slot 1
    REQUIRE(add(t, c, 3, FlowState::syn, 0));          // slot 2
    t.age(15, 1);  // b and c time out (syn, 10 ms), a does not (established, 40 ms)
    REQUIRE(t.size() == 1);
    REQUIRE(t.stats().expired == 2);

    // a resumes after its timeout, before ageing came round again. The lookup that misses
    // frees the stale entry.
    REQUIRE(find(t, a, 100) == nullptr);
    CHECK(t.size() == 0);
    FlowEntry* e = add(t, a, 9, FlowState::established, 100);
    REQUIRE(e != nullptr);
    CHECK(e->backend == 9);
    FlowEntry* f = find(t, a, 101);
    REQUIRE(f == e);
    CHECK(f->backend == 9);
    CHECK(f->last_seen_ms == 100);
    // The stale copy is gone, not a duplicate occupying a second slot.
    CHECK(t.size() == 1);
    uint32_t copies = 0;
    t.for_each(101, [&](const FlowEntry& x) { copies += same(x, a); });
    CHECK(copies == 1);
    // It replaced a timed-out entry: counted as expired, not as an eviction.
    CHECK(t.stats().expired == 3);
    CHECK(total_evicted(t) == 0);
  }

  SECTION("a full bucket where an older expired entry would be the victim") {
    FlowEntry* ea = add(t, a, 1, FlowState::syn, 0);          // slot 0
    REQUIRE(add(t, b, 2, FlowState::syn, 0));                 // slot 1
    FlowEntry* ec = add(t, c, 3, FlowState::established, 0);  // slot 2
    REQUIRE(ea != nullptr);
    REQUIRE(ec != nullptr);
    FlowTable::observe_tcp(*ea, kTcpSynFlag, 5);   // a: expired from t=16
    FlowTable::observe_tcp(*ec, kTcpAckFlag, 95);  // c: live at 100
    // At t=100 b (idle 100) is the oldest expired entry, a (idle 95) the next.
    REQUIRE(find(t, a, 100) == nullptr);
    CHECK(t.size() == 2);  // a's stale entry freed; b, expired, still there
    FlowEntry* e = add(t, a, 8, FlowState::established, 100);
    REQUIRE(e != nullptr);
    FlowEntry* f = find(t, a, 100);
    REQUIRE(f == e);
    CHECK(f->backend == 8);
    CHECK(t.size() == 3);
    CHECK(t.stats().expired == 1);
    CHECK(total_evicted(t) == 0);
    CHECK(find(t, c, 100) != nullptr);
    uint32_t copies = 0;
    t.for_each(100, [&](const FlowEntry& x) { copies += same(x, a); });
    CHECK(copies == 1);
  }
}

TEST_CASE("flow table lookup frees only the timed-out entry of its own key", "[flow_table]") {
  FlowTable t(3, small_timeouts());  // one bucket
  FlowKey a = make_key(1), b = make_key(2), c = make_key(3);
  REQUIRE(add(t, a, 1, FlowState::syn, 0));
  REQUIRE(add(t, b, 2, FlowState::syn, 0));
  REQUIRE(add(t, c, 3, FlowState::established, 0));
  // At t=20 a and b are timed out, c is not.
  CHECK(find(t, c, 20) != nullptr);
  CHECK(t.size() == 3);
  CHECK(t.stats().expired == 0);
  CHECK(find(t, a, 20) == nullptr);
  CHECK(t.size() == 2);
  CHECK(t.stats().expired == 1);
  // b is still there, expired: a lookup of another key (a, now absent) leaves it alone.
  CHECK(find(t, a, 20) == nullptr);
  CHECK(t.size() == 2);
  CHECK(t.stats().expired == 1);
  CHECK(find(t, b, 20) == nullptr);
  CHECK(t.size() == 1);
  CHECK(t.stats().expired == 2);
  CHECK(total_evicted(t) == 0);
  CHECK(find(t, c, 20) != nullptr);
}

// ---------------------------------------------------------------------------------------------
// Ageing

TEST_CASE("flow table age() sweeps gradually, at most max_buckets buckets per call",
          "[flow_table]") {
  FlowTable t(3000, small_timeouts());  // 1000 buckets
  const uint32_t buckets = t.bucket_count();
  REQUIRE(buckets == 1000);

  // Anchor: a key whose candidates are both bucket 0 lands in slot 0 of bucket 0 of the empty
  // table, so its address is the base of the bucket array, and no cuckoo move can take it
  // elsewhere. It is established and refreshed, so it outlives the test.
  uint32_t search = 10'000'000;
  FlowKey anchor_key = keys_with_candidates(buckets, 0, 0, 1, &search)[0];
  uint32_t next = 1;
  FlowEntry* anchor = add(t, anchor_key, 0, FlowState::established, 0);
  REQUIRE(anchor != nullptr);
  REQUIRE(slot_of(anchor) == 0);
  const uintptr_t base_line = line_of(anchor);
  auto bucket_index = [&](const FlowEntry& e) {
    uintptr_t line = line_of(&e);
    REQUIRE(line >= base_line);
    REQUIRE(line - base_line < buckets);
    return static_cast<uint32_t>(line - base_line);
  };

  // 1500 short-lived flows (syn, 10 ms) and 300 long-lived ones (established, 40 ms), at t=0.
  // At 60% load a few may be evicted to make room (two-choice first-fit); the expectations
  // below are taken from what the table holds after the fill.
  std::vector<FlowKey> short_keys, long_keys;
  for (int i = 0; i < 1500; ++i) {
    short_keys.push_back(make_key(next++));
    REQUIRE(add(t, short_keys.back(), 1, FlowState::syn, 0));
  }
  for (int i = 0; i < 300; ++i) {
    long_keys.push_back(make_key(next++, kUdp));
    REQUIRE(add(t, long_keys.back(), 2, FlowState::established, 0));
  }
  const uint32_t filled = t.size();
  REQUIRE(filled == 1801 - total_evicted(t));
  REQUIRE(filled > 1700);
  REQUIRE(live_count(t, 0) == filled);
  REQUIRE(find(t, anchor_key, 0) == anchor);

  // How many short flows live in each bucket, and which long flows are in the table.
  std::vector<uint32_t> per_bucket(buckets, 0);
  uint32_t total_short = 0;
  t.for_each(0, [&](const FlowEntry& e) {
    if (e.state == FlowState::syn) {
      ++per_bucket[bucket_index(e)];
      ++total_short;
    }
  });
  std::vector<FlowKey> present_long;
  for (const FlowKey& k : long_keys)
    if (find(t, k, 0) != nullptr) present_long.push_back(k);
  REQUIRE(total_short + present_long.size() + 1 == filled);
  REQUIRE(total_short > 1400);

  // t = 20: short flows are past their timeout, long ones are not.
  const uint32_t now = 20;
  FlowTable::observe_tcp(*anchor, kTcpAckFlag, now);
  const uint32_t survivors = filled - total_short;
  CHECK(live_count(t, now) == survivors);
  CHECK(t.size() == filled);  // nothing freed before age() runs

  const uint32_t budget = 7;
  uint32_t swept = 0;
  uint32_t expected_freed = 0;
  uint32_t calls = 0;
  uint32_t decreases = 0;
  while (swept < buckets) {
    uint32_t before = t.size();
    t.age(now, budget);
    ++calls;
    uint32_t end = std::min(swept + budget, buckets);
    for (uint32_t b = swept; b < end; ++b) expected_freed += per_bucket[b];
    swept = end;
    CAPTURE(calls, swept);
    // Exactly the expired entries of the buckets swept so far are gone.
    REQUIRE(t.size() == filled - expected_freed);
    REQUIRE(t.stats().expired == expected_freed);
    REQUIRE(before - t.size() <= budget * kFlowEntriesPerBucket);
    if (t.size() < before) ++decreases;
  }
  CHECK(calls == (buckets + budget - 1) / budget);
  CHECK(decreases > 50);  // gradual: many calls each freed a part
  CHECK(t.size() == survivors);
  CHECK(t.stats().expired == total_short);
  CHECK(live_count(t, now) == survivors);
  for (const FlowKey& k : short_keys) REQUIRE(find(t, k, now) == nullptr);
  for (const FlowKey& k : present_long) {
    FlowEntry* e = find(t, k, now);
    REQUIRE(e != nullptr);
    CHECK(e->backend == 2);
  }
  REQUIRE(find(t, anchor_key, now) == anchor);

  // Another pass finds nothing more to free.
  for (uint32_t i = 0; i < buckets; i += budget) t.age(now, budget);
  CHECK(t.size() == survivors);
  CHECK(t.stats().expired == total_short);
}

TEMPLATE_TEST_CASE("flow table age(): one full sweep from any cursor frees every expired entry",
                   "[flow_table]", Ipv4, Ipv6) {
  FLOW_FAMILY_NAMES;
  FlowTable t(2000 * FlowTable::kEntriesPerBucket, small_timeouts());
  const uint32_t buckets = t.bucket_count();
  REQUIRE(buckets == 2000);

  std::vector<FlowKey> keys;
  uint32_t next = 1;
  // Round 1 at t=0: 150 syn flows (10 ms), 100 udp flows (30 ms).
  for (int i = 0; i < 150; ++i) {
    keys.push_back(make_key(next++));
    REQUIRE(add(t, keys.back(), 1, FlowState::syn, 0));
  }
  std::vector<FlowKey> udp_keys;
  for (int i = 0; i < 100; ++i) {
    udp_keys.push_back(make_key(next++, kUdp));
    REQUIRE(add(t, udp_keys.back(), 2, FlowState::udp, 0));
  }
  REQUIRE(t.size() == 250);
  REQUIRE(total_evicted(t) == 0);  // fixture: low load, every flow placed

  // Move the cursor into the table with nothing expired yet.
  t.age(5, 777);
  CHECK(t.size() == 250);
  CHECK(t.stats().expired == 0);

  SECTION("budget == bucket_count") {
    t.age(15, buckets);  // syn expired, udp not
    CHECK(t.size() == 100);
    CHECK(t.stats().expired == 150);
    t.age(31, buckets);
    CHECK(t.size() == 0);
    CHECK(t.stats().expired == 250);
  }
  SECTION("budget larger than bucket_count") {
    t.age(15, buckets * 10 + 3);
    CHECK(t.size() == 100);
    CHECK(t.stats().expired == 150);
    t.age(31, std::numeric_limits<uint32_t>::max());
    CHECK(t.size() == 0);
    CHECK(t.stats().expired == 250);
  }
  SECTION("budget 0 does nothing") {
    t.age(100, 0);
    CHECK(t.size() == 250);
    CHECK(t.stats().expired == 0);
    CHECK(live_count(t, 100) == 0);
  }
  SECTION("sweeps of one bucket each, wrapping around") {
    uint32_t prev = t.size();
    for (uint32_t i = 0; i < buckets; ++i) {
      t.age(15, 1);
      REQUIRE(prev - t.size() <= FlowTable::kEntriesPerBucket);
      prev = t.size();
    }
    CHECK(t.size() == 100);
    CHECK(t.stats().expired == 150);
  }
  // Ageing never frees a live entry.
  if (t.size() == 100) {
    for (const FlowKey& k : udp_keys) {
      FlowEntry* e = find(t, k, 15);
      REQUIRE(e != nullptr);
      CHECK(e->backend == 2);
    }
  }
  CHECK(t.stats().inserted == 250);
  CHECK(total_evicted(t) == 0);
}

TEMPLATE_TEST_CASE("flow table age() spares flows refreshed by traffic", "[flow_table]", Ipv4,
                   Ipv6) {
  FLOW_FAMILY_NAMES;
  FlowTable t(3000, small_timeouts());
  std::vector<FlowKey> keys;
  for (uint32_t i = 0; i < 60; ++i) {
    keys.push_back(make_key(i + 1));
    REQUIRE(add(t, keys.back(), static_cast<uint16_t>(i), FlowState::established, 0));
  }
  REQUIRE(total_evicted(t) == 0);  // fixture: low load, every flow placed
  // Every third flow sees traffic at t=30.
  for (std::size_t i = 0; i < keys.size(); i += 3) {
    FlowEntry* e = find(t, keys[i], 30);
    REQUIRE(e != nullptr);
    FlowTable::observe_tcp(*e, kTcpAckFlag, 30);
  }
  t.age(41, t.bucket_count());  // idle 41 > 40 for the others, 11 for the refreshed
  CHECK(t.size() == 20);
  CHECK(t.stats().expired == 40);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    CAPTURE(i);
    FlowEntry* e = find(t, keys[i], 41);
    if (i % 3 == 0) {
      REQUIRE(e != nullptr);
      CHECK(e->backend == i);
    } else {
      CHECK(e == nullptr);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Full-table policy

TEST_CASE("flow table candidate bucket mirror matches placement", "[flow_table]") {
  // Two buckets. Keys whose candidates are both bucket 0 (or both 1) can only go there.
  FlowTable t(6, long_timeouts());
  REQUIRE(t.bucket_count() == 2);
  uint32_t next = 1;
  auto in0 = keys_with_candidates(2, 0, 0, 4, &next);
  auto in1 = keys_with_candidates(2, 1, 1, 3, &next);
  std::vector<FlowEntry*> e0, e1;
  for (int i = 0; i < 3; ++i) e0.push_back(add(t, in0[i], 0, FlowState::established, 0));
  for (int i = 0; i < 3; ++i) e1.push_back(add(t, in1[i], 1, FlowState::established, 0));
  CHECK(t.size() == 6);
  CHECK(total_evicted(t) == 0);
  for (int i = 0; i < 3; ++i) {
    CHECK(line_of(e0[i]) == line_of(e0[0]));
    CHECK(line_of(e1[i]) == line_of(e0[0]) + 1);  // bucket 1 is the next cache line
    CHECK(slot_of(e0[i]) == uintptr_t(i));
    CHECK(slot_of(e1[i]) == uintptr_t(i));
  }
  // A fourth bucket-0-only key must evict from bucket 0, never from bucket 1.
  FlowEntry* v = add(t, in0[3], 0, FlowState::established, 1);
  CHECK(line_of(v) == line_of(e0[0]));
  CHECK(evicted(t, FlowState::established) == 1);
  for (const FlowKey& k : in1) CHECK(find(t, k, 1) != nullptr);

  // A key with candidates (0, 1) goes to its second bucket when the first is full.
  FlowTable u(6, long_timeouts());
  uint32_t n2 = 1000;
  auto a0 = keys_with_candidates(2, 0, 0, 3, &n2);
  auto x = keys_with_candidates(2, 0, 1, 1, &n2);
  std::vector<FlowEntry*> ea;
  for (const FlowKey& k : a0) ea.push_back(add(u, k, 0, FlowState::syn, 0));
  FlowEntry* ex = add(u, x[0], 5, FlowState::syn, 0);
  CHECK(line_of(ex) == line_of(ea[0]) + 1);
  CHECK(slot_of(ex) == 0);
  CHECK(total_evicted(u) == 0);
  CHECK(u.size() == 4);
}

TEST_CASE("flow table moves an entry to its other bucket rather than evict", "[flow_table]") {
  FlowTable t(6, small_timeouts());  // two buckets
  uint32_t next = 1;
  // Three flows whose first bucket is 0 and second 1: they fill bucket 0.
  auto movable = keys_with_candidates(2, 0, 1, 3, &next);
  auto only0 = keys_with_candidates(2, 0, 0, 2, &next);
  auto only1 = keys_with_candidates(2, 1, 1, 3, &next);
  std::vector<FlowEntry*> placed;
  for (uint16_t i = 0; i < 3; ++i)
    placed.push_back(add(t, movable[i], 100 + i, FlowState::established, 10 + i));
  for (uint16_t i = 1; i < 3; ++i) CHECK(line_of(placed[i]) == line_of(placed[0]));

  SECTION("into a free slot") {
    // A flow that can only live in bucket 0: one of the movable flows goes to bucket 1.
    FlowEntry* e = add(t, only0[0], 7, FlowState::syn, 20);
    REQUIRE(e != nullptr);
    CHECK(line_of(e) == line_of(placed[0]));
    CHECK(total_evicted(t) == 0);
    CHECK(t.stats().expired == 0);
    CHECK(t.size() == 4);
    CHECK(find(t, only0[0], 20) == e);
    for (uint16_t i = 0; i < 3; ++i) {
      CAPTURE(i);
      // The moved flow keeps its backend, state and last_seen.
      FlowEntry* f = find(t, movable[i], 20);
      REQUIRE(f != nullptr);
      CHECK(f->backend == 100 + i);
      CHECK(f->state == FlowState::established);
      CHECK(f->last_seen_ms == 10u + i);
    }
    uint32_t in_bucket1 = 0;
    t.for_each(20,
               [&](const FlowEntry& x) { in_bucket1 += line_of(&x) == line_of(placed[0]) + 1; });
    CHECK(in_bucket1 == 1);
  }

  SECTION("into an expired slot") {
    // Bucket 1 full of bucket-1-only flows, one of them timed out (udp, 30 ms).
    REQUIRE(add(t, only1[0], 1, FlowState::udp, 0));
    REQUIRE(add(t, only1[1], 1, FlowState::established, 40));
    REQUIRE(add(t, only1[2], 1, FlowState::established, 40));
    REQUIRE(t.size() == 6);
    FlowEntry* e = add(t, only0[0], 7, FlowState::syn, 45);
    REQUIRE(e != nullptr);
    CHECK(t.stats().expired == 1);
    CHECK(total_evicted(t) == 0);
    CHECK(t.size() == 6);
    CHECK(find(t, only1[0], 45) == nullptr);
    for (const FlowKey& k : movable) CHECK(find(t, k, 45) != nullptr);
    CHECK(find(t, only1[1], 45) != nullptr);
    CHECK(find(t, only1[2], 45) != nullptr);
    CHECK(find(t, only0[0], 45) == e);
  }

  SECTION("no move possible: evict") {
    REQUIRE(add(t, only1[0], 1, FlowState::established, 30));
    REQUIRE(add(t, only1[1], 1, FlowState::established, 30));
    REQUIRE(add(t, only1[2], 1, FlowState::established, 30));
    FlowEntry* e = add(t, only0[0], 7, FlowState::syn, 40);
    REQUIRE(e != nullptr);
    // All six are established; bucket 0's oldest (movable[0], seen at 10) goes.
    CHECK(evicted(t, FlowState::established) == 1);
    CHECK(t.size() == 6);
    CHECK(find(t, movable[0], 40) == nullptr);
    CHECK(find(t, movable[1], 40) != nullptr);
    CHECK(find(t, movable[2], 40) != nullptr);
    for (const FlowKey& k : only1) CHECK(find(t, k, 40) != nullptr);
  }
}

TEST_CASE("flow table full one-bucket table: victim order", "[flow_table]") {
  SECTION("an expired entry is replaced before any live one") {
    FlowTable t(3, small_timeouts());
    REQUIRE(t.bucket_count() == 1);
    FlowKey s = make_key(1), e = make_key(2), u = make_key(3, kUdp);
    // At t=45: s (syn, seen at 40) live; e (established, seen at 0) expired (45 > 40);
    // u (udp, seen at 20) live. The expired one goes although it is of the best class and
    // the live syn is of the worst.
    REQUIRE(add(t, e, 1, FlowState::established, 0));
    REQUIRE(add(t, u, 2, FlowState::udp, 20));
    REQUIRE(add(t, s, 3, FlowState::syn, 40));
    FlowKey n = make_key(4);
    FlowEntry* ne = add(t, n, 4, FlowState::syn, 45);
    REQUIRE(ne != nullptr);
    CHECK(find(t, n, 45) == ne);
    CHECK(find(t, e, 45) == nullptr);
    CHECK(find(t, s, 45) != nullptr);
    CHECK(find(t, u, 45) != nullptr);
    CHECK(t.size() == 3);
    CHECK(t.stats().expired == 1);
    CHECK(total_evicted(t) == 0);
    CHECK(t.stats().inserted == 4);
  }

  SECTION("several expired entries: one is replaced, the others wait for ageing") {
    FlowTable t(3, small_timeouts());
    FlowKey a = make_key(1), b = make_key(2), c = make_key(3);
    REQUIRE(add(t, a, 1, FlowState::syn, 2));
    REQUIRE(add(t, b, 2, FlowState::syn, 3));
    REQUIRE(add(t, c, 3, FlowState::closing, 4));
    FlowEntry* n = add(t, make_key(4), 4, FlowState::syn, 100);  // all three expired
    REQUIRE(n != nullptr);
    CHECK(t.stats().expired == 1);
    CHECK(total_evicted(t) == 0);
    CHECK(t.size() == 3);
    CHECK(live_count(t, 100) == 1);
    t.age(100, 1);
    CHECK(t.size() == 1);
    CHECK(t.stats().expired == 3);
    CHECK(find(t, make_key(4), 100) == n);
    CHECK(n->backend == 4);
  }

  SECTION("syn, then closing, then udp, then established; oldest first within a class") {
    FlowTable t(3, long_timeouts());
    FlowKey e0 = make_key(10), u = make_key(11, kUdp), c = make_key(12);
    REQUIRE(add(t, e0, 1, FlowState::established, 0));
    REQUIRE(add(t, u, 2, FlowState::udp, 1));
    REQUIRE(add(t, c, 3, FlowState::closing, 2));

    // closing goes before udp and established, though it is the newest.
    FlowKey s1 = make_key(20);
    REQUIRE(add(t, s1, 4, FlowState::syn, 3));
    CHECK(find(t, c, 3) == nullptr);
    CHECK(evicted(t, FlowState::closing) == 1);
    CHECK(total_evicted(t) == 1);

    // syn goes first, even the newest entry, and even for a new established flow.
    FlowKey s2 = make_key(21);
    REQUIRE(add(t, s2, 5, FlowState::syn, 4));
    CHECK(find(t, s1, 4) == nullptr);
    CHECK(evicted(t, FlowState::syn) == 1);
    FlowKey e1 = make_key(22);
    REQUIRE(add(t, e1, 6, FlowState::established, 5));
    CHECK(find(t, s2, 5) == nullptr);
    CHECK(evicted(t, FlowState::syn) == 2);

    // Now {e0, u, e1}: udp before established.
    FlowKey e2 = make_key(23);
    REQUIRE(add(t, e2, 7, FlowState::established, 6));
    CHECK(find(t, u, 6) == nullptr);
    CHECK(evicted(t, FlowState::udp) == 1);

    // {e0 (0), e1 (5), e2 (6)}: only established left; the oldest goes.
    FlowKey e3 = make_key(24);
    REQUIRE(add(t, e3, 8, FlowState::established, 7));
    CHECK(find(t, e0, 7) == nullptr);
    CHECK(evicted(t, FlowState::established) == 1);
    // {e3 (7), e1 (5), e2 (6)}: e1 is oldest. Refresh it: then e2 is.
    FlowTable::observe_tcp(*find(t, e1, 8), kTcpAckFlag, 8);
    FlowKey e4 = make_key(25);
    REQUIRE(add(t, e4, 9, FlowState::established, 9));
    CHECK(find(t, e2, 9) == nullptr);
    CHECK(find(t, e1, 9) != nullptr);
    CHECK(find(t, e3, 9) != nullptr);
    CHECK(find(t, e4, 9) != nullptr);
    CHECK(evicted(t, FlowState::established) == 2);

    CHECK(evicted(t, FlowState::syn) == 2);
    CHECK(evicted(t, FlowState::closing) == 1);
    CHECK(evicted(t, FlowState::udp) == 1);
    CHECK(evicted(t, FlowState::empty) == 0);
    CHECK(total_evicted(t) == 6);
    CHECK(t.stats().expired == 0);
    CHECK(t.stats().inserted == 9);
    CHECK(t.size() == 3);
  }

  SECTION("oldest syn goes first among several") {
    FlowTable t(3, long_timeouts());
    FlowKey a = make_key(1), b = make_key(2), c = make_key(3);
    REQUIRE(add(t, a, 1, FlowState::syn, 10));
    REQUIRE(add(t, b, 2, FlowState::syn, 5));
    REQUIRE(add(t, c, 3, FlowState::syn, 7));
    REQUIRE(add(t, make_key(4), 4, FlowState::syn, 11));
    CHECK(find(t, b, 11) == nullptr);
    CHECK(find(t, a, 11) != nullptr);
    CHECK(find(t, c, 11) != nullptr);
    REQUIRE(add(t, make_key(5), 5, FlowState::syn, 12));
    CHECK(find(t, c, 12) == nullptr);
    CHECK(find(t, a, 12) != nullptr);
    CHECK(evicted(t, FlowState::syn) == 2);
  }
}

TEST_CASE("flow table overfilled tiny tables never exceed capacity", "[flow_table]") {
  for (uint32_t cap : {3u, 6u}) {
    CAPTURE(cap);
    FlowTable t(cap, small_timeouts());
    REQUIRE(t.capacity() == cap);
    std::mt19937 rng(cap);
    const FlowState states[] = {FlowState::syn, FlowState::closing, FlowState::udp,
                                FlowState::established};
    uint32_t now = 0;
    for (uint32_t i = 0; i < 5000; ++i) {
      FlowKey k = make_key(i + 1);
      FlowState s = states[rng() % 4];
      if (rng() % 8 == 0) now += rng() % 50;  // sometimes long enough for entries to expire
      REQUIRE(find(t, k, now) == nullptr);
      FlowEntry* e = add(t, k, static_cast<uint16_t>(i), s, now);
      REQUIRE(e != nullptr);
      REQUIRE(t.size() <= t.capacity());
      // The flow just inserted is the one found.
      FlowEntry* f = find(t, k, now);
      REQUIRE(f == e);
      REQUIRE(f->backend == static_cast<uint16_t>(i));
      REQUIRE(f->state == s);
      if (i % 16 == 0) t.age(now, 1);
    }
    CHECK(t.stats().inserted == 5000);
    // Every insert either filled a free slot (which stays counted in size() until aged out)
    // or replaced an entry (an expired one, or a live one evicted); stats().expired counts
    // both the aged and the replaced expired entries.
    CHECK(t.stats().inserted - t.size() == total_evicted(t) + t.stats().expired);
    CHECK(t.stats().expired > 0);
    CHECK(total_evicted(t) > 0);
    CHECK(evicted(t, FlowState::empty) == 0);
    CHECK(live_count(t, now) <= t.size());
  }
}

TEST_CASE("flow table evicts established only when both candidate buckets hold nothing else",
          "[flow_table]") {
  FlowTable t(6, long_timeouts());
  uint32_t next = 1;
  // Bucket 0: three old established flows. Bucket 1: two established and one syn (newest).
  auto k0 = keys_with_candidates(2, 0, 0, 5, &next);
  auto k1 = keys_with_candidates(2, 1, 1, 2, &next);
  auto k01 = keys_with_candidates(2, 0, 1, 3, &next);
  auto k10 = keys_with_candidates(2, 1, 0, 1, &next);
  REQUIRE(add(t, k0[0], 10, FlowState::established, 0));
  REQUIRE(add(t, k0[1], 11, FlowState::established, 1));
  REQUIRE(add(t, k0[2], 12, FlowState::established, 2));
  REQUIRE(add(t, k1[0], 13, FlowState::established, 3));
  REQUIRE(add(t, k1[1], 14, FlowState::established, 4));
  FlowKey s = k01[0];  // first candidate (0) full: goes to bucket 1
  REQUIRE(add(t, s, 15, FlowState::syn, 50));
  REQUIRE(t.size() == 6);
  REQUIRE(total_evicted(t) == 0);

  // New flows whose candidates include bucket 1 take the syn's slot, even though bucket 0's
  // established flows are older.
  FlowEntry* n1 = add(t, k01[1], 16, FlowState::syn, 60);
  REQUIRE(n1 != nullptr);
  CHECK(find(t, s, 60) == nullptr);
  CHECK(evicted(t, FlowState::syn) == 1);
  CHECK(evicted(t, FlowState::established) == 0);
  FlowEntry* n2 = add(t, k10[0], 17, FlowState::syn, 61);  // candidates (1, 0)
  REQUIRE(n2 == n1);  // the same slot: the only non-established one
  CHECK(find(t, k01[1], 61) == nullptr);
  CHECK(evicted(t, FlowState::syn) == 2);
  CHECK(evicted(t, FlowState::established) == 0);
  for (const FlowKey& k : {k0[0], k0[1], k0[2], k1[0], k1[1]}) CHECK(find(t, k, 61) != nullptr);

  // A flow that can only go to bucket 0 (all established) must evict an established one: the
  // oldest there.
  FlowEntry* n3 = add(t, k0[3], 18, FlowState::syn, 62);
  REQUIRE(n3 != nullptr);
  CHECK(evicted(t, FlowState::established) == 1);
  CHECK(find(t, k0[0], 62) == nullptr);
  CHECK(find(t, k0[1], 62) != nullptr);
  CHECK(find(t, k0[2], 62) != nullptr);
  // And now bucket 0 has a syn again: the next bucket-0-only flow replaces it.
  REQUIRE(add(t, k0[4], 19, FlowState::established, 63));
  CHECK(find(t, k0[3], 63) == nullptr);
  CHECK(evicted(t, FlowState::syn) == 3);
  CHECK(evicted(t, FlowState::established) == 1);

  // An expired entry in either candidate bucket is preferred to any live one.
  FlowTable u(6, small_timeouts());
  uint32_t n = 5000;
  auto a0 = keys_with_candidates(2, 0, 0, 3, &n);
  auto a1 = keys_with_candidates(2, 1, 1, 3, &n);
  auto a01 = keys_with_candidates(2, 0, 1, 1, &n);
  REQUIRE(add(u, a1[1], 2, FlowState::established, 60));  // idle 45 at 105: expired
  for (const FlowKey& k : a0) REQUIRE(add(u, k, 1, FlowState::syn, 100));  // live at 105
  REQUIRE(add(u, a1[0], 2, FlowState::established, 100));
  REQUIRE(add(u, a1[2], 2, FlowState::established, 100));
  REQUIRE(add(u, a01[0], 3, FlowState::syn, 105));
  CHECK(find(u, a1[1], 105) == nullptr);
  CHECK(u.stats().expired == 1);
  CHECK(total_evicted(u) == 0);
  for (const FlowKey& k : a0) CHECK(find(u, k, 105) != nullptr);
  CHECK(find(u, a1[0], 105) != nullptr);
  CHECK(find(u, a1[2], 105) != nullptr);
  CHECK(find(u, a01[0], 105) != nullptr);
}

// ---------------------------------------------------------------------------------------------
// Scale

TEMPLATE_TEST_CASE(
    "flow table 80k random flows in a 100k table are all found or counted as evicted",
    "[flow_table]", Ipv4, Ipv6) {
  FLOW_FAMILY_NAMES;
  FlowTable t(100'000);
  REQUIRE(t.capacity() >= 100'000);
  REQUIRE(t.memory_bytes() == std::size_t(t.bucket_count()) * sizeof(typename FlowTable::Bucket));

  std::mt19937_64 rng(0x5ca1ab1e);
  std::map<std::string, uint16_t> flows;  // by key_bytes
  std::vector<FlowKey> keys;
  uint32_t now = 1;
  while (keys.size() < 80'000) {
    FlowKey k = TestType::random_key(rng);
    auto tup = key_bytes(k);
    if (flows.count(tup)) continue;
    uint16_t backend = static_cast<uint16_t>(rng());
    uint32_t h = FlowTable::hash(k);
    REQUIRE(t.lookup(k, h, now) == nullptr);
    FlowEntry* e =
        t.insert(k, h, backend, k.proto == kTcp ? FlowState::established : FlowState::udp, now);
    REQUIRE(e != nullptr);
    REQUIRE(e->backend == backend);
    flows.emplace(tup, backend);
    keys.push_back(k);
    if (keys.size() % 100 == 0) ++now;  // 800 ms in all: far below every default timeout
  }
  CHECK(t.stats().inserted == 80'000);
  CHECK(t.stats().expired == 0);
  CHECK(evicted(t, FlowState::syn) == 0);
  CHECK(evicted(t, FlowState::closing) == 0);

  uint64_t missing = 0;
  for (const FlowKey& k : keys) {
    FlowEntry* e = t.lookup(k, FlowTable::hash(k), now);
    if (e == nullptr) {
      ++missing;
      continue;
    }
    REQUIRE(same(*e, k));
    REQUIRE(e->backend == flows.at(key_bytes(k)));
    REQUIRE(e->last_seen_ms <= now);
  }
  // Every flow that is missing was evicted, and counted as such.
  CHECK(missing == total_evicted(t));
  // With cuckoo moves the IPv4 table fills to about 80% before evicting (flow_table.h);
  // without them (first fit over the two buckets) this load gives up ~6% of inserts. Bound
  // it so that a regression in the moves, the hash or the bucket mapping shows.
  CHECK(missing < TestType::kMaxMissingOf80kIn100k);
  CHECK(t.size() == 80'000 - missing);
  CHECK(live_count(t, now) == t.size());
}

// ---------------------------------------------------------------------------------------------
// for_each

TEMPLATE_TEST_CASE("flow table for_each visits exactly the live entries", "[flow_table]", Ipv4,
                   Ipv6) {
  FLOW_FAMILY_NAMES;
  FlowTable t(3000, small_timeouts());
  // Keys 1..40 at various times and states; at t=100 only some are live.
  std::map<uint32_t, std::pair<FlowState, uint32_t>> inserted;  // n -> (state, last_seen)
  const FlowState states[] = {FlowState::syn, FlowState::closing, FlowState::udp,
                              FlowState::established};
  for (uint32_t n = 1; n <= 40; ++n) {
    FlowState s = states[n % 4];
    uint32_t seen = 55 + n;  // 56..95
    REQUIRE(add(t, make_key(n, s == FlowState::udp ? kUdp : kTcp), static_cast<uint16_t>(1000 + n),
                s, seen));
    inserted[n] = {s, seen};
  }
  REQUIRE(total_evicted(t) == 0);  // fixture: low load, every flow placed
  REQUIRE(t.size() == 40);
  const uint32_t timeouts[] = {0, kSynMs, kClosingMs, kUdpMs, kEstablishedMs};

  for (uint32_t now : {95u, 100u, 110u, 130u, 140u, 200u}) {
    CAPTURE(now);
    std::set<uint32_t> expected;
    for (auto& [n, sv] : inserted)
      if (now - sv.second <= timeouts[static_cast<int>(sv.first)]) expected.insert(n);
    std::set<uint32_t> visited;
    uint32_t calls = 0;
    t.for_each(now, [&](const FlowEntry& e) {
      ++calls;
      uint32_t n = TestType::number(e);
      REQUIRE(inserted.count(n) == 1);
      CHECK(e.backend == 1000 + n);
      CHECK(e.state == inserted[n].first);
      CHECK(e.state != FlowState::empty);
      CHECK_FALSE(t.expired(e, now));
      visited.insert(n);
    });
    CHECK(calls == visited.size());  // each live entry once
    CHECK(visited == expected);
  }
  // Sanity on the fixture: the set of live entries really shrinks over time.
  CHECK(live_count(t, 95) > live_count(t, 110));
  CHECK(live_count(t, 110) > live_count(t, 130));
  CHECK(live_count(t, 130) > 0);
  CHECK(live_count(t, 95) < 40);  // closing/syn entries seen early are already gone
  CHECK(live_count(t, 200) == 0);

  // After ageing the same view holds, and freed slots are not visited.
  t.age(110, t.bucket_count());
  std::set<uint32_t> after;
  t.for_each(110, [&](const FlowEntry& e) { after.insert(TestType::number(e)); });
  CHECK(after.size() == t.size());
  CHECK(live_count(t, 110) == t.size());
  CHECK(t.stats().expired == 40 - t.size());
}

// ---------------------------------------------------------------------------------------------
// Full-table policy, connection counts and the remove hook on both families, whatever the
// number of entries per bucket (the IPv4-only tests above spell out its three).

TEMPLATE_TEST_CASE("flow table full one-bucket table: the lower state class goes first",
                   "[flow_table]", Ipv4, Ipv6) {
  FLOW_FAMILY_NAMES;
  constexpr uint32_t kPer = FlowTable::kEntriesPerBucket;
  const FlowState classes[] = {FlowState::syn, FlowState::closing, FlowState::udp,
                               FlowState::established};
  for (FlowState low : classes) {
    for (FlowState high : classes) {
      if (low >= high) continue;
      CAPTURE(static_cast<int>(low), static_cast<int>(high));
      FlowTable t(kPer, long_timeouts());
      REQUIRE(t.bucket_count() == 1);
      // The others, of the higher class, are older: the class decides before idle time.
      for (uint32_t i = 1; i < kPer; ++i) REQUIRE(add(t, make_key(i), 1, high, i));
      FlowKey victim = make_key(100);
      REQUIRE(add(t, victim, 2, low, 50));
      REQUIRE(add(t, make_key(200), 3, FlowState::established, 60));
      CHECK(find(t, victim, 60) == nullptr);
      for (uint32_t i = 1; i < kPer; ++i) CHECK(find(t, make_key(i), 60) != nullptr);
      CHECK(evicted(t, low) == 1);
      CHECK(total_evicted(t) == 1);
      CHECK(t.size() == kPer);
    }
  }

  SECTION("the longest idle within a class") {
    FlowTable t(kPer, long_timeouts());
    for (uint32_t i = 0; i < kPer; ++i)
      REQUIRE(add(t, make_key(i), 1, FlowState::established, 10 + (i + 1) % kPer));
    // Seen at 10: key kPer - 1.
    REQUIRE(add(t, make_key(100), 2, FlowState::established, 20));
    CHECK(find(t, make_key(kPer - 1), 20) == nullptr);
    for (uint32_t i = 0; i + 1 < kPer; ++i) CHECK(find(t, make_key(i), 20) != nullptr);
    CHECK(evicted(t, FlowState::established) == 1);
  }

  SECTION("an expired entry before any live one") {
    FlowTable t(kPer, small_timeouts());
    FlowKey old = make_key(0);
    REQUIRE(add(t, old, 1, FlowState::established, 0));  // expired at 45 (40 ms)
    for (uint32_t i = 1; i < kPer; ++i) REQUIRE(add(t, make_key(i), 1, FlowState::syn, 40));
    REQUIRE(add(t, make_key(100), 2, FlowState::syn, 45));
    CHECK(find(t, old, 45) == nullptr);
    for (uint32_t i = 1; i < kPer; ++i) CHECK(find(t, make_key(i), 45) != nullptr);
    CHECK(t.stats().expired == 1);
    CHECK(total_evicted(t) == 0);
  }
}

TEMPLATE_TEST_CASE("flow table cuckoo move into the other bucket, or eviction", "[flow_table]",
                   Ipv4, Ipv6) {
  FLOW_FAMILY_NAMES;
  constexpr uint32_t kPer = FlowTable::kEntriesPerBucket;
  FlowTable t(2 * kPer, long_timeouts());  // two buckets
  REQUIRE(t.bucket_count() == 2);
  uint32_t next = 1;
  auto movable = keys_with_candidates<TestType>(2, 0, 1, kPer, &next);
  auto only0 = keys_with_candidates<TestType>(2, 0, 0, 1, &next);
  auto only1 = keys_with_candidates<TestType>(2, 1, 1, kPer, &next);
  std::vector<FlowEntry*> placed;
  for (uint16_t i = 0; i < kPer; ++i)
    placed.push_back(add(t, movable[i], 100 + i, FlowState::established, 10 + i));
  for (FlowEntry* e : placed) CHECK(line_of(e) == line_of(placed[0]));

  SECTION("into a free slot of the other bucket") {
    FlowEntry* e = add(t, only0[0], 7, FlowState::syn, 20);
    REQUIRE(e != nullptr);
    CHECK(line_of(e) == line_of(placed[0]));
    CHECK(total_evicted(t) == 0);
    CHECK(t.size() == kPer + 1);
    CHECK(find(t, only0[0], 20) == e);
    uint32_t in_bucket1 = 0;
    for (uint16_t i = 0; i < kPer; ++i) {
      CAPTURE(i);
      FlowEntry* f = find(t, movable[i], 20);
      REQUIRE(f != nullptr);
      CHECK(f->backend == 100 + i);
      CHECK(f->state == FlowState::established);
      CHECK(f->last_seen_ms == 10u + i);
      in_bucket1 += line_of(f) == line_of(placed[0]) + 1;
    }
    CHECK(in_bucket1 == 1);
  }

  SECTION("no move possible: the oldest of the key's bucket is evicted") {
    for (const FlowKey& k : only1) REQUIRE(add(t, k, 1, FlowState::established, 30));
    REQUIRE(add(t, only0[0], 7, FlowState::syn, 40));
    CHECK(evicted(t, FlowState::established) == 1);
    CHECK(t.size() == 2 * kPer);
    CHECK(find(t, movable[0], 40) == nullptr);
    for (uint32_t i = 1; i < kPer; ++i) CHECK(find(t, movable[i], 40) != nullptr);
    for (const FlowKey& k : only1) CHECK(find(t, k, 40) != nullptr);
  }
}

TEMPLATE_TEST_CASE("flow table established flows survive a SYN flood", "[flow_table]", Ipv4,
                   Ipv6) {
  FLOW_FAMILY_NAMES;
  constexpr uint32_t kPer = FlowTable::kEntriesPerBucket;
  FlowTable t(2 * kPer, long_timeouts());
  uint32_t next = 1;
  // Each bucket: one syn, the rest established.
  std::vector<FlowKey> established;
  for (uint32_t b = 0; b < 2; ++b) {
    auto keys = keys_with_candidates<TestType>(2, b, b, kPer, &next);
    for (uint32_t i = 0; i + 1 < kPer; ++i) {
      REQUIRE(add(t, keys[i], static_cast<uint16_t>(100 + established.size()),
                  FlowState::established, 0));
      established.push_back(keys[i]);
    }
    REQUIRE(add(t, keys[kPer - 1], 200, FlowState::syn, 50));
  }
  REQUIRE(t.size() == 2 * kPer);

  std::mt19937_64 rng(1);
  uint32_t now = 100;
  for (int i = 0; i < 10000; ++i) {
    FlowKey k = TestType::random_key(rng);
    k.proto = kTcp;
    if (find(t, k, now) != nullptr) continue;
    REQUIRE(add(t, k, 1, FlowTable::initial_tcp_state(kTcpSynFlag), now));
    ++now;
  }
  CHECK(evicted(t, FlowState::established) == 0);
  CHECK(evicted(t, FlowState::syn) == t.stats().inserted - 2 * kPer);
  CHECK(t.stats().inserted > 9000);
  uint16_t backend = 100;
  for (const FlowKey& k : established) {
    FlowEntry* e = find(t, k, now);
    REQUIRE(e != nullptr);
    CHECK(e->state == FlowState::established);
    CHECK(e->backend == backend++);
  }
}

TEMPLATE_TEST_CASE("flow table connection counts follow inserts, changes and removals",
                   "[flow_table]", Ipv4, Ipv6) {
  FLOW_FAMILY_NAMES;
  FlowTable t(3000, small_timeouts());
  const auto& counts = t.connections();
  auto counted = [&](uint16_t backend) {
    return std::make_pair(counts.active(backend), counts.inactive(backend));
  };
  REQUIRE(add(t, make_key(1), 5, FlowState::syn, 0));
  REQUIRE(add(t, make_key(2), 5, FlowState::established, 0));
  REQUIRE(add(t, make_key(3, kUdp), 6, FlowState::udp, 0));
  CHECK(counted(5) == std::make_pair(1u, 1u));
  CHECK(counted(6) == std::make_pair(0u, 1u));

  // syn → established in place: inactive to active.
  FlowEntry* e = find(t, make_key(1), 5);
  REQUIRE(e != nullptr);
  FlowState before = e->state;
  FlowTable::observe_tcp(*e, kTcpAckFlag, 5);
  t.changed(*e, 5, before);
  CHECK(counted(5) == std::make_pair(2u, 0u));
  // Rescheduled to another backend.
  e->backend = 6;
  t.changed(*e, 5, e->state);
  CHECK(counted(5) == std::make_pair(1u, 0u));
  CHECK(counted(6) == std::make_pair(1u, 1u));

  // Expiry (udp at 30 ms, established at 40 ms) frees the counts, by ageing or by lookup.
  t.age(35, t.bucket_count());
  CHECK(counted(6) == std::make_pair(1u, 0u));
  CHECK(find(t, make_key(2), 41) == nullptr);
  CHECK(counted(5) == std::make_pair(0u, 0u));
  t.age(100, t.bucket_count());
  CHECK(counted(6) == std::make_pair(0u, 0u));
  CHECK(t.size() == 0);
}

TEMPLATE_TEST_CASE("flow table remove hook sees every live flow it gives up", "[flow_table]", Ipv4,
                   Ipv6) {
  FLOW_FAMILY_NAMES;
  constexpr uint32_t kPer = FlowTable::kEntriesPerBucket;
  struct Seen {
    std::vector<std::pair<uint32_t, FlowState>> gone;  // (flow number, state)
  } seen;
  auto hook = [](void* context, const FlowEntry& e) {
    static_cast<Seen*>(context)->gone.emplace_back(TestType::number(e), e.state);
  };
  FlowTable t(kPer, small_timeouts());  // one bucket
  t.on_remove(hook, &seen);

  for (uint32_t i = 1; i <= kPer; ++i) REQUIRE(add(t, make_key(i), 1, FlowState::syn, 0));
  // Evicted: the oldest syn, key 1 (all inserted at 0; ties go to the first).
  REQUIRE(add(t, make_key(50), 1, FlowState::established, 5));
  REQUIRE(seen.gone.size() == 1);
  CHECK(seen.gone[0] == std::make_pair(1u, FlowState::syn));
  // Timed out and found by lookup.
  CHECK(find(t, make_key(2), 11) == nullptr);
  REQUIRE(seen.gone.size() == 2);
  CHECK(seen.gone[1] == std::make_pair(2u, FlowState::syn));
  // Aged out.
  t.age(100, 1);
  CHECK(seen.gone.size() == kPer + 1);
  CHECK(t.size() == 0);

  // Removed hook: no more calls.
  t.on_remove(nullptr, nullptr);
  REQUIRE(add(t, make_key(60), 1, FlowState::syn, 200));
  t.age(300, 1);
  CHECK(seen.gone.size() == kPer + 1);
}

// ---------------------------------------------------------------------------------------------
// IPv6 layout

TEST_CASE("flow table IPv6 layout: 44-byte entries, two per 128-byte bucket", "[flow_table]") {
  STATIC_REQUIRE(sizeof(FlowEntry6) == 44);
  STATIC_REQUIRE(sizeof(shoal::dp::FlowBucket6) == 128);
  STATIC_REQUIRE(alignof(shoal::dp::FlowBucket6) == 128);
  STATIC_REQUIRE(shoal::dp::kFlowEntriesPerBucket6 == 2);
  CHECK(shoal::dp::kBytesPerFlow6 == 64.0);
  for (uint32_t requested : {0u, 1u, 2u, 3u, 100'000u}) {
    CAPTURE(requested);
    FlowTable6 t(requested);
    CHECK(t.capacity() >= requested);
    CHECK(t.capacity() <= std::max(requested, 1u) + 1);
    CHECK(t.memory_bytes() == std::size_t(t.bucket_count()) * 128);
    CHECK(find(t, Ipv6::key(1), 0) == nullptr);
  }
  // The IPv6 hash covers every byte of both addresses.
  FlowKey6 k = Ipv6::key(1);
  const uint32_t h = FlowTable6::hash(k);
  for (int i = 0; i < 16; ++i) {
    CAPTURE(i);
    FlowKey6 v = k;
    v.src_ip[i] ^= 0x80;
    CHECK(FlowTable6::hash(v) != h);
    v = k;
    v.dst_ip[i] ^= 0x01;
    CHECK(FlowTable6::hash(v) != h);
  }
}

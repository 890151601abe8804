// Per-worker flow tables, one per address family: pin each connection to the backend it was
// first scheduled to, so that a change of the backend set moves only new flows. One worker
// owns its tables; nothing else reads or writes them, so they need no lock.
//
// Layout: a fixed array of buckets; each key may live in one of two buckets (two-choice
// hashing, with cuckoo moves on insert). Sized once at start; never grows, never allocates
// after. Both families share one implementation (BasicFlowTable, over the entry type); only
// the key, the hash and the bucket geometry differ:
//   IPv4 (FlowTable):  64-byte buckets (one cache line), three 20-byte entries each, so one
//     flow costs 64/3 ≈ 21.3 bytes (kBytesPerFlow) and a lookup touches one cache line in
//     the common case. It fills to about 80% before the first evictions; size it with that
//     headroom.
//   IPv6 (FlowTable6): 128-byte buckets (two cache lines, 128-byte aligned so that the
//     adjacent-line prefetcher fetches the pair), two 44-byte entries each: 64 bytes per
//     flow (kBytesPerFlow6). A hit in the first slot touches one line, any other lookup two
//     per bucket. Three entries would not fit: 3 × 44 = 132 > 128, and the entry has no byte
//     to spare (two addresses and ports: 36; last_seen must span 7-day timeouts: 4; any of
//     65535 backends: 2; protocol and state: 2). Four entries in three lines (48 B/flow)
//     would cost a third line per bucket and six prefetches per new flow.
//
// Why not rte_hash: it has no eviction policy — a full rte_hash refuses the insert, and a
// load balancer under a SYN flood must instead give up half-open flows and keep established
// ones. Here the victim is chosen among the two candidate buckets: expired first, then SYN,
// closing, UDP, and established last, longest idle first within a class.
#pragma once

#include <rte_hash_crc.h>
#include <rte_prefetch.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "dataplane/connection_counts.h"
#include "dataplane/ipv6_address.h"
#include "dataplane/packet.h"

namespace shoal::dp {

enum class FlowState : uint8_t { empty = 0, syn, closing, udp, established };
inline constexpr std::size_t kFlowStateCount = 5;

// Key fields in network byte order, exactly as parsed.
struct FlowKey {
  uint32_t src_ip = 0;
  uint32_t dst_ip = 0;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t proto = 0;
};

struct FlowEntry {
  using Key = FlowKey;

  uint32_t src_ip;
  uint32_t dst_ip;
  uint16_t src_port;
  uint16_t dst_port;
  uint32_t last_seen_ms;  // wraps after 49 days: compared by wrap-safe difference
  uint16_t backend;       // stable backend id (Snapshot::backend)
  uint8_t proto;
  FlowState state;

  static constexpr uint32_t kPerBucket = 3;
  static constexpr std::size_t kBucketAlign = 64;

  FlowKey key() const { return {src_ip, dst_ip, src_port, dst_port, proto}; }
};
static_assert(sizeof(FlowEntry) == 20);

// The IPv6 key: addresses as they sit in the packet.
struct FlowKey6 {
  Ipv6Address src_ip{};
  Ipv6Address dst_ip{};
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t proto = 0;
};

// The IPv4 entry with wider addresses; the fields after them keep the IPv4 order and names,
// so that the shared code and the callers read both alike.
struct FlowEntry6 {
  using Key = FlowKey6;

  Ipv6Address src_ip;
  Ipv6Address dst_ip;
  uint16_t src_port;
  uint16_t dst_port;
  uint32_t last_seen_ms;
  uint16_t backend;
  uint8_t proto;
  FlowState state;

  static constexpr uint32_t kPerBucket = 2;
  static constexpr std::size_t kBucketAlign = 128;

  FlowKey6 key() const { return {src_ip, dst_ip, src_port, dst_port, proto}; }
};
static_assert(sizeof(FlowEntry6) == 44);

template <typename Entry>
struct alignas(Entry::kBucketAlign) FlowBucketOf {
  std::array<Entry, Entry::kPerBucket> entries;
};

using FlowBucket = FlowBucketOf<FlowEntry>;
using FlowBucket6 = FlowBucketOf<FlowEntry6>;
static_assert(sizeof(FlowBucket) == 64);
static_assert(sizeof(FlowBucket6) == 128);

inline constexpr uint32_t kFlowEntriesPerBucket = FlowEntry::kPerBucket;
inline constexpr uint32_t kFlowEntriesPerBucket6 = FlowEntry6::kPerBucket;
inline constexpr double kBytesPerFlow = double(sizeof(FlowBucket)) / kFlowEntriesPerBucket;
inline constexpr double kBytesPerFlow6 = double(sizeof(FlowBucket6)) / kFlowEntriesPerBucket6;
static_assert(kBytesPerFlow <= 24 && kBytesPerFlow6 <= 64);

// Idle time after which a flow in each state is forgotten. Defaults follow IPVS's
// (established 900 s, FIN 120 s, UDP 300 s) with a shorter half-open timeout, since
// half-open entries are what a SYN flood fills the table with.
struct FlowTimeouts {
  uint32_t syn_ms = 30'000;
  uint32_t established_ms = 900'000;
  uint32_t closing_ms = 120'000;
  uint32_t udp_ms = 300'000;

  uint32_t of(FlowState s) const {
    switch (s) {
      case FlowState::syn:
        return syn_ms;
      case FlowState::established:
        return established_ms;
      case FlowState::closing:
        return closing_ms;
      case FlowState::udp:
        return udp_ms;
      case FlowState::empty:
        break;
    }
    return 0;
  }
};

struct FlowTableStats {
  uint64_t inserted = 0;
  uint64_t expired = 0;  // removed by ageing, or replaced after they timed out
  // Live flows given up to make room, by the state they were in.
  std::array<uint64_t, kFlowStateCount> evicted{};
};

// The flow table over an entry type (FlowEntry or FlowEntry6); see the top of this file.
// Its members are defined and instantiated for both in flow_table.cc.
template <typename Entry>
class BasicFlowTable {
 public:
  using Key = typename Entry::Key;
  using Bucket = FlowBucketOf<Entry>;
  static constexpr uint32_t kEntriesPerBucket = Entry::kPerBucket;

  // `capacity` flows, rounded up to whole buckets. Allocates on `socket` with rte_malloc
  // (hugepage memory, NUMA-local; needs a running EAL), from the C++ heap if that fails.
  // `shared_counts`: keep the per-backend counts in another table's (the worker's IPv4 and
  // IPv6 tables share one, so that its scheduler sees every flow of a backend); null: its own.
  BasicFlowTable(uint32_t capacity, const FlowTimeouts& timeouts = {}, int socket = -1,
                 ConnectionCounts* shared_counts = nullptr);
  ~BasicFlowTable();
  BasicFlowTable(const BasicFlowTable&) = delete;
  BasicFlowTable& operator=(const BasicFlowTable&) = delete;

  static uint32_t hash(const Key& key);

  // Warms the key's buckets ahead of lookup(); the pipeline calls it a few packets early.
  void prefetch(uint32_t hash) const;

  // The live entry for `key`, or nullptr. An entry of `key` past its timeout is freed on the
  // way, so that the flow's next insert cannot leave a stale twin behind.
  Entry* lookup(const Key& key, uint32_t hash, uint32_t now_ms);

  // Adds `key` (absent: the caller looked it up) and returns its entry. Never fails: when
  // both candidate buckets are full a victim is evicted and counted in stats().evicted.
  // Inserts may move other entries, so a pointer from an earlier call is stale after it.
  Entry* insert(const Key& key, uint32_t hash, uint16_t backend, FlowState state, uint32_t now_ms);

  // Ages up to `max_buckets` buckets from where the last call stopped, freeing expired
  // entries. Called once per worker loop so that no call stalls the worker.
  void age(uint32_t now_ms, uint32_t max_buckets);

  // Entries whose state machine follows a packet of the flow (client → service direction).
  static void observe_tcp(Entry& e, uint8_t tcp_flags, uint32_t now_ms);
  static void observe_udp(Entry& e, uint32_t now_ms) { e.last_seen_ms = now_ms; }
  // State for the first packet of a flow: SYN → syn, RST/FIN → closing, any other TCP packet
  // (a flow picked up mid-stream, after a failover or an eviction) → established.
  static FlowState initial_tcp_state(uint8_t tcp_flags);
  // Whether a flow in state `s` is an active connection (ipvsadm's ActiveConn).
  static bool is_active(FlowState s) { return s == FlowState::established; }

  // After a live entry's backend or state was changed in place (observe_tcp, a reschedule):
  // moves it between the per-backend counts.
  void changed(const Entry& e, uint16_t old_backend, FlowState old_state) {
    if (e.backend == old_backend && is_active(e.state) == is_active(old_state)) return;
    counts_->remove(old_backend, is_active(old_state));
    counts_->add(e.backend, is_active(e.state));
  }
  // Live flows per backend, exact (see connection_counts.h).
  const ConnectionCounts& connections() const { return *counts_; }
  ConnectionCounts& connections() { return *counts_; }

  bool expired(const Entry& e, uint32_t now_ms) const;

  // Called for every live flow the table gives up (expired, aged out or evicted), before its
  // slot is reused: connection sync tells the peers. One hook; nullptr removes it.
  using RemoveHook = void (*)(void* context, const Entry& gone);
  void on_remove(RemoveHook hook, void* context) {
    remove_hook_ = hook;
    remove_context_ = context;
  }

  uint32_t capacity() const { return bucket_count_ * kEntriesPerBucket; }
  uint32_t bucket_count() const { return bucket_count_; }
  // Occupied entries, including expired ones not yet aged out.
  uint32_t size() const { return size_.load(std::memory_order_relaxed); }
  const FlowTableStats& stats() const { return stats_; }
  const FlowTimeouts& timeouts() const { return timeouts_; }
  std::size_t memory_bytes() const { return std::size_t(bucket_count_) * sizeof(Bucket); }

  // Visits every live entry of buckets [first, end); for flow listings and tests.
  template <typename F>
  void for_each_in(uint32_t first, uint32_t end, uint32_t now_ms, F&& f) const {
    for (uint32_t b = first; b < end && b < bucket_count_; ++b)
      for (const Entry& e : buckets_[b].entries)
        if (e.state != FlowState::empty && !expired(e, now_ms)) f(e);
  }
  template <typename F>
  void for_each(uint32_t now_ms, F&& f) const {
    for_each_in(0, bucket_count_, now_ms, f);
  }

 private:
  uint32_t first_bucket(uint32_t hash) const;
  uint32_t second_bucket(uint32_t hash) const;
  uint32_t timeout_ms(FlowState s) const { return timeouts_.of(s); }
  Entry* free_slot(uint32_t bucket, uint32_t now_ms);
  Entry* make_room(uint32_t b1, uint32_t b2, uint32_t max_moves, uint32_t now_ms);
  Entry* cuckoo_walk(uint32_t start_bucket, uint32_t max_moves, uint32_t now_ms);
  Entry* choose_victim(uint32_t b1, uint32_t b2, uint32_t now_ms);
  void release(Entry& e, uint32_t now_ms);  // counts why an occupied entry is given up
  void forget(Entry& e);                    // frees an occupied entry

  Bucket* buckets_ = nullptr;
  uint32_t bucket_count_ = 0;
  static constexpr uint32_t kMaxCuckooMoves = 16;
  static constexpr uint32_t kCuckooMaxLoadPercent = 95;  // past it, one move at most
  uint32_t age_cursor_ = 0;
  uint32_t walk_seed_ = 1;         // picks the cuckoo walk's entries; deterministic for tests
  std::atomic<uint32_t> size_{0};  // dp: wo (its worker), cp: ro (flow counts)
  bool rte_allocated_ = false;
  FlowTimeouts timeouts_;
  FlowTableStats stats_;
  std::unique_ptr<ConnectionCounts> own_counts_;  // unless shared
  ConnectionCounts* counts_;
  RemoveHook remove_hook_ = nullptr;
  void* remove_context_ = nullptr;
};

// The lookup path, in the header so that the pipeline inlines it: a packet of an established
// flow costs no call into the table.
namespace flow_table_detail {

// Maps a 32-bit hash onto [0, n) without a division (Lemire's multiply-shift), so the
// bucket count need not be a power of two and no memory is lost to rounding.
inline uint32_t range(uint32_t hash, uint32_t n) {
  return static_cast<uint32_t>((uint64_t(hash) * n) >> 32);
}

inline bool same_key(const FlowEntry& e, const FlowKey& k) {
  return e.src_ip == k.src_ip && e.dst_ip == k.dst_ip && e.src_port == k.src_port &&
         e.dst_port == k.dst_port && e.proto == k.proto;
}

// An address as two 64-bit words: two loads and compares instead of a byte loop or memcmp.
inline uint64_t word(const Ipv6Address& a, int i) {
  uint64_t w;
  std::memcpy(&w, a.data() + 8 * i, sizeof w);
  return w;
}

inline bool same_key(const FlowEntry6& e, const FlowKey6& k) {
  // The ports first: they differ between most flows that share a bucket.
  if (e.src_port != k.src_port || e.dst_port != k.dst_port || e.proto != k.proto) return false;
  return ((word(e.src_ip, 0) ^ word(k.src_ip, 0)) | (word(e.src_ip, 1) ^ word(k.src_ip, 1)) |
          (word(e.dst_ip, 0) ^ word(k.dst_ip, 0)) | (word(e.dst_ip, 1) ^ word(k.dst_ip, 1))) == 0;
}

// The same CRC32 chain for both families, seeded alike, each field as the hardware CRC
// instruction takes it widest.
inline uint32_t hash_key(const FlowKey& key) {
  uint32_t h = rte_hash_crc_4byte(key.src_ip, 0x5ca1ab1e);
  h = rte_hash_crc_4byte(key.dst_ip, h);
  h = rte_hash_crc_4byte(uint32_t(key.src_port) << 16 | key.dst_port, h);
  return rte_hash_crc_1byte(key.proto, h);
}

inline uint32_t hash_key(const FlowKey6& key) {
  uint32_t h = rte_hash_crc_8byte(word(key.src_ip, 0), 0x5ca1ab1e);
  h = rte_hash_crc_8byte(word(key.src_ip, 1), h);
  h = rte_hash_crc_8byte(word(key.dst_ip, 0), h);
  h = rte_hash_crc_8byte(word(key.dst_ip, 1), h);
  h = rte_hash_crc_4byte(uint32_t(key.src_port) << 16 | key.dst_port, h);
  return rte_hash_crc_1byte(key.proto, h);
}

// Wrap-safe "how long ago": correct while the true gap is under 2^31 ms (24 days), far
// beyond any timeout; ageing removes entries long before that.
template <typename Entry>
uint32_t idle_ms(const Entry& e, uint32_t now_ms) {
  return now_ms - e.last_seen_ms;
}

}  // namespace flow_table_detail

template <typename Entry>
inline uint32_t BasicFlowTable<Entry>::hash(const Key& key) {
  return flow_table_detail::hash_key(key);
}

template <typename Entry>
inline uint32_t BasicFlowTable<Entry>::first_bucket(uint32_t hash) const {
  return flow_table_detail::range(hash, bucket_count_);
}

// A second, independent-looking position from the same hash (Fibonacci multiplier).
template <typename Entry>
inline uint32_t BasicFlowTable<Entry>::second_bucket(uint32_t hash) const {
  return flow_table_detail::range(hash * 0x9e3779b1u, bucket_count_);
}

// Both candidate buckets: a new flow's lookup reads both, and so does one living in its second.
template <typename Entry>
inline void BasicFlowTable<Entry>::prefetch(uint32_t hash) const {
  for (uint32_t b : {first_bucket(hash), second_bucket(hash)})
    for (std::size_t line = 0; line < sizeof(Bucket); line += 64)
      rte_prefetch0(reinterpret_cast<const char*>(&buckets_[b]) + line);
}

template <typename Entry>
inline bool BasicFlowTable<Entry>::expired(const Entry& e, uint32_t now_ms) const {
  return flow_table_detail::idle_ms(e, now_ms) > timeout_ms(e.state);
}

template <typename Entry>
inline Entry* BasicFlowTable<Entry>::lookup(const Key& key, uint32_t hash, uint32_t now_ms) {
  for (uint32_t b : {first_bucket(hash), second_bucket(hash)}) {
    for (Entry& e : buckets_[b].entries) {
      if (e.state == FlowState::empty || !flow_table_detail::same_key(e, key)) continue;
      if (!expired(e, now_ms)) return &e;
      release(e, now_ms);
    }
  }
  return nullptr;
}

// flow_table.cc instantiates both; no other translation unit instantiates them again.
extern template class BasicFlowTable<FlowEntry>;
extern template class BasicFlowTable<FlowEntry6>;

// An IPv6 address folded to the 32 bits the schedulers hash (sh, dh) as they hash IPv4's.
inline uint32_t scheduling_address(const Ipv6Address& a) {
  return ipv6_crc(a, 0);
}

using FlowTable = BasicFlowTable<FlowEntry>;
using FlowTable6 = BasicFlowTable<FlowEntry6>;

}  // namespace shoal::dp

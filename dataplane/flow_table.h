// Per-worker flow table: pins each connection to the backend it was first scheduled to, so
// that a change of the backend set moves only new flows. One worker owns a table; nothing
// else reads or writes it, so it needs no lock.
//
// Layout: a fixed array of 64-byte buckets (one cache line), three 20-byte entries each, so
// one flow costs 64/3 ≈ 21.3 bytes (kBytesPerFlow) and a lookup touches one cache line in the
// common case. Each key may live in one of two buckets (two-choice hashing, with cuckoo
// moves on insert): it fills to about 80% before the first evictions; size it with that
// headroom. Sized once at start; never grows, never allocates after.
//
// Why not rte_hash: it has no eviction policy — a full rte_hash refuses the insert, and a
// load balancer under a SYN flood must instead give up half-open flows and keep established
// ones. Here the victim is chosen among the two candidate buckets: expired first, then SYN,
// closing, UDP, and established last, longest idle first within a class.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "dataplane/connection_counts.h"
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
  uint32_t src_ip;
  uint32_t dst_ip;
  uint16_t src_port;
  uint16_t dst_port;
  uint32_t last_seen_ms;  // wraps after 49 days: compared by wrap-safe difference
  uint16_t backend;       // stable backend id (Snapshot::backend)
  uint8_t proto;
  FlowState state;
};
static_assert(sizeof(FlowEntry) == 20);

inline constexpr uint32_t kFlowEntriesPerBucket = 3;


struct alignas(64) FlowBucket {
  std::array<FlowEntry, kFlowEntriesPerBucket> entries;
};
static_assert(sizeof(FlowBucket) == 64);

inline constexpr double kBytesPerFlow = double(sizeof(FlowBucket)) / kFlowEntriesPerBucket;

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

class FlowTable {
 public:
  // `capacity` flows, rounded up to whole buckets. Allocates on `socket` with rte_malloc
  // (hugepage memory, NUMA-local; needs a running EAL), from the C++ heap if that fails.
  FlowTable(uint32_t capacity, const FlowTimeouts& timeouts = {}, int socket = -1);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  static uint32_t hash(const FlowKey& key);

  // Warms the key's buckets ahead of lookup(); the pipeline calls it a few packets early.
  void prefetch(uint32_t hash) const;

  // The live entry for `key`, or nullptr. An entry of `key` past its timeout is freed on the
  // way, so that the flow's next insert cannot leave a stale twin behind.
  FlowEntry* lookup(const FlowKey& key, uint32_t hash, uint32_t now_ms);

  // Adds `key` (absent: the caller looked it up) and returns its entry. Never fails: when
  // both candidate buckets are full a victim is evicted and counted in stats().evicted.
  // Inserts may move other entries, so a pointer from an earlier call is stale after it.
  FlowEntry* insert(const FlowKey& key, uint32_t hash, uint16_t backend, FlowState state,
                    uint32_t now_ms);

  // Ages up to `max_buckets` buckets from where the last call stopped, freeing expired
  // entries. Called once per worker loop so that no call stalls the worker.
  void age(uint32_t now_ms, uint32_t max_buckets);

  // Entries whose state machine follows a packet of the flow (client → service direction).
  static void observe_tcp(FlowEntry& e, uint8_t tcp_flags, uint32_t now_ms);
  static void observe_udp(FlowEntry& e, uint32_t now_ms) { e.last_seen_ms = now_ms; }
  // State for the first packet of a flow: SYN → syn, RST/FIN → closing, any other TCP packet
  // (a flow picked up mid-stream, after a failover or an eviction) → established.
  static FlowState initial_tcp_state(uint8_t tcp_flags);
  // Whether a flow in state `s` is an active connection (ipvsadm's ActiveConn).
  static bool is_active(FlowState s) { return s == FlowState::established; }

  // After a live entry's backend or state was changed in place (observe_tcp, a reschedule):
  // moves it between the per-backend counts.
  void changed(const FlowEntry& e, uint16_t old_backend, FlowState old_state) {
    if (e.backend == old_backend && is_active(e.state) == is_active(old_state)) return;
    counts_.remove(old_backend, is_active(old_state));
    counts_.add(e.backend, is_active(e.state));
  }
  // Live flows per backend, exact (see connection_counts.h).
  const ConnectionCounts& connections() const { return counts_; }

  bool expired(const FlowEntry& e, uint32_t now_ms) const;

  // Called for every live flow the table gives up (expired, aged out or evicted), before its
  // slot is reused: connection sync tells the peers. One hook; nullptr removes it.
  using RemoveHook = void (*)(void* context, const FlowEntry& gone);
  void on_remove(RemoveHook hook, void* context) {
    remove_hook_ = hook;
    remove_context_ = context;
  }

  uint32_t capacity() const { return bucket_count_ * kFlowEntriesPerBucket; }
  uint32_t bucket_count() const { return bucket_count_; }
  // Occupied entries, including expired ones not yet aged out.
  uint32_t size() const { return size_.load(std::memory_order_relaxed); }
  const FlowTableStats& stats() const { return stats_; }
  const FlowTimeouts& timeouts() const { return timeouts_; }
  std::size_t memory_bytes() const { return std::size_t(bucket_count_) * sizeof(FlowBucket); }

  // Visits every live entry of buckets [first, end); for flow listings and tests.
  template <typename F>
  void for_each_in(uint32_t first, uint32_t end, uint32_t now_ms, F&& f) const {
    for (uint32_t b = first; b < end && b < bucket_count_; ++b)
      for (const FlowEntry& e : buckets_[b].entries)
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
  FlowEntry* free_slot(uint32_t bucket, uint32_t now_ms);
  FlowEntry* make_room(uint32_t b1, uint32_t b2, uint32_t max_moves, uint32_t now_ms);
  FlowEntry* cuckoo_walk(uint32_t start_bucket, uint32_t max_moves, uint32_t now_ms);
  FlowEntry* choose_victim(uint32_t b1, uint32_t b2, uint32_t now_ms);
  void release(FlowEntry& e, uint32_t now_ms);  // counts why an occupied entry is given up
  void forget(FlowEntry& e);                     // frees an occupied entry

  FlowBucket* buckets_ = nullptr;
  uint32_t bucket_count_ = 0;
  static constexpr uint32_t kMaxCuckooMoves = 16;
  static constexpr uint32_t kCuckooMaxLoadPercent = 95;  // past it, one move at most
  uint32_t age_cursor_ = 0;
  uint32_t walk_seed_ = 1;  // picks the cuckoo walk's entries; deterministic for tests
  std::atomic<uint32_t> size_{0};  // dp: wo (its worker), cp: ro (flow counts)
  bool rte_allocated_ = false;
  FlowTimeouts timeouts_;
  FlowTableStats stats_;
  ConnectionCounts counts_;
  RemoveHook remove_hook_ = nullptr;
  void* remove_context_ = nullptr;
};

}  // namespace shoal::dp

// What the packet core shares with connection sync (controlplane/sync/connection_sync.h), which
// keeps NAT connections alive across a VRRP failover even when the directors' Maglev tables
// differ (another backend set, other weights):
//
// - A worker reports what happens to the flows of synced services it owns — created,
//   changed state or backend, removed — as FlowEvents on its own ring (single producer, the
//   control thread the single consumer). The control thread sends them to the peers.
// - SyncedFlows holds the flows peers reported: one table for every worker, written by the
//   control thread alone and read by the workers without locks. A worker that misses in its
//   own flow table looks there before it schedules, so a flow a peer pinned keeps its
//   backend here, whichever worker the port hands it to.
#pragma once

#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <optional>

#include "dataplane/flow_table.h"
#include "dataplane/scheduler/persistence.h"

struct rte_hash;
struct rte_rcu_qsbr;

namespace shoal::dp {

// One flow's news. state == FlowState::empty: the flow is gone.
struct FlowEvent {
  uint32_t src_ip;  // as in FlowKey: network byte order
  uint32_t dst_ip;
  uint16_t src_port;
  uint16_t dst_port;
  uint16_t backend;  // stable backend id
  uint8_t proto;
  FlowState state;
};
static_assert(sizeof(FlowEvent) == 16);

// A worker's event ring: bounded, lock-free, one writer (its worker).
class FlowEventRing {
 public:
  // `name` must be unique among DPDK rings; `capacity` a power of two.
  FlowEventRing(const char* name, uint32_t capacity, int socket);
  ~FlowEventRing();
  FlowEventRing(const FlowEventRing&) = delete;
  FlowEventRing& operator=(const FlowEventRing&) = delete;

  // Worker. False (and counted in lost()) when the ring is full.
  bool push(const FlowEvent& e) {
    if (rte_ring_sp_enqueue_elem(ring_, const_cast<FlowEvent*>(&e), sizeof(FlowEvent)) == 0)
      return true;
    lost_.store(lost_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return false;
  }
  // Worker: a burst's events at once. Returns how many fit; the rest are counted lost.
  uint32_t push_burst(const FlowEvent* events, uint32_t n) {
    const uint32_t done = rte_ring_sp_enqueue_burst_elem(ring_, events, sizeof(FlowEvent), n,
                                                         nullptr);
    if (done < n)
      lost_.store(lost_.load(std::memory_order_relaxed) + (n - done), std::memory_order_relaxed);
    return done;
  }
  uint32_t free_count() const { return rte_ring_free_count(ring_); }

  // Control thread.
  uint32_t pop(FlowEvent* out, uint32_t max) {
    return rte_ring_sc_dequeue_burst_elem(ring_, out, sizeof(FlowEvent), max, nullptr);
  }
  bool empty() const { return rte_ring_empty(ring_); }
  uint64_t lost() const { return lost_.load(std::memory_order_relaxed); }

 private:
  rte_ring* ring_ = nullptr;
  std::atomic<uint64_t> lost_{0};  // dp: wo, cp: ro
};

// A flow as a peer pinned it, mapped to this director's backend.
struct SyncedFlow {
  uint16_t backend = 0;  // stable backend id here
  FlowState state = FlowState::empty;
  uint32_t updated_ms = 0;  // when a peer last reported it (control thread's clock)
};

// The flows peers reported: rte_hash in lock-free reader mode, so that one writer (the control
// thread) and any number of readers (workers) need no lock; deleted entries' slots are reused
// only after every worker has passed a quiescent state (`qsbr`, the Snapshot publisher's).
class SyncedFlows {
 public:
  // Needs a running EAL. Throws std::runtime_error if the table cannot be made. `qsbr` null:
  // there are no concurrent readers (tests, tools), and deleted slots are reused at once.
  SyncedFlows(uint32_t capacity, rte_rcu_qsbr* qsbr, int socket);
  ~SyncedFlows();
  SyncedFlows(const SyncedFlows&) = delete;
  SyncedFlows& operator=(const SyncedFlows&) = delete;

  // Workers. `hash` is FlowTable::hash(key). Cheap when the table is empty.
  std::optional<SyncedFlow> lookup(const FlowKey& key, uint32_t hash) const;

  // Control thread only. upsert() is false when the table is full.
  bool upsert(const FlowKey& key, const SyncedFlow& flow);
  bool remove(const FlowKey& key);
  // Removes the flows not reported for longer than their state's timeout, visiting up to
  // `max` entries from where the last call stopped. Returns how many it removed.
  uint32_t age(uint32_t now_ms, const FlowTimeouts& timeouts, uint32_t max);
  // Iteration in slices: the entry after `*cursor` (start at 0), or false at the end.
  bool next(uint32_t* cursor, FlowKey* key, SyncedFlow* flow) const;
  uint32_t size() const { return size_.load(std::memory_order_relaxed); }
  uint32_t capacity() const { return capacity_; }

 private:
  rte_hash* table_ = nullptr;
  uint32_t capacity_ = 0;
  uint32_t age_cursor_ = 0;
  bool rcu_ = false;
  std::atomic<uint32_t> size_{0};  // cp: wo, dp: ro (skips the lookup while empty)
};

// Connection sync's side of a worker's bursts; both null when it is not configured.
struct FlowSyncContext {
  const SyncedFlows* synced = nullptr;  // flows peers pinned, looked up on a miss
  FlowEventRing* events = nullptr;      // where this worker reports its synced flows
  const PersistenceTable* persistence = nullptr;  // persistence entries peers sent
};

// A flow of a synced service as connection sync reports it: its backend now, and `state`
// (the entry's own, or FlowState::empty: gone).
inline FlowEvent flow_event(const FlowEntry& e, FlowState state) {
  return FlowEvent{e.src_ip, e.dst_ip, e.src_port, e.dst_port, e.backend, e.proto, state};
}

}  // namespace shoal::dp

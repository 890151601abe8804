// What the packet core shares with connection sync (controlplane/sync/connection_sync.h), which
// keeps NAT connections alive across a VRRP failover even when the directors' Maglev tables
// differ (another backend set, other weights):
//
// - A worker reports what happens to the flows of synced services it owns — created,
//   changed state or backend, removed — as FlowEvents on its own rings, one per family
//   (single producer, the control thread the single consumer). The control thread sends them
//   to the peers.
// - SyncedFlows (SyncedFlows6) holds the IPv4 (IPv6) flows peers reported: one table for every
//   worker, written by the control thread alone and read by the workers without locks. A
//   worker that misses in its own flow table looks there before it schedules, so a flow a
//   peer pinned keeps its backend here, whichever worker the port hands it to.
#pragma once

#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <type_traits>

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

  FlowKey key() const { return {src_ip, dst_ip, src_port, dst_port, proto}; }
};
static_assert(sizeof(FlowEvent) == 16);

// An IPv6 flow's news, on a ring of its own: IPv4's events stay 16 bytes. Aligned as the ring
// copies its elements (in 32-bit words at least, 64-bit where it can).
struct alignas(8) FlowEvent6 {
  Ipv6Address src_ip;
  Ipv6Address dst_ip;
  uint16_t src_port;
  uint16_t dst_port;
  uint16_t backend;
  uint8_t proto;
  FlowState state;

  FlowKey6 key() const { return {src_ip, dst_ip, src_port, dst_port, proto}; }
};
static_assert(sizeof(FlowEvent6) == 40);

// A worker's event ring for one family: bounded, lock-free, one writer (its worker).
template <typename Event>
class FlowEventRingOf {
 public:
  using value_type = Event;

  // `name` must be unique among DPDK rings; `capacity` a power of two.
  FlowEventRingOf(const char* name, uint32_t capacity, int socket);
  ~FlowEventRingOf();
  FlowEventRingOf(const FlowEventRingOf&) = delete;
  FlowEventRingOf& operator=(const FlowEventRingOf&) = delete;

  // Worker. False (and counted in lost()) when the ring is full.
  bool push(const Event& e) {
    if (rte_ring_sp_enqueue_elem(ring_, const_cast<Event*>(&e), sizeof(Event)) == 0)
      return true;
    lost_.store(lost_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return false;
  }
  // Worker: a burst's events at once. Returns how many fit; the rest are counted lost.
  uint32_t push_burst(const Event* events, uint32_t n) {
    const uint32_t done = rte_ring_sp_enqueue_burst_elem(ring_, events, sizeof(Event), n,
                                                         nullptr);
    if (done < n)
      lost_.store(lost_.load(std::memory_order_relaxed) + (n - done), std::memory_order_relaxed);
    return done;
  }
  uint32_t free_count() const { return rte_ring_free_count(ring_); }

  // Control thread.
  uint32_t pop(Event* out, uint32_t max) {
    return rte_ring_sc_dequeue_burst_elem(ring_, out, sizeof(Event), max, nullptr);
  }
  bool empty() const { return rte_ring_empty(ring_); }
  uint64_t lost() const { return lost_.load(std::memory_order_relaxed); }

 private:
  rte_ring* ring_ = nullptr;
  std::atomic<uint64_t> lost_{0};  // dp: wo, cp: ro
};

using FlowEventRing = FlowEventRingOf<FlowEvent>;
using FlowEventRing6 = FlowEventRingOf<FlowEvent6>;
extern template class FlowEventRingOf<FlowEvent>;
extern template class FlowEventRingOf<FlowEvent6>;

// A flow as a peer pinned it, mapped to this director's backend.
struct SyncedFlow {
  uint16_t backend = 0;  // stable backend id here
  FlowState state = FlowState::empty;
  uint32_t updated_ms = 0;  // when a peer last reported it (control thread's clock)
};

// The flows peers reported, for one family (the key: FlowKey or FlowKey6): rte_hash in
// lock-free reader mode, so that one writer (the control thread) and any number of readers
// (workers) need no lock; deleted entries' slots are reused only after every worker has passed
// a quiescent state (`qsbr`, the Snapshot publisher's).
template <typename Key>
class SyncedFlowsOf {
 public:
  // Needs a running EAL. Throws std::runtime_error if the table cannot be made. `qsbr` null:
  // there are no concurrent readers (tests, tools), and deleted slots are reused at once.
  SyncedFlowsOf(uint32_t capacity, rte_rcu_qsbr* qsbr, int socket);
  ~SyncedFlowsOf();
  SyncedFlowsOf(const SyncedFlowsOf&) = delete;
  SyncedFlowsOf& operator=(const SyncedFlowsOf&) = delete;

  // Workers. `hash` is the flow table's hash of the key. Cheap when the table is empty.
  std::optional<SyncedFlow> lookup(const Key& key, uint32_t hash) const;

  // Control thread only. upsert() is false when the table is full.
  bool upsert(const Key& key, const SyncedFlow& flow);
  bool remove(const Key& key);
  // Removes the flows not reported for longer than their state's timeout, visiting up to
  // `max` entries from where the last call stopped. Returns how many it removed.
  uint32_t age(uint32_t now_ms, const FlowTimeouts& timeouts, uint32_t max);
  // Iteration in slices: the entry after `*cursor` (start at 0), or false at the end.
  bool next(uint32_t* cursor, Key* key, SyncedFlow* flow) const;
  uint32_t size() const { return size_.load(std::memory_order_relaxed); }
  uint32_t capacity() const { return capacity_; }

 private:
  rte_hash* table_ = nullptr;
  uint32_t capacity_ = 0;
  uint32_t age_cursor_ = 0;
  bool rcu_ = false;
  std::atomic<uint32_t> size_{0};  // cp: wo, dp: ro (skips the lookup while empty)
};

using SyncedFlows = SyncedFlowsOf<FlowKey>;
using SyncedFlows6 = SyncedFlowsOf<FlowKey6>;
extern template class SyncedFlowsOf<FlowKey>;
extern template class SyncedFlowsOf<FlowKey6>;

// Connection sync's side of a worker's bursts; both null when it is not configured.
struct FlowSyncContext {
  const SyncedFlows* synced = nullptr;  // flows peers pinned, looked up on a miss
  FlowEventRing* events = nullptr;      // where this worker reports its synced flows
  const PersistenceTable* persistence = nullptr;  // persistence entries peers sent
  const SyncedFlows6* synced6 = nullptr;  // the same two for IPv6 flows
  FlowEventRing6* events6 = nullptr;

  // The family's pair, for code written over both flow tables.
  template <typename Table>
  auto synced_for() const {
    if constexpr (std::is_same_v<Table, FlowTable>) return synced;
    else return synced6;
  }
};

// A flow of a synced service as connection sync reports it: its backend now, and `state`
// (the entry's own, or FlowState::empty: gone).
inline FlowEvent flow_event(const FlowEntry& e, FlowState state) {
  return FlowEvent{e.src_ip, e.dst_ip, e.src_port, e.dst_port, e.backend, e.proto, state};
}
inline FlowEvent6 flow_event(const FlowEntry6& e, FlowState state) {
  return FlowEvent6{e.src_ip, e.dst_ip, e.src_port, e.dst_port, e.backend, e.proto, state};
}

}  // namespace shoal::dp

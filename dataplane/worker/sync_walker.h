// A worker's walk over its own flow tables (IPv4, then IPv6) for connection sync (connection_sync.h): every
// refresh period it reports again the synced flows that saw traffic since the last pass, so
// that peers' copies do not age out while the flow lives; on request (a peer pulls) it
// reports every synced flow it holds. A slice per loop, and only while the worker's event
// ring has room for the whole slice, so that neither a loop stalls nor an event is lost.
#pragma once

#include <atomic>
#include <cstdint>

#include "dataplane/flow_sync.h"
#include "dataplane/flow_table.h"
#include "dataplane/snapshot.h"

namespace shoal::dp {

class SyncWalker {
 public:
  // Buckets per loop: a refresh is in no hurry; a full pass (a peer waits to preempt) walks a
  // table of 2^20 flows in about 1,400 loops — under 0.3 s even on an idle worker, whose loop
  // sleeps up to 200 µs — while a loop still spends only tens of µs on it.
  static constexpr uint32_t kBucketsPerStep = 64;
  static constexpr uint32_t kBucketsPerFullStep = 256;

  explicit SyncWalker(uint32_t refresh_ms) : refresh_ms_(refresh_ms) {}

  // cp: asks for a full pass; returns its ticket. The pass is done once done() reaches it.
  uint32_t request_full_pass() { return requested_.fetch_add(1, std::memory_order_relaxed) + 1; }
  // cp: the last ticket whose pass has finished; its events are on the ring by then.
  uint32_t done() const { return done_.load(std::memory_order_acquire); }

  // dp: once per loop.
  void step(const FlowTable& flows, const FlowTable6& flows6, const Snapshot& snap,
            FlowEventRing& events, FlowEventRing6& events6, uint32_t now_ms);

 private:
  bool start_pass(uint32_t now_ms);
  // A slice of one table's walk from cursor_ (its own bucket numbers); false while its ring
  // has no room for the whole slice.
  template <typename Table, typename Ring>
  bool walk(const Table& flows, uint32_t first, uint32_t buckets, const Snapshot& snap,
            Ring& events, uint32_t now_ms);

  const uint32_t refresh_ms_;
  std::atomic<uint32_t> requested_{0};  // cp: wo, dp: ro
  std::atomic<uint32_t> done_{0};       // dp: wo, cp: ro
  // dp only.
  bool walking_ = false;
  bool full_ = false;        // every synced flow, not only the recently active ones
  uint32_t ticket_ = 0;      // of the full pass under way
  uint32_t cursor_ = 0;  // over the IPv4 table's buckets, then the IPv6 table's
  uint32_t active_since_ = 0;      // refresh: flows seen since then
  uint32_t refresh_started_ = 0;   // when the current (or last) refresh pass began
  bool refreshed_once_ = false;
};

}  // namespace shoal::dp

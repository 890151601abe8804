// The packet core's one entry point: a burst of received frames in, each rewritten in place
// and given its verdict (transmit on a port, hand to the control plane, or drop with a named
// reason). The daemon's workers call it unchanged; tests and the benchmark call it directly.
#pragma once

#include <rte_mbuf.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "dataplane/flow_sync.h"
#include "dataplane/flow_table.h"
#include "dataplane/scheduler/worker_scheduler.h"
#include "dataplane/snapshot.h"
#include "dataplane/verdict.h"

namespace shoal::dp {

inline constexpr uint16_t kMaxBurst = 64;  // at most Snapshot::kMaxClassifyBulk

// A counter with one writer (its worker) and any number of readers (the control plane):
// relaxed load + store compiles to a plain add, and readers never see a torn value.
class Counter {
 public:
  void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void sub(uint64_t n) { v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// What one worker sent one backend. dp: wo, cp: ro.
struct BackendCounters {
  Counter packets;
  Counter bytes;      // frames as received, before any encapsulation
  Counter new_flows;  // flows scheduled to it (new, reused 5-tuples, rescheduled)
};

// One worker's counters, cache-line aligned so workers never share a line. dp: wo, cp: ro.
// rx = tx + Σ drops + Σ control, exactly, after every burst.
struct alignas(64) WorkerCounters {
  Counter rx;
  Counter tx;
  Counter drops[kDropReasonCount];
  Counter control[kControlReasonCount];
  // Events that are not verdicts.
  Counter flows_created;
  Counter flows_rescheduled;  // pinned backend removed or down: moved to a new one
  Counter flows_claimed;      // first seen here, but pinned by a peer (connection sync)
  // A TCP packet of an established connection with no flow here (and none synced): the
  // router moved the flow to this director (ECMP), or this director restarted or evicted it.
  // Scheduled like a new flow: with a hashing scheduler it reaches the backend it had.
  Counter flows_midstream;
  Counter persistence_hits;  // new flows sent where their client's persistence entry said
  // The poll loop (dataplane/worker/worker.cc): its turns that received frames and those that
  // received none, the timer cycles each kind took (sleeps apart), and its idle sleeps.
  Counter busy_polls;
  Counter empty_polls;
  Counter busy_cycles;
  Counter empty_cycles;
  Counter idle_sleeps;
  // Indexed by stable backend id; allocated once, never resized (readers index it unlocked).
  std::vector<BackendCounters> backends = std::vector<BackendCounters>(kNoBackend);

  uint64_t dropped() const;
  uint64_t to_control() const;

  // After the fact, when the port or the control ring refused what process_burst decided:
  // the packets move from tx (or to-control) to a drop reason, keeping the sums exact.
  void transmit_failed(uint64_t n) {
    tx.sub(n);
    drops[static_cast<std::size_t>(DropReason::tx_queue_full)].add(n);
  }
  void control_failed(ControlReason r, uint64_t n) {
    control[static_cast<std::size_t>(r)].sub(n);
    drops[static_cast<std::size_t>(DropReason::control_ring_full)].add(n);
  }
};

struct BurstContext {
  const Snapshot& snapshot;
  FlowTable& flows;
  WorkerCounters& counters;
  WorkerScheduler& scheduler;  // over `flows`' connection counts
  uint32_t now_ms;
  FlowSyncContext sync = {};
  // IPv6 flows; without it IPv6 frames are dropped (ipv6_no_service). Its connection counts
  // must be `flows`' own (BasicFlowTable's shared counts), which `scheduler` reads.
  FlowTable6* flows6 = nullptr;
};

// Processes `n` frames (in chunks of kMaxBurst). Each mbuf may be rewritten, grown at the front (TUN)
// or trimmed (Ethernet padding). verdicts[i] says what to do with pkts[i]; the caller
// transmits, enqueues to the control plane or frees accordingly. mbuf->port must be the
// receiving port.
void process_burst(rte_mbuf** pkts, uint16_t n, const BurstContext& ctx, Verdict* verdicts);

}  // namespace shoal::dp

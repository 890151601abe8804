// A worker's scheduler: picks the backend of each new flow by its service's scheduler, and
// keeps what the stateful ones need (rr and wrr cursors; the other workers' connection
// counts for lc, wlc, sed and nq). One per worker, used only by its worker.
#pragma once

#include <rte_hash_crc.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/connection_counts.h"
#include "dataplane/scheduler/hash_buckets.h"
#include "dataplane/scheduler/least_connections.h"
#include "dataplane/scheduler/round_robin.h"
#include "dataplane/snapshot.h"

namespace shoal::dp {

// Maglev's input (maglev, mh): the same on every director and worker for the same flow, or
// client. flow_hash is FlowTable::hash of the flow's key.
inline uint32_t scheduling_hash(const Service& svc, uint32_t client_ip, uint32_t flow_hash) {
  constexpr uint32_t kSourceHashSeed = 0x50a1c0de;
  return svc.hash_on == HashOn::source_address ? rte_hash_crc_4byte(client_ip, kSourceHashSeed)
                                               : flow_hash;
}

// What a scheduler may look at in a new flow. Addresses in network byte order.
struct NewFlow {
  uint32_t client_ip;
  uint32_t dst_ip;
  uint32_t flow_hash;  // FlowTable::hash of its key
};

class WorkerScheduler {
 public:
  // `own`: this worker's flow table's counts.
  explicit WorkerScheduler(const ConnectionCounts& own);

  // Before the worker runs: the other workers' counts.
  void set_peers(std::vector<const ConnectionCounts*> peers) { peers_.set_peers(std::move(peers)); }

  // dp, at the top of each loop: re-reads the other workers' counts once a millisecond, and
  // at once when the Snapshot changed (its counted backends may be new).
  void refresh(const Snapshot& snap, uint32_t now_ms) {
    if (!peers_.has_peers() || (&snap == refreshed_for_ && now_ms == refreshed_ms_)) return;
    peers_.refresh(snap.counted_backends());
    refreshed_for_ = &snap;
    refreshed_ms_ = now_ms;
  }

  // dp: stable id of the backend for a new flow of service `index`, or kNoBackend when none
  // of its backends takes new flows.
  uint16_t pick(const Service& svc, uint16_t index, const NewFlow& flow) {
    if (svc.scheduler == Scheduler::maglev)  // the default, kept inline
      return svc.maglev_pick(scheduling_hash(svc, flow.client_ip, flow.flow_hash));
    return pick_other(svc, index, flow);
  }

  const ConnectionCounts& own() const { return own_; }
  const PeerConnections& peers() const { return peers_; }

 private:
  uint16_t pick_other(const Service& svc, uint16_t index, const NewFlow& flow);

  const ConnectionCounts& own_;
  PeerConnections peers_;
  std::unique_ptr<RoundRobinCursor[]> cursors_;  // by service index, every possible one
  const Snapshot* refreshed_for_ = nullptr;
  uint32_t refreshed_ms_ = 0;
};

}  // namespace shoal::dp

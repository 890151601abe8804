// A worker's scheduler: picks the backend of each new flow by its service's scheduler, and
// keeps what the stateful ones need (rr and wrr cursors; the other workers' connection
// counts for lc, wlc, sed and nq; the persistence table). One per worker, used only by its
// worker but for the persistence table, which its peers and the control plane read.
#pragma once

#include <rte_hash_crc.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/connection_counts.h"
#include "dataplane/scheduler/hash_buckets.h"
#include "dataplane/scheduler/least_connections.h"
#include "dataplane/scheduler/persistence.h"
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
  static constexpr uint32_t kDefaultPersistenceCapacity = 65536;

  // `own`: this worker's flow table's counts.
  explicit WorkerScheduler(const ConnectionCounts& own,
                           uint32_t persistence_capacity = kDefaultPersistenceCapacity);

  // Before the worker runs: the other workers' schedulers (their counts and persistence).
  void set_peers(const std::vector<const WorkerScheduler*>& peers);
  // Before the worker runs: the entries the other directors sent (connection sync), read like
  // a peer's; null without sync.
  void set_synced_persistence(const PersistenceTable* synced) { synced_persistence_ = synced; }

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

  // dp, services with persistence: the backend the client's most recently used entry names,
  // in this worker's table or a peer's (copied into this worker's then), or kNoBackend. The
  // caller checks it still takes new flows.
  uint16_t persisted(const Service& svc, uint32_t client_ip, uint32_t now_ms);
  // dp: the client's new flow went to `backend`; remember it.
  void persist(const Service& svc, uint32_t client_ip, uint16_t backend, uint32_t now_ms) {
    persistence_.record(persistence_client(svc, client_ip), backend, now_ms, svc.persistence_timeout_ms);
  }
  // dp: a packet of a pinned flow: the client is active.
  void touch(const Service& svc, uint32_t client_ip, uint16_t backend, uint32_t now_ms) {
    persistence_.touch(persistence_client(svc, client_ip), backend, now_ms, svc.persistence_timeout_ms);
  }

  const ConnectionCounts& own() const { return own_; }
  const PeerConnections& peers() const { return peers_; }
  const PersistenceTable& persistence() const { return persistence_; }
  // A client as a service's persistence entries know it.
  static PersistenceTable::Client persistence_client(const Service& svc, uint32_t client_ip) {
    return {svc.persistence_tag, client_ip & svc.persistence_mask};
  }

 private:
  uint16_t pick_other(const Service& svc, uint16_t index, const NewFlow& flow);

  const ConnectionCounts& own_;
  PeerConnections peers_;
  PersistenceTable persistence_;
  std::vector<const PersistenceTable*> peer_persistence_;
  const PersistenceTable* synced_persistence_ = nullptr;
  std::unique_ptr<RoundRobinCursor[]> cursors_;  // by service index, every possible one
  const Snapshot* refreshed_for_ = nullptr;
  uint32_t refreshed_ms_ = 0;
};

}  // namespace shoal::dp

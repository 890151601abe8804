// Publishes Snapshots to the workers. One atomic pointer: the control plane stores a new
// Snapshot (release), workers load it once per burst (acquire). The previous Snapshot is freed
// only after every worker has reported a quiescent state since the store (rte_rcu_qsbr):
// unpublish → retire with a token → free once the token is passed. The control loop does not
// wait for that: on a busy host a worker may not run for a few hundred milliseconds, and a
// loop blocked that long would miss its VRRP advertisements (a VRRP takeover publishes).
#pragma once

#include <rte_rcu_qsbr.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>

#include "dataplane/snapshot.h"

namespace shoal::dp {

class SnapshotPublisher {
 public:
  explicit SnapshotPublisher(uint32_t workers);
  ~SnapshotPublisher();
  SnapshotPublisher(const SnapshotPublisher&) = delete;
  SnapshotPublisher& operator=(const SnapshotPublisher&) = delete;

  // Control plane: swaps in `next` and retires the previous Snapshot, which reclaim() frees
  // once no worker can hold it. Does not wait for the workers. Returns how long it took.
  std::chrono::microseconds publish(std::unique_ptr<Snapshot> next);
  // Control plane: frees the retired Snapshots no worker can hold any more. With `wait`, first
  // waits until the workers have moved past all of them: call it so before building the next
  // Snapshot, whose tables are large (rte_lpm's alone is 64 MiB), so that no more than two are
  // ever alive, as when every publish waited. Without, it never blocks: the control loop
  // calls it on every turn.
  void reclaim(bool wait = false);
  std::size_t retired() const { return retired_.size(); }

  // Workers. dp: ro.
  const Snapshot* current() const { return current_.load(std::memory_order_acquire); }
  void register_worker(uint32_t id);
  void unregister_worker(uint32_t id);
  void quiescent(uint32_t id) { rte_rcu_qsbr_quiescent(qsbr_, id); }
  // The workers' quiescent-state variable, for other tables they read (SyncedFlows).
  rte_rcu_qsbr* qsbr() const { return qsbr_; }

 private:
  std::atomic<const Snapshot*> current_{nullptr};  // dp: ro, cp: wo
  rte_rcu_qsbr* qsbr_ = nullptr;
  struct Retired {
    uint64_t token;  // rte_rcu_qsbr_start's, increasing: the oldest is passed first
    std::unique_ptr<const Snapshot> snapshot;
  };
  std::deque<Retired> retired_;  // cp only
};

}  // namespace shoal::dp

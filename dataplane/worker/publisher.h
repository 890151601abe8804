// Publishes Snapshots to the workers. One atomic pointer: the control plane stores a new
// Snapshot (release), workers load it once per burst (acquire). The previous Snapshot is freed
// only after every worker has reported a quiescent state since the store (rte_rcu_qsbr):
// unpublish → synchronize → free.
#pragma once

#include <rte_rcu_qsbr.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "dataplane/snapshot.h"

namespace shoal::dp {

class SnapshotPublisher {
 public:
  explicit SnapshotPublisher(uint32_t workers);
  ~SnapshotPublisher();
  SnapshotPublisher(const SnapshotPublisher&) = delete;
  SnapshotPublisher& operator=(const SnapshotPublisher&) = delete;

  // Control plane: swaps in `next` and frees the previous Snapshot once no worker can hold
  // it. Blocks until then (bounded by the workers' loop time). Returns how long it took.
  std::chrono::microseconds publish(std::unique_ptr<Snapshot> next);

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
};

}  // namespace shoal::dp

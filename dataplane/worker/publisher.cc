#include "dataplane/worker/publisher.h"

#include <rte_malloc.h>

#include <stdexcept>

namespace shoal::dp {

SnapshotPublisher::SnapshotPublisher(uint32_t workers) {
  size_t bytes = rte_rcu_qsbr_get_memsize(workers);
  qsbr_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("shoal_qsbr", bytes, RTE_CACHE_LINE_SIZE));
  if (qsbr_ == nullptr || rte_rcu_qsbr_init(qsbr_, workers) != 0)
    throw std::runtime_error("cannot allocate the RCU state for the workers");
}

SnapshotPublisher::~SnapshotPublisher() {
  delete current_.exchange(nullptr);
  rte_free(qsbr_);
}

std::chrono::microseconds SnapshotPublisher::publish(std::unique_ptr<Snapshot> next) {
  auto start = std::chrono::steady_clock::now();
  const Snapshot* old = current_.exchange(next.release(), std::memory_order_acq_rel);
  if (old != nullptr)
    retired_.push_back({rte_rcu_qsbr_start(qsbr_), std::unique_ptr<const Snapshot>(old)});
  reclaim();
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

void SnapshotPublisher::reclaim(bool wait) {
  if (wait && !retired_.empty()) {
    rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
    retired_.clear();
  }
  while (!retired_.empty() && rte_rcu_qsbr_check(qsbr_, retired_.front().token, false) == 1)
    retired_.pop_front();
}

void SnapshotPublisher::register_worker(uint32_t id) {
  rte_rcu_qsbr_thread_register(qsbr_, id);
  rte_rcu_qsbr_thread_online(qsbr_, id);
}

void SnapshotPublisher::unregister_worker(uint32_t id) {
  rte_rcu_qsbr_thread_offline(qsbr_, id);
  rte_rcu_qsbr_thread_unregister(qsbr_, id);
}

}  // namespace shoal::dp

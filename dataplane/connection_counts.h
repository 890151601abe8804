// Live flows per backend in one worker's flow table, split as ipvsadm splits them: active
// (established TCP) and inactive (every other live flow: half-open, closing, UDP). The flow
// table keeps them exact as it inserts, changes and frees entries, so the connection-count
// schedulers (lc, wlc, sed, nq) see every flow the moment it is pinned. Readers: the other
// workers (their schedulers' view of this one) and the control plane (ActiveConn and
// InActConn in the API and /metrics). A flow past its timeout counts until the table frees
// it, at the latest when aging passes its bucket.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace shoal::dp {

class ConnectionCounts {
 public:
  // One pair per possible backend id, all zero.
  ConnectionCounts();

  // dp: the owning worker's flow table only.
  void add(uint16_t backend, bool active) { bump(backend, active ? kActive : kInactive); }
  void remove(uint16_t backend, bool active) { bump(backend, active ? -kActive : -kInactive); }

  // Any thread.
  uint32_t active(uint16_t backend) const { return active_of(packed(backend)); }
  uint32_t inactive(uint16_t backend) const { return inactive_of(packed(backend)); }
  // Both counts in one read, so that the schedulers' scans load one word per backend.
  uint64_t packed(uint16_t backend) const {
    return by_backend_[backend].load(std::memory_order_relaxed);
  }
  const std::atomic<uint64_t>* packed_counts() const { return by_backend_.get(); }
  static uint32_t active_of(uint64_t packed) { return static_cast<uint32_t>(packed); }
  static uint32_t inactive_of(uint64_t packed) { return static_cast<uint32_t>(packed >> 32); }

 private:
  static constexpr uint64_t kActive = 1;
  static constexpr uint64_t kInactive = uint64_t(1) << 32;

  // One writer: a relaxed load and store is a plain add, and readers never see a torn value.
  // Neither half goes below zero, so adding the two's complement never borrows across them.
  void bump(uint16_t backend, uint64_t delta) {
    std::atomic<uint64_t>& c = by_backend_[backend];
    c.store(c.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  }

  // active in the low 32 bits, inactive in the high 32: dp: wo (one worker), others: ro
  std::unique_ptr<std::atomic<uint64_t>[]> by_backend_;
};

}  // namespace shoal::dp

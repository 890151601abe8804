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
  void add(uint16_t backend, bool active) { bump(backend, active, 1); }
  void remove(uint16_t backend, bool active) { bump(backend, active, -1); }

  // Any thread.
  uint32_t active(uint16_t backend) const {
    return by_backend_[backend].active.load(std::memory_order_relaxed);
  }
  uint32_t inactive(uint16_t backend) const {
    return by_backend_[backend].inactive.load(std::memory_order_relaxed);
  }

 private:
  struct Pair {
    std::atomic<uint32_t> active{0};    // dp: wo (one worker), others: ro
    std::atomic<uint32_t> inactive{0};  // dp: wo (one worker), others: ro
  };

  // One writer: a relaxed load and store is a plain add, and readers never see a torn value.
  void bump(uint16_t backend, bool active, int32_t delta) {
    std::atomic<uint32_t>& c = active ? by_backend_[backend].active : by_backend_[backend].inactive;
    c.store(c.load(std::memory_order_relaxed) + static_cast<uint32_t>(delta),
            std::memory_order_relaxed);
  }

  std::unique_ptr<Pair[]> by_backend_;
};

}  // namespace shoal::dp

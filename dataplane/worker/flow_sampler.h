// A bounded sample of one worker's flows for the API (`/v1/flows`), taken by the worker
// itself: its flow table is its alone, so the control plane posts a request and the worker
// scans a slice of buckets per loop until it has `limit` matches or has seen every bucket.
// No lock, no allocation on the worker (the control plane reserves the result's room).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "dataplane/flow_table.h"

namespace shoal::dp {

struct FlowFilter {
  uint32_t vip = 0;     // network order; 0: any
  uint32_t client = 0;  // network order; 0: any
  uint32_t limit = 100;
};

class FlowSampler {
 public:
  static constexpr uint32_t kBucketsPerStep = 16384;  // 1 MiB of table per worker loop

  // cp: starts a sample. False if one is still running.
  bool start(const FlowFilter& filter);
  // cp: true once the worker has finished; then result() is stable until the next start().
  bool done() const { return state_.load(std::memory_order_acquire) == kDone; }
  const std::vector<FlowEntry>& result() const { return result_; }

  // dp: one slice of the scan, if a sample is wanted.
  void step(const FlowTable& flows, uint32_t now_ms) {
    if (state_.load(std::memory_order_acquire) == kWanted) scan(flows, now_ms);
  }

 private:
  enum : uint32_t { kIdle, kWanted, kDone };
  void scan(const FlowTable& flows, uint32_t now_ms);

  std::atomic<uint32_t> state_{kIdle};  // cp: idle/done → wanted; dp: wanted → done
  FlowFilter filter_;                   // cp: wo before wanted; dp: ro
  std::vector<FlowEntry> result_;   // dp: wo while wanted; cp: ro when done
  uint32_t cursor_ = 0;                 // dp only while wanted
};

}  // namespace shoal::dp

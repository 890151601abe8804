// Active and inactive connections per backend (ipvsadm's ActiveConn / InActConn: established
// TCP flows, and every other live flow), counted by each worker over its own flow table a
// small slice per loop, so that no loop stalls; a finished pass is published whole. The
// figures are therefore up to one pass old (well under a second at the lab's sizes).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/flow_table.h"

namespace shoal::dp {

class ConnectionCensus {
 public:
  static constexpr uint32_t kBucketsPerStep = 256;  // 16 KiB of table per worker loop

  ConnectionCensus();

  // dp: counts the next slice; at the end of the table, publishes the pass.
  void step(const FlowTable& flows, uint32_t now_ms);

  // cp: the last finished pass.
  uint32_t active(uint16_t backend) const { return published_[backend].active.load(std::memory_order_relaxed); }
  uint32_t inactive(uint16_t backend) const { return published_[backend].inactive.load(std::memory_order_relaxed); }

 private:
  struct Counts {
    uint32_t active = 0;
    uint32_t inactive = 0;
  };
  struct Published {
    std::atomic<uint32_t> active{0};    // dp: wo, cp: ro
    std::atomic<uint32_t> inactive{0};  // dp: wo, cp: ro
  };

  std::unique_ptr<Counts[]> pass_;          // dp only: this pass so far, by backend id
  std::unique_ptr<Published[]> published_;  // by backend id
  std::vector<uint16_t> touched_;           // dp only: ids counted this pass
  std::vector<uint16_t> shown_;             // dp only: ids published non-zero last time
  uint32_t cursor_ = 0;
};

}  // namespace shoal::dp

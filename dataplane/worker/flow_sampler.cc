#include "dataplane/worker/flow_sampler.h"

namespace shoal::dp {

bool FlowSampler::start(const FlowFilter& filter) {
  if (state_.load(std::memory_order_acquire) == kWanted) return false;
  filter_ = filter;
  result_.clear();
  result_.reserve(filter.limit);
  cursor_ = 0;
  state_.store(kWanted, std::memory_order_release);
  return true;
}

void FlowSampler::scan(const FlowTable& flows, uint32_t now_ms) {
  const uint32_t end = std::min(cursor_ + kBucketsPerStep, flows.bucket_count());
  flows.for_each_in(cursor_, end, now_ms, [&](const FlowEntry& e) {
    if (result_.size() < filter_.limit && (filter_.vip == 0 || e.dst_ip == filter_.vip) &&
        (filter_.client == 0 || e.src_ip == filter_.client))
      result_.push_back(e);  // within the reserved room: no allocation
  });
  cursor_ = end;
  if (cursor_ == flows.bucket_count() || result_.size() >= filter_.limit)
    state_.store(kDone, std::memory_order_release);
}

}  // namespace shoal::dp

#include "dataplane/worker/flow_sampler.h"

namespace shoal::dp {

bool FlowSampler::start(const FlowFilter& filter) {
  if (state_.load(std::memory_order_acquire) == kWanted) return false;
  filter_ = filter;
  result_.clear();
  result6_.clear();
  result_.reserve(filter.ipv4 ? filter.limit : 0);
  result6_.reserve(filter.ipv6 ? filter.limit : 0);
  cursor_ = 0;
  in_ipv6_ = !filter.ipv4;
  state_.store(kWanted, std::memory_order_release);
  return true;
}

void FlowSampler::scan(const FlowTable& flows, const FlowTable6& flows6, uint32_t now_ms) {
  static constexpr Ipv6Address kAny{};
  if (!in_ipv6_) {
    const uint32_t end = std::min(cursor_ + kBucketsPerStep, flows.bucket_count());
    flows.for_each_in(cursor_, end, now_ms, [&](const FlowEntry& e) {
      if (found() < filter_.limit && (filter_.vip == 0 || e.dst_ip == filter_.vip) &&
          (filter_.client == 0 || e.src_ip == filter_.client))
        result_.push_back(e);  // within the reserved room: no allocation
    });
    cursor_ = end;
    if (cursor_ == flows.bucket_count() && filter_.ipv6) {  // the IPv6 table is next
      in_ipv6_ = true;
      cursor_ = 0;
    }
  }
  if (in_ipv6_) {
    const uint32_t end = std::min(cursor_ + kBucketsPerStep, flows6.bucket_count());
    flows6.for_each_in(cursor_, end, now_ms, [&](const FlowEntry6& e) {
      if (found() < filter_.limit && (filter_.vip6 == kAny || e.dst_ip == filter_.vip6) &&
          (filter_.client6 == kAny || e.src_ip == filter_.client6))
        result6_.push_back(e);
    });
    cursor_ = end;
  }
  const uint32_t table_end = in_ipv6_ ? flows6.bucket_count() : flows.bucket_count();
  if ((cursor_ == table_end && (in_ipv6_ || !filter_.ipv6)) || found() >= filter_.limit)
    state_.store(kDone, std::memory_order_release);
}

}  // namespace shoal::dp

// A bounded sample of one worker's flows for the API (`/v1/flows`), taken by the worker
// itself: its flow tables are its alone, so the control plane posts a request and the worker
// scans a slice of buckets per loop (the IPv4 table, then the IPv6 one) until it has `limit`
// matches or has seen every bucket.
// No lock, no allocation on the worker (the control plane reserves the result's room).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "dataplane/flow_table.h"

namespace shoal::dp {

// Addresses of one family at most: an IPv4 filter leaves the IPv6 table out, and the reverse.
struct FlowFilter {
  uint32_t vip = 0;     // network order; 0: any
  uint32_t client = 0;  // network order; 0: any
  Ipv6Address vip6{};     // all zero: any
  Ipv6Address client6{};  // all zero: any
  bool ipv4 = true;  // scan the IPv4 table
  bool ipv6 = true;  // scan the IPv6 table
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
  const std::vector<FlowEntry6>& result6() const { return result6_; }

  // dp: one slice of the scan, if a sample is wanted.
  void step(const FlowTable& flows, const FlowTable6& flows6, uint32_t now_ms) {
    if (state_.load(std::memory_order_acquire) == kWanted) scan(flows, flows6, now_ms);
  }

 private:
  enum : uint32_t { kIdle, kWanted, kDone };
  void scan(const FlowTable& flows, const FlowTable6& flows6, uint32_t now_ms);
  std::size_t found() const { return result_.size() + result6_.size(); }

  std::atomic<uint32_t> state_{kIdle};  // cp: idle/done → wanted; dp: wanted → done
  FlowFilter filter_;                   // cp: wo before wanted; dp: ro
  std::vector<FlowEntry> result_;       // dp: wo while wanted; cp: ro when done
  std::vector<FlowEntry6> result6_;     // the same
  uint32_t cursor_ = 0;                 // dp only while wanted: a bucket of the table below
  bool in_ipv6_ = false;                // dp only while wanted: scanning the IPv6 table
};

}  // namespace shoal::dp

// Per-backend traffic for the API and metrics: the workers' BackendCounters summed, sampled
// by the control loop once a second so that rates are over a known interval whoever asks.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "dataplane/pipeline.h"

namespace shoal::cp {

struct BackendTraffic {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t new_flows = 0;
  // Per second, over the last sampling interval.
  double packet_rate = 0;
  double byte_rate = 0;
  double flow_rate = 0;
};

class BackendStats {
 public:
  static constexpr auto kInterval = std::chrono::seconds(1);

  // Sums the counters of the backends `ids` over `workers` (cp: reads dp counters).
  void sample(const std::vector<uint16_t>& ids,
              const std::vector<const dp::WorkerCounters*>& workers,
              std::chrono::steady_clock::time_point now);
  // Totals since the director started: what /metrics' counters show (they never go down).
  BackendTraffic get(uint16_t id) const { return id < traffic_.size() ? traffic_[id] : BackendTraffic{}; }
  // `shoalctl zero`, as `ipvsadm -Z`: these backends' totals as the API shows them start again
  // from 0. Call right after a sample, so that nothing is counted twice or lost.
  void zero(const std::vector<uint16_t>& ids);
  // Totals since the backend's last zero (or start), with the same rates.
  BackendTraffic since_zero(uint16_t id) const;
  bool due(std::chrono::steady_clock::time_point now) const { return now - last_ >= kInterval; }

 private:
  std::vector<BackendTraffic> traffic_;    // by stable id
  std::vector<BackendTraffic> zeroed_at_;  // by stable id: the totals at its last zero
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace shoal::cp

#include "api/backend_stats.h"

namespace shoal::cp {

void BackendStats::sample(const std::vector<uint16_t>& ids,
                          const std::vector<const dp::WorkerCounters*>& workers,
                          std::chrono::steady_clock::time_point now) {
  const double seconds = last_ == std::chrono::steady_clock::time_point{}
                             ? 0
                             : std::chrono::duration<double>(now - last_).count();
  last_ = now;
  for (uint16_t id : ids) {
    if (id >= traffic_.size()) traffic_.resize(id + 1u);
    BackendTraffic now_total;
    for (const dp::WorkerCounters* w : workers) {
      const dp::BackendCounters& c = w->backends[id];
      now_total.packets += c.packets.get();
      now_total.bytes += c.bytes.get();
      now_total.new_flows += c.new_flows.get();
    }
    BackendTraffic& t = traffic_[id];
    // Counters only grow; an id handed to a new backend keeps its predecessor's totals, which
    // is what "since the director started" means for the id.
    if (seconds > 0) {
      t.packet_rate = static_cast<double>(now_total.packets - t.packets) / seconds;
      t.byte_rate = static_cast<double>(now_total.bytes - t.bytes) / seconds;
      t.flow_rate = static_cast<double>(now_total.new_flows - t.new_flows) / seconds;
    }
    t.packets = now_total.packets;
    t.bytes = now_total.bytes;
    t.new_flows = now_total.new_flows;
  }
}

void BackendStats::zero(const std::vector<uint16_t>& ids) {
  for (uint16_t id : ids) {
    if (id >= zeroed_at_.size()) zeroed_at_.resize(id + 1u);
    zeroed_at_[id] = get(id);
  }
}

BackendTraffic BackendStats::since_zero(uint16_t id) const {
  BackendTraffic t = get(id);
  if (id < zeroed_at_.size()) {
    t.packets -= zeroed_at_[id].packets;
    t.bytes -= zeroed_at_[id].bytes;
    t.new_flows -= zeroed_at_[id].new_flows;
  }
  return t;
}

}  // namespace shoal::cp

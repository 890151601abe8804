// The dataplane's counters as the control plane reports them: read once from the workers'
// and exception paths' counters (cp: ro) into plain values, then rendered three ways — JSON
// for /v1/counters, lines for the log (SIGUSR1 and exit), families for /metrics — so that the
// three always say the same.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

#include "api/metrics.h"
#include "dataplane/pipeline.h"

namespace shoal::cp {

struct CounterValues {
  uint64_t rx = 0;
  uint64_t tx = 0;
  uint64_t flows_created = 0;
  uint64_t flows_rescheduled = 0;
  uint64_t flows_claimed = 0;
  uint64_t flows_midstream = 0;
  uint64_t persistence_hits = 0;     // new flows a persistence entry placed
  uint64_t persistence_evicted = 0;  // live persistence entries given up to make room
  // The workers' poll loops: turns that received frames or none, the time each kind took
  // (idle sleeps apart), and the sleeps.
  uint64_t busy_polls = 0;
  uint64_t empty_polls = 0;
  double busy_seconds = 0;
  double empty_seconds = 0;
  uint64_t idle_sleeps = 0;
  std::array<uint64_t, dp::kDropReasonCount> drops{};
  std::array<uint64_t, dp::kControlReasonCount> control{};

  static CounterValues read(const dp::WorkerCounters& c);
  CounterValues& operator+=(const CounterValues& other);
  uint64_t dropped() const;
  uint64_t to_control() const;
  // rx = tx + Σ drops + Σ to-control: what the dataplane promises after every burst.
  bool balanced() const { return rx == tx + dropped() + to_control(); }
};

struct WorkerCounterValues {
  uint32_t worker = 0;
  uint64_t flows = 0;  // in its table, expired ones not yet aged out included
  uint64_t capacity = 0;  // flows its table holds at most
  CounterValues values;
};

// A port's own counters, as its driver keeps them (rte_eth_stats and the extended ones):
// what reached the NIC but never a worker (missed, no mbuf) shows only here.
struct PortCounters {
  std::string port;  // the config's name
  uint64_t rx_packets = 0, tx_packets = 0, rx_bytes = 0, tx_bytes = 0;
  uint64_t rx_missed = 0;  // imissed: the rx ring was full
  uint64_t rx_nombuf = 0;  // no mbuf to receive into
  uint64_t rx_errors = 0, tx_errors = 0;
  std::vector<std::pair<std::string, uint64_t>> extended;  // the driver's xstats, by name
};

struct ExceptionPathCounters {
  std::string interface;
  uint64_t to_kernel = 0;
  uint64_t from_kernel = 0;
  uint64_t dropped = 0;
};

struct CounterReport {
  std::vector<WorkerCounterValues> workers;
  CounterValues total;  // over every worker
  std::vector<ExceptionPathCounters> exception_paths;
  std::vector<PortCounters> ports;

  void add_worker(uint32_t worker, uint64_t flows, uint64_t capacity,
                  const dp::WorkerCounters& counters, uint64_t persistence_evicted = 0);
};

nlohmann::json to_json(const CounterReport& report);
// One line per worker and exception path, then `feature_lines` (VRRP's, sync's), then the
// total, which log readers wait for as the dump's end.
std::vector<std::string> log_lines(const CounterReport& report,
                                   const std::vector<std::string>& feature_lines);
void add_metrics(const CounterReport& report, MetricFamilies& families);

}  // namespace shoal::cp

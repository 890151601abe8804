#include "api/counters.h"

#include <rte_cycles.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <numeric>

namespace shoal::cp {
namespace {

std::string drop_name(std::size_t r) { return std::string(dp::name(static_cast<dp::DropReason>(r))); }
std::string control_name(std::size_t r) {
  return std::string(dp::name(static_cast<dp::ControlReason>(r)));
}

nlohmann::json values_json(const CounterValues& v) {
  nlohmann::json drops = nlohmann::json::object();
  nlohmann::json control = nlohmann::json::object();
  for (std::size_t r = 0; r < v.drops.size(); ++r) drops[drop_name(r)] = v.drops[r];
  for (std::size_t r = 0; r < v.control.size(); ++r) control[control_name(r)] = v.control[r];
  return {{"rx", v.rx},
          {"tx", v.tx},
          {"dropped", v.dropped()},
          {"to_control", v.to_control()},
          {"flows_created", v.flows_created},
          {"flows_rescheduled", v.flows_rescheduled},
          {"flows_claimed", v.flows_claimed},
          {"flows_midstream", v.flows_midstream},
          {"persistence_hits", v.persistence_hits},
          {"persistence_evicted", v.persistence_evicted},
          {"polls", {{"busy", v.busy_polls},
                     {"empty", v.empty_polls},
                     {"busy_seconds", v.busy_seconds},
                     {"empty_seconds", v.empty_seconds},
                     {"idle_sleeps", v.idle_sleeps}}},
          {"drops", std::move(drops)},
          {"control", std::move(control)}};
}

}  // namespace

CounterValues CounterValues::read(const dp::WorkerCounters& c) {
  CounterValues v;
  v.rx = c.rx.get();
  v.tx = c.tx.get();
  v.flows_created = c.flows_created.get();
  v.flows_rescheduled = c.flows_rescheduled.get();
  v.flows_claimed = c.flows_claimed.get();
  v.flows_midstream = c.flows_midstream.get();
  v.persistence_hits = c.persistence_hits.get();
  v.busy_polls = c.busy_polls.get();
  v.empty_polls = c.empty_polls.get();
  // Timer cycles; the timer's rate is 0 until the EAL runs (unit tests).
  if (const uint64_t hz = rte_get_timer_hz()) {
    v.busy_seconds = static_cast<double>(c.busy_cycles.get()) / static_cast<double>(hz);
    v.empty_seconds = static_cast<double>(c.empty_cycles.get()) / static_cast<double>(hz);
  }
  v.idle_sleeps = c.idle_sleeps.get();
  for (std::size_t r = 0; r < v.drops.size(); ++r) v.drops[r] = c.drops[r].get();
  for (std::size_t r = 0; r < v.control.size(); ++r) v.control[r] = c.control[r].get();
  return v;
}

CounterValues& CounterValues::operator+=(const CounterValues& o) {
  rx += o.rx;
  tx += o.tx;
  flows_created += o.flows_created;
  flows_rescheduled += o.flows_rescheduled;
  flows_claimed += o.flows_claimed;
  flows_midstream += o.flows_midstream;
  persistence_hits += o.persistence_hits;
  persistence_evicted += o.persistence_evicted;
  busy_polls += o.busy_polls;
  empty_polls += o.empty_polls;
  busy_seconds += o.busy_seconds;
  empty_seconds += o.empty_seconds;
  idle_sleeps += o.idle_sleeps;
  for (std::size_t r = 0; r < drops.size(); ++r) drops[r] += o.drops[r];
  for (std::size_t r = 0; r < control.size(); ++r) control[r] += o.control[r];
  return *this;
}

uint64_t CounterValues::dropped() const { return std::accumulate(drops.begin(), drops.end(), uint64_t{0}); }

uint64_t CounterValues::to_control() const {
  return std::accumulate(control.begin(), control.end(), uint64_t{0});
}

void CounterReport::add_worker(uint32_t worker, uint64_t flows, uint64_t capacity,
                               const dp::WorkerCounters& c, uint64_t persistence_evicted) {
  workers.push_back({worker, flows, capacity, CounterValues::read(c)});
  workers.back().values.persistence_evicted = persistence_evicted;
  total += workers.back().values;
}

nlohmann::json to_json(const CounterReport& report) {
  nlohmann::json workers = nlohmann::json::array();
  for (const WorkerCounterValues& w : report.workers) {
    nlohmann::json j = values_json(w.values);
    j["worker"] = w.worker;
    j["flows"] = w.flows;
    j["flow_capacity"] = w.capacity;
    workers.push_back(std::move(j));
  }
  nlohmann::json total = values_json(report.total);
  total["balanced"] = report.total.balanced();
  nlohmann::json taps = nlohmann::json::array();
  for (const ExceptionPathCounters& t : report.exception_paths)
    taps.push_back({{"interface", t.interface},
                    {"to_kernel", t.to_kernel},
                    {"from_kernel", t.from_kernel},
                    {"dropped", t.dropped}});
  nlohmann::json ports = nlohmann::json::array();
  for (const PortCounters& p : report.ports) {
    nlohmann::json extended = nlohmann::json::object();
    for (const auto& [name, value] : p.extended) extended[name] = value;
    ports.push_back({{"port", p.port},
                     {"rx_packets", p.rx_packets},
                     {"tx_packets", p.tx_packets},
                     {"rx_bytes", p.rx_bytes},
                     {"tx_bytes", p.tx_bytes},
                     {"rx_missed", p.rx_missed},
                     {"rx_nombuf", p.rx_nombuf},
                     {"rx_errors", p.rx_errors},
                     {"tx_errors", p.tx_errors},
                     {"extended", std::move(extended)}});
  }
  return {{"workers", std::move(workers)}, {"total", std::move(total)},
          {"exception_paths", std::move(taps)}, {"ports", std::move(ports)}};
}

std::vector<std::string> log_lines(const CounterReport& report,
                                   const std::vector<std::string>& feature_lines) {
  std::vector<std::string> out;
  for (const WorkerCounterValues& w : report.workers) {
    const CounterValues& c = w.values;
    std::string detail;
    for (std::size_t r = 0; r < c.drops.size(); ++r)
      if (c.drops[r]) detail += fmt::format(" drop.{}={}", drop_name(r), c.drops[r]);
    for (std::size_t r = 0; r < c.control.size(); ++r)
      if (c.control[r]) detail += fmt::format(" control.{}={}", control_name(r), c.control[r]);
    std::string polls;  // none in a report made without running workers
    if (c.busy_polls + c.empty_polls != 0)
      polls = fmt::format(" polls.busy={} polls.empty={} polls.busy_s={:.3f} polls.empty_s={:.3f} "
                          "polls.sleeps={}", c.busy_polls, c.empty_polls, c.busy_seconds,
                          c.empty_seconds, c.idle_sleeps);
    out.push_back(fmt::format("counters worker {}: rx={} tx={} dropped={} to_control={} flows={} "
                              "created={} rescheduled={} midstream={}{}{}", w.worker, c.rx, c.tx,
                              c.dropped(), c.to_control(), w.flows, c.flows_created,
                              c.flows_rescheduled, c.flows_midstream, polls, detail));
  }
  for (const ExceptionPathCounters& t : report.exception_paths)
    out.push_back(fmt::format("counters exception path {}: to_kernel={} from_kernel={} dropped={}",
                              t.interface, t.to_kernel, t.from_kernel, t.dropped));
  for (const PortCounters& p : report.ports)
    out.push_back(fmt::format("counters port {}: rx={} tx={} rx_missed={} rx_nombuf={} "
                              "rx_errors={} tx_errors={}", p.port, p.rx_packets, p.tx_packets,
                              p.rx_missed, p.rx_nombuf, p.rx_errors, p.tx_errors));
  out.insert(out.end(), feature_lines.begin(), feature_lines.end());
  const CounterValues& t = report.total;
  out.push_back(fmt::format("counters total: rx={} tx={} dropped={} to_control={} balanced={}",
                            t.rx, t.tx, t.dropped(), t.to_control(),
                            t.balanced() ? "yes" : "NO"));
  return out;
}

void add_metrics(const CounterReport& report, MetricFamilies& f) {
  for (const WorkerCounterValues& w : report.workers) {
    const CounterValues& c = w.values;
    const std::string worker = std::to_string(w.worker);
    const char* packets = "Frames received and transmitted by the workers";
    f.counter("shoal_packets_total", packets, {{"worker", worker}, {"direction", "rx"}},
              static_cast<double>(c.rx));
    f.counter("shoal_packets_total", packets, {{"worker", worker}, {"direction", "tx"}},
              static_cast<double>(c.tx));
    for (std::size_t r = 0; r < c.drops.size(); ++r)
      f.counter("shoal_drops_total", "Frames dropped, by reason (dataplane/verdict.h)",
                {{"worker", worker}, {"reason", drop_name(r)}}, static_cast<double>(c.drops[r]));
    for (std::size_t r = 0; r < c.control.size(); ++r)
      f.counter("shoal_to_control_total", "Frames handed to the control plane, by reason",
                {{"worker", worker}, {"reason", control_name(r)}},
                static_cast<double>(c.control[r]));
    f.gauge("shoal_flows", "Flows in the worker's table (expired ones not yet aged out included)",
            {{"worker", worker}}, static_cast<double>(w.flows));
    f.gauge("shoal_flow_table_capacity", "Flows the worker's table holds at most",
            {{"worker", worker}}, static_cast<double>(w.capacity));
    f.counter("shoal_flows_created_total", "Flows scheduled for the first time",
              {{"worker", worker}}, static_cast<double>(c.flows_created));
    f.counter("shoal_flows_rescheduled_total", "Flows moved off a removed or down backend",
              {{"worker", worker}}, static_cast<double>(c.flows_rescheduled));
    f.counter("shoal_flows_midstream_total",
              "TCP packets of established connections this worker had no flow for (moved here "
              "by the router, or lost to a restart or an eviction), scheduled as new flows",
              {{"worker", worker}}, static_cast<double>(c.flows_midstream));
    const char* polls = "Turns of the worker's poll loop, by whether they received frames";
    f.counter("shoal_worker_polls_total", polls, {{"worker", worker}, {"result", "busy"}},
              static_cast<double>(c.busy_polls));
    f.counter("shoal_worker_polls_total", polls, {{"worker", worker}, {"result", "empty"}},
              static_cast<double>(c.empty_polls));
    const char* poll_seconds =
        "Time the worker's poll loop spent in turns that received frames or none (sleeps apart)";
    f.counter("shoal_worker_poll_seconds_total", poll_seconds,
              {{"worker", worker}, {"result", "busy"}}, c.busy_seconds);
    f.counter("shoal_worker_poll_seconds_total", poll_seconds,
              {{"worker", worker}, {"result", "empty"}}, c.empty_seconds);
    f.counter("shoal_worker_idle_sleeps_total", "Sleeps of the idle worker's poll loop",
              {{"worker", worker}}, static_cast<double>(c.idle_sleeps));
    f.counter("shoal_persistence_hits_total",
              "New flows sent to the backend their client's persistence entry named",
              {{"worker", worker}}, static_cast<double>(c.persistence_hits));
    f.counter("shoal_persistence_evictions_total",
              "Live persistence entries the worker's full table gave up",
              {{"worker", worker}}, static_cast<double>(c.persistence_evicted));
  }
  for (const PortCounters& p : report.ports) {
    const char* packets = "Frames the port's driver received and sent";
    const char* bytes = "Bytes the port's driver received and sent";
    const char* errors = "Frames the port's driver counted as errors";
    f.counter("shoal_port_packets_total", packets, {{"port", p.port}, {"direction", "rx"}},
              static_cast<double>(p.rx_packets));
    f.counter("shoal_port_packets_total", packets, {{"port", p.port}, {"direction", "tx"}},
              static_cast<double>(p.tx_packets));
    f.counter("shoal_port_bytes_total", bytes, {{"port", p.port}, {"direction", "rx"}},
              static_cast<double>(p.rx_bytes));
    f.counter("shoal_port_bytes_total", bytes, {{"port", p.port}, {"direction", "tx"}},
              static_cast<double>(p.tx_bytes));
    f.counter("shoal_port_rx_missed_total",
              "Frames the NIC dropped because the receive ring was full (imissed)",
              {{"port", p.port}}, static_cast<double>(p.rx_missed));
    f.counter("shoal_port_rx_nombuf_total", "Frames the NIC dropped for want of an mbuf",
              {{"port", p.port}}, static_cast<double>(p.rx_nombuf));
    f.counter("shoal_port_errors_total", errors, {{"port", p.port}, {"direction", "rx"}},
              static_cast<double>(p.rx_errors));
    f.counter("shoal_port_errors_total", errors, {{"port", p.port}, {"direction", "tx"}},
              static_cast<double>(p.tx_errors));
    for (const auto& [name, value] : p.extended)
      f.counter("shoal_port_xstats_total", "The driver's extended statistics, by name",
                {{"port", p.port}, {"name", name}}, static_cast<double>(value));
  }
  const char* tap_help = "Frames through a port's exception path";
  for (const ExceptionPathCounters& t : report.exception_paths) {
    f.counter("shoal_exception_path_frames_total", tap_help,
              {{"interface", t.interface}, {"direction", "to_kernel"}},
              static_cast<double>(t.to_kernel));
    f.counter("shoal_exception_path_frames_total", tap_help,
              {{"interface", t.interface}, {"direction", "from_kernel"}},
              static_cast<double>(t.from_kernel));
  }
}

}  // namespace shoal::cp

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "api/counters.h"

using namespace shoal;
using namespace shoal::cp;

namespace {

// Two workers' counters with a little of everything; the second worker's drops differ.
struct TwoWorkers {
  dp::WorkerCounters w0, w1;
  TwoWorkers() {
    w0.rx.add(10);
    w0.tx.add(7);
    w0.drops[static_cast<std::size_t>(dp::DropReason::no_backend)].add(2);
    w0.control[static_cast<std::size_t>(dp::ControlReason::arp)].add(1);
    w0.flows_created.add(4);
    w1.rx.add(5);
    w1.tx.add(4);
    w1.drops[static_cast<std::size_t>(dp::DropReason::not_for_us)].add(1);
    w1.flows_claimed.add(3);
    w1.busy_polls.add(3);
    w1.empty_polls.add(9);
    w1.idle_sleeps.add(2);
  }
  CounterReport report() const {
    CounterReport r;
    r.add_worker(0, 40, 1024, w0);
    r.add_worker(1, 50, 1024, w1);
    r.exception_paths.push_back({"tap0", 6, 5, 1});
    PortCounters lan;
    lan.port = "lan";
    lan.rx_packets = 17;
    lan.tx_packets = 11;
    lan.rx_missed = 2;
    lan.rx_nombuf = 1;
    lan.extended = {{"rx_good_packets", 17}};
    r.ports.push_back(lan);
    return r;
  }
};

double sample(const std::vector<prometheus::MetricFamily>& all, const std::string& name,
              const MetricLabels& labels) {
  for (const auto& f : all)
    if (f.name == name)
      for (const auto& m : f.metric)
        if (m.label == labels) return f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
  FAIL("no sample " << name);
  return -1;
}

}  // namespace

TEST_CASE("counters: one report, and JSON, log and metrics say the same", "[api]") {
  const TwoWorkers workers;
  const CounterReport report = workers.report();
  CHECK(report.total.rx == 15);
  CHECK(report.total.tx == 11);
  CHECK(report.total.dropped() == 3);
  CHECK(report.total.to_control() == 1);
  CHECK(report.total.balanced());

  const nlohmann::json j = to_json(report);
  CHECK(j.at("total").at("rx") == 15);
  CHECK(j.at("total").at("balanced") == true);
  CHECK(j.at("total").at("drops").at("no_backend") == 2);
  CHECK(j.at("total").at("flows_claimed") == 3);
  CHECK(j.at("workers").at(1).at("worker") == 1);
  CHECK(j.at("workers").at(1).at("flows") == 50);
  CHECK(j.at("workers").at(1).at("drops").at("not_for_us") == 1);
  CHECK(j.at("workers").at(1).at("flow_capacity") == 1024);
  CHECK(j.at("workers").at(1).at("polls").at("empty") == 9);
  CHECK(j.at("total").at("polls").at("busy") == 3);
  CHECK(j.at("exception_paths").at(0).at("from_kernel") == 5);
  CHECK(j.at("ports").at(0).at("rx_missed") == 2);
  CHECK(j.at("ports").at(0).at("extended").at("rx_good_packets") == 17);

  const std::vector<std::string> lines = log_lines(report, {"counters sync: x=1"});
  REQUIRE(lines.size() == 6);
  CHECK(lines[0] == "counters worker 0: rx=10 tx=7 dropped=2 to_control=1 flows=40 created=4 "
                    "rescheduled=0 midstream=0 drop.no_backend=2 control.arp=1");
  // The poll loop's counters, on the lines of workers that ran it (timer cycles read as 0 s
  // with no EAL).
  CHECK(lines[1] == "counters worker 1: rx=5 tx=4 dropped=1 to_control=0 flows=50 created=0 "
                    "rescheduled=0 midstream=0 polls.busy=3 polls.empty=9 polls.busy_s=0.000 "
                    "polls.empty_s=0.000 polls.sleeps=2 drop.not_for_us=1");
  CHECK(lines[2] == "counters exception path tap0: to_kernel=6 from_kernel=5 dropped=1");
  CHECK(lines[3] == "counters port lan: rx=17 tx=11 rx_missed=2 rx_nombuf=1 rx_errors=0 "
                    "tx_errors=0");
  CHECK(lines[4] == "counters sync: x=1");  // features' lines come before the total
  CHECK(lines[5] == "counters total: rx=15 tx=11 dropped=3 to_control=1 balanced=yes");

  MetricFamilies f;
  add_metrics(report, f);
  const auto all = f.take();
  CHECK(sample(all, "shoal_packets_total", {{"worker", "0"}, {"direction", "rx"}}) == 10);
  CHECK(sample(all, "shoal_drops_total", {{"worker", "1"}, {"reason", "not_for_us"}}) == 1);
  CHECK(sample(all, "shoal_to_control_total", {{"worker", "0"}, {"reason", "arp"}}) == 1);
  CHECK(sample(all, "shoal_flows", {{"worker", "1"}}) == 50);
  CHECK(sample(all, "shoal_worker_polls_total", {{"worker", "1"}, {"result", "empty"}}) == 9);
  CHECK(sample(all, "shoal_worker_idle_sleeps_total", {{"worker", "1"}}) == 2);
  CHECK(sample(all, "shoal_flow_table_capacity", {{"worker", "1"}}) == 1024);
  CHECK(sample(all, "shoal_port_rx_missed_total", {{"port", "lan"}}) == 2);
  CHECK(sample(all, "shoal_port_rx_nombuf_total", {{"port", "lan"}}) == 1);
  CHECK(sample(all, "shoal_port_xstats_total", {{"port", "lan"}, {"name", "rx_good_packets"}}) == 17);
  CHECK(sample(all, "shoal_exception_path_frames_total",
               {{"interface", "tap0"}, {"direction", "to_kernel"}}) == 6);
}

TEST_CASE("counters: an unbalanced total says so in every rendering", "[api]") {
  TwoWorkers workers;
  workers.w1.rx.add(1);  // a frame with no verdict
  const CounterReport report = workers.report();
  CHECK_FALSE(report.total.balanced());
  CHECK(to_json(report).at("total").at("balanced") == false);
  CHECK(log_lines(report, {}).back().ends_with("balanced=NO"));
}

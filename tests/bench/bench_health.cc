// Benchmark of the health checker at scale: one hc::HealthChecker (the same class shoald runs)
// checking COUNT targets at consecutive IPv4 addresses from BASE, for DURATION seconds.
// scripts/bench-health.sh gives it a namespace whose kernel answers on 10,000 addresses.
//
// What it reports, over the steady part of the run (from the moment every target has had its
// first check, interval × spread after the start, to the end):
//   - checks per second started and completed, against the rate the schedule asks for
//     (COUNT / interval);
//   - the CPU the checker's thread used (the process's user+sys minus this main thread's,
//     which only samples), as a share of one CPU and per check;
//   - RSS before the targets were set, in the steady part and at its peak (VmHWM);
//   - how many targets are up at the end, failures and timeouts;
//   - each check's latency (the verdict's elapsed time) and lateness (how long after its due
//     time it started: the schedule is fixed-rate from a spread first check, and
//     Monitor::spread_fraction says where each target's grid starts).
// --idle runs the checker with no target: the cost of its loop alone.
//
// The last line is machine-readable: `RESULT key=value ...` (scripts/bench-health.sh builds
// its table from it).
#include <arpa/inet.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "healthcheck/checker.h"

using namespace shoal::hc;
using Steady = std::chrono::steady_clock;

namespace {

struct Options {
  std::string type = "tcp";
  std::string base = "10.64.0.1";
  uint32_t count = 10000;
  uint16_t port = 80;
  double interval = 2.0;
  double timeout = 1.0;
  double spread = 1.0;
  double duration = 20.0;
  std::string path = "/";
  std::string label;
  bool idle = false;
};

double seconds(Steady::duration d) {
  return std::chrono::duration<double>(d).count();
}

struct Cpu {
  double user = 0, sys = 0;
  Cpu operator-(const Cpu& o) const { return {user - o.user, sys - o.sys}; }
  double total() const { return user + sys; }
};

Cpu cpu_of(int who) {
  rusage ru{};
  getrusage(who, &ru);
  return {static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6,
          static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6};
}

// VmRSS and VmHWM of this process, in KiB.
std::pair<long, long> rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string key;
  long rss = 0, hwm = 0;
  while (in >> key) {
    if (key == "VmRSS:") in >> rss;
    else if (key == "VmHWM:") in >> hwm;
    in.ignore(1 << 16, '\n');
  }
  return {rss, hwm};
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return NAN;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"shoal health-checker benchmark: COUNT targets at BASE, BASE+1, ..."};
  app.add_option("--type", o.type, "tcp, http or udp")->check(CLI::IsMember({"tcp", "http", "udp"}));
  app.add_option("--base", o.base, "first target address");
  app.add_option("--count", o.count, "targets")->check(CLI::Range(1u, 1u << 20));
  app.add_option("--port", o.port, "port checked");
  app.add_option("--interval", o.interval, "seconds between checks of a target")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--timeout", o.timeout, "seconds")->check(CLI::Range(0.01, 3600.0));
  app.add_option("--spread", o.spread, "0..1: first checks spread over interval x spread")->check(CLI::Range(0.0, 1.0));
  app.add_option("--duration", o.duration, "seconds of the whole run")->check(CLI::Range(1.0, 3600.0));
  app.add_option("--path", o.path, "http path");
  app.add_option("--label", o.label, "name of the run in the RESULT line");
  app.add_flag("--idle", o.idle, "no targets: the checker's loop alone");
  CLI11_PARSE(app, argc, argv);
  if (o.timeout >= o.interval) {
    std::fprintf(stderr, "bench_health: --timeout must be below --interval\n");
    return 2;
  }
  in_addr base{};
  if (inet_pton(AF_INET, o.base.c_str(), &base) != 1) {
    std::fprintf(stderr, "bench_health: --base %s is not an IPv4 address\n", o.base.c_str());
    return 2;
  }
  if (o.label.empty()) o.label = o.idle ? "idle" : fmt::format("{}-{}", o.type, o.count);

  HealthChecker checker;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the thread is up and idle
  // Before the targets exist: they are moved into the checker, so what they take counts as
  // the checker's.
  const long rss_before = rss_kib().first;

  std::vector<Target> targets;
  std::vector<double> grid_offset;  // seconds from set_targets to each target's first due time
  if (!o.idle) {
    targets.reserve(o.count);
    for (uint32_t i = 0; i < o.count; ++i) {
      Target t;
      t.key = {"bench", fmt::format("t{}", i)};
      t.address = TargetAddress::from_v4(htonl(ntohl(base.s_addr) + i));
      t.port = o.port;
      t.spec.type = o.type == "tcp" ? CheckType::tcp : o.type == "http" ? CheckType::http
                                                                         : CheckType::udp;
      t.spec.interval_ms = static_cast<uint32_t>(std::lround(o.interval * 1000));
      t.spec.timeout_ms = static_cast<uint32_t>(std::lround(o.timeout * 1000));
      t.spec.spread = o.spread;
      t.spec.path = o.path;
      t.spec.payload = "bench";
      grid_offset.push_back(Monitor::spread_fraction(t.key) * o.spread * o.interval);
      targets.push_back(std::move(t));
    }
  }
  std::vector<TargetKey> keys;
  for (const Target& t : targets) keys.push_back(t.key);

  const Steady::time_point t_set = Steady::now();
  checker.set_targets(std::move(targets));
  const double set_seconds = seconds(Steady::now() - t_set);
  const Steady::time_point t_end = t_set + std::chrono::duration_cast<Steady::duration>(
                                               std::chrono::duration<double>(o.duration));
  // Steady from when every target has started its schedule, plus a margin for its first check.
  Steady::time_point t_steady = t_set;
  if (!o.idle)
    t_steady += std::chrono::duration_cast<Steady::duration>(
        std::chrono::duration<double>(o.interval * o.spread + o.timeout));
  if (t_steady + std::chrono::seconds(1) > t_end) {
    std::fprintf(stderr, "bench_health: --duration leaves no steady part (interval x spread + "
                         "timeout is %.1f s)\n", seconds(t_steady - t_set));
    return 2;
  }

  const auto sample_period = std::chrono::duration_cast<Steady::duration>(
      std::chrono::duration<double>(std::min(0.5, o.interval / 2)));
  std::vector<double> latency_ms, lateness_ms;
  std::vector<Steady::time_point> seen(keys.size());  // the last completion counted, per target
  bool in_window = false;
  CheckerStats s0{};
  Cpu cpu0, main_cpu0;
  Steady::time_point w0{};
  long rss_sum = 0, rss_samples = 0;
  size_t in_flight_max = 0;

  for (Steady::time_point next = Steady::now() + sample_period;; next += sample_period) {
    std::this_thread::sleep_until(std::min(next, t_end));
    const Steady::time_point now = Steady::now();
    if (!in_window && now >= t_steady) {
      in_window = true;
      s0 = checker.stats();
      cpu0 = cpu_of(RUSAGE_SELF);
      main_cpu0 = cpu_of(RUSAGE_THREAD);
      w0 = now;
      // Checks that completed before the window are not counted below.
      for (size_t i = 0; i < keys.size(); ++i)
        if (auto st = checker.last_result(keys[i]); st && st->last_checked) seen[i] = *st->last_checked;
    } else if (in_window) {
      in_flight_max = std::max(in_flight_max, checker.stats().in_flight);
      rss_sum += rss_kib().first;
      ++rss_samples;
      for (size_t i = 0; i < keys.size(); ++i) {
        auto st = checker.last_result(keys[i]);
        if (!st || !st->last_checked || !st->last || *st->last_checked <= seen[i]) continue;
        seen[i] = *st->last_checked;
        latency_ms.push_back(static_cast<double>(st->last->elapsed.count()) / 1000.0);
        const double started = seconds(*st->last_checked - st->last->elapsed - t_set);
        const double lateness = std::fmod(started - grid_offset[i], o.interval);
        lateness_ms.push_back((lateness < 0 ? lateness + o.interval : lateness) * 1000.0);
      }
    }
    if (now >= t_end) break;
  }

  const Steady::time_point w1 = Steady::now();
  const CheckerStats s1 = checker.stats();
  const double window = seconds(w1 - w0);
  const Cpu main_used = cpu_of(RUSAGE_THREAD) - main_cpu0;
  const Cpu checker_used = cpu_of(RUSAGE_SELF) - cpu0 - main_used;
  const double main_cpu = main_used.total();
  const double checker_cpu = checker_used.total();
  const auto [rss_end, rss_peak] = rss_kib();
  size_t up = 0;
  for (const TargetKey& k : keys)
    if (auto st = checker.last_result(k); st && st->up) ++up;

  const double scheduled = o.idle ? 0.0 : o.count / o.interval;
  const double started = static_cast<double>(s1.probes_started - s0.probes_started) / window;
  const uint64_t done = (s1.passed + s1.failed) - (s0.passed + s0.failed);
  const double completed = static_cast<double>(done) / window;
  const uint64_t failed = s1.failed - s0.failed;
  const uint64_t timed_out = s1.timed_out - s0.timed_out;
  const double cpu_share = checker_cpu / window * 100.0;
  const double us_per_check = done ? checker_cpu / static_cast<double>(done) * 1e6 : NAN;
  const double rss_steady = rss_samples ? static_cast<double>(rss_sum) / rss_samples : rss_end;
  const size_t measured = latency_ms.size();
  const double lat50 = percentile(latency_ms, 0.50), lat99 = percentile(latency_ms, 0.99),
               lat_max = percentile(latency_ms, 1.0);
  const double late50 = percentile(lateness_ms, 0.50), late99 = percentile(lateness_ms, 0.99),
               late_max = percentile(lateness_ms, 1.0);

  std::printf("%s: %u %s targets at %s:%u, interval %.2f s, timeout %.2f s, spread %.2f; "
              "set_targets took %.1f ms\n",
              o.label.c_str(), o.idle ? 0 : o.count, o.type.c_str(), o.base.c_str(), o.port,
              o.interval, o.timeout, o.spread, set_seconds * 1000);
  std::printf("  steady window %.1f s: checks/s scheduled %.0f, started %.0f, completed %.0f, "
              "failed %.0f (timed out %.0f); in flight at most %zu\n",
              window, scheduled, started, completed, static_cast<double>(failed) / window,
              static_cast<double>(timed_out) / window, in_flight_max);
  std::printf("  checker thread CPU %.2f%% of one CPU (user %.2f%%, sys %.2f%%; %.1f us per "
              "check); sampling thread %.1f%%\n",
              cpu_share, checker_used.user / window * 100.0, checker_used.sys / window * 100.0,
              us_per_check, main_cpu / window * 100.0);
  std::printf("  RSS before targets %.1f MiB, steady %.1f MiB, peak %.1f MiB\n",
              rss_before / 1024.0, rss_steady / 1024.0, rss_peak / 1024.0);
  std::printf("  up at the end %zu of %zu; %zu checks timed: latency ms p50 %.2f p99 %.2f max "
              "%.2f; lateness ms p50 %.2f p99 %.2f max %.2f\n",
              up, keys.size(), measured, lat50, lat99, lat_max, late50, late99, late_max);
  std::printf("RESULT label=%s type=%s targets=%zu interval=%.2f scheduled=%.0f started=%.0f "
              "completed=%.0f failed=%.0f timed_out=%.0f up=%zu cpu_pct=%.2f user_pct=%.2f "
              "sys_pct=%.2f us_per_check=%.1f "
              "rss_before_mib=%.1f rss_steady_mib=%.1f rss_peak_mib=%.1f lat_p50_ms=%.2f "
              "lat_p99_ms=%.2f lat_max_ms=%.2f late_p50_ms=%.2f late_p99_ms=%.2f "
              "late_max_ms=%.2f\n",
              o.label.c_str(), o.idle ? "none" : o.type.c_str(), keys.size(), o.interval,
              scheduled, started, completed, static_cast<double>(failed) / window,
              static_cast<double>(timed_out) / window, up, cpu_share,
              checker_used.user / window * 100.0, checker_used.sys / window * 100.0, us_per_check,
              rss_before / 1024.0, rss_steady / 1024.0, rss_peak / 1024.0, lat50, lat99, lat_max,
              late50, late99, late_max);
  return 0;
}

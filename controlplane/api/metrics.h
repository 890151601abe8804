// /metrics in Prometheus' text format (prometheus-cpp). What the control loop observes as it
// happens — reloads and their results, Snapshot publish latency — lives in a prometheus
// Registry; everything else (packets, drops per reason and worker, per-backend traffic,
// health, weights, admin states) is read from the running state at scrape time, so nothing
// is counted twice and the workers' hot path is untouched.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <memory>
#include <string>

namespace shoal::cp {

class Director;

class Metrics {
 public:
  Metrics();
  void reloaded(bool applied);
  void published(std::chrono::microseconds took);
  void health_transition(const std::string& service, const std::string& backend, bool up);
  // The whole exposition; on the control loop.
  std::string render(const Director& director) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* reloads_applied_;
  prometheus::Counter* reloads_refused_;
  prometheus::Histogram* publish_seconds_;
  prometheus::Family<prometheus::Counter>* transitions_;
};

}  // namespace shoal::cp

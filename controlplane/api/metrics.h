// /metrics in Prometheus' text format (prometheus-cpp). What the control loop observes as it
// happens (reloads and their results, Snapshot publish latency, health transitions) lives in
// a prometheus Registry here; everything else (packets, drops per reason and worker,
// per-backend traffic, health, weights, admin states, VRRP, sync) is read from the running
// state at scrape time by the collectors the features registered (registry.h), so nothing is
// counted twice and the workers' hot path is untouched.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace shoal::cp {

class ApiRegistry;

using MetricLabels = std::vector<prometheus::ClientMetric::Label>;

// One scrape's families, as the collectors write them; samples of one name join one family.
class MetricFamilies {
 public:
  void counter(const std::string& name, const std::string& help, MetricLabels labels,
               double value) {
    add(name, help, prometheus::MetricType::Counter, std::move(labels), value);
  }
  void gauge(const std::string& name, const std::string& help, MetricLabels labels,
             double value) {
    add(name, help, prometheus::MetricType::Gauge, std::move(labels), value);
  }
  std::vector<prometheus::MetricFamily> take() { return std::move(out_); }

 private:
  void add(const std::string& name, const std::string& help, prometheus::MetricType type,
           MetricLabels labels, double value);

  std::vector<prometheus::MetricFamily> out_;
};

class Metrics {
 public:
  Metrics();
  // The config that runs was loaded: at start-up, and by every applied reload.
  void config_loaded();
  void reloaded(bool applied);
  void published(std::chrono::microseconds took);
  void health_transition(const std::string& service, const std::string& backend, bool up);
  void quorum_transition(const std::string& service, bool up);
  // The whole exposition: the registered collectors' families, then the events'. On the
  // control loop.
  std::string render(const ApiRegistry& registry) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* reloads_applied_;
  prometheus::Counter* reloads_refused_;
  prometheus::Gauge* last_load_;
  prometheus::Histogram* publish_seconds_;
  prometheus::Family<prometheus::Counter>* transitions_;
  prometheus::Family<prometheus::Counter>* quorum_transitions_;
};

}  // namespace shoal::cp

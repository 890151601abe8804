#include "api/metrics.h"

#include <prometheus/text_serializer.h>

#include "api/registry.h"

namespace shoal::cp {

void MetricFamilies::add(const std::string& name, const std::string& help,
                         prometheus::MetricType type, MetricLabels labels, double value) {
  prometheus::MetricFamily* family = nullptr;
  for (prometheus::MetricFamily& f : out_)
    if (f.name == name) family = &f;
  if (family == nullptr) family = &out_.emplace_back(prometheus::MetricFamily{name, help, type, {}});
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (type == prometheus::MetricType::Counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  family->metric.push_back(std::move(m));
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& reloads = prometheus::BuildCounter()
                      .Name("shoal_reloads_total")
                      .Help("Config reloads (SIGHUP, API), by result")
                      .Register(*registry_);
  reloads_applied_ = &reloads.Add({{"result", "applied"}});
  reloads_refused_ = &reloads.Add({{"result", "refused"}});
  last_load_ = &prometheus::BuildGauge()
                    .Name("shoal_last_reload_success_timestamp_seconds")
                    .Help("When the running config was loaded (start-up or the last applied "
                          "reload), in seconds since the epoch")
                    .Register(*registry_)
                    .Add({});
  prometheus::BuildGauge()
      .Name("shoal_build_info")
      .Help("Always 1; the version of the running shoald is a label")
      .Register(*registry_)
      .Add({{"version", SHOAL_VERSION}})
      .Set(1);
  transitions_ = &prometheus::BuildCounter()
                      .Name("shoal_health_transitions_total")
                      .Help("Backends going up or down by their health checks")
                      .Register(*registry_);
  quorum_transitions_ = &prometheus::BuildCounter()
                             .Name("shoal_quorum_transitions_total")
                             .Help("Services losing or regaining quorum")
                             .Register(*registry_);
  publish_seconds_ = &prometheus::BuildHistogram()
                          .Name("shoal_snapshot_publish_seconds")
                          .Help("From a new Snapshot's publication to every worker having left "
                                "the previous one")
                          .Register(*registry_)
                          .Add({}, prometheus::Histogram::BucketBoundaries{
                                       1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5});
}

void Metrics::health_transition(const std::string& service, const std::string& backend, bool up) {
  transitions_->Add({{"service", service}, {"backend", backend}, {"to", up ? "up" : "down"}}).Increment();
}

void Metrics::quorum_transition(const std::string& service, bool up) {
  quorum_transitions_->Add({{"service", service}, {"to", up ? "up" : "down"}}).Increment();
}

void Metrics::config_loaded() { last_load_->SetToCurrentTime(); }

void Metrics::reloaded(bool applied) {
  (applied ? reloads_applied_ : reloads_refused_)->Increment();
  if (applied) config_loaded();
}

void Metrics::published(std::chrono::microseconds took) {
  publish_seconds_->Observe(static_cast<double>(took.count()) / 1e6);
}

std::string Metrics::render(const ApiRegistry& registry) const {
  MetricFamilies families;
  registry.collect(families);
  std::vector<prometheus::MetricFamily> all = families.take();
  for (prometheus::MetricFamily& m : registry_->Collect()) all.push_back(std::move(m));
  return prometheus::TextSerializer().Serialize(all);
}

}  // namespace shoal::cp

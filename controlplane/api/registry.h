// Where each feature plugs into the control API and /metrics at start-up: its routes, its
// part of /v1/status and its metric families. The director makes one registry, hands it to
// every feature's register_*_api() and serves what they registered; nothing central lists
// the features, so a new one adds its own file and one call.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "api/metrics.h"
#include "api/router.h"

namespace shoal::cp {

class ApiRegistry {
 public:
  using StatusSection = std::function<nlohmann::json()>;
  using MetricCollector = std::function<void(MetricFamilies&)>;

  Router& routes() { return routes_; }
  const Router& routes() const { return routes_; }

  // `key` of the /v1/status object, computed on each request.
  void status_section(std::string key, StatusSection section) {
    status_.emplace_back(std::move(key), std::move(section));
  }
  // Adds families to every scrape of /metrics, read from the running state at scrape time.
  void metric_families(MetricCollector collector) { collectors_.push_back(std::move(collector)); }

  nlohmann::json status() const {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, section] : status_) out[key] = section();
    return out;
  }
  void collect(MetricFamilies& families) const {
    for (const MetricCollector& c : collectors_) c(families);
  }

 private:
  Router routes_;
  std::vector<std::pair<std::string, StatusSection>> status_;
  std::vector<MetricCollector> collectors_;
};

}  // namespace shoal::cp

// What the API, /metrics and the dashboard may see of the running director, and what they may
// ask of it: a narrow read-only view and a narrow command interface, both implemented by the
// Director and both called on the control loop only. Nothing else of the director's state is
// reachable from here, so its private members can change without touching the API.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/admin_state.h"
#include "api/backend_stats.h"
#include "api/counters.h"
#include "config/config.h"
#include "dataplane/flow_table.h"
#include "dataplane/snapshot.h"
#include "dataplane/worker/flow_sampler.h"
#include "healthcheck/checker.h"
#include "quorum/service_quorum.h"

namespace shoal::cp {

// What a reload did: applied, or refused with the reasons (the running config then stays).
struct ReloadResult {
  bool applied = false;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

// A backend's live flows over every worker's table, exact (dataplane/connection_counts.h).
struct BackendConnections {
  uint32_t active = 0;
  uint32_t inactive = 0;
};

// The flows the workers sampled for a filter; `complete` is false when a worker did not
// finish in time (or was busy with an earlier sample).
struct FlowSample {
  std::vector<std::pair<uint32_t, dp::FlowEntry>> flows;  // (worker, flow)
  std::vector<std::pair<uint32_t, dp::FlowEntry6>> flows6;
  bool complete = true;
};

class DirectorView {
 public:
  virtual ~DirectorView() = default;

  virtual const Config& config() const = 0;
  virtual const std::string& config_path() const = 0;
  virtual const std::string& config_text() const = 0;  // the file as last loaded
  virtual std::chrono::steady_clock::duration uptime() const = 0;

  // The backend with stable id `id` as last published to the workers, or nullptr.
  virtual const dp::BackendSpec* published_backend(uint16_t id) const = 0;
  // The Snapshot the workers run now; null before the first.
  virtual const dp::Snapshot* snapshot() const = 0;

  virtual std::optional<hc::TargetStatus> health(const hc::TargetKey& key) const = 0;
  virtual hc::CheckerStats health_stats() const = 0;
  virtual BackendAdmin admin(const hc::TargetKey& key) const = 0;
  // The service's quorum as last evaluated (up, healthy weight).
  virtual ServiceQuorums::State quorum(const std::string& service) const = 0;
  // Since the director started (/metrics), and since the operator last zeroed it (the API).
  virtual BackendTraffic traffic(uint16_t backend_id) const = 0;
  virtual BackendTraffic traffic_since_zero(uint16_t backend_id) const = 0;
  virtual BackendConnections connections(uint16_t backend_id) const = 0;
  // The backend a client's live persistence entry names in any worker, if one does.
  virtual std::optional<uint16_t> persisted(const dp::Service& service, uint32_t client) const = 0;
  virtual CounterReport counters() const = 0;
};

class DirectorCommands {
 public:
  virtual ~DirectorCommands() = default;

  // Reloads the config file, as SIGHUP does.
  virtual ReloadResult reload() = 0;
  // Validates `text` as the new config file; if valid, writes it over the file and reloads.
  // The file is put back if the reload refuses it (a port change, say).
  virtual ReloadResult apply(const std::string& text) = 0;
  // The operator's word on a backend; published to the workers at once. Returns whether the
  // state directory holds it too: false means it applies now but will not survive a restart.
  virtual bool set_admin_state(const hc::TargetKey& key, AdminState state) = 0;
  virtual bool set_admin_weight(const hc::TargetKey& key, uint32_t weight,
                                uint32_t file_weight) = 0;
  // `shoalctl zero`: the API's traffic totals of every backend of `service` (of every service
  // when empty) start again from 0. Returns how many backends.
  virtual std::size_t zero_traffic(const std::string& service) = 0;
  // Asks every worker for a sample of its flows and waits up to `wait` for them.
  virtual FlowSample sample_flows(const dp::FlowFilter& filter,
                                  std::chrono::milliseconds wait) = 0;
};

}  // namespace shoal::cp

// The running director: EAL, ports, worker lcores and the control loop on the main lcore.
// The control loop answers ARP and ICMP, resolves next hops, runs VRRP, reloads the config on
// SIGHUP and publishes every change (a VRRP transition included) as a new Snapshot.
#pragma once

#include <rte_mempool.h>
#include <rte_ring.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json_fwd.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/admin_state.h"
#include "api/backend_stats.h"
#include "healthcheck/checker.h"
#include "config/config.h"
#include "sync/connection_sync.h"
#include "api/control_api.h"
#include "daemon/control_queue.h"
#include "net/exception_path.h"
#include "api/http_server.h"
#include "api/metrics.h"
#include "api/web_access.h"
#include "net/neighbours.h"
#include "dataplane/worker/publisher.h"
#include "net/snapshot_builder.h"
#include "vrrp/runner.h"
#include "dataplane/worker/worker.h"

namespace shoal::cp {

// Set from signal handlers, read by the control loop.
struct Signals {
  std::atomic<bool> stop{false};
  std::atomic<bool> reload{false};
  std::atomic<bool> dump_counters{false};
};

// What a reload did: applied, or refused with the reasons (the running config then stays).
struct ReloadResult {
  bool applied = false;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

class Director {
 public:
  // `eal_override`: EAL arguments from the command line, used instead of the config's.
  Director(Config config, std::string config_path, std::vector<std::string> eal_override);
  ~Director();

  // Starts everything and runs the control loop until a stop signal. Returns the exit code.
  int run(Signals& signals);

 private:
  void start_eal();
  void start_ports();
  void start_workers();
  void control_loop(Signals& signals);
  void handle_control_frame(rte_mbuf* m);
  void send(uint16_t port_index, const uint8_t* frame, uint16_t len);
  void announce_addresses();
  friend class ControlApi;  // the API reads and changes the running state on the control loop
  friend class Metrics;     // and /metrics reads it

  void start_api();
  void publish(const char* why);
  ReloadResult reload();
  // Validates `text` as the new config file; if valid, writes it over the file and reloads.
  // The file is put back if the reload refuses it (a port change, say).
  ReloadResult apply(const std::string& text);
  void update_neighbours();
  void update_health_targets();
  void apply_health_transitions();
  void dump_counters() const;
  void sample_backend_stats();
  nlohmann::json counters_json() const;
  // The backend with stable id `id` as last published to the workers, or nullptr.
  const dp::BackendSpec* published_backend(uint16_t id) const;
  unsigned forward_from_kernel();
  int port_index(uint16_t dpdk_id) const;
  bool is_port_address(uint32_t ip) const;
  bool owns_address(uint32_t ip) const;
  // VRRP: start, run timers and tracked items, and after every event publish the ownership
  // (if it changed) before sending what the instances asked for.
  void start_vrrp();
  void run_vrrp(uint64_t now);
  void update_vrrp_tracks(uint64_t now);
  void flush_vrrp();
  void stop_vrrp();
  // Connection sync: sends what the workers reported, answers pulls, and lets VRRP preempt
  // once the pull is over.
  void run_sync();
  uint64_t flows_claimed() const;

  Config config_;
  std::string config_path_;
  std::string running_text_;  // the file as last loaded
  std::vector<std::string> eal_override_;
  bool eal_started_ = false;
  std::vector<PortHandle> ports_;
  rte_mempool* pool_ = nullptr;
  rte_ring* to_control_ = nullptr;
  std::vector<rte_ring*> control_tx_;  // per port, drained by worker 0
  std::vector<std::unique_ptr<ExceptionPath>> taps_;  // per port; null without one
  std::unique_ptr<dp::SnapshotPublisher> publisher_;
  std::unique_ptr<ConnectionSync> sync_;  // null unless configured; uses publisher_'s RCU
  std::vector<std::unique_ptr<dp::Worker>> workers_;
  std::atomic<bool> workers_stop_{false};
  Neighbours neighbours_;
  std::unique_ptr<hc::HealthChecker> health_checker_;
  HealthView health_;
  AdminStates admin_;
  BackendStats backend_stats_;
  dp::SnapshotSpec published_;  // the spec of the Snapshot the workers run
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  Metrics metrics_;
  ControlApi api_{*this};
  ControlQueue<HttpResponse> api_queue_;
  bool snapshot_dirty_ = false;
  std::map<uint32_t, uint32_t> resolving_;  // on-demand ARP: address → last request (ms)
  std::unique_ptr<WebAccess> web_access_;  // what api_tcp_ serves: login, then the same API
  std::unique_ptr<HttpServer> api_tcp_;     // stopped before web_access_ goes
  std::unique_ptr<VrrpRunner> vrrp_;        // made once the ports' MACs are known
  std::map<std::string, bool> vrrp_tracks_;  // last state fed to the instances, by track name
  std::unique_ptr<HttpServer> api_server_;  // declared last: destroyed first
};

}  // namespace shoal::cp

// The running director: the DPDK ports, worker lcores and the control loop on the main lcore.
// The control loop answers ARP and ICMP, resolves next hops, runs VRRP and connection sync,
// reloads the config on SIGHUP, serves the API and publishes every change (a VRRP transition
// included) as a new Snapshot. It keeps the service manager informed (ready, reloading,
// stopping, a status line, the watchdog) and saves the operator's admin states in the state
// directory, from which the next start takes them back.
//
// The API, /metrics and the dashboard see it only through DirectorView and DirectorCommands
// (api/director_view.h), which it implements privately and hands to the features' API
// registrations at start-up.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/admin_state.h"
#include "api/backend_stats.h"
#include "api/director_view.h"
#include "api/http_server.h"
#include "api/metrics.h"
#include "api/registry.h"
#include "api/web_access.h"
#include "bgp/announcer.h"
#include "config/config.h"
#include "daemon/control_queue.h"
#include "daemon/ports.h"
#include "daemon/service_manager.h"
#include "daemon/state_dir.h"
#include "dataplane/worker/publisher.h"
#include "dataplane/worker/worker.h"
#include "healthcheck/checker.h"
#include "net/icmp_rate_limiter.h"
#include "net/neighbour_discovery.h"
#include "net/neighbours.h"
#include "net/snapshot_builder.h"
#include "notify/notifier.h"
#include "notify/script_tracker.h"
#include "quorum/service_quorum.h"
#include "sync/connection_sync.h"
#include "vrrp/runner.h"

namespace shoal::cp {

// Set from signal handlers, read by the control loop.
struct Signals {
  std::atomic<bool> stop{false};
  std::atomic<bool> reload{false};
  std::atomic<bool> dump_counters{false};
};

class Director final : private DirectorView, private DirectorCommands {
 public:
  // `eal_override`: EAL arguments from the command line, used instead of the config's.
  // `state_dir`: where the admin states are kept across restarts.
  Director(Config config, std::string config_path, std::vector<std::string> eal_override,
           std::string state_dir);
  ~Director() override;

  // Starts everything and runs the control loop until a stop signal. Returns the exit code.
  int run(Signals& signals);

 private:
  // Start-up, in this order.
  void start_ports();
  void start_workers();
  void start_api();
  void control_loop(Signals& signals);

  // The control loop's work (director.cc).
  void announce_addresses();
  void publish(const char* why);
  std::optional<std::string> restart_needed(const Config& next) const;
  void switch_to(Config next, const std::string& text, ReloadResult& out);
  void update_neighbours();
  void update_health_targets();
  void apply_health_transitions();
  // Re-evaluates every service's quorum; logs, counts and reports each change.
  void update_quorums();
  void dump_counters() const;
  // Once a second, or now when `now_or_never`: `shoalctl zero` needs totals of this instant.
  void sample_backend_stats(bool now_or_never = false);
  // One line for the service manager: services, backends up, admin states, VRRP states.
  std::string status_line() const;
  // VRRP: start, run timers and tracked items, and after every event publish the ownership
  // (if it changed) before sending what the instances asked for.
  void start_vrrp();
  void run_vrrp(uint64_t now);
  void update_vrrp_tracks(uint64_t now);
  void flush_vrrp();
  void stop_vrrp();
  // Notify commands and tracked scripts: the runs polled, the VRRP transitions and backend
  // health changes handed to the operator's commands.
  void configure_notify();
  void run_notify();
  void notify_vrrp_events();
  void notify_backend(const hc::TargetKey& key, bool up);
  // At a stop: the notify_stop commands get a moment to finish while their output is logged.
  void finish_notify();
  // Connection sync: sends what the workers reported, answers pulls, and lets VRRP preempt
  // once the pull is over.
  void run_sync();
  // BGP: offers the VIPs that take traffic now (or none while stopping) to bird.
  void run_bgp(bool stopping = false);
  // A clean stop: every VIP withdrawn from bird, the withdrawal sent out through the TAP.
  void stop_bgp();
  // Frames from the workers and from the kernel, once; how many there were.
  unsigned pass_control_frames();

  // Frames the workers handed over (control_frames.cc).
  void handle_control_frame(rte_mbuf* m);
  bool is_port_address(uint32_t ip) const;
  bool owns_address(uint32_t ip) const;
  // IPv6's (control_frames6.cc).
  void handle_control_frame6(rte_mbuf* m, const dp::ParsedPacket& p, std::size_t port);
  bool is_port_address6(const dp::Ipv6Address& ip) const;
  bool owns_address6(const dp::Ipv6Address& ip) const;
  dp::Ipv6Address source_address6(std::size_t port) const;
  void probe_neighbours6(uint32_t now, bool& lost);
  void announce_addresses6();

  // DirectorView and DirectorCommands (director_api.cc).
  const Config& config() const override { return config_; }
  const std::string& config_path() const override { return config_path_; }
  const std::string& config_text() const override { return running_text_; }
  std::chrono::steady_clock::duration uptime() const override {
    return std::chrono::steady_clock::now() - started_;
  }
  const dp::BackendSpec* published_backend(uint16_t id) const override;
  const dp::Snapshot* snapshot() const override { return publisher_->current(); }
  std::optional<hc::TargetStatus> health(const hc::TargetKey& key) const override {
    return health_checker_->last_result(key);
  }
  hc::CheckerStats health_stats() const override { return health_checker_->stats(); }
  BackendAdmin admin(const hc::TargetKey& key) const override { return admin_.get(key); }
  ServiceQuorums::State quorum(const std::string& service) const override {
    const ServiceQuorums::State* s = quorums_.state(service);
    return s ? *s : ServiceQuorums::State{};
  }
  BackendTraffic traffic(uint16_t id) const override { return backend_stats_.get(id); }
  BackendTraffic traffic_since_zero(uint16_t id) const override {
    return backend_stats_.since_zero(id);
  }
  BackendConnections connections(uint16_t id) const override;
  std::optional<uint16_t> persisted(const dp::Service& service, uint32_t client) const override;
  CounterReport counters() const override;
  ReloadResult reload() override;
  ReloadResult apply(const std::string& text) override;
  bool set_admin_state(const hc::TargetKey& key, AdminState state) override;
  bool set_admin_weight(const hc::TargetKey& key, uint32_t weight, uint32_t file_weight) override;
  std::size_t zero_traffic(const std::string& service) override;
  FlowSample sample_flows(const dp::FlowFilter& filter, std::chrono::milliseconds wait) override;

  // What runs: the config as loaded, the file's text, and the spec the workers were given.
  Config config_;
  std::string config_path_;
  std::string running_text_;
  std::vector<std::string> eal_override_;
  dp::SnapshotSpec published_;
  bool snapshot_dirty_ = false;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

  // The dataplane. Declared first of the resources: the EAL they live in goes last.
  Ports ports_;
  std::unique_ptr<dp::SnapshotPublisher> publisher_;
  std::unique_ptr<ConnectionSync> sync_;  // null unless configured; uses publisher_'s RCU
  std::vector<std::unique_ptr<dp::Worker>> workers_;
  std::atomic<bool> workers_stop_{false};

  // What the control loop keeps.
  Neighbours neighbours_;
  std::map<uint32_t, uint32_t> resolving_;  // on-demand ARP: address → last request (ms)
  Neighbours6 neighbours6_;
  std::map<dp::Ipv6Address, uint32_t> resolving6_;  // on-demand solicitations, likewise
  IcmpRateLimiter icmp6_errors_;  // the ICMPv6 errors this director originates
  // Neighbour Discovery messages the control loop dropped (malformed, or router messages it
  // ignores: configured routes win), by reason.
  std::array<uint64_t, kNdDropCount> nd_drops_{};
  std::unique_ptr<hc::HealthChecker> health_checker_;
  HealthView health_;
  AdminStates admin_;
  ServiceQuorums quorums_;  // from health_ and admin_, updated before each publish
  StateDir state_dir_;  // where admin_ is saved on every change
  ServiceManager service_manager_;
  BackendStats backend_stats_;
  std::unique_ptr<VrrpRunner> vrrp_;         // made once the ports' MACs are known
  std::map<std::string, bool> vrrp_tracks_;  // last state fed to the instances, by track name
  notify::Notifier notifier_;
  notify::ScriptTracker scripts_{notifier_.runner()};  // vrrp: scripts:, run through notifier_
  std::unique_ptr<BgpAnnouncer> bgp_;        // null unless `bgp:` is configured
  uint32_t bgp_since_ms_ = 0;                // when the control loop began offering
  bool bgp_ready_ = false;                   // the real servers resolved (or waited long enough)

  // The API: what the features registered, and the servers that reach it.
  Metrics metrics_;
  ApiRegistry api_;
  ControlQueue<HttpResponse> api_queue_;
  std::unique_ptr<WebAccess> web_access_;   // what api_tcp_ serves: login, then the same API
  std::unique_ptr<HttpServer> api_tcp_;     // stopped before web_access_ goes
  std::unique_ptr<HttpServer> metrics_tcp_;  // GET /metrics only, without a token
  std::unique_ptr<HttpServer> api_server_;  // declared last: destroyed first
};

}  // namespace shoal::cp

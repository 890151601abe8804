#include "daemon/director.h"

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

#include "bgp/offer.h"
#include "daemon/files.h"
#include "net/control_frames.h"
#include "net/kernel_interface.h"

namespace shoal::cp {
namespace {

constexpr uint32_t kNeighbourTickMs = 100;
constexpr uint32_t kAnnounceRepeatMs = 1000;  // second round of gratuitous ARP after start
constexpr uint32_t kVrrpGoodbyeFlushMs = 50;  // for worker 0 to send the priority-0 adverts
constexpr uint32_t kBgpStopWaitMs = 3000;    // for bird to take every VIP back, at most
constexpr uint32_t kBgpStopLingerMs = 300;   // then for its UPDATE to leave through the TAP
constexpr uint32_t kBgpResolveWaitMs = 3000;  // after a start, for the real servers' ARP
constexpr uint32_t kNotifyStopWaitMs = 2000;  // for notify_stop commands to end at a stop

const char* keepalived_state(VrrpState s) {
  switch (s) {
    case VrrpState::master: return "MASTER";
    case VrrpState::backup: return "BACKUP";
    case VrrpState::fault: return "FAULT";
    case VrrpState::init: return "STOP";
  }
  return "?";
}

[[noreturn]] void fatal(const std::string& what) { throw std::runtime_error(what); }

}  // namespace

Director::Director(Config config, std::string config_path, std::vector<std::string> eal_override,
                   std::string state_dir)
    : config_(std::move(config)), config_path_(std::move(config_path)),
      running_text_(read_file(config_path_).value_or("")),
      eal_override_(std::move(eal_override)), state_dir_(std::move(state_dir)) {}

Director::~Director() {
  api_server_.reset();  // first: requests would wait for a control loop that no longer runs
  api_tcp_.reset();
  metrics_tcp_.reset();
  ports_.stop();
  workers_.clear();
  sync_.reset();  // its table is reclaimed through publisher_'s RCU state
  publisher_.reset();
}  // ports_ goes last, with the rings, the pool and the EAL

void Director::start_ports() {
  ports_.start(config_);
  std::vector<rte_ether_addr> macs;
  for (const PortHandle& h : ports_.handles()) macs.push_back(h.mac);
  vrrp_ = std::make_unique<VrrpRunner>(config_, std::move(macs));
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    // The master takes frames sent to its virtual MAC: the NIC must pass them up. Devices
    // without extra unicast filters (af_packet) pass everything in promiscuous mode; the
    // workers still drop frames to a virtual MAC this director is not master for.
    const uint16_t id = ports_.handle(i).id;
    for (rte_ether_addr vmac : vrrp_->virtual_macs(i)) {
      char text[RTE_ETHER_ADDR_FMT_SIZE];
      rte_ether_format_addr(text, sizeof text, &vmac);
      int rc = rte_eth_dev_mac_addr_add(id, &vmac, 0);
      if (rc == 0) {
        spdlog::info("port {}: receives VRRP virtual MAC {}", config_.ports[i].name, text);
      } else if ((rc = rte_eth_promiscuous_enable(id)) == 0) {
        spdlog::info("port {}: promiscuous, for VRRP virtual MAC {} (no MAC filter to add it to)",
                     config_.ports[i].name, text);
        break;
      } else {
        fatal("port " + config_.ports[i].name + ": can neither add VRRP virtual MAC " + text +
              " nor go promiscuous: " + rte_strerror(-rc));
      }
    }
  }
}

void Director::start_workers() {
  publisher_ = std::make_unique<dp::SnapshotPublisher>(config_.workers.count);
  const ConnectionSyncSettings& cs = config_.connection_sync;
  if (cs.enabled) {
    const PortConfig& pc = config_.ports[cs.port];
    try {
      sync_ = std::make_unique<ConnectionSync>(
          cs, config_.workers.flow_timeouts, config_.workers.count, publisher_->qsbr(),
          static_cast<int>(rte_socket_id()), ports_.handle(cs.port).mac, pc.addresses.front().address,
          pc.mtu, config_.workers.persistence_table_size);
    } catch (const std::exception& e) {
      fatal(std::string("connection sync: ") + e.what());
    }
    spdlog::info("connection sync on port {}: group {}:{}, id {}, table of {} flows, refresh "
                 "every {} s", pc.name, dp::ipv4_to_string(cs.group), cs.udp_port, cs.id,
                 cs.table_size, cs.refresh_ms / 1000.0);
  }
  update_neighbours();
  health_checker_ = std::make_unique<hc::HealthChecker>();
  update_health_targets();
  publish("start");

  dp::WorkerPorts wp;
  for (const PortHandle& h : ports_.handles()) wp.port_ids.push_back(h.id);
  wp.control_tx = ports_.control_tx();
  std::vector<unsigned> lcores;
  for (unsigned lcore = rte_get_next_lcore(-1, 1, 0); lcores.size() < config_.workers.count;
       lcore = rte_get_next_lcore(lcore, 1, 0))
    lcores.push_back(lcore);
  for (uint32_t w = 0; w < config_.workers.count; ++w) {
    workers_.push_back(std::make_unique<dp::Worker>(
        w, static_cast<uint16_t>(w), wp, *publisher_, ports_.to_control(), workers_stop_,
        config_.workers.flow_table_size, config_.workers.flow_timeouts,
        static_cast<int>(rte_lcore_to_socket_id(lcores[w])), config_.workers.persistence_table_size));
    if (sync_) workers_.back()->attach_sync(sync_->context(w), sync_->walker(w));
  }
  // Every worker sees the others' connection counts (lc, wlc, sed, nq): all exist before any runs.
  std::vector<const dp::Worker*> all;
  for (const auto& w : workers_) all.push_back(w.get());
  for (const auto& w : workers_) w->set_peers(all);
  if (sync_) {
    std::vector<const dp::PersistenceTable*> tables;
    for (const auto& w : workers_) tables.push_back(&w->scheduler().persistence());
    sync_->watch_persistence(std::move(tables));
  }
  for (uint32_t w = 0; w < config_.workers.count; ++w) {
    dp::Worker* worker = workers_[w].get();
    if (rte_eal_remote_launch(dp::Worker::launch, worker, lcores[w]) != 0)
      fatal("cannot launch worker " + std::to_string(w));
    spdlog::info("worker {} on lcore {}: flow table of {} flows ({:.1f} MiB)", w, lcores[w],
                 worker->flows().capacity(), worker->flows().memory_bytes() / 1048576.0);
  }
}

int Director::run(Signals& signals) {
  admin_ = state_dir_.load_admin(config_);  // before the first Snapshot
  // Before the TAP exists: bird must not announce a file a killed shoald left behind.
  if (config_.bgp.enabled) bgp_ = std::make_unique<BgpAnnouncer>(config_.bgp);
  ports_.start_eal(config_, eal_override_);
  start_ports();
  start_workers();
  start_api();
  metrics_.config_loaded();
  announce_addresses();
  configure_notify();
  start_vrrp();
  spdlog::info("shoald running: {} service(s), {} backend(s), {} worker(s)",
               config_.services.size(), config_.backend_count(), config_.workers.count);
  if (const auto watchdog = service_manager_.watchdog_interval(); watchdog.count() > 0)
    spdlog::info("service manager's watchdog: {} ms; pinged every {} ms",
                 watchdog.count() / 1000, watchdog.count() / 2000);
  service_manager_.ready(status_line());
  control_loop(signals);
  service_manager_.stopping();
  spdlog::info("stopping");
  stop_bgp();
  api_server_.reset();  // no request may wait for a control loop that has ended
  api_tcp_.reset();
  metrics_tcp_.reset();
  stop_vrrp();
  finish_notify();
  workers_stop_ = true;
  rte_eal_mp_wait_lcore();
  dump_counters();
  return 0;
}

unsigned Director::pass_control_frames() {
  rte_mbuf* pkts[32];
  unsigned n = rte_ring_dequeue_burst(ports_.to_control(), reinterpret_cast<void**>(pkts), 32, nullptr);
  for (unsigned i = 0; i < n; ++i) handle_control_frame(pkts[i]);
  return n + ports_.forward_from_kernel();
}

void Director::control_loop(Signals& signals) {
  uint32_t last_tick = dp::now_ms();
  uint32_t started = last_tick;
  bool announced_twice = false;
  while (!signals.stop.load()) {
    const unsigned n = pass_control_frames();

    uint32_t now = dp::now_ms();
    if (now - last_tick >= kNeighbourTickMs) {
      last_tick = now;
      bool lost = false;
      for (const Neighbours::Probe& probe : neighbours_.tick(now, lost)) {
        const int index = ports_.index_of(probe.port);
        if (index < 0) continue;
        const auto port = static_cast<std::size_t>(index);
        uint8_t frame[kArpFrameLen];
        write_arp_request(frame, ports_.handle(port).mac,
                          config_.ports[port].addresses.front().address, probe.ip);
        ports_.send(port, frame, kArpFrameLen);
      }
      probe_neighbours6(now, lost);
      if (lost) snapshot_dirty_ = true;
      update_vrrp_tracks(vrrp_now_ms());
      if (bgp_) run_bgp();
      if (!announced_twice && now - started >= kAnnounceRepeatMs) {
        announce_addresses();
        announced_twice = true;
      }
    }
    apply_health_transitions();
    run_notify();
    run_vrrp(vrrp_now_ms());
    publisher_->reclaim();  // snapshots the workers have moved past
    if (sync_) run_sync();
    if (snapshot_dirty_) publish("neighbours or health changed");
    if (signals.reload.exchange(false)) reload();
    if (signals.dump_counters.exchange(false)) dump_counters();
    api_queue_.drain();
    sample_backend_stats();
    service_manager_.tick([this] { return status_line(); });
    if (n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void Director::announce_addresses() {
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    std::vector<uint32_t> addresses;
    for (const Ipv4Prefix& a : config_.ports[i].addresses) addresses.push_back(a.address);
    // VRRP addresses are announced by their instance, from its MAC, when it becomes master
    // (and again after a reload that changed them).
    for (const ServiceConfig& s : config_.services)
      if (s.vip.is_v4() &&
          (config_.on_link_port(s.vip) == static_cast<int>(i) || config_.on_link_port(s.vip) < 0) &&
          !(vrrp_ && vrrp_->carries(s.vip)))
        addresses.push_back(s.vip.v4());
    std::sort(addresses.begin(), addresses.end());
    addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
    for (uint32_t ip : addresses) {
      uint8_t frame[kArpFrameLen];
      write_arp_request(frame, ports_.handle(i).mac, ip, ip);  // gratuitous: sender = target
      ports_.send(i, frame, kArpFrameLen);
    }
  }
  announce_addresses6();
}

void Director::publish(const char* why) {
  snapshot_dirty_ = false;
  // Room for the new Snapshot: waits only if the last one published is still being read.
  publisher_->reclaim(/*wait=*/true);
  update_quorums();
  std::string error;
  dp::SnapshotSpec spec =
      build_snapshot_spec(config_, ports_.handles(), neighbours_, health_, admin_,
                          [this](const std::string& s) { return quorums_.up(s); },
                          vrrp_ ? vrrp_->ownership() : VrrpOwnership{}, &neighbours6_);
  auto snapshot = dp::Snapshot::build(spec, &error);
  if (!snapshot) {
    spdlog::error("cannot build a snapshot ({}): {}", why, error);
    return;
  }
  published_ = std::move(spec);
  if (sync_) sync_->update(published_);
  auto took = publisher_->publish(std::move(snapshot));
  metrics_.published(took);
  spdlog::debug("published a snapshot ({}) in {} us", why, took.count());
}

ReloadResult Director::reload() {
  service_manager_.reloading();
  spdlog::info("reloading {}", config_path_);
  const std::optional<std::string> text = read_file(config_path_);
  LoadResult result = text ? load_config_string(*text, config_path_) : load_config_file(config_path_);
  ReloadResult out{false, std::move(result.errors), std::move(result.warnings)};
  for (const std::string& w : out.warnings) spdlog::warn("{}", w);
  if (!result.config) {
    for (const std::string& e : out.errors) spdlog::error("{}", e);
    spdlog::error("reload refused: {} error(s); still serving the running config",
                  out.errors.size());
  } else if (const std::optional<std::string> why = restart_needed(*result.config)) {
    out.errors.push_back(fmt::format("{}: reload refused: {}; still serving the running config",
                                     config_path_, *why));
    spdlog::error("{}", out.errors.back());
  } else {
    switch_to(std::move(*result.config), *text, out);
    out.applied = true;
  }
  metrics_.reloaded(out.applied);
  service_manager_.ready(status_line());
  return out;
}

// What a running director cannot take without a restart.
std::optional<std::string> Director::restart_needed(const Config& next) const {
  // Ports and workers are set up once.
  bool ports_same = next.ports.size() == config_.ports.size();
  for (std::size_t i = 0; ports_same && i < next.ports.size(); ++i)
    ports_same = next.ports[i].device == config_.ports[i].device &&
                 next.ports[i].mtu == config_.ports[i].mtu &&
                 next.ports[i].tap == config_.ports[i].tap;
  if (!ports_same || next.workers.count != config_.workers.count ||
      next.workers.flow_table_size != config_.workers.flow_table_size ||
      next.workers.persistence_table_size != config_.workers.persistence_table_size)
    return "ports and workers can only change with a restart";
  if (!(next.connection_sync == config_.connection_sync))
    return "connection_sync changes only with a restart";
  if (!(next.bgp == config_.bgp)) return "bgp changes only with a restart";
  return vrrp_->restart_needed(next);
}

void Director::switch_to(Config next, const std::string& text, ReloadResult& out) {
  if (next.api.socket != config_.api.socket)
    out.warnings.push_back(fmt::format("{}: the API socket changes only with a restart; still "
                                       "on {}", config_path_, config_.api.socket));
  if (next.api.listen != config_.api.listen || next.api.token_file != config_.api.token_file ||
      next.api.metrics_listen != config_.api.metrics_listen)
    out.warnings.push_back(fmt::format("{}: the API's TCP listeners and token change only with "
                                       "a restart; still as started", config_path_));
  assign_backend_ids(next, &config_);
  config_ = std::move(next);
  running_text_ = text;
  admin_.retain(config_);
  state_dir_.save_admin(admin_);
  // New addresses and routes reach the kernel; ones the file no longer has stay until a restart.
  for (std::size_t i = 0; i < ports_.size(); ++i)
    if (const ExceptionPath* tap = ports_.tap(i)) {
      try {
        configure_kernel_interface(tap->ifname(), config_, i);
      } catch (const std::exception& e) {
        out.warnings.push_back(e.what());
        spdlog::warn("{}", e.what());
      }
    }
  update_health_targets();
  update_neighbours();
  configure_notify();
  vrrp_->reconfigure(config_, vrrp_now_ms());
  vrrp_->take_changed();  // published just below
  // A newly tracked item starts up in its instance: feed every state again, unchanged ones
  // are ignored there.
  vrrp_tracks_.clear();
  update_quorums();
  update_vrrp_tracks(vrrp_now_ms());
  publish("reload");
  flush_vrrp();
  announce_addresses();
  spdlog::info("reloaded: {} service(s), {} backend(s)", config_.services.size(),
               config_.backend_count());
}

ReloadResult Director::apply(const std::string& text) {
  LoadResult candidate = load_config_string(text, config_path_);
  ReloadResult refused{false, std::move(candidate.errors), std::move(candidate.warnings)};
  std::string error;
  const std::string before = read_file(config_path_).value_or(running_text_);
  if (candidate.config && !write_file(config_path_, text, error)) refused.errors = {error};
  if (!refused.errors.empty()) {
    metrics_.reloaded(false);
    return refused;
  }
  spdlog::info("{}: new contents written through the API", config_path_);
  ReloadResult r = reload();
  if (!r.applied && !write_file(config_path_, before, error)) r.errors.push_back(error);
  return r;
}

// The next hops the running config needs resolved, and its static entries (the config
// validated that each is on-link).
void Director::update_neighbours() {
  neighbours_.set_wanted(wanted_neighbours(config_, ports_.handles()), dp::now_ms());
  neighbours6_.set_wanted(wanted_neighbours6(config_, ports_.handles()), dp::now_ms());
  // The whole set each time, so that a reload drops the entries the file no longer lists.
  const auto statics = [this](auto& table, const auto& list) {
    std::vector<typename std::remove_reference_t<decltype(table)>::Static> out;
    for (const auto& n : list) {
      rte_ether_addr mac;
      std::copy(n.mac.begin(), n.mac.end(), mac.addr_bytes);
      const int port = std::max(config_.on_link_port(n.address), 0);
      out.push_back({n.address, ports_.handle(static_cast<std::size_t>(port)).id, mac});
    }
    table.set_static(out, dp::now_ms());
  };
  statics(neighbours_, config_.neighbours);
  statics(neighbours6_, config_.neighbours6);
}

// Hands the checker the backends of the running config. Backends that stay keep their state;
// new ones start in their check's initial state.
void Director::update_health_targets() {
  health_checker_->set_targets(health_targets(config_));
  HealthView view;
  for (const ServiceConfig& svc : config_.services) {
    for (const BackendConfig& b : svc.backends) {
      hc::TargetKey key{svc.name, b.name};
      if (auto status = health_checker_->last_result(key)) view[key] = {status->up, status->weight};
    }
  }
  health_ = std::move(view);
}

void Director::apply_health_transitions() {
  for (const hc::Transition& t : health_checker_->take_transitions()) {
    auto it = health_.find(t.key);
    if (it == health_.end()) continue;  // a backend a reload has just removed
    if (t.up)
      spdlog::info("{}", hc::to_string(t));
    else
      spdlog::warn("{}", hc::to_string(t));
    if (t.state_changed) {
      metrics_.health_transition(t.key.service, t.key.backend, t.up);
      notify_backend(t.key, t.up);
    }
    it->second.up = t.up;
    if (t.weight) it->second.weight = t.weight;
    snapshot_dirty_ = true;
  }
}

void Director::update_quorums() {
  for (const ServiceQuorums::Change& c : quorums_.update(config_, health_, admin_)) {
    if (c.up)
      spdlog::info("{}", describe(c));
    else
      spdlog::warn("{}", describe(c));
    metrics_.quorum_transition(c.service, c.up);
    for (const ServiceConfig& s : config_.services)
      if (s.name == c.service)
        notifier_.fire(c.up ? s.quorum_up : s.quorum_down, {},
                       {"SHOAL_EVENT=quorum", "SHOAL_SERVICE=" + s.name,
                        fmt::format("SHOAL_QUORUM_STATE={}", c.up ? "UP" : "DOWN"),
                        fmt::format("SHOAL_HEALTHY_WEIGHT={}", c.weight),
                        fmt::format("SHOAL_QUORUM={}", c.quorum),
                        fmt::format("SHOAL_QUORUM_HYSTERESIS={}", c.hysteresis)},
                       fmt::format("quorum of {} {}", s.name, c.up ? "regained" : "lost"));
  }
}

void Director::sample_backend_stats(bool now_or_never) {
  const auto now = std::chrono::steady_clock::now();
  if (!now_or_never && !backend_stats_.due(now)) return;
  std::vector<uint16_t> ids;
  for (const ServiceConfig& s : config_.services)
    for (const BackendConfig& b : s.backends) ids.push_back(b.id);
  std::vector<const dp::WorkerCounters*> counters;
  for (const auto& w : workers_) counters.push_back(&w->counters());
  backend_stats_.sample(ids, counters, now);
}

std::string Director::status_line() const {
  std::size_t backends = 0, up = 0, disabled = 0, draining = 0;
  for (const ServiceConfig& s : config_.services)
    for (const BackendConfig& b : s.backends) {
      ++backends;
      const auto h = health_.find(hc::TargetKey{s.name, b.name});
      if (h == health_.end() || h->second.up) ++up;
    }
  for (const auto& [key, a] : admin_.entries()) {
    if (a.state == AdminState::disabled) ++disabled;
    if (a.state == AdminState::draining) ++draining;
  }
  std::string line = fmt::format("{} service(s), {}/{} backend(s) up", config_.services.size(),
                                 up, backends);
  if (disabled > 0) line += fmt::format(", {} disabled", disabled);
  if (draining > 0) line += fmt::format(", {} draining", draining);
  if (vrrp_)
    for (const VrrpRunner::Member& m : vrrp_->members())
      line += fmt::format(", vrrp {} {}", m.settings.name, name(m.instance->state()));
  return line;
}

void Director::dump_counters() const {
  std::vector<std::string> feature_lines;
  if (vrrp_ && !vrrp_->members().empty()) feature_lines = vrrp_->counter_lines();
  const CounterReport report = counters();
  if (sync_)
    feature_lines.push_back("counters sync: " + sync_->counter_line(report.total.flows_claimed));
  std::string nd;
  for (std::size_t r = 0; r < kNdDropCount; ++r)
    if (nd_drops_[r]) nd += fmt::format(" drop.{}={}", name(static_cast<NdDrop>(r)), nd_drops_[r]);
  if (!nd.empty()) feature_lines.push_back("counters neighbour_discovery:" + nd);
  for (const std::string& line : log_lines(report, feature_lines)) spdlog::info("{}", line);
}

void Director::start_vrrp() {
  if (sync_) {
    // No preempting a master before its flows are here: they would break on the takeover.
    vrrp_->hold_preemption(true);
    sync_->start(dp::now_ms());
    run_sync();
  }
  if (vrrp_->members().empty()) return;
  const uint64_t now = vrrp_now_ms();
  update_vrrp_tracks(now);  // an instance whose tracked item is down starts in fault
  vrrp_->start(now);
  flush_vrrp();
}

void Director::run_vrrp(uint64_t now) {
  if (vrrp_->next_deadline_ms() > now) return;
  vrrp_->tick(now);
  flush_vrrp();
}

// Tracked services are down while below quorum (quorum/service_quorum.h); tracked ports
// when their link is.
void Director::update_vrrp_tracks(uint64_t now) {
  std::map<std::string, bool> states;
  for (const VrrpInstanceSettings& v : config_.vrrp.instances) {
    for (const VrrpTrackConfig& t : v.tracks) {
      const std::string key = track_name(t.kind, t.name);
      if (states.count(key)) continue;
      bool up = false;
      if (t.kind == VrrpTrackKind::port) {
        for (std::size_t i = 0; i < config_.ports.size(); ++i) {
          if (config_.ports[i].name != t.name) continue;
          rte_eth_link link{};
          up = rte_eth_link_get_nowait(ports_.handle(i).id, &link) == 0 &&
               link.link_status == RTE_ETH_LINK_UP;
        }
      } else if (t.kind == VrrpTrackKind::script) {
        const notify::ScriptTracker::Script* script = scripts_.find(t.name);
        up = script == nullptr || script->state.ok();
      } else {
        for (const ServiceConfig& s : config_.services)
          if (s.name == t.name) up = quorums_.up(s.name);
      }
      states.emplace(key, up);
    }
  }
  for (const auto& [key, up] : states) {
    auto [it, fresh] = vrrp_tracks_.try_emplace(key, up);
    if (!fresh && it->second == up) continue;
    it->second = up;
    if (!fresh || !up) spdlog::info("vrrp: tracked {} is {}", key, up ? "up" : "down");
    vrrp_->track(key, up, now);
  }
  flush_vrrp();
}

void Director::flush_vrrp() {
  // Take (or give up) the addresses first, then tell the segment: a gratuitous ARP must not
  // draw traffic that the workers would still drop as vip_not_owned.
  if (vrrp_->take_changed()) publish("vrrp transition");
  for (const VrrpRunner::Frame& f : vrrp_->take_frames())
    ports_.send(f.port, f.bytes.data(), static_cast<uint16_t>(f.bytes.size()));
  notify_vrrp_events();
}

void Director::configure_notify() {
  notifier_.configure(config_.notify.timeout_ms, config_.notify.max_running);
  scripts_.configure(config_.vrrp.scripts, notify::now_ms());
}

void Director::run_notify() {
  notifier_.poll();
  scripts_.poll(notify::now_ms());
}

// keepalived's order: the state's own command, then the generic one with
// "INSTANCE|GROUP name STATE priority".
void Director::notify_vrrp_events() {
  for (const VrrpRunner::StateEvent& e : vrrp_->take_state_events()) {
    const VrrpNotifyConfig* n = nullptr;
    if (e.group) {
      for (const VrrpSyncGroupSettings& g : config_.vrrp.sync_groups)
        if (g.name == e.name) n = &g.notify;
    } else {
      for (const VrrpInstanceSettings& v : config_.vrrp.instances)
        if (v.name == e.name) n = &v.notify;
    }
    if (n == nullptr) continue;
    const char* state = keepalived_state(e.to);
    const notify::Command& own = e.to == VrrpState::master   ? n->master
                                 : e.to == VrrpState::backup ? n->backup
                                 : e.to == VrrpState::fault  ? n->fault
                                                             : n->stop;
    const char* kind = e.group ? "GROUP" : "INSTANCE";
    const std::vector<std::string> env = {
        "SHOAL_EVENT=vrrp", fmt::format("SHOAL_VRRP_{}={}", kind, e.name),
        fmt::format("SHOAL_VRRP_STATE={}", state), fmt::format("SHOAL_VRRP_PRIORITY={}", e.priority)};
    const std::string what = fmt::format("vrrp {} {} {}", e.group ? "group" : "instance", e.name, state);
    notifier_.fire(own, {}, env, what);
    notifier_.fire(n->any, {kind, e.name, state, std::to_string(e.priority)}, env, what);
  }
}

void Director::notify_backend(const hc::TargetKey& key, bool up) {
  for (const ServiceConfig& s : config_.services) {
    if (s.name != key.service) continue;
    for (const BackendConfig& b : s.backends) {
      if (b.name != key.backend) continue;
      const char* state = up ? "UP" : "DOWN";
      notifier_.fire(up ? b.notify_up : b.notify_down, {},
                     {"SHOAL_EVENT=backend", "SHOAL_SERVICE=" + s.name, "SHOAL_BACKEND=" + b.name,
                      "SHOAL_BACKEND_ADDRESS=" + to_string(b.address),
                      fmt::format("SHOAL_BACKEND_PORT={}", b.port),
                      fmt::format("SHOAL_BACKEND_STATE={}", state)},
                     fmt::format("backend {}/{} {}", s.name, b.name, state));
    }
  }
}

void Director::finish_notify() {
  const uint64_t start = notify::now_ms();
  while (notifier_.runner().running() > 0 && notify::now_ms() - start < kNotifyStopWaitMs) {
    notifier_.poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void Director::run_sync() {
  sync_->poll(dp::now_ms());
  for (const std::vector<uint8_t>& f : sync_->take_frames())
    ports_.send(config_.connection_sync.port, f.data(), static_cast<uint16_t>(f.size()));
  if (sync_->pull_settled()) vrrp_->hold_preemption(false);
}

void Director::run_bgp(bool stopping) {
  // A director that announces before it has resolved its real servers would drop the first
  // flows the router sends it: after a start, wait for every next hop (or kBgpResolveWaitMs).
  const uint32_t now = dp::now_ms();
  if (bgp_since_ms_ == 0) bgp_since_ms_ = now;
  if (!bgp_ready_) {
    bgp_ready_ = now - bgp_since_ms_ >= kBgpResolveWaitMs;
    if (!bgp_ready_) {
      bgp_ready_ = true;
      for (const auto& [ip, e] : neighbours_.entries())
        if (e.wanted && !e.resolved()) bgp_ready_ = false;
      for (const auto& [ip, e] : neighbours6_.entries())
        if (e.wanted && !e.resolved()) bgp_ready_ = false;
    }
  }
  const char* held = stopping     ? "shoald is stopping"
                     : bgp_ready_ ? ""
                                  : "resolving the real servers' next hops";
  bgp_->offer(offer_vips(config_, [this](const std::string& s) { return quorums_.up(s); },
                         bgp_->withdrawals(), held));
}

void Director::stop_bgp() {
  if (!bgp_) return;
  run_bgp(true);
  // The control loop has ended, but bird's withdrawal goes out through the TAP, which only
  // this loop serves: serve it until bird has the empty file, and a little longer for the
  // UPDATE to leave. A bird that does not answer costs at most kBgpStopWaitMs.
  const uint32_t start = dp::now_ms();
  uint32_t settled_at = 0;
  while (dp::now_ms() - start < kBgpStopWaitMs) {
    if (pass_control_frames() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (settled_at == 0 && bgp_->settled()) settled_at = dp::now_ms();
    if (settled_at != 0 && dp::now_ms() - settled_at >= kBgpStopLingerMs) break;
  }
  spdlog::info("bgp: {}", bgp_->settled() ? "every VIP withdrawn" :
                                            "bird did not confirm the withdrawal in time");
  bgp_.reset();
}

// A clean stop: masters announce priority 0 while worker 0 still drains the control rings.
void Director::stop_vrrp() {
  if (vrrp_->members().empty()) return;
  vrrp_->shutdown(vrrp_now_ms());
  flush_vrrp();
  std::this_thread::sleep_for(std::chrono::milliseconds(kVrrpGoodbyeFlushMs));
}

}  // namespace shoal::cp

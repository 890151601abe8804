// The Director as the API sees it: DirectorView and DirectorCommands (api/director_view.h),
// and the start-up that registers every feature's routes, status and metric families.
#include <spdlog/spdlog.h>

#include <thread>

#include "api/control_api.h"
#include "bgp/api.h"
#include "daemon/director.h"
#include "notify/api.h"
#include "sync/api.h"
#include "vrrp/api.h"

namespace shoal::cp {
namespace {

// How long an API request waits for the control loop; it runs within a millisecond or two
// unless a reload builds a large Snapshot.
constexpr auto kApiWait = std::chrono::seconds(10);

}  // namespace

void Director::start_api() {
  register_status_api(api_, *this, metrics_);
  register_services_api(api_, *this, *this);
  register_config_api(api_, *this, *this);
  register_traffic_api(api_, *this, *this);
  register_vrrp_api(api_, *vrrp_);
  api_.metric_families([this](MetricFamilies& f) {
    for (std::size_t r = 0; r < kNdDropCount; ++r)
      f.counter("shoal_neighbour_discovery_drops_total",
                "Neighbour Discovery messages the control loop dropped, by reason",
                {{"reason", std::string(name(static_cast<NdDrop>(r)))}},
                static_cast<double>(nd_drops_[r]));
  });
  register_notify_api(api_, notifier_, scripts_);
  if (sync_) register_sync_api(api_, *sync_, *this);
  if (bgp_) register_bgp_api(api_, *bgp_, *this, [this] { run_bgp(); });

  // By value: a request the loop has not run within kApiWait may still run after this returns.
  auto on_control_loop = [this](const HttpRequest& r) {
    std::optional<HttpResponse> response =
        api_queue_.run([this, r] { return api_.routes().handle(r); }, kApiWait);
    if (response) return *response;
    return HttpResponse{503, R"({"error":"the control loop did not answer in time"})" "\n"};
  };
  api_server_ = std::make_unique<HttpServer>(config_.api.socket, on_control_loop);
  spdlog::info("API on {}", config_.api.socket);
  if (!config_.api.metrics_listen.empty()) {
    // Prometheus scrapes without the operator's token: this listener serves /metrics and
    // nothing else, so nothing reachable through it can change the director.
    metrics_tcp_ = HttpServer::tcp(config_.api.metrics_listen, [on_control_loop](const HttpRequest& r) {
      if (r.path != "/metrics")
        return error_response(404, "this address serves only GET /metrics");
      if (r.method != "GET") return error_response(405, "use GET");
      return on_control_loop(r);
    });
    spdlog::info("metrics on http://{}/metrics (no token)", config_.api.metrics_listen);
  }
  if (config_.api.listen.empty()) return;
  const std::string dashboard =
      config_.api.dashboard.empty() ? SHOAL_DASHBOARD_DIR : config_.api.dashboard;
  web_access_ = std::make_unique<WebAccess>(WebAccess::read_token(config_.api.token_file),
                                            dashboard, on_control_loop);
  api_tcp_ = HttpServer::tcp(config_.api.listen,
                             [this](const HttpRequest& r) { return web_access_->handle(r); });
  spdlog::info("API and dashboard on http://{}/ (dashboard files in {})", config_.api.listen,
               dashboard);
}

const dp::BackendSpec* Director::published_backend(uint16_t id) const {
  for (const dp::ServiceSpec& s : published_.services)
    for (const dp::BackendSpec& b : s.backends)
      if (b.id == id) return &b;
  return nullptr;
}

BackendConnections Director::connections(uint16_t id) const {
  BackendConnections c;
  for (const auto& w : workers_) {
    c.active += w->flows().connections().active(id);
    c.inactive += w->flows().connections().inactive(id);
  }
  return c;
}

std::optional<uint16_t> Director::persisted(const dp::Service& service, uint32_t client) const {
  const dp::PersistenceTable::Client key = dp::WorkerScheduler::persistence_client(service, client);
  std::optional<dp::PersistenceTable::Found> best;  // the entry used last, as the workers pick
  auto consider = [&](const dp::PersistenceTable& table) {
    const auto f = table.find(key, dp::now_ms());
    if (f && (!best || static_cast<int32_t>(f->expires_ms - best->expires_ms) > 0)) best = f;
  };
  for (const auto& w : workers_) consider(w->scheduler().persistence());
  if (sync_) consider(sync_->synced_persistence());  // what the other directors sent
  if (!best) return std::nullopt;
  return best->backend;
}

CounterReport Director::counters() const {
  CounterReport report;
  for (const auto& w : workers_)
    report.add_worker(w->id(), w->flows().size() + w->flows6().size(),
                      w->flows().capacity() + w->flows6().capacity(), w->counters(),
                      w->scheduler().persistence().evictions());
  for (std::size_t i = 0; i < ports_.size(); ++i)
    report.ports.push_back(ports_.counters(i, config_.ports[i].name));
  for (std::size_t i = 0; i < ports_.size(); ++i)
    if (const ExceptionPath* t = ports_.tap(i))
      report.exception_paths.push_back(
          {t->ifname(), t->to_kernel_count(), t->from_kernel_count(), t->dropped_count()});
  return report;
}

bool Director::set_admin_state(const hc::TargetKey& key, AdminState state) {
  admin_.set_state(key, state);
  const bool saved = state_dir_.save_admin(admin_);
  publish("admin state");
  return saved;
}

bool Director::set_admin_weight(const hc::TargetKey& key, uint32_t weight, uint32_t file_weight) {
  admin_.set_weight(key, weight, file_weight);
  const bool saved = state_dir_.save_admin(admin_);
  publish("admin state");
  return saved;
}

std::size_t Director::zero_traffic(const std::string& service) {
  sample_backend_stats(true);
  std::vector<uint16_t> ids;
  for (const ServiceConfig& s : config_.services)
    if (service.empty() || s.name == service)
      for (const BackendConfig& b : s.backends) ids.push_back(b.id);
  backend_stats_.zero(ids);
  return ids.size();
}

// Each worker samples its own table between bursts; the control loop waits for them.
FlowSample Director::sample_flows(const dp::FlowFilter& filter, std::chrono::milliseconds wait) {
  std::vector<dp::Worker*> asked;
  for (const auto& w : workers_)
    if (w->flow_sampler().start(filter)) asked.push_back(w.get());
  const auto deadline = std::chrono::steady_clock::now() + wait;
  FlowSample sample;
  sample.complete = asked.size() == workers_.size();
  for (dp::Worker* w : asked) {
    while (!w->flow_sampler().done() && std::chrono::steady_clock::now() <= deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    if (!w->flow_sampler().done()) {
      sample.complete = false;
      continue;
    }
    for (const dp::FlowEntry& e : w->flow_sampler().result()) sample.flows.emplace_back(w->id(), e);
    for (const dp::FlowEntry6& e : w->flow_sampler().result6()) sample.flows6.emplace_back(w->id(), e);
  }
  return sample;
}

}  // namespace shoal::cp

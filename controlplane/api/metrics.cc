#include "api/metrics.h"

#include <fmt/format.h>
#include <prometheus/text_serializer.h>

#include "daemon/director.h"

namespace shoal::cp {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

class Families {
 public:
  MetricFamily& family(const std::string& name, const std::string& help, MetricType type) {
    for (MetricFamily& f : out_)
      if (f.name == name) return f;
    out_.push_back(MetricFamily{name, help, type, {}});
    return out_.back();
  }
  void add(const std::string& name, const std::string& help, MetricType type,
           std::vector<ClientMetric::Label> labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    if (type == MetricType::Counter)
      m.counter.value = value;
    else
      m.gauge.value = value;
    family(name, help, type).metric.push_back(std::move(m));
  }
  std::vector<MetricFamily> take() { return std::move(out_); }

 private:
  std::vector<MetricFamily> out_;
};

constexpr auto kCounter = MetricType::Counter;
constexpr auto kGauge = MetricType::Gauge;

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& reloads = prometheus::BuildCounter()
                      .Name("shoal_reloads_total")
                      .Help("Config reloads (SIGHUP, API), by result")
                      .Register(*registry_);
  reloads_applied_ = &reloads.Add({{"result", "applied"}});
  reloads_refused_ = &reloads.Add({{"result", "refused"}});
  transitions_ = &prometheus::BuildCounter()
                      .Name("shoal_health_transitions_total")
                      .Help("Backends going up or down by their health checks")
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

void Metrics::reloaded(bool applied) { (applied ? reloads_applied_ : reloads_refused_)->Increment(); }

void Metrics::published(std::chrono::microseconds took) {
  publish_seconds_->Observe(static_cast<double>(took.count()) / 1e6);
}

std::string Metrics::render(const Director& d) const {
  Families f;
  for (const auto& w : d.workers_) {
    const dp::WorkerCounters& c = w->counters();
    const std::string worker = std::to_string(w->id());
    f.add("shoal_packets_total", "Frames received and transmitted by the workers", kCounter,
          {{"worker", worker}, {"direction", "rx"}}, static_cast<double>(c.rx.get()));
    f.add("shoal_packets_total", "Frames received and transmitted by the workers", kCounter,
          {{"worker", worker}, {"direction", "tx"}}, static_cast<double>(c.tx.get()));
    for (std::size_t r = 0; r < dp::kDropReasonCount; ++r)
      f.add("shoal_drops_total", "Frames dropped, by reason (dataplane/verdict.h)", kCounter,
            {{"worker", worker}, {"reason", std::string(dp::name(static_cast<dp::DropReason>(r)))}},
            static_cast<double>(c.drops[r].get()));
    for (std::size_t r = 0; r < dp::kControlReasonCount; ++r)
      f.add("shoal_to_control_total", "Frames handed to the control plane, by reason", kCounter,
            {{"worker", worker},
             {"reason", std::string(dp::name(static_cast<dp::ControlReason>(r)))}},
            static_cast<double>(c.control[r].get()));
    f.add("shoal_flows", "Flows in the worker's table (expired ones not yet aged out included)",
          kGauge, {{"worker", worker}}, w->flows().size());
    f.add("shoal_flows_created_total", "Flows scheduled for the first time", kCounter,
          {{"worker", worker}}, static_cast<double>(c.flows_created.get()));
    f.add("shoal_flows_rescheduled_total", "Flows moved off a removed or down backend",
          kCounter, {{"worker", worker}}, static_cast<double>(c.flows_rescheduled.get()));
  }
  for (const ServiceConfig& s : d.config_.services)
    for (const BackendConfig& b : s.backends) {
      const std::vector<ClientMetric::Label> labels = {
          {"service", s.name}, {"backend", b.name},
          {"address", fmt::format("{}:{}", dp::ipv4_to_string(b.address), b.port)}};
      const BackendTraffic t = d.backend_stats_.get(b.id);
      f.add("shoal_backend_packets_total", "Frames forwarded to the backend", kCounter, labels,
            static_cast<double>(t.packets));
      f.add("shoal_backend_bytes_total", "Bytes forwarded to the backend (as received)", kCounter,
            labels, static_cast<double>(t.bytes));
      f.add("shoal_backend_connections_total", "Flows scheduled to the backend", kCounter,
            labels, static_cast<double>(t.new_flows));
      const auto health = d.health_checker_->last_result(hc::TargetKey{s.name, b.name});
      f.add("shoal_backend_up", "1 if the backend's health check passes (or it has none)",
            kGauge, labels, health && !health->up ? 0 : 1);
      const dp::BackendSpec* published = d.published_backend(b.id);
      f.add("shoal_backend_weight", "The weight the dataplane schedules with (0: no new flows)",
            kGauge, labels, published && published->healthy ? published->weight : 0);
      const AdminState state = d.admin_.get(hc::TargetKey{s.name, b.name}).state;
      for (AdminState a : {AdminState::enabled, AdminState::disabled, AdminState::draining}) {
        auto l = labels;
        l.push_back({"state", std::string(to_string(a))});
        f.add("shoal_backend_admin_state", "The operator's state for the backend (1: current)",
              kGauge, std::move(l), state == a ? 1 : 0);
      }
    }
  for (const auto& t : d.taps_)
    if (t) {
      f.add("shoal_exception_path_frames_total", "Frames through a port's exception path",
            kCounter, {{"interface", t->ifname()}, {"direction", "to_kernel"}},
            static_cast<double>(t->to_kernel_count()));
      f.add("shoal_exception_path_frames_total", "Frames through a port's exception path",
            kCounter, {{"interface", t->ifname()}, {"direction", "from_kernel"}},
            static_cast<double>(t->from_kernel_count()));
    }
  if (d.vrrp_)
    for (const VrrpRunner::Member& m : d.vrrp_->members()) {
      const std::string& instance = m.settings.name;
      for (VrrpState s : {VrrpState::init, VrrpState::backup, VrrpState::master, VrrpState::fault})
        f.add("shoal_vrrp_state", "1 for the VRRP instance's current state", kGauge,
              {{"instance", instance}, {"state", std::string(name(s))}},
              m.instance->state() == s ? 1 : 0);
      f.add("shoal_vrrp_priority", "The instance's effective priority (tracking included)",
            kGauge, {{"instance", instance}}, m.instance->priority());
      const VrrpCounters& c = m.instance->counters();
      f.add("shoal_vrrp_adverts_total", "VRRP advertisements sent and received", kCounter,
            {{"instance", instance}, {"direction", "sent"}}, static_cast<double>(c.adverts_sent));
      f.add("shoal_vrrp_adverts_total", "VRRP advertisements sent and received", kCounter,
            {{"instance", instance}, {"direction", "received"}},
            static_cast<double>(c.adverts_received));
      for (std::size_t r = 0; r < kVrrpDropCount; ++r)
        f.add("shoal_vrrp_drops_total", "VRRP advertisements dropped, by reason", kCounter,
              {{"instance", instance}, {"reason", std::string(name(static_cast<VrrpDrop>(r)))}},
              static_cast<double>(c.drops[r]));
    }
  if (d.sync_) {
    const SyncCounters& c = d.sync_->counters();
    const char* flows_help = "Connection sync: flows sent, received and what became of them";
    for (auto [what, n] : {std::pair{"sent", c.flows_sent}, std::pair{"received", c.flows_received},
                           std::pair{"installed", c.installed}, std::pair{"removed", c.removed},
                           std::pair{"aged", c.aged}, std::pair{"claimed", d.flows_claimed()},
                           std::pair{"lost", d.sync_->events_lost()}})
      f.add("shoal_sync_flows_total", flows_help, kCounter, {{"event", what}},
            static_cast<double>(n));
    f.add("shoal_sync_messages_total", "Connection sync datagrams", kCounter,
          {{"direction", "sent"}}, static_cast<double>(c.messages_sent));
    f.add("shoal_sync_messages_total", "Connection sync datagrams", kCounter,
          {{"direction", "received"}}, static_cast<double>(c.messages_received));
    f.add("shoal_sync_messages_missed_total",
          "Connection sync datagrams lost on the way (gaps in the peers' sequence numbers)",
          kCounter, {}, static_cast<double>(c.messages_missed));
    for (std::size_t r = 0; r < kSyncDropCount; ++r)
      f.add("shoal_sync_drops_total", "Connection sync datagrams or entries dropped, by reason",
            kCounter, {{"reason", std::string(name(static_cast<SyncDrop>(r)))}},
            static_cast<double>(c.drops[r]));
    f.add("shoal_sync_table_flows", "Flows peers pinned, held for a takeover", kGauge, {},
          d.sync_->table_size());
    f.add("shoal_sync_pull_done", "1 once this director's pull of its peers' flows is over",
          kGauge, {}, d.sync_->pull_settled() ? 1 : 0);
  }
  const hc::CheckerStats hs = d.health_checker_->stats();
  for (auto [result, n] : {std::pair{"passed", hs.passed}, std::pair{"failed", hs.failed},
                           std::pair{"timed_out", hs.timed_out}})
    f.add("shoal_health_checks_total", "Health checks completed, by result", kCounter,
          {{"result", result}}, static_cast<double>(n));
  f.add("shoal_uptime_seconds", "Seconds since shoald started", kGauge, {},
        std::chrono::duration<double>(std::chrono::steady_clock::now() - d.started_).count());

  std::vector<MetricFamily> all = f.take();
  for (MetricFamily& m : registry_->Collect()) all.push_back(std::move(m));
  return prometheus::TextSerializer().Serialize(all);
}

}  // namespace shoal::cp

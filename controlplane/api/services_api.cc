#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "api/control_api.h"

namespace shoal::cp {
namespace {

using nlohmann::json;

double seconds_since(hc::TimePoint t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

json backend_json(const DirectorView& view, const ServiceConfig& svc, const BackendConfig& b) {
  const hc::TargetKey key{svc.name, b.name};
  const BackendAdmin admin = view.admin(key);
  json j = {{"name", b.name},
            {"address", to_string(b.address)},
            {"port", b.port},
            {"id", b.id},
            {"weight", b.weight},
            {"admin_state", to_string(admin.state)},
            {"admin_weight", admin.weight ? json(*admin.weight) : json(nullptr)},
            {"sorry", b.sorry}};
  // What the dataplane was given: the Snapshot's view of this backend.
  if (const dp::BackendSpec* spec = view.published_backend(b.id)) {
    j["effective_weight"] = spec->weight;
    j["accepts_new_flows"] = spec->takes_new_flows();
  }
  json health = {{"check", hc::to_string(b.health.type)}};
  if (auto status = view.health(key)) {
    health["up"] = status->up;
    health["reason"] = status->reason;
    health["checks"] = status->checks;
    if (status->last) {
      health["last"] = {{"pass", status->last->pass},
                        {"detail", status->last->detail},
                        {"elapsed_ms", status->last->elapsed.count() / 1000.0}};
      if (status->last_checked) health["last"]["seconds_ago"] = seconds_since(*status->last_checked);
    }
  }
  j["health"] = std::move(health);
  const BackendTraffic t = view.traffic_since_zero(b.id);
  const BackendConnections c = view.connections(b.id);
  j["connections"] = {{"active", c.active}, {"inactive", c.inactive}};
  j["traffic"] = {{"packets", t.packets},         {"bytes", t.bytes},
                  {"new_flows", t.new_flows},     {"packets_per_second", t.packet_rate},
                  {"bytes_per_second", t.byte_rate}, {"new_flows_per_second", t.flow_rate}};
  return j;
}

json quorum_json(const DirectorView& view, const ServiceConfig& svc) {
  const ServiceQuorums::State q = view.quorum(svc.name);
  return {{"up", q.up},
          {"healthy_weight", q.weight},
          {"needs", svc.quorum},
          {"hysteresis", svc.quorum_hysteresis}};
}

json service_json(const DirectorView& view, const ServiceConfig& svc) {
  json backends = json::array();
  for (const BackendConfig& b : svc.backends) backends.push_back(backend_json(view, svc, b));
  return json{{"name", svc.name},
              {"vip", to_string(svc.vip)},
              {"port", svc.port},
              // "80,443,8000-8100" or "0" (every port) for a multi-port service, where port is 0.
              {"ports", ports_text(svc)},
              {"protocol", to_string(svc.protocol)},
              {"forwarding", to_string(svc.forwarding)},
              {"scheduler", dp::scheduler_name(svc.scheduler)},
              {"hash", uses_maglev(svc.scheduler) ? json(to_string(svc.hash)) : json(nullptr)},
              {"persistence", svc.persistence_timeout_s == 0
                                  ? json(nullptr)
                                  : json{{"timeout", svc.persistence_timeout_s},
                                         {"netmask", svc.persistence_mask_text()}}},
              {"all_down", to_string(svc.all_down)},
              {"quorum", quorum_json(view, svc)},
              {"backends", std::move(backends)}};
}

const ServiceConfig* find_service(const Config& config, std::string_view name) {
  for (const ServiceConfig& s : config.services)
    if (s.name == name) return &s;
  return nullptr;
}

// The operator's word on one backend: POST .../backends/{backend}/{op}.
HttpResponse backend_command(const DirectorView& view, DirectorCommands& commands,
                             const HttpRequest& request, const PathParams& p) {
  const ServiceConfig* svc = find_service(view.config(), p.at("service"));
  if (svc == nullptr) return error_response(404, fmt::format("no service named '{}'", p.at("service")));
  const BackendConfig* backend = nullptr;
  for (const BackendConfig& b : svc->backends)
    if (b.name == p.at("backend")) backend = &b;
  if (backend == nullptr)
    return error_response(404, fmt::format("service '{}' has no backend named '{}'", svc->name,
                                           p.at("backend")));
  const hc::TargetKey key{svc->name, backend->name};
  const std::string& op = p.at("op");
  std::string what;
  bool saved = false;
  if (op == "weight") {
    const json body = json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("weight") ||
        !body["weight"].is_number_integer() || body["weight"].get<int64_t>() < 0 ||
        body["weight"].get<int64_t>() > 65535)
      return error_response(400, R"(the body must be {"weight": N} with N an integer in 0..65535)");
    const auto weight = body["weight"].get<uint32_t>();
    saved = commands.set_admin_weight(key, weight, backend->weight);
    what = fmt::format("weight {}", weight);
  } else if (op == "enable" || op == "disable" || op == "drain") {
    const AdminState state = op == "enable"    ? AdminState::enabled
                             : op == "disable" ? AdminState::disabled
                                               : AdminState::draining;
    saved = commands.set_admin_state(key, state);
    what = std::string(to_string(state));
  } else {
    return error_response(404, fmt::format("no backend operation '{}' (enable, disable, drain, weight)", op));
  }
  spdlog::info("{} {} set {} through the API", hc::to_string(key),
               endpoint_string(backend->address, backend->port), what);
  json answer = backend_json(view, *svc, *backend);
  answer["persisted"] = saved;
  if (!saved)
    answer["warning"] = fmt::format("{} applies now, but the state directory could not keep it "
                                    "(see shoald's log): it will not survive a restart",
                                    what);
  return json_response(200, answer.dump());
}

void add_backend_metrics(const DirectorView& view, MetricFamilies& f) {
  for (const ServiceConfig& s : view.config().services) {
    const ServiceQuorums::State q = view.quorum(s.name);
    f.gauge("shoal_service_quorum_up",
            "1 while the service has quorum (its healthy weight reaches `quorum`)",
            {{"service", s.name}}, q.up ? 1 : 0);
    f.gauge("shoal_service_healthy_weight",
            "The summed weights of the service's real backends in service",
            {{"service", s.name}}, static_cast<double>(q.weight));
    for (const BackendConfig& b : s.backends) {
      const MetricLabels labels = {
          {"service", s.name}, {"backend", b.name},
          {"address", endpoint_string(b.address, b.port)}};
      const BackendTraffic t = view.traffic(b.id);
      f.counter("shoal_backend_packets_total", "Frames forwarded to the backend", labels,
                static_cast<double>(t.packets));
      f.counter("shoal_backend_bytes_total", "Bytes forwarded to the backend (as received)",
                labels, static_cast<double>(t.bytes));
      f.counter("shoal_backend_connections_total", "Flows scheduled to the backend", labels,
                static_cast<double>(t.new_flows));
      const BackendConnections c = view.connections(b.id);
      for (auto [state, n] : {std::pair{"active", c.active}, std::pair{"inactive", c.inactive}}) {
        auto l = labels;
        l.push_back({"state", state});
        f.gauge("shoal_backend_connections",
                "Live flows in the workers' tables "
                "(active: established TCP flows; inactive: every other live flow)",
                std::move(l), n);
      }
      const hc::TargetKey key{s.name, b.name};
      const auto health = view.health(key);
      f.gauge("shoal_backend_up", "1 if the backend's health check passes (or it has none)",
              labels, health && !health->up ? 0 : 1);
      const dp::BackendSpec* published = view.published_backend(b.id);
      f.gauge("shoal_backend_weight", "The weight the dataplane schedules with (0: no new flows)",
              labels, published && published->takes_new_flows() ? published->weight : 0);
      const AdminState state = view.admin(key).state;
      for (AdminState a : {AdminState::enabled, AdminState::disabled, AdminState::draining}) {
        auto l = labels;
        l.push_back({"state", std::string(to_string(a))});
        f.gauge("shoal_backend_admin_state", "The operator's state for the backend (1: current)",
                std::move(l), state == a ? 1 : 0);
      }
    }
  }
  const hc::CheckerStats hs = view.health_stats();
  for (auto [result, n] : {std::pair{"passed", hs.passed}, std::pair{"failed", hs.failed},
                           std::pair{"timed_out", hs.timed_out}})
    f.counter("shoal_health_checks_total", "Health checks completed, by result",
              {{"result", result}}, static_cast<double>(n));
}

}  // namespace

void register_services_api(ApiRegistry& registry, const DirectorView& view,
                           DirectorCommands& commands) {
  Router& r = registry.routes();
  r.add("GET", "/v1/services", [&view](const HttpRequest&, const PathParams&) {
    json out = json::array();
    for (const ServiceConfig& s : view.config().services) out.push_back(service_json(view, s));
    return json_response(200, json{{"services", std::move(out)}}.dump());
  });
  r.add("GET", "/v1/services/{service}", [&view](const HttpRequest&, const PathParams& p) {
    const ServiceConfig* svc = find_service(view.config(), p.at("service"));
    if (svc == nullptr) return error_response(404, fmt::format("no service named '{}'", p.at("service")));
    return json_response(200, service_json(view, *svc).dump());
  });
  r.add("POST", "/v1/services/{service}/backends/{backend}/{op}",
        [&view, &commands](const HttpRequest& request, const PathParams& p) {
          return backend_command(view, commands, request, p);
        });
  // ipvsadm -Z: the API's totals start again; /metrics' counters do not (they never go down).
  r.add("POST", "/v1/zero", [&commands](const HttpRequest&, const PathParams&) {
    const std::size_t n = commands.zero_traffic("");
    spdlog::info("traffic totals of every backend ({}) zeroed through the API", n);
    return json_response(200, json{{"zeroed_backends", n}}.dump());
  });
  r.add("POST", "/v1/services/{service}/zero",
        [&view, &commands](const HttpRequest&, const PathParams& p) {
          if (find_service(view.config(), p.at("service")) == nullptr)
            return error_response(404, fmt::format("no service named '{}'", p.at("service")));
          const std::size_t n = commands.zero_traffic(p.at("service"));
          spdlog::info("service {}: traffic totals of its {} backend(s) zeroed through the API",
                       p.at("service"), n);
          return json_response(200, json{{"zeroed_backends", n}}.dump());
        });
  registry.metric_families([&view](MetricFamilies& f) { add_backend_metrics(view, f); });
}

}  // namespace shoal::cp

#include "control_api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "director.h"

namespace shoal::cp {
namespace {

using nlohmann::json;

HttpResponse ok(const json& body) { return {200, body.dump() + "\n"}; }

HttpResponse error(int status, const std::string& message) {
  return {status, json{{"error", message}}.dump() + "\n"};
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    const size_t start = path.find_first_not_of('/');
    if (start == std::string_view::npos) break;
    path.remove_prefix(start);
    const size_t end = path.find('/');
    parts.push_back(path.substr(0, end));
    path.remove_prefix(end == std::string_view::npos ? path.size() : end);
  }
  return parts;
}

double seconds_since(hc::TimePoint t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

HttpResponse ControlApi::handle(const HttpRequest& request) {
  Director& d = director_;
  const std::vector<std::string_view> p = split_path(request.path);
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";
  if (p.empty() || p[0] != "v1") return error(404, "no such resource: " + request.path + " (the API is under /v1/)");

  auto backend_json = [&](const ServiceConfig& svc, const BackendConfig& b) {
    const hc::TargetKey key{svc.name, b.name};
    const BackendAdmin admin = d.admin_.get(key);
    json j = {{"name", b.name},
              {"address", dp::ipv4_to_string(b.address)},
              {"port", b.port},
              {"id", b.id},
              {"weight", b.weight},
              {"admin_state", to_string(admin.state)},
              {"admin_weight", admin.weight ? json(*admin.weight) : json(nullptr)},
              {"sorry", b.sorry}};
    // What the dataplane was given: the Snapshot's view of this backend.
    if (const dp::BackendSpec* spec = d.published_backend(b.id)) {
      j["effective_weight"] = spec->weight;
      j["accepts_new_flows"] = spec->healthy && spec->weight > 0;
    }
    json health = {{"check", hc::to_string(b.health.type)}};
    if (auto status = d.health_checker_->last_result(key)) {
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
    return j;
  };
  auto service_json = [&](const ServiceConfig& svc) {
    json backends = json::array();
    for (const BackendConfig& b : svc.backends) backends.push_back(backend_json(svc, b));
    return json{{"name", svc.name},
                {"vip", dp::ipv4_to_string(svc.vip)},
                {"port", svc.port},
                {"protocol", to_string(svc.protocol)},
                {"forwarding", to_string(svc.forwarding)},
                {"hash", to_string(svc.hash)},
                {"all_down", to_string(svc.all_down)},
                {"backends", std::move(backends)}};
  };
  auto find_service = [&](std::string_view name) -> const ServiceConfig* {
    for (const ServiceConfig& s : d.config_.services)
      if (s.name == name) return &s;
    return nullptr;
  };

  if (p.size() == 2 && p[1] == "status") {
    if (!get) return error(405, "use GET");
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    // Which VIPs this director holds now: what an operator asks first during a failover.
    json vrrp = json::array();
    if (d.vrrp_)
      for (const VrrpRunner::Member& m : d.vrrp_->members()) {
        json addresses = json::array();
        for (uint32_t ip : m.settings.addresses) addresses.push_back(dp::ipv4_to_string(ip));
        vrrp.push_back({{"name", m.settings.name},
                        {"vrid", m.settings.vrid},
                        {"state", std::string(name(m.instance->state()))},
                        {"priority", m.instance->priority()},
                        {"addresses", std::move(addresses)}});
      }
    return ok({{"node", host},
               {"version", SHOAL_VERSION},
               {"pid", getpid()},
               {"uptime_seconds", seconds_since(d.started_)},
               {"config", d.config_path_},
               {"services", d.config_.services.size()},
               {"backends", d.config_.backend_count()},
               {"workers", d.config_.workers.count},
               {"vrrp", std::move(vrrp)}});
  }
  if (p.size() == 2 && p[1] == "services") {
    if (!get) return error(405, "use GET");
    json out = json::array();
    for (const ServiceConfig& s : d.config_.services) out.push_back(service_json(s));
    return ok({{"services", std::move(out)}});
  }
  if (p.size() >= 3 && p[1] == "services") {
    const ServiceConfig* svc = find_service(p[2]);
    if (svc == nullptr) return error(404, fmt::format("no service named '{}'", p[2]));
    if (p.size() == 3) return get ? ok(service_json(*svc)) : error(405, "use GET");
    if (p.size() != 6 || p[3] != "backends") return error(404, "no such resource: " + request.path);
    const BackendConfig* backend = nullptr;
    for (const BackendConfig& b : svc->backends)
      if (b.name == p[4]) backend = &b;
    if (backend == nullptr)
      return error(404, fmt::format("service '{}' has no backend named '{}'", svc->name, p[4]));
    if (!post) return error(405, "use POST");
    const hc::TargetKey key{svc->name, backend->name};
    const std::string_view op = p[5];
    std::string what;
    if (op == "weight") {
      const json body = json::parse(request.body, nullptr, false);
      if (body.is_discarded() || !body.is_object() || !body.contains("weight") ||
          !body["weight"].is_number_integer() || body["weight"].get<int64_t>() < 0 ||
          body["weight"].get<int64_t>() > 65535)
        return error(400, R"(the body must be {"weight": N} with N an integer in 0..65535)");
      const auto weight = body["weight"].get<uint32_t>();
      d.admin_.set_weight(key, weight, backend->weight);
      what = fmt::format("weight {}", weight);
    } else if (op == "enable" || op == "disable" || op == "drain") {
      const AdminState state = op == "enable"    ? AdminState::enabled
                               : op == "disable" ? AdminState::disabled
                                                 : AdminState::draining;
      d.admin_.set_state(key, state);
      what = std::string(to_string(state));
    } else {
      return error(404, fmt::format("no backend operation '{}' (enable, disable, drain, weight)", op));
    }
    spdlog::info("{} {}:{} set {} through the API", hc::to_string(key),
                 dp::ipv4_to_string(backend->address), backend->port, what);
    d.publish("admin state");
    return ok(backend_json(*svc, *backend));
  }
  if (p.size() == 2 && p[1] == "reload") {
    if (!post) return error(405, "use POST");
    const ReloadResult r = d.reload();
    json body = {{"applied", r.applied}, {"errors", r.errors}, {"warnings", r.warnings}};
    if (!r.applied) body["error"] = r.errors.empty() ? "reload refused" : r.errors.front();
    return {r.applied ? 200 : 422, body.dump() + "\n"};
  }
  if (p.size() == 2 && p[1] == "counters") {
    if (!get) return error(405, "use GET");
    return ok(d.counters_json());
  }
  return error(404, "no such resource: " + request.path);
}

}  // namespace shoal::cp

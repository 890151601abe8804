#include "api/control_api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <optional>
#include <regex>
#include <thread>
#include <string_view>
#include <vector>

#include "config/diff.h"
#include "daemon/director.h"

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

// "FILE:LINE: message" → {"line": LINE, "message": message}; other messages keep line null.
json located(const std::vector<std::string>& messages) {
  static const std::regex kLocated(R"(^.*?:(\d+): (.*)$)");
  json out = json::array();
  for (const std::string& m : messages) {
    std::smatch match;
    if (std::regex_match(m, match, kLocated))
      out.push_back({{"line", std::stoi(match[1])}, {"message", match[2].str()}, {"text", m}});
    else
      out.push_back({{"line", nullptr}, {"message", m}, {"text", m}});
  }
  return out;
}

double seconds_since(hc::TimePoint t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

HttpResponse ControlApi::handle(const HttpRequest& request) {
  const std::vector<std::string_view> p = split_path(request.path);
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";
  auto only = [](bool allowed, const char* method, auto&& answer) {
    return allowed ? answer() : error(405, std::string("use ") + method);
  };
  if (request.path == "/metrics")
    return only(get, "GET", [&] {
      return HttpResponse{200, director_.metrics_.render(director_),
                          "text/plain; version=0.0.4; charset=utf-8"};
    });
  if (p.empty() || p[0] != "v1")
    return error(404, "no such resource: " + request.path + " (the API is under /v1/)");
  const std::string_view what = p.size() >= 2 ? p[1] : "";
  if (p.size() == 2 && what == "status") return only(get, "GET", [&] { return status(); });
  if (p.size() == 2 && what == "counters")
    return only(get, "GET", [&] { return ok(director_.counters_json()); });
  if (p.size() == 2 && what == "flows") return only(get, "GET", [&] { return flows(request); });
  if (p.size() == 2 && what == "simulate") return only(get, "GET", [&] { return simulate(request); });
  if (p.size() == 2 && what == "reload") return only(post, "POST", [&] { return reload(); });
  if (what == "services") return services(request, p);
  if (what == "config") return config(request, p);
  return error(404, "no such resource: " + request.path);
}

json ControlApi::backend_json(const ServiceConfig& svc, const BackendConfig& b) const {
  const Director& d = director_;
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
  const BackendTraffic t = d.backend_stats_.get(b.id);
  uint32_t active = 0, inactive = 0;
  for (const auto& w : d.workers_) {
    active += w->census().active(b.id);
    inactive += w->census().inactive(b.id);
  }
  j["connections"] = {{"active", active}, {"inactive", inactive}};
  j["traffic"] = {{"packets", t.packets},         {"bytes", t.bytes},
                  {"new_flows", t.new_flows},     {"packets_per_second", t.packet_rate},
                  {"bytes_per_second", t.byte_rate}, {"new_flows_per_second", t.flow_rate}};
  return j;
}

json ControlApi::service_json(const ServiceConfig& svc) const {
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
}

HttpResponse ControlApi::status() const {
  const Director& d = director_;
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  // Which VIPs this director holds now: what an operator asks first during a failover.
  json vrrp = json::array();
  if (d.vrrp_)
    for (const VrrpRunner::Member& m : d.vrrp_->members()) {
      json addresses = json::array();
      for (uint32_t ip : m.settings.addresses) addresses.push_back(dp::ipv4_to_string(ip));
      json entry = {{"name", m.settings.name},
                    {"vrid", m.settings.vrid},
                    {"state", std::string(name(m.instance->state()))},
                    {"priority", m.instance->priority()},
                    {"addresses", std::move(addresses)},
                    {"peers", json::array()}};
      // The other router of the VRID, as last heard: the master while we are backup.
      if (const VrrpInstance::Peer& peer = m.instance->last_peer(); peer.address != 0) {
        const double ago = static_cast<double>(vrrp_now_ms() - peer.heard_ms) / 1000.0;
        entry["peers"].push_back({{"address", dp::ipv4_to_string(peer.address)},
                                  {"priority", peer.priority},
                                  {"seconds_ago", ago}});
        if (m.instance->state() == VrrpState::backup && peer.priority > 0)
          entry["master"] = dp::ipv4_to_string(peer.address);
      }
      if (m.instance->state() == VrrpState::master) entry["master"] = "this director";
      vrrp.push_back(std::move(entry));
    }
  json out = {{"node", host},
              {"version", SHOAL_VERSION},
              {"pid", getpid()},
              {"uptime_seconds", seconds_since(d.started_)},
              {"config", d.config_path_},
              {"services", d.config_.services.size()},
              {"backends", d.config_.backend_count()},
              {"workers", d.config_.workers.count},
              {"vrrp", std::move(vrrp)}};
  if (d.sync_) out["connection_sync"] = d.sync_->status(d.flows_claimed());
  return ok(out);
}

HttpResponse ControlApi::services(const HttpRequest& request,
                                  const std::vector<std::string_view>& p) {
  Director& d = director_;
  const bool get = request.method == "GET";
  if (p.size() == 2) {
    if (!get) return error(405, "use GET");
    json out = json::array();
    for (const ServiceConfig& s : d.config_.services) out.push_back(service_json(s));
    return ok({{"services", std::move(out)}});
  }
  const ServiceConfig* svc = nullptr;
  for (const ServiceConfig& s : d.config_.services)
    if (s.name == p[2]) svc = &s;
  if (svc == nullptr) return error(404, fmt::format("no service named '{}'", p[2]));
  if (p.size() == 3) return get ? ok(service_json(*svc)) : error(405, "use GET");
  if (p.size() != 6 || p[3] != "backends") return error(404, "no such resource: " + request.path);
  const BackendConfig* backend = nullptr;
  for (const BackendConfig& b : svc->backends)
    if (b.name == p[4]) backend = &b;
  if (backend == nullptr)
    return error(404, fmt::format("service '{}' has no backend named '{}'", svc->name, p[4]));
  if (request.method != "POST") return error(405, "use POST");
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

HttpResponse ControlApi::reload() {
  const ReloadResult r = director_.reload();
  director_.metrics_.reloaded(r.applied);
  json body = {{"applied", r.applied}, {"errors", r.errors}, {"warnings", r.warnings}};
  if (!r.applied) body["error"] = r.errors.empty() ? "reload refused" : r.errors.front();
  return {r.applied ? 200 : 422, body.dump() + "\n"};
}

HttpResponse ControlApi::config(const HttpRequest& request, const std::vector<std::string_view>& p) {
  Director& d = director_;
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";
  if (p.size() == 2) {
    if (!get) return error(405, "use GET");
    return ok({{"path", d.config_path_}, {"text", d.running_text_}});
  }
  if (p.size() != 3 || (p[2] != "validate" && p[2] != "apply"))
    return error(404, "no such resource: " + request.path + " (config, config/validate, config/apply)");
  if (!post) return error(405, "use POST, with the candidate YAML as the body");
  LoadResult candidate = load_config_string(request.body, "candidate");
  json diff = json::array();
  if (candidate.config) diff = diff_configs(d.config_, *candidate.config);
  if (p[2] == "validate")
    return ok({{"valid", candidate.config.has_value()},
               {"errors", located(candidate.errors)},
               {"warnings", located(candidate.warnings)},
               {"diff", std::move(diff)}});
  const ReloadResult r = d.apply(request.body);
  d.metrics_.reloaded(r.applied);
  json body = {{"applied", r.applied}, {"errors", located(r.errors)},
               {"warnings", located(r.warnings)}, {"diff", r.applied ? diff : json::array()}};
  if (!r.applied) body["error"] = r.errors.empty() ? "refused" : r.errors.front();
  return {r.applied ? 200 : 422, body.dump() + "\n"};
}

HttpResponse ControlApi::flows(const HttpRequest& request) {
  constexpr uint32_t kMaxLimit = 1000;
  constexpr auto kMaxWait = std::chrono::seconds(1);
  Director& d = director_;
  dp::FlowFilter filter;
  auto address = [&](const char* key, uint32_t& out) {
    auto it = request.query.find(key);
    if (it == request.query.end() || it->second.empty()) return true;
    auto ip = parse_ipv4(it->second);
    if (ip) out = *ip;
    return ip.has_value();
  };
  if (!address("vip", filter.vip) || !address("client", filter.client))
    return error(400, "vip and client are IPv4 addresses");
  if (auto it = request.query.find("limit"); it != request.query.end()) {
    const std::string& v = it->second;
    if (v.empty() || v.size() > 4 || !std::all_of(v.begin(), v.end(), ::isdigit) ||
        std::stoul(v) == 0 || std::stoul(v) > kMaxLimit)
      return error(400, fmt::format("limit is 1..{}", kMaxLimit));
    filter.limit = static_cast<uint32_t>(std::stoul(v));
  }
  // Each worker samples its own table between bursts; the control loop waits a little for
  // them (a 1M-flow table takes some 20 worker loops).
  std::vector<dp::Worker*> asked;
  for (const auto& w : d.workers_)
    if (w->flow_sampler().start(filter)) asked.push_back(w.get());
  const auto deadline = std::chrono::steady_clock::now() + kMaxWait;
  bool complete = true;
  for (dp::Worker* w : asked)
    while (!w->flow_sampler().done()) {
      if (std::chrono::steady_clock::now() > deadline) {
        complete = false;
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  std::map<uint16_t, std::string> names;
  for (const ServiceConfig& s : d.config_.services)
    for (const BackendConfig& b : s.backends) names[b.id] = s.name + "/" + b.name;
  static constexpr const char* kStates[] = {"empty", "syn", "closing", "udp", "established"};
  const uint32_t now = dp::now_ms();
  json out = json::array();
  for (dp::Worker* w : asked) {
    if (!w->flow_sampler().done()) continue;
    for (const dp::FlowEntry& e : w->flow_sampler().result()) {
      if (out.size() >= filter.limit) break;
      auto name = names.find(e.backend);
      out.push_back({{"worker", w->id()},
                     {"client", fmt::format("{}:{}", dp::ipv4_to_string(e.src_ip), dp::be16(e.src_port))},
                     {"vip", fmt::format("{}:{}", dp::ipv4_to_string(e.dst_ip), dp::be16(e.dst_port))},
                     {"protocol", e.proto == 17 ? "udp" : "tcp"},
                     {"state", kStates[static_cast<size_t>(e.state) % std::size(kStates)]},
                     {"backend", name == names.end() ? json(nullptr) : json(name->second)},
                     {"idle_ms", now - e.last_seen_ms}});
    }
  }
  return ok({{"flows", std::move(out)}, {"complete", complete && asked.size() == d.workers_.size()}});
}

HttpResponse ControlApi::simulate(const HttpRequest& request) {
  Director& d = director_;
  auto arg = [&](const char* key) {
    auto it = request.query.find(key);
    return it == request.query.end() ? std::string() : it->second;
  };
  const auto client = parse_ipv4_endpoint(arg("client"), true);
  const auto vip = parse_ipv4_endpoint(arg("vip"));
  const std::string proto_name = arg("proto").empty() ? "tcp" : arg("proto");
  if (!client || !vip || (proto_name != "tcp" && proto_name != "udp"))
    return error(400, "give client=IP[:PORT], vip=IP:PORT and proto=tcp|udp");
  const Protocol proto = proto_name == "udp" ? Protocol::udp : Protocol::tcp;
  const ServiceConfig* svc = nullptr;
  for (const ServiceConfig& s : d.config_.services)
    if (s.vip == vip->first && s.port == vip->second && s.protocol == proto) svc = &s;
  if (svc == nullptr)
    return error(404, fmt::format("no service on {}/{}", arg("vip"), proto_name));
  const dp::Snapshot* snap = d.publisher_->current();
  uint16_t index = 0;
  if (snap == nullptr ||
      snap->classify(vip->first, dp::be16(vip->second), static_cast<uint8_t>(proto), &index) !=
          dp::AddressKind::service)
    return error(503, "the dataplane has no table for that service yet");
  const dp::Service& service = snap->service(index);
  if (service.hash_on == dp::HashOn::five_tuple && client->second == 0)
    return error(400, fmt::format("service {} hashes the 5-tuple: give the client's port too "
                                  "(client=IP:PORT)", svc->name));
  const dp::FlowKey key{client->first, vip->first, dp::be16(client->second),
                        dp::be16(vip->second), static_cast<uint8_t>(proto)};
  const uint32_t hash = dp::scheduling_hash(service, client->first, dp::FlowTable::hash(key));
  const uint32_t slot = service.maglev.size() ? hash % service.maglev.size() : 0;
  const uint16_t id = service.pick(hash);
  json out = {{"service", svc->name},
              {"hash_on", to_string(svc->hash)},
              {"maglev_size", service.maglev.size()},
              {"maglev_slot", slot},
              {"backend", nullptr}};
  const BackendConfig* chosen = nullptr;
  for (const BackendConfig& b : svc->backends)
    if (b.id == id) chosen = &b;
  if (chosen == nullptr) {
    out["why"] = "no backend takes new flows (all down, drained or disabled; policy " +
                 std::string(to_string(svc->all_down)) + ")";
    return ok(out);
  }
  out["backend"] = {{"name", chosen->name},
                    {"address", dp::ipv4_to_string(chosen->address)},
                    {"port", chosen->port}};
  out["why"] = fmt::format("a new flow hashes ({}) to Maglev slot {} of {}, which holds {}; an "
                           "established flow stays with the backend it is pinned to while that "
                           "backend is up",
                           to_string(svc->hash), slot, service.maglev.size(), chosen->name);
  return ok(out);
}

}  // namespace shoal::cp

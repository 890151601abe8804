#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>

#include "api/control_api.h"
#include "dataplane/pipeline.h"
#include "dataplane/worker/worker.h"

namespace shoal::cp {
namespace {

using nlohmann::json;

std::string query(const HttpRequest& request, const char* key) {
  auto it = request.query.find(key);
  return it == request.query.end() ? std::string() : it->second;
}

HttpResponse flows(const DirectorView& view, DirectorCommands& commands,
                   const HttpRequest& request) {
  constexpr uint32_t kMaxLimit = 1000;
  // A 1M-flow table takes some 20 worker loops to sample.
  constexpr auto kMaxWait = std::chrono::seconds(1);
  dp::FlowFilter filter;
  // vip and client: one family between them, whose table alone is sampled.
  std::optional<bool> ipv6;
  auto address = [&](const char* key, uint32_t& out, dp::Ipv6Address& out6) {
    const std::string text = query(request, key);
    if (text.empty()) return true;
    const auto ip = parse_ip(text);
    if (!ip || (ipv6 && *ipv6 != ip->is_v6())) return false;
    ipv6 = ip->is_v6();
    if (ip->is_v6())
      out6 = ip->v6();
    else
      out = ip->v4();
    return true;
  };
  if (!address("vip", filter.vip, filter.vip6) || !address("client", filter.client, filter.client6))
    return error_response(400, "vip and client are IP addresses of one family");
  if (ipv6) {
    filter.ipv4 = !*ipv6;
    filter.ipv6 = *ipv6;
  }
  if (auto it = request.query.find("limit"); it != request.query.end()) {
    const std::string& v = it->second;
    if (v.empty() || v.size() > 4 || !std::all_of(v.begin(), v.end(), ::isdigit) ||
        std::stoul(v) == 0 || std::stoul(v) > kMaxLimit)
      return error_response(400, fmt::format("limit is 1..{}", kMaxLimit));
    filter.limit = static_cast<uint32_t>(std::stoul(v));
  }
  const FlowSample sample = commands.sample_flows(filter, kMaxWait);
  std::map<uint16_t, std::string> names;
  for (const ServiceConfig& s : view.config().services)
    for (const BackendConfig& b : s.backends) names[b.id] = s.name + "/" + b.name;
  static constexpr const char* kStates[] = {"empty", "syn", "closing", "udp", "established"};
  const uint32_t now = dp::now_ms();
  json out = json::array();
  auto add = [&](uint32_t worker, const auto& e, const IpAddress& client, const IpAddress& vip) {
    if (out.size() >= filter.limit) return;
    auto name = names.find(e.backend);
    out.push_back({{"worker", worker},
                   {"client", endpoint_string(client, dp::be16(e.src_port))},
                   {"vip", endpoint_string(vip, dp::be16(e.dst_port))},
                   {"protocol", e.proto == 17 ? "udp" : "tcp"},
                   {"state", kStates[static_cast<size_t>(e.state) % std::size(kStates)]},
                   {"backend", name == names.end() ? json(nullptr) : json(name->second)},
                   {"idle_ms", now - e.last_seen_ms}});
  };
  for (const auto& [worker, e] : sample.flows)
    add(worker, e, IpAddress::from_v4(e.src_ip), IpAddress::from_v4(e.dst_ip));
  for (const auto& [worker, e] : sample.flows6)
    add(worker, e, IpAddress::from_v6(e.src_ip), IpAddress::from_v6(e.dst_ip));
  return json_response(200, json{{"flows", std::move(out)}, {"complete", sample.complete}}.dump());
}

// What a service's scheduler would do with one new flow: the candidate it picks (an index,
// or kNoCandidate when it cannot say) and why, in words and in figures.
struct Choice {
  uint16_t candidate = dp::kNoCandidate;
  std::string why;
  json details = json::object();
};

std::string candidate_name(const ServiceConfig& svc, const dp::Service& service, uint16_t i) {
  const uint16_t id = service.candidate_id(i);
  for (const BackendConfig& b : svc.backends)
    if (b.id == id) return b.name;
  return "?";
}

Choice choose(const DirectorView& view, const ServiceConfig& svc, const dp::Service& service,
              const dp::NewFlow& key) {
  Choice c;
  switch (service.scheduler) {
    case dp::Scheduler::maglev:
    case dp::Scheduler::mh: {
      const uint32_t hash = dp::scheduling_hash(service, key.client_ip, key.flow_hash);
      const uint32_t slot = service.maglev.size() ? hash % service.maglev.size() : 0;
      c.candidate = service.maglev.empty() ? dp::kNoCandidate : service.maglev[slot];
      c.details = {{"hash_on", to_string(svc.hash)},
                   {"maglev_size", service.maglev.size()},
                   {"maglev_slot", slot}};
      c.why = fmt::format("a new flow hashes ({}) to Maglev slot {} of {}, which holds {}",
                          to_string(svc.hash), slot, service.maglev.size(),
                          candidate_name(svc, service, c.candidate));
      break;
    }
    case dp::Scheduler::sh:
    case dp::Scheduler::dh: {
      const bool source = service.scheduler == dp::Scheduler::sh;
      const uint32_t bucket = source ? dp::source_hash_bucket(key.client_ip)
                                     : dp::destination_hash_bucket(key.dst_ip);
      if (!service.buckets.empty()) c.candidate = service.buckets[bucket];
      c.details = {{"bucket", bucket}, {"buckets", dp::kHashBuckets}};
      c.why = fmt::format("the {} address hashes to bucket {} of {}, which holds {}",
                          source ? "client's" : "destination", bucket, dp::kHashBuckets,
                          candidate_name(svc, service, c.candidate));
      break;
    }
    case dp::Scheduler::lc:
    case dp::Scheduler::wlc:
    case dp::Scheduler::sed:
    case dp::Scheduler::nq: {
      json loads = json::array();
      auto load_of = [&view](uint16_t id) {
        const BackendConnections n = view.connections(id);
        return dp::Load{n.active, n.inactive};
      };
      for (uint16_t i = 0; i < service.candidates.size(); ++i) {
        const dp::Load l = load_of(service.candidates[i].id);
        loads.push_back({{"backend", candidate_name(svc, service, i)},
                         {"active", l.active},
                         {"inactive", l.inactive},
                         {"weight", service.candidates[i].weight}});
      }
      c.candidate = dp::pick_least_loaded(service.scheduler, service.candidates, load_of);
      c.details = {{"connections", std::move(loads)}};
      const char* rule = service.scheduler == dp::Scheduler::lc    ? "active × 256 + inactive"
                         : service.scheduler == dp::Scheduler::wlc ? "(active × 256 + inactive) / weight"
                         : service.scheduler == dp::Scheduler::sed ? "(active + 1) / weight"
                                                                   : "an idle backend, else (active + 1) / weight";
      if (c.candidate != dp::kNoCandidate) {
        const dp::Load l = load_of(service.candidate_id(c.candidate));
        c.why = fmt::format("{} has the least load by {}: {} active, {} inactive connections "
                            "(every worker's count now; a worker decides on its own exact count "
                            "and the others' of at most a few milliseconds ago)",
                            candidate_name(svc, service, c.candidate), rule, l.active, l.inactive);
      }
      break;
    }
    case dp::Scheduler::rr:
    case dp::Scheduler::wrr: {
      json order = json::array();
      for (uint16_t i = 0; i < service.candidates.size(); ++i)
        order.push_back({{"backend", candidate_name(svc, service, i)},
                         {"weight", service.candidates[i].weight}});
      c.details = {{"sequence", std::move(order)}};
      c.why = fmt::format("{} gives each new flow the next backend in turn{}; each worker keeps "
                          "its own place in the sequence, so which backend is next depends on "
                          "the worker the flow reaches",
                          dp::scheduler_name(service.scheduler),
                          service.scheduler == dp::Scheduler::wrr ? ", each as often as its weight"
                                                                  : "");
      break;
    }
  }
  return c;
}

// Which backend a new flow from CLIENT[:PORT] to VIP:PORT/PROTO goes to, and why.
HttpResponse simulate(const DirectorView& view, const HttpRequest& request) {
  const auto client = parse_ip_endpoint(query(request, "client"), true);
  const auto vip = parse_ip_endpoint(query(request, "vip"));
  const std::string proto_name = query(request, "proto").empty() ? "tcp" : query(request, "proto");
  if (!client || !vip || (proto_name != "tcp" && proto_name != "udp"))
    return error_response(400, "give client=IP[:PORT], vip=IP:PORT ([IPv6]:PORT) and "
                               "proto=tcp|udp");
  if (client->first.is_v4() != vip->first.is_v4())
    return error_response(400, "client and vip must be of one family");
  const Protocol proto = proto_name == "udp" ? Protocol::udp : Protocol::tcp;
  // The service with that port, else the VIP's service on every port (as the dataplane
  // classifies).
  const ServiceConfig* svc = nullptr;
  for (const ServiceConfig& s : view.config().services)
    if (s.vip == vip->first && s.protocol == proto &&
        (s.lists_port(vip->second) || (s.every_port() && svc == nullptr)))
      svc = &s;
  if (svc == nullptr)
    return error_response(404, fmt::format("no service on {}/{}", query(request, "vip"), proto_name));
  const dp::Snapshot* snap = view.snapshot();
  uint16_t index = 0;
  const uint8_t proto_number = static_cast<uint8_t>(proto);
  const dp::AddressKind kind =
      snap == nullptr ? dp::AddressKind::unknown
      : vip->first.is_v4()
          ? snap->classify(vip->first.v4(), dp::be16(vip->second), proto_number, &index)
          : snap->classify6(vip->first.v6(), dp::be16(vip->second), proto_number, &index);
  // A backup answers too, as it would once master: a VIP held elsewhere is indexed all the
  // same (its index is the service's only when the snapshot has that very service).
  if ((kind != dp::AddressKind::service && kind != dp::AddressKind::not_owned) ||
      snap->service(index).vip != svc->vip.v4() || snap->service(index).vip6 != svc->vip.v6() || snap->service(index).port != dp::be16(svc->port) ||
      snap->service(index).proto != static_cast<uint8_t>(proto))
    return error_response(503, "the dataplane has no table for that service yet");
  const dp::Service& service = snap->service(index);
  const bool hashes_port = uses_maglev(service.scheduler) && service.hash_on == dp::HashOn::five_tuple;
  if (hashes_port && client->second == 0)
    return error_response(400, fmt::format("service {} hashes the 5-tuple: give the client's port "
                                           "too (client=IP:PORT)", svc->name));
  // What the worker's scheduler sees of the flow (pipeline.cc builds the same).
  dp::NewFlow key{};
  if (vip->first.is_v4()) {
    const dp::FlowKey k{client->first.v4(), vip->first.v4(), dp::be16(client->second),
                        dp::be16(vip->second), proto_number};
    key = {k.src_ip, k.dst_ip, dp::FlowTable::hash(k)};
  } else {
    const dp::FlowKey6 k{client->first.v6(), vip->first.v6(), dp::be16(client->second),
                         dp::be16(vip->second), proto_number};
    key = {dp::client_address6(service, k.src_ip), dp::scheduling_address(k.dst_ip),
           dp::FlowTable6::hash(k)};
  }
  Choice choice;
  if (service.persistence_timeout_ms != 0) {
    const std::optional<uint16_t> id = view.persisted(service, key.client_ip);
    if (id && snap->new_flow_backend(*id, index) != nullptr) {
      for (uint16_t i = 0; i < service.candidates.size(); ++i)
        if (service.candidates[i].id == *id) choice.candidate = i;
      choice.details = {{"persistence", "hit"}};
      choice.why = fmt::format("the client ({} under netmask {}) has a live persistence entry for "
                               "{}",
                               to_string(client->first),
                               service.ipv6 ? fmt::format("/{}", service.persistence_prefix6)
                                            : dp::ipv4_to_string(service.persistence_mask),
                               candidate_name(*svc, service, choice.candidate));
    }
  }
  if (choice.why.empty()) {
    choice = choose(view, *svc, service, key);
    if (service.persistence_timeout_ms != 0) {
      choice.details["persistence"] = "miss";
      choice.why = "no persistence entry for the client: " + choice.why;
    }
  }
  json out = {{"service", svc->name},
              {"scheduler", dp::scheduler_name(service.scheduler)},
              {"backend", nullptr}};
  out.update(choice.details);
  if (service.candidates.empty()) {
    out["why"] = "no backend takes new flows (all down, drained or disabled; policy " +
                 std::string(to_string(svc->all_down)) + ")";
    return json_response(200, out.dump());
  }
  const uint16_t id = service.candidate_id(choice.candidate);
  for (const BackendConfig& b : svc->backends)
    if (b.id == id)
      out["backend"] = {{"name", b.name},
                        {"address", to_string(b.address)},
                        {"port", b.port != 0 ? b.port : vip->second}};  // multi-port: kept
  out["why"] = (service.owned ? "" : "another director holds the VIP now; as master: ") +
               choice.why + (choice.candidate == dp::kNoCandidate
                                 ? ""
                                 : "; an established flow stays with the backend it is pinned "
                                   "to while that backend is up");
  return json_response(200, out.dump());
}

}  // namespace

void register_traffic_api(ApiRegistry& registry, const DirectorView& view,
                          DirectorCommands& commands) {
  Router& r = registry.routes();
  r.add("GET", "/v1/counters", [&view](const HttpRequest&, const PathParams&) {
    return json_response(200, to_json(view.counters()).dump());
  });
  r.add("GET", "/v1/flows", [&view, &commands](const HttpRequest& request, const PathParams&) {
    return flows(view, commands, request);
  });
  r.add("GET", "/v1/simulate", [&view](const HttpRequest& request, const PathParams&) {
    return simulate(view, request);
  });
  registry.metric_families([&view](MetricFamilies& f) { add_metrics(view.counters(), f); });
}

}  // namespace shoal::cp

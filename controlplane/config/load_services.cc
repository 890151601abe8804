// `services:` and their backends — read in the first pass (their `health_check:` maps in
// load_health_check.cc); in the second, names and endpoints unique, backends reachable in
// their forwarding mode, NAT replies unambiguous, sorry servers usable, the totals kept.
#include <algorithm>
#include <tuple>

#include "config/loader.h"

namespace shoal::cp::config_loader {
namespace {

constexpr std::string_view kServiceKeys[] = {
    "name",        "vip",      "port",         "protocol", "forwarding", "scheduler",
    "hash",        "maglev_size", "backends", "health_check", "all_down", "sync",
    "persistence", "quorum", "notify_up", "notify_down"};
constexpr std::string_view kPersistenceKeys[] = {"timeout", "netmask"};
constexpr std::string_view kQuorumKeys[] = {"up", "hysteresis"};
constexpr std::string_view kBackendKeys[] = {"name",   "address",     "port", "weight",
                                             "sorry",  "health_check", "notify_up",
                                             "notify_down"};

// Backend names default to "address:port", so they may hold dots and colons as well.
bool valid_backend_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':';
  });
}

std::string endpoint(uint32_t ip, uint16_t port) {
  return fmt::format("{}:{}", dp::ipv4_to_string(ip), port);
}

}  // namespace

void Loader::parse_service(const YAML::Node& node, int line) {
  auto [svc, rec, m] =
      append_item(node, line, "a service", kServiceKeys, config_.services, services_);
  if (!m.ok()) return;
  rec.name_ok = name(m, "service", svc.name, rec.name_line);
  if (const Field* f = m.require("vip")) {
    rec.vip_line = f->line;
    if (auto ip = address(*f)) svc.vip = *ip, rec.vip_ok = true;
  }
  if (const Field* f = m.require("port")) {
    rec.port_line = f->line;
    if (auto v = integer(*f, 1, 65535)) svc.port = static_cast<uint16_t>(*v), rec.port_ok = true;
  }
  if (const Field* f = m.get("protocol")) {
    auto v = choice<Protocol>(*f, {{"tcp", Protocol::tcp}, {"udp", Protocol::udp}});
    if (v) svc.protocol = *v;
    rec.protocol_ok = v.has_value();
  }
  if (const Field* f = m.require("forwarding")) {
    rec.mode_line = f->line;
    auto v = choice<dp::ForwardMode>(*f, {{"dr", dp::ForwardMode::dr},
                                          {"nat", dp::ForwardMode::nat},
                                          {"tun", dp::ForwardMode::tun}});
    if (v) svc.forwarding = *v, rec.mode_ok = true;
  }
  if (const Field* f = m.get("scheduler"))
    if (auto v = choice<dp::Scheduler>(
            *f, {{"maglev", dp::Scheduler::maglev}, {"rr", dp::Scheduler::rr},
                 {"wrr", dp::Scheduler::wrr},       {"lc", dp::Scheduler::lc},
                 {"wlc", dp::Scheduler::wlc},       {"sed", dp::Scheduler::sed},
                 {"nq", dp::Scheduler::nq},         {"sh", dp::Scheduler::sh},
                 {"dh", dp::Scheduler::dh},         {"mh", dp::Scheduler::mh}}))
      svc.scheduler = *v;
  const bool maglev = uses_maglev(svc.scheduler);
  // A NAT flow's replies come back through this director, and a scheduler that does not map a
  // flow alike on every director (rr, lc...) loses DR and TUN flows on a failover: their flows
  // go to the peers unless the file says otherwise.
  svc.sync = svc.forwarding == dp::ForwardMode::nat || !dp::maps_alike_everywhere(svc.scheduler);
  if (const Field* f = m.get("sync"))
    if (auto v = boolean(*f)) svc.sync = *v;
  svc.hash = svc.scheduler == dp::Scheduler::mh ? dp::HashOn::source_address
                                                 : dp::HashOn::five_tuple;
  if (const Field* f = m.get("hash")) {
    if (!maglev)
      error(f->line, fmt::format("'hash' applies to the maglev and mh schedulers, not to '{}'",
                                 dp::scheduler_name(svc.scheduler)));
    else if (auto v = choice<dp::HashOn>(*f, {{"5-tuple", dp::HashOn::five_tuple},
                                              {"source-address", dp::HashOn::source_address}}))
      svc.hash = *v;
  }
  if (const Field* f = m.get("maglev_size")) {
    rec.maglev_line = f->line;
    rec.maglev_ok = false;
    if (!maglev) {
      error(f->line, fmt::format("'maglev_size' applies to the maglev and mh schedulers, not "
                                 "to '{}'",
                                 dp::scheduler_name(svc.scheduler)));
    } else if (auto v = integer(*f, 2, kMaxMaglevSize)) {
      if (dp::is_prime(static_cast<uint32_t>(*v))) {
        svc.maglev_size = static_cast<uint32_t>(*v);
        rec.maglev_ok = true;
      } else {
        error(f->line, fmt::format("'maglev_size' {} is not prime (Maglev needs a prime "
                                   "table size; the default is {})",
                                   *v, dp::kDefaultMaglevSize));
      }
    }
  }
  if (const Field* f = m.get("persistence")) parse_persistence(*f, svc);
  if (const Field* f = m.get("quorum")) {
    rec.quorum_line = f->line;
    parse_quorum(*f, svc);
  }
  if (const Field* f = m.get("all_down")) {
    rec.all_down_line = f->line;
    if (auto v = choice<AllDownPolicy>(*f, {{"drop", AllDownPolicy::drop},
                                            {"fail-open", AllDownPolicy::fail_open},
                                            {"sorry", AllDownPolicy::sorry}}))
      svc.all_down = *v;
  }
  const std::optional<Map> health = parse_service_check(m.get("health_check"), svc.health);
  const Map* service_health = health ? &*health : nullptr;
  HealthUsage usage;
  if (const Field* f = m.require("backends"))
    each_item(*f,
              "'backends' must list at least one backend (set a backend's weight "
              "to 0 to drain it)",
              [&](const YAML::Node& item, int item_line) {
                parse_backend(item, item_line, svc, rec, service_health, usage);
              });
  check_unused_health_keys(service_health, usage, svc.health);
  // The service's commands are its backends' defaults.
  for (auto [key, member] : {std::pair{"notify_up", &BackendConfig::notify_up},
                             std::pair{"notify_down", &BackendConfig::notify_down}})
    if (const Field* f = m.get(key))
      if (auto c = notify_command(*f))
        for (BackendConfig& b : svc.backends)
          if ((b.*member).empty()) b.*member = *c;
}

// `persistence: {timeout: SECONDS, netmask: 255.255.255.0}` (or a prefix length: 24).
void Loader::parse_persistence(const Field& field, ServiceConfig& svc) {
  Map m(*this, field.value, field.line, "'persistence'", kPersistenceKeys);
  if (!m.ok()) return;
  if (const Field* f = m.require("timeout"))
    if (auto v = integer(*f, 1, kMaxPersistenceTimeoutSeconds))
      svc.persistence_timeout_s = static_cast<uint32_t>(*v);
  const Field* f = m.get("netmask");
  if (f == nullptr) return;
  uint32_t host_mask = 0;  // host byte order
  if (f->value.IsScalar() && f->value.Scalar().find('.') == std::string::npos) {
    auto length = integer(*f, 0, 32);
    if (!length) return;
    host_mask = *length == 0 ? 0 : ~uint32_t(0) << (32 - *length);
  } else {
    auto mask = f->value.IsScalar() ? parse_ipv4(f->value.Scalar()) : std::nullopt;
    if (!mask) {
      error(f->line, "'netmask' must be a netmask (255.255.255.0) or a prefix length (24)");
      return;
    }
    host_mask = __builtin_bswap32(*mask);
    if ((~host_mask & (~host_mask + 1)) != 0) {  // the ones must be contiguous from the top
      error(f->line, fmt::format("'netmask' {} is not a netmask (contiguous ones, then zeros)",
                                 dp::ipv4_to_string(*mask)));
      return;
    }
  }
  svc.persistence_netmask = __builtin_bswap32(host_mask);
}

// `quorum: 3`, or `quorum: {up: 3, hysteresis: 1}`: keepalived's quorum and hysteresis.
void Loader::parse_quorum(const Field& field, ServiceConfig& svc) {
  if (field.value.IsScalar()) {
    if (auto v = integer(field, 1, kMaxQuorum)) svc.quorum = static_cast<uint32_t>(*v);
    return;
  }
  Map m(*this, field.value, field.line, "'quorum'", kQuorumKeys);
  if (!m.ok()) return;
  if (const Field* f = m.require("up"))
    if (auto v = integer(*f, 1, kMaxQuorum)) svc.quorum = static_cast<uint32_t>(*v);
  if (const Field* f = m.get("hysteresis")) {
    if (auto v = integer(*f, 0, kMaxQuorum)) {
      if (*v >= svc.quorum)
        error(f->line, fmt::format("'hysteresis' {} must be below the quorum ({}): the service "
                                   "could never lose it",
                                   *v, svc.quorum));
      else
        svc.quorum_hysteresis = static_cast<uint32_t>(*v);
    }
  }
}

void Loader::parse_backend(const YAML::Node& node, int line, ServiceConfig& svc, ServiceRec& srec,
                           const Map* service_health, HealthUsage& usage) {
  auto [b, r, m] = append_item(node, line, "a backend", kBackendKeys, svc.backends, srec.backends);
  if (!m.ok()) return;
  bool named = false;
  if (const Field* f = m.get("name")) {
    r.name_line = f->line;
    if (auto s = string(*f)) {
      if (valid_backend_name(*s)) {
        b.name = *s;
        named = true;
      } else {
        error(f->line, fmt::format("backend name '{}' must be made of letters, digits and "
                                   "'_', '-', '.', ':'",
                                   *s));
      }
    }
  }
  if (const Field* f = m.require("address")) {
    r.address_line = f->line;
    if (auto ip = address(*f)) b.address = *ip, r.address_ok = true;
  }
  if (const Field* f = m.get("port")) {
    r.port_line = f->line;
    if (auto v = integer(*f, 1, 65535)) b.port = static_cast<uint16_t>(*v), r.port_ok = true;
  } else {
    r.port_line = line;
    b.port = svc.port;
    r.port_ok = srec.port_ok;
  }
  if (const Field* f = m.get("weight"))
    if (auto v = integer(*f, 0, 65535)) b.weight = static_cast<uint32_t>(*v);
  if (const Field* f = m.get("sorry")) {
    r.sorry_line = f->line;
    if (auto v = boolean(*f)) b.sorry = *v;
  }
  parse_backend_check(m.get("health_check"), service_health, b, usage);
  if (const Field* f = m.get("notify_up"))
    if (auto c = notify_command(*f)) b.notify_up = std::move(*c);
  if (const Field* f = m.get("notify_down"))
    if (auto c = notify_command(*f)) b.notify_down = std::move(*c);
  if (!named && r.address_ok && r.port_ok) b.name = endpoint(b.address, b.port);
  if (!r.name_line) r.name_line = line;
}

void Loader::check_services() {
  std::map<std::string, int> names;
  std::map<std::tuple<uint32_t, uint16_t, Protocol>, std::pair<std::string, int>> endpoints;
  std::map<uint32_t, std::string> vips;
  // NAT replies are matched to their service by (backend address, port, protocol) alone.
  std::map<std::tuple<uint32_t, uint16_t, Protocol>, std::pair<std::string, int>> nat_backends;
  size_t total = 0;

  for (size_t i = 0; i < config_.services.size(); ++i)
    if (services_[i].vip_ok) vips.emplace(config_.services[i].vip, config_.services[i].name);

  for (size_t i = 0; i < config_.services.size(); ++i) {
    const ServiceConfig& s = config_.services[i];
    const ServiceRec& r = services_[i];
    const std::string label = r.name_ok ? fmt::format("service '{}'", s.name) : "service";
    const std::string_view mode = to_string(s.forwarding);
    if (r.name_ok) unique_name(names, s.name, r.name_line, "service");
    if (r.vip_ok) {
      if (auto it = locals_.find(s.vip); it != locals_.end())
        error(r.vip_line,
              fmt::format("{}: VIP {} is a local address of port '{}' (line {}); a "
                          "VIP must be an address of its own",
                          label, dp::ipv4_to_string(s.vip), it->second.port, it->second.line));
    }
    if (r.vip_ok && r.port_ok && r.protocol_ok) {
      auto [it, fresh] =
          endpoints.emplace(std::tuple{s.vip, s.port, s.protocol}, std::pair{s.name, r.vip_line});
      if (!fresh)
        error(r.vip_line, fmt::format("{}: {}/{} is already served by service '{}' (line {})",
                                      label, endpoint(s.vip, s.port), to_string(s.protocol),
                                      it->second.first, it->second.second));
    }

    std::map<std::pair<uint32_t, uint16_t>, int> seen;
    std::map<std::string, int> backend_names;
    for (size_t j = 0; j < s.backends.size(); ++j) {
      const BackendConfig& b = s.backends[j];
      const BackendRec& br = r.backends[j];
      if (++total == kMaxBackends + 1)
        error(br.line, fmt::format("too many backends: at most {} in total over every service",
                                   kMaxBackends));
      bool duplicate = false;
      if (br.address_ok && br.port_ok) {
        auto [it, fresh] = seen.emplace(std::pair{b.address, b.port}, br.address_line);
        if (!fresh) {
          error(br.address_line, fmt::format("{}: duplicate backend {} (first at line {})", label,
                                             endpoint(b.address, b.port), it->second));
          duplicate = true;  // its default name repeats too: one mistake, one error
        }
      }
      if (!duplicate && !b.name.empty() && !backend_names.emplace(b.name, br.name_line).second)
        error(br.name_line, fmt::format("{}: duplicate backend name '{}' (first at line {})", label,
                                        b.name, backend_names[b.name]));
      if (!br.address_ok) continue;
      const std::string ip = dp::ipv4_to_string(b.address);
      if (auto it = locals_.find(b.address); it != locals_.end()) {
        error(br.address_line, fmt::format("{}: backend {} is a local address of port '{}'", label,
                                           ip, it->second.port));
        continue;
      }
      if (auto it = vips.find(b.address); it != vips.end()) {
        error(br.address_line,
              fmt::format("{}: backend {} is the VIP of service '{}'", label, ip, it->second));
        continue;
      }
      if (!r.mode_ok) continue;
      if (s.forwarding != dp::ForwardMode::nat && br.port_ok && r.port_ok && b.port != s.port)
        error(br.port_line, fmt::format("{}: backend {} has port {} but {} forwarding cannot "
                                        "change the destination port (only nat can): use {} "
                                        "or omit it",
                                        label, ip, b.port, mode, s.port));
      if (network_known_) {
        if (s.forwarding == dp::ForwardMode::dr) {
          if (!on_link(b.address))
            error(br.address_line, fmt::format("{}: dr backend {} is not on-link (not inside "
                                               "any port's subnet); direct routing needs the "
                                               "real servers on the director's L2 segment",
                                               label, ip));
        } else if (!on_link(b.address) && !routed(b.address)) {
          error(br.address_line, fmt::format("{}: {} backend {} is unreachable: not inside any "
                                             "port's subnet and no gateway or route covers it",
                                             label, mode, ip));
        }
      }
      if (s.forwarding == dp::ForwardMode::nat && br.port_ok && r.protocol_ok) {
        auto [it, fresh] = nat_backends.emplace(std::tuple{b.address, b.port, s.protocol},
                                                std::pair{s.name, br.address_line});
        if (!fresh && it->second.first != s.name)
          error(br.address_line,
                fmt::format("{}: nat backend {}/{} is also a backend of nat service '{}' (line "
                            "{}); replies are matched to a service by their source alone, so "
                            "a backend address:port can serve one nat service only",
                            label, endpoint(b.address, b.port), to_string(s.protocol),
                            it->second.first, it->second.second));
      }
    }

    if (r.maglev_ok && !s.backends.empty()) {
      const int line = r.maglev_line ? r.maglev_line : r.line;
      const uint64_t n = s.backends.size();
      if (s.maglev_size <= n)
        error(line, fmt::format("{}: 'maglev_size' {} must be larger than its number of "
                                "backends ({})",
                                label, s.maglev_size, n));
      else if (s.maglev_size <= 100 * n)
        warn(line, fmt::format("{}: 'maglev_size' {} is at most 100 x its {} backends: load "
                               "will be spread unevenly; use a prime above {}",
                               label, s.maglev_size, n, 100 * n));
    }
    check_sorry_servers(s, r, label);
    uint64_t real_weight = 0;
    for (const BackendConfig& b : s.backends)
      if (!b.sorry) real_weight += b.weight;
    if (r.quorum_line && s.quorum + s.quorum_hysteresis > real_weight)
      warn(r.quorum_line, fmt::format("{}: its real backends weigh {} in all, below the quorum of "
                                      "{} (+ hysteresis {}): it stays down unless the operator "
                                      "raises their weights",
                                      label, real_weight, s.quorum, s.quorum_hysteresis));
    if (!s.backends.empty() && std::all_of(s.backends.begin(), s.backends.end(),
                                           [](const BackendConfig& b) { return b.weight == 0; }))
      warn(r.line, fmt::format("{}: every backend has weight 0: it takes no new flows", label));
  }
}

// Sorry servers stand in only under the `all_down: sorry` policy, and never alone.
void Loader::check_sorry_servers(const ServiceConfig& s, const ServiceRec& r,
                                 const std::string& label) {
  const auto sorry = [](const BackendConfig& b) { return b.sorry; };
  const size_t count =
      static_cast<size_t>(std::count_if(s.backends.begin(), s.backends.end(), sorry));
  if (s.all_down == AllDownPolicy::sorry && count == 0)
    error(r.all_down_line, fmt::format("{}: 'all_down: sorry' needs a backend marked "
                                       "'sorry: true' to send new flows to",
                                       label));
  if (count > 0 && s.all_down != AllDownPolicy::sorry)
    for (size_t j = 0; j < s.backends.size(); ++j)
      if (s.backends[j].sorry)
        error(r.backends[j].sorry_line,
              fmt::format("{}: backend '{}' is a sorry server but the service's 'all_down' is "
                          "{}: set 'all_down: sorry' to use it",
                          label, s.backends[j].name, to_string(s.all_down)));
  if (count > 0 && count == s.backends.size())
    error(r.line, fmt::format("{}: every backend is a sorry server; a service needs at least "
                              "one real backend",
                              label));
}

}  // namespace shoal::cp::config_loader

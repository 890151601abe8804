// `services:` and their backends — read in the first pass (their `health_check:` maps in
// load_health_check.cc); in the second, names and endpoints unique, backends reachable in
// their forwarding mode, NAT replies unambiguous, sorry servers usable, the totals kept.
#include <algorithm>
#include <tuple>

#include "config/loader.h"
#include "dataplane/forward_ipv6.h"

namespace shoal::cp::config_loader {
namespace {

constexpr std::string_view kServiceKeys[] = {
    "name",        "vip",      "port",         "ports",    "protocol", "forwarding",
    "scheduler",   "hash",     "maglev_size",  "backends", "health_check", "all_down",
    "sync",        "persistence", "quorum",    "notify_up", "notify_down"};
constexpr std::string_view kPersistenceKeys[] = {"timeout", "netmask"};
constexpr std::string_view kQuorumKeys[] = {"up", "hysteresis", "notify_up", "notify_down"};
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

std::string endpoint(const IpAddress& ip, uint16_t port) { return endpoint_string(ip, port); }

// The ports a service takes an entry for, host byte order: its port, each port it lists, or
// 0 for every port.
std::vector<uint16_t> entry_ports(const ServiceConfig& s) {
  std::vector<uint16_t> out;
  for (const dp::PortRange& r : s.port_ranges)
    for (uint32_t port = r.first; port <= r.last; ++port) out.push_back(static_cast<uint16_t>(port));
  if (out.empty()) out.push_back(s.port);
  return out;
}

}  // namespace

void Loader::parse_service(const YAML::Node& node, int line) {
  auto [svc, rec, m] =
      append_item(node, line, "a service", kServiceKeys, config_.services, services_);
  if (!m.ok()) return;
  rec.name_ok = name(m, "service", svc.name, rec.name_line);
  if (const Field* f = m.require("vip")) {
    rec.vip_line = f->line;
    if (auto ip = ip_address(*f)) svc.vip = *ip, rec.vip_ok = true;
  }
  parse_service_ports(m, svc, rec);
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

// `port: 80`, or for a multi-port service `port: 0` / `ports: all` (every port) or
// `ports: [80, 443, "8000-8100"]` (ports and inclusive ranges, none listed twice).
void Loader::parse_service_ports(const Map& m, ServiceConfig& svc, ServiceRec& rec) {
  const Field* one = m.get("port");
  const Field* list = m.get("ports");
  if (one && list) {
    error(list->line, fmt::format("a service takes 'port' or 'ports', not both ('port' is at "
                                  "line {})",
                                  one->line));
    return;
  }
  if (!list) {
    if (const Field* f = m.require("port")) {
      rec.port_line = f->line;
      if (auto v = integer(*f, 0, 65535)) svc.port = static_cast<uint16_t>(*v), rec.port_ok = true;
    }
    return;
  }
  rec.port_line = list->line;
  svc.port = 0;
  if (list->value.IsScalar() && list->value.Scalar() == "all") {
    rec.port_ok = true;
    return;
  }
  if (!list->value.IsSequence()) {
    error(list->line, fmt::format("'ports' must be 'all' or a list of ports and ranges "
                                  "([80, 443, \"8000-8100\"]), got {}",
                                  describe(list->value)));
    return;
  }
  bool ok = true;
  std::vector<int> lines;
  for (const YAML::Node& item : list->value) {
    const int line = line_of(item, list->line);
    std::optional<dp::PortRange> range = port_range(item, line);
    if (!range) {
      ok = false;
      continue;
    }
    svc.port_ranges.push_back(*range);
    lines.push_back(line);
  }
  if (list->value.size() == 0) {
    error(list->line, "'ports' must list at least one port or range, or be 'all'");
    return;
  }
  // No port twice: a port belongs to one range, which the API and `shoalctl list` show.
  std::vector<size_t> order(svc.port_ranges.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return svc.port_ranges[a].first < svc.port_ranges[b].first;
  });
  for (size_t k = 1; k < order.size(); ++k) {
    const dp::PortRange& before = svc.port_ranges[order[k - 1]];
    const dp::PortRange& after = svc.port_ranges[order[k]];
    if (after.first <= before.last) {
      const size_t later = std::max(order[k - 1], order[k]);
      error(lines[later], fmt::format("'ports': port {} is listed twice (lines {} and {})",
                                      after.first, lines[std::min(order[k - 1], order[k])],
                                      lines[later]));
      ok = false;
    }
  }
  rec.port_ok = ok;
}

// One item of `ports:`: a port (443) or an inclusive range ("8000-8100").
std::optional<dp::PortRange> Loader::port_range(const YAML::Node& item, int line) {
  const std::string text = item.IsScalar() ? item.Scalar() : std::string();
  const size_t dash = text.find('-');
  auto number = [](std::string_view digits) -> std::optional<uint32_t> {
    if (digits.empty() || digits.size() > 5 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    return static_cast<uint32_t>(std::stoul(std::string(digits)));
  };
  std::optional<uint32_t> first = number(std::string_view(text).substr(0, dash));
  std::optional<uint32_t> last =
      dash == std::string::npos ? first : number(std::string_view(text).substr(dash + 1));
  if (!first || !last) {
    error(line, fmt::format("'ports': '{}' is neither a port (443) nor a range of ports "
                            "(\"8000-8100\")",
                            item.IsScalar() ? text : describe(item)));
    return std::nullopt;
  }
  if (*first == 0 || *last == 0) {
    error(line, "'ports': port 0 cannot be listed; 'ports: all' (or 'port: 0') serves every port");
    return std::nullopt;
  }
  if (*first > 65535 || *last > 65535) {
    error(line, fmt::format("'ports': '{}' is past the last port, 65535", text));
    return std::nullopt;
  }
  if (*first > *last) {
    error(line, fmt::format("'ports': range '{}' is empty (its first port is above its last)",
                            text));
    return std::nullopt;
  }
  return dp::PortRange{static_cast<uint16_t>(*first), static_cast<uint16_t>(*last)};
}

// `persistence: {timeout: SECONDS, netmask: 255.255.255.0}` (or a prefix length: 24); an IPv6
// VIP's clients are grouped by a prefix length alone (netmask: 64), as ipvsadm's -M takes it.
void Loader::parse_persistence(const Field& field, ServiceConfig& svc) {
  Map m(*this, field.value, field.line, "'persistence'", kPersistenceKeys);
  if (!m.ok()) return;
  if (const Field* f = m.require("timeout"))
    if (auto v = integer(*f, 1, kMaxPersistenceTimeoutSeconds))
      svc.persistence_timeout_s = static_cast<uint32_t>(*v);
  const Field* f = m.get("netmask");
  if (f == nullptr) return;
  if (svc.vip.is_v6()) {
    if (!f->value.IsScalar() || f->value.Scalar().find_first_of(".:") != std::string::npos) {
      error(f->line, "an IPv6 service's 'netmask' is a prefix length (64)");
      return;
    }
    if (auto length = integer(*f, 0, 128)) svc.persistence_prefix6 = static_cast<uint8_t>(*length);
    return;
  }
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

// `quorum: 3`, or `quorum: {up: 3, hysteresis: 1, notify_up: CMD, notify_down: CMD}`:
// keepalived's quorum, hysteresis, quorum_up and quorum_down.
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
  if (const Field* f = m.get("notify_up"))
    if (auto c = notify_command(*f)) svc.quorum_up = std::move(*c);
  if (const Field* f = m.get("notify_down"))
    if (auto c = notify_command(*f)) svc.quorum_down = std::move(*c);
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
    if (auto ip = ip_address(*f)) b.address = *ip, r.address_ok = true;
  }
  if (const Field* f = m.get("port"); f && srec.port_ok && svc.multi_port()) {
    r.port_line = f->line;
    error(f->line, fmt::format("a backend of multi-port service '{}' takes no 'port': it gets "
                               "each packet's own destination port (nat keeps it too)",
                               svc.name));
  } else if (f) {
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
  if (srec.port_ok && svc.multi_port()) default_check_port(svc, b, line);
  if (const Field* f = m.get("notify_up"))
    if (auto c = notify_command(*f)) b.notify_up = std::move(*c);
  if (const Field* f = m.get("notify_down"))
    if (auto c = notify_command(*f)) b.notify_down = std::move(*c);
  if (!named && r.address_ok && r.port_ok)
    b.name = b.port != 0 ? endpoint(b.address, b.port) : to_string(b.address);
  if (!r.name_line) r.name_line = line;
}

// A backend of a multi-port service has no port of its own: its checks go to the check's
// `port`, or by default to the first port the service lists. A service on every port has no
// first port: a check that connects needs its `port`.
void Loader::default_check_port(const ServiceConfig& svc, BackendConfig& b, int line) {
  const hc::CheckType type = b.health.type;
  const bool connects = type == hc::CheckType::tcp || type == hc::CheckType::http ||
                        type == hc::CheckType::https || type == hc::CheckType::udp;
  if (!connects || b.health.port != 0) return;
  if (!svc.every_port()) {
    b.health.port = svc.port_ranges.front().first;
    return;
  }
  error(line, fmt::format("service '{}' serves every port: the health_check of backend {} "
                          "needs a 'port' to check",
                          svc.name, to_string(b.address)));
}

void Loader::check_services() {
  std::map<std::string, int> names;
  std::map<std::tuple<IpAddress, uint16_t, Protocol>, std::pair<std::string, int>> endpoints;
  std::map<IpAddress, std::string> vips;
  // NAT replies are matched to their service by (backend address, port, protocol) alone.
  std::map<std::tuple<IpAddress, uint16_t, Protocol>, std::pair<std::string, int>> nat_backends;
  size_t total = 0;
  size_t listed_entries = 0;
  bool over_listed = false;

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
                          label, to_string(s.vip), it->second.port, it->second.line));
    }
    if (s.forwarding == dp::ForwardMode::tun) check_ipv6_tunnel_mtu(s, r, label);
    const std::vector<uint16_t> ports = r.port_ok ? entry_ports(s) : std::vector<uint16_t>{};
    if (r.vip_ok && r.port_ok && r.protocol_ok) {
      // Every listed port is one entry (port 0: every port), so that a port in two services
      // is found however each lists it. A service with the packet's port wins over one on
      // every port: those two may share a VIP.
      for (uint16_t port : ports) {
        auto [it, fresh] =
            endpoints.emplace(std::tuple{s.vip, port, s.protocol}, std::pair{s.name, r.vip_line});
        if (fresh) continue;
        error(r.vip_line,
              fmt::format("{}: {}/{} is already served by service '{}' (line {})", label,
                          port == 0 ? fmt::format("every port of {}", to_string(s.vip))
                                    : endpoint(s.vip, port),
                          to_string(s.protocol), it->second.first, it->second.second));
        break;  // one overlap, one error
      }
      if (!s.port_ranges.empty())
        listed_entries +=
            ports.size() * (1 + (s.forwarding == dp::ForwardMode::nat ? s.backends.size() : 0));
      if (listed_entries > dp::kMaxListedPortEntries && !over_listed) {
        over_listed = true;
        error(r.port_line, fmt::format("{}: multi-port services list more than {} ports in "
                                       "all (each listed port counts once, and once more per "
                                       "nat backend): serve wide ranges with 'ports: all'",
                                       label, dp::kMaxListedPortEntries));
      }
    }

    std::map<std::pair<IpAddress, uint16_t>, int> seen;
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
      const std::string ip = to_string(b.address);
      if (r.vip_ok && b.address.is_v4() != s.vip.is_v4()) {
        // 4-in-6: an IPv4 VIP's packets reach IPv6-only real servers inside IPv6 (as Katran
        // does); no other mode can cross families, and neither can an IPv6 VIP go to IPv4.
        const bool four_in_six = s.vip.is_v4() && r.mode_ok && s.forwarding == dp::ForwardMode::tun;
        if (!four_in_six) {
          error(br.address_line,
                fmt::format("{}: backend {} is {} but the VIP {} is {}: a service is one family "
                            "(only tun carries an IPv4 VIP to IPv6 real servers, 4-in-6)",
                            label, ip, family_name(b.address), to_string(s.vip),
                            family_name(s.vip)));
          continue;
        }
      }
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
        // A multi-port service's backend answers from each of its ports (0: from any).
        const std::vector<uint16_t> sources =
            s.multi_port() ? ports : std::vector<uint16_t>{b.port};
        for (uint16_t port : sources) {
          auto [it, fresh] = nat_backends.emplace(std::tuple{b.address, port, s.protocol},
                                                  std::pair{s.name, br.address_line});
          if (fresh || it->second.first == s.name) continue;
          error(br.address_line,
                fmt::format("{}: nat backend {}/{} is also a backend of nat service '{}' (line "
                            "{}); replies are matched to a service by their source alone, so "
                            "a backend address:port can serve one nat service only",
                            label, endpoint(b.address, port), to_string(s.protocol),
                            it->second.first, it->second.second));
          break;
        }
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

// IPv6 routers never fragment, and every IPv6 link carries 1280 bytes (RFC 8200 §5): a real
// server reached inside IPv6 must be behind a port whose MTU leaves 1280 bytes inside the
// 40-byte outer header, or the clients' packets that fit the minimum could never get through
// (a Packet Too Big below 1280 is not believed).
void Loader::check_ipv6_tunnel_mtu(const ServiceConfig& s, const ServiceRec& r,
                                   const std::string& label) {
  constexpr unsigned kNeeded = dp::kIpv6MinMtu + dp::kIpv6TunnelOverhead;
  for (size_t b = 0; b < s.backends.size(); ++b) {
    const BackendConfig& backend = s.backends[b];
    if (!r.backends[b].address_ok || !backend.address.is_v6()) continue;
    int port = config_.on_link_port(backend.address);
    for (size_t i = 0; port < 0 && i < config_.ports.size(); ++i)
      if (config_.ports[i].gateway6) port = static_cast<int>(i);
    if (port < 0 || config_.ports[port].mtu >= kNeeded) continue;
    error(r.backends[b].address_line,
          fmt::format("{}: real server {} is reached inside IPv6 through port '{}', whose mtu "
                      "{} leaves less than IPv6's 1280 bytes inside the tunnel: give the port "
                      "an mtu of at least {}",
                      label, to_string(backend.address), config_.ports[port].name,
                      config_.ports[port].mtu, kNeeded));
    return;  // once per service
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

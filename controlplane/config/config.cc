// YAML → validated Config. Two passes over one parse: the first reads every section into the
// model, checking shapes, types and ranges field by field and remembering where each value
// sits; the second checks what only the whole file can tell (uniqueness, on-link and
// reachability, NAT reply ambiguity, totals). Both passes report and carry on, so one load
// lists every mistake. A value that did not parse is left out of the second pass's checks
// instead of producing follow-on errors of its own.
#include "config/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <span>
#include <sstream>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace shoal::cp {
namespace {

uint32_t to_host(uint32_t nbo) {
  return __builtin_bswap32(nbo);
}

bool valid_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// A Linux interface name (IFNAMSIZ - 1 characters), without the characters that need quoting.
bool valid_interface_name(std::string_view s) {
  return !s.empty() && s.size() <= 15 && s != "." && s != ".." &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
         });
}

// Backend names default to "address:port", so they may hold dots and colons as well.
bool valid_backend_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':';
  });
}

// Why `ip` cannot be a host's unicast address, or nullptr if it can.
const char* unicast_problem(uint32_t ip) {
  const uint32_t h = to_host(ip);
  if (h == 0) return "the unspecified address 0.0.0.0";
  if (h == 0xffffffff) return "the broadcast address";
  if ((h >> 24) == 0) return "in 0.0.0.0/8 (\"this network\")";
  if ((h >> 24) == 127) return "a loopback address";
  if ((h >> 28) == 0xe) return "a multicast address";
  if ((h >> 28) == 0xf) return "a reserved (class E) address";
  return nullptr;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

const char* describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "nothing";
  }
}

std::string endpoint(uint32_t ip, uint16_t port) {
  return fmt::format("{}:{}", dp::ipv4_to_string(ip), port);
}

using Keys = std::span<const std::string_view>;

constexpr std::string_view kTopKeys[] = {"eal",      "log_level",  "ports",  "workers",
                                         "services", "neighbours", "routes", "tunnel_ttl",
                                         "api",      "vrrp",       "connection_sync"};
constexpr std::string_view kSyncKeys[] = {"port",       "group",   "udp_port",    "id",
                                          "table_size", "refresh", "pull_timeout"};
constexpr uint32_t kMaxSyncPullTimeoutMs = 60 * 1000;
constexpr std::string_view kApiKeys[] = {"socket", "listen", "token_file", "dashboard"};
constexpr std::string_view kVrrpKeys[] = {"instances", "sync_groups"};
constexpr std::string_view kVrrpInstanceKeys[] = {
    "name",        "vrid",      "priority", "interval",  "preempt", "preempt_delay",
    "virtual_mac", "v2_checksum", "port",   "addresses", "garp",    "track"};
constexpr std::string_view kVrrpGarpKeys[] = {"count", "interval", "refresh"};
constexpr std::string_view kVrrpTrackKeys[] = {"services", "ports"};
constexpr std::string_view kVrrpTrackItemKeys[] = {"name", "weight"};
constexpr std::string_view kVrrpGroupKeys[] = {"name", "instances"};
constexpr uint64_t kMaxVrrpIntervalCs = 4095;  // 12 bits on the wire
constexpr uint32_t kMaxPreemptDelayMs = 3600 * 1000;
constexpr uint32_t kMaxGarpCount = 100;
constexpr uint32_t kMaxGarpIntervalMs = 10 * 1000;
constexpr uint32_t kMaxGarpRefreshMs = 24 * 3600 * 1000;
constexpr size_t kMaxVrrpAddresses = 255;  // the advertisement's count field has 8 bits
constexpr std::string_view kPortKeys[] = {"name", "device", "addresses", "gateway", "mtu", "tap"};
constexpr std::string_view kWorkerKeys[] = {"count", "flow_table_size", "flow_timeouts"};
constexpr std::string_view kTimeoutKeys[] = {"syn", "established", "closing", "udp"};
constexpr std::string_view kServiceKeys[] = {"name",        "vip",      "port",        "protocol",
                                             "forwarding",  "hash",     "maglev_size", "backends",
                                             "health_check", "all_down",   "sync"};
constexpr std::string_view kBackendKeys[] = {"name",   "address",     "port", "weight",
                                             "sorry",  "health_check"};
// Every key of a `health_check:` map; the first eight apply to every check type.
constexpr std::string_view kHealthKeys[] = {
    "type", "interval", "timeout", "rise", "fall", "initial", "spread", "port",  // common
    "path", "host", "expect", "body", "read_limit", "verify_tls",                // http(s)
    "payload",                                                                  // udp
    "command", "weight_from_output"};                                           // exec
constexpr size_t kCommonHealthKeys = 8;
constexpr uint32_t kMinIntervalMs = 100;
constexpr uint32_t kMinTimeoutMs = 10;
constexpr uint32_t kMaxCheckMs = 3600 * 1000;
constexpr uint32_t kMaxRiseFall = 100;
constexpr uint32_t kMaxReadLimit = 16u << 20;
constexpr size_t kMaxUdpPayload = 65507;

// Which check types use a type-specific key, for the file's own words.
const char* health_key_types(std::string_view key) {
  if (key == "verify_tls") return "https";
  if (key == "expect") return "http, https and udp";
  if (key == "payload") return "udp";
  if (key == "command" || key == "weight_from_output") return "exec";
  return "http and https";  // path, host, body, read_limit
}

bool health_key_applies(std::string_view key, hc::CheckType type) {
  using T = hc::CheckType;
  if (key == "verify_tls") return type == T::https;
  if (key == "expect") return type == T::http || type == T::https || type == T::udp;
  if (key == "payload") return type == T::udp;
  if (key == "command" || key == "weight_from_output") return type == T::exec;
  return type == T::http || type == T::https;
}

bool is_common_health_key(std::string_view key) {
  return std::find(kHealthKeys, kHealthKeys + kCommonHealthKeys, key) !=
         kHealthKeys + kCommonHealthKeys;
}

// "2" → 2000, "0.25" → 250, "1.5" → 1500 (at most 3 decimals), in `scale`ths: nullopt if it
// is not a plain non-negative decimal number.
std::optional<uint64_t> parse_decimal(std::string_view s, uint64_t scale, int max_decimals) {
  const size_t dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  if (whole.empty() || whole.size() > 9 || (dot != std::string_view::npos && frac.empty()) ||
      static_cast<int>(frac.size()) > max_decimals)
    return std::nullopt;
  auto digits = [](std::string_view d) {
    return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(whole) || !digits(frac)) return std::nullopt;
  uint64_t v = 0;
  for (char c : whole) v = v * 10 + uint64_t(c - '0');
  v *= scale;
  uint64_t unit = scale;
  for (char c : frac) {
    unit /= 10;
    v += uint64_t(c - '0') * unit;
  }
  return v;
}

std::string seconds_text(uint64_t ms) {
  std::string t = fmt::format("{}.{:03}", ms / 1000, ms % 1000);
  while (t.back() == '0') t.pop_back();
  if (t.back() == '.') t.pop_back();
  return t;
}
constexpr std::string_view kNeighbourKeys[] = {"address", "mac"};
constexpr std::string_view kRouteKeys[] = {"prefix", "via"};

// One value of a map, with the line of its key (1-based): a value's mistakes are reported
// where its key is, which is also right for empty values (yaml-cpp marks those at the next
// token, possibly lines later).
struct Field {
  std::string key;
  YAML::Node value;
  int line = 0;
};

// Where the parsed pieces sit in the file, parallel to the model's vectors, and which of
// them parsed (the second pass skips checks on values that did not).
struct PortRec {
  int line = 0, name_line = 0, device_line = 0, gateway_line = 0, tap_line = 0;
  bool name_ok = false, device_ok = false;
  std::vector<int> address_lines;  // parallel to PortConfig::addresses
};

struct BackendRec {
  int line = 0, address_line = 0, port_line = 0, name_line = 0, sorry_line = 0;
  bool address_ok = false, port_ok = false;
};

struct ServiceRec {
  int line = 0, name_line = 0, vip_line = 0, port_line = 0, maglev_line = 0, all_down_line = 0;
  bool name_ok = false, vip_ok = false, port_ok = false, protocol_ok = true, mode_ok = false;
  bool maglev_ok = true;
  std::vector<BackendRec> backends;
};

struct NeighbourRec {
  int line = 0, address_line = 0;
  bool address_ok = false;
};

struct RouteRec {
  int line = 0, prefix_line = 0, via_line = 0;
  bool prefix_ok = false, via_ok = false;
};

struct VrrpTrackRec {
  int line = 0;
  bool ok = false;
};

struct VrrpInstanceRec {
  int line = 0, name_line = 0, vrid_line = 0, port_line = 0;
  bool name_ok = false, vrid_ok = false, port_ok = false;
  std::string port_name;            // resolved to an index in the second pass
  std::vector<int> address_lines;   // parallel to VrrpInstanceSettings::addresses
  std::vector<VrrpTrackRec> tracks;  // parallel to VrrpInstanceSettings::tracks
};

struct VrrpGroupRec {
  int line = 0, name_line = 0;
  bool name_ok = false;
  std::vector<int> member_lines;  // parallel to VrrpSyncGroupSettings::instances
};

class Loader {
 public:
  explicit Loader(std::string name) : name_(std::move(name)) {}

  LoadResult run(const std::string& text) {
    config_.source = name_;
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(text);
    } catch (const YAML::ParserException& e) {
      error(e.mark.line + 1, fmt::format("YAML syntax error: {}", e.msg));
      return finish();
    }
    if (docs.size() > 1) {
      error(line_of(docs[1], 1), "more than one YAML document: a configuration is one document");
    } else if (docs.empty() || docs[0].IsNull()) {
      error(1, "the configuration is empty: expected a map with 'ports' and 'services'");
    } else {
      try {
        parse(docs[0]);
        check();
      } catch (const YAML::Exception& e) {  // not expected: every access is checked first
        error(e.mark.line + 1, e.msg);
      }
    }
    return finish();
  }

 private:
  // ---- reporting ----

  void error(int line, std::string text) {
    errors_.emplace_back(std::max(line, 1), std::move(text));
  }
  void warn(int line, std::string text) {
    warnings_.emplace_back(std::max(line, 1), std::move(text));
  }

  static int line_of(const YAML::Node& n, int fallback) {
    const YAML::Mark m = n.Mark();
    return m.line >= 0 ? m.line + 1 : fallback;
  }

  std::vector<std::string> render(std::vector<std::pair<int, std::string>>& list) const {
    std::stable_sort(list.begin(), list.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> out;
    out.reserve(list.size());
    // A service's health_check keys are read again for every backend that inherits them:
    // the same mistake at the same place is reported once.
    std::set<std::pair<int, std::string>> seen;
    for (const auto& [line, text] : list)
      if (seen.emplace(line, text).second) out.push_back(fmt::format("{}:{}: {}", name_, line, text));
    return out;
  }

  LoadResult finish() {
    LoadResult r;
    r.errors = render(errors_);
    r.warnings = render(warnings_);
    if (r.errors.empty()) {
      assign_backend_ids(config_, nullptr);
      r.config = std::move(config_);
    }
    return r;
  }

  // ---- maps ----

  // The entries of a map, after reporting a non-map, non-string keys, unknown keys (with the
  // allowed ones and the likeliest intended one) and duplicate keys.
  class Map {
   public:
    Map(Loader& l, const YAML::Node& node, int line, std::string what, Keys allowed)
        : loader_(l), line_(line), what_(std::move(what)) {
      if (!node.IsMap()) {
        l.error(line, fmt::format("{} must be a map, got {}", what_, describe(node)));
        return;
      }
      ok_ = true;
      for (const auto& kv : node) {
        const int key_line = line_of(kv.first, line);
        if (!kv.first.IsScalar()) {
          l.error(key_line,
                  fmt::format("keys in {} must be plain words, got {}", what_, describe(kv.first)));
          continue;
        }
        const std::string& key = kv.first.Scalar();
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
          l.error(key_line, unknown_key(key, allowed));
          continue;
        }
        if (const Field* first = find(key)) {
          l.error(key_line, fmt::format("duplicate key '{}' in {} (first given at line {})", key,
                                        what_, first->line));
          continue;
        }
        fields_.push_back(Field{key, kv.second, key_line});
      }
    }

    bool ok() const { return ok_; }
    int line() const { return line_; }
    const Field* get(std::string_view key) const { return find(key); }
    const Field* require(std::string_view key) const {
      const Field* f = find(key);
      // A misspelt required key is one mistake: the unknown-key error already names it.
      const bool suggested =
          std::find(suggested_.begin(), suggested_.end(), key) != suggested_.end();
      if (!f && ok_ && !suggested)
        loader_.error(line_, fmt::format("missing required key '{}' in {}", key, what_));
      return f;
    }

   private:
    const Field* find(std::string_view key) const {
      for (const Field& f : fields_)
        if (f.key == key) return &f;
      return nullptr;
    }

    std::string unknown_key(const std::string& key, Keys allowed) {
      std::string list;
      std::string_view best;
      size_t best_distance = 3;  // suggest only close misspellings
      for (std::string_view a : allowed) {
        list += list.empty() ? "" : ", ";
        list += a;
        const size_t d = edit_distance(key, a);
        if (d < best_distance) best_distance = d, best = a;
      }
      std::string text = fmt::format("unknown key '{}' in {} (allowed: {})", key, what_, list);
      if (!best.empty()) {
        text += fmt::format("; did you mean '{}'?", best);
        suggested_.push_back(best);
      }
      return text;
    }

    Loader& loader_;
    int line_;
    std::string what_;
    bool ok_ = false;
    std::vector<Field> fields_;
    std::vector<std::string_view> suggested_;  // allowed keys offered as "did you mean"
  };

  // One key of an effective health_check: from the backend's own map, or inherited from
  // the service's.
  struct CheckField {
    const Field* field;
    bool inherited;
  };
  using CheckFields = std::vector<CheckField>;

  // How the backends of one service use a type-specific key of the service's health_check.
  struct HealthKeyUse {
    int inherited = 0;  // backends that take it from the service
    int used = 0;       // of those, backends whose check type it applies to
  };
  using HealthUsage = std::map<std::string, HealthKeyUse>;

  // ---- scalars ----

  std::optional<std::string> string(const YAML::Node& n, int line, std::string_view what) {
    if (!n.IsScalar()) {
      error(line, fmt::format("{} must be a string, got {}", what, describe(n)));
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<uint64_t> integer(const YAML::Node& n, int line, std::string_view what, uint64_t lo,
                                  uint64_t hi) {
    if (!n.IsScalar()) {
      error(line,
            fmt::format("{} must be an integer in {}..{}, got {}", what, lo, hi, describe(n)));
      return std::nullopt;
    }
    const std::string& s = n.Scalar();
    uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || end != s.data() + s.size() ||
        (ec != std::errc() && ec != std::errc::result_out_of_range)) {
      error(line, fmt::format("{} must be an integer in {}..{}, got '{}'", what, lo, hi, s));
      return std::nullopt;
    }
    if (ec == std::errc::result_out_of_range || v < lo || v > hi) {
      error(line, fmt::format("{} {} is out of range {}..{}", what, s, lo, hi));
      return std::nullopt;
    }
    return v;
  }

  std::optional<uint64_t> integer(const Field& f, uint64_t lo, uint64_t hi) {
    return integer(f.value, f.line, quoted(f.key), lo, hi);
  }

  // A unicast IPv4 address.
  std::optional<uint32_t> address(const YAML::Node& n, int line, std::string_view what) {
    const auto s = string(n, line, what);
    if (!s) return std::nullopt;
    const auto ip = parse_ipv4(*s);
    if (!ip) {
      error(line, fmt::format("{} '{}' is not an IPv4 address (expected a.b.c.d)", what, *s));
      return std::nullopt;
    }
    if (const char* problem = unicast_problem(*ip)) {
      error(line, fmt::format("{} {} is {}: expected a unicast address", what, *s, problem));
      return std::nullopt;
    }
    return ip;
  }

  std::optional<uint32_t> address(const Field& f) {
    return address(f.value, f.line, quoted(f.key));
  }

  template <class E>
  std::optional<E> choice(const Field& f,
                          std::initializer_list<std::pair<std::string_view, E>> options) {
    std::string names;
    for (const auto& [name, value] : options)
      names += fmt::format("{}{}", names.empty() ? "" : "|", name);
    if (!f.value.IsScalar()) {
      error(f.line, fmt::format("'{}' must be one of {}, got {}", f.key, names, describe(f.value)));
      return std::nullopt;
    }
    for (const auto& [name, value] : options)
      if (f.value.Scalar() == name) return value;
    error(f.line, fmt::format("'{}' must be one of {}, got '{}'", f.key, names, f.value.Scalar()));
    return std::nullopt;
  }

  // The items of a list, after reporting a non-list.
  std::optional<std::vector<YAML::Node>> list(const Field& f) {
    if (!f.value.IsSequence()) {
      error(f.line, fmt::format("'{}' must be a list, got {}", f.key, describe(f.value)));
      return std::nullopt;
    }
    std::vector<YAML::Node> items;
    for (const auto& item : f.value) items.push_back(item);
    return items;
  }

  static std::string quoted(std::string_view key) { return fmt::format("'{}'", key); }

  // ---- first pass: sections ----

  void parse(const YAML::Node& root) {
    Map top(*this, root, line_of(root, 1), "the configuration", kTopKeys);
    if (!top.ok()) return;

    if (const Field* f = top.get("eal"))
      if (auto items = list(*f))
        for (const auto& item : *items)
          if (auto s = string(item, line_of(item, f->line), "each EAL argument"))
            config_.eal.push_back(*s);

    if (const Field* f = top.get("log_level"))
      if (auto v = choice<LogLevel>(*f, {{"trace", LogLevel::trace},
                                         {"debug", LogLevel::debug},
                                         {"info", LogLevel::info},
                                         {"warn", LogLevel::warn},
                                         {"error", LogLevel::error}}))
        config_.log_level = *v;

    if (const Field* f = top.require("ports")) {
      if (auto items = list(*f)) {
        if (items->empty()) error(f->line, "'ports' must list at least one port");
        for (const auto& item : *items) parse_port(item, line_of(item, f->line));
      }
    }

    if (const Field* f = top.get("workers")) parse_workers(*f);

    if (const Field* f = top.require("services"))
      if (auto items = list(*f))
        for (const auto& item : *items) parse_service(item, line_of(item, f->line));

    if (const Field* f = top.get("neighbours"))
      if (auto items = list(*f))
        for (const auto& item : *items) parse_neighbour(item, line_of(item, f->line));

    if (const Field* f = top.get("routes"))
      if (auto items = list(*f))
        for (const auto& item : *items) parse_route(item, line_of(item, f->line));

    if (const Field* f = top.get("tunnel_ttl"))
      if (auto v = integer(*f, 1, 255)) config_.tunnel_ttl = static_cast<uint8_t>(*v);
    if (const Field* f = top.get("api")) parse_api(*f);
    if (const Field* f = top.get("vrrp")) parse_vrrp(*f);
    if (const Field* f = top.get("connection_sync")) parse_connection_sync(*f);
  }

  // ---- connection_sync ----

  void parse_connection_sync(const Field& field) {
    ConnectionSyncSettings& c = config_.connection_sync;
    c.enabled = true;
    // `connection_sync: {}` (or an empty key) turns it on with every default.
    if (field.value.IsNull()) return;
    Map m(*this, field.value, field.line, "'connection_sync'", kSyncKeys);
    if (!m.ok()) return;
    if (const Field* f = m.get("port")) {
      sync_port_line_ = f->line;
      if (auto s = string(f->value, f->line, "'port'")) sync_port_name_ = *s;
    }
    if (const Field* f = m.get("group"))
      if (auto text = string(f->value, f->line, "'group'")) {
        const std::optional<uint32_t> ip = parse_ipv4(*text);
        if (!ip || (*ip & 0xf0) != 0xe0)  // first octet 224..239
          error(f->line, fmt::format("'group' must be an IPv4 multicast address (224.0.0.0/4), "
                                     "got '{}'", *text));
        else
          c.group = *ip;
      }
    if (const Field* f = m.get("udp_port"))
      if (auto v = integer(*f, 1, 65535)) c.udp_port = static_cast<uint16_t>(*v);
    if (const Field* f = m.get("id"))
      if (auto v = integer(*f, 0, 255)) c.id = static_cast<uint8_t>(*v);
    if (const Field* f = m.get("table_size"))
      if (auto v = integer(*f, kMinFlowTableSize, kMaxFlowTableSize))
        c.table_size = static_cast<uint32_t>(*v);
    if (const Field* f = m.get("refresh")) {
      sync_refresh_line_ = f->line;
      if (auto v = seconds(*f, 1000, kMaxSyncRefreshMs)) c.refresh_ms = *v;
    }
    if (const Field* f = m.get("pull_timeout"))
      if (auto v = seconds(*f, 0, kMaxSyncPullTimeoutMs)) c.pull_timeout_ms = *v;
  }

  void check_connection_sync() {
    ConnectionSyncSettings& c = config_.connection_sync;
    if (!c.enabled) return;
    if (!sync_port_name_.empty()) {
      const auto it = std::find_if(config_.ports.begin(), config_.ports.end(),
                                   [&](const PortConfig& p) { return p.name == sync_port_name_; });
      if (it == config_.ports.end())
        error(sync_port_line_, fmt::format("connection_sync: no port named '{}'", sync_port_name_));
      else
        c.port = static_cast<size_t>(it - config_.ports.begin());
    }
    const dp::FlowTimeouts& t = config_.workers.flow_timeouts;
    const uint32_t half = std::min(t.established_ms, t.udp_ms) / 2;
    if (c.refresh_ms == 0)
      c.refresh_ms = std::max<uint32_t>(1000, std::min<uint32_t>(60'000, half));
    else if (c.refresh_ms > half)
      error(sync_refresh_line_,
            fmt::format("connection_sync: 'refresh' ({} s) must be at most half the established "
                        "and udp flow timeouts ({} s), or peers drop active flows between "
                        "refreshes",
                        c.refresh_ms / 1000.0, half / 1000.0));
    if (c.table_size == 0)
      c.table_size = static_cast<uint32_t>(std::min<uint64_t>(
          kMaxFlowTableSize, uint64_t(config_.workers.count) * config_.workers.flow_table_size));
  }

  // ---- vrrp ----

  void parse_vrrp(const Field& field) {
    Map m(*this, field.value, field.line, "'vrrp'", kVrrpKeys);
    if (!m.ok()) return;
    if (const Field* f = m.require("instances")) {
      if (auto items = list(*f)) {
        if (items->empty()) error(f->line, "'instances' must list at least one VRRP instance");
        for (const auto& item : *items) parse_vrrp_instance(item, line_of(item, f->line));
      }
    }
    if (const Field* f = m.get("sync_groups"))
      if (auto items = list(*f))
        for (const auto& item : *items) parse_vrrp_group(item, line_of(item, f->line));
  }

  void parse_vrrp_instance(const YAML::Node& node, int line) {
    VrrpInstanceSettings v;
    VrrpInstanceRec rec;
    rec.line = line;
    Map m(*this, node, line, "a VRRP instance", kVrrpInstanceKeys);
    if (m.ok()) {
      if (const Field* f = m.require("name")) {
        rec.name_line = f->line;
        if (auto s = string(f->value, f->line, "'name'")) {
          if (valid_name(*s))
            v.name = *s, rec.name_ok = true;
          else
            error(f->line,
                  fmt::format("VRRP instance name '{}' must be made of a-z, 0-9, '_' and '-'", *s));
        }
      }
      if (const Field* f = m.require("vrid")) {
        rec.vrid_line = f->line;
        if (auto x = integer(*f, 1, 255)) v.vrid = static_cast<uint8_t>(*x), rec.vrid_ok = true;
      }
      if (const Field* f = m.get("priority"))
        if (auto x = integer(*f, 1, 255)) v.priority = static_cast<uint8_t>(*x);
      if (const Field* f = m.get("interval")) {
        // Centiseconds on the wire: at most 2 decimals.
        const auto cs = f->value.IsScalar() ? parse_decimal(f->value.Scalar(), 100, 2)
                                            : std::nullopt;
        if (cs && *cs >= 1 && *cs <= kMaxVrrpIntervalCs)
          v.interval_cs = static_cast<uint16_t>(*cs);
        else
          error(f->line, fmt::format("'interval' must be a number of seconds in 0.01..40.95 "
                                     "with at most 2 decimals (advertisements count "
                                     "centiseconds), got {}",
                                     f->value.IsScalar() ? quoted(f->value.Scalar())
                                                         : describe(f->value)));
      }
      if (const Field* f = m.get("preempt"))
        if (auto x = boolean(*f)) v.preempt = *x;
      if (const Field* f = m.get("preempt_delay"))
        if (auto x = seconds(*f, 0, kMaxPreemptDelayMs)) v.preempt_delay_ms = *x;
      if (const Field* f = m.get("virtual_mac"))
        if (auto x = boolean(*f)) v.virtual_mac = *x;
      if (const Field* f = m.get("v2_checksum"))
        if (auto x = boolean(*f)) v.v2_checksum = *x;
      if (const Field* f = m.get("port")) {
        rec.port_line = f->line;
        if (auto s = string(f->value, f->line, "'port'")) rec.port_name = *s, rec.port_ok = true;
      }
      if (const Field* f = m.require("addresses")) {
        if (auto items = list(*f)) {
          if (items->empty() || items->size() > kMaxVrrpAddresses)
            error(f->line, fmt::format("'addresses' must list 1..{} addresses (the VIPs this "
                                       "instance carries), got {}",
                                       kMaxVrrpAddresses, items->size()));
          for (const auto& item : *items) {
            const int item_line = line_of(item, f->line);
            if (auto ip = address(item, item_line, "each VRRP address")) {
              v.addresses.push_back(*ip);
              rec.address_lines.push_back(item_line);
            }
          }
        }
      }
      if (const Field* f = m.get("garp")) {
        Map g(*this, f->value, f->line, "'garp'", kVrrpGarpKeys);
        if (g.ok()) {
          if (const Field* c = g.get("count"))
            if (auto x = integer(*c, 0, kMaxGarpCount)) v.garp_count = static_cast<uint32_t>(*x);
          if (const Field* c = g.get("interval"))
            if (auto x = seconds(*c, 0, kMaxGarpIntervalMs)) v.garp_interval_ms = *x;
          if (const Field* c = g.get("refresh"))
            if (auto x = seconds(*c, 0, kMaxGarpRefreshMs)) v.garp_refresh_ms = *x;
        }
      }
      if (const Field* f = m.get("track")) {
        Map t(*this, f->value, f->line, "'track'", kVrrpTrackKeys);
        if (t.ok()) {
          if (const Field* g = t.get("services"))
            parse_vrrp_tracks(*g, VrrpTrackKind::service, v, rec);
          if (const Field* g = t.get("ports")) parse_vrrp_tracks(*g, VrrpTrackKind::port, v, rec);
        }
      }
    }
    config_.vrrp.instances.push_back(std::move(v));
    vrrp_.push_back(std::move(rec));
  }

  // Each item is a name (weight 0: fault while down) or {name, weight}.
  void parse_vrrp_tracks(const Field& field, VrrpTrackKind kind, VrrpInstanceSettings& v,
                         VrrpInstanceRec& rec) {
    auto items = list(field);
    if (!items) return;
    for (const auto& item : *items) {
      const int line = line_of(item, field.line);
      VrrpTrackConfig t;
      t.kind = kind;
      VrrpTrackRec tr{line, false};
      if (item.IsScalar()) {
        t.name = item.Scalar();
        tr.ok = !t.name.empty();
        if (!tr.ok) error(line, fmt::format("each tracked {} must be named", to_string(kind)));
      } else {
        Map m(*this, item, line, fmt::format("a tracked {}", to_string(kind)), kVrrpTrackItemKeys);
        if (m.ok()) {
          if (const Field* f = m.require("name"))
            if (auto s = string(f->value, f->line, "'name'")) t.name = *s, tr.ok = true;
          if (const Field* f = m.get("weight")) {
            int64_t w = 0;
            const std::string text = f->value.IsScalar() ? f->value.Scalar() : "";
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), w);
            if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
                w < -254 || w > 254)
              error(f->line, fmt::format("'weight' must be an integer in -254..254 (added to "
                                         "the priority: a negative one while the item is down, "
                                         "a positive one while it is up; 0 = fault while "
                                         "down), got {}",
                                         f->value.IsScalar() ? quoted(text) : describe(f->value)));
            else
              t.weight = static_cast<int32_t>(w);
          }
        }
      }
      v.tracks.push_back(std::move(t));
      rec.tracks.push_back(tr);
    }
  }

  void parse_vrrp_group(const YAML::Node& node, int line) {
    VrrpSyncGroupSettings g;
    VrrpGroupRec rec;
    rec.line = line;
    Map m(*this, node, line, "a VRRP sync group", kVrrpGroupKeys);
    if (m.ok()) {
      if (const Field* f = m.require("name")) {
        rec.name_line = f->line;
        if (auto s = string(f->value, f->line, "'name'")) {
          if (valid_name(*s))
            g.name = *s, rec.name_ok = true;
          else
            error(f->line, fmt::format("sync group name '{}' must be made of a-z, 0-9, '_' and "
                                       "'-'",
                                       *s));
        }
      }
      if (const Field* f = m.require("instances")) {
        if (auto items = list(*f)) {
          if (items->empty()) error(f->line, "'instances' must name at least one VRRP instance");
          for (const auto& item : *items) {
            const int item_line = line_of(item, f->line);
            if (auto s = string(item, item_line, "each sync group member")) {
              g.instances.push_back(*s);
              rec.member_lines.push_back(item_line);
            }
          }
        }
      }
    }
    config_.vrrp.sync_groups.push_back(std::move(g));
    vrrp_groups_.push_back(std::move(rec));
  }

  void parse_api(const Field& field) {
    Map m(*this, field.value, field.line, "'api'", kApiKeys);
    if (!m.ok()) return;
    if (const Field* f = m.get("socket"))
      if (auto s = string(f->value, f->line, "'socket'")) {
        if (s->empty() || s->front() != '/' || s->size() >= 108)
          error(f->line, fmt::format("'socket' must be an absolute path shorter than 108 "
                                     "characters, got '{}'",
                                     *s));
        else
          config_.api.socket = *s;
      }
    if (const Field* f = m.get("listen"))
      if (auto s = string(f->value, f->line, "'listen'")) {
        if (parse_ipv4_endpoint(*s))
          config_.api.listen = *s;
        else
          error(f->line, fmt::format("'listen' must be address:port (e.g. 127.0.0.1:8080), got '{}'", *s));
        if (!m.get("token_file"))
          error(f->line, "'listen' needs 'token_file': the API over TCP is never open to all");
      }
    for (auto [key, field] : {std::pair{"token_file", &config_.api.token_file},
                              std::pair{"dashboard", &config_.api.dashboard}})
      if (const Field* f = m.get(key))
        if (auto s = string(f->value, f->line, fmt::format("'{}'", key))) {
          if (s->empty() || s->front() != '/')
            error(f->line, fmt::format("'{}' must be an absolute path, got '{}'", key, *s));
          else
            *field = *s;
        }
  }

  void parse_port(const YAML::Node& node, int line) {
    PortConfig port;
    PortRec rec;
    rec.line = line;
    Map m(*this, node, line, "a port", kPortKeys);
    if (m.ok()) {
      if (const Field* f = m.require("name")) {
        rec.name_line = f->line;
        if (auto s = string(f->value, f->line, "'name'")) {
          if (valid_name(*s)) {
            port.name = *s;
            rec.name_ok = true;
          } else {
            error(f->line, fmt::format("port name '{}' must be made of a-z, 0-9, '_' and '-'", *s));
          }
        }
      }
      if (const Field* f = m.require("device")) {
        rec.device_line = f->line;
        if (auto s = string(f->value, f->line, "'device'")) {
          if (s->empty()) {
            error(f->line,
                  "'device' must not be empty (a PCI address or a vdev such as "
                  "net_af_packet0,iface=eth1)");
          } else {
            port.device = *s;
            rec.device_ok = true;
          }
        }
      }
      if (const Field* f = m.require("addresses")) {
        if (auto items = list(*f)) {
          if (items->empty()) error(f->line, "'addresses' must list at least one address/prefix");
          for (const auto& item : *items) {
            const int item_line = line_of(item, f->line);
            if (auto p = port_address(item, item_line)) {
              port.addresses.push_back(*p);
              rec.address_lines.push_back(item_line);
            } else {
              network_known_ = false;
            }
          }
        } else {
          network_known_ = false;
        }
      } else {
        network_known_ = false;
      }
      if (const Field* f = m.get("gateway")) {
        rec.gateway_line = f->line;
        if (auto ip = address(*f))
          port.gateway = *ip;
        else
          network_known_ = false;
      }
      if (const Field* f = m.get("mtu"))
        if (auto v = integer(*f, kMinMtu, kMaxMtu)) port.mtu = static_cast<uint16_t>(*v);
      if (const Field* f = m.get("tap")) {
        rec.tap_line = f->line;
        if (auto s = string(f->value, f->line, "'tap'")) {
          if (valid_interface_name(*s))
            port.tap = *s;
          else
            error(f->line, fmt::format("'tap' interface name '{}' must be 1 to 15 letters, digits, "
                                       "'_', '-' or '.'",
                                       *s));
        }
      }
    } else {
      network_known_ = false;
    }
    config_.ports.push_back(std::move(port));
    ports_.push_back(std::move(rec));
  }

  // A local address with the prefix length of its subnet: a usable host address in it.
  std::optional<Ipv4Prefix> port_address(const YAML::Node& n, int line) {
    const auto s = string(n, line, "each port address");
    if (!s) return std::nullopt;
    const auto p = parse_ipv4_prefix(*s);
    if (!p) {
      error(line, fmt::format("port address '{}' is not an IPv4 address with a prefix length "
                              "(expected a.b.c.d/len)",
                              *s));
      return std::nullopt;
    }
    if (p->length == 0) {
      error(line, fmt::format("port address {} needs a prefix length of 1..32", *s));
      return std::nullopt;
    }
    if (const char* problem = unicast_problem(p->address)) {
      error(line, fmt::format("port address {} is {}: expected a unicast address", *s, problem));
      return std::nullopt;
    }
    if (p->length <= 30) {
      const uint32_t host_bits = to_host(p->address) & ~to_host(p->mask());
      const uint32_t all_ones = ~to_host(p->mask());
      if (host_bits == 0 || host_bits == all_ones) {
        error(line, fmt::format("port address {} is the {} address of its subnet, not a host "
                                "address",
                                *s, host_bits == 0 ? "network" : "broadcast"));
        return std::nullopt;
      }
    }
    return p;
  }

  void parse_workers(const Field& field) {
    Map m(*this, field.value, field.line, "'workers'", kWorkerKeys);
    if (!m.ok()) return;
    WorkersConfig& w = config_.workers;
    if (const Field* f = m.get("count"))
      if (auto v = integer(*f, 1, kMaxWorkers)) w.count = static_cast<uint32_t>(*v);
    if (const Field* f = m.get("flow_table_size"))
      if (auto v = integer(*f, kMinFlowTableSize, kMaxFlowTableSize))
        w.flow_table_size = static_cast<uint32_t>(*v);
    if (const Field* f = m.get("flow_timeouts")) {
      Map t(*this, f->value, f->line, "'flow_timeouts'", kTimeoutKeys);
      if (!t.ok()) return;
      const std::pair<std::string_view, uint32_t*> timeouts[] = {
          {"syn", &w.flow_timeouts.syn_ms},
          {"established", &w.flow_timeouts.established_ms},
          {"closing", &w.flow_timeouts.closing_ms},
          {"udp", &w.flow_timeouts.udp_ms}};
      for (const auto& [key, ms] : timeouts)
        if (const Field* g = t.get(key))
          if (auto v = integer(*g, 1, kMaxFlowTimeoutSeconds))
            *ms = static_cast<uint32_t>(*v * 1000);
    }
  }

  void parse_service(const YAML::Node& node, int line) {
    ServiceConfig svc;
    ServiceRec rec;
    rec.line = line;
    Map m(*this, node, line, "a service", kServiceKeys);
    if (m.ok()) {
      if (const Field* f = m.require("name")) {
        rec.name_line = f->line;
        if (auto s = string(f->value, f->line, "'name'")) {
          if (valid_name(*s)) {
            svc.name = *s;
            rec.name_ok = true;
          } else {
            error(f->line,
                  fmt::format("service name '{}' must be made of a-z, 0-9, '_' and '-'", *s));
          }
        }
      }
      if (const Field* f = m.require("vip")) {
        rec.vip_line = f->line;
        if (auto ip = address(*f)) svc.vip = *ip, rec.vip_ok = true;
      }
      if (const Field* f = m.require("port")) {
        rec.port_line = f->line;
        if (auto v = integer(*f, 1, 65535))
          svc.port = static_cast<uint16_t>(*v), rec.port_ok = true;
      }
      if (const Field* f = m.get("protocol")) {
        auto v = choice<Protocol>(*f, {{"tcp", Protocol::tcp}, {"udp", Protocol::udp}});
        if (v) svc.protocol = *v;
        rec.protocol_ok = v.has_value();
      }
      if (const Field* f = m.require("forwarding")) {
        auto v = choice<dp::ForwardMode>(*f, {{"dr", dp::ForwardMode::dr},
                                              {"nat", dp::ForwardMode::nat},
                                              {"tun", dp::ForwardMode::tun}});
        if (v) svc.forwarding = *v, rec.mode_ok = true;
      }
      svc.sync = svc.forwarding == dp::ForwardMode::nat;
      if (const Field* f = m.get("sync"))
        if (auto v = boolean(*f)) svc.sync = *v;
      if (const Field* f = m.get("hash"))
        if (auto v = choice<dp::HashOn>(*f, {{"5-tuple", dp::HashOn::five_tuple},
                                             {"source-address", dp::HashOn::source_address}}))
          svc.hash = *v;
      if (const Field* f = m.get("maglev_size")) {
        rec.maglev_line = f->line;
        rec.maglev_ok = false;
        if (auto v = integer(*f, 2, kMaxMaglevSize)) {
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
      if (const Field* f = m.get("all_down")) {
        rec.all_down_line = f->line;
        if (auto v = choice<AllDownPolicy>(*f, {{"drop", AllDownPolicy::drop},
                                                {"fail-open", AllDownPolicy::fail_open},
                                                {"sorry", AllDownPolicy::sorry}}))
          svc.all_down = *v;
      }
      std::optional<Map> health;
      if (const Field* f = m.get("health_check")) {
        health.emplace(*this, f->value, f->line, "'health_check'", kHealthKeys);
        if (health->ok()) parse_check(check_fields(&*health, nullptr, false), true, svc.health, nullptr);
      }
      const Map* service_health = health && health->ok() ? &*health : nullptr;
      HealthUsage usage;
      if (const Field* f = m.require("backends")) {
        if (auto items = list(*f)) {
          if (items->empty())
            error(f->line,
                  "'backends' must list at least one backend (set a backend's weight "
                  "to 0 to drain it)");
          for (const auto& item : *items) {
            BackendConfig b;
            BackendRec r;
            parse_backend(item, line_of(item, f->line), svc, rec, service_health, usage, b, r);
            svc.backends.push_back(std::move(b));
            rec.backends.push_back(r);
          }
        }
      }
      check_unused_health_keys(service_health, usage, svc.health);
    }
    config_.services.push_back(std::move(svc));
    services_.push_back(std::move(rec));
  }

  void parse_backend(const YAML::Node& node, int line, const ServiceConfig& svc,
                     const ServiceRec& srec, const Map* service_health, HealthUsage& usage,
                     BackendConfig& b, BackendRec& r) {
    r.line = line;
    Map m(*this, node, line, "a backend", kBackendKeys);
    if (!m.ok()) return;
    bool named = false;
    if (const Field* f = m.get("name")) {
      r.name_line = f->line;
      if (auto s = string(f->value, f->line, "'name'")) {
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
    std::optional<Map> own;
    if (const Field* f = m.get("health_check"))
      own.emplace(*this, f->value, f->line, "'health_check'", kHealthKeys);
    const Map* backend_health = own && own->ok() ? &*own : nullptr;
    if (service_health || backend_health) {
      const CheckFields fields = check_fields(service_health, backend_health, true);
      std::vector<std::string_view> used;
      parse_check(fields, false, b.health, &used);
      for (const CheckField& cf : fields)
        if (cf.inherited && !is_common_health_key(cf.field->key)) {
          HealthKeyUse& u = usage[cf.field->key];
          ++u.inherited;
          if (std::find(used.begin(), used.end(), cf.field->key) != used.end()) ++u.used;
        }
      const bool typed = std::any_of(fields.begin(), fields.end(),
                                     [](const CheckField& cf) { return cf.field->key == "type"; });
      if (!typed && !fields.empty())
        warn(backend_health ? backend_health->line() : service_health->line(),
             "'health_check' has no 'type': no check runs (the type defaults to none)");
    }
    if (!named && r.address_ok && r.port_ok) b.name = endpoint(b.address, b.port);
    if (!r.name_line) r.name_line = line;
  }

  // ---- health checks ----

  // The effective health_check of a backend (`for_backend`: service keys count as
  // inherited), or the service's own map alone.
  static CheckFields check_fields(const Map* service, const Map* backend, bool for_backend) {
    CheckFields out;
    for (std::string_view key : kHealthKeys) {
      if (backend)
        if (const Field* f = backend->get(key)) {
          out.push_back({f, false});
          continue;
        }
      if (service)
        if (const Field* f = service->get(key)) out.push_back({f, for_backend});
    }
    return out;
  }

  std::optional<bool> boolean(const Field& f) {
    if (f.value.IsScalar() && (f.value.Scalar() == "true" || f.value.Scalar() == "false"))
      return f.value.Scalar() == "true";
    error(f.line, fmt::format("'{}' must be true or false, got {}", f.key,
                              f.value.IsScalar() ? quoted(f.value.Scalar()) : describe(f.value)));
    return std::nullopt;
  }

  // A duration in seconds with at most 3 decimals ("2", "0.5"), as milliseconds.
  std::optional<uint32_t> seconds(const Field& f, uint32_t lo_ms, uint32_t hi_ms) {
    const std::string range = fmt::format("{}..{} s", seconds_text(lo_ms), seconds_text(hi_ms));
    if (!f.value.IsScalar()) {
      error(f.line, fmt::format("'{}' must be a number of seconds in {}, got {}", f.key, range,
                                describe(f.value)));
      return std::nullopt;
    }
    const auto ms = parse_decimal(f.value.Scalar(), 1000, 3);
    if (!ms) {
      error(f.line, fmt::format("'{}' must be a number of seconds in {} (at most 3 decimals), "
                                "got '{}'",
                                f.key, range, f.value.Scalar()));
      return std::nullopt;
    }
    if (*ms < lo_ms || *ms > hi_ms) {
      error(f.line, fmt::format("'{}' {} s is out of range {}", f.key, f.value.Scalar(), range));
      return std::nullopt;
    }
    return static_cast<uint32_t>(*ms);
  }

  // A non-empty string without control characters.
  std::optional<std::string> text(const Field& f, size_t max) {
    auto s = string(f.value, f.line, quoted(f.key));
    if (!s) return std::nullopt;
    if (s->empty() || s->size() > max) {
      error(f.line, fmt::format("'{}' must be 1..{} characters long", f.key, max));
      return std::nullopt;
    }
    return s;
  }

  std::optional<std::vector<hc::StatusRange>> statuses(const Field& f) {
    std::vector<YAML::Node> items;
    if (f.value.IsSequence()) {
      for (const auto& item : f.value) items.push_back(item);
      if (items.empty()) {
        error(f.line, "'expect' must list at least one status or range");
        return std::nullopt;
      }
    } else {
      items.push_back(f.value);
    }
    std::vector<hc::StatusRange> out;
    bool ok = true;
    for (const YAML::Node& item : items) {
      const int line = line_of(item, f.line);
      std::optional<hc::StatusRange> range;
      if (item.IsScalar()) {
        const std::string& s = item.Scalar();
        const size_t dash = s.find('-');
        const auto first = parse_decimal(s.substr(0, dash), 1, 0);
        const auto last =
            dash == std::string::npos ? first : parse_decimal(s.substr(dash + 1), 1, 0);
        if (first && last && *first >= 100 && *last <= 599 && *first <= *last)
          range = hc::StatusRange{static_cast<uint16_t>(*first), static_cast<uint16_t>(*last)};
      }
      if (!range) {
        ok = false;
        error(line, fmt::format("'expect' {} is not an HTTP status (100..599) or a range of "
                                "them such as 200-299",
                                item.IsScalar() ? quoted(item.Scalar()) : describe(item)));
        continue;
      }
      out.push_back(*range);
    }
    if (!ok) return std::nullopt;
    return out;
  }

  std::optional<std::vector<std::string>> command(const Field& f) {
    if (f.value.IsScalar()) {
      if (f.value.Scalar().empty()) {
        error(f.line, "'command' must not be empty");
        return std::nullopt;
      }
      return std::vector<std::string>{"/bin/sh", "-c", f.value.Scalar()};
    }
    if (!f.value.IsSequence() || f.value.size() == 0) {
      error(f.line, fmt::format("'command' must be a string (run by /bin/sh -c) or a non-empty "
                                "list of arguments, got {}",
                                f.value.IsSequence() ? "an empty list" : describe(f.value)));
      return std::nullopt;
    }
    std::vector<std::string> argv;
    for (const auto& item : f.value) {
      if (!item.IsScalar()) {
        error(line_of(item, f.line),
              fmt::format("each 'command' argument must be a string, got {}", describe(item)));
        return std::nullopt;
      }
      argv.push_back(item.Scalar());
    }
    if (argv[0].empty()) {
      error(f.line, "'command' must start with the program to run, got an empty string");
      return std::nullopt;
    }
    return argv;
  }

  // Reads a health_check's keys onto `spec`. `service_level`: the service's own map, read for
  // the values alone (its keys may serve backends that change the type, and the checks that
  // need the whole spec run per backend). Otherwise `fields` is a backend's effective
  // health_check: a key that does not apply to its type is a mistake if the backend gave it,
  // and left for check_unused_health_keys() if it is inherited; `used` collects the inherited
  // keys that do apply.
  void parse_check(const CheckFields& fields, bool service_level, hc::CheckSpec& spec,
                   std::vector<std::string_view>* used) {
    using T = hc::CheckType;
    const CheckField* type_field = nullptr;
    bool type_ok = true;
    for (const CheckField& cf : fields)
      if (cf.field->key == "type") {
        type_field = &cf;
        auto v = choice<T>(*cf.field, {{"tcp", T::tcp},
                                       {"http", T::http},
                                       {"https", T::https},
                                       {"udp", T::udp},
                                       {"exec", T::exec},
                                       {"none", T::none}});
        if (v) spec.type = *v;
        type_ok = v.has_value();
      }
    const CheckField* interval = nullptr;
    const CheckField* timeout = nullptr;
    const CheckField* body = nullptr;
    const CheckField* read_limit = nullptr;
    bool ok_interval = true, ok_timeout = true, ok_body = true, ok_read_limit = true,
         has_command = false;
    for (const CheckField& cf : fields) {
      const Field& f = *cf.field;
      const std::string_view key = f.key;
      if (key == "type") continue;
      if (!is_common_health_key(key)) {
        // A type that did not parse leaves type-specific keys unjudged: no follow-on errors.
        if (type_ok && !health_key_applies(key, spec.type)) {
          if (!service_level && !cf.inherited)
            error(f.line, fmt::format("'{}' does not apply to a {} check (it is for {} checks)",
                                      key, hc::to_string(spec.type), health_key_types(key)));
          continue;
        }
        if (cf.inherited && used) used->push_back(key);
        if (!type_ok) continue;
      }
      if (key == "interval") {
        interval = &cf;
        if (auto v = seconds(f, kMinIntervalMs, kMaxCheckMs)) spec.interval_ms = *v;
        else ok_interval = false;
      } else if (key == "timeout") {
        timeout = &cf;
        if (auto v = seconds(f, kMinTimeoutMs, kMaxCheckMs)) spec.timeout_ms = *v;
        else ok_timeout = false;
      } else if (key == "rise") {
        if (auto v = integer(f, 1, kMaxRiseFall)) spec.rise = static_cast<uint32_t>(*v);
      } else if (key == "fall") {
        if (auto v = integer(f, 1, kMaxRiseFall)) spec.fall = static_cast<uint32_t>(*v);
      } else if (key == "initial") {
        if (auto v = choice<bool>(f, {{"up", true}, {"down", false}})) spec.initial_up = *v;
      } else if (key == "spread") {
        const auto v = f.value.IsScalar() ? parse_decimal(f.value.Scalar(), 1000, 3) : std::nullopt;
        if (v && *v <= 1000)
          spec.spread = static_cast<double>(*v) / 1000.0;
        else
          error(f.line, fmt::format("'spread' must be a number in 0..1 (the fraction of the "
                                    "interval over which first checks are spread), got {}",
                                    f.value.IsScalar() ? quoted(f.value.Scalar())
                                                       : describe(f.value)));
      } else if (key == "port") {
        if (auto v = integer(f, 1, 65535)) spec.port = static_cast<uint16_t>(*v);
      } else if (key == "path") {
        if (auto v = text(f, 2048)) {
          if ((*v)[0] != '/' || std::any_of(v->begin(), v->end(), [](char c) {
                return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
              }))
            error(f.line, fmt::format("'path' '{}' must start with '/' and hold no spaces or "
                                      "control characters",
                                      *v));
          else
            spec.path = *v;
        }
      } else if (key == "host") {
        if (auto v = text(f, 253)) {
          if (std::all_of(v->begin(), v->end(), [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '-' || c == '_';
              }))
            spec.host = *v;
          else
            error(f.line, fmt::format("'host' '{}' is not a host name (letters, digits, '.', "
                                      "'-', '_')",
                                      *v));
        }
      } else if (key == "expect") {
        if (spec.type == T::udp) {
          if (auto v = text(f, kMaxUdpPayload)) spec.expect_reply = *v;
        } else if (auto v = statuses(f)) {
          spec.expect_status = *v;
        }
      } else if (key == "body") {
        body = &cf;
        if (auto v = text(f, kMaxReadLimit)) spec.body = *v;
        else ok_body = false;
      } else if (key == "read_limit") {
        read_limit = &cf;
        if (auto v = integer(f, 1, kMaxReadLimit)) spec.read_limit = static_cast<uint32_t>(*v);
        else ok_read_limit = false;
      } else if (key == "verify_tls") {
        if (auto v = boolean(f)) spec.verify_tls = *v;
      } else if (key == "payload") {
        if (auto v = string(f.value, f.line, "'payload'")) {
          if (v->size() > kMaxUdpPayload)
            error(f.line, fmt::format("'payload' is {} bytes; a UDP datagram holds at most {}",
                                      v->size(), kMaxUdpPayload));
          else
            spec.payload = *v;
        }
      } else if (key == "command") {
        has_command = true;
        if (auto v = command(f)) spec.command = std::move(*v);
      } else if (key == "weight_from_output") {
        if (auto v = boolean(f)) spec.weight_from_output = *v;
      }
    }
    if (service_level || !type_ok) return;

    // Checks of the whole spec. A mistake between an inherited key and a backend's own is
    // reported at the backend's; between two inherited ones, once, at the service's.
    if (ok_interval && ok_timeout && spec.timeout_ms >= spec.interval_ms && spec.type != T::none) {
      const CheckField* at = timeout;
      if (!at || (at->inherited && interval && !interval->inherited)) at = interval;
      error(at->field->line,
            fmt::format("'timeout' ({} s) must be less than 'interval' ({} s): checks of one "
                        "backend must not overlap",
                        seconds_text(spec.timeout_ms), seconds_text(spec.interval_ms)));
    }
    if (spec.type == T::exec && !has_command)
      error(type_field->field->line,
            "an exec check needs a 'command' (a list of arguments, or a string run by /bin/sh "
            "-c)");
    if (body && ok_body && ok_read_limit && spec.body.size() > spec.read_limit) {
      const CheckField* at = body;
      if (at->inherited && read_limit && !read_limit->inherited) at = read_limit;
      error(at->field->line, fmt::format("'body' ({} bytes) is longer than 'read_limit' ({} "
                                         "bytes): it could never be found",
                                         spec.body.size(), spec.read_limit));
    }
  }

  // A type-specific key of the service's health_check that every backend inheriting it
  // ignores (its check is of another type) is a mistake: a forgotten or wrong 'type'.
  void check_unused_health_keys(const Map* service, const HealthUsage& usage,
                                const hc::CheckSpec& spec) {
    if (!service) return;
    for (const auto& [key, use] : usage) {
      if (use.inherited == 0 || use.used > 0) continue;
      const Field* f = service->get(key);
      if (!f) continue;
      if (!health_key_applies(key, spec.type))
        error(f->line, fmt::format("'{}' does not apply to a {} check (it is for {} checks)", key,
                                   hc::to_string(spec.type), health_key_types(key)));
      else
        error(f->line, fmt::format("'{}' is used by no backend: every backend that inherits it "
                                   "has a check of another type (it is for {} checks)",
                                   key, health_key_types(key)));
    }
  }

  void parse_neighbour(const YAML::Node& node, int line) {
    NeighbourConfig n;
    NeighbourRec rec;
    rec.line = line;
    Map m(*this, node, line, "a neighbour", kNeighbourKeys);
    if (m.ok()) {
      if (const Field* f = m.require("address")) {
        rec.address_line = f->line;
        if (auto ip = address(*f)) n.address = *ip, rec.address_ok = true;
      }
      if (const Field* f = m.require("mac")) {
        if (auto s = string(f->value, f->line, "'mac'")) {
          auto mac = parse_mac(*s);
          if (!mac) {
            error(f->line, fmt::format("'mac' '{}' is not a MAC address (expected "
                                       "xx:xx:xx:xx:xx:xx)",
                                       *s));
          } else if ((*mac)[0] & 1) {
            error(f->line, fmt::format("'mac' {} is a multicast/broadcast MAC address", *s));
          } else if (*mac == MacAddress{}) {
            error(f->line, "'mac' 00:00:00:00:00:00 is not a usable MAC address");
          } else {
            n.mac = *mac;
          }
        }
      }
    }
    config_.neighbours.push_back(n);
    neighbours_.push_back(rec);
  }

  void parse_route(const YAML::Node& node, int line) {
    RouteConfig route;
    RouteRec rec;
    rec.line = line;
    Map m(*this, node, line, "a route", kRouteKeys);
    if (m.ok()) {
      if (const Field* f = m.require("prefix")) {
        rec.prefix_line = f->line;
        if (auto s = string(f->value, f->line, "'prefix'")) {
          auto p = parse_ipv4_prefix(*s);
          if (!p) {
            error(f->line,
                  fmt::format("'prefix' '{}' is not an IPv4 prefix (expected a.b.c.d/len)", *s));
          } else if ((p->address & ~p->mask()) != 0) {
            error(f->line, fmt::format("'prefix' {} has host bits set (did you mean {}?)", *s,
                                       to_string(Ipv4Prefix{p->address & p->mask(), p->length})));
          } else {
            route.prefix = *p;
            rec.prefix_ok = true;
          }
        }
      }
      if (const Field* f = m.require("via")) {
        rec.via_line = f->line;
        if (auto ip = address(*f)) route.via = *ip, rec.via_ok = true;
      }
    }
    if (!rec.prefix_ok || !rec.via_ok) network_known_ = false;
    config_.routes.push_back(route);
    routes_.push_back(rec);
  }

  // ---- second pass: the file as a whole ----

  struct LocalAddress {
    std::string port;
    int line;
  };

  bool is_local(uint32_t ip) const { return locals_.count(ip) != 0; }
  bool on_link(uint32_t ip) const { return config_.on_link_port(ip) >= 0; }
  bool routed(uint32_t ip) const {
    if (has_gateway_) return true;
    for (size_t i = 0; i < config_.routes.size(); ++i)
      if (routes_[i].prefix_ok && config_.routes[i].prefix.contains(ip)) return true;
    return false;
  }

  void check() {
    check_ports();
    check_routes();
    check_neighbours();
    check_services();
    check_vrrp();
    check_connection_sync();
  }

  void check_vrrp() {
    std::map<std::string, int> names;
    std::map<std::pair<size_t, uint8_t>, std::pair<std::string, int>> vrids;  // per port
    std::map<uint32_t, std::pair<std::string, int>> carried;  // address → instance, line
    std::set<uint32_t> vips;
    for (const ServiceConfig& s : config_.services) vips.insert(s.vip);
    for (size_t i = 0; i < config_.vrrp.instances.size(); ++i) {
      VrrpInstanceSettings& v = config_.vrrp.instances[i];
      const VrrpInstanceRec& r = vrrp_[i];
      const std::string label = r.name_ok ? fmt::format("VRRP instance '{}'", v.name)
                                          : "VRRP instance";
      if (r.name_ok && !names.emplace(v.name, r.name_line).second)
        error(r.name_line, fmt::format("duplicate VRRP instance name '{}' (first at line {})",
                                       v.name, names[v.name]));
      bool port_known = true;
      if (r.port_ok) {
        const auto it = std::find_if(config_.ports.begin(), config_.ports.end(),
                                     [&](const PortConfig& p) { return p.name == r.port_name; });
        if (it == config_.ports.end()) {
          error(r.port_line, fmt::format("{}: no port named '{}'", label, r.port_name));
          port_known = false;
        } else {
          v.port = static_cast<size_t>(it - config_.ports.begin());
        }
      }
      if (r.vrid_ok && port_known) {
        auto [it, fresh] = vrids.emplace(std::pair{v.port, v.vrid}, std::pair{v.name, r.vrid_line});
        if (!fresh)
          error(r.vrid_line, fmt::format("{}: vrid {} is already used on this port by VRRP "
                                         "instance '{}' (line {})",
                                         label, v.vrid, it->second.first, it->second.second));
      }
      for (size_t a = 0; a < v.addresses.size(); ++a) {
        const uint32_t ip = v.addresses[a];
        const int line = r.address_lines[a];
        const std::string text = dp::ipv4_to_string(ip);
        if (auto it = locals_.find(ip); it != locals_.end()) {
          error(line, fmt::format("{}: {} is a local address of port '{}' (line {}); an "
                                  "instance carries addresses the directors pass between them",
                                  label, text, it->second.port, it->second.line));
          continue;
        }
        auto [it, fresh] = carried.emplace(ip, std::pair{v.name, line});
        if (!fresh) {
          error(line, fmt::format("{}: {} is already carried by VRRP instance '{}' (line {}); "
                                  "an address belongs to one instance at most",
                                  label, text, it->second.first, it->second.second));
          continue;
        }
        // An address that is no service's VIP is held for ARP's sake (a gateway): it must
        // be on one of our segments.
        if (!vips.count(ip) && network_known_ && !on_link(ip))
          error(line, fmt::format("{}: {} is neither a service VIP nor inside a port's subnet; "
                                  "an extra address is answered for by ARP, so it must be "
                                  "on-link",
                                  label, text));
      }
      for (size_t t = 0; t < v.tracks.size(); ++t) {
        const VrrpTrackConfig& tc = v.tracks[t];
        if (!r.tracks[t].ok) continue;
        const bool known =
            tc.kind == VrrpTrackKind::service
                ? std::any_of(config_.services.begin(), config_.services.end(),
                              [&](const ServiceConfig& s) { return s.name == tc.name; })
                : std::any_of(config_.ports.begin(), config_.ports.end(),
                              [&](const PortConfig& p) { return p.name == tc.name; });
        if (!known)
          error(r.tracks[t].line, fmt::format("{}: tracks {} '{}', which is not configured",
                                              label, to_string(tc.kind), tc.name));
      }
    }

    std::map<std::string, std::pair<std::string, int>> member_of;
    std::map<std::string, int> group_names;
    for (size_t g = 0; g < config_.vrrp.sync_groups.size(); ++g) {
      const VrrpSyncGroupSettings& sg = config_.vrrp.sync_groups[g];
      const VrrpGroupRec& r = vrrp_groups_[g];
      if (r.name_ok && !group_names.emplace(sg.name, r.name_line).second)
        error(r.name_line, fmt::format("duplicate sync group name '{}' (first at line {})",
                                       sg.name, group_names[sg.name]));
      for (size_t k = 0; k < sg.instances.size(); ++k) {
        const std::string& member = sg.instances[k];
        const int line = r.member_lines[k];
        if (!names.count(member)) {
          error(line, fmt::format("sync group '{}': no VRRP instance named '{}'", sg.name, member));
          continue;
        }
        auto [it, fresh] = member_of.emplace(member, std::pair{sg.name, line});
        if (!fresh)
          error(line, fmt::format("sync group '{}': VRRP instance '{}' is already a member of "
                                  "sync group '{}' (line {})",
                                  sg.name, member, it->second.first, it->second.second));
      }
    }
  }

  void check_ports() {
    std::map<std::string, int> names, devices, taps;
    int gateway_line = 0;
    std::string gateway_port;
    for (size_t i = 0; i < config_.ports.size(); ++i) {
      const PortConfig& p = config_.ports[i];
      const PortRec& r = ports_[i];
      if (r.name_ok && !names.emplace(p.name, r.name_line).second)
        error(r.name_line,
              fmt::format("duplicate port name '{}' (first at line {})", p.name, names[p.name]));
      if (!p.tap.empty() && !taps.emplace(p.tap, r.tap_line).second)
        error(r.tap_line, fmt::format("tap '{}' is already the exception path of another port "
                                      "(line {})",
                                      p.tap, taps[p.tap]));
      if (r.device_ok && !devices.emplace(p.device, r.device_line).second)
        error(r.device_line, fmt::format("device '{}' is already used by another port (line {})",
                                         p.device, devices[p.device]));
      for (size_t a = 0; a < p.addresses.size(); ++a) {
        const uint32_t ip = p.addresses[a].address;
        auto [it, fresh] = locals_.emplace(ip, LocalAddress{p.name, r.address_lines[a]});
        if (!fresh)
          error(r.address_lines[a],
                fmt::format("duplicate local address {}: already an address of port '{}' (line {})",
                            dp::ipv4_to_string(ip), it->second.port, it->second.line));
      }
    }
    for (size_t i = 0; i < config_.ports.size(); ++i) {
      const PortConfig& p = config_.ports[i];
      const PortRec& r = ports_[i];
      if (!p.gateway) continue;
      const std::string gw = dp::ipv4_to_string(*p.gateway);
      if (is_local(*p.gateway)) {
        error(r.gateway_line,
              fmt::format("gateway {} is one of this director's own addresses", gw));
      } else if (network_known_ &&
                 std::none_of(p.addresses.begin(), p.addresses.end(),
                              [&](const Ipv4Prefix& s) { return s.contains(*p.gateway); })) {
        std::vector<std::string> subnets;
        for (const Ipv4Prefix& s : p.addresses) {
          std::string net = to_string(Ipv4Prefix{s.address & s.mask(), s.length});
          if (std::find(subnets.begin(), subnets.end(), net) == subnets.end())
            subnets.push_back(std::move(net));
        }
        error(r.gateway_line, fmt::format("gateway {} is not inside a subnet of port '{}' ({})", gw,
                                          p.name, fmt::join(subnets, ", ")));
      }
      if (gateway_line) {
        error(r.gateway_line, fmt::format("only one port may have a gateway (the default route): "
                                          "port '{}' has one at line {}",
                                          gateway_port, gateway_line));
      } else {
        gateway_line = r.gateway_line;
        gateway_port = p.name;
      }
      has_gateway_ = true;
    }
    gateway_line_ = gateway_line;
  }

  void check_routes() {
    std::map<std::pair<uint32_t, uint8_t>, int> seen;
    for (size_t i = 0; i < config_.routes.size(); ++i) {
      const RouteConfig& rt = config_.routes[i];
      const RouteRec& r = routes_[i];
      if (r.prefix_ok) {
        auto [it, fresh] =
            seen.emplace(std::pair{rt.prefix.address, rt.prefix.length}, r.prefix_line);
        if (!fresh)
          error(r.prefix_line, fmt::format("duplicate route for {} (first at line {})",
                                           to_string(rt.prefix), it->second));
        else if (rt.prefix.length == 0 && gateway_line_)
          error(r.prefix_line, fmt::format("route for 0.0.0.0/0 conflicts with the gateway at line "
                                           "{}, which is already the default route",
                                           gateway_line_));
      }
      if (r.via_ok) {
        const std::string via = dp::ipv4_to_string(rt.via);
        if (is_local(rt.via))
          error(r.via_line,
                fmt::format("route via {}: that is one of this director's own addresses", via));
        else if (network_known_ && !on_link(rt.via))
          error(r.via_line, fmt::format("route via {}: the next hop is not on-link (not inside any "
                                        "port's subnet)",
                                        via));
      }
    }
  }

  void check_neighbours() {
    std::map<uint32_t, int> seen;
    for (size_t i = 0; i < config_.neighbours.size(); ++i) {
      const NeighbourConfig& n = config_.neighbours[i];
      const NeighbourRec& r = neighbours_[i];
      if (!r.address_ok) continue;
      const std::string ip = dp::ipv4_to_string(n.address);
      auto [it, fresh] = seen.emplace(n.address, r.address_line);
      if (!fresh)
        error(r.address_line,
              fmt::format("duplicate neighbour {} (first at line {})", ip, it->second));
      else if (is_local(n.address))
        error(r.address_line,
              fmt::format("neighbour {} is one of this director's own addresses", ip));
      else if (network_known_ && !on_link(n.address))
        error(r.address_line, fmt::format("neighbour {} is not on-link (not inside any port's "
                                          "subnet), so it can have no ARP entry",
                                          ip));
    }
  }

  void check_services() {
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
      if (r.name_ok && !names.emplace(s.name, r.name_line).second)
        error(r.name_line,
              fmt::format("duplicate service name '{}' (first at line {})", s.name, names[s.name]));
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
          error(br.name_line, fmt::format("{}: duplicate backend name '{}' (first at line {})",
                                          label, b.name, backend_names[b.name]));
        if (!br.address_ok) continue;
        const std::string ip = dp::ipv4_to_string(b.address);
        if (auto it = locals_.find(b.address); it != locals_.end()) {
          error(br.address_line, fmt::format("{}: backend {} is a local address of port '{}'",
                                             label, ip, it->second.port));
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
      if (!s.backends.empty() && std::all_of(s.backends.begin(), s.backends.end(),
                                             [](const BackendConfig& b) { return b.weight == 0; }))
        warn(r.line, fmt::format("{}: every backend has weight 0: it takes no new flows", label));
    }
  }

  // Sorry servers stand in only under the `all_down: sorry` policy, and never alone.
  void check_sorry_servers(const ServiceConfig& s, const ServiceRec& r, const std::string& label) {
    const auto sorry = [](const BackendConfig& b) { return b.sorry; };
    const size_t count = static_cast<size_t>(std::count_if(s.backends.begin(), s.backends.end(), sorry));
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

  std::string name_;
  Config config_;
  std::vector<PortRec> ports_;
  std::vector<ServiceRec> services_;
  std::vector<NeighbourRec> neighbours_;
  std::vector<RouteRec> routes_;
  std::vector<VrrpInstanceRec> vrrp_;
  std::vector<VrrpGroupRec> vrrp_groups_;
  // connection_sync's port (resolved in the second pass) and the lines errors point to.
  std::string sync_port_name_;
  int sync_port_line_ = 0;
  int sync_refresh_line_ = 0;
  // False when a port address, gateway or route did not parse: on-link and reachability
  // checks would then report mistakes that are not there.
  bool network_known_ = true;
  bool has_gateway_ = false;
  int gateway_line_ = 0;
  std::unordered_map<uint32_t, LocalAddress> locals_;
  std::vector<std::pair<int, std::string>> errors_, warnings_;
};

}  // namespace

int Config::on_link_port(uint32_t ip) const {
  for (size_t i = 0; i < ports.size(); ++i)
    for (const Ipv4Prefix& p : ports[i].addresses)
      if (p.contains(ip)) return static_cast<int>(i);
  return -1;
}

const VrrpInstanceSettings* VrrpSection::instance_of(uint32_t ip) const {
  for (const VrrpInstanceSettings& v : instances)
    if (std::find(v.addresses.begin(), v.addresses.end(), ip) != v.addresses.end()) return &v;
  return nullptr;
}

size_t Config::backend_count() const {
  size_t n = 0;
  for (const ServiceConfig& s : services) n += s.backends.size();
  return n;
}

LoadResult load_config_string(const std::string& text, const std::string& name) {
  return Loader(name).run(text);
}

LoadResult load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult r;
    r.errors.push_back(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    return r;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    LoadResult r;
    r.errors.push_back(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
    return r;
  }
  return load_config_string(text.str(), path);
}

void assign_backend_ids(Config& next, const Config* previous) {
  constexpr size_t kIds = size_t{kMaxBackendId} + 1;
  std::map<std::tuple<std::string, uint32_t, uint16_t>, uint16_t> before;
  std::vector<bool> used_before(kIds, false);
  std::vector<bool> taken(kIds, false);
  if (previous)
    for (const ServiceConfig& s : previous->services)
      for (const BackendConfig& b : s.backends)
        if (b.id <= kMaxBackendId) {
          before.emplace(std::tuple{s.name, b.address, b.port}, b.id);
          used_before[b.id] = true;
        }

  for (ServiceConfig& s : next.services)
    for (BackendConfig& b : s.backends) {
      b.id = dp::kNoBackend;
      auto it = before.find(std::tuple{s.name, b.address, b.port});
      if (it != before.end() && !taken[it->second]) {
        b.id = it->second;
        taken[b.id] = true;
      }
    }

  size_t fresh = 0;  // lowest id no backend of `previous` used
  size_t freed = 0;  // lowest id not taken at all: reused only once `fresh` runs out
  for (ServiceConfig& s : next.services)
    for (BackendConfig& b : s.backends) {
      if (b.id != dp::kNoBackend) continue;
      while (fresh < kIds && (used_before[fresh] || taken[fresh])) ++fresh;
      size_t id = fresh;
      if (id == kIds) {
        while (freed < kIds && taken[freed]) ++freed;
        id = freed;
      }
      if (id == kIds) return;  // more backends than ids: a validated Config never gets here
      b.id = static_cast<uint16_t>(id);
      taken[id] = true;
    }
}

std::vector<hc::Target> health_targets(const Config& config) {
  std::vector<hc::Target> out;
  out.reserve(config.backend_count());
  for (const ServiceConfig& s : config.services)
    for (const BackendConfig& b : s.backends)
      out.push_back(hc::Target{hc::TargetKey{s.name, b.name}, b.address, b.port, b.health});
  return out;
}

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::trace:
      return "trace";
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
  }
  return "?";
}

std::string_view to_string(Protocol protocol) {
  return protocol == Protocol::udp ? "udp" : "tcp";
}

std::string_view to_string(dp::ForwardMode mode) {
  switch (mode) {
    case dp::ForwardMode::dr:
      return "dr";
    case dp::ForwardMode::nat:
      return "nat";
    case dp::ForwardMode::tun:
      return "tun";
  }
  return "?";
}

std::string_view to_string(dp::HashOn hash) {
  return hash == dp::HashOn::source_address ? "source-address" : "5-tuple";
}

std::string_view to_string(VrrpTrackKind kind) {
  return kind == VrrpTrackKind::service ? "service" : "port";
}

std::string_view to_string(AllDownPolicy policy) {
  switch (policy) {
    case AllDownPolicy::drop: return "drop";
    case AllDownPolicy::fail_open: return "fail-open";
    case AllDownPolicy::sorry: return "sorry";
  }
  return "?";
}

}  // namespace shoal::cp

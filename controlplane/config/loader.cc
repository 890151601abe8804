// The Loader's frame: reporting, the map and scalar readers every section uses, and the order
// in which the sections' two passes run.
#include "config/loader.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace shoal::cp {
namespace config_loader {
namespace {

constexpr std::string_view kTopKeys[] = {"eal",      "log_level",  "ports",  "workers",
                                         "services", "neighbours", "routes", "tunnel_ttl",
                                         "api",      "vrrp",       "connection_sync", "bgp",
                                         "notify"};

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

}  // namespace

bool valid_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

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

const char* unicast_problem(const dp::Ipv6Address& ip) {
  static constexpr dp::Ipv6Address kUnspecified{}, kLoopback{0, 0, 0, 0, 0, 0, 0, 0,
                                                             0, 0, 0, 0, 0, 0, 0, 1};
  if (ip == kUnspecified) return "the unspecified address ::";
  if (ip == kLoopback) return "the loopback address";
  if (ip[0] == 0xff) return "a multicast address";
  if (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80) return "a link-local address";
  return nullptr;
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

LoadResult Loader::run(const std::string& text) {
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

// ---- reporting ----

void Loader::error(int line, std::string text) {
  errors_.emplace_back(std::max(line, 1), std::move(text));
}

void Loader::warn(int line, std::string text) {
  warnings_.emplace_back(std::max(line, 1), std::move(text));
}

int Loader::line_of(const YAML::Node& n, int fallback) {
  const YAML::Mark m = n.Mark();
  return m.line >= 0 ? m.line + 1 : fallback;
}

std::vector<std::string> Loader::render(std::vector<std::pair<int, std::string>>& list) const {
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

LoadResult Loader::finish() {
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

Loader::Map::Map(Loader& l, const YAML::Node& node, int line, std::string what, Keys allowed)
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
      l.error(key_line, fmt::format("duplicate key '{}' in {} (first given at line {})", key, what_,
                                    first->line));
      continue;
    }
    fields_.push_back(Field{key, kv.second, key_line});
  }
}

const Field* Loader::Map::require(std::string_view key) const {
  const Field* f = find(key);
  // A misspelt required key is one mistake: the unknown-key error already names it.
  const bool suggested = std::find(suggested_.begin(), suggested_.end(), key) != suggested_.end();
  if (!f && ok_ && !suggested)
    loader_.error(line_, fmt::format("missing required key '{}' in {}", key, what_));
  return f;
}

const Field* Loader::Map::find(std::string_view key) const {
  for (const Field& f : fields_)
    if (f.key == key) return &f;
  return nullptr;
}

std::string Loader::Map::unknown_key(const std::string& key, Keys allowed) {
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

bool Loader::name(const Map& m, std::string_view what, std::string& out, int& line) {
  const Field* f = m.require("name");
  if (!f) return false;
  line = f->line;
  auto s = string(*f);
  if (!s) return false;
  if (!valid_name(*s)) {
    error(f->line, fmt::format("{} name '{}' must be made of a-z, 0-9, '_' and '-'", what, *s));
    return false;
  }
  out = *s;
  return true;
}

void Loader::unique_name(std::map<std::string, int>& names, const std::string& name, int line,
                         std::string_view what) {
  if (!names.emplace(name, line).second)
    error(line, fmt::format("duplicate {} name '{}' (first at line {})", what, name, names[name]));
}

// ---- scalars ----

std::optional<std::string> Loader::string(const YAML::Node& n, int line, std::string_view what) {
  if (!n.IsScalar()) {
    error(line, fmt::format("{} must be a string, got {}", what, describe(n)));
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<uint64_t> Loader::integer(const YAML::Node& n, int line, std::string_view what,
                                        uint64_t lo, uint64_t hi) {
  if (!n.IsScalar()) {
    error(line, fmt::format("{} must be an integer in {}..{}, got {}", what, lo, hi, describe(n)));
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

std::optional<uint32_t> Loader::address(const YAML::Node& n, int line, std::string_view what) {
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

std::optional<IpAddress> Loader::ip_address(const YAML::Node& n, int line,
                                           std::string_view what) {
  const auto s = string(n, line, what);
  if (!s) return std::nullopt;
  const auto ip = parse_ip(*s);
  if (!ip) {
    error(line, fmt::format("{} '{}' is not an IP address (expected a.b.c.d or an IPv6 address "
                            "such as fd00::100)",
                            what, *s));
    return std::nullopt;
  }
  const char* problem = ip->is_v4() ? unicast_problem(ip->v4()) : unicast_problem(ip->v6());
  if (problem != nullptr) {
    error(line, fmt::format("{} {} is {}: expected a unicast address", what, *s, problem));
    return std::nullopt;
  }
  return ip;
}

std::optional<bool> Loader::boolean(const Field& f) {
  if (f.value.IsScalar() && (f.value.Scalar() == "true" || f.value.Scalar() == "false"))
    return f.value.Scalar() == "true";
  error(f.line, fmt::format("'{}' must be true or false, got {}", f.key,
                            f.value.IsScalar() ? quoted(f.value.Scalar()) : describe(f.value)));
  return std::nullopt;
}

std::optional<uint32_t> Loader::seconds(const Field& f, uint32_t lo_ms, uint32_t hi_ms) {
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

std::optional<std::vector<YAML::Node>> Loader::list(const Field& f) {
  if (!f.value.IsSequence()) {
    error(f.line, fmt::format("'{}' must be a list, got {}", f.key, describe(f.value)));
    return std::nullopt;
  }
  std::vector<YAML::Node> items;
  for (const auto& item : f.value) items.push_back(item);
  return items;
}

// ---- the sections, in order ----

void Loader::parse(const YAML::Node& root) {
  Map top(*this, root, line_of(root, 1), "the configuration", kTopKeys);
  if (!top.ok()) return;

  if (const Field* f = top.get("eal"))
    each_item(*f, nullptr, [&](const YAML::Node& item, int line) {
      if (auto s = string(item, line, "each EAL argument")) config_.eal.push_back(*s);
    });

  if (const Field* f = top.get("log_level"))
    if (auto v = choice<LogLevel>(*f, {{"trace", LogLevel::trace},
                                       {"debug", LogLevel::debug},
                                       {"info", LogLevel::info},
                                       {"warn", LogLevel::warn},
                                       {"error", LogLevel::error}}))
      config_.log_level = *v;

  if (const Field* f = top.require("ports"))
    each_item(*f, "'ports' must list at least one port", &Loader::parse_port);
  if (const Field* f = top.get("workers")) parse_workers(*f);
  if (const Field* f = top.require("services")) each_item(*f, nullptr, &Loader::parse_service);
  if (const Field* f = top.get("neighbours")) each_item(*f, nullptr, &Loader::parse_neighbour);
  if (const Field* f = top.get("routes")) each_item(*f, nullptr, &Loader::parse_route);

  if (const Field* f = top.get("tunnel_ttl"))
    if (auto v = integer(*f, 1, 255)) config_.tunnel_ttl = static_cast<uint8_t>(*v);
  if (const Field* f = top.get("api")) parse_api(*f);
  if (const Field* f = top.get("vrrp")) parse_vrrp(*f);
  if (const Field* f = top.get("connection_sync")) parse_connection_sync(*f);
  if (const Field* f = top.get("bgp")) parse_bgp(*f);
  if (const Field* f = top.get("notify")) parse_notify(*f);
}

// Ports first: every later check asks which addresses are local and which are on-link.
void Loader::check() {
  check_ports();
  check_routes();
  check_neighbours();
  check_services();
  check_vrrp();
  check_connection_sync();
  check_bgp();
}

}  // namespace config_loader

LoadResult load_config_string(const std::string& text, const std::string& name) {
  return config_loader::Loader(name).run(text);
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

}  // namespace shoal::cp

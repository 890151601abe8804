// A service's and its backends' `health_check:` maps. A backend's check is the service's map
// with the backend's own keys laid over it, so the service's keys are read once for the
// service (values only) and again for every backend that inherits them, where the checks that
// need the whole spec run.
#include <algorithm>

#include "config/loader.h"

namespace shoal::cp::config_loader {
namespace {

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

}  // namespace

std::optional<Loader::Map> Loader::parse_service_check(const Field* f, hc::CheckSpec& spec) {
  if (!f) return std::nullopt;
  Map health(*this, f->value, f->line, "'health_check'", kHealthKeys);
  if (!health.ok()) return std::nullopt;
  parse_check(check_fields(&health, nullptr, false), true, spec, nullptr);
  return health;
}

void Loader::parse_backend_check(const Field* own_field, const Map* service_health,
                                 BackendConfig& b, HealthUsage& usage) {
  std::optional<Map> own;
  if (own_field)
    own.emplace(*this, own_field->value, own_field->line, "'health_check'", kHealthKeys);
  const Map* backend_health = own && own->ok() ? &*own : nullptr;
  if (!service_health && !backend_health) return;
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

// The effective health_check of a backend (`for_backend`: service keys count as
// inherited), or the service's own map alone.
Loader::CheckFields Loader::check_fields(const Map* service, const Map* backend, bool for_backend) {
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

std::optional<std::string> Loader::text(const Field& f, size_t max) {
  auto s = string(f);
  if (!s) return std::nullopt;
  if (s->empty() || s->size() > max) {
    error(f.line, fmt::format("'{}' must be 1..{} characters long", f.key, max));
    return std::nullopt;
  }
  return s;
}

std::optional<std::vector<hc::StatusRange>> Loader::statuses(const Field& f) {
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
      const auto last = dash == std::string::npos ? first : parse_decimal(s.substr(dash + 1), 1, 0);
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

std::optional<std::vector<std::string>> Loader::command(const Field& f) {
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
void Loader::parse_check(const CheckFields& fields, bool service_level, hc::CheckSpec& spec,
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
          error(f.line, fmt::format("'{}' does not apply to a {} check (it is for {} checks)", key,
                                    hc::to_string(spec.type), health_key_types(key)));
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
        error(f.line,
              fmt::format("'spread' must be a number in 0..1 (the fraction of the "
                          "interval over which first checks are spread), got {}",
                          f.value.IsScalar() ? quoted(f.value.Scalar()) : describe(f.value)));
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
      if (auto v = string(f)) {
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
void Loader::check_unused_health_keys(const Map* service, const HealthUsage& usage,
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

}  // namespace shoal::cp::config_loader

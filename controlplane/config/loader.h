// YAML → validated Config. Two passes over one parse: the first reads every section into the
// model, checking shapes, types and ranges field by field and remembering where each value
// sits; the second checks what only the whole file can tell (uniqueness, on-link and
// reachability, NAT reply ambiguity, totals). Both passes report and carry on, so one load
// lists every mistake. A value that did not parse is left out of the second pass's checks
// instead of producing follow-on errors of its own.
//
// The Loader's state and the readers every section shares are declared here; each section's
// two passes live in a file of its own (load_ports.cc, load_services.cc, …), and loader.cc
// runs them in order.
#pragma once

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.h"

namespace shoal::cp::config_loader {

using Keys = std::span<const std::string_view>;

inline uint32_t to_host(uint32_t nbo) {
  return __builtin_bswap32(nbo);
}

// [a-z0-9_-]+: the names of ports, services, VRRP instances and sync groups.
bool valid_name(std::string_view s);
// Why `ip` cannot be a host's unicast address, or nullptr if it can.
const char* unicast_problem(uint32_t ip);
const char* unicast_problem(const dp::Ipv6Address& ip);
// "a scalar", "a list", … for messages about a value of the wrong shape.
const char* describe(const YAML::Node& n);
// "2" → 2000, "0.25" → 250, "1.5" → 1500 (at most 3 decimals), in `scale`ths: nullopt if it
// is not a plain non-negative decimal number.
std::optional<uint64_t> parse_decimal(std::string_view s, uint64_t scale, int max_decimals);
// Milliseconds as the file writes seconds: 1500 → "1.5".
std::string seconds_text(uint64_t ms);
inline std::string quoted(std::string_view key) {
  return fmt::format("'{}'", key);
}

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
  std::vector<int> address_lines;   // parallel to PortConfig::addresses
  std::vector<int> address6_lines;  // parallel to PortConfig::addresses6
};

struct BackendRec {
  int line = 0, address_line = 0, port_line = 0, name_line = 0, sorry_line = 0;
  bool address_ok = false, port_ok = false;
};

struct ServiceRec {
  int line = 0, name_line = 0, vip_line = 0, port_line = 0, maglev_line = 0, all_down_line = 0,
      quorum_line = 0;
  int mode_line = 0;
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
  bool weight_given = false;  // a tracked script without one takes its script's
};

struct VrrpScriptRec {
  int line = 0, name_line = 0, timeout_line = 0;  // timeout_line 0: not given
  bool name_ok = false;
};

struct VrrpInstanceRec {
  int line = 0, name_line = 0, vrid_line = 0, port_line = 0;
  bool name_ok = false, vrid_ok = false, port_ok = false;
  std::string port_name;             // resolved to an index in the second pass
  std::vector<int> address_lines;    // parallel to VrrpInstanceSettings::addresses
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

  LoadResult run(const std::string& text);

 private:
  // ---- reporting ----

  void error(int line, std::string text);
  void warn(int line, std::string text);
  static int line_of(const YAML::Node& n, int fallback);
  std::vector<std::string> render(std::vector<std::pair<int, std::string>>& list) const;
  LoadResult finish();

  // ---- maps ----

  // The entries of a map, after reporting a non-map, non-string keys, unknown keys (with the
  // allowed ones and the likeliest intended one) and duplicate keys. Every section, and every
  // item of a list section, opens its map through this: those mistakes read the same anywhere.
  class Map {
   public:
    Map(Loader& l, const YAML::Node& node, int line, std::string what, Keys allowed);

    bool ok() const { return ok_; }
    int line() const { return line_; }
    const Field* get(std::string_view key) const { return find(key); }
    const Field* require(std::string_view key) const;

   private:
    const Field* find(std::string_view key) const;
    std::string unknown_key(const std::string& key, Keys allowed);

    Loader& loader_;
    int line_;
    std::string what_;
    bool ok_ = false;
    std::vector<Field> fields_;
    std::vector<std::string_view> suggested_;  // allowed keys offered as "did you mean"
  };

  // Reads a list item by item, `read(item, line)` (a lambda or a parse_* member), after
  // reporting a value that is not a list and, with `empty_error`, an empty one. False if it
  // was not a list.
  template <class Read>
  bool each_item(const Field& f, const char* empty_error, Read read) {
    auto items = list(f);
    if (!items) return false;
    if (items->empty() && empty_error) error(f.line, empty_error);
    for (const auto& item : *items) {
      if constexpr (std::is_member_function_pointer_v<Read>)
        (this->*read)(item, line_of(item, f.line));
      else
        read(item, line_of(item, f.line));
    }
    return true;
  }

  // One item of a list section (a port, a service, …) as it is read: its model and its
  // record, appended together whatever follows so that the records stay parallel to the
  // model's vectors, and its map.
  template <class Model, class Rec>
  struct Item {
    Model& model;
    Rec& rec;
    Map map;
  };
  // The references hold while the item is read: nothing appends to `models` or `recs` then.
  template <class Model, class Rec>
  Item<Model, Rec> append_item(const YAML::Node& node, int line, std::string what, Keys keys,
                               std::vector<Model>& models, std::vector<Rec>& recs) {
    Model& model = models.emplace_back();
    Rec& rec = recs.emplace_back();
    rec.line = line;
    return {model, rec, Map(*this, node, line, std::move(what), keys)};
  }

  // An item's required `name:`, valid_name() or reported as the name of a `what` ("port").
  // Sets `line` to the key's line when given; true if `out` was set.
  bool name(const Map& m, std::string_view what, std::string& out, int& line);

  // Second pass: reports a name given to two items of one kind (`what`: "port", …).
  void unique_name(std::map<std::string, int>& names, const std::string& name, int line,
                   std::string_view what);

  // ---- scalars ----

  std::optional<std::string> string(const YAML::Node& n, int line, std::string_view what);
  std::optional<std::string> string(const Field& f) {
    return string(f.value, f.line, quoted(f.key));
  }
  std::optional<uint64_t> integer(const YAML::Node& n, int line, std::string_view what, uint64_t lo,
                                  uint64_t hi);
  std::optional<uint64_t> integer(const Field& f, uint64_t lo, uint64_t hi) {
    return integer(f.value, f.line, quoted(f.key), lo, hi);
  }
  // A unicast IPv4 address.
  std::optional<uint32_t> address(const YAML::Node& n, int line, std::string_view what);
  std::optional<uint32_t> address(const Field& f) {
    return address(f.value, f.line, quoted(f.key));
  }
  // A unicast address of either family (IPv6: global or unique-local, not link-local).
  std::optional<IpAddress> ip_address(const YAML::Node& n, int line, std::string_view what);
  std::optional<IpAddress> ip_address(const Field& f) {
    return ip_address(f.value, f.line, quoted(f.key));
  }
  std::optional<bool> boolean(const Field& f);
  // A duration in seconds with at most 3 decimals ("2", "0.5"), as milliseconds.
  std::optional<uint32_t> seconds(const Field& f, uint32_t lo_ms, uint32_t hi_ms);
  // The items of a list, after reporting a non-list.
  std::optional<std::vector<YAML::Node>> list(const Field& f);

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

  // ---- health check bookkeeping, shared by services and their checks ----

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

  // ---- the sections: each one's first pass (parse_*) and second (check_*) ----

  void parse(const YAML::Node& root);  // loader.cc: the top-level keys
  void check();                        // loader.cc: the second passes, in order

  // load_ports.cc
  void parse_port(const YAML::Node& node, int line);
  // An IPv4 or IPv6 address with its prefix length, onto the port's list of its family.
  bool port_address(const YAML::Node& n, int line, PortConfig& port, PortRec& rec);
  void parse_gateway(const Field& f, PortConfig& port);
  void check_ports();
  void check_gateway6(const PortConfig& p, const PortRec& r);
  bool is_local(uint32_t ip) const { return locals_.count(IpAddress::from_v4(ip)) != 0; }
  bool is_local(const IpAddress& ip) const { return locals_.count(ip) != 0; }
  bool on_link(uint32_t ip) const { return config_.on_link_port(ip) >= 0; }
  bool on_link(const IpAddress& ip) const { return config_.on_link_port(ip) >= 0; }
  std::optional<size_t> port_index(const std::string& name) const;

  // load_workers.cc
  void parse_workers(const Field& field);

  // load_services.cc
  void parse_service(const YAML::Node& node, int line);
  void parse_persistence(const Field& field, ServiceConfig& svc);
  void parse_quorum(const Field& field, ServiceConfig& svc);
  void parse_backend(const YAML::Node& node, int line, ServiceConfig& svc, ServiceRec& srec,
                     const Map* service_health, HealthUsage& usage);
  void check_services();
  void check_sorry_servers(const ServiceConfig& s, const ServiceRec& r, const std::string& label);
  void check_ipv6_tunnel_mtu(const ServiceConfig& s, const ServiceRec& r, const std::string& label);
  void parse_service_ports(const Map& m, ServiceConfig& svc, ServiceRec& rec);
  std::optional<dp::PortRange> port_range(const YAML::Node& item, int line);
  void default_check_port(const ServiceConfig& svc, BackendConfig& b, int line);

  // load_health_check.cc
  // The service's `health_check:` (`f`, if given) onto `spec`: its map, kept for the backends
  // that inherit its keys, or nullopt.
  std::optional<Map> parse_service_check(const Field* f, hc::CheckSpec& spec);
  // A backend's effective health_check onto `b.health`: the service's map with the backend's
  // own `health_check:` (`own`, if given) laid over it. Counts in `usage` which of the
  // service's type-specific keys the backend inherits and uses.
  void parse_backend_check(const Field* own, const Map* service_health, BackendConfig& b,
                           HealthUsage& usage);
  static CheckFields check_fields(const Map* service, const Map* backend, bool for_backend);
  void parse_check(const CheckFields& fields, bool service_level, hc::CheckSpec& spec,
                   std::vector<std::string_view>* used);
  void check_unused_health_keys(const Map* service, const HealthUsage& usage,
                                const hc::CheckSpec& spec);
  // A non-empty string without control characters.
  std::optional<std::string> text(const Field& f, size_t max);
  std::optional<std::vector<hc::StatusRange>> statuses(const Field& f);
  std::optional<std::vector<std::string>> command(const Field& f);

  // load_routing.cc
  // A route's destination of either family, as the checks compare it.
  struct AnyPrefix {
    IpAddress network;  // host bits zero
    uint8_t length = 0;
    std::string text;   // as messages write it
  };
  void parse_neighbour(const YAML::Node& node, int line);
  void parse_route(const YAML::Node& node, int line);
  std::optional<AnyPrefix> route_prefix(const Field& f);
  void check_routes();
  void check_neighbours();
  // Covered by a gateway or a route of its family.
  bool routed(const IpAddress& ip) const;

  // load_api.cc
  void parse_api(const Field& field);

  // load_vrrp.cc
  void parse_vrrp(const Field& field);
  void parse_vrrp_instance(const YAML::Node& node, int line);
  void parse_vrrp_tracks(const Field& field, VrrpTrackKind kind, VrrpInstanceSettings& v,
                         VrrpInstanceRec& rec);
  void parse_vrrp_group(const YAML::Node& node, int line);
  void parse_vrrp_script(const YAML::Node& node, int line);
  void check_vrrp();
  void check_vrrp_scripts();
  std::optional<int32_t> track_weight(const Field& f);

  // load_notify.cc
  void parse_notify(const Field& field);
  std::optional<notify::Command> notify_command(const Field& f);
  // notify_master, notify_backup, notify_fault, notify_stop and notify of `m` onto `n`.
  void vrrp_notify_commands(const Map& m, VrrpNotifyConfig& n);

  // load_connection_sync.cc
  void parse_connection_sync(const Field& field);
  void check_connection_sync();

  // load_bgp.cc
  void parse_bgp(const Field& field);
  void check_bgp();

  // ---- state ----

  struct LocalAddress {
    std::string port;
    int line;
  };

  std::string name_;
  Config config_;
  std::vector<PortRec> ports_;
  std::vector<ServiceRec> services_;
  std::vector<NeighbourRec> neighbours_;   // parallel to Config::neighbours
  std::vector<NeighbourRec> neighbours6_;  // parallel to Config::neighbours6
  std::vector<RouteRec> routes_;           // parallel to Config::routes
  std::vector<RouteRec> routes6_;          // parallel to Config::routes6
  std::vector<VrrpInstanceRec> vrrp_;
  std::vector<VrrpGroupRec> vrrp_groups_;
  std::vector<VrrpScriptRec> vrrp_scripts_;
  // connection_sync's port (resolved in the second pass) and the lines errors point to.
  std::string sync_port_name_;
  int sync_port_line_ = 0;
  int sync_refresh_line_ = 0;
  int bgp_line_ = 0;
  // False when a port address, gateway or route did not parse: on-link and reachability
  // checks would then report mistakes that are not there.
  bool network_known_ = true;
  bool has_gateway_ = false;
  int gateway_line_ = 0;
  bool has_gateway6_ = false;
  int gateway6_line_ = 0;
  std::map<IpAddress, LocalAddress> locals_;
  std::vector<std::pair<int, std::string>> errors_, warnings_;
};

}  // namespace shoal::cp::config_loader

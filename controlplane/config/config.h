// The daemon's configuration: a YAML file turned into a validated model. Loading either
// yields a Config in which every cross-reference has been checked (addresses unique, modes
// workable with the ports given, backends reachable), or refuses the whole file with one
// `FILE:LINE: reason` per mistake — all of them, not just the first — so that a start-up
// fails with a complete list and a reload leaves the running config untouched.
//
// The model is host-friendly but speaks the dataplane's units where they meet: IPv4
// addresses are uint32_t in network byte order (as dp::ipv4() builds them, as they sit in
// packets), ports are uint16_t in host order (be16() them when building a SnapshotSpec),
// flow timeouts are dp::FlowTimeouts (milliseconds).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "healthcheck/check_spec.h"
#include "dataplane/flow_table.h"
#include "dataplane/maglev.h"
#include "dataplane/snapshot.h"

namespace shoal::cp {

enum class LogLevel : uint8_t { trace, debug, info, warn, error };
enum class Protocol : uint8_t { tcp = 6, udp = 17 };  // values are IP protocol numbers

using MacAddress = std::array<uint8_t, 6>;

inline constexpr uint32_t kMaxWorkers = 64;
inline constexpr uint32_t kDefaultFlowTableSize = 1u << 20;
inline constexpr uint32_t kMinFlowTableSize = 1024;
inline constexpr uint32_t kMaxFlowTableSize = 1u << 28;
inline constexpr uint32_t kMaxFlowTimeoutSeconds = 7 * 24 * 3600;  // well inside uint32 ms
inline constexpr uint16_t kMinMtu = 576;
inline constexpr uint16_t kMaxMtu = 9000;
inline constexpr uint32_t kMaxMaglevSize = 1u << 24;
inline constexpr uint32_t kMaxBackends = 65534;  // in total, over every service
inline constexpr uint16_t kMaxBackendId = dp::kNoBackend - 1;

// An IPv4 address with a prefix length: a port's local address and its subnet, or a route's
// destination (whose host bits are then zero).
struct Ipv4Prefix {
  uint32_t address = 0;  // network byte order
  uint8_t length = 0;    // 0..32

  // Netmask in network byte order.
  uint32_t mask() const;
  bool contains(uint32_t ip) const { return ((ip ^ address) & mask()) == 0; }
  bool operator==(const Ipv4Prefix&) const = default;
};

struct PortConfig {
  std::string name;    // [a-z0-9_-]+, unique
  std::string device;  // DPDK device string: a PCI address or a vdev with its arguments
  std::vector<Ipv4Prefix> addresses;  // at least one; on-link subnets of this port
  std::optional<uint32_t> gateway;    // default route; inside one of `addresses`
  uint16_t mtu = 1500;
  // The exception path: a TAP interface of this name on which the kernel holds the port's
  // addresses; traffic to them (not to VIPs) goes to the kernel, and the kernel's to the wire.
  // Empty: none; the control plane then answers only ARP and ping for the port's addresses.
  std::string tap;
};

struct WorkersConfig {
  uint32_t count = 1;
  uint32_t flow_table_size = kDefaultFlowTableSize;  // flows per worker
  dp::FlowTimeouts flow_timeouts;                    // given in seconds in the file
};

struct BackendConfig {
  std::string name;  // unique within its service; defaults to "address:port"
  uint32_t address = 0;
  uint16_t port = 0;             // defaults to the service port; DR/TUN cannot change it
  uint32_t weight = 1;           // 0..65535; 0 = drain
  bool sorry = false;            // a sorry server: takes new flows only when all others are down
  uint16_t id = dp::kNoBackend;  // stable id: see assign_backend_ids()
  // The check this backend gets: its service's `health_check:` with the backend's own
  // `health_check:` keys laid over it; type none (always up) when neither has one.
  hc::CheckSpec health;
};

// What a service does with new flows when none of its (non-sorry) backends is both healthy and
// enabled.
enum class AllDownPolicy : uint8_t {
  drop,       // drop them, counted as no_backend
  fail_open,  // forward to every enabled backend as if its checks passed
  sorry,      // forward to the service's sorry servers
};

struct ServiceConfig {
  std::string name;  // [a-z0-9_-]+, unique
  uint32_t vip = 0;
  uint16_t port = 0;
  Protocol protocol = Protocol::tcp;
  dp::ForwardMode forwarding = dp::ForwardMode::dr;
  dp::HashOn hash = dp::HashOn::five_tuple;
  uint32_t maglev_size = dp::kDefaultMaglevSize;  // prime, > number of backends
  std::vector<BackendConfig> backends;            // at least one that is not a sorry server
  AllDownPolicy all_down = AllDownPolicy::drop;   // sorry: at least one backend is a sorry server
  // The service's `health_check:` as written (backends hold the effective spec).
  hc::CheckSpec health;
  // Its flows go to the peers when connection_sync is on. Default: NAT services only — DR
  // and TUN flows reach the same backend from any director with the same Maglev table.
  bool sync = false;
};

struct NeighbourConfig {  // a static ARP entry
  uint32_t address = 0;
  MacAddress mac{};
};

struct RouteConfig {
  Ipv4Prefix prefix;  // host bits zero
  uint32_t via = 0;   // on-link next hop
};

inline constexpr const char* kDefaultApiSocket = "/run/shoal/shoald.sock";

struct ApiConfig {
  std::string socket = kDefaultApiSocket;  // Unix socket of the control API (mode 0600)
  std::string listen;      // "a.b.c.d:port": the API and dashboard over TCP too; empty: not
  std::string token_file;  // required with `listen`: the token that logs in
  std::string dashboard;   // the dashboard's files; empty: the ones built in (SHOAL_DASHBOARD_DIR)
};

// `vrrp:` — the virtual routers this director takes part in (see vrrp/runner.h). Times are
// given in seconds in the file. Each instance maps onto a VrrpInstanceConfig.
enum class VrrpTrackKind : uint8_t {
  service,  // down while the service has no backend that is both healthy and enabled
  port,     // down while the port's link is down
};

struct VrrpTrackConfig {
  VrrpTrackKind kind = VrrpTrackKind::service;
  std::string name;    // a service's or a port's name
  int32_t weight = 0;  // -254..254; 0: the instance goes to fault while the item is down
};

struct VrrpInstanceSettings {
  std::string name;  // [a-z0-9_-]+, unique
  uint8_t vrid = 0;  // 1..255, unique per port
  uint8_t priority = 100;
  uint16_t interval_cs = 100;  // advertisement interval, centiseconds (1..4095)
  bool preempt = true;
  uint32_t preempt_delay_ms = 0;
  bool virtual_mac = true;  // RFC 9568 §7.3 MAC as source, ARP answers and accepted destination
  bool v2_checksum = false;
  std::size_t port = 0;  // index into Config::ports
  // What the director holds while master: service VIPs, and on-link addresses of their own
  // (the NAT real servers' gateway, say). Network byte order.
  std::vector<uint32_t> addresses;
  uint32_t garp_count = 5;
  uint32_t garp_interval_ms = 100;
  uint32_t garp_refresh_ms = 0;  // 0: no refresh while master
  std::vector<VrrpTrackConfig> tracks;
};

struct VrrpSyncGroupSettings {
  std::string name;
  std::vector<std::string> instances;  // names of instances, each in one group at most
};

struct VrrpSection {
  std::vector<VrrpInstanceSettings> instances;
  std::vector<VrrpSyncGroupSettings> sync_groups;

  // The instance carrying `ip`, or nullptr: addresses no instance carries are always ours.
  const VrrpInstanceSettings* instance_of(uint32_t ip) const;
};

// `connection_sync:` — the flows of synced services go to the other directors, so that NAT
// connections survive a failover even when the directors' backends differ (connection_sync.h).
inline constexpr uint32_t kDefaultSyncGroup = dp::ipv4(224, 0, 0, 81);  // as IPVS's sync daemon
inline constexpr uint16_t kDefaultSyncPort = 8848;
inline constexpr uint32_t kMaxSyncRefreshMs = 3600 * 1000;

struct ConnectionSyncSettings {
  bool enabled = false;
  std::size_t port = 0;  // index into Config::ports: where messages go out and come in
  uint32_t group = kDefaultSyncGroup;  // multicast group, network order
  uint16_t udp_port = kDefaultSyncPort;
  uint8_t id = 0;  // sync id: directors of one cluster share it; others' messages are dropped
  uint32_t table_size = 0;  // flows peers may pin here; 0: workers × flow_table_size
  // Active flows are sent again this often, so that peers' copies do not age out; at most half
  // the established and udp timeouts. 0: the smaller of 60 s and that half.
  uint32_t refresh_ms = 0;
  uint32_t pull_timeout_ms = 3000;  // a (re)started director waits this long for peers' tables

  bool operator==(const ConnectionSyncSettings&) const = default;
};

struct Config {
  std::string source;            // the file (or name) it was loaded from, for messages
  std::vector<std::string> eal;  // extra EAL arguments
  LogLevel log_level = LogLevel::info;
  std::vector<PortConfig> ports;  // at least one; index = DPDK port id, in file order
  WorkersConfig workers;
  std::vector<ServiceConfig> services;
  std::vector<NeighbourConfig> neighbours;
  std::vector<RouteConfig> routes;
  uint8_t tunnel_ttl = 64;
  ApiConfig api;
  VrrpSection vrrp;
  ConnectionSyncSettings connection_sync;

  // Index of the first port with a subnet containing `ip`, or -1 if it is not on-link.
  int on_link_port(uint32_t ip) const;
  size_t backend_count() const;
};

struct LoadResult {
  std::optional<Config> config;       // set if and only if `errors` is empty
  std::vector<std::string> errors;    // "FILE:LINE: reason", in line order
  std::vector<std::string> warnings;  // same format; never refuse the file
};

// Loads and validates. Backend ids are assigned as for a first load (0, 1, 2, … in file
// order); call assign_backend_ids(next, &running) before publishing a reload.
LoadResult load_config_file(const std::string& path);
LoadResult load_config_string(const std::string& text, const std::string& name = "<string>");

// Gives every backend of `next` a stable id. A backend keeps its id if `previous` had the
// same (service name, address, port). Newcomers get the lowest ids no backend of `previous`
// used, so that a removed backend's id is not handed on at once (the flow tables may still
// pin its flows to that id); only when those run out are ids freed by removed backends
// reused, lowest first. `previous` may be null (first load). `next` must hold at most
// kMaxBackends backends, as a validated Config does.
void assign_backend_ids(Config& next, const Config* previous);

// The health checker's targets: one per backend, keyed by (service name, backend name),
// checked at the backend's address with its effective health_check.
std::vector<hc::Target> health_targets(const Config& config);

// Strict parsers, shared with the API and shoalctl: dotted quad without leading zeros;
// "a.b.c.d/len"; "xx:xx:xx:xx:xx:xx" (hex, either case).
std::optional<uint32_t> parse_ipv4(std::string_view text);
std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view text);
// "a.b.c.d:port" (port 1..65535, host order); with `port_optional`, "a.b.c.d" gives port 0.
std::optional<std::pair<uint32_t, uint16_t>> parse_ipv4_endpoint(std::string_view text,
                                                                 bool port_optional = false);
std::optional<MacAddress> parse_mac(std::string_view text);

std::string to_string(const Ipv4Prefix& prefix);
std::string to_string(const MacAddress& mac);
std::string_view to_string(LogLevel level);
std::string_view to_string(Protocol protocol);
std::string_view to_string(dp::ForwardMode mode);
std::string_view to_string(dp::HashOn hash);
std::string_view to_string(AllDownPolicy policy);
std::string_view to_string(VrrpTrackKind kind);

}  // namespace shoal::cp

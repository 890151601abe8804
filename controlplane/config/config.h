// The daemon's configuration: a YAML file turned into a validated model. Loading either
// yields a Config in which every cross-reference has been checked (addresses unique, modes
// workable with the ports given, backends reachable), or refuses the whole file with one
// `FILE:LINE: reason` per mistake — all of them, not just the first — so that a start-up
// fails with a complete list and a reload leaves the running config untouched.
//
// The model is host-friendly but speaks the dataplane's units where they meet: IPv4
// addresses are uint32_t in network byte order (as dp::ipv4() builds them, as they sit in
// packets), ports are uint16_t in host order (be16() them when building a SnapshotSpec),
// flow timeouts are dp::FlowTimeouts (milliseconds). Each section's part of the model has a
// header of its own, included here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/address.h"
#include "config/api.h"
#include "config/bgp.h"
#include "config/connection_sync.h"
#include "config/notify.h"
#include "config/port.h"
#include "config/routing.h"
#include "config/service.h"
#include "config/vrrp.h"
#include "config/workers.h"
#include "healthcheck/check_spec.h"

namespace shoal::cp {

enum class LogLevel : uint8_t { trace, debug, info, warn, error };

struct Config {
  std::string source;            // the file (or name) it was loaded from, for messages
  std::vector<std::string> eal;  // extra EAL arguments
  LogLevel log_level = LogLevel::info;
  std::vector<PortConfig> ports;  // at least one; index = DPDK port id, in file order
  WorkersConfig workers;
  std::vector<ServiceConfig> services;
  std::vector<NeighbourConfig> neighbours;  // IPv4's `neighbours:` entries, in file order
  std::vector<Neighbour6Config> neighbours6;  // IPv6's
  std::vector<RouteConfig> routes;            // IPv4's `routes:` entries, in file order
  std::vector<Route6Config> routes6;          // IPv6's
  uint8_t tunnel_ttl = 64;
  ApiConfig api;
  VrrpSection vrrp;
  NotifySettings notify;
  ConnectionSyncSettings connection_sync;
  BgpSettings bgp;

  // Index of the first port with a subnet containing `ip`, or -1 if it is not on-link.
  int on_link_port(uint32_t ip) const;
  int on_link_port(const dp::Ipv6Address& ip) const;
  int on_link_port(const IpAddress& ip) const {
    return ip.is_v4() ? on_link_port(ip.v4()) : on_link_port(ip.v6());
  }
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

std::string_view to_string(LogLevel level);

}  // namespace shoal::cp

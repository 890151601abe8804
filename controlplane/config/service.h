// `services:` — the virtual services and their backends.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/scheduler/maglev.h"
#include "dataplane/scheduler/scheduler.h"
#include "dataplane/snapshot.h"
#include "config/address.h"
#include "healthcheck/check_spec.h"
#include "notify/command.h"

namespace shoal::cp {

enum class Protocol : uint8_t { tcp = 6, udp = 17 };  // values are IP protocol numbers

inline constexpr uint32_t kMaxMaglevSize = 1u << 24;
inline constexpr uint32_t kMaxBackends = 65534;  // in total, over every service
inline constexpr uint16_t kMaxBackendId = dp::kNoBackend - 1;

struct BackendConfig {
  std::string name;  // unique within its service; defaults to "address:port" ("address" when multi-port)
  // The service's family, except IPv6 backends of an IPv4 service in TUN (4-in-6).
  IpAddress address;
  // Defaults to the service port; DR/TUN cannot change it. 0 in a multi-port service: each
  // packet keeps its own destination port.
  uint16_t port = 0;
  uint32_t weight = 1;           // 0..65535; 0 = drain
  bool sorry = false;            // a sorry server: takes new flows only when all others are down
  uint16_t id = dp::kNoBackend;  // stable id: see assign_backend_ids()
  // The check this backend gets: its service's `health_check:` with the backend's own
  // `health_check:` keys laid over it; type none (always up) when neither has one.
  hc::CheckSpec health;
  // Run when its health check turns it up or down (keepalived's notify_up/notify_down); the
  // service's `notify_up:`/`notify_down:` when the backend has none of its own.
  notify::Command notify_up, notify_down;
};

// What a service does with new flows while it is down: below quorum, which by default means
// that none of its real (not sorry) backends both takes new flows and is in service.
enum class AllDownPolicy : uint8_t {
  drop,       // nothing stands in: the backends still in service take them, else no_backend
  fail_open,  // forward to every enabled backend as if its checks passed
  sorry,      // forward to the service's sorry servers
};

struct ServiceConfig {
  std::string name;  // [a-z0-9_-]+, unique
  IpAddress vip;     // its family is the service's
  // `port: N`. 0: a multi-port service (IPVS's firewall-mark services), over `port_ranges`
  // (`ports: [80, 443, "8000-8100"]`, in the order written), or over every port when they are
  // empty (`port: 0`, `ports: all`: LVS's port 0). A VIP's service with a packet's own port
  // wins over its service on every port.
  uint16_t port = 0;
  std::vector<dp::PortRange> port_ranges;
  Protocol protocol = Protocol::tcp;
  dp::ForwardMode forwarding = dp::ForwardMode::dr;
  dp::Scheduler scheduler = dp::Scheduler::maglev;
  dp::HashOn hash = dp::HashOn::five_tuple;       // maglev and mh (mh: source-address)
  uint32_t maglev_size = dp::kDefaultMaglevSize;  // maglev and mh: prime, > number of backends
  std::vector<BackendConfig> backends;            // at least one that is not a sorry server
  AllDownPolicy all_down = AllDownPolicy::drop;   // sorry: at least one backend is a sorry server
  // `quorum:` — the service is up while the weights of its real backends in service add up
  // to `quorum` (see quorum/service_quorum.h); `hysteresis` < quorum.
  uint32_t quorum = 1;
  uint32_t quorum_hysteresis = 0;
  // Run when it regains and loses quorum (keepalived's quorum_up/quorum_down).
  notify::Command quorum_up, quorum_down;
  // The service's `health_check:` as written (backends hold the effective spec).
  hc::CheckSpec health;
  // Its flows go to the peers when connection_sync is on. Default: NAT services, and those
  // whose scheduler does not map a flow alike on every director — a DR or TUN flow under a
  // hashing scheduler reaches the same backend from any director with the same config.
  bool sync = false;
  // `persistence:` — a client, its address masked, keeps its backend for `timeout` after its
  // last activity. timeout_s 0: none. The mask: a netmask for an IPv4 VIP, a prefix length
  // for an IPv6 one.
  uint32_t persistence_timeout_s = 0;
  uint32_t persistence_netmask = 0xffffffff;  // network byte order
  uint8_t persistence_prefix6 = 128;
  // "255.255.255.0", or "64" for an IPv6 service (as ipvsadm shows them).
  std::string persistence_mask_text() const {
    return vip.is_v6() ? std::to_string(persistence_prefix6) : dp::ipv4_to_string(persistence_netmask);
  }

  bool multi_port() const { return port == 0; }
  bool every_port() const { return port == 0 && port_ranges.empty(); }
  // Whether it has `p` (host byte order) as its port or among the ports it lists; a service
  // on every port has none of its own: it takes the ports the VIP's other services do not.
  bool lists_port(uint16_t p) const {
    if (!multi_port()) return p == port;
    return std::any_of(port_ranges.begin(), port_ranges.end(),
                       [p](const dp::PortRange& r) { return p >= r.first && p <= r.last; });
  }
};

// The service's ports as `shoalctl list` and messages show them: "80", "80,443,8000-8100",
// or "0" for every port (LVS's port 0).
std::string ports_text(const ServiceConfig& svc);
// "10.0.0.100:80,443", "[fd00::100]:80", as ipvsadm shows a service.
std::string service_endpoint(const ServiceConfig& svc);

inline constexpr uint32_t kMaxPersistenceTimeoutSeconds = 7 * 24 * 3600;
inline constexpr uint32_t kMaxQuorum = 1u << 30;  // above any sum of backend weights

// The schedulers that build a Maglev table (and take `hash` and `maglev_size`).
constexpr bool uses_maglev(dp::Scheduler s) {
  return s == dp::Scheduler::maglev || s == dp::Scheduler::mh;
}

// As the file spells them.
std::string_view to_string(Protocol protocol);
std::string_view to_string(dp::ForwardMode mode);
std::string_view to_string(dp::HashOn hash);
std::string_view to_string(AllDownPolicy policy);

}  // namespace shoal::cp

// Turns the running Config and the neighbour table into the SnapshotSpec the dataplane's
// Snapshot is built from: which next hop each backend and client is reached through, with
// the MACs ARP has found so far.
#pragma once

#include <rte_ether.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/admin_state.h"
#include "healthcheck/check_spec.h"
#include "config/config.h"
#include "net/neighbours.h"
#include "dataplane/snapshot.h"

namespace shoal::cp {

// A configured port as DPDK knows it. Indexed like Config::ports.
struct PortHandle {
  uint16_t id = 0;  // DPDK port id
  rte_ether_addr mac{};
};

// The addresses ARP must resolve for this config: backends (or the gateway or route they
// are reached through), gateways and route next hops.
std::vector<Neighbours::Probe> wanted_neighbours(const Config& config,
                                                 const std::vector<PortHandle>& ports);
// The same for IPv6, which Neighbour Discovery resolves.
std::vector<Neighbours6::Probe> wanted_neighbours6(const Config& config,
                                                   const std::vector<PortHandle>& ports);

// What the health checks last said of a backend. Backends without an entry count as up.
struct BackendHealth {
  bool up = true;
  std::optional<uint32_t> weight;  // from an exec check's output
};
using HealthView = std::map<hc::TargetKey, BackendHealth>;

// What VRRP says this director holds now; the default (no VRRP) holds everything. Addresses
// that no instance carries are always held.
struct VrrpOwnership {
  std::set<IpAddress> released;  // VRRP addresses this director does not hold (not master)
  // Config port index → virtual MACs of the instances this director is master for there.
  std::map<std::size_t, std::vector<rte_ether_addr>> virtual_macs;
};

// A backend is in service while its checks pass (or it has none) and the operator has not
// disabled it. Its effective weight is the operator's, else its exec check's, else the file's;
// 0 when the file or the operator drains it. Quorum (quorum/service_quorum.h) adds these up.
bool in_service(const ServiceConfig& svc, const BackendConfig& b, const HealthView& health,
                const AdminStates& admin);
uint32_t effective_weight(const ServiceConfig& svc, const BackendConfig& b,
                          const HealthView& health, const AdminStates& admin);

// Whether a service is up (has quorum): by name; what ServiceQuorums::up answers.
using ServiceUp = std::function<bool(const std::string& service)>;

// Each backend's part in the Maglev table follows from its file weight, its health, the
// operator's word (AdminStates) and, while its service is down (below quorum), the service's
// all_down policy: fail-open puts every enabled backend in service, sorry sends the new flows to
// the sorry servers alone (the real backends' flows finish). Sorry servers drain otherwise.
dp::SnapshotSpec build_snapshot_spec(const Config& config, const std::vector<PortHandle>& ports,
                                     const Neighbours& neighbours, const HealthView& health,
                                     const AdminStates& admin, const ServiceUp& service_up,
                                     const VrrpOwnership& vrrp = {},
                                     const Neighbours6* neighbours6 = nullptr);

}  // namespace shoal::cp

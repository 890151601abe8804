// The immutable tables a worker reads: VIP index → service → backends with their Maglev
// table, next hops, routes. The control plane builds a Snapshot off the hot path from a
// SnapshotSpec, publishes it whole (one pointer store) and frees the previous one only after
// every worker has passed a quiescent state. Nothing in a published Snapshot changes.
//
// Addresses and ports are in network byte order throughout, as they sit in packets, so the
// hot path compares them without swapping. ipv4() and be16() build such values.
#pragma once

#include <rte_ether.h>

#include <bit>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/address_table.h"
#include "dataplane/flow_table.h"
#include "dataplane/scheduler/maglev.h"
#include "dataplane/scheduler/scheduler.h"

struct rte_lpm;

namespace shoal::dp {

enum class ForwardMode : uint8_t { dr, nat, tun };
enum class HashOn : uint8_t { five_tuple, source_address };

inline constexpr uint16_t kNoBackend = 0xffff;  // backend ids are 0..65534
inline constexpr uint32_t kNoNextHop = 0xffffffff;

// The constexpr builders below lay bytes out for a little-endian host (x86, arm64).
static_assert(std::endian::native == std::endian::little);

constexpr uint32_t ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return uint32_t(a) | uint32_t(b) << 8 | uint32_t(c) << 16 | uint32_t(d) << 24;
}
constexpr uint16_t be16(uint16_t host) { return static_cast<uint16_t>(host << 8 | host >> 8); }
std::string ipv4_to_string(uint32_t addr);

struct PortSpec {
  rte_ether_addr mac{};
  uint32_t local_ip = 0;  // source of TUN outer headers sent from this port
  uint16_t mtu = 1500;
  // Unicast MACs accepted besides `mac`: the VRRP virtual MACs of the instances this
  // director is master for. A backup must not take frames sent to a virtual MAC.
  std::vector<rte_ether_addr> extra_macs;

  Ipv6Address local_ip6{};  // the source of IPv6 outer headers; all zero: the port has none

  bool accepts(const rte_ether_addr& dst) const {
    if (rte_is_same_ether_addr(&dst, &mac)) return true;
    for (const rte_ether_addr& m : extra_macs)
      if (rte_is_same_ether_addr(&dst, &m)) return true;
    return false;
  }
};

struct NextHopSpec {
  uint16_t port = 0;
  bool resolved = false;  // false until ARP has answered: packets to it are dropped, counted
  rte_ether_addr mac{};
};

struct BackendSpec {
  uint16_t id = kNoBackend;  // stable across reloads for the same service, address and port
  uint32_t ip = 0;
  uint16_t port = 0;  // NAT: destination port after DNAT; DR/TUN keep the VIP port. 0 keeps it.
  uint32_t weight = 1;       // 0 = draining: keeps its flows, takes no new ones
  bool healthy = true;       // false: no new flows and its flows are rescheduled
  uint32_t next_hop = kNoNextHop;
  // An IPv6 real server (of an IPv6 service, or of an IPv4 one in TUN: 4-in-6): ip6, not ip.
  bool ipv6 = false;
  Ipv6Address ip6{};

  // The one rule for a place in the Maglev table: what the API and /metrics report too.
  bool takes_new_flows() const { return healthy && weight > 0; }
};

// Inclusive range of ports, host byte order (a multi-port service's `ports:`).
struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;
  uint32_t size() const { return uint32_t(last) - first + 1; }
  bool operator==(const PortRange&) const = default;
};

// Most (address, port, protocol) entries a snapshot indexes for multi-port services: each
// listed port of a service is one entry, and one more per NAT backend (their replies come from
// any of the ports). A service on every port (port 0) takes one entry, whatever it serves.
inline constexpr uint32_t kMaxListedPortEntries = 65536;

struct ServiceSpec {
  uint32_t vip = 0;
  // 0: a multi-port service, over `port_ranges` or, when they are empty, over every port
  // (LVS's port 0). Its backends' port is 0 too: a packet keeps its own destination port.
  uint16_t port = 0;
  uint8_t proto = 6;
  ForwardMode mode = ForwardMode::dr;
  HashOn hash_on = HashOn::five_tuple;  // maglev and mh
  uint32_t maglev_size = kDefaultMaglevSize;
  std::vector<BackendSpec> backends;  // in config order: rr, wrr, lc, sh and dh follow it
  // False while another director holds the VIP (VRRP backup): its traffic and NAT replies
  // are dropped as vip_not_owned.
  bool owned = true;
  // Connection sync covers it: its workers report its flows to the peers, and look up the
  // flows peers pinned before they schedule one themselves.
  bool sync = false;
  Scheduler scheduler = Scheduler::maglev;
  // Persistence: a client, its address masked, keeps its backend for this long after its
  // last activity. 0: none.
  uint32_t persistence_timeout_ms = 0;
  uint32_t persistence_mask = 0xffffffff;  // network byte order; all ones for an IPv6 service
  uint8_t persistence_prefix6 = 128;       // an IPv6 service's: the client's prefix length
  // A multi-port service's listed ports (see `port`).
  std::vector<PortRange> port_ranges = {};
  // An IPv6 service: its VIP is vip6, not vip.
  bool ipv6 = false;
  Ipv6Address vip6{};

  bool every_port() const { return port == 0 && port_ranges.empty(); }
  // The port that names the service among its VIP's (network byte order): its port, the
  // first it lists, or 0 for every port. Two multi-port services of one VIP differ in it.
  uint16_t key_port() const { return port_ranges.empty() ? port : be16(port_ranges.front().first); }
};

struct RouteSpec {
  uint32_t prefix = 0;
  uint8_t length = 0;
  uint32_t next_hop = kNoNextHop;
};

struct Route6Spec {
  Ipv6Address prefix{};
  uint8_t length = 0;
  uint32_t next_hop = kNoNextHop;
};

struct SnapshotSpec {
  std::vector<PortSpec> ports;  // indexed by DPDK port id
  std::vector<NextHopSpec> next_hops;
  std::vector<RouteSpec> routes;  // where NAT replies to clients go
  std::vector<uint32_t> local_addresses;
  // Addresses of ours that another director holds now (VRRP addresses that are no service's
  // VIP, such as the NAT real servers' gateway): dropped as vip_not_owned.
  std::vector<uint32_t> unowned_addresses;
  std::vector<ServiceSpec> services;
  // IPv6: where NAT66 replies go, and the director's own addresses (handed to the control
  // plane: Neighbour Discovery, echo, the exception path).
  std::vector<Route6Spec> routes6;
  std::vector<Ipv6Address> local_addresses6;
  std::vector<Ipv6Address> unowned_addresses6;  // as unowned_addresses
  uint8_t tunnel_ttl = 64;  // TTL of TUN outer headers
  // Connection sync's multicast group and UDP port: its datagrams go to the control plane.
  // 0: not configured.
  uint32_t sync_group = 0;
  uint16_t sync_port = 0;
};

struct Backend {
  uint32_t ip;
  uint16_t port;  // kKeepPort (0): a multi-port service's backend gets the packet's own port
  uint16_t service;  // index into services
  uint32_t next_hop;
  uint16_t id;            // its stable id: where its counters are
  bool accepts_existing;  // configured and healthy: its pinned flows stay with it
  bool takes_new_flows;   // BackendSpec::takes_new_flows(): also where persistence may send
  bool ipv6 = false;      // see BackendSpec::ipv6
  Ipv6Address ip6{};
};

struct Service {
  uint32_t vip;
  uint16_t port;  // kKeepPort (0): multi-port, NAT replies keep their source port
  uint8_t proto;
  ForwardMode mode;
  HashOn hash_on;
  bool owned;  // see ServiceSpec::owned
  bool sync;   // see ServiceSpec::sync
  Scheduler scheduler;
  std::vector<Candidate> candidates;  // the backends that take new flows, in config order
  uint32_t max_weight;                // the candidates' largest weight (wrr)
  uint32_t weight_gcd;                // their weights' greatest common divisor (wrr, sh)
  MaglevTable maglev;                 // maglev, mh: slot → candidate index
  std::vector<uint16_t> buckets;      // sh, dh: bucket → candidate index
  uint32_t persistence_timeout_ms;    // 0: no persistence
  uint32_t persistence_mask;          // network byte order
  uint16_t persistence_tag;           // the service in persistence entries; never 0
  bool ipv6 = false;                  // see ServiceSpec::ipv6
  Ipv6Address vip6{};
  uint8_t persistence_prefix6 = 128;  // see ServiceSpec::persistence_prefix6

  // Stable id of candidate `i` (kNoCandidate → kNoBackend).
  uint16_t candidate_id(uint16_t i) const {
    return i == kNoCandidate ? kNoBackend : candidates[i].id;
  }
  // maglev and mh: stable id of the backend for a scheduling hash, or kNoBackend.
  uint16_t maglev_pick(uint32_t hash) const {
    uint16_t i = maglev.pick(hash);
    return i == kMaglevEmpty ? kNoBackend : candidates[i].id;
  }
};

// An IPv6 client as its service's schedulers and persistence entries see it: folded to 32 bits
// (scheduling_address), under the service's persistence prefix when it has persistence, so
// that a whole prefix shares one entry as an IPv4 netmask's clients do. Two prefixes that
// fold alike share an entry too: both keep one real server, which persistence allows.
inline uint32_t client_address6(const Service& svc, const Ipv6Address& client) {
  if (svc.persistence_timeout_ms == 0 || svc.persistence_prefix6 >= 128)
    return scheduling_address(client);
  Ipv6Address masked{};
  for (uint8_t i = 0; i < svc.persistence_prefix6 / 8; ++i) masked[i] = client[i];
  if (const uint8_t rest = svc.persistence_prefix6 % 8)
    masked[svc.persistence_prefix6 / 8] = client[svc.persistence_prefix6 / 8] & uint8_t(0xff << (8 - rest));
  return scheduling_address(masked);
}

// The tag that names a service in persistence entries: the same on every director for the
// same VIP, key port and protocol, so that connection sync can carry entries; never 0.
uint16_t persistence_tag(const ServiceSpec& svc);

// What a destination address (and port, protocol) is to this director.
// not_owned: a VIP (any port and protocol) or address another director holds now.
enum class AddressKind : uint8_t { unknown, service, vip_address, local_address, not_owned };

class Snapshot {
 public:
  static constexpr uint32_t kMaxClassifyBulk = 64;

  ~Snapshot();
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  // Builds the lookup structures (rte_lpm needs a running EAL). On an
  // inconsistent spec returns nullptr and says why in `error`.
  static std::unique_ptr<Snapshot> build(const SnapshotSpec& spec, std::string* error);

  // Hot path: classifies up to kMaxClassifyBulk destinations (ip, port, proto) at once.
  // `index[i]` is the service index for AddressKind::service. A single-port service and each
  // listed port of a multi-port one has its own entry; a service on every port is found
  // through its VIP's entry, which only destinations that miss the first lookup read.
  void classify_bulk(const uint32_t* ips, const uint16_t* ports, const uint8_t* protos,
                     uint32_t n, AddressKind* kinds, uint16_t* index) const;
  AddressKind classify(uint32_t ip, uint16_t port, uint8_t proto, uint16_t* index) const;
  // Service whose NAT backend (ip, port, proto) sent this reply, or -1. A backend of a NAT
  // service on every port is looked up a second time, with port 0, only when some service
  // has such backends and the first lookup missed.
  int nat_reply_service(uint32_t src_ip, uint16_t src_port, uint8_t proto) const;
  // Next hop towards `dst`, or kNoNextHop.
  uint32_t route(uint32_t dst) const;

  // IPv6: the same three lookups, one destination at a time (the IPv4 path's bulk lookup and
  // prefetches are for the family that carries nearly all of the traffic so far).
  AddressKind classify6(const Ipv6Address& ip, uint16_t port, uint8_t proto,
                        uint16_t* index) const;
  int nat_reply_service6(const Ipv6Address& src_ip, uint16_t src_port, uint8_t proto) const;
  uint32_t route6(const Ipv6Address& dst) const;

  const Service& service(uint16_t i) const { return services_[i]; }
  uint32_t service_count() const { return static_cast<uint32_t>(services_.size()); }
  // Backend by stable id, or nullptr if no such backend is configured.
  const Backend* backend(uint16_t id) const {
    return id < backends_.size() && backends_[id].service != kNoService ? &backends_[id]
                                                                          : nullptr;
  }
  // Backend `id` if it may take a new flow of service `index` (where a persistence entry may
  // send one), or nullptr.
  const Backend* new_flow_backend(uint16_t id, uint16_t index) const {
    const Backend* b = backend(id);
    return b != nullptr && b->service == index && b->takes_new_flows ? b : nullptr;
  }
  const NextHopSpec& next_hop(uint32_t i) const { return next_hops_[i]; }
  uint32_t next_hop_count() const { return static_cast<uint32_t>(next_hops_.size()); }
  const PortSpec* port(uint16_t id) const { return id < ports_.size() ? &ports_[id] : nullptr; }
  // Candidates of the services whose scheduler counts connections: the backends whose
  // counts the workers share.
  const std::vector<uint16_t>& counted_backends() const { return counted_backends_; }
  uint8_t tunnel_ttl() const { return tunnel_ttl_; }
  bool is_sync_message(uint32_t dst_ip, uint16_t dst_port) const {
    return sync_group_ != 0 && dst_ip == sync_group_ && dst_port == sync_port_;
  }

 private:
  static constexpr uint16_t kNoService = 0xffff;
  Snapshot() = default;
  // The address's own entry: its kind, or its service on every port of `proto`.
  AddressKind classify_address(uint32_t ip, uint16_t port, uint8_t proto, uint16_t* index) const;

  std::vector<PortSpec> ports_;
  std::vector<NextHopSpec> next_hops_;
  std::vector<Backend> backends_;  // indexed by stable id; unused ids have kNoService
  std::vector<Service> services_;
  std::vector<uint16_t> counted_backends_;
  AddressTable addresses_;    // (ip, port, proto) → kind and service index
  AddressTable nat_replies_;  // (backend ip, port, proto) → service index
  AddressTable6 addresses6_;
  AddressTable6 nat_replies6_;
  bool nat_every_port6_ = false;
  // IPv6 routes: not rte_lpm6, whose first-level table takes 64 MiB per snapshot (and two
  // snapshots live side by side through each grace period). Most IPv6 routes are clients'
  // host routes, found in one exact lookup; the rest (on-link prefixes, the default) are few,
  // scanned longest first.
  AddressTable6 host_routes6_;
  std::vector<Route6Spec> prefix_routes6_;
  bool nat_every_port_ = false;      // some NAT service serves every port: see nat_reply_service
  rte_lpm* routes_ = nullptr;
  uint8_t tunnel_ttl_ = 64;
  uint32_t sync_group_ = 0;
  uint16_t sync_port_ = 0;
};

}  // namespace shoal::dp

#include "dataplane/snapshot.h"

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_lpm.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

#include "dataplane/scheduler/hash_buckets.h"

namespace shoal::dp {
namespace {

// Value stored in the address table: service index in bits 0-15, kind in 16-23. A VIP's own
// entry (port 0, protocol 0) also holds the index of its TCP service on every port in bits
// 32-47 and of its UDP one in 48-63 (0xffff: none), so that the lookup that finds a packet's
// VIP, when no service has its port, finds such a service too.
constexpr uint64_t encode(AddressKind kind, uint16_t index) {
  return uint64_t(kind) << 16 | index;
}
constexpr uint64_t encode_vip(AddressKind kind, uint16_t every_port_tcp,
                               uint16_t every_port_udp) {
  return encode(kind, 0) | uint64_t(every_port_tcp) << 32 | uint64_t(every_port_udp) << 48;
}
constexpr AddressKind kind_of(uint64_t v) { return static_cast<AddressKind>((v >> 16) & 0xff); }
constexpr uint16_t every_port_service(uint64_t vip_value, uint8_t proto) {
  return proto == 6    ? static_cast<uint16_t>(vip_value >> 32)
         : proto == 17 ? static_cast<uint16_t>(vip_value >> 48)
                       : 0xffff;
}
// What a packet of `proto` to an address whose own entry holds `v` is to: the VIP's service on
// every port of the protocol if it has one, else the address's kind.
inline AddressKind address_kind(uint64_t v, uint8_t proto, uint16_t* index) {
  const AddressKind kind = kind_of(v);
  const uint16_t every_port = kind == AddressKind::vip_address ? every_port_service(v, proto) : 0xffff;
  if (every_port != 0xffff) {
    *index = every_port;
    return AddressKind::service;
  }
  *index = static_cast<uint16_t>(v);
  return kind;
}

// Entries a service takes in the address table, and each of its NAT backends in the reply
// table: one per listed port (one for a single port, one for every port).
uint32_t port_entries(const ServiceSpec& svc) {
  uint32_t n = 0;
  for (const PortRange& r : svc.port_ranges) n += r.size();
  return n == 0 ? 1 : n;
}

// Calls f(port) (network byte order) once per entry of the service: its port, each listed
// port, or 0 for every port.
template <typename F>
bool each_port_entry(const ServiceSpec& svc, F&& f) {
  if (svc.port_ranges.empty()) return f(svc.port);
  for (const PortRange& r : svc.port_ranges)
    for (uint32_t port = r.first; port <= r.last; ++port)
      if (!f(be16(static_cast<uint16_t>(port)))) return false;
  return true;
}

// Several snapshots coexist while the old one waits for its grace period, and DPDK names
// its tables globally: each gets a unique suffix.
std::string unique_name(const char* what) {
  static std::atomic<uint32_t> counter{0};
  return std::string(what) + std::to_string(counter.fetch_add(1));
}

bool add(AddressTable& table, uint32_t ip, uint16_t port, uint8_t proto, uint64_t value) {
  return table.insert(AddressTable::key(ip, port, proto), value);
}

}  // namespace

uint16_t persistence_tag(const ServiceSpec& svc) {
  return static_cast<uint16_t>(
      rte_hash_crc_8byte(uint64_t(svc.vip) << 32 | uint32_t(svc.key_port()) << 8 | svc.proto, 0) |
      1);
}

std::string ipv4_to_string(uint32_t addr) {
  const auto* b = reinterpret_cast<const uint8_t*>(&addr);
  return std::to_string(b[0]) + "." + std::to_string(b[1]) + "." + std::to_string(b[2]) + "." +
         std::to_string(b[3]);
}

Snapshot::~Snapshot() {
  rte_lpm_free(routes_);
}

std::unique_ptr<Snapshot> Snapshot::build(const SnapshotSpec& spec, std::string* error) {
  auto fail = [&](std::string why) {
    if (error) *error = std::move(why);
    return std::unique_ptr<Snapshot>();
  };
  std::unique_ptr<Snapshot> s(new Snapshot());
  s->ports_ = spec.ports;
  s->next_hops_ = spec.next_hops;
  s->tunnel_ttl_ = spec.tunnel_ttl;
  s->sync_group_ = spec.sync_group;
  s->sync_port_ = spec.sync_port;
  if (s->ports_.empty()) return fail("no port");
  for (const NextHopSpec& nh : spec.next_hops)
    if (nh.port >= spec.ports.size()) return fail("next hop on unknown port " + std::to_string(nh.port));

  uint32_t address_count =
      static_cast<uint32_t>(spec.local_addresses.size() + spec.unowned_addresses.size());
  uint32_t nat_backends = 0, listed_entries = 0;
  for (const ServiceSpec& svc : spec.services) {
    const uint32_t entries = port_entries(svc);
    address_count += entries + 1;  // its ports + its VIP's address
    if (!svc.port_ranges.empty()) listed_entries += entries;
    if (svc.mode != ForwardMode::nat) continue;
    const uint32_t backends = static_cast<uint32_t>(svc.backends.size());
    nat_backends += backends * entries;
    if (!svc.port_ranges.empty()) listed_entries += backends * entries;
  }
  if (listed_entries > kMaxListedPortEntries)
    return fail("multi-port services list " + std::to_string(listed_entries) +
                " ports (with their NAT backends'), more than " +
                std::to_string(kMaxListedPortEntries));
  s->addresses_ = AddressTable(address_count);
  s->nat_replies_ = AddressTable(nat_backends);

  for (uint32_t ip : spec.local_addresses)
    if (!add(s->addresses_, ip, 0, 0, encode(AddressKind::local_address, 0)))
      return fail("cannot index local address " + ipv4_to_string(ip));
  for (uint32_t ip : spec.unowned_addresses) {
    if (std::count(spec.local_addresses.begin(), spec.local_addresses.end(), ip))
      return fail("address " + ipv4_to_string(ip) + " is both local and held elsewhere");
    if (!add(s->addresses_, ip, 0, 0, encode(AddressKind::not_owned, 0)))
      return fail("cannot index address " + ipv4_to_string(ip));
  }

  // Each VIP's own entry, written once every service is known: its kind, and its services
  // on every port.
  struct VipEntry {
    AddressKind kind;
    uint16_t every_port_tcp = kNoService, every_port_udp = kNoService;
  };
  std::map<uint32_t, VipEntry> vips;
  std::set<std::tuple<uint32_t, uint16_t, uint8_t>> services_seen, nat_seen;
  for (const ServiceSpec& spec_svc : spec.services) {
    std::string what = ipv4_to_string(spec_svc.vip) + ":" +
                       std::to_string(rte_be_to_cpu_16(spec_svc.port)) + "/" +
                       std::to_string(spec_svc.proto);
    if (s->services_.size() >= kNoService) return fail("too many services");
    uint16_t index = static_cast<uint16_t>(s->services_.size());
    if (spec_svc.port != 0 && !spec_svc.port_ranges.empty())
      return fail("service " + what + " has both a port and port ranges");
    for (const PortRange& r : spec_svc.port_ranges)
      if (r.first == 0 || r.first > r.last) return fail("service " + what + " has an empty or port-0 range");
    std::string duplicate;
    each_port_entry(spec_svc, [&](uint16_t port) {
      if (services_seen.insert({spec_svc.vip, port, spec_svc.proto}).second) return true;
      duplicate = ipv4_to_string(spec_svc.vip) + ":" + std::to_string(rte_be_to_cpu_16(port));
      return false;
    });
    if (!duplicate.empty()) return fail("duplicate service " + duplicate + "/" + std::to_string(spec_svc.proto));
    if (spec_svc.every_port() && spec_svc.proto != 6 &&
        spec_svc.proto != 17)
      return fail("service " + what + " on every port must be TCP or UDP");
    if (std::count(spec.local_addresses.begin(), spec.local_addresses.end(), spec_svc.vip))
      return fail("VIP of " + what + " is also a local address");
    if (!is_prime(spec_svc.maglev_size) || spec_svc.maglev_size <= spec_svc.backends.size())
      return fail("Maglev table size of " + what + " must be a prime larger than its backends");

    Service svc{.vip = spec_svc.vip,
                .port = spec_svc.port,
                .proto = spec_svc.proto,
                .mode = spec_svc.mode,
                .hash_on = spec_svc.hash_on,
                .owned = spec_svc.owned,
                .sync = spec_svc.sync,
                .scheduler = spec_svc.scheduler,
                .candidates = {},
                .max_weight = 0,
                .weight_gcd = 0,
                .maglev = {},
                .buckets = {},
                .persistence_timeout_ms = spec_svc.persistence_timeout_ms,
                .persistence_mask = spec_svc.persistence_mask,
                .persistence_tag = persistence_tag(spec_svc)};
    std::vector<MaglevBackend> maglev_backends;
    for (const BackendSpec& b : spec_svc.backends) {
      std::string bwhat = ipv4_to_string(b.ip) + ":" + std::to_string(rte_be_to_cpu_16(b.port));
      if (b.id == kNoBackend) return fail("backend " + bwhat + " of " + what + " has no id");
      if (b.id >= s->backends_.size())
        s->backends_.resize(b.id + 1u,
                            Backend{0, 0, kNoService, kNoNextHop, kNoBackend, false, false});
      if (s->backends_[b.id].service != kNoService)
        return fail("backend id " + std::to_string(b.id) + " used twice");
      if (b.next_hop != kNoNextHop && b.next_hop >= spec.next_hops.size())
        return fail("backend " + bwhat + " of " + what + " has an unknown next hop");
      s->backends_[b.id] =
          Backend{b.ip, b.port, index, b.next_hop, b.id, b.healthy, b.takes_new_flows()};
      if (spec_svc.mode == ForwardMode::nat) {
        // A reply from a NAT backend is translated back by its source alone, so each
        // backend address and port may serve one NAT service only. A multi-port service's
        // backend answers from each of its ports (port 0: from any port).
        if (b.port != 0 && spec_svc.port == 0)
          return fail("backend " + bwhat + " of multi-port " + what + " has a port");
        const bool indexed = each_port_entry(spec_svc, [&](uint16_t port) {
          const uint16_t from = b.port != 0 ? b.port : port;
          return nat_seen.insert({b.ip, from, spec_svc.proto}).second &&
                 add(s->nat_replies_, b.ip, from, spec_svc.proto, index);
        });
        if (!indexed) return fail("NAT backend " + bwhat + " serves more than one NAT service");
        if (spec_svc.every_port()) s->nat_every_port_ = true;
      }
      if (b.takes_new_flows()) {
        svc.candidates.push_back({b.id, b.weight});
        svc.max_weight = std::max(svc.max_weight, b.weight);
        svc.weight_gcd = std::gcd(svc.weight_gcd, b.weight);
        // The Maglev identity is the address and port, not the id, so that every director
        // with the same config builds the same table whatever ids it handed out.
        maglev_backends.push_back({uint64_t(b.ip) << 16 | b.port, b.weight});
      }
    }
    switch (svc.scheduler) {
      case Scheduler::maglev:
      case Scheduler::mh:
        svc.maglev = build_maglev(maglev_backends, spec_svc.maglev_size);
        break;
      case Scheduler::sh:
        svc.buckets = build_source_hash_buckets(svc.candidates, svc.weight_gcd);
        break;
      case Scheduler::dh:
        svc.buckets = build_destination_hash_buckets(svc.candidates);
        break;
      default:
        if (counts_connections(svc.scheduler))
          for (const Candidate& c : svc.candidates) s->counted_backends_.push_back(c.id);
        break;
    }
    // A VIP held elsewhere is indexed all the same, so that its traffic is told apart
    // (and counted) from traffic that is for nobody.
    const AddressKind kind = spec_svc.owned ? AddressKind::service : AddressKind::not_owned;
    const AddressKind vip_kind = spec_svc.owned ? AddressKind::vip_address : AddressKind::not_owned;
    auto [vip, fresh] = vips.try_emplace(spec_svc.vip, VipEntry{vip_kind});
    if (!fresh && vip->second.kind != vip_kind)
      return fail("VIP " + ipv4_to_string(spec_svc.vip) + " is held for some services only");
    if (spec_svc.every_port()) {
      (spec_svc.proto == 6 ? vip->second.every_port_tcp : vip->second.every_port_udp) = index;
    } else if (!each_port_entry(spec_svc, [&](uint16_t port) {
                 return add(s->addresses_, spec_svc.vip, port, spec_svc.proto, encode(kind, index));
               })) {
      return fail("cannot index service " + what);
    }
    s->services_.push_back(std::move(svc));
  }
  for (const auto& [ip, vip] : vips)
    if (!add(s->addresses_, ip, 0, 0, encode_vip(vip.kind, vip.every_port_tcp, vip.every_port_udp)))
      return fail("cannot index VIP " + ipv4_to_string(ip));

  rte_lpm_config lpm_config{};
  lpm_config.max_rules = std::max<uint32_t>(16, static_cast<uint32_t>(spec.routes.size()));
  lpm_config.number_tbl8s = 256;
  s->routes_ = rte_lpm_create(unique_name("shoal_rt").c_str(), SOCKET_ID_ANY, &lpm_config);
  if (!s->routes_) return fail(std::string("rte_lpm_create: ") + rte_strerror(rte_errno));
  for (const RouteSpec& r : spec.routes) {
    if (r.next_hop >= spec.next_hops.size() || r.length > 32)
      return fail("bad route to " + ipv4_to_string(r.prefix) + "/" + std::to_string(r.length));
    if (rte_lpm_add(s->routes_, rte_be_to_cpu_32(r.prefix), r.length, r.next_hop) < 0)
      return fail("cannot add route " + ipv4_to_string(r.prefix));
  }
  return s;
}

void Snapshot::classify_bulk(const uint32_t* ips, const uint16_t* ports, const uint8_t* protos,
                             uint32_t n, AddressKind* kinds, uint16_t* index) const {
  // Hashes first and their slots warmed, so that the probes below do not wait on each other.
  uint64_t keys[kMaxClassifyBulk];
  uint32_t hashes[kMaxClassifyBulk];
  for (uint32_t i = 0; i < n; ++i) {
    keys[i] = AddressTable::key(ips[i], ports[i], protos[i]);
    hashes[i] = AddressTable::hash(keys[i]);
    addresses_.prefetch(hashes[i]);
  }
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t v;
    if (addresses_.find(keys[i], hashes[i], &v)) {
      kinds[i] = kind_of(v);
      index[i] = static_cast<uint16_t>(v);
    } else {
      // No service port: maybe a VIP's service on every port, or a VIP or local address on
      // another port (ICMP echo, a probe), found through the address's own entry.
      kinds[i] = classify_address(ips[i], ports[i], protos[i], &index[i]);
    }
  }
}

AddressKind Snapshot::classify_address(uint32_t ip, uint16_t port, uint8_t proto,
                                       uint16_t* index) const {
  uint64_t v;
  if ((port == 0 && proto == 0) || !addresses_.find(AddressTable::key(ip, 0, 0), &v))
    return AddressKind::unknown;
  return address_kind(v, proto, index);
}

AddressKind Snapshot::classify(uint32_t ip, uint16_t port, uint8_t proto, uint16_t* index) const {
  uint64_t v;
  if (addresses_.find(AddressTable::key(ip, port, proto), &v)) {
    *index = static_cast<uint16_t>(v);
    return kind_of(v);
  }
  return classify_address(ip, port, proto, index);
}

int Snapshot::nat_reply_service(uint32_t src_ip, uint16_t src_port, uint8_t proto) const {
  uint64_t v;
  if (nat_replies_.find(AddressTable::key(src_ip, src_port, proto), &v)) return static_cast<int>(v);
  // A backend of a NAT service on every port.
  if (nat_every_port_ && nat_replies_.find(AddressTable::key(src_ip, 0, proto), &v))
    return static_cast<int>(v);
  return -1;
}

uint32_t Snapshot::route(uint32_t dst) const {
  uint32_t next_hop = 0;
  if (rte_lpm_lookup(routes_, rte_be_to_cpu_32(dst), &next_hop) != 0) return kNoNextHop;
  return next_hop;
}

}  // namespace shoal::dp

#include "dataplane/snapshot.h"

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_lpm.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
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

// One key for an address of either family while the tables are built: IPv4 in its mapped
// form, ::ffff:a.b.c.d.
Ipv6Address mapped(uint32_t ip) {
  Ipv6Address a{};
  a[10] = a[11] = 0xff;
  std::memcpy(a.data() + 12, &ip, 4);
  return a;
}
Ipv6Address vip_key(const ServiceSpec& s) { return s.ipv6 ? s.vip6 : mapped(s.vip); }
Ipv6Address backend_key(const BackendSpec& b) { return b.ipv6 ? b.ip6 : mapped(b.ip); }

std::string ipv6_text(const Ipv6Address& a) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%x:%x:%x:%x:%x:%x:%x:%x", a[0] << 8 | a[1], a[2] << 8 | a[3],
                a[4] << 8 | a[5], a[6] << 8 | a[7], a[8] << 8 | a[9], a[10] << 8 | a[11],
                a[12] << 8 | a[13], a[14] << 8 | a[15]);
  return buf;
}
// "[v6]" as an endpoint writes it (appended piecewise: GCC 12 misreads "[" + s + "]").
std::string bracketed(const Ipv6Address& a) {
  std::string out(1, '[');
  out += ipv6_text(a);
  out += ']';
  return out;
}
std::string vip_text(const ServiceSpec& s) {
  return s.ipv6 ? bracketed(s.vip6) : ipv4_to_string(s.vip);
}
std::string backend_text(const BackendSpec& b) {
  return b.ipv6 ? bracketed(b.ip6) : ipv4_to_string(b.ip);
}

}  // namespace

uint16_t persistence_tag(const ServiceSpec& svc) {
  const uint32_t vip = svc.ipv6 ? ipv6_crc(svc.vip6, 0) : svc.vip;
  return static_cast<uint16_t>(
      rte_hash_crc_8byte(uint64_t(vip) << 32 | uint32_t(svc.key_port()) << 8 | svc.proto, 0) |
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
  uint32_t address_count6 =
      static_cast<uint32_t>(spec.local_addresses6.size() + spec.unowned_addresses6.size());
  uint32_t nat_backends = 0, nat_backends6 = 0, listed_entries = 0;
  for (const ServiceSpec& svc : spec.services) {
    const uint32_t entries = port_entries(svc);
    (svc.ipv6 ? address_count6 : address_count) += entries + 1;  // its ports + its VIP's address
    if (!svc.port_ranges.empty()) listed_entries += entries;
    if (svc.mode != ForwardMode::nat) continue;
    const uint32_t backends = static_cast<uint32_t>(svc.backends.size());
    (svc.ipv6 ? nat_backends6 : nat_backends) += backends * entries;
    if (!svc.port_ranges.empty()) listed_entries += backends * entries;
  }
  if (listed_entries > kMaxListedPortEntries)
    return fail("multi-port services list " + std::to_string(listed_entries) +
                " ports (with their NAT backends'), more than " +
                std::to_string(kMaxListedPortEntries));
  s->addresses_ = AddressTable(address_count);
  s->nat_replies_ = AddressTable(nat_backends);
  s->addresses6_ = AddressTable6(address_count6);
  s->nat_replies6_ = AddressTable6(nat_backends6);
  for (const Ipv6Address& ip : spec.local_addresses6)
    if (!s->addresses6_.insert(AddressTable6::key(ip, 0, 0), encode(AddressKind::local_address, 0)))
      return fail("cannot index local address " + ipv6_text(ip));
  for (const Ipv6Address& ip : spec.unowned_addresses6) {
    if (std::count(spec.local_addresses6.begin(), spec.local_addresses6.end(), ip))
      return fail("address " + ipv6_text(ip) + " is both local and held elsewhere");
    if (!s->addresses6_.insert(AddressTable6::key(ip, 0, 0), encode(AddressKind::not_owned, 0)))
      return fail("cannot index address " + ipv6_text(ip));
  }
  // An entry of either family's address table.
  const auto add_address = [&s](const Ipv6Address& key, bool ipv6, uint16_t port, uint8_t proto,
                                uint64_t value) {
    if (ipv6) return s->addresses6_.insert(AddressTable6::key(key, port, proto), value);
    uint32_t ip;
    std::memcpy(&ip, key.data() + 12, 4);
    return add(s->addresses_, ip, port, proto, value);
  };

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
  std::map<std::pair<Ipv6Address, bool>, VipEntry> vips;  // (address, ipv6)
  std::set<std::tuple<Ipv6Address, uint16_t, uint8_t>> services_seen, nat_seen;
  for (const ServiceSpec& spec_svc : spec.services) {
    const Ipv6Address vip_id = vip_key(spec_svc);
    std::string what = vip_text(spec_svc) + ":" +
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
      if (services_seen.insert({vip_id, port, spec_svc.proto}).second) return true;
      duplicate = vip_text(spec_svc) + ":" + std::to_string(rte_be_to_cpu_16(port));
      return false;
    });
    if (!duplicate.empty()) return fail("duplicate service " + duplicate + "/" + std::to_string(spec_svc.proto));
    if (spec_svc.every_port() && spec_svc.proto != 6 &&
        spec_svc.proto != 17)
      return fail("service " + what + " on every port must be TCP or UDP");
    if (spec_svc.ipv6 ? std::count(spec.local_addresses6.begin(), spec.local_addresses6.end(),
                                   spec_svc.vip6) != 0
                      : std::count(spec.local_addresses.begin(), spec.local_addresses.end(),
                                   spec_svc.vip) != 0)
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
                .persistence_tag = persistence_tag(spec_svc),
                .ipv6 = spec_svc.ipv6,
                .vip6 = spec_svc.vip6,
                .persistence_prefix6 = spec_svc.persistence_prefix6};
    std::vector<MaglevBackend> maglev_backends;
    for (const BackendSpec& b : spec_svc.backends) {
      std::string bwhat = backend_text(b) + ":" + std::to_string(rte_be_to_cpu_16(b.port));
      // One family per service, but for TUN carrying an IPv4 VIP to IPv6 real servers.
      if (b.ipv6 != spec_svc.ipv6 && !(b.ipv6 && spec_svc.mode == ForwardMode::tun))
        return fail("backend " + bwhat + " of " + what + " is of the other family");
      if (b.id == kNoBackend) return fail("backend " + bwhat + " of " + what + " has no id");
      if (b.id >= s->backends_.size())
        s->backends_.resize(b.id + 1u,
                            Backend{0, 0, kNoService, kNoNextHop, kNoBackend, false, false});
      if (s->backends_[b.id].service != kNoService)
        return fail("backend id " + std::to_string(b.id) + " used twice");
      if (b.next_hop != kNoNextHop && b.next_hop >= spec.next_hops.size())
        return fail("backend " + bwhat + " of " + what + " has an unknown next hop");
      s->backends_[b.id] = Backend{b.ip,   b.port,          index,     b.next_hop, b.id,
                                   b.healthy, b.takes_new_flows(), b.ipv6, b.ip6};
      if (spec_svc.mode == ForwardMode::nat) {
        // A reply from a NAT backend is translated back by its source alone, so each
        // backend address and port may serve one NAT service only. A multi-port service's
        // backend answers from each of its ports (port 0: from any port).
        if (b.port != 0 && spec_svc.port == 0)
          return fail("backend " + bwhat + " of multi-port " + what + " has a port");
        const bool indexed = each_port_entry(spec_svc, [&](uint16_t port) {
          const uint16_t from = b.port != 0 ? b.port : port;
          return nat_seen.insert({backend_key(b), from, spec_svc.proto}).second &&
                 (b.ipv6 ? s->nat_replies6_.insert(AddressTable6::key(b.ip6, from, spec_svc.proto),
                                                   index)
                         : add(s->nat_replies_, b.ip, from, spec_svc.proto, index));
        });
        if (!indexed) return fail("NAT backend " + bwhat + " serves more than one NAT service");
        if (spec_svc.every_port()) (b.ipv6 ? s->nat_every_port6_ : s->nat_every_port_) = true;
      }
      if (b.takes_new_flows()) {
        svc.candidates.push_back({b.id, b.weight});
        svc.max_weight = std::max(svc.max_weight, b.weight);
        svc.weight_gcd = std::gcd(svc.weight_gcd, b.weight);
        // The Maglev identity is the address and port, not the id, so that every director
        // with the same config builds the same table whatever ids it handed out.
        const uint32_t ip = b.ipv6 ? ipv6_crc(b.ip6, 0) : b.ip;
        maglev_backends.push_back({uint64_t(ip) << 16 | b.port, b.weight});
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
    auto [vip, fresh] = vips.try_emplace({vip_id, spec_svc.ipv6}, VipEntry{vip_kind});
    if (!fresh && vip->second.kind != vip_kind)
      return fail("VIP " + vip_text(spec_svc) + " is held for some services only");
    if (spec_svc.every_port()) {
      (spec_svc.proto == 6 ? vip->second.every_port_tcp : vip->second.every_port_udp) = index;
    } else if (!each_port_entry(spec_svc, [&](uint16_t port) {
                 return add_address(vip_id, spec_svc.ipv6, port, spec_svc.proto, encode(kind, index));
               })) {
      return fail("cannot index service " + what);
    }
    s->services_.push_back(std::move(svc));
  }
  for (const auto& [key, vip] : vips)
    if (!add_address(key.first, key.second, 0, 0,
                     encode_vip(vip.kind, vip.every_port_tcp, vip.every_port_udp)))
      return fail("cannot index VIP " + ipv6_text(key.first));

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
  s->host_routes6_ = AddressTable6(static_cast<uint32_t>(spec.routes6.size()));
  for (const Route6Spec& r : spec.routes6) {
    if (r.next_hop >= spec.next_hops.size() || r.length > 128)
      return fail("bad route to " + ipv6_text(r.prefix) + "/" + std::to_string(r.length));
    if (r.length < 128)
      s->prefix_routes6_.push_back(r);
    else if (!s->host_routes6_.insert(AddressTable6::key(r.prefix, 0, 0), r.next_hop))
      return fail("duplicate route to " + ipv6_text(r.prefix));
  }
  std::stable_sort(s->prefix_routes6_.begin(), s->prefix_routes6_.end(),
                   [](const Route6Spec& a, const Route6Spec& b) { return a.length > b.length; });
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

AddressKind Snapshot::classify6(const Ipv6Address& ip, uint16_t port, uint8_t proto,
                                uint16_t* index) const {
  uint64_t v;
  if (addresses6_.find(AddressTable6::key(ip, port, proto), &v)) {
    *index = static_cast<uint16_t>(v);
    return kind_of(v);
  }
  if ((port == 0 && proto == 0) || !addresses6_.find(AddressTable6::key(ip, 0, 0), &v))
    return AddressKind::unknown;
  return address_kind(v, proto, index);
}

int Snapshot::nat_reply_service6(const Ipv6Address& src_ip, uint16_t src_port,
                                 uint8_t proto) const {
  uint64_t v;
  if (nat_replies6_.find(AddressTable6::key(src_ip, src_port, proto), &v))
    return static_cast<int>(v);
  if (nat_every_port6_ && nat_replies6_.find(AddressTable6::key(src_ip, 0, proto), &v))
    return static_cast<int>(v);
  return -1;
}

namespace {
bool in_prefix(const Ipv6Address& ip, const Route6Spec& r) {
  const uint8_t whole = r.length / 8, bits = r.length % 8;
  if (std::memcmp(ip.data(), r.prefix.data(), whole) != 0) return false;
  return bits == 0 || ((ip[whole] ^ r.prefix[whole]) & (0xff00 >> bits) & 0xff) == 0;
}
}  // namespace

uint32_t Snapshot::route6(const Ipv6Address& dst) const {
  uint64_t next_hop;
  if (host_routes6_.find(AddressTable6::key(dst, 0, 0), &next_hop))
    return static_cast<uint32_t>(next_hop);
  for (const Route6Spec& r : prefix_routes6_)
    if (in_prefix(dst, r)) return r.next_hop;
  return kNoNextHop;
}

uint32_t Snapshot::route(uint32_t dst) const {
  uint32_t next_hop = 0;
  if (rte_lpm_lookup(routes_, rte_be_to_cpu_32(dst), &next_hop) != 0) return kNoNextHop;
  return next_hop;
}

}  // namespace shoal::dp

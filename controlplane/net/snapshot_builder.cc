#include "net/snapshot_builder.h"

#include <algorithm>
#include <map>

namespace shoal::cp {
namespace {

// The longest of `routes` (RouteConfig or Route6Config) whose prefix holds `ip`, or null.
template <typename Route, typename Address>
const Route* longest_route(const std::vector<Route>& routes, const Address& ip) {
  const Route* best = nullptr;
  for (const Route& r : routes)
    if (r.prefix.contains(ip) && (best == nullptr || r.prefix.length > best->prefix.length))
      best = &r;
  return best;
}

// The address a packet to `ip` is handed to: `ip` itself when on-link, else the next hop of
// the longest matching static route, else the first port's gateway. Sets `port` (config
// index); returns 0 when there is none.
uint32_t next_hop_address(const Config& config, uint32_t ip, int& port) {
  port = config.on_link_port(ip);
  if (port >= 0) return ip;
  if (const RouteConfig* best = longest_route(config.routes, ip)) {
    port = config.on_link_port(best->via);
    return port >= 0 ? best->via : 0;
  }
  for (std::size_t i = 0; i < config.ports.size(); ++i) {
    if (config.ports[i].gateway) {
      port = static_cast<int>(i);
      return *config.ports[i].gateway;
    }
  }
  return 0;
}

// The same for IPv6: on-link, else the longest matching static route, else the IPv6
// gateway. Sets `port`; returns false when none.
bool next_hop_address6(const Config& config, const dp::Ipv6Address& ip, int& port,
                       dp::Ipv6Address& hop) {
  port = config.on_link_port(ip);
  if (port >= 0) {
    hop = ip;
    return true;
  }
  if (const Route6Config* best = longest_route(config.routes6, ip)) {
    port = config.on_link_port(best->via);
    hop = best->via;
    return port >= 0;
  }
  for (std::size_t i = 0; i < config.ports.size(); ++i) {
    if (config.ports[i].gateway6) {
      port = static_cast<int>(i);
      hop = *config.ports[i].gateway6;
      return true;
    }
  }
  return false;
}

class NextHops {
 public:
  NextHops(const std::vector<PortHandle>& ports, const Neighbours& neighbours,
           dp::SnapshotSpec& spec)
      : ports_(ports), neighbours_(neighbours), spec_(spec) {}

  uint32_t index_for(uint32_t address, int port) {
    return index_of(neighbours_, index_, address, port);
  }
  uint32_t index_for6(const Neighbours6& neighbours, const dp::Ipv6Address& address, int port) {
    return index_of(neighbours, index6_, address, port);
  }

  // A next hop that never resolves: on-link destinations ARP has not seen yet.
  uint32_t unresolved(int port) {
    dp::NextHopSpec nh;
    nh.port = ports_[static_cast<std::size_t>(port)].id;
    spec_.next_hops.push_back(nh);
    return static_cast<uint32_t>(spec_.next_hops.size() - 1);
  }

 private:
  template <typename Address>
  uint32_t index_of(const BasicNeighbours<Address>& neighbours,
                    std::map<Address, uint32_t>& indexes, const Address& address, int port) {
    auto it = indexes.find(address);
    if (it != indexes.end()) return it->second;
    dp::NextHopSpec nh;
    nh.port = ports_[static_cast<std::size_t>(port)].id;
    const auto* e = neighbours.find(address);
    if (e != nullptr && e->resolved()) {
      nh.resolved = true;
      nh.mac = e->mac;
    }
    uint32_t index = static_cast<uint32_t>(spec_.next_hops.size());
    spec_.next_hops.push_back(nh);
    indexes.emplace(address, index);
    return index;
  }

  const std::vector<PortHandle>& ports_;
  const Neighbours& neighbours_;
  dp::SnapshotSpec& spec_;
  std::map<uint32_t, uint32_t> index_;
  std::map<dp::Ipv6Address, uint32_t> index6_;
};

}  // namespace

std::vector<Neighbours::Probe> wanted_neighbours(const Config& config,
                                                 const std::vector<PortHandle>& ports) {
  std::map<uint32_t, uint16_t> wanted;
  auto want = [&](uint32_t ip) {
    int port = -1;
    uint32_t hop = next_hop_address(config, ip, port);
    if (hop != 0 && port >= 0) wanted.emplace(hop, ports[static_cast<std::size_t>(port)].id);
  };
  for (const ServiceConfig& svc : config.services)
    for (const BackendConfig& b : svc.backends)
      if (b.address.is_v4()) want(b.address.v4());
  for (const PortConfig& p : config.ports)
    if (p.gateway) want(*p.gateway);
  for (const RouteConfig& r : config.routes) want(r.via);
  std::vector<Neighbours::Probe> out;
  for (auto [ip, port] : wanted) out.push_back({ip, port});
  return out;
}

std::vector<Neighbours6::Probe> wanted_neighbours6(const Config& config,
                                                   const std::vector<PortHandle>& ports) {
  std::map<dp::Ipv6Address, uint16_t> wanted;
  auto want = [&](const dp::Ipv6Address& ip) {
    int port = -1;
    dp::Ipv6Address hop{};
    if (next_hop_address6(config, ip, port, hop))
      wanted.emplace(hop, ports[static_cast<std::size_t>(port)].id);
  };
  for (const ServiceConfig& svc : config.services)
    for (const BackendConfig& b : svc.backends)
      if (b.address.is_v6()) want(b.address.v6());
  for (const PortConfig& p : config.ports)
    if (p.gateway6) want(*p.gateway6);
  for (const Route6Config& r : config.routes6) want(r.via);
  std::vector<Neighbours6::Probe> out;
  for (const auto& [ip, port] : wanted) out.push_back({ip, port});
  return out;
}

bool in_service(const ServiceConfig& svc, const BackendConfig& b, const HealthView& health,
                const AdminStates& admin) {
  const hc::TargetKey key{svc.name, b.name};
  const auto h = health.find(key);
  return (h == health.end() || h->second.up) && admin.get(key).state != AdminState::disabled;
}

uint32_t effective_weight(const ServiceConfig& svc, const BackendConfig& b,
                          const HealthView& health, const AdminStates& admin) {
  const hc::TargetKey key{svc.name, b.name};
  const BackendAdmin a = admin.get(key);
  if (b.weight == 0 || a.state == AdminState::draining) return 0;
  if (a.weight) return *a.weight;
  const auto h = health.find(key);
  return h == health.end() ? b.weight : h->second.weight.value_or(b.weight);
}

dp::SnapshotSpec build_snapshot_spec(const Config& config, const std::vector<PortHandle>& ports,
                                     const Neighbours& neighbours, const HealthView& health,
                                     const AdminStates& admin, const ServiceUp& service_up,
                                     const VrrpOwnership& vrrp,
                                     const Neighbours6* neighbours6) {
  static const Neighbours6 kNoNeighbours6;
  const Neighbours6& nd = neighbours6 != nullptr ? *neighbours6 : kNoNeighbours6;
  dp::SnapshotSpec spec;
  spec.tunnel_ttl = config.tunnel_ttl;
  if (config.connection_sync.enabled) {
    spec.sync_group = config.connection_sync.group;
    spec.sync_port = dp::be16(config.connection_sync.udp_port);
  }
  for (std::size_t i = 0; i < config.ports.size(); ++i) {
    const PortConfig& pc = config.ports[i];
    if (spec.ports.size() <= ports[i].id) spec.ports.resize(ports[i].id + 1u);
    dp::PortSpec& port = spec.ports[ports[i].id];
    port.mac = ports[i].mac;
    port.local_ip = pc.addresses.empty() ? 0 : pc.addresses.front().address;
    port.local_ip6 = pc.addresses6.empty() ? dp::Ipv6Address{} : pc.addresses6.front().address;
    port.mtu = pc.mtu;
    for (const Ipv4Prefix& a : pc.addresses) spec.local_addresses.push_back(a.address);
    for (const Ipv6Prefix& a : pc.addresses6) spec.local_addresses6.push_back(a.address);
    if (auto it = vrrp.virtual_macs.find(i); it != vrrp.virtual_macs.end())
      spec.ports[ports[i].id].extra_macs = it->second;
  }
  // VRRP addresses that are no service's VIP (a NAT gateway, say) are local while held.
  for (const VrrpInstanceSettings& v : config.vrrp.instances) {
    for (const IpAddress& ip : v.addresses) {
      const bool vip = std::any_of(config.services.begin(), config.services.end(),
                                   [&ip](const ServiceConfig& s) { return s.vip == ip; });
      if (vip) continue;
      const bool held = vrrp.released.count(ip) == 0;
      if (ip.is_v4())
        (held ? spec.local_addresses : spec.unowned_addresses).push_back(ip.v4());
      else
        (held ? spec.local_addresses6 : spec.unowned_addresses6).push_back(ip.v6());
    }
  }

  NextHops hops(ports, neighbours, spec);
  // Routes, for NAT replies towards clients: every known neighbour as a host route, the
  // on-link subnets (unresolved until ARP sees the host), static routes, default gateway.
  for (const auto& [ip, e] : neighbours.entries()) {
    int port = config.on_link_port(ip);
    if (port >= 0 && e.resolved()) spec.routes.push_back({ip, 32, hops.index_for(ip, port)});
  }
  for (std::size_t i = 0; i < config.ports.size(); ++i) {
    for (const Ipv4Prefix& a : config.ports[i].addresses) {
      uint32_t subnet = a.address & a.mask();
      spec.routes.push_back({subnet, a.length, hops.unresolved(static_cast<int>(i))});
    }
  }
  for (const RouteConfig& r : config.routes) {
    int port = config.on_link_port(r.via);
    if (port >= 0) spec.routes.push_back({r.prefix.address, r.prefix.length, hops.index_for(r.via, port)});
  }
  for (std::size_t i = 0; i < config.ports.size(); ++i) {
    if (config.ports[i].gateway) {
      spec.routes.push_back({0, 0, hops.index_for(*config.ports[i].gateway, static_cast<int>(i))});
      break;
    }
  }
  // IPv6 routes, for NAT66 replies: the same, from Neighbour Discovery's table.
  for (const auto& [ip, e] : nd.entries()) {
    int port = config.on_link_port(ip);
    if (port >= 0 && e.resolved()) spec.routes6.push_back({ip, 128, hops.index_for6(nd, ip, port)});
  }
  for (std::size_t i = 0; i < config.ports.size(); ++i)
    for (const Ipv6Prefix& a : config.ports[i].addresses6)
      spec.routes6.push_back({a.network(), a.length, hops.unresolved(static_cast<int>(i))});
  // A static route replaces what came before it for the same prefix, as rte_lpm_add does
  // for IPv4's (the dataplane's IPv6 table takes each prefix once).
  for (const Route6Config& r : config.routes6) {
    const int port = config.on_link_port(r.via);
    if (port < 0) continue;
    const dp::Route6Spec route{r.prefix.address, r.prefix.length, hops.index_for6(nd, r.via, port)};
    std::erase_if(spec.routes6, [&](const dp::Route6Spec& old) {
      return old.prefix == route.prefix && old.length == route.length;
    });
    spec.routes6.push_back(route);
  }
  for (std::size_t i = 0; i < config.ports.size(); ++i) {
    if (config.ports[i].gateway6) {
      spec.routes6.push_back(
          {{}, 0, hops.index_for6(nd, *config.ports[i].gateway6, static_cast<int>(i))});
      break;
    }
  }

  for (const ServiceConfig& svc : config.services) {
    dp::ServiceSpec s;
    s.vip = svc.vip.v4();
    s.ipv6 = svc.vip.is_v6();
    s.vip6 = svc.vip.v6();
    s.port = dp::be16(svc.port);
    s.port_ranges = svc.port_ranges;
    s.proto = static_cast<uint8_t>(svc.protocol);
    s.mode = svc.forwarding;
    s.scheduler = svc.scheduler;
    s.persistence_timeout_ms = svc.persistence_timeout_s * 1000;
    s.persistence_mask = svc.persistence_netmask;
    s.persistence_prefix6 = svc.persistence_prefix6;
    s.hash_on = svc.hash;
    s.maglev_size = svc.maglev_size;
    s.owned = vrrp.released.count(svc.vip) == 0;
    s.sync = config.connection_sync.enabled && svc.sync;
    const bool up = service_up(svc.name);
    const bool sorry_stands_in = !up && svc.all_down == AllDownPolicy::sorry;
    for (const BackendConfig& b : svc.backends) {
      const hc::TargetKey key{svc.name, b.name};
      dp::BackendSpec bs;
      bs.id = b.id;
      bs.ip = b.address.v4();
      bs.ipv6 = b.address.is_v6();
      bs.ip6 = b.address.v6();
      bs.port = dp::be16(b.port);
      bs.healthy = in_service(svc, b, health, admin);
      bs.weight = effective_weight(svc, b, health, admin);
      if (!up && svc.all_down == AllDownPolicy::fail_open &&
          admin.get(key).state != AdminState::disabled)
        bs.healthy = true;
      // Sorry servers take the new flows only while the service is down, and then alone; the
      // others drain meanwhile (their flows finish).
      if (b.sorry != sorry_stands_in) bs.weight = 0;
      int port = -1;
      if (b.address.is_v4()) {
        uint32_t hop = next_hop_address(config, b.address.v4(), port);
        if (hop != 0 && port >= 0) bs.next_hop = hops.index_for(hop, port);
      } else if (dp::Ipv6Address hop{}; next_hop_address6(config, b.address.v6(), port, hop)) {
        bs.next_hop = hops.index_for6(nd, hop, port);
      }
      s.backends.push_back(bs);
    }
    spec.services.push_back(std::move(s));
  }
  return spec;
}

}  // namespace shoal::cp

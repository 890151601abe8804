// `ports:` — read in the first pass; in the second, names, devices, taps and local addresses
// unique, and the one gateway inside its port's subnets. The local addresses gathered here are
// what every later check compares against.
#include <fmt/ranges.h>

#include <algorithm>

#include "config/loader.h"

namespace shoal::cp::config_loader {
namespace {

constexpr std::string_view kPortKeys[] = {"name", "device", "addresses", "gateway", "mtu", "tap"};

// A Linux interface name (IFNAMSIZ - 1 characters), without the characters that need quoting.
bool valid_interface_name(std::string_view s) {
  return !s.empty() && s.size() <= 15 && s != "." && s != ".." &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
         });
}

}  // namespace

void Loader::parse_port(const YAML::Node& node, int line) {
  auto [port, rec, m] = append_item(node, line, "a port", kPortKeys, config_.ports, ports_);
  if (!m.ok()) {
    network_known_ = false;
    return;
  }
  rec.name_ok = name(m, "port", port.name, rec.name_line);
  if (const Field* f = m.require("device")) {
    rec.device_line = f->line;
    if (auto s = string(*f)) {
      if (s->empty()) {
        error(f->line,
              "'device' must not be empty (a PCI address or a vdev such as "
              "net_af_packet0,iface=eth1)");
      } else {
        port.device = *s;
        rec.device_ok = true;
      }
    }
  }
  if (const Field* f = m.require("addresses")) {
    const bool listed = each_item(*f, "'addresses' must list at least one address/prefix",
                                  [&](const YAML::Node& item, int item_line) {
                                    if (!port_address(item, item_line, port, rec))
                                      network_known_ = false;
                                  });
    if (!listed) network_known_ = false;
  } else {
    network_known_ = false;
  }
  if (const Field* f = m.get("gateway")) {
    rec.gateway_line = f->line;
    parse_gateway(*f, port);
  }
  if (const Field* f = m.get("mtu"))
    if (auto v = integer(*f, kMinMtu, kMaxMtu)) port.mtu = static_cast<uint16_t>(*v);
  if (const Field* f = m.get("tap")) {
    rec.tap_line = f->line;
    if (auto s = string(*f)) {
      if (valid_interface_name(*s))
        port.tap = *s;
      else
        error(f->line, fmt::format("'tap' interface name '{}' must be 1 to 15 letters, digits, "
                                   "'_', '-' or '.'",
                                   *s));
    }
  }
}

// `gateway: ADDRESS`, or a list of at most one address per family.
void Loader::parse_gateway(const Field& f, PortConfig& port) {
  const auto one = [&](const YAML::Node& item, int line) {
    const auto ip = ip_address(item, line, "'gateway'");
    if (!ip) {
      network_known_ = false;
      return;
    }
    const bool taken = ip->is_v4() ? port.gateway.has_value() : port.gateway6.has_value();
    if (taken)
      error(line, fmt::format("'gateway' lists two {} addresses: a port has at most one default "
                              "route per family",
                              family_name(*ip)));
    else if (ip->is_v4())
      port.gateway = ip->v4();
    else
      port.gateway6 = ip->v6();
  };
  if (f.value.IsSequence()) {
    if (!each_item(f, "'gateway' must list one address per family", one)) network_known_ = false;
  } else {
    one(f.value, f.line);
  }
}

// A local address with the prefix length of its subnet: a usable host address in it. IPv6
// addresses go to `addresses6` (and their lines after the IPv4 ones', in PortRec).
bool Loader::port_address(const YAML::Node& n, int line, PortConfig& port, PortRec& rec) {
  const auto s = string(n, line, "each port address");
  if (!s) return false;
  if (s->find(':') != std::string::npos) {
    const auto p6 = parse_ipv6_prefix(*s);
    if (!p6 || parse_ip(s->substr(0, s->find('/'))) == std::nullopt) {
      error(line, fmt::format("port address '{}' is not an IPv6 address with a prefix length "
                              "(expected, say, fd00::2/64)",
                              *s));
      return false;
    }
    if (p6->length == 0) {
      error(line, fmt::format("port address {} needs a prefix length of 1..128", *s));
      return false;
    }
    if (const char* problem = unicast_problem(p6->address)) {
      error(line, fmt::format("port address {} is {}: expected a unicast address (the port's "
                              "link-local address is derived from its MAC)",
                              *s, problem));
      return false;
    }
    port.addresses6.push_back(*p6);
    rec.address6_lines.push_back(line);
    return true;
  }
  const auto p = parse_ipv4_prefix(*s);
  if (!p) {
    error(line, fmt::format("port address '{}' is not an IPv4 address with a prefix length "
                            "(expected a.b.c.d/len, or an IPv6 address/len)",
                            *s));
    return false;
  }
  if (p->length == 0) {
    error(line, fmt::format("port address {} needs a prefix length of 1..32", *s));
    return false;
  }
  if (const char* problem = unicast_problem(p->address)) {
    error(line, fmt::format("port address {} is {}: expected a unicast address", *s, problem));
    return false;
  }
  if (p->length <= 30) {
    const uint32_t host_bits = to_host(p->address) & ~to_host(p->mask());
    const uint32_t all_ones = ~to_host(p->mask());
    if (host_bits == 0 || host_bits == all_ones) {
      error(line, fmt::format("port address {} is the {} address of its subnet, not a host "
                              "address",
                              *s, host_bits == 0 ? "network" : "broadcast"));
      return false;
    }
  }
  port.addresses.push_back(*p);
  rec.address_lines.push_back(line);
  return true;
}

void Loader::check_ports() {
  std::map<std::string, int> names, devices, taps;
  int gateway_line = 0;
  std::string gateway_port;
  for (size_t i = 0; i < config_.ports.size(); ++i) {
    const PortConfig& p = config_.ports[i];
    const PortRec& r = ports_[i];
    if (r.name_ok) unique_name(names, p.name, r.name_line, "port");
    if (!p.tap.empty() && !taps.emplace(p.tap, r.tap_line).second)
      error(r.tap_line, fmt::format("tap '{}' is already the exception path of another port "
                                    "(line {})",
                                    p.tap, taps[p.tap]));
    if (r.device_ok && !devices.emplace(p.device, r.device_line).second)
      error(r.device_line, fmt::format("device '{}' is already used by another port (line {})",
                                       p.device, devices[p.device]));
    const auto local = [&](const IpAddress& ip, int line) {
      auto [it, fresh] = locals_.emplace(ip, LocalAddress{p.name, line});
      if (!fresh)
        error(line,
              fmt::format("duplicate local address {}: already an address of port '{}' (line {})",
                          to_string(ip), it->second.port, it->second.line));
    };
    for (size_t a = 0; a < p.addresses.size(); ++a)
      local(IpAddress::from_v4(p.addresses[a].address), r.address_lines[a]);
    for (size_t a = 0; a < p.addresses6.size(); ++a)
      local(IpAddress::from_v6(p.addresses6[a].address), r.address6_lines[a]);
  }
  int gateway6_line = 0;
  for (size_t i = 0; i < config_.ports.size(); ++i) {
    if (!config_.ports[i].gateway6) continue;
    check_gateway6(config_.ports[i], ports_[i]);
    if (gateway6_line)
      error(ports_[i].gateway_line,
            fmt::format("only one port may have an IPv6 gateway (the default route): another "
                        "has one at line {}",
                        gateway6_line));
    gateway6_line = ports_[i].gateway_line;
    has_gateway6_ = true;
  }
  gateway6_line_ = gateway6_line;
  for (size_t i = 0; i < config_.ports.size(); ++i) {
    const PortConfig& p = config_.ports[i];
    const PortRec& r = ports_[i];
    if (!p.gateway) continue;
    const std::string gw = dp::ipv4_to_string(*p.gateway);
    if (is_local(*p.gateway)) {
      error(r.gateway_line, fmt::format("gateway {} is one of this director's own addresses", gw));
    } else if (network_known_ &&
               std::none_of(p.addresses.begin(), p.addresses.end(),
                            [&](const Ipv4Prefix& s) { return s.contains(*p.gateway); })) {
      std::vector<std::string> subnets;
      for (const Ipv4Prefix& s : p.addresses) {
        std::string net = to_string(Ipv4Prefix{s.address & s.mask(), s.length});
        if (std::find(subnets.begin(), subnets.end(), net) == subnets.end())
          subnets.push_back(std::move(net));
      }
      error(r.gateway_line, fmt::format("gateway {} is not inside a subnet of port '{}' ({})", gw,
                                        p.name, fmt::join(subnets, ", ")));
    }
    if (gateway_line) {
      error(r.gateway_line, fmt::format("only one port may have a gateway (the default route): "
                                        "port '{}' has one at line {}",
                                        gateway_port, gateway_line));
    } else {
      gateway_line = r.gateway_line;
      gateway_port = p.name;
    }
    has_gateway_ = true;
  }
  gateway_line_ = gateway_line;
}

void Loader::check_gateway6(const PortConfig& p, const PortRec& r) {
  const IpAddress gw = IpAddress::from_v6(*p.gateway6);
  if (is_local(gw)) {
    error(r.gateway_line,
          fmt::format("gateway {} is one of this director's own addresses", to_string(gw)));
  } else if (network_known_ && std::none_of(p.addresses6.begin(), p.addresses6.end(),
                                            [&](const Ipv6Prefix& s) {
                                              return s.contains(*p.gateway6);
                                            })) {
    std::vector<std::string> prefixes;
    for (const Ipv6Prefix& s : p.addresses6)
      prefixes.push_back(to_string(Ipv6Prefix{s.network(), s.length}));
    error(r.gateway_line,
          fmt::format("gateway {} is not inside an IPv6 prefix of port '{}' ({})", to_string(gw),
                      p.name, prefixes.empty() ? "it has none" : fmt::format("{}", fmt::join(prefixes, ", "))));
  }
}

// Sections that name a port (a VRRP instance, connection_sync) resolve it here.
std::optional<size_t> Loader::port_index(const std::string& name) const {
  const auto it = std::find_if(config_.ports.begin(), config_.ports.end(),
                               [&](const PortConfig& p) { return p.name == name; });
  if (it == config_.ports.end()) return std::nullopt;
  return static_cast<size_t>(it - config_.ports.begin());
}

}  // namespace shoal::cp::config_loader

// `neighbours:` and `routes:` — read in the first pass, each entry onto the list of its
// family; in the second, each unique, not one of our own addresses, and on-link (a neighbour,
// a route's next hop). Both families go through the same checks, over IpAddress.
#include "config/loader.h"

namespace shoal::cp::config_loader {
namespace {

constexpr std::string_view kNeighbourKeys[] = {"address", "mac"};
constexpr std::string_view kRouteKeys[] = {"prefix", "via"};

}  // namespace

void Loader::parse_neighbour(const YAML::Node& node, int line) {
  Map m(*this, node, line, "a neighbour", kNeighbourKeys);
  NeighbourRec rec;
  rec.line = line;
  std::optional<IpAddress> ip;
  MacAddress mac{};
  if (m.ok()) {
    if (const Field* f = m.require("address")) {
      rec.address_line = f->line;
      ip = ip_address(*f);
      rec.address_ok = ip.has_value();
    }
    if (const Field* f = m.require("mac")) {
      if (auto s = string(*f)) {
        auto parsed = parse_mac(*s);
        if (!parsed) {
          error(f->line, fmt::format("'mac' '{}' is not a MAC address (expected "
                                     "xx:xx:xx:xx:xx:xx)",
                                     *s));
        } else if ((*parsed)[0] & 1) {
          error(f->line, fmt::format("'mac' {} is a multicast/broadcast MAC address", *s));
        } else if (*parsed == MacAddress{}) {
          error(f->line, "'mac' 00:00:00:00:00:00 is not a usable MAC address");
        } else {
          mac = *parsed;
        }
      }
    }
  }
  // An entry whose address did not parse goes with IPv4's, unchecked (address_ok false).
  if (ip && ip->is_v6()) {
    config_.neighbours6.push_back({ip->v6(), mac});
    neighbours6_.push_back(rec);
  } else {
    config_.neighbours.push_back({ip ? ip->v4() : 0, mac});
    neighbours_.push_back(rec);
  }
}

// A route's destination, either family: a prefix with its host bits zero.
std::optional<Loader::AnyPrefix> Loader::route_prefix(const Field& f) {
  const auto s = string(f);
  if (!s) return std::nullopt;
  if (s->find(':') != std::string::npos) {
    const auto p = parse_ipv6_prefix(*s);
    // parse_ipv6 refuses ::ffff:a.b.c.d, an IPv4 prefix in disguise.
    if (!p) {
      error(f.line, fmt::format("'prefix' '{}' is not an IPv6 prefix (expected, say, "
                                "2001:db8::/32)",
                                *s));
      return std::nullopt;
    }
    if (p->network() != p->address) {
      error(f.line, fmt::format("'prefix' {} has host bits set (did you mean {}?)", *s,
                                to_string(Ipv6Prefix{p->network(), p->length})));
      return std::nullopt;
    }
    return AnyPrefix{IpAddress::from_v6(p->address), p->length, to_string(*p)};
  }
  const auto p = parse_ipv4_prefix(*s);
  if (!p) {
    error(f.line, fmt::format("'prefix' '{}' is not an IPv4 prefix (expected a.b.c.d/len, or "
                              "an IPv6 prefix such as 2001:db8::/32)",
                              *s));
    return std::nullopt;
  }
  if ((p->address & ~p->mask()) != 0) {
    error(f.line, fmt::format("'prefix' {} has host bits set (did you mean {}?)", *s,
                              to_string(Ipv4Prefix{p->address & p->mask(), p->length})));
    return std::nullopt;
  }
  return AnyPrefix{IpAddress::from_v4(p->address), p->length, to_string(*p)};
}

void Loader::parse_route(const YAML::Node& node, int line) {
  Map m(*this, node, line, "a route", kRouteKeys);
  RouteRec rec;
  rec.line = line;
  std::optional<AnyPrefix> prefix;
  std::optional<IpAddress> via;
  if (m.ok()) {
    if (const Field* f = m.require("prefix")) {
      rec.prefix_line = f->line;
      prefix = route_prefix(*f);
    }
    if (const Field* f = m.require("via")) {
      rec.via_line = f->line;
      via = ip_address(*f);
    }
  }
  if (prefix && via && prefix->network.is_v4() != via->is_v4()) {
    error(rec.via_line, fmt::format("route for {} via {}: the next hop is {} but the prefix is "
                                    "{}: a route is one family",
                                    prefix->text, to_string(*via), family_name(*via),
                                    family_name(prefix->network)));
    via.reset();
  }
  rec.prefix_ok = prefix.has_value();
  rec.via_ok = via.has_value();
  if (!rec.prefix_ok || !rec.via_ok) network_known_ = false;
  // The family is the prefix's, else the next hop's; an entry with neither goes with IPv4's.
  const IpAddress& which = prefix ? prefix->network : via.value_or(IpAddress::from_v4(0));
  if (which.is_v6()) {
    Route6Config& r = config_.routes6.emplace_back();
    if (prefix) r.prefix = Ipv6Prefix{prefix->network.v6(), prefix->length};
    if (via) r.via = via->v6();
    routes6_.push_back(rec);
  } else {
    RouteConfig& r = config_.routes.emplace_back();
    if (prefix) r.prefix = Ipv4Prefix{prefix->network.v4(), prefix->length};
    if (via) r.via = via->v4();
    routes_.push_back(rec);
  }
}

bool Loader::routed(const IpAddress& ip) const {
  if (ip.is_v4()) {
    if (has_gateway_) return true;
    for (size_t i = 0; i < config_.routes.size(); ++i)
      if (routes_[i].prefix_ok && config_.routes[i].prefix.contains(ip.v4())) return true;
    return false;
  }
  if (has_gateway6_) return true;
  for (size_t i = 0; i < config_.routes6.size(); ++i)
    if (routes6_[i].prefix_ok && config_.routes6[i].prefix.contains(ip.v6())) return true;
  return false;
}

void Loader::check_routes() {
  std::map<std::pair<IpAddress, uint8_t>, int> seen;
  const auto check = [&](const IpAddress& network, uint8_t length, const std::string& prefix,
                         const IpAddress& via, const RouteRec& r) {
    if (r.prefix_ok) {
      auto [it, fresh] = seen.emplace(std::pair{network, length}, r.prefix_line);
      const int gateway_line = network.is_v4() ? gateway_line_ : gateway6_line_;
      if (!fresh)
        error(r.prefix_line,
              fmt::format("duplicate route for {} (first at line {})", prefix, it->second));
      else if (length == 0 && gateway_line)
        error(r.prefix_line, fmt::format("route for {} conflicts with the gateway at line {}, "
                                         "which is already the default route",
                                         prefix, gateway_line));
    }
    if (r.via_ok) {
      const std::string text = to_string(via);
      if (is_local(via))
        error(r.via_line,
              fmt::format("route via {}: that is one of this director's own addresses", text));
      else if (network_known_ && !on_link(via))
        error(r.via_line, fmt::format("route via {}: the next hop is not on-link (not inside any "
                                      "port's {})",
                                      text, via.is_v4() ? "subnet" : "IPv6 prefix"));
    }
  };
  for (size_t i = 0; i < config_.routes.size(); ++i) {
    const RouteConfig& rt = config_.routes[i];
    check(IpAddress::from_v4(rt.prefix.address), rt.prefix.length, to_string(rt.prefix),
          IpAddress::from_v4(rt.via), routes_[i]);
  }
  for (size_t i = 0; i < config_.routes6.size(); ++i) {
    const Route6Config& rt = config_.routes6[i];
    check(IpAddress::from_v6(rt.prefix.address), rt.prefix.length, to_string(rt.prefix),
          IpAddress::from_v6(rt.via), routes6_[i]);
  }
}

void Loader::check_neighbours() {
  std::map<IpAddress, int> seen;
  const auto check = [&](const IpAddress& address, const NeighbourRec& r) {
    if (!r.address_ok) return;
    const std::string ip = to_string(address);
    auto [it, fresh] = seen.emplace(address, r.address_line);
    if (!fresh)
      error(r.address_line,
            fmt::format("duplicate neighbour {} (first at line {})", ip, it->second));
    else if (is_local(address))
      error(r.address_line,
            fmt::format("neighbour {} is one of this director's own addresses", ip));
    else if (network_known_ && !on_link(address))
      error(r.address_line,
            fmt::format("neighbour {} is not on-link (not inside any port's {}), so it can have "
                        "no {} entry",
                        ip, address.is_v4() ? "subnet" : "IPv6 prefix",
                        address.is_v4() ? "ARP" : "Neighbour Discovery"));
  };
  for (size_t i = 0; i < config_.neighbours.size(); ++i)
    check(IpAddress::from_v4(config_.neighbours[i].address), neighbours_[i]);
  for (size_t i = 0; i < config_.neighbours6.size(); ++i)
    check(IpAddress::from_v6(config_.neighbours6[i].address), neighbours6_[i]);
}

}  // namespace shoal::cp::config_loader

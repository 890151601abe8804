// `neighbours:` and `routes:` — read in the first pass; in the second, each unique, not one of
// our own addresses, and on-link (a neighbour, a route's next hop).
#include "config/loader.h"

namespace shoal::cp::config_loader {
namespace {

constexpr std::string_view kNeighbourKeys[] = {"address", "mac"};
constexpr std::string_view kRouteKeys[] = {"prefix", "via"};

}  // namespace

void Loader::parse_neighbour(const YAML::Node& node, int line) {
  auto [n, rec, m] =
      append_item(node, line, "a neighbour", kNeighbourKeys, config_.neighbours, neighbours_);
  if (!m.ok()) return;
  if (const Field* f = m.require("address")) {
    rec.address_line = f->line;
    if (auto ip = address(*f)) n.address = *ip, rec.address_ok = true;
  }
  if (const Field* f = m.require("mac")) {
    if (auto s = string(*f)) {
      auto mac = parse_mac(*s);
      if (!mac) {
        error(f->line, fmt::format("'mac' '{}' is not a MAC address (expected "
                                   "xx:xx:xx:xx:xx:xx)",
                                   *s));
      } else if ((*mac)[0] & 1) {
        error(f->line, fmt::format("'mac' {} is a multicast/broadcast MAC address", *s));
      } else if (*mac == MacAddress{}) {
        error(f->line, "'mac' 00:00:00:00:00:00 is not a usable MAC address");
      } else {
        n.mac = *mac;
      }
    }
  }
}

void Loader::parse_route(const YAML::Node& node, int line) {
  auto [route, rec, m] = append_item(node, line, "a route", kRouteKeys, config_.routes, routes_);
  if (m.ok()) {
    if (const Field* f = m.require("prefix")) {
      rec.prefix_line = f->line;
      if (auto s = string(*f)) {
        auto p = parse_ipv4_prefix(*s);
        if (!p) {
          error(f->line,
                fmt::format("'prefix' '{}' is not an IPv4 prefix (expected a.b.c.d/len)", *s));
        } else if ((p->address & ~p->mask()) != 0) {
          error(f->line, fmt::format("'prefix' {} has host bits set (did you mean {}?)", *s,
                                     to_string(Ipv4Prefix{p->address & p->mask(), p->length})));
        } else {
          route.prefix = *p;
          rec.prefix_ok = true;
        }
      }
    }
    if (const Field* f = m.require("via")) {
      rec.via_line = f->line;
      if (auto ip = address(*f)) route.via = *ip, rec.via_ok = true;
    }
  }
  if (!rec.prefix_ok || !rec.via_ok) network_known_ = false;
}

bool Loader::routed(uint32_t ip) const {
  if (has_gateway_) return true;
  for (size_t i = 0; i < config_.routes.size(); ++i)
    if (routes_[i].prefix_ok && config_.routes[i].prefix.contains(ip)) return true;
  return false;
}

bool Loader::routed(const IpAddress& ip) const {
  return ip.is_v4() ? routed(ip.v4()) : has_gateway6_;
}

void Loader::check_routes() {
  std::map<std::pair<uint32_t, uint8_t>, int> seen;
  for (size_t i = 0; i < config_.routes.size(); ++i) {
    const RouteConfig& rt = config_.routes[i];
    const RouteRec& r = routes_[i];
    if (r.prefix_ok) {
      auto [it, fresh] =
          seen.emplace(std::pair{rt.prefix.address, rt.prefix.length}, r.prefix_line);
      if (!fresh)
        error(r.prefix_line, fmt::format("duplicate route for {} (first at line {})",
                                         to_string(rt.prefix), it->second));
      else if (rt.prefix.length == 0 && gateway_line_)
        error(r.prefix_line, fmt::format("route for 0.0.0.0/0 conflicts with the gateway at line "
                                         "{}, which is already the default route",
                                         gateway_line_));
    }
    if (r.via_ok) {
      const std::string via = dp::ipv4_to_string(rt.via);
      if (is_local(rt.via))
        error(r.via_line,
              fmt::format("route via {}: that is one of this director's own addresses", via));
      else if (network_known_ && !on_link(rt.via))
        error(r.via_line, fmt::format("route via {}: the next hop is not on-link (not inside any "
                                      "port's subnet)",
                                      via));
    }
  }
}

void Loader::check_neighbours() {
  std::map<uint32_t, int> seen;
  for (size_t i = 0; i < config_.neighbours.size(); ++i) {
    const NeighbourConfig& n = config_.neighbours[i];
    const NeighbourRec& r = neighbours_[i];
    if (!r.address_ok) continue;
    const std::string ip = dp::ipv4_to_string(n.address);
    auto [it, fresh] = seen.emplace(n.address, r.address_line);
    if (!fresh)
      error(r.address_line,
            fmt::format("duplicate neighbour {} (first at line {})", ip, it->second));
    else if (is_local(n.address))
      error(r.address_line,
            fmt::format("neighbour {} is one of this director's own addresses", ip));
    else if (network_known_ && !on_link(n.address))
      error(r.address_line, fmt::format("neighbour {} is not on-link (not inside any port's "
                                        "subnet), so it can have no ARP entry",
                                        ip));
  }
}

}  // namespace shoal::cp::config_loader

// ipvsadm-save -n → shoal's model. ipvsadm has no health checks and no VRRP: the services and
// their real servers are all there is.
#include <fmt/format.h>

#include <map>

#include "cli/import/mapper.h"
#include "cli/import/scheduler.h"

namespace shoal::cli::import {

using detail::warn;

Imported map_ipvsadm(const IpvsParseResult& parsed, const std::string& file) {
  Imported out = detail::start("ipvsadm", file, parsed.warnings, parsed.errors);
  if (!out.errors.empty()) return out;
  for (const IpvsService& is : parsed.services) {
    if (is.protocol == "sctp") {
      warn(out, nullptr, is.at, "shoal serves tcp and udp only: not imported");
      continue;
    }
    const bool fwmark = is.protocol == "fwmark";
    if (!fwmark && !detail::is_ipv4(is.address)) {
      warn(out, nullptr, is.at,
           "not an IPv4 address; shoal's config takes IPv4 services only for now: not imported");
      continue;
    }
    Service s;
    s.at = is.at;
    s.vip = is.address;
    s.port = is.port;
    s.protocol = is.protocol;
    if (fwmark) {
      // A mark may match UDP as well: shoal's services are one protocol each.
      s.protocol = "tcp";
      detail::fwmark_placeholders(out, s, is.address, is.at);
      s.ports_note += "; tcp only: add a udp service alike if the mark matches udp too";
    }
    if (auto sched = scheduler_for(is.scheduler)) {
      s.scheduler = *sched;
      s.scheduler_note = fmt::format("-s, line {}", is.at.line);
    } else {
      warn(out, &s.notes, is.at,
           fmt::format("shoal has no '{}' scheduler: the service uses shoal's default (maglev)",
                       is.scheduler));
    }
    if (is.persistent) {
      s.persistence_timeout = detail::persistence_seconds(*is.persistent);
      s.persistence_note = fmt::format("-p {}{} (line {})", *is.persistent,
                                       is.netmask ? " -M " + *is.netmask : "", is.at.line);
      if (is.netmask && *is.netmask != "255.255.255.255") s.persistence_netmask = *is.netmask;
    } else if (is.netmask) {
      warn(out, &s.notes, is.at, fmt::format("-M {} without -p: no persistence to mask", *is.netmask));
    }
    for (const std::string& u : is.unsupported)
      warn(out, &s.notes, is.at, fmt::format("'{}' has no equivalent in shoal: not imported", u));
    // ipvsadm sets the method per real server, shoal per service: the most common wins.
    // A tie goes to the first real server's method.
    std::map<char, int> methods;
    for (const IpvsRealServer& rs : is.real_servers) ++methods[rs.method];
    char method = 'g';
    int best = 0;
    for (const IpvsRealServer& rs : is.real_servers)
      if (methods[rs.method] > best) method = rs.method, best = methods[rs.method];
    s.forwarding = method == 'm' ? "nat" : method == 'i' ? "tun" : "dr";
    s.forwarding_note =
        fmt::format("-{}{}", method, methods.size() > 1 ? " (most real servers)" : "");
    for (const IpvsRealServer& rs : is.real_servers) {
      Backend b;
      b.at = rs.at;
      b.address = rs.address;
      if (!detail::is_ipv4(rs.address)) {
        warn(out, &s.notes, rs.at, "not an IPv4 address: real server not imported");
        continue;
      }
      b.port = rs.port == s.port && s.forwarding != "nat" ? 0 : rs.port;
      b.weight = rs.weight;
      if (rs.method != method)
        warn(out, &b.notes, rs.at,
             fmt::format("shoal forwards a whole service one way: this real server uses the "
                         "service's {}",
                         s.forwarding));
      for (const std::string& u : rs.unsupported)
        warn(out, &b.notes, rs.at, fmt::format("'{}' has no equivalent in shoal: not imported", u));
      s.backends.push_back(std::move(b));
    }
    if (s.backends.empty()) {
      warn(out, nullptr, is.at, "no real server: service not imported (shoal needs at least one)");
      continue;
    }
    s.name = detail::service_name(out, s.protocol, s.vip, s.port);
    out.services.push_back(std::move(s));
  }
  detail::settle(out);
  return out;
}

}  // namespace shoal::cli::import

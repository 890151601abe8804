#include "cli/import/mapper.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

namespace shoal::cli::import::detail {

Imported start(const std::string& from, const std::string& file, const Warnings& warnings,
               const std::vector<std::string>& errors) {
  Imported out;
  out.from = from;
  out.file = file;
  out.warnings = warnings;
  for (const Warning& w : warnings) out.notes.push_back("WARNING " + w.describe());
  out.errors = errors;
  return out;
}

void warn(Imported& out, std::vector<std::string>* notes, const Source& at, std::string text) {
  Warning w{at, std::move(text)};
  (notes ? *notes : out.notes).push_back("WARNING " + w.describe());
  out.warnings.push_back(std::move(w));
}

uint32_t persistence_seconds(const std::string& text) {
  unsigned long v = std::strtoul(text.c_str(), nullptr, 10);
  return static_cast<uint32_t>(std::clamp<unsigned long>(v, 1, 7 * 24 * 3600));
}

bool is_ipv4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& s) {
  in6_addr a{};
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

std::string canonical(const std::string& s) {
  in6_addr a{};
  if (inet_pton(AF_INET6, s.c_str(), &a) != 1) return s;
  char text[INET6_ADDRSTRLEN];
  return inet_ntop(AF_INET6, &a, text, sizeof text) ? std::string(text) : s;
}

std::string service_name(const Imported& out, const std::string& protocol, const std::string& vip,
                         uint16_t port) {
  std::string base = fmt::format("{}-{}-{}", protocol, vip, port);
  std::replace(base.begin(), base.end(), '.', '-');
  std::replace(base.begin(), base.end(), ':', '-');
  std::string name = base;
  for (int n = 2; std::any_of(out.services.begin(), out.services.end(),
                              [&](const Service& s) { return s.name == name; });
       ++n)
    name = fmt::format("{}-{}", base, n);
  return name;
}

void fwmark_placeholders(Imported& out, Service& s, const std::string& mark,
                         const Source& at) {
  const auto placeholder = [](const Service& x) { return !x.vip_note.empty(); };
  const long taken = std::count_if(out.services.begin(), out.services.end(), placeholder);
  // The family of its real servers (the first one's), which a service shares with its VIP.
  const bool ipv6 = !s.backends.empty() && is_ipv6(s.backends.front().address);
  s.vip = ipv6 ? fmt::format("2001:2:0:ff::{:x}", 1 + taken % 0xfffe)
               : fmt::format("198.19.255.{}", 1 + taken % 254);
  s.port = 0;
  s.vip_note = fmt::format("PLACEHOLDER for firewall mark {}: the address its rules match", mark);
  s.ports_note = fmt::format("PLACEHOLDER for firewall mark {}: list the ports its rules match, "
                             "e.g. [80, 443]",
                             mark);
  warn(out, &s.notes, at,
       fmt::format("firewall mark {} imported as a multi-port service with a placeholder VIP "
                   "({}) and 'ports: all': write the address and ports its firewall rules match",
                   mark, s.vip));
}

void settle(Imported& out) {
  std::set<std::string> backend_addresses;
  for (const Service& s : out.services)
    for (const Backend& b : s.backends) backend_addresses.insert(b.address);
  std::map<std::tuple<std::string, uint16_t, std::string>, std::string> endpoints;
  // NAT replies find their service by the backend's address and port alone.
  std::map<std::tuple<std::string, uint16_t, std::string>, std::string> nat_backends;
  std::vector<Service> kept;
  for (Service& s : out.services) {
    if (backend_addresses.count(s.vip)) {
      warn(out, nullptr, s.at,
           fmt::format("VIP {} is also a real server's address; shoal refuses a VIP that is a "
                       "backend: service {}:{} not imported",
                       s.vip, s.vip, s.port));
      continue;
    }
    auto [it, fresh] = endpoints.emplace(std::tuple{s.vip, s.port, s.protocol}, s.at.where());
    if (!fresh) {
      warn(out, nullptr, s.at,
           fmt::format("{}:{}/{} is already imported from {}: not imported twice", s.vip, s.port,
                       s.protocol, it->second));
      continue;
    }
    std::vector<Backend> backends;
    std::set<std::pair<std::string, uint16_t>> seen;
    for (Backend& b : s.backends) {
      if (s.port == 0 && b.port != 0) {
        // LVS gives a real server of a port-0 or fwmark service the packet's port when its own
        // is 0; shoal always does. Its check keeps going where keepalived's went.
        if (b.check && !b.check->port) b.check->port = b.port;
        warn(out, &b.notes, b.at,
             fmt::format("a real server of a multi-port service gets each packet's own port: "
                         "its port {} is dropped{}",
                         b.port, b.check ? fmt::format(" (its check still goes to {})", *b.check->port)
                                         : ""));
        b.port = 0;
      }
      if (s.forwarding != "nat" && b.port != 0 && b.port != s.port) {
        warn(out, &b.notes, b.at,
             fmt::format("{} forwarding cannot change the port: this real server gets port {} "
                         "(the service's) instead of {}",
                         s.forwarding, s.port, b.port));
        b.port = 0;
      }
      const uint16_t port = b.port ? b.port : s.port;
      if (!seen.emplace(b.address, port).second) {
        warn(out, &s.notes, b.at,
             fmt::format("{}:{} is already a backend of this service: not imported twice",
                         b.address, port));
        continue;
      }
      if (s.forwarding == "nat") {
        auto [nat, first] = nat_backends.emplace(std::tuple{b.address, port, s.protocol}, s.name);
        if (!first && nat->second != s.name) {
          warn(out, &s.notes, b.at,
               fmt::format("{}:{} is already a nat backend of service {}; shoal matches nat "
                           "replies by the backend alone, so it serves one nat service: left "
                           "out of {}",
                           b.address, port, nat->second, s.name));
          continue;
        }
      }
      backends.push_back(std::move(b));
    }
    s.backends = std::move(backends);
    const bool real = std::any_of(s.backends.begin(), s.backends.end(),
                                  [](const Backend& b) { return !b.sorry; });
    if (!real) {
      warn(out, nullptr, s.at,
           fmt::format("no real server left to import: service {}:{} not imported", s.vip, s.port));
      continue;
    }
    if (std::none_of(s.backends.begin(), s.backends.end(),
                     [](const Backend& b) { return b.sorry; }))
      if (s.all_down == "sorry") s.all_down.reset();
    kept.push_back(std::move(s));
  }
  out.services = std::move(kept);
}

}  // namespace shoal::cli::import::detail

#include "config/diff.h"

#include <fmt/format.h>

#include <map>

namespace shoal::cp {
namespace {

std::string endpoint(uint32_t ip, uint16_t port) {
  return fmt::format("{}:{}", dp::ipv4_to_string(ip), port);
}

template <typename T>
void changed(std::vector<std::string>& out, const std::string& what, const char* field,
             const T& before, const T& after) {
  if (!(before == after)) out.push_back(fmt::format("{}: {} {} -> {}", what, field, before, after));
}

void diff_backends(std::vector<std::string>& out, const ServiceConfig& a, const ServiceConfig& b) {
  const std::string svc = "service " + a.name;
  std::map<std::string, const BackendConfig*> before;
  for (const BackendConfig& x : a.backends) before[x.name] = &x;
  for (const BackendConfig& y : b.backends) {
    auto it = before.find(y.name);
    if (it == before.end()) {
      out.push_back(fmt::format("{}: backend {} {} added{}", svc, y.name, endpoint(y.address, y.port),
                                y.sorry ? " (sorry server)" : ""));
      continue;
    }
    const BackendConfig& x = *it->second;
    before.erase(it);
    const std::string what = fmt::format("{}: backend {}", svc, y.name);
    changed(out, what, "address", endpoint(x.address, x.port), endpoint(y.address, y.port));
    changed(out, what, "weight", x.weight, y.weight);
    changed(out, what, "sorry", x.sorry, y.sorry);
    if (!(x.health == y.health)) out.push_back(what + ": health check changed");
  }
  for (const auto& [name, x] : before)
    out.push_back(fmt::format("{}: backend {} {} removed", svc, name, endpoint(x->address, x->port)));
}

}  // namespace

std::vector<std::string> diff_configs(const Config& running, const Config& candidate) {
  std::vector<std::string> out;
  const size_t ports = std::min(running.ports.size(), candidate.ports.size());
  for (size_t i = 0; i < ports; ++i) {
    const PortConfig& x = running.ports[i];
    const PortConfig& y = candidate.ports[i];
    const std::string what = "port " + y.name;
    changed(out, what, "device", x.device, y.device);
    changed(out, what, "mtu", x.mtu, y.mtu);
    changed(out, what, "tap", x.tap.empty() ? "none" : x.tap, y.tap.empty() ? "none" : y.tap);
    std::vector<std::string> xa, ya;
    for (const Ipv4Prefix& p : x.addresses) xa.push_back(to_string(p));
    for (const Ipv4Prefix& p : y.addresses) ya.push_back(to_string(p));
    changed(out, what, "addresses", fmt::format("{}", fmt::join(xa, ", ")),
            fmt::format("{}", fmt::join(ya, ", ")));
  }
  if (running.ports.size() != candidate.ports.size())
    out.push_back(fmt::format("ports: {} -> {}", running.ports.size(), candidate.ports.size()));
  changed(out, std::string("workers"), "count", running.workers.count, candidate.workers.count);

  std::map<std::string, const ServiceConfig*> before;
  for (const ServiceConfig& s : running.services) before[s.name] = &s;
  for (const ServiceConfig& b : candidate.services) {
    auto it = before.find(b.name);
    if (it == before.end()) {
      out.push_back(fmt::format("service {} {}/{} ({}) added with {} backend(s)", b.name,
                                service_endpoint(b), to_string(b.protocol),
                                to_string(b.forwarding), b.backends.size()));
      continue;
    }
    const ServiceConfig& a = *it->second;
    before.erase(it);
    const std::string what = "service " + b.name;
    changed(out, what, "address", fmt::format("{}/{}", service_endpoint(a), to_string(a.protocol)),
            fmt::format("{}/{}", service_endpoint(b), to_string(b.protocol)));
    changed(out, what, "forwarding", to_string(a.forwarding), to_string(b.forwarding));
    changed(out, what, "scheduler", dp::scheduler_name(a.scheduler), dp::scheduler_name(b.scheduler));
    changed(out, what, "hash", to_string(a.hash), to_string(b.hash));
    changed(out, what, "all_down", to_string(a.all_down), to_string(b.all_down));
    changed(out, what, "maglev_size", a.maglev_size, b.maglev_size);
    changed(out, what, "persistence timeout", a.persistence_timeout_s, b.persistence_timeout_s);
    changed(out, what, "persistence netmask", dp::ipv4_to_string(a.persistence_netmask),
            dp::ipv4_to_string(b.persistence_netmask));
    changed(out, what, "quorum", a.quorum, b.quorum);
    changed(out, what, "quorum hysteresis", a.quorum_hysteresis, b.quorum_hysteresis);
    diff_backends(out, a, b);
  }
  for (const auto& [name, a] : before)
    out.push_back(fmt::format("service {} {}/{} removed", name, service_endpoint(*a),
                              to_string(a->protocol)));
  return out;
}

}  // namespace shoal::cp

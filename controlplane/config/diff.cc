#include "config/diff.h"

#include <fmt/format.h>

#include <map>

namespace shoal::cp {
namespace {

std::string endpoint(const IpAddress& ip, uint16_t port) { return endpoint_string(ip, port); }

template <typename T>
void changed(std::vector<std::string>& out, const std::string& what, const char* field,
             const T& before, const T& after) {
  if (!(before == after)) out.push_back(fmt::format("{}: {} {} -> {}", what, field, before, after));
}

// Milliseconds as the file writes them, in seconds.
std::string seconds_text(uint32_t ms) {
  return fmt::format("{} s", ms / 1000.0);
}

// A command as the file writes it, or "none".
std::string command_text(const notify::Command& c) {
  return c.empty() ? std::string("none") : fmt::format("'{}'", c.text);
}

void diff_command(std::vector<std::string>& out, const std::string& what, const char* key,
                  const notify::Command& before, const notify::Command& after) {
  changed(out, what, key, command_text(before), command_text(after));
}

void diff_vrrp_notify(std::vector<std::string>& out, const std::string& what,
                      const VrrpNotifyConfig& a, const VrrpNotifyConfig& b) {
  diff_command(out, what, "notify_master", a.master, b.master);
  diff_command(out, what, "notify_backup", a.backup, b.backup);
  diff_command(out, what, "notify_fault", a.fault, b.fault);
  diff_command(out, what, "notify_stop", a.stop, b.stop);
  diff_command(out, what, "notify", a.any, b.any);
}

// Scripts by name; instances and groups change only with a restart (see VrrpRunner), so only
// their notify commands are compared here, by position.
void diff_vrrp(std::vector<std::string>& out, const VrrpSection& a, const VrrpSection& b) {
  std::map<std::string, const VrrpScriptConfig*> before;
  for (const VrrpScriptConfig& s : a.scripts) before[s.name] = &s;
  for (const VrrpScriptConfig& y : b.scripts) {
    auto it = before.find(y.name);
    if (it == before.end()) {
      out.push_back(fmt::format("vrrp script {} added: {}", y.name, command_text(y.command)));
      continue;
    }
    const VrrpScriptConfig& x = *it->second;
    before.erase(it);
    const std::string what = "vrrp script " + y.name;
    diff_command(out, what, "command", x.command, y.command);
    changed(out, what, "interval", seconds_text(x.interval_ms), seconds_text(y.interval_ms));
    changed(out, what, "timeout", seconds_text(x.timeout_ms), seconds_text(y.timeout_ms));
    changed(out, what, "rise", x.rise, y.rise);
    changed(out, what, "fall", x.fall, y.fall);
    changed(out, what, "weight", x.weight, y.weight);
  }
  for (const auto& [name, x] : before) out.push_back(fmt::format("vrrp script {} removed", name));
  for (size_t i = 0; i < std::min(a.instances.size(), b.instances.size()); ++i)
    if (a.instances[i].name == b.instances[i].name)
      diff_vrrp_notify(out, "vrrp instance " + b.instances[i].name, a.instances[i].notify,
                       b.instances[i].notify);
  for (size_t i = 0; i < std::min(a.sync_groups.size(), b.sync_groups.size()); ++i)
    if (a.sync_groups[i].name == b.sync_groups[i].name)
      diff_vrrp_notify(out, "sync group " + b.sync_groups[i].name, a.sync_groups[i].notify,
                       b.sync_groups[i].notify);
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
    diff_command(out, what, "notify_up", x.notify_up, y.notify_up);
    diff_command(out, what, "notify_down", x.notify_down, y.notify_down);
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
    for (const Ipv6Prefix& p : x.addresses6) xa.push_back(to_string(p));
    for (const Ipv4Prefix& p : y.addresses) ya.push_back(to_string(p));
    for (const Ipv6Prefix& p : y.addresses6) ya.push_back(to_string(p));
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
    changed(out, what, "persistence netmask", a.persistence_mask_text(), b.persistence_mask_text());
    changed(out, what, "quorum", a.quorum, b.quorum);
    changed(out, what, "quorum hysteresis", a.quorum_hysteresis, b.quorum_hysteresis);
    diff_command(out, what, "quorum notify_up", a.quorum_up, b.quorum_up);
    diff_command(out, what, "quorum notify_down", a.quorum_down, b.quorum_down);
    diff_backends(out, a, b);
  }
  for (const auto& [name, a] : before)
    out.push_back(fmt::format("service {} {}/{} removed", name, service_endpoint(*a),
                              to_string(a->protocol)));
  diff_vrrp(out, running.vrrp, candidate.vrrp);
  changed(out, std::string("notify"), "timeout", seconds_text(running.notify.timeout_ms),
          seconds_text(candidate.notify.timeout_ms));
  changed(out, std::string("notify"), "max_running", running.notify.max_running,
          candidate.notify.max_running);
  return out;
}

}  // namespace shoal::cp

#include "config/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace shoal::cp {

int Config::on_link_port(uint32_t ip) const {
  for (size_t i = 0; i < ports.size(); ++i)
    for (const Ipv4Prefix& p : ports[i].addresses)
      if (p.contains(ip)) return static_cast<int>(i);
  return -1;
}

int Config::on_link_port(const dp::Ipv6Address& ip) const {
  for (size_t i = 0; i < ports.size(); ++i)
    for (const Ipv6Prefix& p : ports[i].addresses6)
      if (p.contains(ip)) return static_cast<int>(i);
  return -1;
}

const VrrpInstanceSettings* VrrpSection::instance_of(const IpAddress& ip) const {
  for (const VrrpInstanceSettings& v : instances)
    if (std::find(v.addresses.begin(), v.addresses.end(), ip) != v.addresses.end()) return &v;
  return nullptr;
}

size_t Config::backend_count() const {
  size_t n = 0;
  for (const ServiceConfig& s : services) n += s.backends.size();
  return n;
}

void assign_backend_ids(Config& next, const Config* previous) {
  constexpr size_t kIds = size_t{kMaxBackendId} + 1;
  std::map<std::tuple<std::string, IpAddress, uint16_t>, uint16_t> before;
  std::vector<bool> used_before(kIds, false);
  std::vector<bool> taken(kIds, false);
  if (previous)
    for (const ServiceConfig& s : previous->services)
      for (const BackendConfig& b : s.backends)
        if (b.id <= kMaxBackendId) {
          before.emplace(std::tuple{s.name, b.address, b.port}, b.id);
          used_before[b.id] = true;
        }

  for (ServiceConfig& s : next.services)
    for (BackendConfig& b : s.backends) {
      b.id = dp::kNoBackend;
      auto it = before.find(std::tuple{s.name, b.address, b.port});
      if (it != before.end() && !taken[it->second]) {
        b.id = it->second;
        taken[b.id] = true;
      }
    }

  size_t fresh = 0;  // lowest id no backend of `previous` used
  size_t freed = 0;  // lowest id not taken at all: reused only once `fresh` runs out
  for (ServiceConfig& s : next.services)
    for (BackendConfig& b : s.backends) {
      if (b.id != dp::kNoBackend) continue;
      while (fresh < kIds && (used_before[fresh] || taken[fresh])) ++fresh;
      size_t id = fresh;
      if (id == kIds) {
        while (freed < kIds && taken[freed]) ++freed;
        id = freed;
      }
      if (id == kIds) return;  // more backends than ids: a validated Config never gets here
      b.id = static_cast<uint16_t>(id);
      taken[id] = true;
    }
}

std::vector<hc::Target> health_targets(const Config& config) {
  std::vector<hc::Target> out;
  out.reserve(config.backend_count());
  for (const ServiceConfig& s : config.services)
    for (const BackendConfig& b : s.backends)
      out.push_back(hc::Target{hc::TargetKey{s.name, b.name},
                               b.address.is_v4() ? hc::TargetAddress::from_v4(b.address.v4())
                                                 : hc::TargetAddress::from_v6(b.address.v6()),
                               b.port, b.health});
  return out;
}

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::trace:
      return "trace";
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
  }
  return "?";
}

std::string_view to_string(Protocol protocol) {
  return protocol == Protocol::udp ? "udp" : "tcp";
}

std::string_view to_string(dp::ForwardMode mode) {
  switch (mode) {
    case dp::ForwardMode::dr:
      return "dr";
    case dp::ForwardMode::nat:
      return "nat";
    case dp::ForwardMode::tun:
      return "tun";
  }
  return "?";
}

std::string_view to_string(dp::HashOn hash) {
  return hash == dp::HashOn::source_address ? "source-address" : "5-tuple";
}

std::string_view to_string(VrrpTrackKind kind) {
  switch (kind) {
    case VrrpTrackKind::service: return "service";
    case VrrpTrackKind::port: return "port";
    case VrrpTrackKind::script: return "script";
  }
  return "?";
}

std::string_view to_string(AllDownPolicy policy) {
  switch (policy) {
    case AllDownPolicy::drop: return "drop";
    case AllDownPolicy::fail_open: return "fail-open";
    case AllDownPolicy::sorry: return "sorry";
  }
  return "?";
}

std::string ports_text(const ServiceConfig& svc) {
  if (!svc.multi_port() || svc.every_port()) return std::to_string(svc.port);
  std::string out;
  for (const dp::PortRange& r : svc.port_ranges) {
    if (!out.empty()) out += ',';
    out += std::to_string(r.first);
    if (r.last != r.first) out += '-' + std::to_string(r.last);
  }
  return out;
}

std::string service_endpoint(const ServiceConfig& svc) {
  if (svc.vip.is_v4()) return fmt::format("{}:{}", to_string(svc.vip), ports_text(svc));
  return fmt::format("[{}]:{}", to_string(svc.vip), ports_text(svc));
}

}  // namespace shoal::cp

// `vrrp:` — the virtual routers this director takes part in (see vrrp/runner.h). Times are
// given in seconds in the file. Each instance maps onto a VrrpInstanceConfig.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::cp {

enum class VrrpTrackKind : uint8_t {
  service,  // down while the service has no backend that is both healthy and enabled
  port,     // down while the port's link is down
};

struct VrrpTrackConfig {
  VrrpTrackKind kind = VrrpTrackKind::service;
  std::string name;    // a service's or a port's name
  int32_t weight = 0;  // -254..254; 0: the instance goes to fault while the item is down
};

struct VrrpInstanceSettings {
  std::string name;  // [a-z0-9_-]+, unique
  uint8_t vrid = 0;  // 1..255, unique per port
  uint8_t priority = 100;
  uint16_t interval_cs = 100;  // advertisement interval, centiseconds (1..4095)
  bool preempt = true;
  uint32_t preempt_delay_ms = 0;
  bool virtual_mac = true;  // RFC 9568 §7.3 MAC as source, ARP answers and accepted destination
  bool v2_checksum = false;
  std::size_t port = 0;  // index into Config::ports
  // What the director holds while master: service VIPs, and on-link addresses of their own
  // (the NAT real servers' gateway, say). Network byte order.
  std::vector<uint32_t> addresses;
  uint32_t garp_count = 5;
  uint32_t garp_interval_ms = 100;
  uint32_t garp_refresh_ms = 0;  // 0: no refresh while master
  std::vector<VrrpTrackConfig> tracks;
};

struct VrrpSyncGroupSettings {
  std::string name;
  std::vector<std::string> instances;  // names of instances, each in one group at most
};

struct VrrpSection {
  std::vector<VrrpInstanceSettings> instances;
  std::vector<VrrpSyncGroupSettings> sync_groups;

  // The instance carrying `ip`, or nullptr: addresses no instance carries are always ours.
  const VrrpInstanceSettings* instance_of(uint32_t ip) const;
};

std::string_view to_string(VrrpTrackKind kind);

}  // namespace shoal::cp

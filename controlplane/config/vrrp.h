// `vrrp:` — the virtual routers this director takes part in (see vrrp/runner.h). Times are
// given in seconds in the file. Each instance maps onto a VrrpInstanceConfig.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/address.h"
#include "notify/command.h"

namespace shoal::cp {

enum class VrrpTrackKind : uint8_t {
  service,  // down while the service has no backend that is both healthy and enabled
  port,     // down while the port's link is down
  script,   // down while the tracked script is failing (see notify/script_tracker.h)
};

struct VrrpTrackConfig {
  VrrpTrackKind kind = VrrpTrackKind::service;
  std::string name;    // a service's, a port's or a script's name
  int32_t weight = 0;  // -254..254; 0: the instance goes to fault while the item is down
  bool operator==(const VrrpTrackConfig&) const = default;
};

// `vrrp: scripts:` — keepalived's vrrp_script. A track item of kind script that gives no
// weight takes the script's.
struct VrrpScriptConfig {
  std::string name;  // [a-z0-9_-]+, unique
  notify::Command command;
  uint32_t interval_ms = 1000;
  uint32_t timeout_ms = 0;  // 0 in the file: the interval
  uint32_t rise = 1;        // consecutive successes to turn ok again
  uint32_t fall = 1;        // consecutive failures to turn failing
  int32_t weight = 0;       // as VrrpTrackConfig::weight
  bool operator==(const VrrpScriptConfig&) const = default;
};

// The commands run when an instance or a sync group changes state (keepalived's notify_*).
// `any` is keepalived's generic `notify`, run after the state's own with the arguments
// "INSTANCE"|"GROUP", the name, "MASTER"|"BACKUP"|"FAULT"|"STOP" and the priority.
struct VrrpNotifyConfig {
  notify::Command master, backup, fault, stop, any;
  bool operator==(const VrrpNotifyConfig&) const = default;
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
  // (the NAT real servers' gateway, say). All of one family, the instance's: an IPv6
  // instance speaks VRRP over IPv6 (RFC 9568 keeps the families' virtual routers apart).
  std::vector<IpAddress> addresses;
  uint32_t garp_count = 5;
  uint32_t garp_interval_ms = 100;
  uint32_t garp_refresh_ms = 0;  // 0: no refresh while master
  std::vector<VrrpTrackConfig> tracks;
  VrrpNotifyConfig notify;
};

struct VrrpSyncGroupSettings {
  std::string name;
  std::vector<std::string> instances;  // names of instances, each in one group at most
  VrrpNotifyConfig notify;
};

struct VrrpSection {
  std::vector<VrrpInstanceSettings> instances;
  std::vector<VrrpSyncGroupSettings> sync_groups;
  std::vector<VrrpScriptConfig> scripts;

  // The instance carrying `ip`, or nullptr: addresses no instance carries are always ours.
  const VrrpInstanceSettings* instance_of(const IpAddress& ip) const;
};

std::string_view to_string(VrrpTrackKind kind);

}  // namespace shoal::cp

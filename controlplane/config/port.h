// `ports:` — the NICs the director forwards on, in file order (index = DPDK port id).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/address.h"

namespace shoal::cp {

inline constexpr uint16_t kMinMtu = 576;
inline constexpr uint16_t kMaxMtu = 9000;

struct PortConfig {
  std::string name;    // [a-z0-9_-]+, unique
  std::string device;  // DPDK device string: a PCI address or a vdev with its arguments
  // At least one address of either family, each with its on-link subnet or prefix. The first
  // IPv4 (IPv6) one is the source of what the director itself sends over that family.
  std::vector<Ipv4Prefix> addresses;
  std::vector<Ipv6Prefix> addresses6;
  // Default routes, one per family at most (`gateway: 10.0.0.254`, or a list with one of
  // each); inside one of this port's subnets of its family.
  std::optional<uint32_t> gateway;
  std::optional<dp::Ipv6Address> gateway6;
  uint16_t mtu = 1500;
  // The exception path: a TAP interface of this name on which the kernel holds the port's
  // addresses; traffic to them (not to VIPs) goes to the kernel, and the kernel's to the wire.
  // Empty: none; the control plane then answers only ARP and ping for the port's addresses.
  std::string tap;
};

}  // namespace shoal::cp

// `connection_sync:` — the flows of synced services go to the other directors, so that NAT
// connections survive a failover even when the directors' backends differ (sync/connection_sync.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/snapshot.h"

namespace shoal::cp {

inline constexpr uint32_t kDefaultSyncGroup = dp::ipv4(224, 0, 0, 81);  // as IPVS's sync daemon
inline constexpr uint16_t kDefaultSyncPort = 8848;
inline constexpr uint32_t kMaxSyncRefreshMs = 3600 * 1000;

struct ConnectionSyncSettings {
  bool enabled = false;
  std::size_t port = 0;  // index into Config::ports: where messages go out and come in
  uint32_t group = kDefaultSyncGroup;  // multicast group, network order
  uint16_t udp_port = kDefaultSyncPort;
  uint8_t id = 0;  // sync id: directors of one cluster share it; others' messages are dropped
  uint32_t table_size = 0;  // flows peers may pin here; 0: workers × flow_table_size
  // Active flows are sent again this often, so that peers' copies do not age out; at most half
  // the established and udp timeouts. 0: the smaller of 60 s and that half.
  uint32_t refresh_ms = 0;
  uint32_t pull_timeout_ms = 3000;  // a (re)started director waits this long for peers' tables

  bool operator==(const ConnectionSyncSettings&) const = default;
};

}  // namespace shoal::cp

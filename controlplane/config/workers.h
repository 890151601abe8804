// `workers:` — the forwarding lcores and their flow tables.
#pragma once

#include <cstdint>

#include "dataplane/flow_table.h"

namespace shoal::cp {

inline constexpr uint32_t kMaxWorkers = 64;
inline constexpr uint32_t kDefaultFlowTableSize = 1u << 20;
inline constexpr uint32_t kMinFlowTableSize = 1024;
inline constexpr uint32_t kMaxFlowTableSize = 1u << 28;
inline constexpr uint32_t kMaxFlowTimeoutSeconds = 7 * 24 * 3600;  // well inside uint32 ms
inline constexpr uint32_t kDefaultPersistenceTableSize = 1u << 16;
inline constexpr uint32_t kMinPersistenceTableSize = 64;
inline constexpr uint32_t kMaxPersistenceTableSize = 1u << 26;

struct WorkersConfig {
  uint32_t count = 1;
  uint32_t flow_table_size = kDefaultFlowTableSize;  // flows per worker
  dp::FlowTimeouts flow_timeouts;                    // given in seconds in the file
  // Persistent clients each worker remembers (services with `persistence:`), 16 bytes each.
  uint32_t persistence_table_size = kDefaultPersistenceTableSize;
};

}  // namespace shoal::cp

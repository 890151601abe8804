#include "dataplane/connection_counts.h"

namespace shoal::dp {

// Every uint16_t, so that any id a flow entry holds indexes it.
ConnectionCounts::ConnectionCounts() : by_backend_(new std::atomic<uint64_t>[1u << 16]) {
  for (uint32_t i = 0; i < (1u << 16); ++i) by_backend_[i].store(0, std::memory_order_relaxed);
}

}  // namespace shoal::dp

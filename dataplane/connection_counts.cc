#include "dataplane/connection_counts.h"

namespace shoal::dp {

// Every uint16_t, so that any id a flow entry holds indexes it.
ConnectionCounts::ConnectionCounts() : by_backend_(new Pair[1u << 16]) {}

}  // namespace shoal::dp

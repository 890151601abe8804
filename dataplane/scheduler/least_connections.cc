#include "dataplane/scheduler/least_connections.h"

namespace shoal::dp {

PeerConnections::PeerConnections() : sums_(new Sum[1u << 16]) {}

void PeerConnections::refresh(std::span<const uint16_t> backends) {
  if (peers_.empty()) return;
  for (uint16_t id : backends) {
    Sum s;
    for (const ConnectionCounts* p : peers_) {
      s.active += p->active(id);
      s.inactive += p->inactive(id);
    }
    sums_[id] = s;
  }
}

}  // namespace shoal::dp

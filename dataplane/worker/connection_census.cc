#include "dataplane/worker/connection_census.h"

#include "dataplane/snapshot.h"

namespace shoal::dp {

ConnectionCensus::ConnectionCensus()
    : pass_(new Counts[kNoBackend]()), published_(new Published[kNoBackend]()) {
  touched_.reserve(kNoBackend);
  shown_.reserve(kNoBackend);
}

void ConnectionCensus::step(const FlowTable& flows, uint32_t now_ms) {
  const uint32_t end = std::min(cursor_ + kBucketsPerStep, flows.bucket_count());
  flows.for_each_in(cursor_, end, now_ms, [&](const FlowEntry& e) {
    if (e.backend >= kNoBackend) return;
    Counts& c = pass_[e.backend];
    if (c.active == 0 && c.inactive == 0) touched_.push_back(e.backend);
    if (e.state == FlowState::established)
      ++c.active;
    else
      ++c.inactive;
  });
  cursor_ = end;
  if (cursor_ < flows.bucket_count()) return;
  // The pass is done: zero what was shown and is gone, show this pass, start the next.
  for (uint16_t id : shown_) {
    published_[id].active.store(0, std::memory_order_relaxed);
    published_[id].inactive.store(0, std::memory_order_relaxed);
  }
  for (uint16_t id : touched_) {
    published_[id].active.store(pass_[id].active, std::memory_order_relaxed);
    published_[id].inactive.store(pass_[id].inactive, std::memory_order_relaxed);
    pass_[id] = Counts{};
  }
  shown_.swap(touched_);  // both keep their reserved room: no allocation
  touched_.clear();
  cursor_ = 0;
}

}  // namespace shoal::dp

#include "dataplane/worker/sync_walker.h"

namespace shoal::dp {

bool SyncWalker::start_pass(uint32_t now_ms) {
  const uint32_t requested = requested_.load(std::memory_order_relaxed);
  if (requested != done_.load(std::memory_order_relaxed)) {
    full_ = true;
    ticket_ = requested;
  } else if (!refreshed_once_ || now_ms - refresh_started_ >= refresh_ms_) {
    full_ = false;
    // The first pass reports everything; later ones what was active since the last began.
    active_since_ = refreshed_once_ ? refresh_started_ : now_ms - (1u << 31);
    refresh_started_ = now_ms;
    refreshed_once_ = true;
  } else {
    return false;
  }
  walking_ = true;
  cursor_ = 0;
  return true;
}

void SyncWalker::step(const FlowTable& flows, const Snapshot& snap,
                      FlowEventRing& events, uint32_t now_ms) {
  if (!walking_ && !start_pass(now_ms)) return;
  const uint32_t buckets = full_ ? kBucketsPerFullStep : kBucketsPerStep;
  if (events.free_count() < buckets * kFlowEntriesPerBucket) return;  // next loop
  const uint32_t end = cursor_ + buckets;
  flows.for_each_in(cursor_, end, now_ms, [&](const FlowEntry& e) {
    // Wrap-safe "seen before active_since_".
    if (!full_ && static_cast<int32_t>(e.last_seen_ms - active_since_) < 0) return;
    uint16_t index = 0;
    if (snap.classify(e.dst_ip, e.dst_port, e.proto, &index) != AddressKind::service) return;
    if (!snap.service(index).sync) return;
    events.push(flow_event(e, e.state));
  });
  cursor_ = end;
  if (cursor_ < flows.bucket_count()) return;
  walking_ = false;
  if (full_) done_.store(ticket_, std::memory_order_release);
}

}  // namespace shoal::dp

#include "dataplane/worker/sync_walker.h"

#include <algorithm>
#include <type_traits>

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

template <typename Table, typename Ring>
bool SyncWalker::walk(const Table& flows, uint32_t first, uint32_t buckets, const Snapshot& snap,
                      Ring& events, uint32_t now_ms) {
  if (events.free_count() < buckets * Table::kEntriesPerBucket) return false;
  flows.for_each_in(first, first + buckets, now_ms, [&](const auto& e) {
    // Wrap-safe "seen before active_since_".
    if (!full_ && static_cast<int32_t>(e.last_seen_ms - active_since_) < 0) return;
    uint16_t index = 0;
    AddressKind kind;
    if constexpr (std::is_same_v<Table, FlowTable>)
      kind = snap.classify(e.dst_ip, e.dst_port, e.proto, &index);
    else
      kind = snap.classify6(e.dst_ip, e.dst_port, e.proto, &index);
    if (kind != AddressKind::service || !snap.service(index).sync) return;
    events.push(flow_event(e, e.state));
  });
  return true;
}

void SyncWalker::step(const FlowTable& flows, const FlowTable6& flows6, const Snapshot& snap,
                      FlowEventRing& events, FlowEventRing6& events6, uint32_t now_ms) {
  if (!walking_ && !start_pass(now_ms)) return;
  const uint32_t buckets = full_ ? kBucketsPerFullStep : kBucketsPerStep;
  const uint32_t buckets4 = flows.bucket_count();
  const bool walked = cursor_ < buckets4
                          ? walk(flows, cursor_, buckets, snap, events, now_ms)
                          : walk(flows6, cursor_ - buckets4, buckets, snap, events6, now_ms);
  if (!walked) return;  // next loop
  // A slice ends at its table's end: the other table's walk starts on the next loop.
  cursor_ = cursor_ < buckets4 ? std::min(cursor_ + buckets, buckets4) : cursor_ + buckets;
  if (cursor_ < buckets4 + flows6.bucket_count()) return;
  walking_ = false;
  if (full_) done_.store(ticket_, std::memory_order_release);
}

}  // namespace shoal::dp

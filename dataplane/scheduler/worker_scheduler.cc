#include "dataplane/scheduler/worker_scheduler.h"

namespace shoal::dp {

WorkerScheduler::WorkerScheduler(const ConnectionCounts& own, uint32_t persistence_capacity)
    : own_(own), persistence_(persistence_capacity), cursors_(new RoundRobinCursor[1u << 16]) {}

void WorkerScheduler::set_peers(const std::vector<const WorkerScheduler*>& peers) {
  std::vector<const ConnectionCounts*> counts;
  peer_persistence_.clear();
  for (const WorkerScheduler* p : peers) {
    counts.push_back(&p->own_);
    peer_persistence_.push_back(&p->persistence_);
  }
  peers_.set_peers(std::move(counts));
}

uint16_t WorkerScheduler::persisted(const Service& svc, uint32_t client_ip, uint32_t now_ms) {
  const PersistenceTable::Client c = persistence_client(svc, client_ip);
  const std::optional<PersistenceTable::Found> own = persistence_.find(c, now_ms);
  std::optional<PersistenceTable::Found> best = own;
  auto consider = [&](const PersistenceTable* table) {
    const std::optional<PersistenceTable::Found> f = table->find(c, now_ms);
    if (f && (!best || static_cast<int32_t>(f->expires_ms - best->expires_ms) > 0)) best = f;
  };
  for (const PersistenceTable* peer : peer_persistence_) consider(peer);
  if (synced_persistence_ != nullptr) consider(synced_persistence_);
  if (!best) return kNoBackend;
  if (!own || own->backend != best->backend)
    persistence_.record(c, best->backend, now_ms, svc.persistence_timeout_ms);
  return best->backend;
}

uint16_t WorkerScheduler::pick_other(const Service& svc, uint16_t index, const NewFlow& flow) {
  switch (svc.scheduler) {
    case Scheduler::maglev:
    case Scheduler::mh:
      return svc.maglev_pick(scheduling_hash(svc, flow.client_ip, flow.flow_hash));
    case Scheduler::rr:
      return svc.candidate_id(pick_round_robin(svc.candidates, cursors_[index]));
    case Scheduler::wrr:
      return svc.candidate_id(
          pick_weighted_round_robin(svc.candidates, svc.max_weight, svc.weight_gcd, cursors_[index]));
    case Scheduler::lc:
    case Scheduler::wlc:
    case Scheduler::sed:
    case Scheduler::nq:
      // With one worker there are no peers' counts to add: one array read per backend.
      if (!peers_.has_peers()) {
        const std::atomic<uint64_t>* own = own_.packed_counts();
        return svc.candidate_id(pick_least_loaded(svc.scheduler, svc.candidates, [own](uint16_t id) {
          const uint64_t v = own[id].load(std::memory_order_relaxed);
          return Load{ConnectionCounts::active_of(v), ConnectionCounts::inactive_of(v)};
        }));
      }
      return svc.candidate_id(pick_least_loaded(svc.scheduler, svc.candidates, [this](uint16_t id) {
        return Load{own_.active(id) + peers_.active(id), own_.inactive(id) + peers_.inactive(id)};
      }));
    case Scheduler::sh:
      return svc.buckets.empty() ? kNoBackend
                                 : svc.candidate_id(svc.buckets[source_hash_bucket(flow.client_ip)]);
    case Scheduler::dh:
      return svc.buckets.empty() ? kNoBackend
                                 : svc.candidate_id(svc.buckets[destination_hash_bucket(flow.dst_ip)]);
  }
  return kNoBackend;
}

}  // namespace shoal::dp

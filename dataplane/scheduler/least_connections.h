// lc, wlc, sed and nq: the schedulers that send a new flow to the least loaded backend, by
// the connection counts ipvsadm shows (ActiveConn, InActConn) and LVS's own formulas. Ties go
// to the first candidate in config order, as in LVS.
//
// Counts come from every worker. A worker reads its own exactly (its flow table keeps them)
// and the other workers' as of its last refresh: at most once a millisecond, and whenever a
// new Snapshot arrives, at the top of its loop. So the others' counts are never more than
// 1 ms plus one loop iteration old (microseconds while traffic flows), within the 10 ms the
// project allows. Two workers may both see the same backend as least loaded within that
// window and both send it a flow; a single worker never does.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dataplane/connection_counts.h"
#include "dataplane/scheduler/scheduler.h"

namespace shoal::dp {

// The other workers' connection counts, summed: one worker's private copy.
class PeerConnections {
 public:
  PeerConnections();

  // Before the worker runs: the other workers' counts (their flow tables' connections()).
  void set_peers(std::vector<const ConnectionCounts*> peers) { peers_ = std::move(peers); }
  bool has_peers() const { return !peers_.empty(); }

  // dp: sums the peers' counts afresh for `backends` (the Snapshot's counted backends).
  void refresh(std::span<const uint16_t> backends);

  uint32_t active(uint16_t backend) const { return sums_[backend].active; }
  uint32_t inactive(uint16_t backend) const { return sums_[backend].inactive; }

 private:
  struct Sum {
    uint32_t active = 0;
    uint32_t inactive = 0;
  };
  std::vector<const ConnectionCounts*> peers_;
  std::unique_ptr<Sum[]> sums_;  // by backend id
};

// A backend's load as a scheduler sees it: this worker's flows plus the peers'.
struct Load {
  uint32_t active;
  uint32_t inactive;
};

// LVS's overheads. lc and wlc weigh an active connection as 256 inactive ones; sed and nq
// count active ones only, plus the one about to arrive.
constexpr uint64_t connection_overhead(Load l) { return uint64_t(l.active) * 256 + l.inactive; }
constexpr uint64_t expected_delay_overhead(Load l) { return uint64_t(l.active) + 1; }

// The least loaded candidate for `s` (lc, wlc, sed or nq), given each backend's Load by
// `load_of(id)`: index into `candidates`, or kNoCandidate when there is none. The workers
// give it their own counts plus their peers'; the API's simulation, every worker's.
template <typename LoadOf>
uint16_t pick_least_loaded(Scheduler s, std::span<const Candidate> candidates, LoadOf load_of) {
  // The least overhead, or overhead / weight: compared as oh_a × w_b < oh_b × w_a.
  auto least = [&](bool weighted, auto overhead) {
    uint16_t best = kNoCandidate;
    uint64_t best_overhead = 0;
    uint64_t best_weight = 1;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      const uint64_t oh = overhead(load_of(candidates[i].id));
      const uint64_t w = weighted ? candidates[i].weight : 1;
      if (best == kNoCandidate || oh * best_weight < best_overhead * w) {
        best = static_cast<uint16_t>(i);
        best_overhead = oh;
        best_weight = w;
      }
    }
    return best;
  };
  switch (s) {
    case Scheduler::lc:
      return least(false, connection_overhead);
    case Scheduler::wlc:
      return least(true, connection_overhead);
    case Scheduler::nq:
      // An idle backend first, whatever its weight: nothing would queue behind it.
      for (std::size_t i = 0; i < candidates.size(); ++i)
        if (load_of(candidates[i].id).active == 0) return static_cast<uint16_t>(i);
      return least(true, expected_delay_overhead);
    case Scheduler::sed:
      return least(true, expected_delay_overhead);
    default:
      return kNoCandidate;
  }
}

}  // namespace shoal::dp

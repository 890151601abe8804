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

namespace detail {

// The first candidate with the least overhead (or overhead / weight when `weighted`, compared
// as oh_a × w_b < oh_b × w_a in integers, so that ties are exact). Four running minima over
// interleaved candidates, merged at the end: one running minimum is a chain of multiply,
// compare and select per backend, which four chains overlap.
template <typename LoadOf, typename Overhead>
uint16_t first_least(std::span<const Candidate> candidates, LoadOf& load_of, Overhead overhead,
                     bool weighted) {
  struct Best {
    uint64_t overhead;
    uint64_t weight;
    uint32_t index;
  };
  const std::size_t n = candidates.size();
  if (n == 0) return kNoCandidate;
  auto at = [&](std::size_t i) {
    return Best{overhead(load_of(candidates[i].id)), weighted ? candidates[i].weight : 1u,
                static_cast<uint32_t>(i)};
  };
  auto less = [](const Best& a, const Best& b) {  // a before b; equal loads: the lower index
    const uint64_t l = a.overhead * b.weight, r = b.overhead * a.weight;
    return l < r || (l == r && a.index < b.index);
  };
  // Selects rather than branches: which backend is least loaded changes from flow to flow.
  auto step = [&](Best& best, std::size_t i) {
    const Best c = at(i);
    const bool take = c.overhead * best.weight < best.overhead * c.weight;
    best.overhead = take ? c.overhead : best.overhead;
    best.weight = take ? c.weight : best.weight;
    best.index = take ? c.index : best.index;
  };
  Best lane[4] = {at(0), at(n > 1 ? 1 : 0), at(n > 2 ? 2 : 0), at(n > 3 ? 3 : 0)};
  std::size_t i = 4;
  for (; i + 4 <= n; i += 4) {
    step(lane[0], i);
    step(lane[1], i + 1);
    step(lane[2], i + 2);
    step(lane[3], i + 3);
  }
  for (; i < n; ++i) step(lane[i & 3], i);
  Best best = lane[0];
  for (const Best& b : lane)
    if (less(b, best)) best = b;
  return static_cast<uint16_t>(best.index);
}

}  // namespace detail

// The least loaded candidate for `s` (lc, wlc, sed or nq), given each backend's Load by
// `load_of(id)`: index into `candidates`, or kNoCandidate when there is none. The workers
// give it their own counts plus their peers'; the API's simulation, every worker's.
template <typename LoadOf>
uint16_t pick_least_loaded(Scheduler s, std::span<const Candidate> candidates, LoadOf load_of) {
  // As lambdas, not function pointers, so that they inline into the scan.
  auto connection_overhead = [](Load l) { return dp::connection_overhead(l); };
  auto expected_delay_overhead = [](Load l) { return dp::expected_delay_overhead(l); };
  switch (s) {
    case Scheduler::lc:
      return detail::first_least(candidates, load_of, connection_overhead, false);
    case Scheduler::wlc:
      return detail::first_least(candidates, load_of, connection_overhead, true);
    case Scheduler::nq:
      // An idle backend first, whatever its weight: nothing would queue behind it.
      for (std::size_t i = 0; i < candidates.size(); ++i)
        if (load_of(candidates[i].id).active == 0) return static_cast<uint16_t>(i);
      return detail::first_least(candidates, load_of, expected_delay_overhead, true);
    case Scheduler::sed:
      return detail::first_least(candidates, load_of, expected_delay_overhead, true);
    default:
      return kNoCandidate;
  }
}

}  // namespace shoal::dp

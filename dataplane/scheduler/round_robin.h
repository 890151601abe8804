// rr and wrr, as LVS runs them. Each worker keeps its own cursor per service (no shared
// writes on the hot path), so each worker holds the exact ratio over the new flows it gets;
// with several workers the ratio holds over the whole within the spread RSS gives them.
#pragma once

#include <cstdint>
#include <span>

#include "dataplane/scheduler/scheduler.h"

namespace shoal::dp {

// Where a worker is in a service's sequence. It outlives Snapshots: after a reload or a
// health change it carries on from where it was, clamped to the new candidate list.
struct RoundRobinCursor {
  uint32_t last = UINT32_MAX;  // index of the last candidate picked
  uint32_t weight = 0;         // wrr: the current weight threshold
};

// The candidate after the last one picked. Index into `candidates`, or kNoCandidate if empty.
uint16_t pick_round_robin(std::span<const Candidate> candidates, RoundRobinCursor& cursor);

// LVS's interleaved weighted round robin: each pass over the list takes the candidates whose
// weight reaches the current threshold, which falls by the weights' gcd each pass and wraps
// to the largest weight. Over one cycle (Σ weight / gcd picks) each candidate is picked
// weight / gcd times, spread out rather than in runs. At most two passes per pick.
uint16_t pick_weighted_round_robin(std::span<const Candidate> candidates, uint32_t max_weight,
                                   uint32_t weight_gcd, RoundRobinCursor& cursor);

}  // namespace shoal::dp

#include "dataplane/scheduler/round_robin.h"

namespace shoal::dp {

uint16_t pick_round_robin(std::span<const Candidate> candidates, RoundRobinCursor& cursor) {
  const auto n = static_cast<uint32_t>(candidates.size());
  if (n == 0) return kNoCandidate;
  cursor.last = cursor.last >= n - 1 ? 0 : cursor.last + 1;  // UINT32_MAX: starts at 0
  return static_cast<uint16_t>(cursor.last);
}

uint16_t pick_weighted_round_robin(std::span<const Candidate> candidates, uint32_t max_weight,
                                   uint32_t weight_gcd, RoundRobinCursor& cursor) {
  const auto n = static_cast<uint32_t>(candidates.size());
  if (n == 0 || max_weight == 0 || weight_gcd == 0) return kNoCandidate;
  if (cursor.weight > max_weight) cursor.weight = max_weight;  // the weights went down
  // Within n steps the cursor wraps and the threshold drops to at most max_weight, which
  // the heaviest candidate reaches within n more.
  for (uint32_t step = 0; step < 2 * n; ++step) {
    cursor.last = cursor.last >= n - 1 ? 0 : cursor.last + 1;
    if (cursor.last == 0) {
      cursor.weight = cursor.weight > weight_gcd ? cursor.weight - weight_gcd : max_weight;
    }
    if (candidates[cursor.last].weight >= cursor.weight) return static_cast<uint16_t>(cursor.last);
  }
  return kNoCandidate;  // unreachable with consistent max_weight and candidates
}

}  // namespace shoal::dp

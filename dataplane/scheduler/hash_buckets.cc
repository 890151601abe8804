#include "dataplane/scheduler/hash_buckets.h"

namespace shoal::dp {

std::vector<uint16_t> build_source_hash_buckets(std::span<const Candidate> candidates,
                                                uint32_t weight_gcd) {
  std::vector<uint16_t> buckets;
  if (candidates.empty() || weight_gcd == 0) return buckets;
  buckets.reserve(kHashBuckets);
  for (std::size_t c = 0; buckets.size() < kHashBuckets; c = (c + 1) % candidates.size())
    for (uint32_t k = 0; k < candidates[c].weight / weight_gcd && buckets.size() < kHashBuckets;
         ++k)
      buckets.push_back(static_cast<uint16_t>(c));
  return buckets;
}

std::vector<uint16_t> build_destination_hash_buckets(std::span<const Candidate> candidates) {
  std::vector<uint16_t> buckets;
  if (candidates.empty()) return buckets;
  buckets.reserve(kHashBuckets);
  for (uint32_t b = 0; b < kHashBuckets; ++b)
    buckets.push_back(static_cast<uint16_t>(b % candidates.size()));
  return buckets;
}

}  // namespace shoal::dp

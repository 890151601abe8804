// sh and dh: LVS's small hash tables. 256 buckets are shared out among the candidates in
// config order, and a new flow takes the backend of the bucket its client address (sh) or
// destination address (dh) hashes to. Every director with the same config builds the same
// buckets, so a flow maps the same way on each. Unlike Maglev, a change of the candidate list
// reshuffles most buckets: sh and dh keep affinity, not minimal disruption.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dataplane/scheduler/scheduler.h"

namespace shoal::dp {

inline constexpr uint32_t kHashBuckets = 256;

// sh: each candidate in turn takes weight / gcd consecutive buckets, round and round until
// all 256 are taken. (LVS hands out the raw weights; dividing by their gcd keeps weights of
// 100 and 100 from filling the table in two runs.) bucket → candidate index; empty if there
// are no candidates.
std::vector<uint16_t> build_source_hash_buckets(std::span<const Candidate> candidates,
                                                uint32_t weight_gcd);

// dh: the candidates in turn, one bucket each; weights are not used.
std::vector<uint16_t> build_destination_hash_buckets(std::span<const Candidate> candidates);

// The bucket of an address in network byte order. Multiplicative hashes over the address as
// a host-order integer, LVS's constants: the golden ratio's (sh) and Knuth's (dh).
inline uint32_t source_hash_bucket(uint32_t addr_be) {
  return (__builtin_bswap32(addr_be) * 0x61c88647u) >> 24;
}
inline uint32_t destination_hash_bucket(uint32_t addr_be) {
  return (__builtin_bswap32(addr_be) * 2654435761u) & (kHashBuckets - 1);
}

}  // namespace shoal::dp

#include "dataplane/scheduler/persistence.h"

#include <rte_hash_crc.h>

namespace shoal::dp {
namespace {

// Wrap-safe: whether `deadline` is still ahead of `now`.
inline bool before(uint32_t now, uint32_t deadline) { return static_cast<int32_t>(deadline - now) > 0; }
// Wrap-safe: how long until `deadline` (negative once passed).
inline int32_t left(uint32_t now, uint32_t deadline) { return static_cast<int32_t>(deadline - now); }

}  // namespace

PersistenceTable::PersistenceTable(uint32_t capacity) {
  bucket_count_ = 1;
  while (bucket_count_ * kWays < capacity) bucket_count_ <<= 1;
  buckets_.reset(new Bucket[bucket_count_]);
}

const PersistenceTable::Bucket& PersistenceTable::bucket(const Client& c) const {
  const uint32_t h = rte_hash_crc_4byte(c.address, c.service_tag);
  return buckets_[h & (bucket_count_ - 1)];
}

std::optional<PersistenceTable::Found> PersistenceTable::find(const Client& c,
                                                             uint32_t now_ms) const {
  const uint64_t key = key_bits(c);
  for (const Entry& e : bucket(c).ways) {
    const uint64_t word = e.word.load(std::memory_order_acquire);
    if (word == 0 || (word & kKeyMask) != key) continue;
    const uint32_t expires = e.expires_ms.load(std::memory_order_relaxed);
    if (!before(now_ms, expires)) return std::nullopt;
    return Found{static_cast<uint16_t>(word & 0xffff), expires};
  }
  return std::nullopt;
}

bool PersistenceTable::record(const Client& c, uint16_t backend, uint32_t now_ms,
                              uint32_t timeout_ms) {
  const uint64_t key = key_bits(c);
  Bucket& b = bucket(c);
  Entry* slot = nullptr;    // this client's entry, or a dead one
  Entry* soonest = nullptr;  // the live entry closest to its expiry
  for (Entry& e : b.ways) {
    const uint64_t word = e.word.load(std::memory_order_relaxed);
    const uint32_t expires = e.expires_ms.load(std::memory_order_relaxed);
    if (word != 0 && (word & kKeyMask) == key) {
      slot = &e;
      break;
    }
    if (word == 0 || !before(now_ms, expires)) {
      if (slot == nullptr) slot = &e;
    } else if (soonest == nullptr ||
               left(now_ms, expires) < left(now_ms, soonest->expires_ms.load(std::memory_order_relaxed))) {
      soonest = &e;
    }
  }
  const bool evicted = slot == nullptr;
  if (evicted) {
    slot = soonest;
    evictions_.store(evictions_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  slot->expires_ms.store(now_ms + timeout_ms, std::memory_order_relaxed);
  slot->word.store(key | backend, std::memory_order_release);
  return evicted;
}

std::optional<PersistenceTable::Held> PersistenceTable::at(uint32_t slot, uint32_t now_ms) const {
  const Entry& e = buckets_[slot / kWays].ways[slot % kWays];
  const uint64_t word = e.word.load(std::memory_order_acquire);
  if (word == 0) return std::nullopt;
  const uint32_t expires = e.expires_ms.load(std::memory_order_relaxed);
  if (!before(now_ms, expires)) return std::nullopt;
  return Held{{static_cast<uint16_t>(word >> 48), static_cast<uint32_t>(word >> 16)},
              static_cast<uint16_t>(word & 0xffff), expires};
}

void PersistenceTable::touch(const Client& c, uint16_t backend, uint32_t now_ms,
                             uint32_t timeout_ms) {
  const uint64_t word = key_bits(c) | backend;
  for (Entry& e : bucket(c).ways) {
    if (e.word.load(std::memory_order_relaxed) != word) continue;
    const uint32_t expires = now_ms + timeout_ms;
    if (left(e.expires_ms.load(std::memory_order_relaxed), expires) >= 1000)
      e.expires_ms.store(expires, std::memory_order_relaxed);
    return;
  }
}

}  // namespace shoal::dp

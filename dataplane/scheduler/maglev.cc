#include "dataplane/scheduler/maglev.h"

#include <rte_jhash.h>

#include <algorithm>
#include <cassert>
#include <functional>
#include <queue>
#include <utility>

namespace shoal::dp {

namespace {

// Fixed seeds: every director must derive the same permutation from the same id, so these
// are part of the table's definition. Changing them reshuffles every service on upgrade.
constexpr uint32_t kOffsetSeed = 0x5a17'0f15;
constexpr uint32_t kSkipSeed = 0x0c0f'fee5;

// Per live backend; the full permutation is never materialised, only where it has got to.
struct Cursor {
  uint32_t input_index = 0;  // position in the caller's span: what the table stores
  uint32_t weight = 0;
  uint32_t next_slot = 0;  // next preference not yet looked at
  uint32_t skip = 0;
  uint32_t claims = 0;  // slots taken so far
};

// Hashing the id as two 32-bit words (not as 8 bytes in memory) keeps the permutation the
// same on little- and big-endian directors.
std::pair<uint32_t, uint32_t> offset_and_skip(uint64_t id, uint32_t table_size) {
  const auto lo = static_cast<uint32_t>(id);
  const auto hi = static_cast<uint32_t>(id >> 32);
  const uint32_t offset = rte_jhash_2words(lo, hi, kOffsetSeed) % table_size;
  // M prime and 1 <= skip < M make the sequence offset + j*skip visit every slot once.
  const uint32_t skip = rte_jhash_2words(lo, hi, kSkipSeed) % (table_size - 1) + 1;
  return {offset, skip};
}

}  // namespace

bool is_prime(uint32_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  // 64-bit square so the loop bound cannot overflow near UINT32_MAX.
  for (uint64_t d = 3; d * d <= n; d += 2) {
    if (n % d == 0) return false;
  }
  return true;
}

uint64_t MaglevTable::id_at(uint32_t slot) const {
  const uint16_t index = slots_[slot];
  return index == kMaglevEmpty ? UINT64_MAX : ids_[index];
}

// Weighting is a credit scheme on top of classic Maglev rounds: each round every backend earns
// weight/max_weight of a slot and, per whole unit earned, claims its next free preference.
// In integers (credit in units of weight, threshold max_weight) a backend's k-th claim falls
// in round ceil(k * max_weight / weight), and within a round backends go in id order. Rather
// than stepping every backend through every round — a skewed weight set needs about M rounds,
// most of them idle for most backends — a min-heap on (round, rank) visits only the claims,
// in exactly the order the round-by-round loop would: O(M log N) time, O(M + N) memory.
// With equal weights every backend claims once per round, which is classic Maglev.
MaglevTable build_maglev(std::span<const MaglevBackend> backends, uint32_t table_size) {
  assert(is_prime(table_size));
  assert(backends.size() <= kMaglevEmpty);  // indices stop at 0xfffe: 0xffff means "empty"

  std::vector<uint64_t> ids(backends.size());
  std::vector<uint32_t> by_id;  // live backends' input indices, in id order
  by_id.reserve(backends.size());
  uint32_t max_weight = 0;
  for (uint32_t i = 0; i < backends.size(); ++i) {
    ids[i] = backends[i].id;
    if (backends[i].weight == 0) continue;  // drained: no new flows, hence no slot
    by_id.push_back(i);
    max_weight = std::max(max_weight, backends[i].weight);
  }
  // The input order is whatever the config or API produced; only ids are shared between
  // directors, so they alone decide who goes first in each round.
  std::sort(by_id.begin(), by_id.end(),
            [&](uint32_t a, uint32_t b) { return backends[a].id < backends[b].id; });
  assert(std::adjacent_find(by_id.begin(), by_id.end(), [&](uint32_t a, uint32_t b) {
           return backends[a].id == backends[b].id;
         }) == by_id.end());

  std::vector<uint16_t> slots(table_size, kMaglevEmpty);
  if (by_id.empty()) return MaglevTable(std::move(slots), std::move(ids));

  std::vector<Cursor> cursors(by_id.size());
  for (uint32_t rank = 0; rank < by_id.size(); ++rank) {
    const MaglevBackend& b = backends[by_id[rank]];
    const auto [offset, skip] = offset_and_skip(b.id, table_size);
    cursors[rank] = Cursor{by_id[rank], b.weight, offset, skip, 0};
  }

  // Round of a backend's next claim. 64-bit: claims <= M < 2^32 and max_weight < 2^32.
  auto next_round = [&](const Cursor& c) -> uint64_t {
    const uint64_t need = (static_cast<uint64_t>(c.claims) + 1) * max_weight;
    return (need + c.weight - 1) / c.weight;
  };
  using Claim = std::pair<uint64_t, uint32_t>;  // (round, rank): ties go to the lower id
  std::priority_queue<Claim, std::vector<Claim>, std::greater<Claim>> queue;
  for (uint32_t rank = 0; rank < cursors.size(); ++rank) {
    queue.emplace(next_round(cursors[rank]), rank);
  }

  uint32_t filled = 0;
  while (filled < table_size) {
    const uint32_t rank = queue.top().second;
    queue.pop();
    Cursor& c = cursors[rank];
    // Terminates: the permutation reaches every slot and at least one is still free.
    while (slots[c.next_slot] != kMaglevEmpty) {
      c.next_slot = (c.next_slot + c.skip) % table_size;
    }
    slots[c.next_slot] = static_cast<uint16_t>(c.input_index);
    c.next_slot = (c.next_slot + c.skip) % table_size;
    ++c.claims;
    ++filled;
    queue.emplace(next_round(c), rank);
  }
  return MaglevTable(std::move(slots), std::move(ids));
}

double changed_fraction(const MaglevTable& a, const MaglevTable& b) {
  if (a.size() != b.size()) return 1.0;
  if (a.size() == 0) return 0.0;
  uint32_t changed = 0;
  for (uint32_t slot = 0; slot < a.size(); ++slot) {
    if (a.id_at(slot) != b.id_at(slot)) ++changed;
  }
  return static_cast<double>(changed) / a.size();
}

}  // namespace shoal::dp

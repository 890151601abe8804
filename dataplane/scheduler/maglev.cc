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
// in round ceil(k * max_weight / weight), and within a round backends go in id order. With
// equal weights every backend claims once per round, which is classic Maglev.
//
// The table is part of the wire contract between directors (a flow must reach the same
// backend whichever director and version sees it), so any faster way of building it must
// claim the same slots in the same order; tests/unit/dataplane/scheduler/test_maglev.cc
// compares it slot for slot with the first implementation, kept there as the reference.
//
// Where the time goes, for M = 65537: the claims walk about M ln M preferences in total, most
// of them to slots already taken, so the walk is a tight loop with no division (a conditional
// subtraction wraps around M) over flat per-backend arrays. Which backend claims next costs
// nothing with equal weights (ranks in turn) and little otherwise (a calendar of rounds, below).
namespace {

// Per live backend, by rank (position in id order): where its permutation has got to. The full
// permutation is never materialised.
struct Permutations {
  std::vector<uint32_t> next;   // next preference not yet looked at
  std::vector<uint32_t> skip;   // 1 <= skip < M
  std::vector<uint16_t> index;  // input index: what the table stores
};

class Filler {
 public:
  Filler(std::vector<uint16_t>& slots, Permutations& p)
      : slots_(slots.data()), size_(static_cast<uint32_t>(slots.size())), next_(p.next.data()),
        skip_(p.skip.data()), index_(p.index.data()) {}

  // Gives `rank` its first free preference. Terminates: the permutation reaches every slot and
  // the caller stops once none is free.
  void claim(uint32_t rank) {
    uint32_t slot = next_[rank];
    // slot + skip may not fit in 32 bits, slot - (M - skip) does when it is taken.
    const uint32_t skip = skip_[rank];
    const uint32_t back = size_ - skip;
    while (slots_[slot] != kMaglevEmpty) slot = slot >= back ? slot - back : slot + skip;
    slots_[slot] = index_[rank];
    next_[rank] = slot >= back ? slot - back : slot + skip;
    ++filled_;
  }
  bool full() const { return filled_ == size_; }

 private:
  uint16_t* slots_;
  uint32_t size_;
  uint32_t filled_ = 0;
  uint32_t* next_;
  const uint32_t* skip_;
  const uint16_t* index_;
};

// Round of each backend's next claim, ceil(k * max_weight / weight) for its k-th, kept as a
// running quotient and remainder so that a claim costs an addition rather than a division.
// 64-bit: k <= M < 2^32 and max_weight < 2^32.
class ClaimRounds {
 public:
  ClaimRounds(std::span<const uint32_t> weights, uint32_t max_weight) {
    const size_t n = weights.size();
    quotient_.resize(n);
    remainder_.resize(n);
    step_quotient_.resize(n);
    step_remainder_.resize(n);
    weight_.assign(weights.begin(), weights.end());
    for (size_t r = 0; r < n; ++r) {
      step_quotient_[r] = max_weight / weights[r];
      step_remainder_[r] = max_weight % weights[r];
      quotient_[r] = step_quotient_[r];  // k = 1
      remainder_[r] = step_remainder_[r];
    }
  }
  uint64_t next(uint32_t rank) const { return quotient_[rank] + (remainder_[rank] != 0); }
  void advance(uint32_t rank) {
    quotient_[rank] += step_quotient_[rank];
    // remainder + step_remainder >= weight, without the sum (it may not fit in 32 bits).
    const uint32_t carry_at = weight_[rank] - step_remainder_[rank];
    if (remainder_[rank] >= carry_at) {
      remainder_[rank] -= carry_at;
      ++quotient_[rank];
    } else {
      remainder_[rank] += step_remainder_[rank];
    }
  }

 private:
  std::vector<uint64_t> quotient_;
  std::vector<uint32_t> remainder_, step_quotient_, step_remainder_, weight_;
};

// A backend's claims are at most ceil(max_weight / weight) rounds apart, so while that is
// below kCalendarRounds a ring of that many rounds holds every pending claim, each round a
// bitset of ranks: walking a round's bits in order is the id order within the round, with no
// heap. Skewed weights (a light backend among heavy ones) fall back to a heap.
constexpr uint32_t kCalendarRounds = 64;

void fill_by_calendar(Filler& filler, ClaimRounds& rounds, uint32_t live) {
  const uint32_t words = (live + 63) / 64;
  std::vector<uint64_t> calendar(size_t(kCalendarRounds) * words, 0);
  auto schedule = [&](uint32_t rank) {
    const uint64_t round = rounds.next(rank);
    calendar[(round % kCalendarRounds) * words + rank / 64] |= uint64_t(1) << (rank % 64);
  };
  for (uint32_t rank = 0; rank < live; ++rank) schedule(rank);
  for (uint64_t round = 1;; ++round) {
    uint64_t* bits = &calendar[(round % kCalendarRounds) * words];
    for (uint32_t w = 0; w < words; ++w) {
      // Claims scheduled from here land in later rounds: never in this word.
      uint64_t word = bits[w];
      bits[w] = 0;
      while (word != 0) {
        const uint32_t rank = w * 64 + static_cast<uint32_t>(__builtin_ctzll(word));
        word &= word - 1;
        filler.claim(rank);
        if (filler.full()) return;
        rounds.advance(rank);
        schedule(rank);
      }
    }
  }
}

void fill_by_heap(Filler& filler, ClaimRounds& rounds, uint32_t live) {
  using Claim = std::pair<uint64_t, uint32_t>;  // (round, rank): ties go to the lower id
  std::vector<Claim> heap;
  heap.reserve(live);
  for (uint32_t rank = 0; rank < live; ++rank) heap.emplace_back(rounds.next(rank), rank);
  std::priority_queue<Claim, std::vector<Claim>, std::greater<Claim>> queue(
      std::greater<Claim>(), std::move(heap));
  for (;;) {
    const uint32_t rank = queue.top().second;
    queue.pop();
    filler.claim(rank);
    if (filler.full()) return;
    rounds.advance(rank);
    queue.emplace(rounds.next(rank), rank);
  }
}

}  // namespace

MaglevTable build_maglev(std::span<const MaglevBackend> backends, uint32_t table_size) {
  assert(is_prime(table_size));
  assert(backends.size() <= kMaglevEmpty);  // indices stop at 0xfffe: 0xffff means "empty"

  std::vector<uint64_t> ids(backends.size());
  std::vector<uint32_t> by_id;  // live backends' input indices, in id order
  by_id.reserve(backends.size());
  uint32_t max_weight = 0;
  uint32_t min_weight = UINT32_MAX;
  for (uint32_t i = 0; i < backends.size(); ++i) {
    ids[i] = backends[i].id;
    if (backends[i].weight == 0) continue;  // drained: no new flows, hence no slot
    by_id.push_back(i);
    max_weight = std::max(max_weight, backends[i].weight);
    min_weight = std::min(min_weight, backends[i].weight);
  }
  // The input order is whatever the config or API produced; only ids are shared between
  // directors, so they alone decide who goes first in each round.
  std::sort(by_id.begin(), by_id.end(),
            [&](uint32_t a, uint32_t b) { return backends[a].id < backends[b].id; });
  assert(std::adjacent_find(by_id.begin(), by_id.end(), [&](uint32_t a, uint32_t b) {
           return backends[a].id == backends[b].id;
         }) == by_id.end());

  std::vector<uint16_t> slots(table_size, kMaglevEmpty);
  const auto live = static_cast<uint32_t>(by_id.size());
  if (live == 0) return MaglevTable(std::move(slots), std::move(ids));

  Permutations perms;
  perms.next.resize(live);
  perms.skip.resize(live);
  perms.index.resize(live);
  for (uint32_t rank = 0; rank < live; ++rank) {
    const auto [offset, skip] = offset_and_skip(backends[by_id[rank]].id, table_size);
    perms.next[rank] = offset;
    perms.skip[rank] = skip;
    perms.index[rank] = static_cast<uint16_t>(by_id[rank]);
  }
  Filler filler(slots, perms);

  if (min_weight == max_weight) {
    // Every backend claims once per round: ranks in turn.
    for (;;) {
      for (uint32_t rank = 0; rank < live; ++rank) {
        filler.claim(rank);
        if (filler.full()) return MaglevTable(std::move(slots), std::move(ids));
      }
    }
  }

  std::vector<uint32_t> weights(live);
  for (uint32_t rank = 0; rank < live; ++rank) weights[rank] = backends[by_id[rank]].weight;
  ClaimRounds rounds(weights, max_weight);
  // Rounded up (floor + 1, not computed: it overflows for a max_weight of 2^32 - 1 over 1):
  // the widest gap between two claims of the lightest backend.
  if (max_weight / min_weight < kCalendarRounds - 1) {
    fill_by_calendar(filler, rounds, live);
  } else {
    fill_by_heap(filler, rounds, live);
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

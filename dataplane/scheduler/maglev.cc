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
// Where the time goes, for M = 65537: walked one preference at a time, the claims look at
// about M ln M preferences in total (750,000 for 1000 backends), most of them slots already
// taken, half of them for the last 256 free slots; and the loop's exit branch mispredicts at
// most claims. So a walk looks at four preferences at a time without a branch each, in a
// bitmap of taken slots, with no division (Filler::walk, Filler::step), and the last 256 free
// slots are found from a list instead (Filler::take_nearest_free). Which backend claims next
// costs nothing with equal weights (ranks in turn) and little otherwise (a replayed period, a
// calendar of rounds, or a heap: below). Figures in BENCHMARKS.md ("Maglev table build time").
namespace {

// Per live backend, by rank (position in id order): where its permutation has got to. The full
// permutation is never materialised.
struct Permutations {
  std::vector<uint32_t> next;   // next preference not yet looked at
  std::vector<uint32_t> skip;   // 1 <= skip < M
  std::vector<uint16_t> index;  // input index: what the table stores
};

// a * b mod m for a, b < m < 2^32 without a 64-bit division: the quotient estimated in
// double precision is off by at most a few units, which the corrections take back exactly.
uint32_t mul_mod(uint32_t a, uint32_t b, uint32_t m, double inverse_m) {
  const uint64_t product = uint64_t(a) * b;
  const auto quotient = static_cast<uint64_t>(double(a) * double(b) * inverse_m);
  // Exact modulo 2^64, and the true remainder is within a few m of it: fits in 64 signed bits.
  auto remainder = static_cast<int64_t>(product - quotient * m);
  while (remainder < 0) remainder += m;
  while (remainder >= int64_t(m)) remainder -= m;
  return static_cast<uint32_t>(remainder);
}

// x with x * a = 1 mod m, for m prime and 0 < a < m (extended Euclid).
uint32_t inverse_mod(uint32_t a, uint32_t m) {
  int64_t t = 0, next_t = 1;
  int64_t r = m, next_r = a;
  while (next_r != 0) {
    const int64_t q = r / next_r;
    t = std::exchange(next_t, t - q * next_t);
    r = std::exchange(next_r, r - q * next_r);
  }
  return static_cast<uint32_t>(t < 0 ? t + m : t);
}

class Filler {
 public:
  Filler(std::vector<uint16_t>& slots, Permutations& p)
      : slots_(slots.data()), size_(static_cast<uint32_t>(slots.size())), next_(p.next.data()),
        skip_(p.skip.data()), index_(p.index.data()), live_(p.next.size()),
        taken_((size_ + 63) / 64, 0), strides_(live_) {
    for (size_t rank = 0; rank < live_; ++rank) {
      uint32_t stride = 0;
      for (uint32_t& by : strides_[rank].by) by = stride = step(stride, skip_[rank]);
    }
    if (size_ <= kTailSlots) start_tail();
  }

  // Gives `rank` its first free preference.
  void claim(uint32_t rank) {
    if (free_.empty()) {
      walk(rank);
      if (size_ - filled_ == kTailSlots) start_tail();
    } else {
      take_nearest_free(rank);
    }
  }
  bool full() const { return filled_ == size_; }

 private:
  // The last free slots are the expensive ones: with F left a walk looks at about M / F
  // preferences, so the last 256 would cost about M ln 256 steps, half of all of them. There
  // the free slots are listed instead, and a backend takes the one fewest steps ahead of it
  // in its permutation: (slot - next) / skip mod M steps, a multiplication by the inverse of
  // skip. That costs F multiplications per claim, about 256^2 / 2 in all.
  static constexpr uint32_t kTailSlots = 256;

  // Looks at kStrides preferences at a time, each one step from the first (so the steps do
  // not wait on each other) and without a branch per preference: whether a preference is free
  // is a coin toss once the table is about half full, which a loop's exit branch mispredicts
  // at nearly every claim. Takes the first free one in the permutation's order, as a walk
  // one at a time would. Terminates: the permutation reaches every slot and the caller stops
  // once none is free.
  void walk(uint32_t rank) {
    const Strides& strides = strides_[rank];
    uint32_t slot = next_[rank];
    for (;;) {
      uint32_t ahead[kStrides];
      uint32_t free_mask = is_free(slot);
      for (uint32_t k = 1; k < kStrides; ++k) {
        ahead[k] = step(slot, strides.by[k - 1]);
        free_mask |= is_free(ahead[k]) << k;
      }
      if (free_mask != 0) {
        const auto first = static_cast<uint32_t>(__builtin_ctz(free_mask));
        ahead[0] = slot;
        slot = ahead[first];
        break;
      }
      slot = step(slot, strides.by[kStrides - 1]);
    }
    slots_[slot] = index_[rank];
    taken_[slot / 64] |= uint64_t(1) << (slot % 64);
    next_[rank] = step(slot, strides.by[0]);
    ++filled_;
  }

  void start_tail() {
    free_.reserve(size_ - filled_);
    for (uint32_t slot = 0; slot < size_; ++slot) {
      if (slots_[slot] == kMaglevEmpty) free_.push_back(slot);
    }
    inverse_skip_.assign(live_, 0);  // 0: not computed yet (an inverse is never 0)
    inverse_size_ = 1.0 / size_;
  }

  void take_nearest_free(uint32_t rank) {
    if (inverse_skip_[rank] == 0) inverse_skip_[rank] = inverse_mod(skip_[rank], size_);
    const uint32_t inverse = inverse_skip_[rank];
    const uint32_t next = next_[rank];
    uint32_t nearest = 0;
    uint32_t fewest_steps = UINT32_MAX;
    for (uint32_t i = 0; i < free_.size(); ++i) {
      const uint32_t slot = free_[i];
      const uint32_t distance = slot >= next ? slot - next : slot + (size_ - next);
      const uint32_t steps = mul_mod(distance, inverse, size_, inverse_size_);
      if (steps < fewest_steps) {
        fewest_steps = steps;
        nearest = i;
      }
    }
    const uint32_t slot = free_[nearest];
    free_[nearest] = free_.back();
    free_.pop_back();
    slots_[slot] = index_[rank];
    next_[rank] = step(slot, skip_[rank]);
    ++filled_;
  }

  // (slot + skip) mod M without a division, and without a branch: whether it wraps is a coin
  // toss per step (skip is random), which a branch mispredicts often. In 64 bits slot + skip
  // does not overflow, and slot - (M - skip) is the wrapped slot when it is smaller, else a
  // huge (negative) number: the smaller of the two is the answer, a compare and a select.
  uint32_t step(uint32_t slot, uint32_t skip) const {
    const uint64_t straight = uint64_t(slot) + skip;
    const uint64_t wrapped = uint64_t(slot) - (size_ - skip);
    return static_cast<uint32_t>(std::min(straight, wrapped));
  }

  uint16_t* slots_;
  uint32_t size_;
  uint32_t filled_ = 0;
  uint32_t* next_;
  const uint32_t* skip_;
  const uint16_t* index_;
  size_t live_;
  // Which slots are taken, one bit each: 8 KiB for M = 65537, in L1 where the 128 KiB of
  // slots are not, for the walks' many looks at taken slots.
  std::vector<uint64_t> taken_;
  uint32_t is_free(uint32_t slot) const { return ~taken_[slot / 64] >> (slot % 64) & 1; }
  static constexpr uint32_t kStrides = 4;
  struct Strides {
    uint32_t by[kStrides];  // k * skip mod M for k = 1..kStrides
  };
  std::vector<Strides> strides_;
  // The tail: free slots, and per rank the inverse of its skip mod M once it needed it.
  std::vector<uint32_t> free_;
  std::vector<uint32_t> inverse_skip_;
  double inverse_size_ = 0;
};

// Round of each backend's next claim, ceil(k * max_weight / weight) for its k-th, kept as a
// running quotient and remainder so that a claim costs an addition rather than a division.
// 64-bit: k <= M < 2^32 and max_weight < 2^32.
class ClaimRounds {
 public:
  ClaimRounds(std::span<const uint32_t> weights, uint32_t max_weight) : ranks_(weights.size()) {
    for (size_t r = 0; r < weights.size(); ++r) {
      Rank& c = ranks_[r];
      c.step_quotient = max_weight / weights[r];
      c.step_remainder = max_weight % weights[r];
      c.carry_at = weights[r] - c.step_remainder;
      c.quotient = c.step_quotient;  // k = 1
      c.remainder = c.step_remainder;
    }
  }
  uint64_t next(uint32_t rank) const {
    return ranks_[rank].quotient + (ranks_[rank].remainder != 0);
  }
  // Without a branch: whether the remainder carries follows each backend's own rhythm, which
  // interleaved over the backends a branch would mispredict.
  void advance(uint32_t rank) {
    Rank& c = ranks_[rank];
    const bool carry = c.remainder >= c.carry_at;
    c.remainder = carry ? c.remainder - c.carry_at : c.remainder + c.step_remainder;
    c.quotient += c.step_quotient + carry;
  }

 private:
  struct Rank {
    uint64_t quotient;
    uint32_t remainder;
    uint32_t step_quotient;
    uint32_t step_remainder;
    // weight - step_remainder: remainder + step_remainder >= weight, without the sum (it may
    // not fit in 32 bits).
    uint32_t carry_at;
  };
  std::vector<Rank> ranks_;
};

// A backend's claims are at most ceil(max_weight / weight) rounds apart, so while that is
// below kCalendarRounds a ring of that many rounds holds every pending claim, each round a
// bitset of ranks: walking a round's bits in order is the id order within the round, with no
// heap. Skewed weights (a light backend among heavy ones) fall back to a heap.
constexpr uint32_t kCalendarRounds = 64;

// Both hand out claims in order to on_claim(rank), which returns true to stop.
template <typename OnClaim>
void claims_by_calendar(ClaimRounds& rounds, uint32_t live, OnClaim on_claim) {
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
      for (uint64_t word = std::exchange(bits[w], 0); word != 0; word &= word - 1) {
        const uint32_t rank = w * 64 + static_cast<uint32_t>(__builtin_ctzll(word));
        if (on_claim(rank)) return;
        rounds.advance(rank);
        schedule(rank);
      }
    }
  }
}

template <typename OnClaim>
void claims_by_heap(ClaimRounds& rounds, uint32_t live, OnClaim on_claim) {
  using Claim = std::pair<uint64_t, uint32_t>;  // (round, rank): ties go to the lower id
  std::vector<Claim> heap;
  heap.reserve(live);
  for (uint32_t rank = 0; rank < live; ++rank) heap.emplace_back(rounds.next(rank), rank);
  std::priority_queue<Claim, std::vector<Claim>, std::greater<Claim>> queue(
      std::greater<Claim>(), std::move(heap));
  for (;;) {
    const uint32_t rank = queue.top().second;
    queue.pop();
    if (on_claim(rank)) return;
    rounds.advance(rank);
    queue.emplace(rounds.next(rank), rank);
  }
}

template <typename OnClaim>
void claims_in_order(std::span<const uint32_t> weights, uint32_t max_weight,
                     uint32_t min_weight, OnClaim on_claim) {
  ClaimRounds rounds(weights, max_weight);
  const auto live = static_cast<uint32_t>(weights.size());
  // Rounded up (floor + 1, not computed: it overflows for a max_weight of 2^32 - 1 over 1):
  // the widest gap between two claims of the lightest backend.
  if (max_weight / min_weight < kCalendarRounds - 1) {
    claims_by_calendar(rounds, live, on_claim);
  } else {
    claims_by_heap(rounds, live, on_claim);
  }
}

// The claim order repeats every max_weight rounds (claim k + weight of a backend falls
// max_weight rounds after claim k), one period holding sum(weights) claims. While a period
// is short it is worked out once and replayed, so most claims cost what they cost with equal
// weights: no calendar, no heap.
constexpr uint64_t kMaxReplayedClaims = 16384;  // 32 KiB of ranks

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
  uint64_t total_weight = 0;
  for (uint32_t rank = 0; rank < live; ++rank) {
    weights[rank] = backends[by_id[rank]].weight;
    total_weight += weights[rank];
  }
  if (total_weight <= kMaxReplayedClaims) {
    std::vector<uint16_t> period;
    period.reserve(total_weight);
    claims_in_order(weights, max_weight, min_weight, [&](uint32_t rank) {
      period.push_back(static_cast<uint16_t>(rank));
      return period.size() == total_weight;
    });
    for (;;) {
      for (const uint16_t rank : period) {
        filler.claim(rank);
        if (filler.full()) return MaglevTable(std::move(slots), std::move(ids));
      }
    }
  }
  claims_in_order(weights, max_weight, min_weight, [&](uint32_t rank) {
    filler.claim(rank);
    return filler.full();
  });
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

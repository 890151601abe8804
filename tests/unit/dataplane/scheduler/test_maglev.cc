// Weighted Maglev: coverage, balance, weight shares, order independence, disruption on
// removal, exact pinned assignments on a tiny prime table, and the same table slot for slot as
// the reference builder below over many backend sets.
#include <catch2/catch.hpp>
#include <rte_jhash.h>

#include "dataplane/scheduler/maglev.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <queue>
#include <random>
#include <span>
#include <utility>
#include <vector>

namespace {

using shoal::dp::build_maglev;
using shoal::dp::changed_fraction;
using shoal::dp::is_prime;
using shoal::dp::kDefaultMaglevSize;
using shoal::dp::kMaglevEmpty;
using shoal::dp::MaglevBackend;
using shoal::dp::MaglevTable;

// Shaped like real ids (IPv4 address << 16 | port) rather than 0..N-1, so the hash sees
// realistic bit patterns.
uint64_t backend_id(uint32_t i) {
  return (static_cast<uint64_t>(0x0a00'0001u + i) << 16) | 8080u;
}

std::vector<MaglevBackend> equal_backends(uint32_t n, uint32_t weight = 1) {
  std::vector<MaglevBackend> backends;
  for (uint32_t i = 0; i < n; ++i) backends.push_back({backend_id(i), weight});
  return backends;
}

// Slots owned per input index.
std::vector<uint32_t> slot_counts(const MaglevTable& table, size_t n) {
  std::vector<uint32_t> counts(n, 0);
  uint32_t out_of_range = 0;
  for (uint16_t index : table.slots()) {
    if (index < n) {
      ++counts[index];
    } else {
      ++out_of_range;
    }
  }
  REQUIRE(out_of_range == 0);
  return counts;
}

void check_shares_follow_weights(const std::vector<MaglevBackend>& backends) {
  const MaglevTable table = build_maglev(backends);
  const std::vector<uint32_t> counts = slot_counts(table, backends.size());
  const double total_weight =
      std::accumulate(backends.begin(), backends.end(), 0.0,
                      [](double sum, const MaglevBackend& b) { return sum + b.weight; });
  for (size_t i = 0; i < backends.size(); ++i) {
    const double share = static_cast<double>(counts[i]) / table.size();
    const double expected = backends[i].weight / total_weight;
    INFO("backend " << i << " weight " << backends[i].weight << " share " << share << " expected "
                    << expected);
    CHECK(std::abs(share - expected) <= 0.01);
  }
}

// The table as first built (one heap of claims, a division per step of a permutation), kept
// as the definition the fast builder must match slot for slot: directors of different
// versions share the table during a rolling upgrade. Do not optimise this copy.
std::vector<uint16_t> reference_maglev(std::span<const MaglevBackend> backends,
                                       uint32_t table_size) {
  constexpr uint32_t kOffsetSeed = 0x5a17'0f15;
  constexpr uint32_t kSkipSeed = 0x0c0f'fee5;
  struct Cursor {
    uint32_t input_index = 0;
    uint32_t weight = 0;
    uint32_t next_slot = 0;
    uint32_t skip = 0;
    uint32_t claims = 0;
  };
  std::vector<uint32_t> by_id;
  uint32_t max_weight = 0;
  for (uint32_t i = 0; i < backends.size(); ++i) {
    if (backends[i].weight == 0) continue;
    by_id.push_back(i);
    max_weight = std::max(max_weight, backends[i].weight);
  }
  std::sort(by_id.begin(), by_id.end(),
            [&](uint32_t a, uint32_t b) { return backends[a].id < backends[b].id; });
  std::vector<uint16_t> slots(table_size, kMaglevEmpty);
  if (by_id.empty()) return slots;
  std::vector<Cursor> cursors(by_id.size());
  for (uint32_t rank = 0; rank < by_id.size(); ++rank) {
    const MaglevBackend& b = backends[by_id[rank]];
    const auto lo = static_cast<uint32_t>(b.id);
    const auto hi = static_cast<uint32_t>(b.id >> 32);
    const uint32_t offset = rte_jhash_2words(lo, hi, kOffsetSeed) % table_size;
    const uint32_t skip = rte_jhash_2words(lo, hi, kSkipSeed) % (table_size - 1) + 1;
    cursors[rank] = Cursor{by_id[rank], b.weight, offset, skip, 0};
  }
  auto next_round = [&](const Cursor& c) -> uint64_t {
    const uint64_t need = (static_cast<uint64_t>(c.claims) + 1) * max_weight;
    return (need + c.weight - 1) / c.weight;
  };
  using Claim = std::pair<uint64_t, uint32_t>;
  std::priority_queue<Claim, std::vector<Claim>, std::greater<Claim>> queue;
  for (uint32_t rank = 0; rank < cursors.size(); ++rank) {
    queue.emplace(next_round(cursors[rank]), rank);
  }
  uint32_t filled = 0;
  while (filled < table_size) {
    const uint32_t rank = queue.top().second;
    queue.pop();
    Cursor& c = cursors[rank];
    while (slots[c.next_slot] != kMaglevEmpty) {
      c.next_slot = (c.next_slot + c.skip) % table_size;
    }
    slots[c.next_slot] = static_cast<uint16_t>(c.input_index);
    c.next_slot = (c.next_slot + c.skip) % table_size;
    ++c.claims;
    ++filled;
    queue.emplace(next_round(c), rank);
  }
  return slots;
}

// Slot for slot, with where the first difference is when there is one.
void check_matches_reference(const std::vector<MaglevBackend>& backends, uint32_t table_size) {
  const std::vector<uint16_t> expected = reference_maglev(backends, table_size);
  const MaglevTable table = build_maglev(backends, table_size);
  REQUIRE(table.size() == table_size);
  const auto [got, want] =
      std::mismatch(table.slots().begin(), table.slots().end(), expected.begin());
  if (got != table.slots().end()) {
    FAIL("M " << table_size << ", " << backends.size() << " backends: slot "
              << (got - table.slots().begin()) << " holds " << *got << ", the reference "
              << *want);
  }
}

}  // namespace

TEST_CASE("maglev: is_prime", "[maglev]") {
  for (uint32_t p : {2u, 3u, 5u, 7u, 13u, 251u, 65537u, 4294967291u}) {
    INFO(p);
    CHECK(is_prime(p));
  }
  for (uint32_t n : {0u, 1u, 4u, 9u, 15u, 25u, 65535u, 65536u, 4294967295u}) {
    INFO(n);
    CHECK_FALSE(is_prime(n));
  }
  CHECK(is_prime(kDefaultMaglevSize));
}

TEST_CASE("maglev: every slot is filled", "[maglev]") {
  const uint32_t n = GENERATE(1u, 10u, 100u, 1000u);
  INFO("backends " << n);
  const auto backends = equal_backends(n);
  const MaglevTable table = build_maglev(backends, 65537);
  REQUIRE(table.size() == 65537);
  CHECK_FALSE(table.empty());
  CHECK(std::none_of(table.slots().begin(), table.slots().end(),
                     [&](uint16_t index) { return index >= n; }));
}

TEST_CASE("maglev: equal weights give slot counts within one of each other", "[maglev]") {
  const uint32_t n = GENERATE(3u, 10u, 100u);
  // Equal but not 1: only the ratio to the largest weight should matter.
  const uint32_t weight = GENERATE(1u, 7u);
  INFO("backends " << n << " weight " << weight);
  const auto backends = equal_backends(n, weight);
  const auto counts = slot_counts(build_maglev(backends), n);
  const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
  CHECK(*hi - *lo <= 1);
}

TEST_CASE("maglev: unequal weights give proportional shares", "[maglev]") {
  SECTION("weights 1, 2, 3, 4") {
    check_shares_follow_weights(
        {{backend_id(0), 1}, {backend_id(1), 2}, {backend_id(2), 3}, {backend_id(3), 4}});
  }
  SECTION("50 random weights in 1..100") {
    std::mt19937 rng(20240611);
    std::uniform_int_distribution<uint32_t> weight(1, 100);
    std::vector<MaglevBackend> backends;
    for (uint32_t i = 0; i < 50; ++i) backends.push_back({backend_id(i), weight(rng)});
    check_shares_follow_weights(backends);
  }
  SECTION("one heavy backend among light ones") {
    auto backends = equal_backends(20, 1);
    backends[7].weight = 1000;
    check_shares_follow_weights(backends);
  }
}

TEST_CASE("maglev: the largest backend count uses every index below kMaglevEmpty", "[maglev]") {
  const auto backends = equal_backends(65535);
  const MaglevTable table = build_maglev(backends, 65537);
  const auto counts = slot_counts(table, backends.size());
  // 65537 slots over 65535 backends: everyone gets one, two get a second.
  CHECK(*std::min_element(counts.begin(), counts.end()) == 1);
  CHECK(*std::max_element(counts.begin(), counts.end()) == 2);
  CHECK(std::count(counts.begin(), counts.end(), 2u) == 2);
}

TEST_CASE("maglev: the table does not depend on the input order", "[maglev]") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> weight(1, 10);
  std::vector<MaglevBackend> backends;
  for (uint32_t i = 0; i < 100; ++i) backends.push_back({backend_id(i), weight(rng)});
  const MaglevTable reference = build_maglev(backends);

  for (int round = 0; round < 5; ++round) {
    std::shuffle(backends.begin(), backends.end(), rng);
    const MaglevTable shuffled = build_maglev(backends);
    INFO("shuffle " << round);
    REQUIRE(shuffled.size() == reference.size());
    CHECK(changed_fraction(reference, shuffled) == 0.0);
    // Indices must be remapped to the shuffled input, not copied from the sorted order.
    bool ids_agree = true;
    for (uint32_t slot = 0; slot < shuffled.size(); ++slot) {
      ids_agree = ids_agree && backends[shuffled[slot]].id == reference.id_at(slot);
    }
    CHECK(ids_agree);
  }
}

TEST_CASE("maglev: removing one backend moves few other slots", "[maglev]") {
  const uint32_t n = GENERATE(10u, 100u);
  const auto backends = equal_backends(n);
  const MaglevTable before = build_maglev(backends);
  for (uint32_t removed : {0u, 1u, n / 2, n - 1}) {
    auto remaining = backends;
    remaining.erase(remaining.begin() + removed);
    const MaglevTable after = build_maglev(remaining);
    const double moved = changed_fraction(before, after);
    INFO("backends " << n << " removed " << removed << " moved " << moved);
    // The removed backend's own 1/N must move; anything beyond is collateral reshuffling.
    CHECK(moved <= 1.0 / n + 0.01);
    for (uint32_t slot = 0; slot < after.size(); ++slot) {
      if (after.id_at(slot) == backends[removed].id) FAIL("removed backend still owns a slot");
    }
  }
}

TEST_CASE("maglev: weight 0 gets no slot and leaves the table as if absent", "[maglev]") {
  auto backends = equal_backends(10);
  backends[3].weight = 0;
  const MaglevTable table = build_maglev(backends);
  CHECK(slot_counts(table, backends.size())[3] == 0);

  auto without = backends;
  without.erase(without.begin() + 3);
  CHECK(changed_fraction(table, build_maglev(without)) == 0.0);
}

TEST_CASE("maglev: no backend with weight gives an empty table", "[maglev]") {
  SECTION("no backends") {
    const MaglevTable table = build_maglev({}, 7);
    REQUIRE(table.size() == 7);
    CHECK(table.empty());
    CHECK(table.slots() == std::vector<uint16_t>(7, kMaglevEmpty));
    CHECK(table.id_at(0) == UINT64_MAX);
    CHECK(table.pick(12345) == kMaglevEmpty);
  }
  SECTION("all drained") {
    const auto backends = equal_backends(5, 0);
    const MaglevTable table = build_maglev(backends);
    REQUIRE(table.size() == kDefaultMaglevSize);
    CHECK(table.empty());
    CHECK(std::all_of(table.slots().begin(), table.slots().end(),
                      [](uint16_t index) { return index == kMaglevEmpty; }));
  }
}

TEST_CASE("maglev: changed_fraction", "[maglev]") {
  const auto backends = equal_backends(3);
  const MaglevTable a = build_maglev(backends, 7);
  CHECK(changed_fraction(a, a) == 0.0);
  CHECK(changed_fraction(a, build_maglev(backends, 11)) == 1.0);
  CHECK(changed_fraction(a, build_maglev({}, 7)) == 1.0);
}

// Exact assignments on M = 7, checkable by hand. Permutations (offset + j * skip) mod 7 for
// ids 1, 2, 3 with the implementation's seeds:
//   id 1: offset 1, skip 3 → 1 4 0 3 6 2 5
//   id 2: offset 2, skip 1 → 2 3 4 5 6 0 1
//   id 3: offset 2, skip 6 → 2 1 0 6 5 4 3
TEST_CASE("maglev: pinned table for M = 7", "[maglev]") {
  SECTION("equal weights: classic Maglev") {
    // Round 1: id1 → 1, id2 → 2, id3 → (2, 1 taken) 0.
    // Round 2: id1 → 4, id2 → 3, id3 → 6.
    // Round 3: id1 → (0, 3, 6, 2 taken) 5; table full.
    const std::vector<MaglevBackend> backends = {{1, 1}, {2, 1}, {3, 1}};
    const MaglevTable table = build_maglev(backends, 7);
    CHECK(table.slots() == std::vector<uint16_t>{2, 0, 1, 1, 0, 0, 2});
  }
  SECTION("id 1 at twice the weight, input not in id order") {
    // id1 claims every round, id2 and id3 every second round (ceil(k * 2 / 1) = 2k).
    // Round 1: id1 → 1. Round 2: id1 → 4, id2 → 2, id3 → (2, 1 taken) 0.
    // Round 3: id1 → (0 taken) 3. Round 4: id1 → 6, id2 → (3, 4 taken) 5; table full.
    // By id: 3 1 2 1 1 2 1; input indices are id2 = 0, id3 = 1, id1 = 2.
    const std::vector<MaglevBackend> backends = {{2, 1}, {3, 1}, {1, 2}};
    const MaglevTable table = build_maglev(backends, 7);
    CHECK(table.slots() == std::vector<uint16_t>{1, 2, 0, 2, 2, 0, 2});
    CHECK(table.id_at(0) == 3);
    CHECK(table.id_at(1) == 1);
    CHECK(table.id_at(2) == 2);
  }
  SECTION("weights 2, 3, 1: a claim waits for a whole unit of credit") {
    // Max weight 3. Claim rounds ceil(k * 3 / w): id1 2, 3, 5; id2 1, 2, 3, 4; id3 3, 6.
    // Round 1: id2 → 2. Round 2: id1 → 1, id2 → 3. Round 3: id1 → 4, id2 → (4 taken) 5,
    // id3 → (2, 1 taken) 0. Round 4: id2 → 6; table full. Claiming on a fraction of credit
    // (floor instead of ceil) would give id1 slot 6 instead.
    const std::vector<MaglevBackend> backends = {{1, 2}, {2, 3}, {3, 1}};
    const MaglevTable table = build_maglev(backends, 7);
    CHECK(table.slots() == std::vector<uint16_t>{2, 0, 1, 1, 0, 1, 1});
  }
}

// The builder claims in the reference's order by other means (backends in turn with equal
// weights, a calendar of rounds or a heap otherwise, no division per step): every kind of
// weight set, over every table size the project uses.
TEST_CASE("maglev: the table is the reference's, slot for slot", "[maglev]") {
  std::mt19937_64 rng(20261207);
  auto random_ids = [&](uint32_t n) {
    std::vector<MaglevBackend> backends(n);
    for (MaglevBackend& b : backends) b.id = rng();  // distinct in practice; checked below
    std::sort(backends.begin(), backends.end(),
              [](const MaglevBackend& a, const MaglevBackend& b) { return a.id < b.id; });
    REQUIRE(std::adjacent_find(backends.begin(), backends.end(),
                               [](const MaglevBackend& a, const MaglevBackend& b) {
                                 return a.id == b.id;
                               }) == backends.end());
    std::shuffle(backends.begin(), backends.end(), rng);
    return backends;
  };
  auto uniform = [&](uint32_t lo, uint32_t hi) {
    return std::uniform_int_distribution<uint32_t>(lo, hi)(rng);
  };
  // Weight sets, by what they exercise.
  using Weigh = std::function<uint32_t(uint32_t)>;
  const std::vector<std::pair<const char*, Weigh>> weighings = {
      {"all 1", [](uint32_t) { return 1u; }},
      {"all 7", [](uint32_t) { return 7u; }},
      {"1 to 4", [](uint32_t i) { return 1 + i % 4; }},
      {"random 0 to 100", [&](uint32_t) { return uniform(0, 100); }},
      {"random 0 to 3, many drained", [&](uint32_t) { return uniform(0, 3); }},
      {"max / min 62", [](uint32_t i) { return i % 2 ? 62u : 1u; }},
      {"max / min 62.5: claims up to 63 rounds apart",
       [](uint32_t i) { return i % 2 ? 125u : 2u; }},
      {"max / min 63", [](uint32_t i) { return i % 3 ? 63u : 1u; }},
      {"max / min 64", [](uint32_t i) { return i % 2 ? 64u : 1u; }},
      {"max / min 64.5", [](uint32_t i) { return i % 2 ? 129u : 2u; }},
      {"one heavy among light", [](uint32_t i) { return i == 3 ? 1000u : 1u; }},
      {"random 1 to 65535", [&](uint32_t) { return uniform(1, 65535); }},
      {"near 2^32", [&](uint32_t) { return uniform(UINT32_MAX - 8, UINT32_MAX); }},
      {"1 and 2^32 - 1", [](uint32_t i) { return i % 5 ? 1u : UINT32_MAX; }},
  };
  struct Size {
    uint32_t table_size;
    std::vector<uint32_t> counts;
  };
  // 7 pins tables by hand, 251 and 1009 appear in configs, 65537 is the default.
  const std::vector<Size> sizes = {
      {7, {1, 2, 3, 5, 7, 8, 20}},
      {251, {1, 2, 3, 10, 100, 250, 251, 300}},
      {1009, {1, 2, 9, 64, 65, 500, 1000}},
      {kDefaultMaglevSize, {1, 2, 3, 63, 64, 65, 100, 999, 1000}},
  };
  SECTION("random ids, every weight set, every table size") {
    for (const Size& size : sizes) {
      for (const uint32_t n : size.counts) {
        for (const auto& [what, weigh] : weighings) {
          INFO("M " << size.table_size << ", " << n << " backends, weights " << what);
          auto backends = random_ids(n);
          for (uint32_t i = 0; i < n; ++i) backends[i].weight = weigh(i);
          check_matches_reference(backends, size.table_size);
        }
      }
    }
  }
  SECTION("ids shaped like the snapshot's, random backend counts") {
    for (int round = 0; round < 20; ++round) {
      const uint32_t n = uniform(1, 1000);
      const uint32_t max_weight = round % 2 ? 1 : uniform(1, 200);
      std::vector<MaglevBackend> backends;
      for (uint32_t i = 0; i < n; ++i) backends.push_back({backend_id(i), uniform(0, max_weight)});
      std::shuffle(backends.begin(), backends.end(), rng);
      INFO("round " << round << ", " << n << " backends, weights up to " << max_weight);
      check_matches_reference(backends, kDefaultMaglevSize);
    }
  }
}

// Weighted Maglev: coverage, balance, weight shares, order independence, disruption on
// removal, and exact pinned assignments on a tiny prime table.
#include <catch2/catch.hpp>

#include "dataplane/scheduler/maglev.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
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

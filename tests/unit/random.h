// Seeded randomness for the property tests: a failing case names its seed and iteration, and
// the same seed replays the same cases.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace shoal::test {

class Random {
 public:
  explicit Random(uint32_t seed) : rng_(seed) {}

  uint32_t uniform(uint32_t lo, uint32_t hi) {
    return std::uniform_int_distribution<uint32_t>(lo, hi)(rng_);
  }
  bool chance(uint32_t one_in) { return uniform(0, one_in - 1) == 0; }
  std::vector<uint8_t> bytes(std::size_t n) {
    std::vector<uint8_t> b(n);
    for (auto& x : b) x = static_cast<uint8_t>(uniform(0, 0xff));
    return b;
  }

 private:
  std::mt19937 rng_;
};

}  // namespace shoal::test

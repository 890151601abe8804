// Loads and stores of packet fields at any alignment: frames sit at 2-byte boundaries behind
// their Ethernet header, so fields are copied rather than dereferenced (memcpy of a constant
// size compiles to a single move).
#pragma once

#include <cstdint>
#include <cstring>

namespace shoal::dp {

template <typename T>
inline T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
inline void store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace shoal::dp

// An IPv6 address as it sits in the packet (network byte order): compared, hashed and copied
// as 16 bytes, never swapped. Every layer that carries one (parser, flow keys, snapshot,
// control plane) uses this type.
#pragma once

#include <rte_hash_crc.h>

#include <array>
#include <cstdint>
#include <cstring>

namespace shoal::dp {

using Ipv6Address = std::array<uint8_t, 16>;

// CRC32 of an address, over two 8-byte words copied out of it: the array has no alignment, and
// rte_hash_crc() over its bytes would load misaligned words.
inline uint32_t ipv6_crc(const Ipv6Address& a, uint32_t seed) {
  uint64_t words[2];
  std::memcpy(words, a.data(), sizeof words);
  return rte_hash_crc_8byte(words[1], rte_hash_crc_8byte(words[0], seed));
}

}  // namespace shoal::dp

// Internet checksum helpers. Rewrites use incremental updates (RFC 1624, eqn. 3:
// HC' = ~(~HC + ~m + m')), which cost a few adds whatever the packet length; headers the
// dataplane builds from scratch use DPDK's rte_ipv4_cksum.
//
// All values are taken exactly as they sit in the packet (network byte order): the one's
// complement sum is byte-order independent as long as every operand has the same order.
#pragma once

#include <cstdint>

#include "dataplane/bytes.h"

namespace shoal::dp {

inline uint16_t csum_fold(uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// Checksum after one 16-bit word of the covered data changed from `from` to `to`.
inline uint16_t csum_replace16(uint16_t csum, uint16_t from, uint16_t to) {
  uint32_t sum = static_cast<uint16_t>(~csum);
  sum += static_cast<uint16_t>(~from);
  sum += to;
  return static_cast<uint16_t>(~csum_fold(sum));
}

// Checksum after one 32-bit field (an address) changed from `from` to `to`.
inline uint16_t csum_replace32(uint16_t csum, uint32_t from, uint32_t to) {
  uint32_t sum = static_cast<uint16_t>(~csum);
  sum += static_cast<uint16_t>(~from) + static_cast<uint16_t>(~(from >> 16));
  sum += (to & 0xffff) + (to >> 16);
  return static_cast<uint16_t>(~csum_fold(sum));
}

// Checksum after one 16-byte field (an IPv6 address) changed from `from` to `to`.
inline uint16_t csum_replace128(uint16_t csum, const uint8_t* from, const uint8_t* to) {
  uint32_t sum = static_cast<uint16_t>(~csum);
  for (int i = 0; i < 16; i += 2) {
    sum += static_cast<uint16_t>(~load<uint16_t>(from + i));
    sum += load<uint16_t>(to + i);
  }
  return static_cast<uint16_t>(~csum_fold(sum));
}

// UDP uses 0 for "no checksum", so a computed 0 is sent as 0xffff (RFC 768; over IPv6, where
// 0 is not allowed at all, the same rule: RFC 8200 8.1).
inline uint16_t udp_csum_nonzero(uint16_t csum) { return csum == 0 ? 0xffff : csum; }

}  // namespace shoal::dp

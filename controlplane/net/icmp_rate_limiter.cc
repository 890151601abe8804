#include "net/icmp_rate_limiter.h"

#include <algorithm>
#include <cstdint>

namespace shoal::cp {

IcmpRateLimiter::IcmpRateLimiter(IcmpRateLimit limit, uint32_t now_ms)
    : limit_(limit), credit_(uint64_t{limit.burst} * kMilli), last_ms_(now_ms) {}

bool IcmpRateLimiter::allow(uint32_t now_ms) {
  uint32_t elapsed = now_ms - last_ms_;  // right across the clock's wrap
  // A clock that went back (more than half its range "ahead") adds nothing; the cap keeps
  // elapsed × rate within 64 bits.
  if (elapsed > INT32_MAX) elapsed = 0;
  last_ms_ = now_ms;
  // per_second tokens a second are per_second thousandths of a token a millisecond.
  credit_ =
      std::min(uint64_t{limit_.burst} * kMilli, credit_ + uint64_t{elapsed} * limit_.per_second);
  if (credit_ < kMilli) return false;
  credit_ -= kMilli;
  return true;
}

}  // namespace shoal::cp

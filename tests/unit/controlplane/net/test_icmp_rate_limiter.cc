// The token bucket that bounds the ICMP errors the control plane originates, under a fake
// clock.
#include <catch2/catch.hpp>

#include "net/icmp_rate_limiter.h"

using shoal::cp::IcmpRateLimit;
using shoal::cp::IcmpRateLimiter;

namespace {

int allowed(IcmpRateLimiter& limiter, uint32_t now_ms, int tries) {
  int n = 0;
  for (int i = 0; i < tries; ++i) n += limiter.allow(now_ms) ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("ICMP rate limit: a burst, then the rate", "[control][icmpv6]") {
  IcmpRateLimiter limiter({.per_second = 2, .burst = 3}, 1000);
  CHECK(allowed(limiter, 1000, 5) == 3);  // starts full
  CHECK_FALSE(limiter.allow(1499));        // 0.998 of a token
  CHECK(limiter.allow(1500));              // one token every 500 ms
  CHECK_FALSE(limiter.allow(1500));
  CHECK(allowed(limiter, 2500, 5) == 2);
  CHECK(allowed(limiter, 60'000, 10) == 3);  // a long quiet spell refills to the burst only
}

TEST_CASE("ICMP rate limit: the defaults", "[control][icmpv6]") {
  IcmpRateLimiter limiter;
  CHECK(IcmpRateLimit{}.per_second == 1000);
  CHECK(IcmpRateLimit{}.burst == 50);
  CHECK(allowed(limiter, 0, 100) == 50);
  CHECK(allowed(limiter, 10, 100) == 10);  // one a millisecond
  uint32_t sent = 0;
  for (uint32_t ms = 11; ms <= 1010; ++ms) sent += static_cast<uint32_t>(allowed(limiter, ms, 3));
  CHECK(sent == 1000);
}

TEST_CASE("ICMP rate limit: across the clock's wrap, and a clock that goes back",
          "[control][icmpv6]") {
  IcmpRateLimiter limiter({.per_second = 1000, .burst = 2}, 0xffff'fff0);
  CHECK(allowed(limiter, 0xffff'fff0, 3) == 2);
  CHECK(allowed(limiter, 0x0000'0000, 3) == 2);  // 16 ms later, capped at the burst
  CHECK(allowed(limiter, 0x0000'0001, 3) == 1);
  CHECK(allowed(limiter, 0xffff'0000, 3) == 0);  // went back: nothing added
  CHECK(allowed(limiter, 0xffff'0001, 3) == 1);

  IcmpRateLimiter closed({.per_second = 0, .burst = 0});
  CHECK(allowed(closed, 1'000'000, 3) == 0);
}

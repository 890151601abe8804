// The rate limit on the ICMP errors the control plane originates (RFC 4443 §2.4(f) asks it of
// ICMPv6; RFC 1812 §4.3.2.8 of ICMP): a token bucket, so that a burst of packets we cannot
// forward is answered at a bounded rate and neither the control lcore nor the link is
// spent on errors. Pure: time comes in as an argument, so it runs under a fake clock in tests.
#pragma once

#include <cstdint>

namespace shoal::cp {

// The defaults are Linux's global ICMP limit (net.ipv4.icmp_msgs_per_sec and
// icmp_msgs_burst, which cover its ICMPv6 too): the errors a host or router would send, and
// enough for path MTU discovery by many clients of a TUN service at once.
struct IcmpRateLimit {
  uint32_t per_second = 1000;  // tokens added each second
  uint32_t burst = 50;         // tokens the bucket holds; it starts full
};

class IcmpRateLimiter {
 public:
  explicit IcmpRateLimiter(IcmpRateLimit limit = {}, uint32_t now_ms = 0);

  // Takes a token for one error at `now_ms` (any millisecond clock that wraps like
  // dp::now_ms); false when there is none: drop the error and count it.
  bool allow(uint32_t now_ms);

 private:
  static constexpr uint64_t kMilli = 1000;  // the bucket counts thousandths of a token

  IcmpRateLimit limit_;
  uint64_t credit_;  // thousandths of a token
  uint32_t last_ms_;
};

}  // namespace shoal::cp

// The per-backend rise/fall state machine, the clock it and the scheduler run on, and the
// verdict one check produces. Pure: no I/O, no threads, so that it runs under a fake clock in
// unit tests.
//
// Flapping needs no damping of its own: a backend flips only after `rise` consecutive passes
// (down → up) or `fall` consecutive failures (up → down), so a server alternating pass and
// fail never flips once rise and fall are both at least 2.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::hc {

using TimePoint = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
};

// What one check found.
struct Verdict {
  bool pass = false;
  std::string detail;              // "http status 503", "tcp connect refused", "exit status 1"
  std::optional<uint32_t> weight;  // exec with weight_from_output, on a pass
  uint64_t bytes = 0;              // response bytes taken in (http body, udp reply, exec stdout)
  std::chrono::microseconds elapsed{0};  // from the probe's start to its verdict
};

class HealthState {
 public:
  HealthState(uint32_t rise, uint32_t fall, bool initial_up);

  // Counts one verdict. If the state flips, returns the reason: the verdict's detail and the
  // count that tipped it, "http status 503 (3/3)"; a first pass of a target that started down
  // reads "tcp connect ok (first check)".
  std::optional<std::string> record(bool pass, std::string_view detail);

  // New thresholds (a reload): the counts carry on; a backend already past the new threshold
  // flips at its next verdict that agrees.
  void set_thresholds(uint32_t rise, uint32_t fall);
  // For type none: up, counts cleared. Returns true if it was down.
  bool force_up();

  bool up() const { return up_; }
  uint32_t passes() const { return passes_; }      // consecutive
  uint32_t failures() const { return failures_; }  // consecutive
  uint64_t checks() const { return checks_; }
  uint32_t rise() const { return rise_; }
  uint32_t fall() const { return fall_; }

 private:
  uint32_t rise_;
  uint32_t fall_;
  bool up_;
  bool first_ = true;  // no verdict yet: a first pass brings a target that started down up
  uint32_t passes_ = 0;
  uint32_t failures_ = 0;
  uint64_t checks_ = 0;
};

}  // namespace shoal::hc

// The health-check thread: one event loop (epoll) that probes every real server — TCP
// connects, HTTP(S) GETs through libcurl's multi interface driven by the same loop, UDP
// request/reply, commands run with posix_spawn and watched through pidfds — and turns the
// verdicts into up/down transitions for the control loop.
//
// Nothing a server does can stall the loop: every socket is non-blocking, every probe has a
// deadline (its timeout) after which it fails and its resources are released (a command's
// whole process group is killed), and an HTTP body is read only up to the check's read_limit
// — past it the transfer is aborted, so memory never grows beyond the limit.
//
// Threads: set_targets(), take_transitions(), last_result() and stats() may be called from
// any thread (the control loop); the probes run on the checker's own thread, which blocks
// every asynchronous signal so that the daemon's handlers run elsewhere. Commands are reaped
// by pid: the process must not set SIGCHLD to SIG_IGN (their exit status would be lost).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "healthcheck/check_spec.h"
#include "healthcheck/health_state.h"
#include "healthcheck/monitor.h"

namespace shoal::hc {

struct CheckerOptions {
  // Probes running at once; more due ones wait their turn. 0: from the open-file limit (each
  // probe holds at most three descriptors).
  size_t max_in_flight = 0;
  // Raise the soft open-file limit to the hard one at start: 10,000 targets checked with
  // spread 0 want 10,000 sockets at once.
  bool raise_fd_limit = true;
  // Bytes of an exec check's stdout (and, separately, stderr) kept; the rest is read and
  // dropped so that the command never blocks on a full pipe.
  size_t exec_output_limit = 4096;
};

struct CheckerStats {
  uint64_t probes_started = 0;
  uint64_t passed = 0;
  uint64_t failed = 0;
  uint64_t timed_out = 0;  // also counted in failed
  uint64_t cancelled = 0;  // probes of targets removed or changed while in flight
  size_t in_flight = 0;
  size_t targets = 0;
};

class HealthChecker {
 public:
  // Starts the thread (with no targets). Throws std::runtime_error if the loop cannot be set
  // up (epoll, eventfd, libcurl).
  explicit HealthChecker(CheckerOptions options = {});
  // Stops the thread; commands still running are killed and reaped.
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // The whole target list, at start and on every reload (see Monitor::set_targets): targets
  // that remain keep their state and schedule, new ones start in their initial state,
  // removed ones stop. When it returns, last_result() already reflects the new list.
  void set_targets(std::vector<Target> targets);

  // Transitions since the last call, oldest first.
  std::vector<Transition> take_transitions();

  // A target's state and last verdict, or nullopt if it is not a target.
  std::optional<TargetStatus> last_result(const TargetKey& key) const;

  CheckerStats stats() const;

 private:
  class Loop;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
};

}  // namespace shoal::hc

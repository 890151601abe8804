// Fires the operator's notify commands on events the control loop sees (a VRRP transition, a
// real server going up or down, and whatever else wants one: service quorum, say), in the
// background through a CommandRunner, and counts how each run ended for /metrics.
//
// For a new kind of event, the caller keeps its Command in the config (parsed with
// parse_command(), so that a bad one is refused with its line) and calls
//
//   notifier.fire(command, {"ARG", ...}, {"SHOAL_EVENT=quorum_down", ...}, "quorum_down of web");
//
// `args` are appended to the command's own words (keepalived's generic `notify` gets
// "INSTANCE|GROUP name state priority" this way), `env` ("NAME=value") is added to the
// director's environment, and `what` names the event in the log. An empty command does
// nothing and is not counted. fire() never blocks: at worst the run is dropped (too many
// running), logged and counted as such.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "notify/command.h"
#include "notify/runner.h"

namespace shoal::cp::notify {

inline constexpr uint32_t kDefaultTimeoutMs = 10 * 1000;

// A monotonic clock in milliseconds, for deadlines that must not jump.
uint64_t now_ms();

class Notifier {
 public:
  Notifier() = default;

  // The `notify:` section: how long a command may run, how many may run at once.
  void configure(uint32_t timeout_ms, std::size_t max_running) {
    timeout_ms_ = timeout_ms;
    runner_.set_max_running(max_running);
  }

  void fire(const Command& command, std::vector<std::string> args, std::vector<std::string> env,
            std::string_view what);

  // From the control loop, every iteration: cheap when nothing runs.
  void poll() { runner_.poll(now_ms()); }

  // Tracked scripts run through the same runner (and the same cap on running commands).
  CommandRunner& runner() { return runner_; }
  uint32_t timeout_ms() const { return timeout_ms_; }

  // Runs fired so far, by how they ended (Outcome order).
  const std::array<uint64_t, kOutcomeCount>& runs() const { return runs_; }

 private:
  CommandRunner runner_;
  uint32_t timeout_ms_ = kDefaultTimeoutMs;
  std::array<uint64_t, kOutcomeCount> runs_{};
};

}  // namespace shoal::cp::notify

// What shoald tells the service manager (systemd, Type=notify) through sd_notify(3): ready once
// the ports are up and the first Snapshot is published, reloading and ready again around a
// reload, stopping when the stop begins, a one-line status, and the watchdog's keep-alive pings.
//
// The control loop owns it (cp only): the watchdog pings come from that loop, so a loop that
// hangs misses them and systemd restarts shoald. Without NOTIFY_SOCKET in the environment every
// call returns at once, with no syscall.
#pragma once

#include <chrono>
#include <string>
#include <utility>

namespace shoal::cp {

class ServiceManager {
 public:
  using Clock = std::chrono::steady_clock;

  // The status line is looked at, and sent when it changed, at most this often.
  static constexpr std::chrono::seconds kStatusInterval{1};

  // Reads NOTIFY_SOCKET and the watchdog's settings (WATCHDOG_USEC, WATCHDOG_PID).
  ServiceManager();

  // Whether there is a service manager to tell; false: every call below does nothing.
  bool active() const { return active_; }
  // The watchdog's interval; zero when the service manager does not watch this process.
  std::chrono::microseconds watchdog_interval() const { return watchdog_; }

  // Start-up done, or a reload over (applied or refused): READY=1 with the status line.
  void ready(const std::string& status);
  // A reload begins (RELOADING=1 with MONOTONIC_USEC); ready() ends it.
  void reloading();
  // The stop begins.
  void stopping();

  // Every turn of the control loop: the watchdog's ping once half its interval has passed,
  // and, once per kStatusInterval, the status line `make_status()` builds, sent if it
  // changed. Cheap when neither is due; one branch when inactive.
  template <typename MakeStatus>
  void tick(MakeStatus&& make_status) {
    if (active_) tick(std::forward<MakeStatus>(make_status), Clock::now());
  }
  template <typename MakeStatus>
  void tick(MakeStatus&& make_status, Clock::time_point now) {
    if (!active_) return;
    if (watchdog_.count() > 0 && now >= next_ping_) ping(now);
    if (now - status_checked_at_ >= kStatusInterval) {
      status_checked_at_ = now;
      status(std::forward<MakeStatus>(make_status)());
    }
  }

 private:
  void ping(Clock::time_point now);
  void status(const std::string& line);
  void notify(const std::string& message);

  bool active_ = false;
  std::chrono::microseconds watchdog_{0};
  Clock::time_point next_ping_{};
  std::string status_;  // the line the service manager was last given
  Clock::time_point status_checked_at_{};
  bool failure_logged_ = false;  // a failing sd_notify is logged once, not every ping
};

}  // namespace shoal::cp

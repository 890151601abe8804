#include "daemon/service_manager.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <cstring>
#include <ctime>

namespace shoal::cp {
namespace {

// CLOCK_MONOTONIC in µs: the clock systemd compares a reload's MONOTONIC_USEC with.
uint64_t monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace

ServiceManager::ServiceManager() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  active_ = socket != nullptr && *socket != '\0';
  if (!active_) return;
  // The environment stays as it is: sd_notify reads NOTIFY_SOCKET on every call. Children (exec
  // health checks) inherit it, but NotifyAccess=main ignores what they might send.
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0) watchdog_ = std::chrono::microseconds(usec);
}

void ServiceManager::notify(const std::string& message) {
  const int rc = sd_notify(0, message.c_str());
  if (rc >= 0) {
    failure_logged_ = false;
    return;
  }
  if (failure_logged_) return;
  failure_logged_ = true;
  const std::string first_line = message.substr(0, message.find('\n'));
  spdlog::error("cannot notify the service manager ({}): {}", first_line, std::strerror(-rc));
}

void ServiceManager::ready(const std::string& status) {
  if (!active_) return;
  status_ = status;
  status_checked_at_ = Clock::now();
  notify("READY=1\nSTATUS=" + status);
}

void ServiceManager::reloading() {
  if (!active_) return;
  notify(fmt::format("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
}

void ServiceManager::stopping() {
  if (!active_) return;
  notify("STOPPING=1");
}

void ServiceManager::ping(Clock::time_point now) {
  next_ping_ = now + watchdog_ / 2;
  notify("WATCHDOG=1");
}

void ServiceManager::status(const std::string& line) {
  if (line == status_) return;
  status_ = line;
  notify("STATUS=" + line);
}

}  // namespace shoal::cp

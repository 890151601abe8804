// What shoald tells systemd (controlplane/daemon/service_manager.cc), received on a real
// AF_UNIX datagram socket named by NOTIFY_SOCKET, as systemd's would: READY=1 with the status,
// RELOADING=1 with MONOTONIC_USEC, STOPPING=1, a status line only when it changed and looked at
// once a second, and WATCHDOG=1 every half of WATCHDOG_USEC — nothing at all without
// NOTIFY_SOCKET.
#include <catch2/catch.hpp>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>

#include "daemon/service_manager.h"

using namespace std::chrono_literals;
using shoal::cp::ServiceManager;

namespace {

// The service manager's end: a bound datagram socket, and the environment that names it.
struct NotifySocket {
  std::string path = "/tmp/shoal-notify-" + std::to_string(::getpid());
  int fd = -1;

  explicit NotifySocket(const std::optional<std::string>& watchdog_pid = std::nullopt) {
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ::unlink(path.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
    ::setenv("WATCHDOG_USEC", "1000000", 1);
    if (watchdog_pid) ::setenv("WATCHDOG_PID", watchdog_pid->c_str(), 1);
  }
  ~NotifySocket() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    ::close(fd);
    ::unlink(path.c_str());
  }

  // The next message, or "" if none is waiting (sd_notify has sent it before returning).
  std::string next() {
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) {
      REQUIRE((errno == EAGAIN || errno == EWOULDBLOCK));
      return "";
    }
    return std::string(buf, static_cast<std::size_t>(n));
  }
};

uint64_t monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace

TEST_CASE("service manager: lifecycle, status and watchdog", "[service_manager]") {
  NotifySocket systemd(std::to_string(::getpid()));
  ServiceManager sm;
  REQUIRE(sm.active());
  CHECK(sm.watchdog_interval() == 1s);

  sm.ready("2 service(s), 6/6 backend(s) up");
  CHECK(systemd.next() == "READY=1\nSTATUS=2 service(s), 6/6 backend(s) up");

  int built = 0;
  std::string status = "2 service(s), 6/6 backend(s) up";
  const auto make = [&] {
    ++built;
    return status;
  };
  const auto t0 = ServiceManager::Clock::now();
  sm.tick(make, t0);  // the first ping at once; the status was just given with READY=1
  CHECK(systemd.next() == "WATCHDOG=1");
  CHECK(systemd.next().empty());
  CHECK(built == 0);
  sm.tick(make, t0 + 499ms);
  CHECK(systemd.next().empty());
  sm.tick(make, t0 + 500ms);
  CHECK(systemd.next() == "WATCHDOG=1");
  sm.tick(make, t0 + 999ms);
  CHECK(systemd.next().empty());

  // Looked at once a second, sent only when it changed.
  sm.tick(make, t0 + 1000ms);
  CHECK(systemd.next() == "WATCHDOG=1");
  CHECK(built == 1);
  CHECK(systemd.next().empty());
  status = "2 service(s), 5/6 backend(s) up";
  sm.tick(make, t0 + 1200ms);
  CHECK(built == 1);
  CHECK(systemd.next().empty());
  sm.tick(make, t0 + 2000ms);
  CHECK(built == 2);
  CHECK(systemd.next() == "WATCHDOG=1");
  CHECK(systemd.next() == "STATUS=2 service(s), 5/6 backend(s) up");
  CHECK(systemd.next().empty());

  const uint64_t before = monotonic_usec();
  sm.reloading();
  const uint64_t after = monotonic_usec();
  const std::string reloading = systemd.next();
  const std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
  REQUIRE(reloading.rfind(prefix, 0) == 0);
  const uint64_t usec = std::stoull(reloading.substr(prefix.size()));
  CHECK(before <= usec);
  CHECK(usec <= after);
  sm.ready("1 service(s), 3/3 backend(s) up");
  CHECK(systemd.next() == "READY=1\nSTATUS=1 service(s), 3/3 backend(s) up");

  sm.stopping();
  CHECK(systemd.next() == "STOPPING=1");
  CHECK(systemd.next().empty());
}

TEST_CASE("service manager: a watchdog for another process is not ours", "[service_manager]") {
  NotifySocket systemd(std::to_string(::getpid() + 1));
  ServiceManager sm;
  CHECK(sm.active());
  CHECK(sm.watchdog_interval() == 0us);
  sm.tick([] { return std::string("s"); }, ServiceManager::Clock::now() + 10s);
  CHECK(systemd.next() == "STATUS=s");
  CHECK(systemd.next().empty());
}

TEST_CASE("service manager: without NOTIFY_SOCKET nothing is sent", "[service_manager]") {
  NotifySocket systemd;
  ::unsetenv("NOTIFY_SOCKET");
  ServiceManager sm;
  CHECK_FALSE(sm.active());
  CHECK(sm.watchdog_interval() == 0us);
  bool built = false;
  sm.ready("s");
  sm.reloading();
  sm.tick([&] {
    built = true;
    return std::string("t");
  }, ServiceManager::Clock::now() + 10s);
  sm.stopping();
  CHECK_FALSE(built);
  CHECK(systemd.next().empty());
}

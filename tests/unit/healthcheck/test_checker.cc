// The health checker against real servers on the loopback started by the test
// (healthcheck/checker.*): TCP listeners (open, closed, one whose queue is full), a small
// HTTP server that answers any status, hangs, resets or streams 100 MB, UDP echo and silent
// sockets, and commands. Each gives its verdict within its timeout plus slack; a hung server
// or a 100 MB body never delays a concurrent fast check; a body is read only up to
// read_limit. The tcp, http, udp and exec checks run over 127.0.0.1 and over ::1 alike.
// Traffic goes to the loopback only.
#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "healthcheck/checker.h"
#include "healthcheck/loopback.h"

using shoal::hc::CheckType;
using shoal::hc::HealthChecker;
using shoal::hc::Millis;
using shoal::hc::StatusRange;
using shoal::hc::Target;
using shoal::hc::TargetKey;
using shoal::hc::TargetStatus;
using shoal::hc::Transition;
using shoal::test::bound_port;
using shoal::test::bound_socket;
using shoal::test::Family;
using shoal::test::loopback;
using shoal::test::loopback_address;
using Steady = std::chrono::steady_clock;

namespace {

constexpr uint64_t kBigBody = 100ull << 20;  // the "100 MB" body
// Upper bounds on when a verdict comes leave this much room for a loaded machine (the suite
// shares two cores with builds, benchmarks and labs).
constexpr long kSlack = 400;

// A port nothing listens on (bound, then closed).
uint16_t closed_port(Family family, int type) {
  const int fd = bound_socket(family, type);
  const uint16_t port = bound_port(fd);
  ::close(fd);
  return port;
}

// Becomes readable once stop() is called: every server thread polls it with its socket.
class StopSignal {
 public:
  StopSignal() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~StopSignal() { ::close(fd_); }
  void stop() {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
  }
  // Waits for `events` on `fd`; false if stopped or after `timeout_ms`.
  bool wait(int fd, short events, int timeout_ms = 5000) const {
    pollfd p[2] = {{fd, events, 0}, {fd_, POLLIN, 0}};
    if (::poll(p, 2, timeout_ms) <= 0) return false;
    return !(p[1].revents & POLLIN) && (p[0].revents & (events | POLLHUP | POLLERR));
  }

 private:
  int fd_;
};

// An HTTP/1.1 server on the loopback, one thread per connection. Paths:
//   /ok (or anything else)  200, body "hello healthy host=<Host header>"
//   /status/NNN             status NNN
//   /toggle                 the status in `toggle_status`
//   /hang                   reads the request, then never answers
//   /reset                  reads the request, then resets the connection
//   /big                    200 with a 100 MB body, sent as fast as the client reads
// With `accept_only`, connections are accepted and closed at once (a plain TCP service).
class HttpServer {
 public:
  explicit HttpServer(Family family, bool accept_only = false) : accept_only_(accept_only) {
    fd_ = bound_socket(family, SOCK_STREAM);
    REQUIRE(::listen(fd_, 1024) == 0);
    port_ = bound_port(fd_);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~HttpServer() {
    stop_.stop();
    acceptor_.join();
    std::lock_guard lock(mutex_);
    for (std::thread& t : handlers_) t.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

  std::atomic<uint64_t> big_sent{0};
  std::atomic<int> toggle_status{200};
  std::atomic<int> accepted{0};

 private:
  void accept_loop() {
    while (stop_.wait(fd_, POLLIN, -1)) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++accepted;
      if (accept_only_) {
        ::close(c);
        continue;
      }
      std::lock_guard lock(mutex_);
      handlers_.emplace_back([this, c] {
        serve(c);
        ::close(c);
      });
    }
  }

  void send_all(int c, const std::string& data) {
    size_t off = 0;
    while (off < data.size() && stop_.wait(c, POLLOUT)) {
      const ssize_t n = ::send(c, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

  void respond(int c, int status, const std::string& body) {
    send_all(c, "HTTP/1.1 " + std::to_string(status) + " Whatever\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  }

  void serve(int c) {
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
      if (!stop_.wait(c, POLLIN)) return;
      const ssize_t n = ::recv(c, buffer, sizeof buffer, 0);
      if (n <= 0) return;
      request.append(buffer, static_cast<size_t>(n));
    }
    const size_t sp1 = request.find(' ');
    const size_t sp2 = request.find(' ', sp1 + 1);
    const std::string path = request.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string host;
    if (size_t h = request.find("\r\nHost: "); h != std::string::npos)
      host = request.substr(h + 8, request.find("\r\n", h + 8) - h - 8);

    if (path == "/hang") {
      while (stop_.wait(c, POLLIN)) {
        if (::recv(c, buffer, sizeof buffer, 0) <= 0) return;  // the client gave up
      }
    } else if (path == "/reset") {
      const linger reset{1, 0};
      ::setsockopt(c, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    } else if (path == "/big") {
      send_all(c, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kBigBody) +
                      "\r\nConnection: close\r\n\r\n");
      const std::string chunk(65536, 'x');
      uint64_t sent = 0;
      while (sent < kBigBody && stop_.wait(c, POLLOUT)) {
        const ssize_t n = ::send(c, chunk.data(), chunk.size(), MSG_NOSIGNAL);
        if (n <= 0) return;
        sent += static_cast<uint64_t>(n);
        big_sent += static_cast<uint64_t>(n);
      }
    } else if (path.rfind("/status/", 0) == 0) {
      respond(c, std::stoi(path.substr(8)), "status " + path.substr(8));
    } else if (path == "/toggle") {
      respond(c, toggle_status.load(), "toggle");
    } else {
      respond(c, 200, "hello healthy host=" + host);
    }
  }

  bool accept_only_;
  int fd_ = -1;
  uint16_t port_ = 0;
  StopSignal stop_;
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> handlers_;
};

// A UDP socket on the loopback that echoes every datagram, or (silent) never answers.
class UdpServer {
 public:
  UdpServer(Family family, bool echo) : echo_(echo) {
    fd_ = bound_socket(family, SOCK_DGRAM);
    port_ = bound_port(fd_);
    thread_ = std::thread([this] { loop(); });
  }
  ~UdpServer() {
    stop_.stop();
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  void loop() {
    char buffer[65536];
    while (stop_.wait(fd_, POLLIN, -1)) {
      sockaddr_storage from{};
      socklen_t len = sizeof from;
      const ssize_t n =
          ::recvfrom(fd_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n >= 0 && echo_)
        ::sendto(fd_, buffer, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }

  bool echo_;
  int fd_ = -1;
  uint16_t port_ = 0;
  StopSignal stop_;
  std::thread thread_;
};

// A target on the loopback checked at once (spread 0), flipping on one verdict
// (rise = fall = 1).
Target make(Family family, const std::string& name, CheckType type, uint16_t port,
            uint32_t interval_ms = 1000, uint32_t timeout_ms = 300) {
  Target t;
  t.key = TargetKey{"t", name};
  t.address = loopback(family);
  t.port = port;
  t.spec.type = type;
  t.spec.interval_ms = interval_ms;
  t.spec.timeout_ms = timeout_ms;
  t.spec.spread = 0;
  t.spec.rise = 1;
  t.spec.fall = 1;
  return t;
}

Target http(Family family, const std::string& name, uint16_t port, const std::string& path) {
  Target t = make(family, name, CheckType::http, port);
  t.spec.path = path;
  return t;
}

Target exec(const std::string& name, std::vector<std::string> argv, uint32_t timeout_ms = 300) {
  Target t = make(Family::v4, name, CheckType::exec, 8080, 1000, timeout_ms);
  t.spec.command = std::move(argv);
  return t;
}

Target shell(const std::string& name, const std::string& script, uint32_t timeout_ms = 300) {
  return exec(name, {"/bin/sh", "-c", script}, timeout_ms);
}

TargetKey key(const std::string& name) {
  return TargetKey{"t", name};
}

// Polls until `pred` holds for the target's status; returns the status then, or the last one
// seen (which the caller's checks then show) once `limit` has passed.
TargetStatus wait_for(const HealthChecker& c, const std::string& name,
                      const std::function<bool(const TargetStatus&)>& pred,
                      Millis limit = Millis(3000)) {
  const auto deadline = Steady::now() + limit;
  std::optional<TargetStatus> s;
  for (;;) {
    s = c.last_result(key(name));
    if (s && pred(*s)) return *s;
    if (Steady::now() > deadline) break;
    std::this_thread::sleep_for(Millis(2));
  }
  REQUIRE(s);
  return *s;
}

TargetStatus first_verdict(const HealthChecker& c, const std::string& name,
                           Millis limit = Millis(3000)) {
  const TargetStatus s = wait_for(c, name, [](const TargetStatus& st) { return st.checks > 0; },
                                  limit);
  REQUIRE(s.last);
  return s;
}

long ms(std::chrono::microseconds us) {
  return static_cast<long>(us.count() / 1000);
}

}  // namespace

TEST_CASE("health checker: tcp connects", "[health]") {
  const Family family = GENERATE(Family::v4, Family::v6);
  INFO(to_string(family));
  HttpServer open(family, /*accept_only=*/true);
  // A listener whose accept queue is full (backlog 0, one connection queued, never accepted):
  // further SYNs are dropped, so a connect neither succeeds nor fails.
  const int full = bound_socket(family, SOCK_STREAM);
  REQUIRE(::listen(full, 0) == 0);
  const auto to_full = loopback_address(family, bound_port(full));
  const int filler = ::socket(to_full.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(::connect(filler, to_full.get(), to_full.length) == 0);

  HealthChecker checker;
  checker.set_targets({make(family, "open", CheckType::tcp, open.port()),
                       make(family, "closed", CheckType::tcp, closed_port(family, SOCK_STREAM)),
                       make(family, "full", CheckType::tcp, bound_port(full))});

  const TargetStatus o = wait_for(checker, "open", [](const TargetStatus& s) { return s.up; });
  CHECK(o.up);
  REQUIRE(o.last);
  CHECK(o.last->pass);
  CHECK(o.last->detail == "tcp connect ok");
  CHECK(o.reason == "tcp connect ok (first check)");

  const TargetStatus c = first_verdict(checker, "closed");
  CHECK_FALSE(c.up);
  CHECK(c.last->detail == "tcp connect refused");
  CHECK(ms(c.last->elapsed) < 300);  // refused at once, not timed out

  const TargetStatus f = first_verdict(checker, "full");
  CHECK_FALSE(f.up);
  CHECK(f.last->detail == "tcp timeout after 300 ms");
  CHECK(ms(f.last->elapsed) >= 295);
  CHECK(ms(f.last->elapsed) < 300 + kSlack);

  checker.set_targets({});
  ::close(filler);
  ::close(full);
}

TEST_CASE("health checker: http statuses, expected ranges, body match and Host header",
          "[health]") {
  const Family family = GENERATE(Family::v4, Family::v6);
  INFO(to_string(family));
  HttpServer server(family);
  const uint16_t port = server.port();
  std::vector<Target> targets = {
      http(family, "ok", port, "/ok"),
      http(family, "503", port, "/status/503"),
      http(family, "301", port, "/status/301"),  // within the default 200-399
      http(family, "expect-503", port, "/status/503"),
      http(family, "expect-list", port, "/status/204"),
      http(family, "body-hit", port, "/ok"),
      http(family, "body-miss", port, "/ok"),
      http(family, "host", port, "/ok"),  // the name in the URL, the address by CONNECT_TO
      http(family, "address-host", port, "/ok"),
      http(family, "refused", closed_port(family, SOCK_STREAM), "/"),
  };
  targets[3].spec.expect_status = {StatusRange{503, 503}};
  targets[4].spec.expect_status = {StatusRange{200, 200}, StatusRange{204, 206}};
  targets[5].spec.body = "hello healthy";
  targets[6].spec.body = "nope";
  targets[7].spec.host = "example.test";
  targets[7].spec.body = "host=example.test:" + std::to_string(port);
  // No host configured: the URL holds the address, and so does the Host header.
  targets[8].spec.body = "host=" + endpoint(loopback(family), port);

  HealthChecker checker;
  checker.set_targets(targets);
  const struct {
    const char* name;
    bool pass;
    std::string detail;
  } expected[] = {
      {"ok", true, "http status 200"},
      {"503", false, "http status 503"},
      {"301", true, "http status 301"},
      {"expect-503", true, "http status 503"},
      {"expect-list", true, "http status 204"},
      {"body-hit", true, "http status 200"},
      {"body-miss", false, "http status 200 but the body lacks 'nope'"},
      {"host", true, "http status 200"},
      {"address-host", true, "http status 200"},
  };
  for (const auto& e : expected) {
    INFO(e.name);
    const TargetStatus s = first_verdict(checker, e.name);
    CHECK(s.last->pass == e.pass);
    CHECK(s.up == e.pass);
    CHECK(s.last->detail == e.detail);
    CHECK(ms(s.last->elapsed) < 300);
  }
  const TargetStatus r = first_verdict(checker, "refused");
  CHECK_FALSE(r.last->pass);
  CHECK(r.last->detail == "http connect: Connection refused");
}

TEST_CASE("health checker: a hung, a resetting and a 100 MB server delay no other check",
          "[health]") {
  HttpServer server(Family::v4);
  HttpServer plain(Family::v4, /*accept_only=*/true);
  const uint16_t port = server.port();
  const long timeout = 1000;
  auto slow = [&](const std::string& name, const std::string& path) {
    Target t = make(Family::v4, name, CheckType::http, port, 2000, timeout);
    t.spec.path = path;
    return t;
  };
  Target big = slow("big", "/big");
  big.spec.read_limit = 64 * 1024;
  Target big_body = slow("big-body", "/big");
  big_body.spec.read_limit = 100'000;
  big_body.spec.body = "needle";
  const std::vector<Target> targets = {
      slow("hang", "/hang"),
      slow("reset", "/reset"),
      big,
      big_body,
      make(Family::v4, "fast-tcp", CheckType::tcp, plain.port(), 2000, timeout),
      slow("fast-http", "/ok")};
  HealthChecker checker;
  const auto started = Steady::now();
  checker.set_targets(targets);  // spread 0: every check starts at once

  for (const char* fast : {"fast-tcp", "fast-http"}) {
    INFO(fast);
    const TargetStatus s = first_verdict(checker, fast);
    const auto waited = std::chrono::duration_cast<Millis>(Steady::now() - started).count();
    CHECK(s.last->pass);
    CHECK(waited < timeout / 2);  // far inside the timeout the slow ones run into
    CHECK(ms(s.last->elapsed) < timeout / 4);
  }

  const TargetStatus reset = first_verdict(checker, "reset");
  CHECK_FALSE(reset.last->pass);
  CHECK(reset.last->detail == "http receive: Connection reset by peer");
  CHECK(ms(reset.last->elapsed) < timeout / 2);

  // The 100 MB body: read up to read_limit (plus at most one buffer), then the transfer is
  // aborted; the status decides.
  const TargetStatus b = first_verdict(checker, "big");
  CHECK(b.last->pass);
  CHECK(b.last->detail == "http status 200");
  CHECK(b.last->bytes >= 64 * 1024);
  CHECK(b.last->bytes <= 64 * 1024 + 16 * 1024);
  CHECK(ms(b.last->elapsed) < timeout);
  const TargetStatus bb = first_verdict(checker, "big-body");
  CHECK_FALSE(bb.last->pass);
  CHECK(bb.last->detail == "http status 200 but the body lacks 'needle'");
  CHECK(bb.last->bytes <= 100'000 + 16 * 1024);

  const TargetStatus h = first_verdict(checker, "hang");
  CHECK_FALSE(h.last->pass);
  CHECK(h.last->detail == "http timeout after 1000 ms");
  CHECK(ms(h.last->elapsed) >= timeout - 5);
  CHECK(ms(h.last->elapsed) < timeout + kSlack);

  // The big transfers were cut short: the server could push only what socket buffers hold.
  checker.set_targets({});
  std::this_thread::sleep_for(Millis(100));
  const uint64_t sent = server.big_sent.load();
  CHECK(sent < kBigBody / 4);
  std::this_thread::sleep_for(Millis(100));
  CHECK(server.big_sent.load() == sent);
}

TEST_CASE("health checker: udp replies, mismatches, unreachable ports and silence",
          "[health]") {
  const Family family = GENERATE(Family::v4, Family::v6);
  INFO(to_string(family));
  UdpServer echo(family, /*echo=*/true);
  UdpServer silent(family, /*echo=*/false);
  Target any = make(family, "any", CheckType::udp, echo.port());
  any.spec.payload = "ping";
  Target match = any;
  match.key = key("match");
  match.spec.expect_reply = "pin";
  Target mismatch = any;
  mismatch.key = key("mismatch");
  mismatch.spec.expect_reply = "pong";
  Target unreachable = make(family, "unreachable", CheckType::udp, closed_port(family, SOCK_DGRAM));
  unreachable.spec.payload = "ping";
  Target quiet = make(family, "silent", CheckType::udp, silent.port());
  quiet.spec.payload = "ping";

  HealthChecker checker;
  checker.set_targets({any, match, mismatch, unreachable, quiet});
  TargetStatus s = first_verdict(checker, "any");
  CHECK(s.last->pass);
  CHECK(s.last->detail == "udp reply of 4 bytes");
  CHECK(s.last->bytes == 4);
  s = first_verdict(checker, "match");
  CHECK(s.last->pass);
  s = first_verdict(checker, "mismatch");
  CHECK_FALSE(s.last->pass);
  CHECK(s.last->detail == "udp reply of 4 bytes lacks 'pong'");
  s = first_verdict(checker, "unreachable");
  CHECK_FALSE(s.last->pass);
  CHECK(s.last->detail == "udp port unreachable");
  CHECK(ms(s.last->elapsed) < 300);  // the ICMP error, not the timeout
  s = first_verdict(checker, "silent");
  CHECK_FALSE(s.last->pass);
  CHECK(s.last->detail == "udp no reply within 300 ms");
  CHECK(ms(s.last->elapsed) >= 295);
}

TEST_CASE("health checker: exec checks", "[health]") {
  char dir_template[] = "/tmp/shoal-health-XXXXXX";
  REQUIRE(::mkdtemp(dir_template));
  const std::string dir = dir_template;
  const std::string pid_file = dir + "/sleep.pid";

  Target weighted = exec("weight", {"echo", "7"});
  weighted.spec.weight_from_output = true;
  weighted.spec.initial_up = true;
  Target not_weight = exec("not-weight", {"echo", "heavy"});
  not_weight.spec.weight_from_output = true;
  // What a command is told of its backend, one of each family; it says what it was told when
  // that is not what it should have been.
  auto env = [](Family family) {
    const std::string name = std::string("env-") + to_string(family);
    const std::string script = "test \"$SHOAL_BACKEND_ADDRESS\" = " + to_string(loopback(family)) +
                               " && test \"$SHOAL_BACKEND_PORT\" = 8080" +
                               " && test \"$SHOAL_SERVICE\" = t" +
                               " && test \"$SHOAL_BACKEND_NAME\" = " + name +
                               " || { echo \"told $SHOAL_BACKEND_ADDRESS\" >&2; exit 1; }";
    Target t = shell(name, script);
    t.address = loopback(family);
    return t;
  };
  const std::vector<Target> targets = {
      exec("true", {"true"}),
      exec("false", {"false"}),
      shell("stderr", "echo boom >&2; exit 3"),
      shell("sleep", "echo $$ > " + pid_file + "; exec sleep 10"),
      weighted,
      not_weight,
      env(Family::v4),
      env(Family::v6),
      exec("missing", {"shoal-no-such-program"}),
      // 5 MB of output: read and dropped past the kept 4 KiB, so the command never blocks.
      // Its own 2.5 s timeout: what is tested is that it ends, not how fast a loaded machine
      // (ASan, other suites) moves 5 MB through a pipe; 300 ms was not always enough.
      shell("chatty", "head -c 5000000 /dev/zero; echo", 2500),
  };
  HealthChecker checker;
  checker.set_targets(targets);

  TargetStatus s = first_verdict(checker, "true");
  CHECK(s.last->pass);
  CHECK(s.up);
  CHECK(s.last->detail == "exec exit status 0");
  s = first_verdict(checker, "false");
  CHECK_FALSE(s.last->pass);
  CHECK(s.last->detail == "exec exit status 1");
  s = first_verdict(checker, "stderr");
  CHECK(s.last->detail == "exec exit status 3: boom");
  for (const char* name : {"env-IPv4", "env-IPv6"}) {
    s = first_verdict(checker, name);
    INFO(name << ": " << s.last->detail);
    CHECK(s.last->pass);
  }
  s = first_verdict(checker, "missing");
  CHECK_FALSE(s.last->pass);
  CHECK(s.last->detail == "exec cannot run 'shoal-no-such-program': No such file or directory");
  s = first_verdict(checker, "chatty", Millis(6000));
  CHECK(s.last->pass);
  CHECK(s.last->bytes == 5000001);
  s = first_verdict(checker, "not-weight");
  CHECK_FALSE(s.last->pass);
  CHECK(s.last->detail == "exec exit status 0 but its output 'heavy' is not a weight (0..65535)");

  s = first_verdict(checker, "weight");
  CHECK(s.last->pass);
  CHECK(s.last->weight == 7u);
  CHECK(s.weight == 7u);
  bool weight_seen = false;
  for (const Transition& t : checker.take_transitions())
    if (t.key == key("weight")) {
      weight_seen = true;
      CHECK(t.weight == 7u);
      CHECK(t.up);
      CHECK_FALSE(t.state_changed);
    }
  CHECK(weight_seen);

  // sleep 10 is killed at the timeout, and reaped: its pid is gone soon after.
  s = first_verdict(checker, "sleep");
  CHECK_FALSE(s.last->pass);
  CHECK(s.last->detail == "exec timeout after 300 ms (killed)");
  CHECK(ms(s.last->elapsed) >= 295);
  CHECK(ms(s.last->elapsed) < 300 + kSlack);
  pid_t pid = 0;
  std::ifstream(pid_file) >> pid;
  REQUIRE(pid > 0);
  const auto deadline = Steady::now() + Millis(1000);
  while (::kill(pid, 0) == 0 && Steady::now() < deadline) std::this_thread::sleep_for(Millis(5));
  CHECK(::kill(pid, 0) == -1);
  CHECK(errno == ESRCH);

  checker.set_targets({});
  std::remove(pid_file.c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("health checker: rise and fall end to end, and a reload", "[health]") {
  HttpServer server(Family::v4);
  Target t = http(Family::v4, "web", server.port(), "/toggle");
  t.spec.interval_ms = 150;
  t.spec.timeout_ms = 100;
  t.spec.rise = 2;
  t.spec.fall = 2;
  HealthChecker checker;
  checker.set_targets({t});
  // Down from the start (unless the checker's thread already ran the first check).
  auto initial = checker.last_result(key("web"));
  REQUIRE(initial);
  CHECK((!initial->up || initial->checks > 0));

  TargetStatus s = wait_for(checker, "web", [](const TargetStatus& st) { return st.up; });
  CHECK(s.up);
  CHECK(s.reason == "http status 200 (first check)");

  server.toggle_status = 503;
  const auto broke = Steady::now();
  s = wait_for(checker, "web", [](const TargetStatus& st) { return !st.up; });
  CHECK_FALSE(s.up);
  CHECK(s.reason == "http status 503 (2/2)");
  // Within interval × fall + timeout of the change (plus scheduling slack).
  CHECK(std::chrono::duration_cast<Millis>(Steady::now() - broke).count() < 150 * 2 + 100 + kSlack);

  server.toggle_status = 200;
  s = wait_for(checker, "web", [](const TargetStatus& st) { return st.up; });
  CHECK(s.up);
  CHECK(s.reason == "http status 200 (2/2)");

  const std::vector<Transition> ts = checker.take_transitions();
  REQUIRE(ts.size() == 3);
  CHECK(ts[0].up);
  CHECK_FALSE(ts[1].up);
  CHECK(ts[1].reason == "http status 503 (2/2)");
  CHECK(ts[1].address == loopback(Family::v4));
  CHECK(ts[1].port == server.port());
  CHECK(ts[2].up);

  // A reload that keeps the target and adds another: the kept one stays up and counting.
  const uint64_t checks = checker.last_result(key("web"))->checks;
  Target other = make(Family::v4, "other", CheckType::tcp, server.port());
  checker.set_targets({t, other});
  s = *checker.last_result(key("web"));
  CHECK(s.up);
  CHECK(s.checks >= checks);
  initial = checker.last_result(key("other"));
  REQUIRE(initial);
  CHECK((!initial->up || initial->checks > 0));
  first_verdict(checker, "other");
  checker.set_targets({other});
  CHECK_FALSE(checker.last_result(key("web")));
}

TEST_CASE("health checker: 500 targets checked by one thread", "[health]") {
  HttpServer plain(Family::v4, /*accept_only=*/true);
  std::vector<Target> targets;
  for (int i = 0; i < 500; ++i) {
    Target t = make(Family::v4, "rs" + std::to_string(i), CheckType::tcp, plain.port(), 1000, 500);
    t.spec.spread = 0.5;
    targets.push_back(t);
  }
  HealthChecker checker;
  checker.set_targets(targets);
  const auto deadline = Steady::now() + Millis(3000);
  size_t up = 0;
  while (Steady::now() < deadline) {
    up = 0;
    for (const Target& t : targets) up += checker.last_result(t.key)->up;
    if (up == targets.size()) break;
    std::this_thread::sleep_for(Millis(20));
  }
  CHECK(up == targets.size());
  const auto stats = checker.stats();
  CHECK(stats.targets == 500);
  CHECK(stats.failed == 0);
  CHECK(stats.passed >= 500);
}

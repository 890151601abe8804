#include "healthcheck/checker.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <functional>
#include <queue>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "healthcheck/child_process.h"

namespace shoal::hc {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;

// epoll tags (epoll_event.data.u64). Probe descriptors carry the probe's id (never reused)
// and their role, so that an event for a probe that has since finished is recognised and
// dropped; curl's sockets carry a flag and the descriptor.
constexpr uint64_t kWakeTag = 1;
constexpr uint64_t kCurlTag = uint64_t{1} << 63;
enum Role : uint64_t { kSocket = 0, kStdout = 1, kStderr = 2, kPidfd = 3, kReap = 4 };
constexpr unsigned kRoleBits = 3;

uint64_t tag(uint64_t id, Role role) {
  return id << kRoleBits | role;
}

constexpr size_t kMaxStartsPerRound = 256;  // keeps the loop answering events while it starts
constexpr int kMaxEvents = 256;
constexpr size_t kUdpBuffer = 65536;
constexpr long kCurlBufferMin = 1024;  // CURLOPT_BUFFERSIZE's lower bound
constexpr long kCurlBufferMax = CURL_MAX_WRITE_SIZE;

std::once_flag curl_once;

std::string first_line(std::string_view text, size_t max = 160) {
  text = text.substr(0, text.find('\n'));
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  std::string out(text.substr(0, max));
  if (text.size() > max) out += "...";
  return out;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

// ---- the loop ----

class HealthChecker::Loop {
 public:
  explicit Loop(CheckerOptions options) : options_(options), monitor_(clock_) {
    std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    if (options_.raise_fd_limit) {
      rlimit rl{};
      if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
      }
    }
    if (options_.max_in_flight == 0) {
      rlimit rl{};
      size_t files = ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                         ? static_cast<size_t>(rl.rlim_cur)
                         : 1 << 20;
      options_.max_in_flight = std::clamp<size_t>(files > 256 ? (files - 128) / 3 : 32, 32, 65536);
    }
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    multi_ = curl_multi_init();
    if (epoll_ < 0 || wake_ < 0 || multi_ == nullptr) {
      cleanup_fds();
      throw std::runtime_error(fmt::format("health checker: cannot set up its event loop: {}",
                                           std::strerror(errno)));
    }
    watch(wake_, EPOLLIN, kWakeTag, EPOLL_CTL_ADD);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Loop::curl_socket_cb);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Loop::curl_timer_cb);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    udp_buffer_.resize(kUdpBuffer);
  }

  ~Loop() {
    std::vector<uint64_t> ids;
    for (auto& [id, p] : probes_) ids.push_back(id);
    for (uint64_t id : ids) release(id);
    for (auto& [id, child] : reaping_) {
      kill_child(child);
      int status;
      while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
      }
      close_child(child);
    }
    reaping_.clear();
    if (multi_) curl_multi_cleanup(multi_);
    cleanup_fds();
  }

  void run() {
    sigset_t all;
    sigfillset(&all);
    for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS})
      sigdelset(&all, s);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);

    epoll_event events[kMaxEvents];
    while (!stop_.load(std::memory_order_acquire)) {
      if (targets_changed_.exchange(false)) cancel_stale();
      const bool more_due = start_due();
      const int wait_ms = more_due ? 0 : wait_timeout();
      const int n = ::epoll_wait(epoll_, events, kMaxEvents, wait_ms);
      for (int i = 0; i < n; ++i) dispatch(events[i]);
      curl_run_timer();
      expire();
    }
  }

  void stop() {
    stop_.store(true, std::memory_order_release);
    wake();
  }

  void set_targets(std::vector<Target> targets) {
    {
      std::lock_guard lock(mutex_);
      monitor_.set_targets(std::move(targets));
      targets_ = monitor_.size();
    }
    targets_changed_.store(true);
    wake();
  }

  std::vector<Transition> take_transitions() {
    std::lock_guard lock(mutex_);
    return monitor_.take_transitions();
  }

  std::optional<TargetStatus> last_result(const TargetKey& key) const {
    std::lock_guard lock(mutex_);
    return monitor_.status(key);
  }

  CheckerStats stats() const {
    CheckerStats s;
    s.probes_started = started_.load(std::memory_order_relaxed);
    s.passed = passed_.load(std::memory_order_relaxed);
    s.failed = failed_.load(std::memory_order_relaxed);
    s.timed_out = timed_out_.load(std::memory_order_relaxed);
    s.cancelled = cancelled_.load(std::memory_order_relaxed);
    s.in_flight = in_flight_.load(std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    s.targets = targets_;
    return s;
  }

 private:
  struct Probe {
    uint64_t id = 0;
    uint64_t token = 0;
    std::shared_ptr<const Target> target;
    Steady::time_point started{};
    Steady::time_point deadline{};
    int fd = -1;  // tcp, udp
    // http, https
    CURL* easy = nullptr;
    curl_slist* connect_to = nullptr;
    curl_slist* headers = nullptr;
    char error[CURL_ERROR_SIZE] = {};
    uint64_t bytes = 0;  // body bytes delivered by curl, or stdout bytes of a command
    std::string body;    // kept only when the check looks for a substring
    bool cut = false;    // read_limit reached: the transfer was aborted on purpose
    // exec
    Child child;
    std::string out, err;
    uint64_t err_bytes = 0;
  };

  // ---- plumbing ----

  void cleanup_fds() {
    close_fd(wake_);
    close_fd(epoll_);
  }

  bool watch(int fd, uint32_t events, uint64_t data, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = data;
    return ::epoll_ctl(epoll_, op, fd, &ev) == 0;
  }

  void unwatch(int fd) {
    if (fd >= 0) ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
  }

  void wake() {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_, &one, sizeof one);
  }

  int wait_timeout() {
    Steady::time_point next = Steady::now() + std::chrono::seconds(1);
    if (probes_.size() < options_.max_in_flight) {
      std::lock_guard lock(mutex_);
      if (auto due = monitor_.next_due()) next = std::min(next, *due);
    }
    while (!deadlines_.empty() && !probes_.count(deadlines_.top().second)) deadlines_.pop();
    if (!deadlines_.empty()) next = std::min(next, deadlines_.top().first);
    if (curl_deadline_) next = std::min(next, *curl_deadline_);
    const auto us = duration_cast<microseconds>(next - Steady::now()).count();
    if (us <= 0) return 0;
    return static_cast<int>((us + 999) / 1000);  // round up: never wake before the deadline
  }

  void dispatch(const epoll_event& ev) {
    const uint64_t data = ev.data.u64;
    if (data == kWakeTag) {
      uint64_t count;
      [[maybe_unused]] ssize_t n = ::read(wake_, &count, sizeof count);
      return;
    }
    if (data & kCurlTag) {
      int flags = 0;
      if (ev.events & EPOLLIN) flags |= CURL_CSELECT_IN;
      if (ev.events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
      if (ev.events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
      int running = 0;
      curl_multi_socket_action(multi_, static_cast<curl_socket_t>(data & 0xffffffffu), flags,
                               &running);
      curl_collect();
      return;
    }
    const uint64_t id = data >> kRoleBits;
    const auto role = static_cast<Role>(data & ((1u << kRoleBits) - 1));
    if (role == kReap) {
      auto it = reaping_.find(id);
      int status;
      if (it != reaping_.end() && reap_child(it->second, status)) {
        close_child(it->second);
        reaping_.erase(it);
      }
      return;
    }
    auto it = probes_.find(id);
    if (it == probes_.end()) return;  // finished earlier in this batch
    Probe& p = *it->second;
    switch (p.target->spec.type) {
      case CheckType::tcp:
        on_tcp(p);
        break;
      case CheckType::udp:
        on_udp(p);
        break;
      case CheckType::exec:
        on_exec(p, role);
        break;
      default:
        break;
    }
  }

  // ---- probe lifecycle ----

  // Starts the probes due now; true if more are due than the in-flight limit allowed.
  bool start_due() {
    const size_t room =
        options_.max_in_flight > probes_.size() ? options_.max_in_flight - probes_.size() : 0;
    if (room == 0) return false;
    const size_t max = std::min(room, kMaxStartsPerRound);
    std::vector<ProbeRequest> due;
    {
      std::lock_guard lock(mutex_);
      due = monitor_.take_due(max);
    }
    for (ProbeRequest& r : due) start(std::move(r));
    return due.size() == max;
  }

  void start(ProbeRequest request) {
    auto owned = std::make_unique<Probe>();
    Probe& p = *owned;
    p.id = ++next_probe_id_;
    p.token = request.token;
    p.target = std::move(request.target);
    p.started = Steady::now();
    p.deadline = p.started + Millis(p.target->spec.timeout_ms);
    probes_.emplace(p.id, std::move(owned));
    deadlines_.emplace(p.deadline, p.id);
    started_.fetch_add(1, std::memory_order_relaxed);
    in_flight_.store(probes_.size(), std::memory_order_relaxed);
    switch (p.target->spec.type) {
      case CheckType::tcp:
        start_tcp(p);
        break;
      case CheckType::http:
      case CheckType::https:
        start_http(p);
        break;
      case CheckType::udp:
        start_udp(p);
        break;
      case CheckType::exec:
        start_exec(p);
        break;
      case CheckType::none:
        finish(p, true, "no check");
        break;
    }
  }

  // Frees everything a probe holds. A command still running is killed and reaped later.
  void release(uint64_t id) {
    auto it = probes_.find(id);
    if (it == probes_.end()) return;
    Probe& p = *it->second;
    close_fd(p.fd);  // closing also removes it from the epoll set
    if (p.easy) {
      curl_multi_remove_handle(multi_, p.easy);
      curl_easy_cleanup(p.easy);
      p.easy = nullptr;
    }
    curl_slist_free_all(p.connect_to);
    curl_slist_free_all(p.headers);
    int status;
    if (p.child.pid > 0 && !reap_child(p.child, status)) {
      close_fd(p.child.out);
      close_fd(p.child.err);
      kill_child(p.child);
      watch(p.child.pidfd, EPOLLIN, tag(p.id, kReap), EPOLL_CTL_MOD);
      reaping_.emplace(p.id, p.child);
    } else {
      close_child(p.child);
    }
    probes_.erase(it);
    in_flight_.store(probes_.size(), std::memory_order_relaxed);
  }

  void finish(Probe& p, bool pass, std::string detail, std::optional<uint32_t> weight = {}) {
    Verdict v;
    v.pass = pass;
    v.detail = std::move(detail);
    v.weight = weight;
    v.bytes = p.bytes;
    v.elapsed = duration_cast<microseconds>(Steady::now() - p.started);
    (pass ? passed_ : failed_).fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard lock(mutex_);
      monitor_.complete(p.token, v);
    }
    release(p.id);
  }

  std::string_view name(const Probe& p) const { return to_string(p.target->spec.type); }

  void expire() {
    const auto now = Steady::now();
    while (!deadlines_.empty() && deadlines_.top().first <= now) {
      const uint64_t id = deadlines_.top().second;
      deadlines_.pop();
      auto it = probes_.find(id);
      if (it == probes_.end()) continue;
      Probe& p = *it->second;
      timed_out_.fetch_add(1, std::memory_order_relaxed);
      const uint32_t ms = p.target->spec.timeout_ms;
      if (p.target->spec.type == CheckType::exec)
        finish(p, false, fmt::format("exec timeout after {} ms (killed)", ms));
      else if (p.target->spec.type == CheckType::udp)
        finish(p, false, fmt::format("udp no reply within {} ms", ms));
      else
        finish(p, false, fmt::format("{} timeout after {} ms", name(p), ms));
    }
  }

  // Probes of targets removed or changed since they started: their verdicts would be ignored.
  void cancel_stale() {
    std::vector<uint64_t> stale;
    {
      std::lock_guard lock(mutex_);
      for (auto& [id, p] : probes_)
        if (!monitor_.current(p->token)) stale.push_back(id);
    }
    for (uint64_t id : stale) release(id);
    cancelled_.fetch_add(stale.size(), std::memory_order_relaxed);
  }

  // Where a tcp or udp probe goes: the target's address of either family, at its check port.
  struct Destination {
    sockaddr_storage storage{};
    socklen_t length = 0;
    int family() const { return storage.ss_family; }
    const sockaddr* address() const { return reinterpret_cast<const sockaddr*>(&storage); }
  };

  static Destination destination(const Probe& p) {
    Destination d;
    const TargetAddress& a = p.target->address;
    const uint16_t port = htons(p.target->check_port());
    if (a.ipv6) {
      auto* sa = reinterpret_cast<sockaddr_in6*>(&d.storage);
      sa->sin6_family = AF_INET6;
      std::memcpy(&sa->sin6_addr, a.v6.data(), a.v6.size());
      sa->sin6_port = port;
      d.length = sizeof(sockaddr_in6);
    } else {
      auto* sa = reinterpret_cast<sockaddr_in*>(&d.storage);
      sa->sin_family = AF_INET;
      sa->sin_addr.s_addr = a.v4;
      sa->sin_port = port;
      d.length = sizeof(sockaddr_in);
    }
    return d;
  }

  // ---- tcp: a connect, closed with a reset (no TIME_WAIT left behind per check) ----

  void start_tcp(Probe& p) {
    const Destination to = destination(p);
    p.fd = ::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p.fd < 0) return finish(p, false, fmt::format("tcp socket: {}", std::strerror(errno)));
    const linger reset{1, 0};
    ::setsockopt(p.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    if (::connect(p.fd, to.address(), to.length) == 0)
      return tcp_done(p, 0);
    if (errno != EINPROGRESS) return tcp_done(p, errno);
    watch(p.fd, EPOLLOUT, tag(p.id, kSocket), EPOLL_CTL_ADD);
  }

  void on_tcp(Probe& p) {
    int error = 0;
    socklen_t len = sizeof error;
    if (::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
    tcp_done(p, error);
  }

  void tcp_done(Probe& p, int error) {
    if (error == 0) return finish(p, true, "tcp connect ok");
    if (error == ECONNREFUSED) return finish(p, false, "tcp connect refused");
    finish(p, false, fmt::format("tcp connect: {}", std::strerror(error)));
  }

  // ---- udp: one datagram out, the first reply back; ICMP port unreachable fails at once ----

  void start_udp(Probe& p) {
    const Destination to = destination(p);
    p.fd = ::socket(to.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p.fd < 0) return finish(p, false, fmt::format("udp socket: {}", std::strerror(errno)));
    if (::connect(p.fd, to.address(), to.length) != 0)
      return finish(p, false, fmt::format("udp connect: {}", std::strerror(errno)));
    const std::string& payload = p.target->spec.payload;
    if (::send(p.fd, payload.data(), payload.size(), MSG_NOSIGNAL) < 0)
      return finish(p, false, fmt::format("udp send: {}", std::strerror(errno)));
    watch(p.fd, EPOLLIN, tag(p.id, kSocket), EPOLL_CTL_ADD);
  }

  void on_udp(Probe& p) {
    const ssize_t n = ::recv(p.fd, udp_buffer_.data(), udp_buffer_.size(), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      if (errno == ECONNREFUSED) return finish(p, false, "udp port unreachable");
      return finish(p, false, fmt::format("udp receive: {}", std::strerror(errno)));
    }
    p.bytes = static_cast<uint64_t>(n);
    const std::string& expect = p.target->spec.expect_reply;
    const std::string_view reply(udp_buffer_.data(), static_cast<size_t>(n));
    if (!expect.empty() && reply.find(expect) == std::string_view::npos)
      return finish(p, false, fmt::format("udp reply of {} bytes lacks '{}'", n, expect));
    finish(p, true, fmt::format("udp reply of {} bytes", n));
  }

  // ---- exec: a command in its own process group, watched through a pidfd ----

  void start_exec(Probe& p) {
    const Target& t = *p.target;
    const std::vector<std::string> env = {
        "SHOAL_BACKEND_ADDRESS=" + to_string(t.address),
        "SHOAL_BACKEND_PORT=" + std::to_string(t.check_port()),
        "SHOAL_BACKEND_NAME=" + t.key.backend,
        "SHOAL_SERVICE=" + t.key.service,
    };
    std::string error;
    if (!spawn_child(t.spec.command, env, p.child, error))
      return finish(p, false, "exec " + error);
    watch(p.child.out, EPOLLIN, tag(p.id, kStdout), EPOLL_CTL_ADD);
    watch(p.child.err, EPOLLIN, tag(p.id, kStderr), EPOLL_CTL_ADD);
    watch(p.child.pidfd, EPOLLIN, tag(p.id, kPidfd), EPOLL_CTL_ADD);
  }

  // Reads what a pipe holds now; keeps up to the limit, drops the rest. Closes it at EOF.
  void drain(int& fd, std::string& keep, uint64_t& total) {
    char buffer[4096];
    while (fd >= 0) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n > 0) {
        total += static_cast<uint64_t>(n);
        const size_t room = options_.exec_output_limit - std::min(options_.exec_output_limit, keep.size());
        keep.append(buffer, std::min(room, static_cast<size_t>(n)));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        close_fd(fd);
      } else if (errno == EAGAIN) {
        return;
      }
    }
  }

  void on_exec(Probe& p, Role role) {
    if (role == kStdout) return drain(p.child.out, p.out, p.bytes);
    if (role == kStderr) return drain(p.child.err, p.err, p.err_bytes);
    int status;
    if (!reap_child(p.child, status)) return;
    p.child.pid = -1;  // reaped
    drain(p.child.out, p.out, p.bytes);  // what it wrote before it exited
    drain(p.child.err, p.err, p.err_bytes);
    const CheckSpec& spec = p.target->spec;
    if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::string why = first_line(p.err);
      if (why.empty()) why = first_line(p.out);
      return finish(p, false,
                    fmt::format("exec {}{}{}", describe_exit(status), why.empty() ? "" : ": ", why));
    }
    if (!spec.weight_from_output) return finish(p, true, "exec exit status 0");
    const std::string line = first_line(p.out, 64);
    uint32_t weight = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), weight);
    if (line.empty() || ec != std::errc() || end != line.data() + line.size() || weight > 65535)
      return finish(p, false, fmt::format("exec exit status 0 but its output '{}' is not a weight "
                                          "(0..65535)",
                                          line));
    finish(p, true, fmt::format("exec exit status 0, weight {}", weight), weight);
  }

  // ---- http, https: libcurl's multi interface on this loop ----

  static int curl_socket_cb(CURL*, curl_socket_t s, int what, void* userp, void*) {
    auto* self = static_cast<Loop*>(userp);
    if (what == CURL_POLL_REMOVE) {
      self->unwatch(s);
      return 0;
    }
    uint32_t events = 0;
    if (what & CURL_POLL_IN) events |= EPOLLIN;
    if (what & CURL_POLL_OUT) events |= EPOLLOUT;
    const uint64_t data = kCurlTag | static_cast<uint32_t>(s);
    if (!self->watch(s, events, data, EPOLL_CTL_MOD) && errno == ENOENT)
      self->watch(s, events, data, EPOLL_CTL_ADD);
    return 0;
  }

  static int curl_timer_cb(CURLM*, long timeout_ms, void* userp) {
    auto* self = static_cast<Loop*>(userp);
    if (timeout_ms < 0)
      self->curl_deadline_.reset();
    else
      self->curl_deadline_ = Steady::now() + Millis(timeout_ms);
    return 0;
  }

  void curl_run_timer() {
    if (!curl_deadline_ || *curl_deadline_ > Steady::now()) return;
    curl_deadline_.reset();
    int running = 0;
    curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
    curl_collect();
  }

  // Takes the body up to read_limit, then aborts the transfer (a write error curl reports
  // as CURLE_WRITE_ERROR, recognised by `cut`): at most read_limit + one buffer ever arrives.
  static size_t curl_write_cb(char* data, size_t size, size_t count, void* userp) {
    auto* p = static_cast<Probe*>(userp);
    const size_t n = size * count;
    const CheckSpec& spec = p->target->spec;
    if (!spec.body.empty() && p->body.size() < spec.read_limit)
      p->body.append(data, std::min<size_t>(n, spec.read_limit - p->body.size()));
    p->bytes += n;
    if (p->bytes >= spec.read_limit) {
      p->cut = true;
      return 0;
    }
    return n;
  }

  void start_http(Probe& p) {
    const Target& t = *p.target;
    const CheckSpec& spec = t.spec;
    // An IPv6 address goes in brackets, in the URL as in CONNECT_TO (libcurl's syntax for both).
    const std::string address = host_text(t.address);
    const uint16_t port = t.check_port();
    const std::string host = spec.host.empty() ? address : spec.host;
    const std::string url = fmt::format("{}://{}:{}{}", name(p), host, port, spec.path);
    CURL* e = curl_easy_init();
    if (e == nullptr) return finish(p, false, fmt::format("{} cannot start a transfer", name(p)));
    p.easy = e;
    if (!spec.host.empty()) {
      // Connect to the backend whatever the name resolves to; the name still goes into the
      // Host header, SNI and the certificate check.
      p.connect_to =
          curl_slist_append(nullptr, fmt::format("{}:{}:{}:{}", host, port, address, port).c_str());
      curl_easy_setopt(e, CURLOPT_CONNECT_TO, p.connect_to);
    }
    p.headers = curl_slist_append(nullptr, "Connection: close");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, p.headers);
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_PROXY, "");  // never a proxy from the environment
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_IPRESOLVE,
                     static_cast<long>(t.address.ipv6 ? CURL_IPRESOLVE_V6 : CURL_IPRESOLVE_V4));
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    // No name cache: the URL holds an address (or CONNECT_TO maps the name to one), so a
    // cache would only gather an entry per target, and libcurl walks the whole of it at every
    // transfer to prune it — with 10,000 targets that walk cost more than the checks.
    curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "shoal-healthcheck");
    // Our own deadline ends the probe; curl's is a backstop past it.
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(spec.timeout_ms) + 1000);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, spec.verify_tls ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, spec.verify_tls ? 2L : 0L);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE,
                     std::clamp<long>(static_cast<long>(spec.read_limit), kCurlBufferMin,
                                      kCurlBufferMax));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Loop::curl_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &p);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p.error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, reinterpret_cast<void*>(static_cast<uintptr_t>(p.id)));
    if (curl_multi_add_handle(multi_, e) != CURLM_OK)
      return finish(p, false, fmt::format("{} cannot start a transfer", name(p)));
  }

  void curl_collect() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      void* priv = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
      auto it = probes_.find(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(priv)));
      if (it == probes_.end()) continue;
      on_http_done(*it->second, msg->data.result);
    }
  }

  void on_http_done(Probe& p, CURLcode result) {
    const CheckSpec& spec = p.target->spec;
    if (result != CURLE_OK && !(result == CURLE_WRITE_ERROR && p.cut)) {
      // Socket errors read best as the system's words ("http connect: Connection refused",
      // "http receive: Connection reset by peer"); the rest in curl's.
      long os_errno = 0;
      curl_easy_getinfo(p.easy, CURLINFO_OS_ERRNO, &os_errno);
      const char* stage = result == CURLE_COULDNT_CONNECT ? "connect"
                          : result == CURLE_RECV_ERROR    ? "receive"
                          : result == CURLE_SEND_ERROR    ? "send"
                                                          : nullptr;
      if (stage && os_errno != 0)
        return finish(p, false, fmt::format("{} {}: {}", name(p), stage,
                                            std::strerror(static_cast<int>(os_errno))));
      const char* why = p.error[0] ? p.error : curl_easy_strerror(result);
      return finish(p, false, fmt::format("{} error: {}", name(p), why));
    }
    long status = 0;
    curl_easy_getinfo(p.easy, CURLINFO_RESPONSE_CODE, &status);
    const bool expected = std::any_of(spec.expect_status.begin(), spec.expect_status.end(),
                                      [&](const StatusRange& r) { return r.contains(status); });
    if (!expected) return finish(p, false, fmt::format("{} status {}", name(p), status));
    if (!spec.body.empty() && p.body.find(spec.body) == std::string::npos)
      return finish(p, false, fmt::format("{} status {} but the body lacks '{}'", name(p), status,
                                          spec.body));
    finish(p, true, fmt::format("{} status {}", name(p), status));
  }

  CheckerOptions options_;
  SteadyClock clock_;
  mutable std::mutex mutex_;  // guards monitor_ and targets_
  Monitor monitor_;
  size_t targets_ = 0;

  int epoll_ = -1;
  int wake_ = -1;
  CURLM* multi_ = nullptr;
  std::optional<Steady::time_point> curl_deadline_;
  std::unordered_map<uint64_t, std::unique_ptr<Probe>> probes_;
  std::priority_queue<std::pair<Steady::time_point, uint64_t>,
                      std::vector<std::pair<Steady::time_point, uint64_t>>, std::greater<>>
      deadlines_;
  std::unordered_map<uint64_t, Child> reaping_;  // killed commands not yet reaped
  std::vector<char> udp_buffer_;
  uint64_t next_probe_id_ = 0;

  std::atomic<bool> stop_{false};
  std::atomic<bool> targets_changed_{false};
  std::atomic<uint64_t> started_{0}, passed_{0}, failed_{0}, timed_out_{0}, cancelled_{0};
  std::atomic<size_t> in_flight_{0};
};

// ---- public face ----

HealthChecker::HealthChecker(CheckerOptions options)
    : loop_(std::make_unique<Loop>(options)), thread_([this] { loop_->run(); }) {}

HealthChecker::~HealthChecker() {
  loop_->stop();
  if (thread_.joinable()) thread_.join();
}

void HealthChecker::set_targets(std::vector<Target> targets) {
  loop_->set_targets(std::move(targets));
}

std::vector<Transition> HealthChecker::take_transitions() {
  return loop_->take_transitions();
}

std::optional<TargetStatus> HealthChecker::last_result(const TargetKey& key) const {
  return loop_->last_result(key);
}

CheckerStats HealthChecker::stats() const {
  return loop_->stats();
}

}  // namespace shoal::hc

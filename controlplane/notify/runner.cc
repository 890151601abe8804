#include "notify/runner.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>

namespace shoal::cp::notify {

const char* name(Outcome o) {
  switch (o) {
    case Outcome::ok: return "ok";
    case Outcome::failed: return "failed";
    case Outcome::timeout: return "timeout";
    case Outcome::dropped: return "dropped";
  }
  return "?";
}

CommandRunner::~CommandRunner() {
  for (Run& r : runs_) {
    if (!r.killed)
      spdlog::info("{}: still running as shoald stops (pid {}); left to finish", r.label,
                   r.child.pid);
    hc::close_child(r.child);
  }
}

bool CommandRunner::start(std::string label, const std::vector<std::string>& argv,
                          const std::vector<std::string>& env, uint32_t timeout_ms,
                          uint64_t now_ms, OnExit on_exit) {
  RunResult refused;
  if (runs_.size() >= max_running_) {
    refused.outcome = Outcome::dropped;
    refused.detail = fmt::format("not run: {} commands are running already (the most at once)",
                                 runs_.size());
    spdlog::warn("{}: {}", label, refused.detail);
    if (on_exit) on_exit(refused);
    return false;
  }
  Run run;
  run.label = std::move(label);
  run.deadline_ms = now_ms + timeout_ms;
  run.timeout_ms = timeout_ms;
  run.on_exit = std::move(on_exit);
  std::string error;
  if (!hc::spawn_child(argv, env, run.child, error)) {
    refused.outcome = Outcome::failed;
    refused.detail = error;
    spdlog::warn("{}: {}", run.label, error);
    if (run.on_exit) run.on_exit(refused);
    return false;
  }
  spdlog::debug("{}: started (pid {})", run.label, run.child.pid);
  runs_.push_back(std::move(run));
  return true;
}

void CommandRunner::log_line(Run& run, const char* stream, std::string_view line) {
  if (run.logged + line.size() > kMaxLoggedBytes) {
    run.discarded += line.size();
    return;
  }
  run.logged += line.size();
  spdlog::info("{} {}: {}", run.label, stream, line);
}

void CommandRunner::drain(Run& run, int fd, std::string& tail, const char* stream, bool final) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;  // EAGAIN (nothing yet), EOF or an error: the next poll() tries again
    tail.append(buf, static_cast<std::size_t>(n));
    std::size_t begin = 0;
    for (std::size_t nl; (nl = tail.find('\n', begin)) != std::string::npos; begin = nl + 1)
      log_line(run, stream, std::string_view(tail).substr(begin, nl - begin));
    tail.erase(0, begin);
    // A line without end must not grow without bound: log it in pieces.
    while (tail.size() >= kMaxLineBytes) {
      log_line(run, stream, std::string_view(tail).substr(0, kMaxLineBytes));
      tail.erase(0, kMaxLineBytes);
    }
  }
  if (final && !tail.empty()) {
    log_line(run, stream, tail);
    tail.clear();
  }
}

void CommandRunner::poll(uint64_t now_ms) {
  if (runs_.empty()) return;
  // One poll() over every pipe and pidfd tells which to read; no descriptor is waited on.
  std::vector<pollfd> fds;
  fds.reserve(runs_.size() * 3);
  for (const Run& r : runs_) {
    fds.push_back({r.child.out, POLLIN, 0});
    fds.push_back({r.child.err, POLLIN, 0});
    fds.push_back({r.child.pidfd, POLLIN, 0});
  }
  if (::poll(fds.data(), fds.size(), 0) < 0 && errno != EINTR) return;

  // Callbacks run once runs_ is consistent again: one may start another command.
  std::vector<std::pair<OnExit, RunResult>> finished;
  std::size_t keep = 0;
  for (std::size_t i = 0; i < runs_.size(); ++i) {
    Run& r = runs_[i];
    if (fds[3 * i].revents) drain(r, r.child.out, r.out_tail, "stdout", false);
    if (fds[3 * i + 1].revents) drain(r, r.child.err, r.err_tail, "stderr", false);
    if (!r.killed && now_ms >= r.deadline_ms) {
      hc::kill_child(r.child);
      r.killed = true;
    }
    int status = -1;
    const bool exited = (fds[3 * i + 2].revents || r.killed) && hc::reap_child(r.child, status);
    if (!exited) {
      if (keep != i) runs_[keep] = std::move(r);
      ++keep;
      continue;
    }
    // What it wrote before exiting is in the pipes; anything a grandchild still writes later
    // is not waited for.
    drain(r, r.child.out, r.out_tail, "stdout", true);
    drain(r, r.child.err, r.err_tail, "stderr", true);
    hc::close_child(r.child);
    RunResult result;
    result.wait_status = status;
    if (r.killed) {
      result.outcome = Outcome::timeout;
      result.detail = fmt::format("killed after {} s (its timeout)", r.timeout_ms / 1000.0);
      spdlog::warn("{}: {}", r.label, result.detail);
    } else if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      result.outcome = Outcome::ok;
      result.detail = hc::describe_exit(status);
      spdlog::debug("{}: {}", r.label, result.detail);
    } else {
      result.outcome = Outcome::failed;
      result.detail = hc::describe_exit(status);
      spdlog::warn("{}: {}", r.label, result.detail);
    }
    if (r.discarded > 0)
      spdlog::warn("{}: {} bytes of output not logged (at most {} per command)", r.label,
                   r.discarded, kMaxLoggedBytes);
    finished.emplace_back(std::move(r.on_exit), std::move(result));
  }
  runs_.erase(runs_.begin() + static_cast<std::ptrdiff_t>(keep), runs_.end());
  for (auto& [on_exit, result] : finished)
    if (on_exit) on_exit(result);
}

}  // namespace shoal::cp::notify

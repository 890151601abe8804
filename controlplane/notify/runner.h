// Runs commands in the background for the control loop, which must never wait for one: each
// is spawned in its own process group (healthcheck/child_process.h), polled without blocking
// from poll(), killed with SIGKILL to its group once its timeout has passed, and reaped.
// What it writes on stdout and stderr is logged line by line under its label.
//
// Bounded: at most `max_running` commands at once (a start beyond that is refused, logged
// and reported as dropped: the caller counts it), and at most kMaxLoggedBytes of output
// logged per command (the rest is read and thrown away, and its size logged once at exit, so
// that a chatty command can neither fill the log nor block on a full pipe). A command is done
// when its own process exits: children it left in the background keep running, and what they
// write later is not read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "healthcheck/child_process.h"

namespace shoal::cp::notify {

enum class Outcome : uint8_t {
  ok,       // exited with status 0
  failed,   // exited non-zero, was killed by a signal, or could not be started
  timeout,  // still running at its timeout: killed
  dropped,  // not started: too many running already
};
inline constexpr std::size_t kOutcomeCount = 4;
const char* name(Outcome o);

struct RunResult {
  Outcome outcome = Outcome::ok;
  int wait_status = -1;  // waitpid()'s, when the command ran to an exit
  std::string detail;    // "exit status 1", "killed after 10 s (timeout)", why it did not start
};

class CommandRunner {
 public:
  using OnExit = std::function<void(const RunResult&)>;

  static constexpr std::size_t kDefaultMaxRunning = 32;
  static constexpr std::size_t kMaxLoggedBytes = 16 * 1024;  // per command, both streams
  static constexpr std::size_t kMaxLineBytes = 1024;         // a longer line is logged in pieces

  explicit CommandRunner(std::size_t max_running = kDefaultMaxRunning)
      : max_running_(max_running) {}
  ~CommandRunner();  // closes every descriptor; commands still running are left to finish
  CommandRunner(const CommandRunner&) = delete;
  CommandRunner& operator=(const CommandRunner&) = delete;

  // Starts `argv` with the director's environment plus `env` ("NAME=value"). `label` names
  // it in the log ("notify_master of vrrp vi_1"). `on_exit` is called from poll() once it has
  // been reaped, or before start() returns when it could not start or was dropped. Returns
  // whether it runs.
  bool start(std::string label, const std::vector<std::string>& argv,
             const std::vector<std::string>& env, uint32_t timeout_ms, uint64_t now_ms,
             OnExit on_exit);

  // Reads output, kills what overran, reaps what exited. Cheap (no syscall) with nothing
  // running.
  void poll(uint64_t now_ms);

  std::size_t running() const { return runs_.size(); }
  void set_max_running(std::size_t n) { max_running_ = n; }

 private:
  struct Run {
    std::string label;
    hc::Child child;
    uint64_t deadline_ms = 0;
    uint32_t timeout_ms = 0;
    bool killed = false;
    std::size_t logged = 0;     // output bytes logged so far
    std::size_t discarded = 0;  // output bytes over kMaxLoggedBytes
    std::string out_tail, err_tail;  // what was read after the last newline
    OnExit on_exit;
  };

  // Reads what `fd` holds now and logs its complete lines; `final` logs the tail too.
  void drain(Run& run, int fd, std::string& tail, const char* stream, bool final);
  void log_line(Run& run, const char* stream, std::string_view line);

  std::size_t max_running_;
  std::vector<Run> runs_;
};

}  // namespace shoal::cp::notify

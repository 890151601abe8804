#include "healthcheck/child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstring>

extern char** environ;

namespace shoal::hc {
namespace {

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::vector<std::string> merged_environment(const std::vector<std::string>& overrides) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    const std::string_view var(*e);
    const std::string_view name = var.substr(0, var.find('='));
    bool replaced = false;
    for (const std::string& o : overrides)
      if (std::string_view(o).substr(0, o.find('=')) == name) replaced = true;
    if (!replaced) out.emplace_back(var);
  }
  out.insert(out.end(), overrides.begin(), overrides.end());
  return out;
}

}  // namespace

bool spawn_child(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                 Child& child, std::string& error) {
  child = Child{};
  if (argv.empty() || argv[0].empty()) {
    error = "empty command";
    return false;
  }
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    error = fmt::format("cannot create a pipe: {}", std::strerror(errno));
    close_fd(out[0]), close_fd(out[1]), close_fd(err[0]), close_fd(err[1]);
    return false;
  }
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  ::fcntl(err[0], F_SETFL, O_NONBLOCK);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);

  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> environment = merged_environment(env);
  std::vector<char*> envp;
  for (std::string& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close_fd(out[1]);
  close_fd(err[1]);
  if (rc != 0) {
    error = fmt::format("cannot run '{}': {}", argv[0], std::strerror(rc));
    close_fd(out[0]), close_fd(err[0]);
    return false;
  }
  child.pid = pid;
  child.out = out[0];
  child.err = err[0];
  // The raw call: glibc 2.36's <sys/pidfd.h> lacks extern "C", so its wrapper does not link
  // from C++. pidfds are always close-on-exec.
  child.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (child.pidfd < 0) {
    error = fmt::format("cannot watch '{}' (pidfd_open: {})", argv[0], std::strerror(errno));
    kill_child(child);
    int status;
    ::waitpid(pid, &status, 0);
    close_child(child);
    return false;
  }
  return true;
}

void kill_child(const Child& child) {
  if (child.pid > 0) ::kill(-child.pid, SIGKILL);
}

bool reap_child(const Child& child, int& status) {
  status = -1;
  if (child.pid <= 0) return true;
  for (;;) {
    const pid_t r = ::waitpid(child.pid, &status, WNOHANG);
    if (r == child.pid) return true;
    if (r == 0) return false;
    if (errno == EINTR) continue;
    status = -1;  // ECHILD: someone else reaped it (SIGCHLD ignored)
    return true;
  }
}

void close_child(Child& child) {
  close_fd(child.pidfd);
  close_fd(child.out);
  close_fd(child.err);
}

std::string describe_exit(int status) {
  if (status < 0) return "exit status unknown";
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  return fmt::format("wait status {}", status);
}

}  // namespace shoal::hc

// A child process for exec checks: started with posix_spawnp in its own process group (so
// that a timeout kills the command and everything it started), stdin from /dev/null, stdout
// and stderr to non-blocking pipes, default signal dispositions and an empty signal mask (the
// checker thread blocks signals; children must not inherit that), and no other descriptors.
// Its exit is watched through a pidfd, which an event loop can poll like any socket.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace shoal::hc {

struct Child {
  pid_t pid = -1;
  int pidfd = -1;  // readable once the child has exited
  int out = -1;    // read end of its stdout
  int err = -1;    // read end of its stderr
};

// Starts argv[0] (searched in PATH) with the environment of this process plus `env`
// ("NAME=value", replacing any variable of the same name). On failure returns false and says
// why in `error` ("cannot run 'foo': No such file or directory").
bool spawn_child(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                 Child& child, std::string& error);

// SIGKILL to the child's process group.
void kill_child(const Child& child);

// Collects the child's exit status without blocking: true and the wait status once it has
// exited (or if it is gone: status -1).
bool reap_child(const Child& child, int& status);

// Closes every descriptor of `child` (the process itself is not touched).
void close_child(Child& child);

// "exit status 1", "killed by signal 9".
std::string describe_exit(int status);

}  // namespace shoal::hc

#include "cli/names.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

namespace shoal::cli {

std::optional<std::string> system_reverse_lookup(const std::string& address) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    length = sizeof(*v4);
  } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    length = sizeof(*v6);
  } else {
    return std::nullopt;
  }
  char host[NI_MAXHOST];
  if (getnameinfo(reinterpret_cast<sockaddr*>(&storage), length, host, sizeof(host), nullptr, 0,
                  NI_NAMEREQD) != 0)
    return std::nullopt;
  return std::string(host);
}

namespace {

// Shared with the lookup threads, which may outlive the caller's wait.
struct LookupState {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> queue;  // addresses not yet taken by a thread
  size_t unanswered = 0;
  std::map<std::string, std::string> names;
};

}  // namespace

std::map<std::string, std::string> reverse_lookup_all(const std::vector<std::string>& addresses,
                                                      std::chrono::milliseconds budget,
                                                      const ReverseLookup& lookup, size_t parallel) {
  auto state = std::make_shared<LookupState>();
  for (const std::string& a : addresses)
    if (std::find(state->queue.begin(), state->queue.end(), a) == state->queue.end())
      state->queue.push_back(a);
  state->unanswered = state->queue.size();
  const auto deadline = std::chrono::steady_clock::now() + budget;
  const size_t threads = std::min(parallel, state->queue.size());
  for (size_t i = 0; i < threads; ++i) {
    std::thread([state, lookup] {
      for (;;) {
        std::string address;
        {
          std::lock_guard lock(state->mutex);
          if (state->queue.empty()) return;
          address = std::move(state->queue.back());
          state->queue.pop_back();
        }
        std::optional<std::string> name = lookup(address);
        std::lock_guard lock(state->mutex);
        if (name) state->names[address] = *name;
        --state->unanswered;
        state->changed.notify_all();
      }
    }).detach();
  }
  std::unique_lock lock(state->mutex);
  state->changed.wait_until(lock, deadline, [&] { return state->unanswered == 0; });
  state->queue.clear();  // what no thread has taken by now stays a number
  return state->names;
}

std::string port_name(uint16_t port, const std::string& protocol) {
  servent entry{};
  servent* found = nullptr;
  char buffer[1024];
  if (getservbyport_r(htons(port), protocol.c_str(), &entry, buffer, sizeof(buffer), &found) == 0 &&
      found != nullptr)
    return found->s_name;
  return std::to_string(port);
}

}  // namespace shoal::cli

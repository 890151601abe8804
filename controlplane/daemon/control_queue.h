// Hands work from other threads (the API server's) to the control loop, which alone touches
// the running config, health view, admin states and publisher: a caller posts a task and
// waits for its result; the control loop runs what is queued once per iteration.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>

namespace shoal::cp {

template <typename Result>
class ControlQueue {
 public:
  // Any thread: runs `task` on the control loop and returns its result, or nullopt if the
  // loop has not run it within `wait` (it may still run later).
  std::optional<Result> run(std::function<Result()> task, std::chrono::milliseconds wait) {
    auto job = std::make_shared<std::packaged_task<Result()>>(std::move(task));
    std::future<Result> done = job->get_future();
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    if (done.wait_for(wait) != std::future_status::ready) return std::nullopt;
    return done.get();
  }

  // Control loop: runs every queued task.
  void drain() {
    std::deque<std::shared_ptr<std::packaged_task<Result()>>> jobs;
    {
      std::lock_guard lock(mutex_);
      jobs.swap(jobs_);
    }
    for (auto& job : jobs) (*job)();
  }

 private:
  std::mutex mutex_;
  std::deque<std::shared_ptr<std::packaged_task<Result()>>> jobs_;
};

}  // namespace shoal::cp

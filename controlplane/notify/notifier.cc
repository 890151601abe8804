#include "notify/notifier.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <chrono>

namespace shoal::cp::notify {

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

void Notifier::fire(const Command& command, std::vector<std::string> args,
                    std::vector<std::string> env, std::string_view what) {
  if (command.empty()) return;
  std::vector<std::string> argv = command.argv;
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  // Every event leaves a line, whether or not its command then runs well.
  spdlog::info("notify {}: running {}", what, fmt::join(argv, " "));
  runner_.start(fmt::format("notify {}", what), argv, env, timeout_ms_, now_ms(),
                [this](const RunResult& r) { ++runs_[static_cast<std::size_t>(r.outcome)]; });
}

}  // namespace shoal::cp::notify

// shoald: the shoal director daemon.
//   shoald [--config FILE] [--eal "ARGS"] [--state-dir DIR]   run FILE (/etc/shoal/shoald.yaml)
//   shoald --check FILE                              validate a config and exit (0 = valid)
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "config/config.h"
#include "daemon/director.h"
#include "daemon/logging.h"

namespace {

constexpr const char* kDefaultConfig = "/etc/shoal/shoald.yaml";
constexpr const char* kDefaultStateDir = "/var/lib/shoal";

shoal::cp::Signals g_signals;

void on_signal(int sig) {
  switch (sig) {
    case SIGHUP:
      g_signals.reload = true;
      break;
    case SIGUSR1:
      g_signals.dump_counters = true;
      break;
    default:
      g_signals.stop = true;
  }
}

spdlog::level::level_enum to_spdlog(shoal::cp::LogLevel level) {
  using shoal::cp::LogLevel;
  switch (level) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

// Reports every problem of a config file on stderr, each line with its syslog priority when
// journald reads it; true if it can be run.
bool check(const shoal::cp::LoadResult& result, bool journal = false) {
  for (const std::string& w : result.warnings)
    std::fprintf(stderr, "%swarning: %s\n", journal ? SD_WARNING : "", w.c_str());
  for (const std::string& e : result.errors)
    std::fprintf(stderr, "%s%s\n", journal ? SD_ERR : "", e.c_str());
  return result.config.has_value();
}

// --state-dir, else systemd's StateDirectory= (the first, if it names several), else the
// default.
std::string state_dir(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("STATE_DIRECTORY");
  if (env != nullptr && *env != '\0') {
    const std::string dirs = env;
    return dirs.substr(0, dirs.find(':'));
  }
  return kDefaultStateDir;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shoal director: a userspace L4 load balancer on DPDK"};
  std::string config_path = kDefaultConfig, check_path, eal, state_dir_flag;
  app.add_option("-c,--config", config_path, "configuration file to run")
      ->check(CLI::ExistingFile)
      ->capture_default_str();
  app.add_option("--check", check_path, "validate a configuration file and exit")
      ->check(CLI::ExistingFile);
  app.add_option("--eal", eal, "EAL arguments, replacing the config's 'eal' list");
  app.add_option("--state-dir", state_dir_flag,
                 fmt::format("where the admin states outlive a restart [$STATE_DIRECTORY, else {}]",
                             kDefaultStateDir));
  CLI11_PARSE(app, argc, argv);

  if (!check_path.empty()) {
    if (!check(shoal::cp::load_config_file(check_path))) return 1;
    std::printf("%s: ok\n", check_path.c_str());
    return 0;
  }
  const bool journal = shoal::cp::is_journal_stream(std::getenv("JOURNAL_STREAM"), STDERR_FILENO);
  shoal::cp::LoadResult result = shoal::cp::load_config_file(config_path);
  if (!check(result, journal)) {
    std::fprintf(stderr, "%sshoald: %s: refused, nothing started\n", journal ? SD_ERR : "",
                 config_path.c_str());
    return 1;
  }
  shoal::cp::set_up_logging(journal, to_spdlog(result.config->log_level));

  std::vector<std::string> eal_args;
  std::istringstream words(eal);
  for (std::string w; words >> w;) eal_args.push_back(w);

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGHUP, SIGUSR1, SIGINT, SIGTERM}) sigaction(sig, &sa, nullptr);

  try {
    shoal::cp::Director director(std::move(*result.config), config_path, std::move(eal_args),
                                 state_dir(state_dir_flag));
    return director.run(g_signals);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
}

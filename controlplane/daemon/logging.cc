#include "daemon/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include <cinttypes>
#include <cstdio>

namespace shoal::cp {
namespace {

constexpr const char* kConsolePattern = "%Y-%m-%d %H:%M:%S.%e %^%l%$ %v";
constexpr const char* kJournalPattern = "%*%l %v";  // %*: the syslog priority

class SyslogPriorityFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string_view prefix = syslog_prefix(msg.level);
    dest.append(prefix.data(), prefix.data() + prefix.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SyslogPriorityFlag>();
  }
};

}  // namespace

bool is_journal_stream(const char* journal_stream, int fd) {
  if (journal_stream == nullptr) return false;
  uintmax_t device = 0, inode = 0;
  char end = 0;
  if (std::sscanf(journal_stream, "%" SCNuMAX ":%" SCNuMAX "%c", &device, &inode, &end) != 2)
    return false;
  struct stat st {};
  return fstat(fd, &st) == 0 && static_cast<uintmax_t>(st.st_dev) == device &&
         static_cast<uintmax_t>(st.st_ino) == inode;
}

std::string_view syslog_prefix(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::critical: return SD_CRIT;
    case spdlog::level::err: return SD_ERR;
    case spdlog::level::warn: return SD_WARNING;
    case spdlog::level::info: return SD_INFO;
    default: return SD_DEBUG;
  }
}

std::unique_ptr<spdlog::formatter> journal_formatter() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<SyslogPriorityFlag>('*').set_pattern(kJournalPattern);
  return formatter;
}

void set_up_logging(bool journal, spdlog::level::level_enum level) {
  if (journal) {
    // Replaces the default logger (colours on stdout): journald reads this stream, and
    // stderr is the one JOURNAL_STREAM was checked against.
    auto logger = std::make_shared<spdlog::logger>(
        "", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    spdlog::set_default_logger(std::move(logger));
    spdlog::set_formatter(journal_formatter());
  } else {
    spdlog::set_pattern(kConsolePattern);
  }
  spdlog::set_level(level);
}

}  // namespace shoal::cp

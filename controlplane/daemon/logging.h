// shoald's log. On a terminal or a file every line is
//   2024-05-01 12:00:00.123 info MESSAGE
// and under journald (stderr is the stream JOURNAL_STREAM names) it is
//   <6>info MESSAGE
// the syslog priority first, as sd-daemon(3) defines it, so that journald files the line under
// it (`journalctl -p err` finds the errors), and no timestamp: journald adds its own. What
// follows the timestamp is the same in both: tools and tests read it.
#pragma once

#include <spdlog/common.h>
#include <spdlog/formatter.h>

#include <memory>
#include <string_view>

namespace shoal::cp {

// Whether `journal_stream` (JOURNAL_STREAM's value, "DEVICE:INODE") names the file `fd` is
// open on. False if it is null or malformed.
bool is_journal_stream(const char* journal_stream, int fd);

// sd-daemon.h's prefix for a level: "<2>" critical, "<3>" error, "<4>" warning, "<6>" info,
// "<7>" debug and trace.
std::string_view syslog_prefix(spdlog::level::level_enum level);

// The formatter of journal lines.
std::unique_ptr<spdlog::formatter> journal_formatter();

// Sets up the default logger: to stderr in journal lines when `journal`, else as before (the
// console, with the timestamp).
void set_up_logging(bool journal, spdlog::level::level_enum level);

}  // namespace shoal::cp

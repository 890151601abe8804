// shoald's log lines under journald (controlplane/daemon/logging.cc): stderr is recognised by
// the device and inode JOURNAL_STREAM names, and each line then starts with its syslog
// priority and carries no timestamp, the rest of the line as on a console.
#include <catch2/catch.hpp>
#include <spdlog/details/log_msg.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "daemon/logging.h"

using shoal::cp::is_journal_stream;
using shoal::cp::journal_formatter;
using shoal::cp::set_up_logging;
using shoal::cp::syslog_prefix;

namespace {

std::string device_inode(int fd) {
  struct stat st {};
  REQUIRE(::fstat(fd, &st) == 0);
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

std::string journal_line(spdlog::level::level_enum level, const std::string& text) {
  const spdlog::details::log_msg msg("", level, text);
  spdlog::memory_buf_t out;
  journal_formatter()->format(msg, out);
  return std::string(out.data(), out.size());
}

}  // namespace

TEST_CASE("logging: JOURNAL_STREAM must name stderr's own file", "[logging]") {
  std::FILE* one = std::tmpfile();
  std::FILE* other = std::tmpfile();
  REQUIRE(one != nullptr);
  REQUIRE(other != nullptr);
  const std::string value = device_inode(fileno(one));
  CHECK(is_journal_stream(value.c_str(), fileno(one)));
  CHECK_FALSE(is_journal_stream(value.c_str(), fileno(other)));
  CHECK_FALSE(is_journal_stream(nullptr, fileno(one)));
  CHECK_FALSE(is_journal_stream("", fileno(one)));
  CHECK_FALSE(is_journal_stream((value + "x").c_str(), fileno(one)));
  CHECK_FALSE(is_journal_stream(value.substr(0, value.find(':')).c_str(), fileno(one)));
  CHECK_FALSE(is_journal_stream(value.c_str(), -1));
  std::fclose(one);
  std::fclose(other);
}

TEST_CASE("logging: journal lines carry the priority, not the time", "[logging]") {
  CHECK(syslog_prefix(spdlog::level::critical) == "<2>");
  CHECK(syslog_prefix(spdlog::level::err) == "<3>");
  CHECK(syslog_prefix(spdlog::level::warn) == "<4>");
  CHECK(syslog_prefix(spdlog::level::info) == "<6>");
  CHECK(syslog_prefix(spdlog::level::debug) == "<7>");
  CHECK(syslog_prefix(spdlog::level::trace) == "<7>");
  CHECK(journal_line(spdlog::level::err, "reload refused: 1 error(s)") ==
        "<3>error reload refused: 1 error(s)\n");
  CHECK(journal_line(spdlog::level::info, "shoald running") == "<6>info shoald running\n");
  CHECK(journal_line(spdlog::level::warn, "w") == "<4>warning w\n");
}

TEST_CASE("logging: set up for the journal, the default logger writes stderr", "[logging]") {
  const auto previous = spdlog::default_logger();
  const spdlog::level::level_enum previous_level = spdlog::get_level();
  std::FILE* captured = std::tmpfile();
  REQUIRE(captured != nullptr);
  std::fflush(stderr);
  const int saved_stderr = ::dup(STDERR_FILENO);
  REQUIRE(::dup2(fileno(captured), STDERR_FILENO) == STDERR_FILENO);

  set_up_logging(true, spdlog::level::info);
  spdlog::debug("not at this level");
  spdlog::info("first");
  spdlog::error("second");
  spdlog::default_logger()->flush();

  std::fflush(stderr);
  ::dup2(saved_stderr, STDERR_FILENO);
  ::close(saved_stderr);
  spdlog::set_default_logger(previous);
  spdlog::set_level(previous_level);

  std::rewind(captured);
  std::string text;
  char buf[256];
  while (std::fgets(buf, sizeof buf, captured) != nullptr) text += buf;
  std::fclose(captured);
  CHECK(text == "<6>info first\n<3>error second\n");
}

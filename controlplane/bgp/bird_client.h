// bird2's control socket, as birdc speaks to it: connect, read the banner, send one command,
// read the reply up to its last line. Each reply line starts with a four-digit code, followed
// by '-' when more lines follow and ' ' on the last one; a line starting with a space goes on
// the previous one. Codes 8000 and above are errors (runtime, then parse). Blocking, with a
// deadline: called from the announcer's own thread, never from the control loop.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::cp {

struct BirdLine {
  int code = 0;  // the code of the line, or of the line it continues
  std::string text;
};

struct BirdReply {
  std::vector<BirdLine> lines;  // the banner left out
  std::string error;            // set when the socket failed; lines are then incomplete
  bool ok() const { return error.empty() && !lines.empty() && lines.back().code < 8000; }
  // The text of the last line, or the socket's error: what to tell an operator.
  std::string summary() const;
};

BirdReply bird_command(const std::string& socket, std::string_view command,
                       std::chrono::milliseconds timeout);

// Parses lines of a reply as bird sends them ("1002-name ..."), for tests and for
// bird_command.
std::vector<BirdLine> parse_bird_lines(std::string_view text);

// One protocol of `show protocols`.
struct BirdProtocol {
  std::string name, proto, table, state, since, info;
};

// The rows of a `show protocols` reply (code 1002); the header (2002) is skipped.
std::vector<BirdProtocol> parse_bird_protocols(const std::vector<BirdLine>& lines);

}  // namespace shoal::cp

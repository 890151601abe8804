// A command the operator configured (a notify_* key, a tracked script): the text as written
// and the words it runs as. Commands run without a shell, like keepalived's: the text is split
// into words at blanks, a '...' or "..." string is one word (quotes removed), and a backslash
// outside single quotes takes the next character literally. An operator who wants pipes,
// redirections or variables writes the shell: `/bin/sh -c 'echo "$1" >> /var/log/vip'`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::cp::notify {

struct Command {
  std::string text;               // as written in the config; empty: no command
  std::vector<std::string> argv;  // split_words(text); argv[0] is searched in PATH

  bool empty() const { return argv.empty(); }
  bool operator==(const Command&) const = default;
};

// The words of `text`, or nullopt and why in `error` ("unterminated double quote").
std::optional<std::vector<std::string>> split_words(std::string_view text, std::string& error);

// A Command from its text, or nullopt and why in `error`; a text of blanks is an error too.
std::optional<Command> parse_command(std::string_view text, std::string& error);

}  // namespace shoal::cp::notify

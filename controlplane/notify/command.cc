#include "notify/command.h"

namespace shoal::cp::notify {
namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::optional<std::vector<std::string>> split_words(std::string_view text, std::string& error) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // a word has begun, possibly an empty quoted one ("")
  char quote = 0;        // the quote character we are inside, or 0
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote == '\'') {
      if (c == '\'') quote = 0;
      else word += c;
      continue;
    }
    if (c == '\\') {
      if (i + 1 == text.size()) {
        error = "a backslash ends the command (it escapes the character after it)";
        return std::nullopt;
      }
      word += text[++i];
      in_word = true;
      continue;
    }
    if (quote == '"') {
      if (c == '"') quote = 0;
      else word += c;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (blank(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != 0) {
    error = quote == '"' ? "unterminated double quote" : "unterminated single quote";
    return std::nullopt;
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

std::optional<Command> parse_command(std::string_view text, std::string& error) {
  auto words = split_words(text, error);
  if (!words) return std::nullopt;
  if (words->empty() || words->front().empty()) {
    error = "the command is empty (it needs at least a program to run)";
    return std::nullopt;
  }
  return Command{std::string(text), std::move(*words)};
}

}  // namespace shoal::cp::notify

#include "cli/import/source.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace shoal::cli::import {

std::string Source::where() const {
  return fmt::format("{}:{}", file, line);
}

std::string Source::describe() const {
  return text.empty() ? where() : fmt::format("{} {}", where(), text);
}

std::string Warning::describe() const {
  return at.text.empty() ? fmt::format("{}: {}", at.where(), text)
                         : fmt::format("{}: {}: {}", at.where(), at.text, text);
}

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace shoal::cli::import

// What the config tests ask of a load: its messages as one text for INFO(), and a file
// refused with exactly one error, on the expected line.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/config.h"

namespace shoal::test {

inline std::string lines_text(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// Exactly one error, at `prefix` ("t.yaml:LINE: "), mentioning `phrase`; the file refused.
inline void expect_load_error(const std::string& text, const std::string& prefix,
                              const std::string& phrase) {
  const cp::LoadResult r = cp::load_config_string(text, "t.yaml");
  INFO("errors:\n" << lines_text(r.errors));
  CHECK_FALSE(r.config.has_value());
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].rfind(prefix, 0) == 0);
  CHECK(r.errors[0].find(phrase) != std::string::npos);
}

}  // namespace shoal::test

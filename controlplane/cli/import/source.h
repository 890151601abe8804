// Where an imported part came from, and what the importer says about the parts it could not
// carry over: every warning names the file and line of its construct.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace shoal::cli::import {

struct Source {
  std::string file;  // as the operator knows it: the base name of the file
  int line = 0;
  std::string text;  // the statement, e.g. "virtual_server 10.0.0.10 80"

  // "keepalived.conf:12 virtual_server 10.0.0.10 80"
  std::string describe() const;
  // "keepalived.conf:12"
  std::string where() const;
};

struct Warning {
  Source at;
  std::string text;

  // "keepalived.conf:12: persistence_timeout 50: ..."
  std::string describe() const;
};

using Warnings = std::vector<Warning>;

// The whole text of a file, or nothing when it cannot be read.
std::optional<std::string> read_text(const std::string& path);

}  // namespace shoal::cli::import

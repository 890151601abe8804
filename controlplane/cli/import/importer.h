// `shoalctl import keepalived|ipvsadm FILE`: read, map, write; warnings on stderr.
#pragma once

#include <cstdio>
#include <string>

#include "cli/import/model.h"
#include "cli/import/yaml_writer.h"

namespace shoal::cli::import {

enum class SourceKind { keepalived, ipvsadm };

struct ImportOptions {
  std::string config_id;  // keepalived's -i
};

// The model, for tests and for run_import(); `errors` set when the source cannot be read whole.
Imported import_file(SourceKind kind, const std::string& path, const ImportOptions& options);

// Prints the YAML on `out` and "warning: FILE:LINE: ..." lines on `err`. Returns shoalctl's exit
// code: 0 done (warnings or not), 1 the source could not be read or parsed (no YAML printed).
int run_import(SourceKind kind, const std::string& path, const ImportOptions& options, FILE* out,
               FILE* err);

}  // namespace shoal::cli::import

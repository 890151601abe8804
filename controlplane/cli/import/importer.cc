#include "cli/import/importer.h"

#include <fmt/format.h>

#include <iostream>
#include <iterator>

#include "cli/import/ipvsadm_parser.h"
#include "cli/import/keepalived_parser.h"
#include "cli/import/mapper.h"

namespace shoal::cli::import {

Imported import_file(SourceKind kind, const std::string& path, const ImportOptions& options) {
  if (kind == SourceKind::keepalived) {
    KaParseOptions o;
    o.config_id = options.config_id;
    return map_keepalived(parse_keepalived_file(path, o), path);
  }
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    const auto read = read_text(path);
    if (!read) {
      Imported out;
      out.errors.push_back(fmt::format("{}: cannot read the file", path));
      return out;
    }
    text = *read;
  }
  const std::string name = path == "-" ? "stdin" : path.substr(path.find_last_of('/') + 1);
  return map_ipvsadm(parse_ipvsadm_text(text, name), path);
}

int run_import(SourceKind kind, const std::string& path, const ImportOptions& options, FILE* out,
               FILE* err) {
  const Imported imported = import_file(kind, path, options);
  for (const std::string& e : imported.errors) std::fprintf(err, "%s\n", e.c_str());
  if (!imported.errors.empty()) return 1;
  for (const Warning& w : imported.warnings)
    std::fprintf(err, "warning: %s\n", w.describe().c_str());
  const std::string yaml = write_yaml(imported);
  std::fwrite(yaml.data(), 1, yaml.size(), out);
  return 0;
}

}  // namespace shoal::cli::import

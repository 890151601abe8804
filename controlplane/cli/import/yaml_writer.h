// Shoal's YAML from the imported model, with a comment on each part naming its source line, and
// the placeholder port(s) that the operator must change: a DPDK device cannot be read from
// keepalived.conf or ipvsadm rules.
#pragma once

#include <string>

#include "cli/import/model.h"

namespace shoal::cli::import {

std::string write_yaml(const Imported& in);

// A YAML double-quoted scalar.
std::string yaml_quote(const std::string& s);

}  // namespace shoal::cli::import

// Shoal's YAML from the imported model, with a comment on each part naming its source line, and
// the placeholder port(s) that the operator must change: a DPDK device cannot be read from
// keepalived.conf or ipvsadm rules.
#pragma once

#include <string>

#include "cli/import/model.h"
#include "cli/import/scheduler.h"

namespace shoal::cli::import {

struct WriteOptions {
  // `scheduler: wlc` as a key (true) or as a comment that the loader skips (false).
  bool scheduler_key = kLoaderKnowsScheduler;
};

std::string write_yaml(const Imported& in, const WriteOptions& options = {});

// A YAML double-quoted scalar.
std::string yaml_quote(const std::string& s);

}  // namespace shoal::cli::import

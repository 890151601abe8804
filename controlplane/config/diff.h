// What a candidate config changes against the running one, in the operator's words: one
// line per change ("service web: backend rs4 10.0.0.14:80 added", "service web: backend rs2
// weight 1 -> 3"), for the API's validate/apply and the dashboard. Structural, not textual:
// comments, key order and formatting never show.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace shoal::cp {

std::vector<std::string> diff_configs(const Config& running, const Config& candidate);

}  // namespace shoal::cp

#include "cli/import/scheduler.h"

#include <algorithm>
#include <array>

namespace shoal::cli::import {

std::optional<std::string> scheduler_for(std::string_view lvs_name) {
  static constexpr std::array<std::string_view, 10> kNames = {"maglev", "rr", "wrr", "lc", "wlc",
                                                              "sed",    "nq", "sh",  "dh", "mh"};
  if (std::find(kNames.begin(), kNames.end(), lvs_name) == kNames.end()) return std::nullopt;
  return std::string(lvs_name);
}

}  // namespace shoal::cli::import

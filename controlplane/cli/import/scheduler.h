// LVS's scheduler names, as lb_algo (keepalived) and -s (ipvsadm) spell them, and shoal's
// `scheduler:` for each.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shoal::cli::import {

// The value of shoal's `scheduler:` for an LVS scheduler name, or nothing when shoal has no such
// scheduler (fo, ovf, lblc, lblcr...).
std::optional<std::string> scheduler_for(std::string_view lvs_name);

}  // namespace shoal::cli::import

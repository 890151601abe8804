// `notify:` — how the director runs the operator's notify commands and tracked scripts (see
// notify/runner.h). The commands themselves sit with what they are about: VRRP instances and
// sync groups, backends (and services, for their backends).
#pragma once

#include <cstdint>

namespace shoal::cp {

struct NotifySettings {
  uint32_t timeout_ms = 10 * 1000;  // a notify command still running then is killed
  uint32_t max_running = 32;        // commands and scripts at once; more are dropped (counted)
  bool operator==(const NotifySettings&) const = default;
};

}  // namespace shoal::cp

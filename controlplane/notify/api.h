// The notify feature's part of the control API: the tracked scripts' states in /v1/status
// ("vrrp_scripts"), and in /metrics how notify commands ended and whether each script is ok.
#pragma once

#include "api/registry.h"
#include "notify/notifier.h"
#include "notify/script_tracker.h"

namespace shoal::cp {

void register_notify_api(ApiRegistry& registry, const notify::Notifier& notifier,
                         const notify::ScriptTracker& scripts);

}  // namespace shoal::cp

// Connection sync's part of the control API: its state in /v1/status ("connection_sync") and
// its families in /metrics. Registered only when sync is configured.
#pragma once

#include "api/director_view.h"
#include "api/registry.h"
#include "sync/connection_sync.h"

namespace shoal::cp {

void register_sync_api(ApiRegistry& registry, const ConnectionSync& sync, const DirectorView& view);

}  // namespace shoal::cp

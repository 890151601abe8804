// VRRP's part of the control API: its instances in /v1/status ("vrrp") and its families in
// /metrics. Read from the runner on the control loop.
#pragma once

#include "api/registry.h"
#include "vrrp/runner.h"

namespace shoal::cp {

void register_vrrp_api(ApiRegistry& registry, const VrrpRunner& vrrp);

}  // namespace shoal::cp

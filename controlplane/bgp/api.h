// BGP announcement's part of the control API: GET /v1/bgp and the "bgp" section of
// /v1/status (each VIP: offered, in bird, announced; each BGP session as bird reports it),
// the operator's withdrawals (POST /v1/bgp/{withdraw|announce} for the whole director,
// POST /v1/bgp/vips/{vip}/{withdraw|announce} for one VIP) and the shoal_bgp_* families of
// /metrics. Registered only when `bgp:` is configured.
#pragma once

#include <functional>

#include "api/director_view.h"
#include "api/registry.h"
#include "bgp/announcer.h"

namespace shoal::cp {

// `changed`: called after the operator's word changed, so that the director offers anew.
void register_bgp_api(ApiRegistry& registry, BgpAnnouncer& bgp, const DirectorView& view,
                      std::function<void()> changed);

}  // namespace shoal::cp

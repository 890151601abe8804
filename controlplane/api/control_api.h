// The control API (`/v1/...`, JSON) of the director's own state; VRRP and connection sync
// register theirs beside it (vrrp/api.h, sync/api.h). HttpServer receives requests on its
// own thread and the director runs them on the control loop, so no handler needs a lock.
//
//   GET  /v1/status                                   node, version, uptime, counts, and
//                                                     each feature's section
//   GET  /v1/services                                 services, their backends and state
//   GET  /v1/services/{service}                       one of them
//   POST /v1/services/{service}/backends/{backend}/{enable|disable|drain}
//   POST /v1/services/{service}/backends/{backend}/weight   {"weight": N}
//   POST /v1/reload                                   reload the config file (like SIGHUP)
//   GET  /v1/counters                                 per worker and in total
//   GET  /v1/flows?[vip=IP][&client=IP][&limit=N]     a sample of the flow tables
//   GET  /v1/simulate?client=IP[:PORT]&vip=IP:PORT[&proto=tcp|udp]   where a new flow goes
//   GET  /v1/config, POST /v1/config/validate, POST /v1/config/apply   (YAML bodies)
//   GET  /metrics                                     Prometheus text format (metrics.h)
//
// Errors are {"error": "..."} with a 4xx/5xx status.
#pragma once

#include "api/director_view.h"
#include "api/metrics.h"
#include "api/registry.h"

namespace shoal::cp {

// /v1/status and /metrics, which show what every feature registered.
void register_status_api(ApiRegistry& registry, const DirectorView& view, const Metrics& metrics);
// Services and backends: their state, traffic and the operator's commands.
void register_services_api(ApiRegistry& registry, const DirectorView& view,
                           DirectorCommands& commands);
// The config file: view, validate, apply, reload.
void register_config_api(ApiRegistry& registry, const DirectorView& view,
                         DirectorCommands& commands);
// The dataplane: counters, flow samples, where a new flow would go.
void register_traffic_api(ApiRegistry& registry, const DirectorView& view,
                          DirectorCommands& commands);

}  // namespace shoal::cp

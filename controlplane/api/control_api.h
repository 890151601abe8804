// The control API (`/v1/...`, JSON), as the control loop answers it: the Director's running
// state read and changed from outside. HttpServer receives requests on its own thread and
// the Director runs handle() on the control loop, so nothing here needs a lock.
//
//   GET  /v1/status                                   node, version, uptime, counts
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

#include <nlohmann/json_fwd.hpp>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "api/http_server.h"

namespace shoal::cp {

class Director;

class ControlApi {
 public:
  explicit ControlApi(Director& director) : director_(director) {}
  HttpResponse handle(const HttpRequest& request);

 private:
  HttpResponse status() const;
  HttpResponse services(const HttpRequest& request, const std::vector<std::string_view>& path);
  HttpResponse reload();
  HttpResponse config(const HttpRequest& request, const std::vector<std::string_view>& path);
  nlohmann::json service_json(const ServiceConfig& svc) const;
  nlohmann::json backend_json(const ServiceConfig& svc, const BackendConfig& b) const;
  // Which backend a new flow from CLIENT[:PORT] to VIP:PORT/PROTO goes to, and why.
  HttpResponse simulate(const HttpRequest& request);
  // A bounded sample of the workers' flows, by VIP or client.
  HttpResponse flows(const HttpRequest& request);

  Director& director_;
};

}  // namespace shoal::cp

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
//
// Errors are {"error": "..."} with a 4xx/5xx status.
#pragma once

#include "http_server.h"

namespace shoal::cp {

class Director;

class ControlApi {
 public:
  explicit ControlApi(Director& director) : director_(director) {}
  HttpResponse handle(const HttpRequest& request);

 private:
  Director& director_;
};

}  // namespace shoal::cp

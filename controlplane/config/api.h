// `api:` — where the control API and the dashboard listen.
#pragma once

#include <string>

namespace shoal::cp {

inline constexpr const char* kDefaultApiSocket = "/run/shoal/shoald.sock";

struct ApiConfig {
  std::string socket = kDefaultApiSocket;  // Unix socket of the control API (mode 0600)
  // "a.b.c.d:port" or "[v6]:port": the API and dashboard over TCP too; empty: not.
  std::string listen;
  std::string token_file;  // required with `listen`: the token that logs in
  std::string dashboard;   // the dashboard's files; empty: the ones built in (SHOAL_DASHBOARD_DIR)
  // "a.b.c.d:port" or "[v6]:port": GET /metrics alone, without a token, for Prometheus;
  // empty: not served. It reveals counters and names, never changes anything.
  std::string metrics_listen;
};

}  // namespace shoal::cp

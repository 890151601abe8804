// `api:` — where the control API and the dashboard listen. Nothing to check across the file.
#include "config/loader.h"

namespace shoal::cp::config_loader {
namespace {

constexpr std::string_view kApiKeys[] = {"socket", "listen", "token_file", "dashboard",
                                         "metrics_listen"};

}  // namespace

void Loader::parse_api(const Field& field) {
  Map m(*this, field.value, field.line, "'api'", kApiKeys);
  if (!m.ok()) return;
  if (const Field* f = m.get("socket"))
    if (auto s = string(*f)) {
      if (s->empty() || s->front() != '/' || s->size() >= 108)
        error(f->line, fmt::format("'socket' must be an absolute path shorter than 108 "
                                   "characters, got '{}'",
                                   *s));
      else
        config_.api.socket = *s;
    }
  if (const Field* f = m.get("listen"))
    if (auto s = string(*f)) {
      if (parse_ip_endpoint(*s))
        config_.api.listen = *s;
      else
        error(f->line, fmt::format("'listen' must be address:port (e.g. 127.0.0.1:8080 or "
                                   "[::1]:8080), got '{}'",
                                   *s));
      if (!m.get("token_file"))
        error(f->line, "'listen' needs 'token_file': the API over TCP is never open to all");
    }
  if (const Field* f = m.get("metrics_listen"))
    if (auto s = string(*f)) {
      const auto endpoint = parse_ip_endpoint(*s);
      if (!endpoint)
        error(f->line, fmt::format("'metrics_listen' must be address:port (e.g. 0.0.0.0:9469 or "
                                   "[::]:9469), got '{}'",
                                   *s));
      else if (endpoint == parse_ip_endpoint(config_.api.listen))
        error(f->line, fmt::format("'metrics_listen' and 'listen' are both {}: the token-free "
                                   "metrics need an address of their own",
                                   endpoint_string(endpoint->first, endpoint->second)));
      else
        config_.api.metrics_listen = *s;
    }
  for (auto [key, field] : {std::pair{"token_file", &config_.api.token_file},
                            std::pair{"dashboard", &config_.api.dashboard}})
    if (const Field* f = m.get(key))
      if (auto s = string(*f)) {
        if (s->empty() || s->front() != '/')
          error(f->line, fmt::format("'{}' must be an absolute path, got '{}'", key, *s));
        else
          *field = *s;
      }
}

}  // namespace shoal::cp::config_loader

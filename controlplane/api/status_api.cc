#include <unistd.h>

#include <nlohmann/json.hpp>

#include "api/control_api.h"

namespace shoal::cp {

void register_status_api(ApiRegistry& registry, const DirectorView& view, const Metrics& metrics) {
  registry.routes().add("GET", "/v1/status", [&registry, &view](const HttpRequest&, const PathParams&) {
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    nlohmann::json out = registry.status();
    const Config& config = view.config();
    out["node"] = host;
    out["version"] = SHOAL_VERSION;
    out["pid"] = getpid();
    out["uptime_seconds"] = std::chrono::duration<double>(view.uptime()).count();
    out["config"] = view.config_path();
    out["services"] = config.services.size();
    out["backends"] = config.backend_count();
    out["workers"] = config.workers.count;
    return json_response(200, out.dump());
  });
  registry.routes().add("GET", "/metrics", [&registry, &metrics](const HttpRequest&, const PathParams&) {
    return HttpResponse{200, metrics.render(registry), "text/plain; version=0.0.4; charset=utf-8"};
  });
  registry.metric_families([&view](MetricFamilies& f) {
    f.gauge("shoal_uptime_seconds", "Seconds since shoald started", {},
            std::chrono::duration<double>(view.uptime()).count());
  });
}

}  // namespace shoal::cp

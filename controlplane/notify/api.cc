#include "notify/api.h"

namespace shoal::cp {
namespace {

using nlohmann::json;

json scripts_json(const notify::ScriptTracker& scripts) {
  json out = json::array();
  for (const notify::ScriptTracker::Script& s : scripts.scripts())
    out.push_back({{"name", s.config.name},
                   {"command", s.config.command.text},
                   {"state", s.state.ok() ? "ok" : "failing"},
                   {"running", s.running},
                   {"runs", s.runs},
                   {"last_result", s.last_result},
                   {"last_exit", s.last_exit},
                   {"interval", s.config.interval_ms / 1000.0},
                   {"timeout", s.config.timeout_ms / 1000.0},
                   {"rise", s.config.rise},
                   {"fall", s.config.fall},
                   {"weight", s.config.weight}});
  return out;
}

void add_metrics(const notify::Notifier& notifier, const notify::ScriptTracker& scripts,
                 MetricFamilies& f) {
  for (std::size_t o = 0; o < notify::kOutcomeCount; ++o)
    f.counter("shoal_notify_runs_total",
              "Notify commands fired, by how they ended (dropped: too many running)",
              {{"result", notify::name(static_cast<notify::Outcome>(o))}},
              static_cast<double>(notifier.runs()[o]));
  for (const notify::ScriptTracker::Script& s : scripts.scripts()) {
    f.gauge("shoal_vrrp_script_ok", "1 while the tracked VRRP script is ok, 0 while failing",
            {{"script", s.config.name}}, s.state.ok() ? 1 : 0);
    f.counter("shoal_vrrp_script_runs_total", "Runs of the tracked VRRP script",
              {{"script", s.config.name}}, static_cast<double>(s.runs));
  }
}

}  // namespace

void register_notify_api(ApiRegistry& registry, const notify::Notifier& notifier,
                         const notify::ScriptTracker& scripts) {
  registry.status_section("vrrp_scripts", [&scripts] { return scripts_json(scripts); });
  registry.metric_families(
      [&notifier, &scripts](MetricFamilies& f) { add_metrics(notifier, scripts, f); });
}

}  // namespace shoal::cp

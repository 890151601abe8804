#include "sync/api.h"

namespace shoal::cp {
namespace {

void add_metrics(const ConnectionSync& sync, uint64_t claimed, MetricFamilies& f) {
  const SyncCounters& c = sync.counters();
  const char* flows_help = "Connection sync: flows sent, received and what became of them";
  for (auto [what, n] : {std::pair{"sent", c.flows_sent}, std::pair{"received", c.flows_received},
                         std::pair{"installed", c.installed}, std::pair{"removed", c.removed},
                         std::pair{"aged", c.aged}, std::pair{"claimed", claimed},
                         std::pair{"lost", sync.events_lost()}})
    f.counter("shoal_sync_flows_total", flows_help, {{"event", what}}, static_cast<double>(n));
  f.counter("shoal_sync_messages_total", "Connection sync datagrams", {{"direction", "sent"}},
            static_cast<double>(c.messages_sent));
  f.counter("shoal_sync_messages_total", "Connection sync datagrams", {{"direction", "received"}},
            static_cast<double>(c.messages_received));
  f.counter("shoal_sync_messages_missed_total",
            "Connection sync datagrams lost on the way (gaps in the peers' sequence numbers)", {},
            static_cast<double>(c.messages_missed));
  for (std::size_t r = 0; r < kSyncDropCount; ++r)
    f.counter("shoal_sync_drops_total", "Connection sync datagrams or entries dropped, by reason",
              {{"reason", std::string(name(static_cast<SyncDrop>(r)))}},
              static_cast<double>(c.drops[r]));
  f.gauge("shoal_sync_table_flows", "Flows peers pinned, held for a takeover", {},
          sync.table_size());
  f.gauge("shoal_sync_pull_done", "1 once this director's pull of its peers' flows is over", {},
          sync.pull_settled() ? 1 : 0);
}

}  // namespace

void register_sync_api(ApiRegistry& registry, const ConnectionSync& sync, const DirectorView& view) {
  // Flows claimed are the workers' count: a peer's flow seen here first after a takeover.
  registry.status_section("connection_sync", [&sync, &view] {
    return sync.status(view.counters().total.flows_claimed);
  });
  registry.metric_families([&sync, &view](MetricFamilies& f) {
    add_metrics(sync, view.counters().total.flows_claimed, f);
  });
}

}  // namespace shoal::cp

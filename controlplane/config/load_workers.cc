// `workers:` — the forwarding lcores and their flow tables. Nothing to check across the file;
// connection_sync reads the timeouts in its own second pass.
#include "config/loader.h"

namespace shoal::cp::config_loader {
namespace {

constexpr std::string_view kWorkerKeys[] = {"count", "flow_table_size", "flow_timeouts",
                                            "persistence_table_size"};
constexpr std::string_view kTimeoutKeys[] = {"syn", "established", "closing", "udp"};

}  // namespace

void Loader::parse_workers(const Field& field) {
  Map m(*this, field.value, field.line, "'workers'", kWorkerKeys);
  if (!m.ok()) return;
  WorkersConfig& w = config_.workers;
  if (const Field* f = m.get("count"))
    if (auto v = integer(*f, 1, kMaxWorkers)) w.count = static_cast<uint32_t>(*v);
  if (const Field* f = m.get("flow_table_size"))
    if (auto v = integer(*f, kMinFlowTableSize, kMaxFlowTableSize))
      w.flow_table_size = static_cast<uint32_t>(*v);
  if (const Field* f = m.get("persistence_table_size"))
    if (auto v = integer(*f, kMinPersistenceTableSize, kMaxPersistenceTableSize))
      w.persistence_table_size = static_cast<uint32_t>(*v);
  if (const Field* f = m.get("flow_timeouts")) {
    Map t(*this, f->value, f->line, "'flow_timeouts'", kTimeoutKeys);
    if (!t.ok()) return;
    const std::pair<std::string_view, uint32_t*> timeouts[] = {
        {"syn", &w.flow_timeouts.syn_ms},
        {"established", &w.flow_timeouts.established_ms},
        {"closing", &w.flow_timeouts.closing_ms},
        {"udp", &w.flow_timeouts.udp_ms}};
    for (const auto& [key, ms] : timeouts)
      if (const Field* g = t.get(key))
        if (auto v = integer(*g, 1, kMaxFlowTimeoutSeconds)) *ms = static_cast<uint32_t>(*v * 1000);
  }
}

}  // namespace shoal::cp::config_loader

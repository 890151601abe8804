// `connection_sync:` — read in the first pass; in the second, its port resolved by name and
// the defaults that depend on `workers:` filled in.
#include <algorithm>

#include "config/loader.h"

namespace shoal::cp::config_loader {
namespace {

constexpr std::string_view kSyncKeys[] = {"port",       "group",   "udp_port",    "id",
                                          "table_size", "refresh", "pull_timeout"};
constexpr uint32_t kMaxSyncPullTimeoutMs = 60 * 1000;

}  // namespace

void Loader::parse_connection_sync(const Field& field) {
  ConnectionSyncSettings& c = config_.connection_sync;
  c.enabled = true;
  // `connection_sync: {}` (or an empty key) turns it on with every default.
  if (field.value.IsNull()) return;
  Map m(*this, field.value, field.line, "'connection_sync'", kSyncKeys);
  if (!m.ok()) return;
  if (const Field* f = m.get("port")) {
    sync_port_line_ = f->line;
    if (auto s = string(*f)) sync_port_name_ = *s;
  }
  if (const Field* f = m.get("group"))
    if (auto text = string(*f)) {
      const std::optional<uint32_t> ip = parse_ipv4(*text);
      if (!ip || (*ip & 0xf0) != 0xe0)  // first octet 224..239
        error(f->line, fmt::format("'group' must be an IPv4 multicast address (224.0.0.0/4), "
                                   "got '{}'",
                                   *text));
      else
        c.group = *ip;
    }
  if (const Field* f = m.get("udp_port"))
    if (auto v = integer(*f, 1, 65535)) c.udp_port = static_cast<uint16_t>(*v);
  if (const Field* f = m.get("id"))
    if (auto v = integer(*f, 0, 255)) c.id = static_cast<uint8_t>(*v);
  if (const Field* f = m.get("table_size"))
    if (auto v = integer(*f, kMinFlowTableSize, kMaxFlowTableSize))
      c.table_size = static_cast<uint32_t>(*v);
  if (const Field* f = m.get("refresh")) {
    sync_refresh_line_ = f->line;
    if (auto v = seconds(*f, 1000, kMaxSyncRefreshMs)) c.refresh_ms = *v;
  }
  if (const Field* f = m.get("pull_timeout"))
    if (auto v = seconds(*f, 0, kMaxSyncPullTimeoutMs)) c.pull_timeout_ms = *v;
}

void Loader::check_connection_sync() {
  ConnectionSyncSettings& c = config_.connection_sync;
  if (!c.enabled) return;
  if (!sync_port_name_.empty()) {
    if (auto port = port_index(sync_port_name_))
      c.port = *port;
    else
      error(sync_port_line_, fmt::format("connection_sync: no port named '{}'", sync_port_name_));
  }
  const dp::FlowTimeouts& t = config_.workers.flow_timeouts;
  const uint32_t half = std::min(t.established_ms, t.udp_ms) / 2;
  if (c.refresh_ms == 0)
    c.refresh_ms = std::max<uint32_t>(1000, std::min<uint32_t>(60'000, half));
  else if (c.refresh_ms > half)
    error(sync_refresh_line_,
          fmt::format("connection_sync: 'refresh' ({} s) must be at most half the established "
                      "and udp flow timeouts ({} s), or peers drop active flows between "
                      "refreshes",
                      c.refresh_ms / 1000.0, half / 1000.0));
  if (c.table_size == 0)
    c.table_size = static_cast<uint32_t>(std::min<uint64_t>(
        kMaxFlowTableSize, uint64_t(config_.workers.count) * config_.workers.flow_table_size));
}

}  // namespace shoal::cp::config_loader

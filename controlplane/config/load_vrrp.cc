// `vrrp:` — instances and sync groups read in the first pass; in the second, names unique,
// ports resolved, a vrid once per port and family, each instance of one family, each address
// carried by one instance and reachable,
// tracked items configured, each instance in one sync group at most.
#include <algorithm>
#include <charconv>
#include <set>
#include <tuple>

#include "config/loader.h"

namespace shoal::cp::config_loader {
namespace {

constexpr std::string_view kVrrpKeys[] = {"instances", "sync_groups", "scripts"};
constexpr std::string_view kVrrpInstanceKeys[] = {
    "name",          "vrid",          "priority",     "interval",    "preempt",
    "preempt_delay", "virtual_mac",   "v2_checksum",  "port",        "addresses",
    "garp",          "track",         "notify_master", "notify_backup", "notify_fault",
    "notify_stop",   "notify"};
constexpr std::string_view kVrrpGarpKeys[] = {"count", "interval", "refresh"};
constexpr std::string_view kVrrpTrackKeys[] = {"services", "ports", "scripts"};
constexpr std::string_view kVrrpTrackItemKeys[] = {"name", "weight"};
constexpr std::string_view kVrrpGroupKeys[] = {"name",         "instances",   "notify_master",
                                               "notify_backup", "notify_fault", "notify_stop",
                                               "notify"};
constexpr std::string_view kVrrpScriptKeys[] = {"name", "command", "interval", "timeout",
                                                "rise", "fall",    "weight"};
constexpr uint32_t kMaxScriptIntervalMs = 3600 * 1000;
constexpr uint64_t kMaxRiseFall = 100;
constexpr uint64_t kMaxVrrpIntervalCs = 4095;  // 12 bits on the wire
constexpr uint32_t kMaxPreemptDelayMs = 3600 * 1000;
constexpr uint32_t kMaxGarpCount = 100;
constexpr uint32_t kMaxGarpIntervalMs = 10 * 1000;
constexpr uint32_t kMaxGarpRefreshMs = 24 * 3600 * 1000;
constexpr size_t kMaxVrrpAddresses = 255;  // the advertisement's count field has 8 bits

}  // namespace

void Loader::parse_vrrp(const Field& field) {
  Map m(*this, field.value, field.line, "'vrrp'", kVrrpKeys);
  if (!m.ok()) return;
  if (const Field* f = m.require("instances"))
    each_item(*f, "'instances' must list at least one VRRP instance", &Loader::parse_vrrp_instance);
  if (const Field* f = m.get("sync_groups")) each_item(*f, nullptr, &Loader::parse_vrrp_group);
  if (const Field* f = m.get("scripts")) each_item(*f, nullptr, &Loader::parse_vrrp_script);
}

// keepalived's weight: -254..254, added to the priority (see VrrpTrackConfig).
std::optional<int32_t> Loader::track_weight(const Field& f) {
  int64_t w = 0;
  const std::string text = f.value.IsScalar() ? f.value.Scalar() : "";
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), w);
  if (!text.empty() && ec == std::errc() && end == text.data() + text.size() && w >= -254 &&
      w <= 254)
    return static_cast<int32_t>(w);
  error(f.line, fmt::format("'weight' must be an integer in -254..254 (added to the priority: "
                            "a negative one while the item is down, a positive one while it "
                            "is up; 0 = fault while down), got {}",
                            f.value.IsScalar() ? quoted(text) : describe(f.value)));
  return std::nullopt;
}

void Loader::parse_vrrp_script(const YAML::Node& node, int line) {
  auto [sc, rec, m] = append_item(node, line, "a VRRP script", kVrrpScriptKeys,
                                  config_.vrrp.scripts, vrrp_scripts_);
  if (!m.ok()) return;
  rec.name_ok = name(m, "VRRP script", sc.name, rec.name_line);
  if (const Field* f = m.require("command"))
    if (auto c = notify_command(*f)) sc.command = std::move(*c);
  if (const Field* f = m.get("interval"))
    if (auto x = seconds(*f, 10, kMaxScriptIntervalMs)) sc.interval_ms = *x;
  if (const Field* f = m.get("timeout")) {
    rec.timeout_line = f->line;
    if (auto x = seconds(*f, 10, kMaxScriptIntervalMs)) sc.timeout_ms = *x;
  }
  if (const Field* f = m.get("rise"))
    if (auto x = integer(*f, 1, kMaxRiseFall)) sc.rise = static_cast<uint32_t>(*x);
  if (const Field* f = m.get("fall"))
    if (auto x = integer(*f, 1, kMaxRiseFall)) sc.fall = static_cast<uint32_t>(*x);
  if (const Field* f = m.get("weight"))
    if (auto w = track_weight(*f)) sc.weight = *w;
}

void Loader::parse_vrrp_instance(const YAML::Node& node, int line) {
  auto [v, rec, m] =
      append_item(node, line, "a VRRP instance", kVrrpInstanceKeys, config_.vrrp.instances, vrrp_);
  if (!m.ok()) return;
  rec.name_ok = name(m, "VRRP instance", v.name, rec.name_line);
  if (const Field* f = m.require("vrid")) {
    rec.vrid_line = f->line;
    if (auto x = integer(*f, 1, 255)) v.vrid = static_cast<uint8_t>(*x), rec.vrid_ok = true;
  }
  if (const Field* f = m.get("priority"))
    if (auto x = integer(*f, 1, 255)) v.priority = static_cast<uint8_t>(*x);
  if (const Field* f = m.get("interval")) {
    // Centiseconds on the wire: at most 2 decimals.
    const auto cs = f->value.IsScalar() ? parse_decimal(f->value.Scalar(), 100, 2) : std::nullopt;
    if (cs && *cs >= 1 && *cs <= kMaxVrrpIntervalCs)
      v.interval_cs = static_cast<uint16_t>(*cs);
    else
      error(f->line,
            fmt::format("'interval' must be a number of seconds in 0.01..40.95 "
                        "with at most 2 decimals (advertisements count "
                        "centiseconds), got {}",
                        f->value.IsScalar() ? quoted(f->value.Scalar()) : describe(f->value)));
  }
  if (const Field* f = m.get("preempt"))
    if (auto x = boolean(*f)) v.preempt = *x;
  if (const Field* f = m.get("preempt_delay"))
    if (auto x = seconds(*f, 0, kMaxPreemptDelayMs)) v.preempt_delay_ms = *x;
  if (const Field* f = m.get("virtual_mac"))
    if (auto x = boolean(*f)) v.virtual_mac = *x;
  if (const Field* f = m.get("v2_checksum"))
    if (auto x = boolean(*f)) v.v2_checksum = *x;
  if (const Field* f = m.get("port")) {
    rec.port_line = f->line;
    if (auto s = string(*f)) rec.port_name = *s, rec.port_ok = true;
  }
  if (const Field* f = m.require("addresses")) {
    if (auto items = list(*f)) {
      if (items->empty() || items->size() > kMaxVrrpAddresses)
        error(f->line, fmt::format("'addresses' must list 1..{} addresses (the VIPs this "
                                   "instance carries), got {}",
                                   kMaxVrrpAddresses, items->size()));
      for (const auto& item : *items) {
        const int item_line = line_of(item, f->line);
        if (auto ip = ip_address(item, item_line, "each VRRP address")) {
          v.addresses.push_back(*ip);
          rec.address_lines.push_back(item_line);
        }
      }
    }
  }
  if (const Field* f = m.get("garp")) {
    Map g(*this, f->value, f->line, "'garp'", kVrrpGarpKeys);
    if (g.ok()) {
      if (const Field* c = g.get("count"))
        if (auto x = integer(*c, 0, kMaxGarpCount)) v.garp_count = static_cast<uint32_t>(*x);
      if (const Field* c = g.get("interval"))
        if (auto x = seconds(*c, 0, kMaxGarpIntervalMs)) v.garp_interval_ms = *x;
      if (const Field* c = g.get("refresh"))
        if (auto x = seconds(*c, 0, kMaxGarpRefreshMs)) v.garp_refresh_ms = *x;
    }
  }
  if (const Field* f = m.get("track")) {
    Map t(*this, f->value, f->line, "'track'", kVrrpTrackKeys);
    if (t.ok()) {
      if (const Field* g = t.get("services")) parse_vrrp_tracks(*g, VrrpTrackKind::service, v, rec);
      if (const Field* g = t.get("ports")) parse_vrrp_tracks(*g, VrrpTrackKind::port, v, rec);
      if (const Field* g = t.get("scripts")) parse_vrrp_tracks(*g, VrrpTrackKind::script, v, rec);
    }
  }
  vrrp_notify_commands(m, v.notify);
}

// Each item is a name (weight 0: fault while down) or {name, weight}.
void Loader::parse_vrrp_tracks(const Field& field, VrrpTrackKind kind, VrrpInstanceSettings& v,
                               VrrpInstanceRec& rec) {
  each_item(field, nullptr, [&](const YAML::Node& item, int line) {
    VrrpTrackConfig t;
    t.kind = kind;
    VrrpTrackRec tr{line, false, false};
    if (item.IsScalar()) {
      t.name = item.Scalar();
      tr.ok = !t.name.empty();
      if (!tr.ok) error(line, fmt::format("each tracked {} must be named", to_string(kind)));
    } else {
      Map m(*this, item, line, fmt::format("a tracked {}", to_string(kind)), kVrrpTrackItemKeys);
      if (m.ok()) {
        if (const Field* f = m.require("name"))
          if (auto s = string(*f)) t.name = *s, tr.ok = true;
        if (const Field* f = m.get("weight")) {
          tr.weight_given = true;
          if (auto w = track_weight(*f)) t.weight = *w;
        }
      }
    }
    v.tracks.push_back(std::move(t));
    rec.tracks.push_back(tr);
  });
}

void Loader::parse_vrrp_group(const YAML::Node& node, int line) {
  auto [g, rec, m] = append_item(node, line, "a VRRP sync group", kVrrpGroupKeys,
                                 config_.vrrp.sync_groups, vrrp_groups_);
  if (!m.ok()) return;
  rec.name_ok = name(m, "sync group", g.name, rec.name_line);
  if (const Field* f = m.require("instances"))
    each_item(*f, "'instances' must name at least one VRRP instance",
              [&](const YAML::Node& item, int item_line) {
                if (auto s = string(item, item_line, "each sync group member")) {
                  g.instances.push_back(*s);
                  rec.member_lines.push_back(item_line);
                }
              });
  vrrp_notify_commands(m, g.notify);
}

void Loader::check_vrrp() {
  check_vrrp_scripts();
  std::map<std::string, int> names;
  // RFC 9568 keeps the families apart: one VRID may name an IPv4 and an IPv6 router on a port.
  std::map<std::tuple<size_t, bool, uint8_t>, std::pair<std::string, int>> vrids;
  std::map<IpAddress, std::pair<std::string, int>> carried;  // address → instance, line
  std::set<IpAddress> vips;
  for (const ServiceConfig& s : config_.services) vips.insert(s.vip);
  for (size_t i = 0; i < config_.vrrp.instances.size(); ++i) {
    VrrpInstanceSettings& v = config_.vrrp.instances[i];
    const VrrpInstanceRec& r = vrrp_[i];
    const std::string label =
        r.name_ok ? fmt::format("VRRP instance '{}'", v.name) : "VRRP instance";
    if (r.name_ok) unique_name(names, v.name, r.name_line, "VRRP instance");
    // The family is the first address's; an instance that mixes is refused at the first
    // address of the other family.
    const bool ipv6 = !v.addresses.empty() && v.addresses.front().is_v6();
    bool port_known = true;
    if (r.port_ok) {
      if (auto port = port_index(r.port_name)) {
        v.port = *port;
        if (!ipv6 && !v.addresses.empty() && config_.ports[v.port].addresses.empty())
          error(r.port_line, fmt::format("{}: port '{}' has no IPv4 address to send IPv4 "
                                         "advertisements from",
                                         label, r.port_name));
      } else {
        error(r.port_line, fmt::format("{}: no port named '{}'", label, r.port_name));
        port_known = false;
      }
    }
    if (r.vrid_ok && port_known && !v.addresses.empty()) {
      auto [it, fresh] =
          vrids.emplace(std::tuple{v.port, ipv6, v.vrid}, std::pair{v.name, r.vrid_line});
      if (!fresh)
        error(r.vrid_line, fmt::format("{}: vrid {} is already used for {} on this port by "
                                       "VRRP instance '{}' (line {})",
                                       label, v.vrid, family_name(v.addresses.front()),
                                       it->second.first,
                                       it->second.second));
    }
    for (size_t a = 0; a < v.addresses.size(); ++a) {
      const IpAddress& ip = v.addresses[a];
      const int line = r.address_lines[a];
      const std::string text = to_string(ip);
      if (ip.is_v6() != ipv6) {
        error(line, fmt::format("{}: {} is an {} address in an {} instance; a virtual router "
                                "carries one family (RFC 9568): give the other family an "
                                "instance of its own",
                                label, text, family_name(ip),
                                family_name(v.addresses.front())));
        continue;
      }
      if (auto it = locals_.find(ip); it != locals_.end()) {
        error(line, fmt::format("{}: {} is a local address of port '{}' (line {}); an "
                                "instance carries addresses the directors pass between them",
                                label, text, it->second.port, it->second.line));
        continue;
      }
      auto [it, fresh] = carried.emplace(ip, std::pair{v.name, line});
      if (!fresh) {
        error(line, fmt::format("{}: {} is already carried by VRRP instance '{}' (line {}); "
                                "an address belongs to one instance at most",
                                label, text, it->second.first, it->second.second));
        continue;
      }
      // An address that is no service's VIP is held for ARP's (ND's) sake, a gateway: it
      // must be on one of our segments.
      if (!vips.count(ip) && network_known_ && !on_link(ip))
        error(line, fmt::format("{}: {} is neither a service VIP nor inside a port's subnet; "
                                "an extra address is answered for by {}, so it must be "
                                "on-link",
                                label, text, ipv6 ? "Neighbour Discovery" : "ARP"));
    }
    for (size_t t = 0; t < v.tracks.size(); ++t) {
      const VrrpTrackConfig& tc = v.tracks[t];
      if (!r.tracks[t].ok) continue;
      bool known = false;
      switch (tc.kind) {
        case VrrpTrackKind::service:
          known = std::any_of(config_.services.begin(), config_.services.end(),
                              [&](const ServiceConfig& s) { return s.name == tc.name; });
          break;
        case VrrpTrackKind::port: known = port_index(tc.name).has_value(); break;
        case VrrpTrackKind::script:
          for (const VrrpScriptConfig& sc : config_.vrrp.scripts)
            if (sc.name == tc.name) {
              known = true;
              if (!r.tracks[t].weight_given) v.tracks[t].weight = sc.weight;
            }
          break;
      }
      if (!known)
        error(r.tracks[t].line, fmt::format("{}: tracks {} '{}', which is not configured", label,
                                            to_string(tc.kind), tc.name));
    }
  }

  std::map<std::string, std::pair<std::string, int>> member_of;
  std::map<std::string, int> group_names;
  for (size_t g = 0; g < config_.vrrp.sync_groups.size(); ++g) {
    const VrrpSyncGroupSettings& sg = config_.vrrp.sync_groups[g];
    const VrrpGroupRec& r = vrrp_groups_[g];
    if (r.name_ok) unique_name(group_names, sg.name, r.name_line, "sync group");
    for (size_t k = 0; k < sg.instances.size(); ++k) {
      const std::string& member = sg.instances[k];
      const int line = r.member_lines[k];
      if (!names.count(member)) {
        error(line, fmt::format("sync group '{}': no VRRP instance named '{}'", sg.name, member));
        continue;
      }
      auto [it, fresh] = member_of.emplace(member, std::pair{sg.name, line});
      if (!fresh)
        error(line, fmt::format("sync group '{}': VRRP instance '{}' is already a member of "
                                "sync group '{}' (line {})",
                                sg.name, member, it->second.first, it->second.second));
    }
  }
}

// Names unique; a timeout not given is the interval, and one longer than the interval is
// refused: the next run would be due while this one may still be going.
void Loader::check_vrrp_scripts() {
  std::map<std::string, int> names;
  for (size_t i = 0; i < config_.vrrp.scripts.size(); ++i) {
    VrrpScriptConfig& sc = config_.vrrp.scripts[i];
    const VrrpScriptRec& r = vrrp_scripts_[i];
    if (r.name_ok) unique_name(names, sc.name, r.name_line, "VRRP script");
    if (r.timeout_line == 0) sc.timeout_ms = sc.interval_ms;
    const bool tracked = std::any_of(
        config_.vrrp.instances.begin(), config_.vrrp.instances.end(), [&](const auto& v) {
          return std::any_of(v.tracks.begin(), v.tracks.end(), [&](const VrrpTrackConfig& t) {
            return t.kind == VrrpTrackKind::script && t.name == sc.name;
          });
        });
    if (r.name_ok && !tracked)
      warn(r.name_line, fmt::format("VRRP script '{}' is tracked by no instance: it runs, but "
                                    "changes no priority",
                                    sc.name));
    if (sc.timeout_ms > sc.interval_ms)
      error(r.timeout_line,
            fmt::format("VRRP script '{}': its timeout ({} s) is longer than its interval ({} s); "
                        "a run must end before the next is due",
                        sc.name, seconds_text(sc.timeout_ms), seconds_text(sc.interval_ms)));
  }
}

}  // namespace shoal::cp::config_loader

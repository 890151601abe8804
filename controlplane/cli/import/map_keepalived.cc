// keepalived.conf → shoal's model. A keyword this file does not name is never dropped in
// silence: it becomes a warning with its line.
#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "cli/import/mapper.h"
#include "cli/import/scheduler.h"

namespace shoal::cli::import {
namespace {

using detail::warn;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A name shoal accepts (lower-case letters, digits, '_' and '-').
std::string shoal_name(const std::string& s) {
  std::string out = lower(s);
  for (char& c : out)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) c = '-';
  return out.empty() ? "unnamed" : out;
}

std::optional<uint32_t> number(const std::string& s, uint32_t max) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

std::string arg(const KaNode& n, size_t i = 0) {
  return i < n.args.size() ? n.args[i] : "";
}

// keepalived's TIMER: seconds, possibly with decimals (micro-second resolution).
std::optional<double> seconds(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789.") != std::string::npos) return std::nullopt;
  try {
    return std::stod(s);
  } catch (...) {
    return std::nullopt;
  }
}

std::string seconds_text(double s) {
  std::string t = fmt::format("{:.3f}", s);
  while (t.back() == '0') t.pop_back();
  if (t.back() == '.') t.pop_back();
  return t;
}

// A command as keepalived reads it: one (quoted) string is the whole command, which shoal
// splits into words as keepalived does; several words are joined, a word holding a blank or
// a quote single-quoted again so that it stays one word.
std::string command_text(const KaNode& n) {
  if (n.args.size() == 1) return n.args[0];
  std::string out;
  for (const std::string& w : n.args) {
    std::string word = w;
    if (w.empty() || w.find_first_of(" \t'\"\\") != std::string::npos) {
      word = "'";
      for (char c : w) word += c == '\'' ? std::string("'\\''") : std::string(1, c);
      word += "'";
    }
    out += (out.empty() ? "" : " ") + word;
  }
  return out;
}

// keepalived's weight of a tracked item, -254..254 in shoal.
std::optional<int32_t> track_weight(const std::string& text) {
  int w = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), w);
  if (ec == std::errc() && end == text.data() + text.size() && w >= -254 && w <= 254) return w;
  return std::nullopt;
}

// notify commands of a vrrp_instance or vrrp_sync_group: shoal's keys are keepalived's.
bool vrrp_notify_key(const std::string& k) {
  return k == "notify" || k == "notify_master" || k == "notify_backup" || k == "notify_fault" ||
         k == "notify_stop";
}

// The settings a checker inherits from its virtual_server and real_server.
struct CheckDefaults {
  std::optional<double> delay_loop, connect_timeout;
  std::optional<uint32_t> retry;
  bool alpha = false;
  std::optional<std::string> virtualhost;
  Source delay_loop_at, connect_timeout_at;

  // Takes one of the settings that a virtual_server, real_server or checker may give.
  bool read(const KaNode& c) {
    const std::string& k = c.key;
    if (k == "delay_loop") {
      delay_loop = seconds(arg(c));
      delay_loop_at = c.source();
    } else if (k == "connect_timeout" || k == "misc_timeout") {
      connect_timeout = seconds(arg(c));
      connect_timeout_at = c.source();
    } else if (k == "retry" || k == "nb_get_retry") {
      retry = number(arg(c), 100);
    } else if (k == "alpha") {
      alpha = arg(c) != "no" && arg(c) != "false";
    } else if (k == "virtualhost") {
      virtualhost = arg(c);
    } else {
      return false;
    }
    return true;
  }
};

class KeepalivedMapper {
 public:
  KeepalivedMapper(Imported& out) : out_(out) {}

  void run(const std::vector<KaNode>& top) {
    for (const KaNode& n : top) {
      if (n.key == "virtual_server_group") groups_[arg(n)] = &n;
      if (n.key == "vrrp_script") vrrp_script(n);  // before the instances that track them
    }
    for (const KaNode& n : top) {
      if (n.key == "vrrp_instance")
        vrrp_instance(n);
      else if (n.key == "virtual_server")
        virtual_server(n);
      else if (n.key == "vrrp_sync_group")
        sync_group(n);
      else if (n.key == "virtual_server_group")
        continue;  // read with its virtual_server
      else if (n.key == "vrrp_script")
        continue;  // read first
      else if (n.key == "global_defs")
        global_defs(n);
      else
        warn(out_, nullptr, n.source(),
             fmt::format("'{}' has no equivalent in shoal: not imported", n.key));
    }
    // Scripts live in `vrrp:`, which needs an instance.
    if (out_.vrrp.empty()) {
      for (const VrrpScript& sc : out_.vrrp_scripts)
        warn(out_, nullptr, sc.at, "no VRRP instance was imported to track it: not imported");
      out_.vrrp_scripts.clear();
    }
    settle_vrrp();
    // Sync groups name instances by keepalived's names: keep the members that were imported.
    for (SyncGroup& g : out_.sync_groups) {
      std::vector<std::string> kept;
      for (const std::string& m : g.instances) {
        if (auto it = imported_instances_.find(m); it != imported_instances_.end())
          kept.push_back(it->second);
        else
          warn(out_, &g.notes, g.at,
               fmt::format("member '{}' is no imported VRRP instance: left out", m));
      }
      g.instances = std::move(kept);
    }
    companion_groups();
    std::map<std::string, std::string> group_names;
    std::set<std::string> members;
    for (SyncGroup& g : out_.sync_groups) {
      if (auto [n, first] = group_names.emplace(g.name, g.at.where()); !first) {
        warn(out_, nullptr, g.at,
             fmt::format("a sync group named {} is already imported from {}: not imported twice",
                         g.name, n->second));
        g.instances.clear();
        continue;
      }
      std::vector<std::string> kept;
      for (const std::string& m : g.instances) {
        if (members.insert(m).second)
          kept.push_back(m);
        else
          warn(out_, &g.notes, g.at,
               fmt::format("instance {} is already in another sync group: left out", m));
      }
      g.instances = std::move(kept);
    }
    out_.sync_groups.erase(std::remove_if(out_.sync_groups.begin(), out_.sync_groups.end(),
                                          [](const SyncGroup& g) { return g.instances.empty(); }),
                           out_.sync_groups.end());
    detail::settle(out_);
  }

 private:
  // What shoal would refuse across instances: a vrid twice on one interface, an address
  // carried twice. The later one gives way, with a warning.
  void settle_vrrp() {
    std::map<std::tuple<std::string, bool, uint32_t>, std::string> vrids;
    std::map<std::string, std::string> carried, names;
    std::vector<VrrpInstance> kept;
    for (VrrpInstance& v : out_.vrrp) {
      auto drop = [&] {
        for (auto i = imported_instances_.begin(); i != imported_instances_.end(); ++i)
          if (i->second == v.name) {
            imported_instances_.erase(i);
            break;
          }
      };
      if (auto [n, first] = names.emplace(v.name, v.at.where()); !first) {
        warn(out_, nullptr, v.at,
             fmt::format("an instance named {} is already imported from {}: not imported twice",
                         v.name, n->second));
        continue;  // the name stays the first instance's
      }
      // A vrid is one virtual router per family on an interface (RFC 9568).
      auto [it, fresh] = vrids.emplace(std::tuple{v.interface, v.ipv6, v.vrid}, v.at.where());
      if (!fresh) {
        warn(out_, nullptr, v.at,
             fmt::format("virtual_router_id {} on {} is already used for {} at {}: instance not "
                         "imported",
                         v.vrid, v.interface.empty() ? "the same interface" : v.interface,
                         v.ipv6 ? "IPv6" : "IPv4", it->second));
        drop();
        continue;
      }
      std::vector<std::string> addresses;
      for (const std::string& a : v.addresses) {
        auto [c, first] = carried.emplace(a, v.name);
        if (first)
          addresses.push_back(a);
        else
          warn(out_, &v.notes, v.at,
               fmt::format(
                   "{} is already carried by instance {}: an address belongs to one instance", a,
                   c->second));
      }
      v.addresses = std::move(addresses);
      if (v.addresses.empty()) {
        warn(out_, nullptr, v.at,
             "no address left that no other instance carries: instance not imported");
        drop();
        continue;
      }
      kept.push_back(std::move(v));
    }
    out_.vrrp = std::move(kept);
    // A pair of which one half gave way is no pair.
    const auto imported = [&](const std::string& name) {
      return std::any_of(out_.vrrp.begin(), out_.vrrp.end(),
                         [&](const VrrpInstance& v) { return v.name == name; });
    };
    for (auto it = companions_.begin(); it != companions_.end();)
      it = imported(it->first) && imported(it->second) ? std::next(it) : companions_.erase(it);
  }

  // The instance carrying another's excluded addresses of the other family joins that one's
  // sync group, or the two make one of their own, named after the first.
  void companion_groups() {
    for (const auto& [first, second] : companions_) {
      auto g = std::find_if(out_.sync_groups.begin(), out_.sync_groups.end(), [&](const SyncGroup& x) {
        return std::find(x.instances.begin(), x.instances.end(), first) != x.instances.end();
      });
      if (g != out_.sync_groups.end()) {
        g->instances.insert(std::find(g->instances.begin(), g->instances.end(), first) + 1,
                            second);
        continue;
      }
      const auto v = std::find_if(out_.vrrp.begin(), out_.vrrp.end(),
                                  [&](const VrrpInstance& x) { return x.name == first; });
      SyncGroup own;
      own.at = v->at;
      own.name = first;
      own.instances = {first, second};
      own.notes.push_back(fmt::format("{}: instances {} and {} carry one keepalived instance's "
                                      "addresses of both families: master together",
                                      v->at.where(), first, second));
      out_.sync_groups.push_back(std::move(own));
    }
  }

  void add_interface(const std::string& name) {
    if (std::find(out_.interfaces.begin(), out_.interfaces.end(), name) == out_.interfaces.end())
      out_.interfaces.push_back(name);
  }

  void global_defs(const KaNode& n) {
    std::string keys;
    for (const KaNode& c : n.children) {
      if (c.key == "lvs_sync_daemon") {
        lvs_sync_daemon(c, arg(c), 2);
        continue;
      }
      keys += (keys.empty() ? "" : ", ") + c.key;
    }
    if (keys.empty()) return;
    warn(out_, nullptr, n.source(),
         fmt::format("global settings without an equivalent in shoal, not imported: {}", keys));
  }

  // `lvs_sync_daemon IFACE INSTANCE [id N] [maxlen L] [port P] [ttl T] [group G]` in
  // global_defs, or the older `lvs_sync_daemon_interface IFACE` in a vrrp_instance: the
  // options start at `first`.
  void lvs_sync_daemon(const KaNode& n, const std::string& interface, size_t first) {
    if (out_.connection_sync) {
      warn(out_, &out_.connection_sync->notes, n.source(),
           fmt::format("shoal has one connection sync: already imported from {}",
                       out_.connection_sync->at.where()));
      return;
    }
    ConnectionSync sync;
    sync.at = n.source();
    sync.interface = interface;
    if (!interface.empty()) add_interface(interface);
    for (size_t i = first; i + 1 < n.args.size(); i += 2) {
      const std::string& o = n.args[i];
      const std::string& v = n.args[i + 1];
      if (o == "id" && number(v, 255))
        sync.id = *number(v, 255);
      else if (o == "port" && number(v, 65535))
        sync.udp_port = *number(v, 65535);
      else if (o == "group" && detail::is_ipv4(v))
        sync.group = v;
      else
        warn(out_, &sync.notes, n.source(),
             fmt::format("'{} {}' has no equivalent in shoal: not imported", o, v));
    }
    sync.notes.push_back(
        fmt::format("{}: shoal sends the flows of nat services (and of those with "
                    "`sync: true`) from the director holding the VIP; every "
                    "director sends and receives",
                    sync.at.where()));
    out_.connection_sync = std::move(sync);
  }

  // ---- virtual servers ----

  struct Endpoint {
    std::string vip;
    uint16_t port;  // 0: every port
    Source at;
    std::string fwmark;  // a firewall-mark service's mark: its VIP and ports are placeholders
  };

  std::vector<Endpoint> endpoints(const KaNode& vs) {
    std::vector<Endpoint> out;
    const Source at = vs.source();
    if (arg(vs) == "fwmark") {
      out.push_back({"", 0, at, arg(vs, 1)});
      return out;
    }
    if (arg(vs) == "group") {
      auto it = groups_.find(arg(vs, 1));
      if (it == groups_.end()) {
        warn(out_, nullptr, at,
             fmt::format("no virtual_server_group named '{}': not imported", arg(vs, 1)));
        return out;
      }
      for (const KaNode& e : it->second->children) group_entry(e, out);
      return out;
    }
    add_endpoint(at, arg(vs), arg(vs, 1), out);
    return out;
  }

  void add_endpoint(const Source& at, const std::string& vip, const std::string& port_text,
                    std::vector<Endpoint>& out) {
    if (!detail::is_ipv4(vip) && !detail::is_ipv6(vip)) {
      warn(out_, nullptr, at, fmt::format("'{}' is not an IP address: not imported", vip));
      return;
    }
    const auto port = number(port_text, 65535);
    if (!port) {
      warn(out_, nullptr, at,
           fmt::format("port '{}' is no port (0..65535; 0: every port): not imported", port_text));
      return;
    }
    out.push_back({detail::canonical(vip), static_cast<uint16_t>(*port), at, ""});
  }

  // A group entry: "IP PORT", "IP-LAST PORT" (a range in the last byte of an IPv4 address, in
  // the last 16-bit group, written in hex, of an IPv6 one), or "fwmark N".
  void group_entry(const KaNode& e, std::vector<Endpoint>& out) {
    const Source at = e.source();
    if (e.key == "fwmark") {
      out.push_back({"", 0, at, arg(e)});
      return;
    }
    const size_t dash = e.key.find('-');
    const std::string first = dash == std::string::npos ? "" : e.key.substr(0, dash);
    const bool v6 = detail::is_ipv6(first);
    if (!detail::is_ipv4(first) && !v6) {
      add_endpoint(at, e.key, arg(e), out);
      return;
    }
    const size_t sep = first.rfind(v6 ? ':' : '.');
    const int base = v6 ? 16 : 10;
    const uint32_t max = v6 ? 0xffff : 255;
    auto part = [&](const std::string& t) -> std::optional<uint32_t> {
      uint32_t v = 0;
      auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v, base);
      if (t.empty() || ec != std::errc() || end != t.data() + t.size() || v > max)
        return std::nullopt;
      return v;
    };
    const auto last = part(e.key.substr(dash + 1));
    const auto start = part(first.substr(sep + 1));
    if (!last || !start || *last < *start) {
      warn(out_, nullptr, at, fmt::format("'{}' is not an address range: not imported", e.key));
      return;
    }
    for (uint32_t i = *start; i <= *last; ++i)
      add_endpoint(at,
                   v6 ? fmt::format("{}:{:x}", first.substr(0, sep), i)
                      : fmt::format("{}.{}", first.substr(0, sep), i),
                   arg(e), out);
  }

  void virtual_server(const KaNode& vs) {
    // Where it listens first: a virtual server shoal cannot take is one warning, not one more
    // for each of its settings.
    const std::vector<Endpoint> where = endpoints(vs);
    if (where.empty()) return;
    Service proto;
    proto.at = vs.source();
    CheckDefaults defaults;
    std::vector<const KaNode*> real_servers;
    const KaNode* sorry = nullptr;
    std::string lb_kind = "NAT";
    const KaNode* lb_kind_node = nullptr;
    Source persistence_at = vs.source();
    for (const KaNode& c : vs.children) {
      const Source at = c.source();
      const std::string& k = c.key;
      if (k == "real_server") {
        real_servers.push_back(&c);
      } else if (k == "lb_algo" || k == "lvs_sched") {
        if (auto s = scheduler_for(arg(c))) {
          proto.scheduler = *s;
          proto.scheduler_note = fmt::format("{}, line {}", k, c.line);
        } else {
          warn(out_, &proto.notes, at,
               fmt::format("shoal has no '{}' scheduler: the service uses shoal's default "
                           "(maglev)",
                           arg(c)));
        }
      } else if (k == "lb_kind" || k == "lvs_method") {
        lb_kind = arg(c);
        lb_kind_node = &c;
        if (c.args.size() > 1)
          warn(out_, &proto.notes, at,
               "tunnel options have no equivalent: shoal's tun is IP-in-IP (IPv4 in IPv4, IPv6 "
               "in IPv6, IPv4 in IPv6)");
      } else if (k == "protocol") {
        const std::string p = lower(arg(c));
        if (p == "tcp" || p == "udp")
          proto.protocol = p;
        else
          proto.protocol = "unsupported:" + arg(c);
      } else if (k == "persistence_timeout") {
        persistence_at = c.source();
        // keepalived's default when the keyword has no value: 6 minutes.
        const std::string value = arg(c).empty() ? "360" : arg(c);
        proto.persistence_timeout = detail::persistence_seconds(value);
        proto.persistence_note += fmt::format("{}persistence_timeout {} (line {})",
                                              proto.persistence_note.empty() ? "" : ", ", value,
                                              c.line);
      } else if (k == "persistence_granularity") {
        proto.persistence_netmask = arg(c);
        proto.persistence_note += fmt::format("{}persistence_granularity {} (line {})",
                                              proto.persistence_note.empty() ? "" : ", ", arg(c),
                                              c.line);
      } else if (defaults.read(c)) {
      } else if (k == "sorry_server") {
        sorry = &c;
      } else if (k == "delay_before_retry") {
        warn(out_, &proto.notes, at,
             "shoal retries a failed check at its interval: no separate retry delay");
      } else if (k == "quorum" || k == "hysteresis") {
        // keepalived's quorum is at least 1; its hysteresis may be anything, shoal's is below
        // the quorum (checked once both are read).
        if (auto v = number(arg(c), k == "quorum" ? 1u << 30 : (1u << 30) - 1)) {
          (k == "quorum" ? proto.quorum : proto.hysteresis) = std::max<uint32_t>(*v, k == "quorum");
          proto.quorum_note += fmt::format("{}{} {} (line {})",
                                           proto.quorum_note.empty() ? "" : ", ", k, arg(c), c.line);
        } else {
          warn(out_, &proto.notes, at, fmt::format("'{}' is not a number: not imported", arg(c)));
        }
      } else if (k == "quorum_up" || k == "quorum_down") {
        if (c.args.empty())
          warn(out_, &proto.notes, at, "no command given: not imported");
        else
          (k == "quorum_up" ? proto.quorum_up : proto.quorum_down) = command_text(c);
        proto.quorum_note += fmt::format("{}{} (line {})", proto.quorum_note.empty() ? "" : ", ",
                                         k, c.line);
      } else if (k == "omega") {
        warn(out_, &proto.notes, at,
             "shoal has no notify commands yet (omega runs them at shutdown): not imported");
      } else if (k == "inhibit_on_failure") {
        inhibit_note(proto.notes, at);
      } else {
        warn(out_, &proto.notes, at,
             fmt::format("'{}' has no equivalent in shoal: not imported", k));
      }
    }
    const std::string kind = lower(lb_kind);
    if (kind == "dr" || kind == "nat" || kind == "tun") {
      proto.forwarding = kind;
      proto.forwarding_note = lb_kind_node ? fmt::format("{} {} (line {})", lb_kind_node->key,
                                                         lb_kind, lb_kind_node->line)
                                           : "keepalived's default lb_kind NAT";
    } else {
      warn(out_, &proto.notes, lb_kind_node ? lb_kind_node->source() : proto.at,
           fmt::format("no forwarding method '{}': nat used", lb_kind));
    }
    if (proto.protocol.rfind("unsupported:", 0) == 0) {
      warn(out_, nullptr, proto.at,
           fmt::format("shoal serves tcp and udp only, not {}: not imported",
                       proto.protocol.substr(12)));
      return;
    }
    if (proto.hysteresis && *proto.hysteresis >= proto.quorum.value_or(1)) {
      warn(out_, &proto.notes, proto.at,
           fmt::format("hysteresis {} is not below the quorum {}: shoal would never lose it; "
                       "hysteresis not imported",
                       *proto.hysteresis, proto.quorum.value_or(1)));
      proto.hysteresis.reset();
    }
    for (const KaNode* rs : real_servers) real_server(*rs, proto, defaults);
    if (sorry) sorry_server(*sorry, proto);
    for (const Endpoint& e : where) {
      Service s = proto;
      s.vip = e.vip;
      s.port = e.port;
      if (e.at.line != proto.at.line || e.at.file != proto.at.file)
        s.notes.insert(s.notes.begin(), "from " + e.at.describe());
      if (!e.fwmark.empty()) detail::fwmark_placeholders(out_, s, e.fwmark, e.at);
      if (detail::is_ipv6(s.vip)) ipv6_service(s, persistence_at);
      one_family(s);
      s.name = detail::service_name(out_, s.protocol, s.vip, s.port);
      out_.services.push_back(std::move(s));
    }
  }

  // An IPv6 service groups its persistent clients by a prefix length, as keepalived's
  // persistence_granularity does for IPv6; a netmask is kept for IPv4.
  void ipv6_service(Service& s, const Source& persistence_at) {
    if (!s.persistence_timeout || !s.persistence_netmask) return;
    const std::string& g = *s.persistence_netmask;
    const bool prefix = !g.empty() && g.size() <= 3 &&
                        std::all_of(g.begin(), g.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                        std::stoi(g) <= 128;
    if (prefix) return;
    warn(out_, &s.notes, persistence_at,
         fmt::format("persistence_granularity {} is not an IPv6 prefix length: {} groups its "
                     "clients by their whole address",
                     g, s.vip));
    s.persistence_netmask.reset();
  }

  // A service is one family; only tun carries an IPv4 VIP to IPv6 real servers (4-in-6).
  void one_family(Service& s) {
    const bool vip6 = detail::is_ipv6(s.vip);
    std::vector<Backend> kept;
    for (Backend& b : s.backends) {
      const bool rs6 = detail::is_ipv6(b.address);
      if (rs6 != vip6 && !(s.forwarding == "tun" && !vip6)) {
        warn(out_, &s.notes, b.at,
             fmt::format("{} is {} but the VIP {} is {}: a service is one family in shoal (only "
                         "tun carries an IPv4 VIP to IPv6 real servers): not imported",
                         b.address, rs6 ? "IPv6" : "IPv4", s.vip, vip6 ? "IPv6" : "IPv4"));
        continue;
      }
      kept.push_back(std::move(b));
    }
    s.backends = std::move(kept);
  }

  void inhibit_note(std::vector<std::string>& notes, const Source& at) {
    notes.push_back(
        fmt::format("{}: inhibit_on_failure: a failed real server takes no new flows "
                    "in shoal, as with weight 0; its established flows are "
                    "rescheduled rather than kept",
                    at.where()));
  }

  void sorry_server(const KaNode& n, Service& s) {
    Backend b;
    b.at = n.source();
    b.address = arg(n);
    b.sorry = true;
    if (!detail::is_ipv4(b.address) && !detail::is_ipv6(b.address)) {
      warn(out_, &s.notes, b.at, "not an IP address: sorry server not imported");
      return;
    }
    b.address = detail::canonical(b.address);
    if (n.args.size() > 1) {
      if (auto p = number(arg(n, 1), 65535)) b.port = static_cast<uint16_t>(*p);
    }
    s.backends.push_back(std::move(b));
    s.all_down = "sorry";
    s.notes.push_back(
        fmt::format("{}: sorry_server: shoal sends new flows to it alone once the "
                    "service loses its quorum, as keepalived does",
                    n.source().where()));
  }

  void real_server(const KaNode& rs, Service& s, CheckDefaults defaults) {
    Backend b;
    b.at = rs.source();
    b.address = arg(rs);
    if (!detail::is_ipv4(b.address) && !detail::is_ipv6(b.address)) {
      warn(out_, &s.notes, b.at, "not an IP address: not imported");
      return;
    }
    b.address = detail::canonical(b.address);
    if (rs.args.size() > 1) {
      if (auto p = number(arg(rs, 1), 65535)) b.port = static_cast<uint16_t>(*p);
    }
    std::vector<const KaNode*> checks;
    for (const KaNode& c : rs.children) {
      const Source at = c.source();
      const std::string& k = c.key;
      if (k == "weight") {
        if (auto w = number(arg(c), 65535))
          b.weight = *w;
        else
          warn(out_, &b.notes, at, "weight must be 0..65535: default 1 used");
      } else if (k.size() > 6 && k.substr(k.size() - 6) == "_CHECK") {
        checks.push_back(&c);
      } else if (k == "HTTP_GET" || k == "SSL_GET") {
        checks.push_back(&c);
      } else if (k == "inhibit_on_failure") {
        inhibit_note(b.notes, at);
      } else if (defaults.read(c)) {
      } else if (k == "notify_up" || k == "notify_down") {
        if (c.args.empty())
          warn(out_, &b.notes, at, "no command given: not imported");
        else
          (k == "notify_up" ? b.notify_up : b.notify_down) = command_text(c);
      } else if (k == "lvs_method" || k == "lb_kind") {
        if (lower(arg(c)) != s.forwarding)
          warn(out_, &b.notes, at,
               fmt::format("shoal forwards a whole service one way: this real server uses the "
                           "service's {}",
                           s.forwarding));
      } else {
        warn(out_, &b.notes, at, fmt::format("'{}' has no equivalent in shoal: not imported", k));
      }
    }
    for (size_t i = 0; i < checks.size(); ++i) {
      if (b.check) {
        warn(out_, &b.notes, checks[i]->source(),
             "shoal runs one check per backend: only the first that maps is imported");
        continue;
      }
      b.check = check(*checks[i], defaults, b.notes);
    }
    s.backends.push_back(std::move(b));
  }

  // ---- health checks ----

  std::optional<Check> check(const KaNode& n, CheckDefaults d, std::vector<std::string>& notes) {
    Check c;
    c.at = n.source();
    const std::string& k = n.key;
    if (k == "TCP_CHECK")
      c.type = "tcp";
    else if (k == "HTTP_GET")
      c.type = "http";
    else if (k == "SSL_GET")
      c.type = "https", c.verify_tls = false;
    else if (k == "MISC_CHECK")
      c.type = "exec";
    else if (k == "UDP_CHECK")
      c.type = "udp";
    else if (k == "SMTP_CHECK") {
      c.type = "tcp";
      warn(out_, &notes, c.at,
           "shoal has no SMTP check: imported as a tcp check of the same port (no SMTP dialogue)");
    } else {
      warn(out_, &notes, c.at, fmt::format("shoal has no {}: this backend is not checked", k));
      return std::nullopt;
    }
    bool first_url = true;
    for (const KaNode& o : n.children) {
      const Source at = o.source();
      const std::string& key = o.key;
      if (key == "connect_port") {
        if (auto p = number(arg(o), 65535); p && *p) c.port = *p;
      } else if (d.read(o)) {
        continue;
      } else if (key == "delay_before_retry") {
        notes.push_back(
            fmt::format("{}: delay_before_retry: shoal retries at its interval", at.where()));
      } else if (key == "url" && (c.type == "http" || c.type == "https")) {
        if (!first_url) {
          warn(out_, &notes, at,
               "shoal checks one path per backend: only the first url is imported");
          continue;
        }
        first_url = false;
        for (const KaNode& u : o.children) {
          if (u.key == "path") {
            c.path = arg(u);
          } else if (u.key == "status_code") {
            c.expect = u.args;
            c.expect_note = "status_code";
          } else if (u.key == "virtualhost") {
            d.virtualhost = arg(u);
          } else if (u.key == "regex" &&
                     arg(u).find_first_of(".[]()*+?{}|^$\\") == std::string::npos &&
                     !arg(u).empty()) {
            c.body = arg(u);  // a pattern without special characters is the string itself
          } else if (u.key == "regex") {
            warn(out_, &notes, u.source(),
                 "shoal's http check looks for a plain string in the body, not a regular "
                 "expression: not imported");
          } else if (u.key == "digest")
            warn(out_, &notes, u.source(),
                 "shoal does not compare a digest of the page (its http check can look for a "
                 "string in the body instead): not imported");
          else
            warn(out_, &notes, u.source(),
                 fmt::format("'{}' has no equivalent in shoal: not imported", u.key));
        }
      } else if (key == "misc_path" && c.type == "exec") {
        c.command = arg(o);
      } else if (key == "misc_dynamic" && c.type == "exec") {
        warn(out_, &notes, at,
             "keepalived sets the weight from the exit status; shoal's weight_from_output reads "
             "it from the output: not imported, adapt the script to use it");
      } else if (key == "payload" && c.type == "udp") {
        c.payload = arg(o);
      } else if (key == "require_reply" && c.type == "udp") {
        if (!o.args.empty())
          c.expect_reply = arg(o);
        else
          notes.push_back(
              fmt::format("{}: require_reply: shoal's udp check needs a reply", at.where()));
      } else if (key == "helo_name" && k == "SMTP_CHECK") {
        continue;  // said with the check's warning
      } else {
        warn(out_, &notes, at, fmt::format("'{}' has no equivalent in shoal: not imported", key));
      }
    }
    if (c.type == "exec" && !c.command) {
      warn(out_, &notes, c.at, "a MISC_CHECK without misc_path: this backend is not checked");
      return std::nullopt;
    }
    if (k == "SMTP_CHECK" && !c.port) c.port = 25;
    if ((c.type == "http" || c.type == "https") && c.expect.empty()) {
      c.expect = {"200-299"};  // shoal's default is 200-399
      c.expect_note = "keepalived's default status_code";
    }
    if ((c.type == "http" || c.type == "https") && d.virtualhost) {
      // Only a plain host name goes to shoal's `host`.
      const std::string& h = *d.virtualhost;
      if (!h.empty() && h.find_first_not_of(
                            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") ==
                            std::string::npos)
        c.host = h;
      else
        warn(out_, &notes, c.at,
             fmt::format("virtualhost '{}' is not a host name: not imported", h));
    }
    const double interval = d.delay_loop.value_or(60.0);
    double timeout = d.connect_timeout.value_or(5.0);
    c.interval = seconds_text(std::max(interval, 0.1));
    if (timeout >= interval) {
      const double shorter = std::max(interval / 2, 0.01);
      warn(out_, &notes, d.connect_timeout_at.line ? d.connect_timeout_at : c.at,
           fmt::format("shoal needs a check's timeout shorter than its interval ({} s): timeout "
                       "{} s instead of {} s",
                       seconds_text(interval), seconds_text(shorter), seconds_text(timeout)));
      timeout = shorter;
    }
    c.timeout = seconds_text(std::max(timeout, 0.01));
    c.fall = d.retry.value_or(1) + 1;
    c.rise = 1;
    c.initial = d.alpha ? "down" : "up";
    return c;
  }

  // ---- VRRP ----

  void vrrp_instance(const KaNode& n) {
    VrrpInstance v;
    v.at = n.source();
    v.name = shoal_name(arg(n));
    bool have_vrid = false;
    bool native_ipv6 = false;
    struct Listed {
      const KaNode* node;
      bool excluded;  // from virtual_ipaddress_excluded
    };
    std::vector<Listed> listed;
    for (const KaNode& c : n.children) {
      const Source at = c.source();
      const std::string& k = c.key;
      if (k == "interface") {
        v.interface = arg(c);
        add_interface(v.interface);
      } else if (k == "virtual_router_id") {
        if (auto x = number(arg(c), 255); x && *x)
          v.vrid = *x, have_vrid = true;
        else
          warn(out_, &v.notes, at, "must be 1..255");
      } else if (k == "priority") {
        if (auto x = number(arg(c), 255); x && *x)
          v.priority = *x;
        else
          warn(out_, &v.notes, at, "must be 1..255: shoal's default priority used");
      } else if (k == "advert_int") {
        if (auto x = seconds(arg(c)); x && *x >= 0.01 && *x <= 40.95)
          v.interval = seconds_text(std::round(*x * 100) / 100);
        else
          warn(out_, &v.notes, at, "advert_int must be 0.01..40.95 s for VRRPv3: default used");
      } else if (k == "nopreempt") {
        v.preempt = false;
      } else if (k == "preempt_delay") {
        if (auto x = seconds(arg(c))) v.preempt_delay = seconds_text(*x);
      } else if (k == "state") {
        v.notes.push_back(
            fmt::format("{}: state {}: shoal has no initial state; the "
                        "priorities decide which director becomes master",
                        at.where(), arg(c)));
      } else if (k == "use_vmac") {
        v.virtual_mac = true;
      } else if (k == "garp_master_repeat") {
        if (auto x = number(arg(c), 100)) v.garp_count = *x;
      } else if (k == "garp_master_refresh") {
        if (auto x = seconds(arg(c))) v.garp_refresh = seconds_text(*x);
      } else if (k == "garp_interval") {
        if (auto x = seconds(arg(c)); x && *x <= 10) v.garp_interval = seconds_text(*x);
      } else if (k == "virtual_ipaddress" || k == "virtual_ipaddress_excluded") {
        for (const KaNode& a : c.children) listed.push_back({&a, k == "virtual_ipaddress_excluded"});
      } else if (k == "native_ipv6") {
        native_ipv6 = true;
      } else if (k == "track_interface") {
        for (const KaNode& t : c.children) {
          VrrpTrack track{shoal_name(t.key), std::nullopt};
          add_interface(t.key);
          if (arg(t) == "weight") {
            if (auto w = track_weight(arg(t, 1)))
              track.weight = *w;
            else
              warn(out_, &v.notes, t.source(),
                   "weight must be -254..254: tracked as fault-while-down");
          }
          v.track_ports.push_back(track);
        }
      } else if (k == "authentication") {
        warn(out_, &v.notes, at,
             "shoal speaks VRRPv3, which has no authentication: not imported (every peer must "
             "run VRRPv3 without it)");
      } else if (k == "track_script") {
        for (const KaNode& t : c.children) {
          auto it = imported_scripts_.find(t.key);
          if (it == imported_scripts_.end()) {
            warn(out_, &v.notes, t.source(),
                 fmt::format("no vrrp_script named '{}' was imported: not tracked", t.key));
            continue;
          }
          VrrpTrack track{it->second, std::nullopt};
          if (arg(t) == "weight") {
            if (auto w = track_weight(arg(t, 1)); w && arg(t, 2).empty())
              track.weight = *w;
            else
              warn(out_, &v.notes, t.source(),
                   "weight must be -254..254 (without 'reverse'): the script's weight used");
          }
          v.track_scripts.push_back(track);
        }
      } else if (vrrp_notify_key(k)) {
        notify_command(c, v.notify, v.notes);
      } else if (k == "unicast_peer" || k == "unicast_src_ip") {
        warn(out_, &v.notes, at,
             "shoal's VRRP advertises by multicast only: unicast peers are not imported");
      } else if (k == "lvs_sync_daemon_interface") {
        lvs_sync_daemon(c, arg(c), 1);
      } else if (k == "version") {
        if (arg(c) != "3") warn(out_, &v.notes, at, "shoal speaks VRRPv3 only");
      } else {
        warn(out_, &v.notes, at, fmt::format("'{}' has no equivalent in shoal: not imported", k));
      }
    }
    if (!have_vrid) {
      warn(out_, nullptr, v.at, "no valid virtual_router_id: instance not imported");
      return;
    }
    VrrpInstance other = v;  // the excluded addresses of the other family, if any
    other.notes.clear();
    vrrp_addresses(listed, native_ipv6, v, other);
    if (v.addresses.empty() && !other.addresses.empty()) {
      // Only excluded addresses of the other family: the instance is theirs.
      v.notes.push_back(fmt::format(
          "{}: keepalived advertises over {} for addresses it does not advertise; shoal's "
          "instance is of its addresses' family, {}",
          v.at.where(), v.ipv6 ? "IPv6" : "IPv4", other.ipv6 ? "IPv6" : "IPv4"));
      v.ipv6 = other.ipv6;
      v.addresses = std::move(other.addresses);
      v.address_devices = std::move(other.address_devices);
      other.addresses.clear();
    }
    if (v.addresses.empty()) {
      warn(out_, nullptr, v.at, "no virtual_ipaddress shoal can carry: instance not imported");
      return;
    }
    if (v.interface.empty()) {
      warn(out_, &v.notes, v.at, "no interface: the first port is used");
    }
    imported_instances_[arg(n)] = v.name;
    if (!other.addresses.empty()) {
      // keepalived adds excluded addresses of either family with the instance's state; a
      // virtual router of shoal's carries one family (RFC 9568), so those of the other go to
      // an instance of their own, on the same port with the same vrid (one per family is
      // allowed), kept master together with this one by a sync group.
      other.name = fmt::format("{}-{}", v.name, other.ipv6 ? "ipv6" : "ipv4");
      other.notify.clear();
      other.notes.insert(
          other.notes.begin(),
          fmt::format("{}: virtual_ipaddress_excluded: the {} addresses of instance {}, which "
                      "shoal's instances carry one family each: an instance of their own, in a "
                      "sync group with {}{}",
                      v.at.where(), other.ipv6 ? "IPv6" : "IPv4", v.name, v.name,
                      v.notify.empty() ? "" : " (the notify commands run for that one)"));
      companions_[v.name] = other.name;
      out_.vrrp.push_back(std::move(v));
      out_.vrrp.push_back(std::move(other));
      return;
    }
    out_.vrrp.push_back(std::move(v));
  }

  // The addresses of virtual_ipaddress and virtual_ipaddress_excluded: into `v` those of the
  // instance's family (keepalived's: IPv6 with native_ipv6, else the first virtual_ipaddress's,
  // else IPv4), into `other` the excluded ones of the other family.
  template <typename Listed>
  void vrrp_addresses(const std::vector<Listed>& listed, bool native_ipv6, VrrpInstance& v,
                      VrrpInstance& other) {
    v.ipv6 = native_ipv6;
    if (!native_ipv6)
      for (const Listed& l : listed) {
        std::string ip = l.node->key.substr(0, l.node->key.find('/'));
        if (l.excluded || (!detail::is_ipv4(ip) && !detail::is_ipv6(ip))) continue;
        v.ipv6 = detail::is_ipv6(ip);
        break;
      }
    other.ipv6 = !v.ipv6;
    bool excluded_noted = false;
    for (const Listed& l : listed) {
      const KaNode& a = *l.node;
      std::string ip = a.key.substr(0, a.key.find('/'));
      const bool v6 = detail::is_ipv6(ip);
      if (!detail::is_ipv4(ip) && !v6) {
        warn(out_, &v.notes, a.source(), "not an IP address: not imported");
        continue;
      }
      ip = detail::canonical(ip);
      if (v6 && ip.rfind("fe8", 0) == 0) {  // fe80::/10 as inet_ntop writes it
        warn(out_, &v.notes, a.source(),
             "a link-local address: shoal's VRRP advertises from the port's own link-local "
             "address and carries global and unique-local addresses only: not imported");
        continue;
      }
      if (v6 != v.ipv6 && !l.excluded) {
        warn(out_, &v.notes, a.source(),
             fmt::format("an {} address in an {} instance, which keepalived ignores too (the "
                         "addresses of virtual_ipaddress are one family): not imported",
                         v6 ? "IPv6" : "IPv4", v.ipv6 ? "IPv6" : "IPv4"));
        continue;
      }
      VrrpInstance& into = v6 == v.ipv6 ? v : other;
      if (std::find(v.addresses.begin(), v.addresses.end(), ip) != v.addresses.end() ||
          std::find(other.addresses.begin(), other.addresses.end(), ip) !=
              other.addresses.end()) {
        warn(out_, &v.notes, a.source(), "already listed: imported once");
        continue;
      }
      // `dev IF`: the address is held on that interface (a gateway on the inside, say).
      std::string dev;
      for (size_t i = 0; i + 1 < a.args.size(); ++i)
        if (a.args[i] == "dev") dev = a.args[i + 1];
      if (!dev.empty() && dev != v.interface) {
        add_interface(dev);
        into.address_devices[ip] = dev;
      }
      if (!a.args.empty() || a.key.find('/') != std::string::npos)
        into.notes.push_back(fmt::format("{}: {}: shoal carries the address alone{} (its "
                                         "prefix, label and scope are not imported)",
                                         a.source().where(), a.source().text,
                                         dev.empty() || dev == v.interface
                                             ? ""
                                             : fmt::format(", on {}'s port", dev)));
      if (l.excluded && &into == &v && !excluded_noted) {
        excluded_noted = true;
        v.notes.push_back(fmt::format("{}: virtual_ipaddress_excluded: shoal advertises every "
                                      "address it carries",
                                      a.source().where()));
      }
      into.addresses.push_back(ip);
    }
  }

  void sync_group(const KaNode& n) {
    SyncGroup g;
    g.at = n.source();
    g.name = shoal_name(arg(n));
    for (const KaNode& c : n.children) {
      if (c.key == "group") {
        for (const KaNode& m : c.children) g.instances.push_back(m.key);
      } else if (vrrp_notify_key(c.key)) {
        notify_command(c, g.notify, g.notes);
      } else if (!c.block && c.args.empty() && c.key != "smtp_alert" &&
                 c.key != "global_tracking" && c.key != "sync_group_tracking_weight") {
        g.instances.push_back(c.key);  // the old form: members listed in the group's block
      } else {
        warn(out_, &g.notes, c.source(),
             fmt::format("'{}' has no equivalent in shoal: not imported", c.key));
      }
    }
    out_.sync_groups.push_back(std::move(g));
  }

  void notify_command(const KaNode& c, std::vector<NotifyCommand>& into,
                      std::vector<std::string>& notes) {
    if (c.args.empty())
      warn(out_, &notes, c.source(), "no command given: not imported");
    else
      into.push_back({c.key, command_text(c)});
  }

  // keepalived's vrrp_script: shoal's `vrrp: scripts:`, tracked by name.
  void vrrp_script(const KaNode& n) {
    VrrpScript s;
    s.at = n.source();
    s.name = shoal_name(arg(n));
    for (const KaNode& c : n.children) {
      const Source at = c.source();
      const std::string& k = c.key;
      if (k == "script") {
        s.command = command_text(c);
      } else if (k == "interval" || k == "timeout") {
        if (auto x = seconds(arg(c)); x && *x >= 0.01 && *x <= 3600)
          (k == "interval" ? s.interval : s.timeout) = seconds_text(*x);
        else
          warn(out_, &s.notes, at, "must be 0.01..3600 s: default used");
      } else if (k == "rise" || k == "fall") {
        if (auto x = number(arg(c), 100); x && *x)
          (k == "rise" ? s.rise : s.fall) = *x;
        else
          warn(out_, &s.notes, at, "must be 1..100: default 1 used");
      } else if (k == "weight") {
        if (auto w = track_weight(arg(c)); w && arg(c, 1).empty())
          s.weight = *w;
        else
          warn(out_, &s.notes, at,
               "weight must be -254..254 (without 'reverse'): weight 0 (fault while failing) "
               "used");
      } else {
        warn(out_, &s.notes, at, fmt::format("'{}' has no equivalent in shoal: not imported", k));
      }
    }
    if (s.command.empty()) {
      warn(out_, nullptr, s.at, "no script given: not imported (nor tracked)");
      return;
    }
    // shoal ends a run before the next is due; keepalived lets a longer timeout pass.
    const double interval = s.interval ? *seconds(*s.interval) : 1.0;
    if (s.timeout && *seconds(*s.timeout) > interval) {
      warn(out_, &s.notes, s.at,
           fmt::format("timeout {} s is longer than the interval: shoal uses the interval, {} s",
                       *s.timeout, seconds_text(interval)));
      s.timeout.reset();
    }
    imported_scripts_[arg(n)] = s.name;
    out_.vrrp_scripts.push_back(std::move(s));
  }

  Imported& out_;
  std::map<std::string, const KaNode*> groups_;
  std::map<std::string, std::string> imported_scripts_;  // keepalived's name → shoal's
  std::map<std::string, std::string> imported_instances_;  // keepalived's name → shoal's
  // shoal's name of an instance → that of the instance carrying its excluded addresses of the
  // other family
  std::map<std::string, std::string> companions_;
};

}  // namespace

Imported map_keepalived(const KaParseResult& parsed, const std::string& file) {
  Imported out = detail::start("keepalived", file, parsed.warnings, parsed.errors);
  if (!out.errors.empty()) return out;
  KeepalivedMapper(out).run(parsed.statements);
  return out;
}

}  // namespace shoal::cli::import

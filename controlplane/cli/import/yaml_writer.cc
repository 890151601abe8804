#include "cli/import/yaml_writer.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace shoal::cli::import {
namespace {

std::string port_name(const std::string& interface) {
  std::string out;
  for (char c : interface) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out += (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ? c : '-';
  }
  return out.empty() ? "lan" : out;
}

uint32_t host_order(const std::string& ip) {
  in_addr a{};
  inet_pton(AF_INET, ip.c_str(), &a);
  return ntohl(a.s_addr);
}

std::string dotted(uint32_t h) {
  return fmt::format("{}.{}.{}.{}", h >> 24, (h >> 16) & 255, (h >> 8) & 255, h & 255);
}

std::string one_line(const std::string& s) {
  std::string out = s;
  std::replace(out.begin(), out.end(), '\n', ' ');
  return out;
}

struct PlaceholderPort {
  std::string name;
  std::string interface;                                       // keepalived's, or empty
  std::vector<std::pair<std::string, std::string>> addresses;  // address/len, why
  bool ipv4_instance = false;  // an IPv4 VRRP instance advertises from it: it needs IPv4
};

bool is_ipv6(const std::string& ip) {
  return ip.find(':') != std::string::npos;
}

// An IPv6 address's /64 and its host part (the last 64 bits).
std::pair<std::string, uint64_t> ipv6_split(const std::string& ip) {
  in6_addr a{};
  inet_pton(AF_INET6, ip.c_str(), &a);
  uint64_t host = 0;
  for (int i = 8; i < 16; ++i) host = host << 8 | a.s6_addr[i];
  for (int i = 8; i < 16; ++i) a.s6_addr[i] = 0;
  char text[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &a, text, sizeof text);
  return {text, host};
}

std::string ipv6_join(const std::string& net, uint64_t host) {
  in6_addr a{};
  inet_pton(AF_INET6, net.c_str(), &a);
  for (int i = 15; i >= 8; --i, host >>= 8) a.s6_addr[i] = static_cast<uint8_t>(host & 255);
  char text[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &a, text, sizeof text);
  return text;
}

// An address as a YAML scalar: an IPv6 address that starts with ':' is quoted.
std::string address_text(const std::string& ip) {
  return !ip.empty() && ip.front() == ':' ? yaml_quote(ip) : ip;
}

// One port per keepalived interface, and a director address on every /24 (IPv6: /64) that
// holds a real server or an extra VRRP address: shoal needs them on-link. The address picked is
// the highest of the /24 that the source does not use (IPv6: ::fffe of the /64, or below it);
// the operator puts the director's real one.
std::vector<PlaceholderPort> placeholder_ports(const Imported& in) {
  std::vector<PlaceholderPort> ports;
  std::set<std::string> names;
  for (const std::string& i : in.interfaces) {
    std::string n = port_name(i);
    if (!names.insert(n).second) continue;
    ports.push_back({n, i, {}});
  }
  if (ports.empty()) ports.push_back({"lan", "", {}});
  const auto port_of = [&](const std::string& interface) {
    size_t port = 0;
    for (size_t i = 0; i < ports.size(); ++i)
      if (!interface.empty() && ports[i].interface == interface) port = i;
    return port;
  };
  std::set<uint32_t> used;
  std::set<std::pair<std::string, uint64_t>> used6;
  std::set<std::string> vips;
  const auto use = [&](const std::string& ip) {
    if (is_ipv6(ip))
      used6.insert(ipv6_split(ip));
    else
      used.insert(host_order(ip));
  };
  for (const Service& s : in.services) {
    use(s.vip);
    vips.insert(s.vip);
    for (const Backend& b : s.backends) use(b.address);
  }
  for (const VrrpInstance& v : in.vrrp)
    for (const std::string& a : v.addresses) use(a);
  std::map<uint32_t, size_t> subnet_port;  // /24 → port index
  std::map<uint32_t, std::string> subnet_why;
  std::map<std::string, size_t> subnet6_port;  // /64 → port index, in order of first need
  std::vector<std::string> subnet6_order;
  std::map<std::string, std::string> subnet6_why;
  auto need = [&](const std::string& ip, size_t port, const std::string& why) {
    if (is_ipv6(ip)) {
      const std::string net = ipv6_split(ip).first;
      if (subnet6_port.emplace(net, port).second) {
        subnet6_order.push_back(net);
        subnet6_why[net] = why;
      }
      return;
    }
    const uint32_t net = host_order(ip) & 0xffffff00u;
    if (subnet_port.emplace(net, port).second) subnet_why[net] = why;
  };
  for (const VrrpInstance& v : in.vrrp) {
    const size_t port = port_of(v.interface);
    if (!v.ipv6) ports[port].ipv4_instance = true;
    for (const std::string& a : v.addresses) {
      const auto dev = v.address_devices.find(a);
      if (!vips.count(a))
        need(a, dev == v.address_devices.end() ? port : port_of(dev->second),
             fmt::format("on-link for VRRP address {}", a));
    }
  }
  for (const Service& s : in.services)
    for (const Backend& b : s.backends)
      need(b.address, 0, fmt::format("on-link for real server {}", b.address));
  for (const auto& [net, port] : subnet_port) {
    uint32_t host = 254;
    while (host > 0 && used.count(net | host)) --host;
    if (host == 0) continue;  // a full /24: the check will say what is missing
    ports[port].addresses.push_back({dotted(net | host) + "/24", subnet_why[net]});
  }
  for (const std::string& net : subnet6_order) {
    uint64_t host = 0xfffe;
    while (host > 0 && used6.count({net, host})) --host;
    ports[subnet6_port[net]].addresses.push_back(
        {ipv6_join(net, host) + "/64", subnet6_why[net]});
  }
  uint32_t spare = 0;
  for (PlaceholderPort& p : ports) {
    const bool has_ipv4 = std::any_of(p.addresses.begin(), p.addresses.end(),
                                      [](const auto& a) { return !is_ipv6(a.first); });
    if (p.addresses.empty() || (p.ipv4_instance && !has_ipv4)) {
      while (used.count((198u << 24 | 18u << 16 | spare << 8) | 1)) ++spare;
      p.addresses.push_back({dotted(198u << 24 | 18u << 16 | spare << 8 | 1) + "/24",
                             "an address from the benchmarking range"});
      ++spare;
    }
  }
  return ports;
}

bool same_check(const Check& a, const Check& b) {
  return std::tie(a.type, a.interval, a.timeout, a.rise, a.fall, a.port, a.initial, a.path, a.host,
                  a.body, a.payload, a.expect_reply, a.command, a.expect, a.verify_tls,
                  a.weight_from_output) == std::tie(b.type, b.interval, b.timeout, b.rise, b.fall,
                                                    b.port, b.initial, b.path, b.host, b.body,
                                                    b.payload, b.expect_reply, b.command, b.expect,
                                                    b.verify_tls, b.weight_from_output);
}

// The check every real server (sorry servers aside) has, when they all have the same one.
std::optional<Check> shared_check(const Service& s) {
  const Check* first = nullptr;
  size_t real = 0;
  for (const Backend& b : s.backends) {
    if (b.sorry) continue;
    ++real;
    if (!b.check) return std::nullopt;
    if (!first)
      first = &*b.check;
    else if (!same_check(*first, *b.check))
      return std::nullopt;
  }
  if (!first || real < 2) return std::nullopt;
  return *first;
}

class Writer {
 public:
  explicit Writer(const Imported& in) : in_(in) {}

  std::string run() {
    const char* tool = in_.from == "ipvsadm" ? "ipvsadm" : "keepalived";
    line(0,
         fmt::format("# shoal config imported from {} by `shoalctl import {}`.", in_.file, tool));
    line(0,
         "# Each part names the line it came from. Check every CHANGE ME (what the source cannot");
    line(0, "# say) and every WARNING (what shoal cannot do yet) before running it.");
    for (const std::string& n : in_.notes) comment(0, n);
    line(0, "");
    ports();
    services();
    vrrp();
    connection_sync();
    return out_;
  }

 private:
  void line(int indent, const std::string& text) {
    out_ += std::string(static_cast<size_t>(indent), ' ') + text + "\n";
  }
  void comment(int indent, const std::string& text) { line(indent, "# " + one_line(text)); }
  void notes(int indent, const std::vector<std::string>& ns) {
    for (const std::string& n : ns) comment(indent, n);
  }

  void ports() {
    const std::vector<PlaceholderPort> ps = placeholder_ports(in_);
    line(0, "ports:");
    for (size_t i = 0; i < ps.size(); ++i) {
      const PlaceholderPort& p = ps[i];
      if (p.interface.empty())
        comment(2,
                "CHANGE ME: a placeholder port. Name the director's NIC (a PCI address such as "
                "0000:01:00.0, or a vdev such as net_af_packet0,iface=eth1) and its address.");
      else
        comment(2, fmt::format("CHANGE ME: a placeholder for keepalived's interface {}. Name the "
                               "NIC DPDK takes instead of it and the director's address on it.",
                               p.interface));
      line(2, fmt::format("- name: {}", p.name));
      line(4, fmt::format("device: \"net_null{}\"  # CHANGE ME: net_null drops every packet", i));
      line(4, "addresses:");
      for (const auto& [a, why] : p.addresses)
        line(6, fmt::format("- {}  # CHANGE ME: a placeholder, {}", a, why));
      // The health checks leave the director through the kernel: a TAP on the port (the
      // exception path) when the port is the way to the real servers.
      line(4, fmt::format("# tap: shoal-{}  # the exception path, for the health checks' packets",
                          p.name.substr(0, 9)));
    }
    line(0, "");
  }

  // `header` and `notes`: the comment above the map and those inside it (the check's own,
  // or those of every backend's check when they are written once for the service).
  void check(int indent, const Check& c, const std::string& header,
             const std::vector<std::string>& check_notes) {
    comment(indent, header);
    line(indent, "health_check:");
    const int i = indent + 2;
    for (const std::string& n : check_notes) comment(i, n);
    line(i, fmt::format("type: {}", c.type));
    if (c.interval) line(i, fmt::format("interval: {}  # delay_loop", *c.interval));
    if (c.timeout) line(i, fmt::format("timeout: {}  # connect_timeout", *c.timeout));
    if (c.rise) line(i, fmt::format("rise: {}", *c.rise));
    if (c.fall) line(i, fmt::format("fall: {}  # retry + 1", *c.fall));
    if (c.initial)
      line(i, fmt::format("initial: {}  # {}", *c.initial,
                          *c.initial == "down" ? "alpha" : "keepalived starts real servers up"));
    if (c.port) line(i, fmt::format("port: {}  # connect_port", *c.port));
    if (c.path) line(i, fmt::format("path: {}", yaml_quote(*c.path)));
    if (c.host) line(i, fmt::format("host: {}  # virtualhost", yaml_quote(*c.host)));
    if (!c.expect.empty()) {
      std::string list;
      for (const std::string& e : c.expect) list += (list.empty() ? "" : ", ") + yaml_quote(e);
      line(i, fmt::format("expect: [{}]  # {}", list, c.expect_note));
    }
    if (c.body) line(i, fmt::format("body: {}  # regex", yaml_quote(*c.body)));
    if (c.expect_reply)
      line(i, fmt::format("expect: {}  # require_reply", yaml_quote(*c.expect_reply)));
    if (c.payload) line(i, fmt::format("payload: {}", yaml_quote(*c.payload)));
    if (c.verify_tls)
      line(i, fmt::format("verify_tls: {}  # SSL_GET does not verify certificates",
                          *c.verify_tls ? "true" : "false"));
    if (c.command)
      line(i, fmt::format("command: {}  # misc_path, run by /bin/sh -c", yaml_quote(*c.command)));
    if (c.weight_from_output)
      line(i, fmt::format("weight_from_output: {}", *c.weight_from_output ? "true" : "false"));
  }

  void services() {
    if (in_.services.empty()) {
      comment(0, "No service could be imported: the director only runs VRRP, if anything.");
      line(0, "services: []");
      line(0, "");
      return;
    }
    line(0, "services:");
    for (const Service& s : in_.services) {
      comment(2, s.at.describe());
      notes(2, s.notes);
      line(2, fmt::format("- name: {}", s.name));
      line(4, fmt::format("vip: {}{}", address_text(s.vip), s.vip_note.empty() ? "" : "  # " + s.vip_note));
      if (s.port != 0)
        line(4, fmt::format("port: {}", s.port));
      else  // LVS's port 0, or a firewall mark
        line(4, fmt::format("ports: all{}", s.ports_note.empty() ? "" : "  # " + s.ports_note));
      line(4, fmt::format("protocol: {}", s.protocol));
      line(4, fmt::format("forwarding: {}  # {}", s.forwarding, s.forwarding_note));
      if (s.scheduler) line(4, fmt::format("scheduler: {}  # {}", *s.scheduler, s.scheduler_note));
      if (s.persistence_timeout)
        line(4, fmt::format("persistence: {{timeout: {}{}}}  # {}", *s.persistence_timeout,
                            s.persistence_netmask ? ", netmask: " + *s.persistence_netmask : "",
                            s.persistence_note));
      if (s.quorum || s.hysteresis || s.quorum_up || s.quorum_down) {
        line(4, fmt::format("quorum:  # {}", s.quorum_note));
        line(6, fmt::format("up: {}", s.quorum.value_or(1)));
        line(6, fmt::format("hysteresis: {}", s.hysteresis.value_or(0)));
        if (s.quorum_up) line(6, fmt::format("notify_up: {}", yaml_quote(*s.quorum_up)));
        if (s.quorum_down) line(6, fmt::format("notify_down: {}", yaml_quote(*s.quorum_down)));
      }
      if (s.all_down) line(4, fmt::format("all_down: {}  # sorry_server", *s.all_down));
      // keepalived checks each real server on its own; when every one is checked alike, the
      // check is written once, for the service, and the backends inherit it.
      const std::optional<Check> shared = shared_check(s);
      if (shared) {
        std::string others;
        for (const Backend& b : s.backends)
          if (b.check && b.check->at.where() != shared->at.where())
            others += (others.empty() ? "" : ", ") + (b.check->at.file == shared->at.file
                                                          ? std::to_string(b.check->at.line)
                                                          : b.check->at.where());
        const std::string header =
            fmt::format("{} (every real server's: the same at {} {})", shared->at.describe(),
                        others.find(',') == std::string::npos ? "line" : "lines", others);
        std::vector<std::string> all_notes;
        for (const Backend& b : s.backends)
          if (b.check)
            all_notes.insert(all_notes.end(), b.check->notes.begin(), b.check->notes.end());
        check(4, *shared, header, all_notes);
      }
      line(4, "backends:");
      for (const Backend& b : s.backends) {
        comment(6, b.at.describe());
        notes(6, b.notes);
        line(6, fmt::format("- address: {}", address_text(b.address)));
        if (b.port && b.port != s.port) line(8, fmt::format("port: {}", b.port));
        if (b.weight) line(8, fmt::format("weight: {}", *b.weight));
        if (b.sorry) line(8, "sorry: true");
        if (b.notify_up) line(8, fmt::format("notify_up: {}", yaml_quote(*b.notify_up)));
        if (b.notify_down) line(8, fmt::format("notify_down: {}", yaml_quote(*b.notify_down)));
        if (b.check && !shared) check(8, *b.check, b.check->at.describe(), b.check->notes);
        if (shared && b.sorry)
          line(8, "health_check: {type: none}  # keepalived does not check a sorry server");
      }
    }
    line(0, "");
  }

  void vrrp() {
    if (in_.vrrp.empty()) return;
    const std::vector<PlaceholderPort> ps = placeholder_ports(in_);
    line(0, "vrrp:");
    line(2, "instances:");
    for (const VrrpInstance& v : in_.vrrp) {
      comment(4, v.at.describe());
      notes(4, v.notes);
      line(4, fmt::format("- name: {}", v.name));
      line(6, fmt::format("vrid: {}", v.vrid));
      line(6, fmt::format("port: {}  # interface {}",
                          v.interface.empty() ? ps[0].name : port_name(v.interface),
                          v.interface.empty() ? "(none given)" : v.interface));
      if (v.priority) line(6, fmt::format("priority: {}", *v.priority));
      if (v.interval) line(6, fmt::format("interval: {}  # advert_int", *v.interval));
      if (v.preempt)
        line(6, fmt::format("preempt: {}  # nopreempt", *v.preempt ? "true" : "false"));
      if (v.preempt_delay) line(6, fmt::format("preempt_delay: {}", *v.preempt_delay));
      if (v.virtual_mac) line(6, "virtual_mac: true  # use_vmac");
      if (v.garp_count || v.garp_interval || v.garp_refresh) {
        line(6, "garp:");
        if (v.garp_count) line(8, fmt::format("count: {}  # garp_master_repeat", *v.garp_count));
        if (v.garp_interval)
          line(8, fmt::format("interval: {}  # garp_interval", *v.garp_interval));
        if (v.garp_refresh)
          line(8, fmt::format("refresh: {}  # garp_master_refresh", *v.garp_refresh));
      }
      line(6, "addresses:");
      for (const std::string& a : v.addresses) line(8, fmt::format("- {}", address_text(a)));
      if (!v.track_ports.empty() || !v.track_scripts.empty()) line(6, "track:");
      tracks("ports:  # track_interface", v.track_ports);
      tracks("scripts:  # track_script", v.track_scripts);
      notify(6, v.notify);
    }
    if (!in_.sync_groups.empty()) {
      line(2, "sync_groups:");
      for (const SyncGroup& g : in_.sync_groups) {
        comment(4, g.at.describe());
        notes(4, g.notes);
        line(4, fmt::format("- name: {}", g.name));
        line(6, "instances:");
        for (const std::string& m : g.instances) line(8, fmt::format("- {}", m));
        notify(6, g.notify);
      }
    }
    if (!in_.vrrp_scripts.empty()) {
      line(2, "scripts:");
      for (const VrrpScript& sc : in_.vrrp_scripts) {
        comment(4, sc.at.describe());
        notes(4, sc.notes);
        line(4, fmt::format("- name: {}", sc.name));
        line(6, fmt::format("command: {}  # script", yaml_quote(sc.command)));
        if (sc.interval) line(6, fmt::format("interval: {}", *sc.interval));
        if (sc.timeout) line(6, fmt::format("timeout: {}", *sc.timeout));
        if (sc.rise) line(6, fmt::format("rise: {}", *sc.rise));
        if (sc.fall) line(6, fmt::format("fall: {}", *sc.fall));
        if (sc.weight) line(6, fmt::format("weight: {}", *sc.weight));
      }
    }
  }

  // One list of an instance's `track:` (its key and comment in `key`), if not empty.
  void tracks(const std::string& key, const std::vector<VrrpTrack>& list) {
    if (list.empty()) return;
    line(8, key);
    for (const VrrpTrack& t : list) {
      if (t.weight)
        line(10, fmt::format("- {{name: {}, weight: {}}}", t.name, *t.weight));
      else
        line(10, fmt::format("- {}", t.name));
    }
  }

  void notify(int indent, const std::vector<NotifyCommand>& commands) {
    for (const NotifyCommand& c : commands)
      line(indent, fmt::format("{}: {}", c.key, yaml_quote(c.command)));
  }

  void connection_sync() {
    if (!in_.connection_sync) return;
    const ConnectionSync& c = *in_.connection_sync;
    line(0, "");
    comment(0, c.at.describe());
    notes(0, c.notes);
    line(0, "connection_sync:");
    if (!c.interface.empty())
      line(2, fmt::format("port: {}  # {}", port_name(c.interface), c.interface));
    if (c.id) line(2, fmt::format("id: {}", *c.id));
    if (c.udp_port) line(2, fmt::format("udp_port: {}", *c.udp_port));
    if (c.group) line(2, fmt::format("group: {}", *c.group));
    if (!c.interface.empty() || c.id || c.udp_port || c.group) return;
    out_.pop_back();
    out_ += " {}\n";
  }

  const Imported& in_;
  std::string out_;
};

}  // namespace

std::string yaml_quote(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\')
      out += '\\', out += c;
    else if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (static_cast<unsigned char>(c) < 0x20)
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
    else
      out += c;
  }
  return out + "\"";
}

std::string write_yaml(const Imported& in) {
  return Writer(in).run();
}

}  // namespace shoal::cli::import

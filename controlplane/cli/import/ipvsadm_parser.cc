#include "cli/import/ipvsadm_parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <sstream>

namespace shoal::cli::import {
namespace {

struct Endpoint {
  std::string address;
  uint16_t port = 0;
};

// "a.b.c.d:port" or "[v6]:port"; ipvsadm-save -n always writes the port.
std::optional<Endpoint> endpoint(const std::string& s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 >= s.size()) return std::nullopt;
  unsigned port = 0;
  const char* b = s.data() + colon + 1;
  const char* e = s.data() + s.size();
  auto [end, ec] = std::from_chars(b, e, port);
  if (ec != std::errc() || end != e || port > 65535) return std::nullopt;
  return Endpoint{s.substr(0, colon), static_cast<uint16_t>(port)};
}

bool number(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

IpvsParseResult parse_ipvsadm_text(const std::string& text, const std::string& file) {
  IpvsParseResult r;
  std::istringstream in(text);
  std::string line;
  int number_ = 0;
  while (std::getline(in, line)) {
    ++number_;
    if (const size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string word; words >> word;) w.push_back(word);
    if (w.empty()) continue;
    std::string joined = w[0];
    for (size_t i = 1; i < w.size(); ++i) joined += " " + w[i];
    const Source at{file, number_, joined};
    auto error = [&](const std::string& what) {
      r.errors.push_back(fmt::format("{}:{}: {}", file, number_, what));
    };
    const std::string& command = w[0];
    const bool add_service = command == "-A" || command == "--add-service";
    const bool add_server = command == "-a" || command == "--add-server";
    if (!add_service && !add_server) {
      r.warnings.push_back({at, "not a rule ipvsadm-save writes (-A or -a): ignored"});
      continue;
    }
    std::string protocol, address;
    uint16_t port = 0;
    IpvsService svc;
    IpvsRealServer rs;
    bool ok = true;
    for (size_t i = 1; i < w.size() && ok; ++i) {
      const std::string& o = w[i];
      auto value = [&]() -> std::optional<std::string> {
        if (i + 1 < w.size()) return w[++i];
        error(fmt::format("'{}' needs a value", o));
        ok = false;
        return std::nullopt;
      };
      if (o == "-t" || o == "--tcp-service" || o == "-u" || o == "--udp-service" ||
          o == "--sctp-service") {
        protocol = o == "-t" || o == "--tcp-service" ? "tcp"
                   : o == "--sctp-service"           ? "sctp"
                                                     : "udp";
        if (auto v = value()) {
          if (auto ep = endpoint(*v))
            address = ep->address, port = ep->port;
          else
            error(
                fmt::format("'{}' is not ADDRESS:PORT in numbers (as ipvsadm-save -n "
                            "writes them)",
                            *v)),
                ok = false;
        }
      } else if (o == "-f" || o == "--fwmark-service") {
        protocol = "fwmark";
        if (auto v = value()) address = *v;
      } else if (add_service && (o == "-s" || o == "--scheduler")) {
        if (auto v = value()) svc.scheduler = *v;
      } else if (add_service && (o == "-p" || o == "--persistent")) {
        // The timeout is optional on the command line; ipvsadm-save always writes it.
        svc.persistent = "300";
        if (i + 1 < w.size() && number(w[i + 1])) svc.persistent = w[++i];
      } else if (add_service && (o == "-M" || o == "--netmask")) {
        if (auto v = value()) svc.netmask = *v;
      } else if (add_server && (o == "-r" || o == "--real-server")) {
        if (auto v = value()) {
          if (auto ep = endpoint(*v)) {
            rs.address = ep->address, rs.port = ep->port;
          } else if (v->find(':') != std::string::npos && v->back() != ']' &&
                     std::count(v->begin(), v->end(), ':') == 1) {
            error(
                fmt::format("'{}' is not ADDRESS:PORT in numbers (as ipvsadm-save -n writes "
                            "them)",
                            *v));
            ok = false;
          } else {
            rs.address = *v;  // no port: the service's
          }
        }
      } else if (add_server && (o == "-g" || o == "--gatewaying")) {
        rs.method = 'g';
      } else if (add_server && (o == "-m" || o == "--masquerading")) {
        rs.method = 'm';
      } else if (add_server && (o == "-i" || o == "--ipip")) {
        rs.method = 'i';
      } else if (add_server && (o == "-w" || o == "--weight")) {
        if (auto v = value()) {
          if (number(*v) && v->size() < 10)
            rs.weight = static_cast<uint32_t>(std::stoul(*v));
          else
            error(fmt::format("weight '{}' is not a number", *v)), ok = false;
        }
      } else {
        // -b flags, -x/-y thresholds, --tun-type..., -o (one packet): read with their value if
        // they take one, kept to be warned about.
        std::string what = o;
        const bool takes_value = o == "-b" || o == "--sched-flags" || o == "-x" ||
                                 o == "--u-threshold" || o == "-y" || o == "--l-threshold" ||
                                 o == "--pe" || o == "--tun-type" || o == "--tun-port" ||
                                 o == "--tun-nocsum" || o == "--tun-csum" || o == "--tun-remcsum";
        if (takes_value && i + 1 < w.size() && w[i + 1][0] != '-') what += " " + w[++i];
        (add_service ? svc.unsupported : rs.unsupported).push_back(what);
      }
    }
    if (!ok) continue;
    if (protocol.empty()) {
      error("names no service (-t, -u, --sctp-service or -f)");
      continue;
    }
    if (add_service) {
      svc.at = at;
      svc.protocol = protocol;
      svc.address = address;
      svc.port = port;
      r.services.push_back(std::move(svc));
      continue;
    }
    IpvsService* owner = nullptr;
    for (IpvsService& s : r.services)
      if (s.protocol == protocol && s.address == address && s.port == port) owner = &s;
    if (!owner) {
      error(fmt::format("real server of {} {}:{}, which no earlier -A line adds", protocol, address,
                        port));
      continue;
    }
    if (rs.address.empty()) {
      error("a real server needs -r ADDRESS[:PORT]");
      continue;
    }
    if (rs.port == 0) rs.port = port;
    rs.at = at;
    owner->real_servers.push_back(std::move(rs));
  }
  return r;
}

}  // namespace shoal::cli::import

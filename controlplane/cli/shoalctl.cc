// shoalctl: the operator's command line over shoald's control API (a Unix socket).
//
// Exit codes, for scripts: 0 done; 1 shoald refused (the message says why: unknown backend,
// invalid config...); 2 wrong usage; 3 shoald not reachable.
#include <CLI/CLI.hpp>
#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/import/importer.h"
#include "cli/names.h"
#include "config/config.h"

namespace {

using nlohmann::json;

constexpr int kRefused = 1;
constexpr int kUsage = 2;
constexpr int kUnreachable = 3;

struct Reply {
  long status = 0;
  json body;
};

class ApiError : public std::runtime_error {
 public:
  ApiError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

size_t collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One request to the API; throws ApiError when shoald cannot be reached or answers nonsense.
Reply call(const std::string& socket, const std::string& method, const std::string& path,
           const std::string& body = "") {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) throw ApiError(kUnreachable, "cannot initialise libcurl");
  std::string text;
  const std::string url = "http://shoald" + path;
  curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &text);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  const CURLcode rc = curl_easy_perform(curl);
  Reply reply;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK)
    throw ApiError(kUnreachable, fmt::format("cannot reach shoald on {}: {} (is it running? "
                                             "--socket names another socket)",
                                             socket, curl_easy_strerror(rc)));
  reply.body = json::parse(text, nullptr, false);
  if (reply.body.is_discarded())
    throw ApiError(kUnreachable, fmt::format("shoald on {} answered HTTP {} with no JSON", socket,
                                             reply.status));
  return reply;
}

std::string str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "-";
}

enum class ListView { state, stats, rate };

// " quorum 3/4 lost": the healthy weight against the quorum, when a quorum is set or lost.
std::string quorum_note(const json& service) {
  const json q = service.value("quorum", json::object());
  const bool up = q.value("up", true);
  const uint64_t needs = q.value("needs", uint64_t{1});
  if (up && needs == 1) return "";
  return fmt::format(" quorum {}/{}{}", q.value("healthy_weight", uint64_t{0}), needs,
                     up ? "" : " lost");
}

// How `list` prints an address: numbers (-n), or names as ipvsadm prints them without -n.
class AddressPrinter {
 public:
  AddressPrinter(const json& services, bool numeric) : numeric_(numeric) {
    if (numeric_) return;
    std::vector<std::string> addresses;
    for (const json& s : services) {
      addresses.push_back(str(s, "vip"));
      for (const json& b : s["backends"]) addresses.push_back(str(b, "address"));
    }
    names_ = shoal::cli::reverse_lookup_all(addresses, kNameBudget);
  }

  // A multi-port service (port 0) shows its ports as its config lists them
  // (10.0.0.100:80,443,8000-8100), one on every port as LVS's port 0 (10.0.0.100:0).
  std::string service(const json& s) const {
    if (s.value("port", 0) == 0 && s.contains("ports"))
      return fmt::format("{}:{}", host(str(s, "vip")), str(s, "ports"));
    return endpoint(str(s, "vip"), s.value("port", 0), str(s, "protocol"));
  }
  std::string backend(const json& b, const std::string& protocol) const {
    return endpoint(str(b, "address"), b.value("port", 0), protocol);
  }

 private:
  // A name server that does not answer must not hold the listing for long: the lookups share
  // this budget, and an address unnamed by then prints as its number.
  static constexpr std::chrono::milliseconds kNameBudget{1000};

  // Its name, else the address; an IPv6 address in brackets, as ipvsadm writes it before a port.
  std::string host(const std::string& address) const {
    const auto it = names_.find(address);
    if (it != names_.end()) return it->second;
    return address.find(':') == std::string::npos ? address : fmt::format("[{}]", address);
  }
  std::string endpoint(const std::string& address, int port, const std::string& protocol) const {
    if (numeric_ || port == 0) return fmt::format("{}:{}", host(address), port);
    return fmt::format("{}:{}", host(address),
                       shoal::cli::port_name(static_cast<uint16_t>(port), protocol));
  }

  bool numeric_;
  std::map<std::string, std::string> names_;
};

// The layout of `ipvsadm -L`: a line per service, a line per backend under it; --stats and
// --rate replace the state columns with totals or per-second rates, as ipvsadm's do. The
// address columns widen to the longest address or name.
void print_list(const json& services, ListView view, bool numeric) {
  const AddressPrinter addresses(services, numeric);
  int width = 21, backend_width = 22;
  for (const json& s : services) {
    width = std::max(width, static_cast<int>(addresses.service(s).size()));
    for (const json& b : s["backends"])
      backend_width = std::max(backend_width,
                               static_cast<int>(addresses.backend(b, str(s, "protocol")).size()));
  }
  std::printf("Prot %-*s Scheduler           Service\n", width, "LocalAddress:Port");
  const char* columns = view == ListView::state ? "Forward Weight Effective Admin     ActiveConn InActConn Health"
                        : view == ListView::stats ? "Conns      InPkts       InBytes"
                                                  : "CPS        InPPS        InBPS";
  std::printf("  -> %-*s %s\n", backend_width, "RemoteAddress:Port", columns);
  for (const json& s : services) {
    std::string proto = str(s, "protocol");
    for (char& c : proto) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const std::string vip = addresses.service(s);
    // As ipvsadm names its schedulers; Maglev, which is not one of them, with what it hashes.
    std::string scheduler = s.value("scheduler", "maglev") == "maglev"
                                ? "maglev " + str(s, "hash")
                                : s.value("scheduler", "?");
    if (s.contains("persistence") && s["persistence"].is_object())  // ipvsadm's words
      scheduler += fmt::format(" persistent {} mask {}", s["persistence"].value("timeout", 0),
                               s["persistence"].value("netmask", ""));
    std::printf("%-4s %-*s %-19s %s%s%s\n", proto.c_str(), width, vip.c_str(), scheduler.c_str(),
                str(s, "name").c_str(), quorum_note(s).c_str(),
                str(s, "all_down") == "drop" ? "" : (" (all down: " + str(s, "all_down") + ")").c_str());
    const std::string mode = str(s, "forwarding");
    const char* forward = mode == "dr" ? "Route" : mode == "tun" ? "Tunnel" : "Masq";
    for (const json& b : s["backends"]) {
      const std::string rip = addresses.backend(b, str(s, "protocol"));
      const json& h = b["health"];
      std::string health = h.contains("up") ? (h["up"].get<bool>() ? "up" : "down") : "-";
      if (h.value("check", "none") == "none") health = "unchecked";
      if (h.contains("last") && !h["last"]["pass"].get<bool>())
        health += " (" + h["last"].value("detail", "") + ")";
      const std::string effective =
          b.contains("effective_weight") ? std::to_string(b["effective_weight"].get<uint32_t>()) : "-";
      const json& t = b["traffic"];
      if (view == ListView::stats) {
        std::printf("  -> %-*s %-10lu %-12lu %lu\n", backend_width, rip.c_str(),
                    t.value("new_flows", 0UL), t.value("packets", 0UL), t.value("bytes", 0UL));
        continue;
      }
      if (view == ListView::rate) {
        std::printf("  -> %-*s %-10.0f %-12.0f %.0f\n", backend_width, rip.c_str(),
                    t.value("new_flows_per_second", 0.0), t.value("packets_per_second", 0.0),
                    t.value("bytes_per_second", 0.0));
        continue;
      }
      std::printf("  -> %-*s %-7s %-6u %-9s %-9s %-10u %-9u %s%s\n", backend_width, rip.c_str(),
                  forward, b.value("weight", 0u), effective.c_str(), str(b, "admin_state").c_str(),
                  b["connections"].value("active", 0u), b["connections"].value("inactive", 0u),
                  health.c_str(), b.value("sorry", false) ? " [sorry server]" : "");
    }
  }
}

void print_bgp(const json& b) {
  const json& bird = b["bird"];
  std::printf("bgp via bird at %s%s%s%s\n", str(b, "socket").c_str(),
              bird.value("reachable", false) ? "" : " (unreachable)",
              b.value("director_withdrawn", false) ? ", director withdrawn by the operator" : "",
              bird["error"].is_string() ? (": " + bird["error"].get<std::string>()).c_str() : "");
  for (const json& v : b["vips"]) {
    const bool offered = v.value("offered", false), loaded = v.value("in_bird", false);
    std::string state = !offered && loaded          ? "being withdrawn"
                        : v.value("announced", false) ? "announced"
                        : loaded                      ? "in bird, no session up"
                                                      : "not announced";
    if (!offered) state += " (" + str(v, "why") + ")";
    std::printf("  vip %-15s %s\n", str(v, "vip").c_str(), state.c_str());
  }
  for (const json& s : b["sessions"])
    std::printf("  session %-12s %-6s %-14s %s\n", str(s, "name").c_str(), str(s, "state").c_str(),
                str(s, "info").c_str(), str(s, "since").c_str());
}

void print_counters(const json& counters) {
  const json& t = counters["total"];
  std::printf("rx %lu  tx %lu  dropped %lu  to control %lu  flows created %lu  rescheduled %lu\n",
              t.value("rx", 0UL), t.value("tx", 0UL), t.value("dropped", 0UL),
              t.value("to_control", 0UL), t.value("flows_created", 0UL),
              t.value("flows_rescheduled", 0UL));
  for (const char* group : {"drops", "control"})
    for (const auto& [reason, value] : t[group].items())
      if (value.get<uint64_t>() != 0) std::printf("  %s.%s %lu\n", group, reason.c_str(), value.get<uint64_t>());
  for (const json& w : counters["workers"])
    std::printf("worker %u: rx %lu tx %lu dropped %lu flows %lu\n", w.value("worker", 0u),
                w.value("rx", 0UL), w.value("tx", 0UL), w.value("dropped", 0UL),
                w.value("flows", 0UL));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shoalctl: look at and change a running shoald through its control API"};
  app.require_subcommand(1);
  const char* env_socket = std::getenv("SHOAL_SOCKET");
  std::string socket = env_socket ? env_socket : shoal::cp::kDefaultApiSocket;
  bool as_json = false;
  app.add_option("-s,--socket", socket, "shoald's API socket (env SHOAL_SOCKET)")
      ->capture_default_str();
  app.add_flag("--json", as_json, "print the API's JSON answer as is");

  std::string service, backend, file;
  uint32_t weight = 0;
  auto* status = app.add_subcommand("status", "this director: version, uptime, counts");
  auto* list = app.add_subcommand("list", "services and their backends, like ipvsadm -L");
  bool list_stats = false, list_rate = false, list_numeric = false;
  list->add_flag("-n,--numeric", list_numeric, "addresses and ports as numbers, without looking up names");
  list->add_flag("--stats", list_stats, "totals: connections, packets and bytes to each backend")
      ->excludes(list->add_flag("--rate", list_rate, "per second, over the last second"));
  auto* counters = app.add_subcommand("counters", "packet counters and drops by reason");
  auto* reload = app.add_subcommand("reload", "reload shoald's config file (all or nothing)");
  std::string client, vip, proto = "tcp", flow_vip, flow_client;
  uint32_t limit = 100;
  auto* simulate = app.add_subcommand("simulate", "which backend a new flow goes to, and why");
  simulate->add_option("CLIENT", client, "client address, with :PORT for 5-tuple services")->required();
  simulate->add_option("VIP", vip, "service address:port")->required();
  simulate->add_option("PROTO", proto, "tcp or udp")->check(CLI::IsMember({"tcp", "udp"}))
      ->capture_default_str();
  auto* flows = app.add_subcommand("flows", "a sample of the flow tables");
  flows->add_option("--vip", flow_vip, "only flows to this VIP");
  flows->add_option("--client", flow_client, "only flows from this client");
  flows->add_option("--limit", limit, "at most this many (1..1000)")->check(CLI::Range(1, 1000))
      ->capture_default_str();
  auto* bgp = app.add_subcommand("bgp", "BGP: each VIP's announcement and bird's sessions");
  std::string bgp_vip;
  auto* withdraw = app.add_subcommand(
      "withdraw", "stop announcing this director (or one VIP) by BGP: its flows go on, new "
                  "ones go to the other directors");
  withdraw->add_option("VIP", bgp_vip, "only this VIP");
  auto* announce = app.add_subcommand("announce", "announce this director (or one VIP) again");
  announce->add_option("VIP", bgp_vip, "only this VIP");
  auto* zero = app.add_subcommand("zero", "start the traffic totals that list --stats shows "
                                           "from 0 again, like ipvsadm -Z");
  std::string zero_service;
  zero->add_option("SERVICE", zero_service, "only this service's backends");
  auto* check = app.add_subcommand("check", "validate a config file here, without shoald");
  check->add_option("FILE", file, "the config file")->required()->check(CLI::ExistingFile);
  auto* import = app.add_subcommand("import", "print shoal's YAML for a keepalived.conf or "
                                              "ipvsadm-save -n output (no shoald needed)");
  import->require_subcommand(1);
  shoal::cli::import::ImportOptions import_options;
  std::string import_file;
  auto* import_keepalived = import->add_subcommand("keepalived", "from keepalived.conf (and its includes)");
  auto* import_ipvsadm = import->add_subcommand("ipvsadm", "from `ipvsadm-save -n` (- reads stdin)");
  for (CLI::App* sub : {import_keepalived, import_ipvsadm}) {
    sub->add_option("FILE", import_file, "the file to import")->required();
  }
  import_keepalived->add_option("--config-id", import_options.config_id,
                                "keep the lines marked @ID, as keepalived -i ID does");
  std::map<std::string, CLI::App*> ops;
  for (const auto& [name, help] :
       {std::pair{"enable", "put a backend back in service"},
        std::pair{"disable", "take a backend out now: its flows move to the others"},
        std::pair{"drain", "no new flows to a backend; its flows finish there"},
        std::pair{"weight", "set a backend's weight (kept until the file's weight changes)"}}) {
    CLI::App* op = app.add_subcommand(name, help);
    op->add_option("SERVICE", service, "service name")->required();
    op->add_option("BACKEND", backend, "backend name (as `shoalctl list` shows)")->required();
    if (std::string(name) == "weight")
      op->add_option("WEIGHT", weight, "0..65535")->required()->check(CLI::Range(0, 65535));
    ops[name] = op;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kUsage;  // --help is no error
  }

  if (import->parsed()) {
    const auto kind = import_keepalived->parsed() ? shoal::cli::import::SourceKind::keepalived
                                                  : shoal::cli::import::SourceKind::ipvsadm;
    return shoal::cli::import::run_import(kind, import_file, import_options, stdout, stderr);
  }

  if (check->parsed()) {
    const shoal::cp::LoadResult r = shoal::cp::load_config_file(file);
    if (as_json) {
      std::printf("%s\n", json{{"valid", r.config.has_value()}, {"errors", r.errors},
                               {"warnings", r.warnings}}.dump(2).c_str());
    } else {
      for (const std::string& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
      for (const std::string& e : r.errors) std::fprintf(stderr, "%s\n", e.c_str());
      if (r.config) std::printf("%s: ok\n", file.c_str());
    }
    return r.config ? 0 : kRefused;
  }

  curl_global_init(CURL_GLOBAL_DEFAULT);
  try {
    Reply reply;
    if (status->parsed()) reply = call(socket, "GET", "/v1/status");
    if (list->parsed()) reply = call(socket, "GET", "/v1/services");
    if (counters->parsed()) reply = call(socket, "GET", "/v1/counters");
    if (reload->parsed()) reply = call(socket, "POST", "/v1/reload");
    if (simulate->parsed())
      reply = call(socket, "GET", fmt::format("/v1/simulate?client={}&vip={}&proto={}", client, vip, proto));
    if (flows->parsed())
      reply = call(socket, "GET", fmt::format("/v1/flows?vip={}&client={}&limit={}", flow_vip,
                                              flow_client, limit));
    if (bgp->parsed()) reply = call(socket, "GET", "/v1/bgp");
    for (CLI::App* op : {withdraw, announce})
      if (op->parsed())
        reply = call(socket, "POST",
                     bgp_vip.empty() ? fmt::format("/v1/bgp/{}", op->get_name())
                                     : fmt::format("/v1/bgp/vips/{}/{}", bgp_vip, op->get_name()));
    if (zero->parsed())
      reply = call(socket, "POST",
                   zero_service.empty() ? "/v1/zero" : fmt::format("/v1/services/{}/zero", zero_service));
    for (const auto& [name, op] : ops)
      if (op->parsed())
        reply = call(socket, "POST", fmt::format("/v1/services/{}/backends/{}/{}", service, backend, name),
                     name == "weight" ? json{{"weight", weight}}.dump() : "");
    const json& body = reply.body;
    if (as_json) {
      std::printf("%s\n", body.dump(2).c_str());
    } else if (reply.status >= 400) {
      for (const json& e : body.value("errors", json::array()))
        if (e.is_string()) std::fprintf(stderr, "%s\n", e.get<std::string>().c_str());
      if (body.value("errors", json::array()).empty())
        std::fprintf(stderr, "shoalctl: %s\n", body.value("error", "request refused").c_str());
    } else if (status->parsed()) {
      std::printf("node %s  shoald %s  pid %d  up %.0f s\nconfig %s: %zu service(s), %zu "
                  "backend(s), %u worker(s)\n",
                  str(body, "node").c_str(), str(body, "version").c_str(), body.value("pid", 0),
                  body.value("uptime_seconds", 0.0), str(body, "config").c_str(),
                  body.value("services", size_t{0}), body.value("backends", size_t{0}),
                  body.value("workers", 0u));
      for (const json& v : body.value("vrrp", json::array())) {
        std::string addresses;
        for (const json& a : v["addresses"]) addresses += (addresses.empty() ? "" : " ") + a.get<std::string>();
        std::printf("vrrp %s (vrid %u): %s, priority %u: %s\n", str(v, "name").c_str(),
                    v.value("vrid", 0u), str(v, "state").c_str(), v.value("priority", 0u),
                    addresses.c_str());
      }
      for (const json& v : body.value("vrrp_scripts", json::array()))
        std::printf("vrrp script %s: %s (%s), weight %d\n", str(v, "name").c_str(),
                    str(v, "state").c_str(), str(v, "last_result").c_str(), v.value("weight", 0));
      if (body.contains("connection_sync")) {
        const json& c = body["connection_sync"];
        const json p = c.value("persistence", json::object());
        const unsigned long long held6 = c.value("table6", json::object()).value("entries", 0ull);
        std::printf("connection sync %s: pull %s, %llu flow(s) held for peers (%llu IPv6), "
                    "%llu sent, %llu received, %llu claimed; persistence entries %llu sent, "
                    "%llu installed\n",
                    str(c, "group").c_str(), str(c, "pull").c_str(),
                    c["table"].value("entries", 0ull) + held6, held6, c["sent"].value("flows", 0ull),
                    c["received"].value("flows", 0ull), c.value("claimed", 0ull),
                    p.value("sent", 0ull), p.value("installed", 0ull));
      }
      if (body.contains("bgp")) print_bgp(body["bgp"]);
    } else if (bgp->parsed() || withdraw->parsed() || announce->parsed()) {
      print_bgp(body);
    } else if (list->parsed()) {
      print_list(body["services"], list_stats ? ListView::stats
                                   : list_rate ? ListView::rate
                                               : ListView::state,
                 list_numeric);
    } else if (counters->parsed()) {
      print_counters(body);
    } else if (simulate->parsed()) {
      const json& b = body["backend"];
      if (b.is_null())
        std::printf("%s: no backend: %s\n", str(body, "service").c_str(), str(body, "why").c_str());
      else
        std::printf("%s -> %s %s\n  %s\n", str(body, "service").c_str(), str(b, "name").c_str(),
                    AddressPrinter(json::array(), true).backend(b, "")
                        .c_str(),
                    str(body, "why").c_str());
    } else if (flows->parsed()) {
      std::printf("%-6s %-21s %-21s %-5s %-11s %-20s %s\n", "Worker", "Client", "VIP", "Proto",
                  "State", "Backend", "Idle");
      for (const json& f : body["flows"])
        std::printf("%-6u %-21s %-21s %-5s %-11s %-20s %.1f s\n", f.value("worker", 0u),
                    str(f, "client").c_str(), str(f, "vip").c_str(), str(f, "protocol").c_str(),
                    str(f, "state").c_str(), str(f, "backend").c_str(),
                    f.value("idle_ms", 0u) / 1000.0);
      if (!body.value("complete", true)) std::printf("(partial: a worker did not answer in time)\n");
    } else if (zero->parsed()) {
      std::printf("zeroed the traffic totals of %zu backend(s)\n",
                  body.value("zeroed_backends", size_t{0}));
    } else if (reload->parsed()) {
      for (const json& w : body["warnings"]) std::fprintf(stderr, "warning: %s\n", w.get<std::string>().c_str());
      std::printf("reloaded\n");
    } else {
      std::printf("%s/%s: %s, weight %u\n", service.c_str(), backend.c_str(),
                  str(body, "admin_state").c_str(), body.value("effective_weight", 0u));
      if (body.contains("warning")) std::fprintf(stderr, "warning: %s\n", str(body, "warning").c_str());
    }
    return reply.status >= 400 ? kRefused : 0;
  } catch (const ApiError& e) {
    std::fprintf(stderr, "shoalctl: %s\n", e.what());
    return e.code();
  }
}

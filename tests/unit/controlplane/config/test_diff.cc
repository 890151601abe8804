// The operator's diff between two configs (controlplane/config/diff.cc): every change named
// once, in words; formatting and comments never show.
#include <catch2/catch.hpp>

#include "config/config.h"
#include "config/diff.h"

#include <algorithm>
#include <string>

using shoal::cp::Config;
using shoal::cp::diff_configs;
using shoal::cp::load_config_string;

namespace {

Config load(const std::string& services) {
  auto r = load_config_string(R"(ports:
  - name: lan
    device: net_null0
    addresses: [10.0.0.2/24]
services:
)" + services, "t.yaml");
  INFO((r.errors.empty() ? std::string() : r.errors.front()));
  REQUIRE(r.config);
  return *r.config;
}

const std::string kWeb = R"(  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
    backends:
      - {name: rs1, address: 10.0.0.11}
      - {name: rs2, address: 10.0.0.12}
)";

}  // namespace

TEST_CASE("config diff: nothing for the same config written differently", "[config]") {
  const std::string reordered = R"(  - backends: [{address: 10.0.0.11, name: rs1}, {name: rs2, address: 10.0.0.12}]
    forwarding: dr   # a comment
    port: 80
    vip: 10.0.0.100
    name: web
)";
  CHECK(diff_configs(load(kWeb), load(reordered)).empty());
}

TEST_CASE("config diff: services and backends added, removed and changed", "[config]") {
  std::string next = kWeb;
  next.replace(next.find("{name: rs2, address: 10.0.0.12}"), 31,
               "{name: rs2, address: 10.0.0.12, weight: 3}");
  next += "      - {name: rs3, address: 10.0.0.13}\n";
  next.replace(next.find("forwarding: dr"), 14, "forwarding: dr\n    all_down: fail-open");
  next += R"(  - name: dns
    vip: 10.0.0.101
    port: 53
    protocol: udp
    forwarding: dr
    backends: [{address: 10.0.0.11}]
)";
  const auto d = diff_configs(load(kWeb), load(next));
  const std::vector<std::string> want = {
      "service web: all_down drop -> fail-open",
      "service web: backend rs2: weight 1 -> 3",
      "service web: backend rs3 10.0.0.13:80 added",
      "service dns 10.0.0.101:53/udp (dr) added with 1 backend(s)",
  };
  INFO(Catch::Detail::stringify(d));
  CHECK(d.size() == want.size());
  for (const auto& w : want) CHECK(std::find(d.begin(), d.end(), w) != d.end());
  const auto back = diff_configs(load(next), load(kWeb));
  CHECK(std::find(back.begin(), back.end(), "service dns 10.0.0.101:53/udp removed") != back.end());
  CHECK(std::find(back.begin(), back.end(), "service web: backend rs3 10.0.0.13:80 removed") !=
        back.end());
}

TEST_CASE("config diff: a service's ports, as shoalctl list shows them", "[config][multiport]") {
  std::string listed = kWeb;
  listed.replace(listed.find("port: 80"), 8, "ports: [80, 443]");
  std::string every = kWeb;
  every.replace(every.find("port: 80"), 8, "ports: all");
  // Its backends keep each packet's port from then on: port 0, as ipvsadm shows them.
  CHECK(diff_configs(load(kWeb), load(listed)) ==
        std::vector<std::string>{
            "service web: address 10.0.0.100:80/tcp -> 10.0.0.100:80,443/tcp",
            "service web: backend rs1: address 10.0.0.11:80 -> 10.0.0.11:0",
            "service web: backend rs2: address 10.0.0.12:80 -> 10.0.0.12:0"});
  std::vector<std::string> d;
  d = diff_configs(load(listed), load(every));
  REQUIRE(d.size() == 1);
  CHECK(d[0] == "service web: address 10.0.0.100:80,443/tcp -> 10.0.0.100:0/tcp");
}

TEST_CASE("config diff: notify commands, vrrp scripts and the notify section", "[config][notify]") {
  const std::string vrrp = R"(vrrp:
  scripts:
    - {name: chk, command: "pidof nginx", interval: 2}
    - {name: old, command: /bin/true}
  instances:
    - name: front
      vrid: 51
      addresses: [10.0.0.100]
      notify_master: /bin/m
)";
  std::string web = kWeb;
  const std::string rs1 = "{name: rs1, address: 10.0.0.11}";
  web.replace(web.find(rs1), rs1.size(),
              "{name: rs1, address: 10.0.0.11, notify_down: /bin/down}");
  std::string next_vrrp = vrrp;
  next_vrrp.replace(next_vrrp.find("interval: 2"), 11, "interval: 3, weight: -10");
  next_vrrp.replace(next_vrrp.find("old"), 3, "new");
  next_vrrp.replace(next_vrrp.find("/bin/m"), 6, "\"/bin/m now\"\n      notify: /bin/any");
  const auto diff = diff_configs(load(kWeb + vrrp), load(web + next_vrrp + "notify: {timeout: 3}\n"));
  const std::vector<std::string> want = {
      "service web: backend rs1: notify_down none -> '/bin/down'",
      "vrrp script chk: interval 2 s -> 3 s",
      "vrrp script chk: timeout 2 s -> 3 s",
      "vrrp script chk: weight 0 -> -10",
      "vrrp script new added: '/bin/true'",
      "vrrp script old removed",
      "vrrp instance front: notify_master '/bin/m' -> '/bin/m now'",
      "vrrp instance front: notify none -> '/bin/any'",
      "notify: timeout 10 s -> 3 s",
  };
  CHECK(diff == want);
}

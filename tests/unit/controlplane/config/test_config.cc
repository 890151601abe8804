// Configuration loading (controlplane/config.{h,cc}): the example configs load, every field
// reaches the model, each class of mistake is reported as "FILE:LINE: reason" on the right
// line (and all of them at once), and backend ids stay stable across reloads.
#include <catch2/catch.hpp>

#include "config/config.h"
#include "controlplane/load_errors.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#ifndef SHOAL_SOURCE_DIR
#error "tests/unit/meson.build defines SHOAL_SOURCE_DIR"
#endif

using shoal::cp::assign_backend_ids;
using shoal::cp::BackendConfig;
using shoal::cp::Config;
using shoal::cp::IpAddress;
using shoal::cp::Ipv4Prefix;
using shoal::cp::load_config_file;
using shoal::cp::load_config_string;
using shoal::cp::LoadResult;
using shoal::cp::LogLevel;
using shoal::cp::MacAddress;
using shoal::cp::Protocol;
using shoal::cp::ServiceConfig;
using shoal::dp::ForwardMode;
using shoal::dp::HashOn;
using shoal::dp::ipv4;
using shoal::dp::kNoBackend;

using shoal::test::lines_text;

namespace {

LoadResult load(const std::string& text) {
  return load_config_string(text, "t.yaml");
}


void expect_error(const std::string& text, const std::string& prefix, const std::string& phrase) {
  shoal::test::expect_load_error(text, prefix, phrase);
}

void expect_valid(const std::string& text) {
  const LoadResult r = load(text);
  INFO("errors:\n" << lines_text(r.errors));
  CHECK(r.errors.empty());
  CHECK(r.config.has_value());
}

// Lines 1-4: one port on 10.0.0.0/24; a service follows from line 5.
const std::string kPort = R"(ports:
  - name: lan
    device: net_null0
    addresses: [10.0.0.2/24]
)";

// `text` with each placeholder's first occurrence replaced by its value.
std::string filled(std::string text,
                   std::initializer_list<std::pair<std::string_view, std::string>> values) {
  for (const auto& [placeholder, value] : values)
    text.replace(text.find(placeholder), placeholder.size(), value);
  return text;
}

// Lines 1-4 too: the port also on 10.0.1.0/24, where NAT backends sit.
const std::string kTwoSubnets = R"(ports:
  - name: lan
    device: net_null0
    addresses: [10.0.0.2/24, 10.0.1.1/24]
)";

const ServiceConfig* service(const Config& c, const std::string& name) {
  for (const auto& s : c.services)
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace

TEST_CASE("config: the example configs load without errors or warnings", "[config]") {
  const std::string dir = std::string(SHOAL_SOURCE_DIR) + "/configs/";
  const struct {
    const char* file;
    ForwardMode mode;
    uint32_t first_backend;
  } examples[] = {
      {"demo.yaml", ForwardMode::dr, ipv4(10, 0, 0, 11)},
      {"demo-nat.yaml", ForwardMode::nat, ipv4(10, 0, 1, 11)},
      {"demo-tun.yaml", ForwardMode::tun, ipv4(10, 0, 0, 11)},
  };
  for (const auto& ex : examples) {
    INFO(ex.file);
    const LoadResult r = load_config_file(dir + ex.file);
    INFO("errors:\n" << lines_text(r.errors) << "warnings:\n" << lines_text(r.warnings));
    REQUIRE(r.errors.empty());
    CHECK(r.warnings.empty());
    REQUIRE(r.config);
    const Config& c = *r.config;
    REQUIRE(c.ports.size() == 1);
    CHECK(c.ports[0].device == "net_af_packet0,iface=shoal-d1");
    CHECK(c.ports[0].addresses[0] == Ipv4Prefix{ipv4(10, 0, 0, 2), 24});
    REQUIRE(c.services.size() == 3);  // web, its IPv6 twin web6, echo
    CHECK(c.ports[0].addresses6.front().address == shoal::cp::parse_ipv6("fd00::2"));
    const ServiceConfig* web6 = service(c, "web6");
    REQUIRE(web6);
    CHECK(shoal::cp::service_endpoint(*web6) == "[fd00::100]:80");
    CHECK(web6->forwarding == ex.mode);
    CHECK(web6->backends.size() == 3);
    const ServiceConfig* web = service(c, "web");
    const ServiceConfig* echo = service(c, "echo");
    REQUIRE(web);
    REQUIRE(echo);
    CHECK(web->vip == IpAddress::from_v4(ipv4(10, 0, 0, 100)));
    CHECK(web->port == 80);
    CHECK(web->protocol == Protocol::tcp);
    CHECK(echo->vip == IpAddress::from_v4(ipv4(10, 0, 0, 100)));
    CHECK(echo->port == 7);
    CHECK(echo->protocol == Protocol::udp);
    for (const ServiceConfig* s : {web, echo}) {
      CHECK(s->forwarding == ex.mode);
      REQUIRE(s->backends.size() == 3);
      CHECK(s->backends[0].address == IpAddress::from_v4(ex.first_backend));
    }
    CHECK(web->backends[0].weight == 1);
    CHECK(web->backends[1].weight == 1);
    CHECK(web->backends[2].weight == 2);
  }
}

// The appliance examples run on NICs, not in the lab: each one loads clean, and none of its
// ports is a virtual device.
TEST_CASE("config: the production configs load without errors or warnings", "[config]") {
  const std::filesystem::path dir =
      std::filesystem::path(SHOAL_SOURCE_DIR) / "configs" / "production";
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 2);
  for (const auto& file : files) {
    INFO(file.string());
    const LoadResult r = load_config_file(file.string());
    INFO("errors:\n" << lines_text(r.errors) << "warnings:\n" << lines_text(r.warnings));
    CHECK(r.errors.empty());
    CHECK(r.warnings.empty());
    REQUIRE(r.config);
    for (const auto& port : r.config->ports) CHECK(port.device.rfind("net_", 0) != 0);
  }
}

TEST_CASE("config: every field of a full config reaches the model", "[config]") {
  const LoadResult r = load(R"(eal: ["--no-huge", "-m", "256"]
log_level: debug
ports:
  - name: lan
    device: "net_af_packet0,iface=shoal-d1"
    addresses: [10.0.0.2/24, 10.0.1.1/24]
    gateway: 10.0.0.1
    mtu: 9000
  - name: wan-2
    device: "0000:03:00.0"
    addresses: [192.168.7.5/30]
workers:
  count: 4
  flow_table_size: 2048
  flow_timeouts: {syn: 5, established: 3600, closing: 60, udp: 30}
services:
  - name: web
    vip: 10.0.0.100
    port: 443
    protocol: tcp
    forwarding: nat
    hash: source-address
    maglev_size: 1009
    backends:
      - name: rs1
        address: 10.0.1.11
        port: 8443
        weight: 3
      - address: 10.0.1.12
        weight: 0
  - name: dns
    vip: 10.0.0.101
    port: 53
    protocol: udp
    forwarding: tun
    backends:
      - {address: 198.51.100.7}
neighbours:
  - {address: 10.0.0.11, mac: "02:00:00:00:00:AB"}
routes:
  - {prefix: 192.0.2.0/24, via: 192.168.7.6}
tunnel_ttl: 17
)");
  INFO("errors:\n" << lines_text(r.errors));
  REQUIRE(r.errors.empty());
  CHECK(r.warnings.empty());
  REQUIRE(r.config);
  const Config& c = *r.config;
  CHECK(c.source == "t.yaml");
  CHECK(c.eal == std::vector<std::string>{"--no-huge", "-m", "256"});
  CHECK(c.log_level == LogLevel::debug);

  REQUIRE(c.ports.size() == 2);
  CHECK(c.ports[0].name == "lan");
  CHECK(c.ports[0].device == "net_af_packet0,iface=shoal-d1");
  REQUIRE(c.ports[0].addresses.size() == 2);
  CHECK(c.ports[0].addresses[0] == Ipv4Prefix{ipv4(10, 0, 0, 2), 24});
  CHECK(c.ports[0].addresses[1] == Ipv4Prefix{ipv4(10, 0, 1, 1), 24});
  CHECK(c.ports[0].gateway == ipv4(10, 0, 0, 1));
  CHECK(c.ports[0].mtu == 9000);
  CHECK(c.ports[1].name == "wan-2");
  CHECK(c.ports[1].device == "0000:03:00.0");
  CHECK(c.ports[1].addresses == std::vector<Ipv4Prefix>{{ipv4(192, 168, 7, 5), 30}});
  CHECK_FALSE(c.ports[1].gateway.has_value());
  CHECK(c.ports[1].mtu == 1500);
  CHECK(c.on_link_port(ipv4(10, 0, 1, 200)) == 0);
  CHECK(c.on_link_port(ipv4(192, 168, 7, 6)) == 1);
  CHECK(c.on_link_port(ipv4(192, 168, 7, 8)) == -1);

  CHECK(c.workers.count == 4);
  CHECK(c.workers.flow_table_size == 2048);
  CHECK(c.workers.flow_timeouts.syn_ms == 5'000);
  CHECK(c.workers.flow_timeouts.established_ms == 3'600'000);
  CHECK(c.workers.flow_timeouts.closing_ms == 60'000);
  CHECK(c.workers.flow_timeouts.udp_ms == 30'000);

  REQUIRE(c.services.size() == 2);
  const ServiceConfig& web = c.services[0];
  CHECK(web.name == "web");
  CHECK(web.vip == IpAddress::from_v4(ipv4(10, 0, 0, 100)));
  CHECK(web.port == 443);
  CHECK(web.protocol == Protocol::tcp);
  CHECK(web.forwarding == ForwardMode::nat);
  CHECK(web.hash == HashOn::source_address);
  CHECK(web.maglev_size == 1009);
  REQUIRE(web.backends.size() == 2);
  CHECK(web.backends[0].name == "rs1");
  CHECK(web.backends[0].address == IpAddress::from_v4(ipv4(10, 0, 1, 11)));
  CHECK(web.backends[0].port == 8443);
  CHECK(web.backends[0].weight == 3);
  CHECK(web.backends[0].id == 0);
  CHECK(web.backends[1].name == "10.0.1.12:443");  // default name; default port = service's
  CHECK(web.backends[1].port == 443);
  CHECK(web.backends[1].weight == 0);
  CHECK(web.backends[1].id == 1);
  const ServiceConfig& dns = c.services[1];
  CHECK(dns.protocol == Protocol::udp);
  CHECK(dns.forwarding == ForwardMode::tun);
  CHECK(dns.hash == HashOn::five_tuple);
  CHECK(dns.maglev_size == shoal::dp::kDefaultMaglevSize);
  REQUIRE(dns.backends.size() == 1);
  CHECK(dns.backends[0].address == IpAddress::from_v4(ipv4(198, 51, 100, 7)));  // reached via the gateway
  CHECK(dns.backends[0].port == 53);
  CHECK(dns.backends[0].weight == 1);
  CHECK(dns.backends[0].id == 2);
  CHECK(c.backend_count() == 3);

  REQUIRE(c.neighbours.size() == 1);
  CHECK(c.neighbours[0].address == ipv4(10, 0, 0, 11));
  CHECK(c.neighbours[0].mac == MacAddress{0x02, 0, 0, 0, 0, 0xab});
  REQUIRE(c.routes.size() == 1);
  CHECK(c.routes[0].prefix == Ipv4Prefix{ipv4(192, 0, 2, 0), 24});
  CHECK(c.routes[0].via == ipv4(192, 168, 7, 6));
  CHECK(c.tunnel_ttl == 17);
}

TEST_CASE("config: defaults of optional keys", "[config]") {
  const LoadResult r = load(kPort + R"(services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
    backends:
      - address: 10.0.0.11
)");
  INFO("errors:\n" << lines_text(r.errors));
  REQUIRE(r.config);
  const Config& c = *r.config;
  CHECK(c.eal.empty());
  CHECK(c.log_level == LogLevel::info);
  CHECK(c.ports[0].mtu == 1500);
  CHECK_FALSE(c.ports[0].gateway);
  CHECK(c.workers.count == 1);
  CHECK(c.workers.flow_table_size == 1048576);
  CHECK(c.workers.flow_timeouts.syn_ms == 30'000);
  CHECK(c.workers.flow_timeouts.established_ms == 900'000);
  CHECK(c.workers.flow_timeouts.closing_ms == 120'000);
  CHECK(c.workers.flow_timeouts.udp_ms == 300'000);
  CHECK(c.services[0].protocol == Protocol::tcp);
  CHECK(c.services[0].hash == HashOn::five_tuple);
  CHECK(c.services[0].maglev_size == 65537);
  CHECK(c.services[0].backends[0].name == "10.0.0.11:80");
  CHECK(c.services[0].backends[0].port == 80);
  CHECK(c.services[0].backends[0].weight == 1);
  CHECK(c.neighbours.empty());
  CHECK(c.routes.empty());
  CHECK(c.tunnel_ttl == 64);
}

TEST_CASE("config: YAML syntax errors carry their line", "[config]") {
  expect_error("ports:\n  - name: lan\n    device: [x,\n", "t.yaml:4: ", "YAML syntax error");
  expect_error("ports:\n  - name: lan\n   bad: 1\n", "t.yaml:3: ", "YAML syntax error");
  expect_error("", "t.yaml:1: ", "empty");
  expect_error("# only a comment\n", "t.yaml:1: ", "empty");
  expect_error(kPort + "services: []\n---\nports: []\n",
               "t.yaml:7: ", "more than one YAML document");
  expect_error("- a\n- b\n", "t.yaml:1: ", "the configuration must be a map, got a list");
}

TEST_CASE("config: unknown keys name the key and the allowed ones", "[config]") {
  SECTION("top level, with a suggestion") {
    expect_error(kPort + "services: []\nrouts: []\n", "t.yaml:6: ",
                 "unknown key 'routs' in the configuration (allowed: eal, log_level, ports, "
                 "workers, services, neighbours, routes, tunnel_ttl, api, vrrp, connection_sync, bgp, notify); did you mean 'routes'?");
  }
  SECTION("in a backend") {
    expect_error(kPort + R"(services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
    backends:
      - address: 10.0.0.11
        wieght: 2
)",
                 "t.yaml:12: ",
                 "unknown key 'wieght' in a backend (allowed: name, address, port, weight, "
                 "sorry, health_check, notify_up, notify_down); did you mean 'weight'?");
  }
  SECTION("no suggestion when nothing is close") {
    const LoadResult r = load(kPort + "services: []\nworkers: {colour: blue}\n");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0] ==
          "t.yaml:6: unknown key 'colour' in 'workers' (allowed: count, flow_table_size, "
          "flow_timeouts, persistence_table_size)");
  }
  SECTION("in flow_timeouts and in a port") {
    expect_error(kPort + "services: []\nworkers:\n  flow_timeouts:\n    tcp: 10\n", "t.yaml:8: ",
                 "unknown key 'tcp' in 'flow_timeouts' (allowed: syn, established, closing, udp)");
    expect_error(
        "ports:\n  - name: lan\n    device: x\n    addresses: [10.0.0.2/24]\n    speed: 10\n"
        "services: []\n",
        "t.yaml:5: ", "unknown key 'speed' in a port");
  }
  SECTION("a misspelt required key is one mistake, not two") {
    expect_error(kPort + R"(services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwading: nat
    backends: [{address: 10.0.0.11}]
)",
                 "t.yaml:9: ",
                 "unknown key 'forwading' in a service (allowed: name, vip, port, "
                 "ports, protocol, forwarding, scheduler, hash, maglev_size, backends, health_check, "
                 "all_down, sync, persistence, quorum, notify_up, notify_down); "
                 "did you mean 'forwarding'?");
  }
  SECTION("a key given twice") {
    expect_error(kPort + "services: []\ntunnel_ttl: 3\ntunnel_ttl: 4\n", "t.yaml:7: ",
                 "duplicate key 'tunnel_ttl' in the configuration (first given at line 6)");
  }
}

TEST_CASE("config: wrong types and out-of-range values", "[config]") {
  const std::string head = kPort + R"(services:
  - name: web
    vip: 10.0.0.100
)";  // the service's keys from line 8 on
  const std::string tail = "    forwarding: dr\n    backends: [{address: 10.0.0.11}]\n";
  expect_error(head + "    port: http\n" + tail,
               "t.yaml:8: ", "'port' must be an integer in 0..65535, got 'http'");
  expect_error(head + "    port: 70000\n" + tail,
               "t.yaml:8: ", "'port' 70000 is out of range 0..65535");
  expect_error(head + "    port: [80]\n" + tail,
               "t.yaml:8: ", "'port' must be an integer in 0..65535, got a list");
  expect_error(head + "    port: 80\n    forwarding: dr\n    backends: {address: 10.0.0.11}\n",
               "t.yaml:10: ", "'backends' must be a list, got a map");
  expect_error(
      head + "    port: 80\n    forwarding: direct\n    backends: [{address: 10.0.0.11}]\n",
      "t.yaml:9: ", "'forwarding' must be one of dr|nat|tun, got 'direct'");
  expect_error(head + "    port: 80\n    protocol: sctp\n" + tail,
               "t.yaml:9: ", "'protocol' must be one of tcp|udp");
  expect_error(head + "    port: 80\n    hash: random\n" + tail,
               "t.yaml:9: ", "'hash' must be one of 5-tuple|source-address");
  expect_error(head + "    port: 80\n" + tail.substr(0, tail.size() - 3) + ", weight: 70000}]\n",
               "t.yaml:10: ", "'weight' 70000 is out of range 0..65535");
  expect_error("ports:\n  - name: lan\n    device: x\n    addresses: 10.0.0.2/24\nservices: []\n",
               "t.yaml:4: ", "'addresses' must be a list, got a scalar");
  expect_error(
      "ports:\n  - name: lan\n    device: x\n    addresses: [10.0.0.2/24]\n    mtu: 100\n"
      "services: []\n",
      "t.yaml:5: ", "'mtu' 100 is out of range 576..9000");
  expect_error(
      "ports:\n  - name: Lan!\n    device: x\n    addresses: [10.0.0.2/24]\nservices: []\n",
      "t.yaml:2: ", "port name 'Lan!' must be made of a-z, 0-9");
  expect_error(kPort + "services: []\nworkers: {count: 65}\n",
               "t.yaml:6: ", "'count' 65 is out of range 1..64");
  expect_error(kPort + "services: []\nworkers: {flow_table_size: 100}\n",
               "t.yaml:6: ", "'flow_table_size' 100 is out of range 1024..268435456");
  expect_error(kPort + "services: []\nworkers:\n  flow_timeouts: {syn: 0}\n",
               "t.yaml:7: ", "'syn' 0 is out of range");
  expect_error(kPort + "services: []\ntunnel_ttl: 0\n",
               "t.yaml:6: ", "'tunnel_ttl' 0 is out of range 1..255");
  expect_error(kPort + "services: []\nlog_level: verbose\n", "t.yaml:6: ",
               "'log_level' must be one of trace|debug|info|warn|error, got 'verbose'");
  expect_error(kPort + "services: []\neal: \"--no-huge\"\n", "t.yaml:6: ", "'eal' must be a list");
  expect_error(kPort + "services: []\nworkers:\n",
               "t.yaml:6: ", "'workers' must be a map, got nothing");
}

TEST_CASE("config: missing required keys", "[config]") {
  expect_error(kPort, "t.yaml:1: ", "missing required key 'services' in the configuration");
  expect_error("services: []\n", "t.yaml:1: ", "missing required key 'ports'");
  expect_error("ports: []\nservices: []\n", "t.yaml:1: ", "'ports' must list at least one port");
  expect_error("ports:\n  - name: lan\n    addresses: [10.0.0.2/24]\nservices: []\n",
               "t.yaml:2: ", "missing required key 'device' in a port");
  expect_error(kPort + R"(services:
  - name: web
    port: 80
    forwarding: dr
    backends: [{address: 10.0.0.11}]
)",
               "t.yaml:6: ", "missing required key 'vip' in a service");
  expect_error(kPort + R"(services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
    backends:
      - {name: rs1}
)",
               "t.yaml:11: ", "missing required key 'address' in a backend");
  expect_error(kPort + R"(services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
    backends: []
)",
               "t.yaml:10: ", "'backends' must list at least one backend");
}

TEST_CASE("config: malformed addresses, prefixes and MACs", "[config]") {
  auto port_with = [](const std::string& addresses) {
    return "ports:\n  - name: lan\n    device: x\n    addresses: " + addresses + "\nservices: []\n";
  };
  expect_error(port_with("[10.0.0.256/24]"),
               "t.yaml:4: ", "'10.0.0.256/24' is not an IPv4 address with a prefix length");
  expect_error(port_with("[10.0.0.2]"),
               "t.yaml:4: ", "'10.0.0.2' is not an IPv4 address with a prefix length");
  expect_error(port_with("[10.0.0.2/33]"),
               "t.yaml:4: ", "is not an IPv4 address with a prefix length");
  expect_error(port_with("[10.0.0.2/0]"), "t.yaml:4: ", "needs a prefix length of 1..32");
  expect_error(port_with("[010.0.0.2/24]"), "t.yaml:4: ", "is not an IPv4 address");
  expect_error(port_with("[10.0.0.0/24]"), "t.yaml:4: ", "is the network address of its subnet");
  expect_error(port_with("[10.0.0.255/24]"),
               "t.yaml:4: ", "is the broadcast address of its subnet");
  expect_error(port_with("[127.0.0.1/8]"), "t.yaml:4: ", "is a loopback address");
  expect_error(port_with("\n      - 10.0.0.2/24\n      - 10.0.0.3/24x"),
               "t.yaml:6: ", "'10.0.0.3/24x' is not an IPv4 address");
  CHECK(load(port_with("[10.0.0.2/31, 10.0.1.1/32]")).errors.empty());

  expect_error(kPort + R"(services:
  - name: web
    vip: 10.0.0.1OO
    port: 80
    forwarding: dr
    backends: [{address: 10.0.0.11}]
)",
               "t.yaml:7: ", "'vip' '10.0.0.1OO' is not an IP address");
  expect_error(kPort + R"(services:
  - name: web
    vip: 224.0.0.18
    port: 80
    forwarding: dr
    backends: [{address: 10.0.0.11}]
)",
               "t.yaml:7: ", "'vip' 224.0.0.18 is a multicast address");
  expect_error(
      kPort + "services: []\nneighbours:\n  - {address: 10.0.0.11, mac: \"02:00:00:00:11\"}\n",
      "t.yaml:7: ", "'mac' '02:00:00:00:11' is not a MAC address");
  expect_error(
      kPort + "services: []\nneighbours:\n  - {address: 10.0.0.11, mac: \"02:00:00:00:00:1g\"}\n",
      "t.yaml:7: ", "is not a MAC address");
  expect_error(
      kPort + "services: []\nneighbours:\n  - {address: 10.0.0.11, mac: \"ff:ff:ff:ff:ff:ff\"}\n",
      "t.yaml:7: ", "multicast/broadcast MAC");
  expect_error(
      kPort + "services: []\nroutes:\n  - {prefix: 192.0.2.1/24, via: 10.0.0.1}\n",
      "t.yaml:7: ", "'prefix' 192.0.2.1/24 has host bits set (did you mean 192.0.2.0/24?)");
  expect_error(kPort + "services: []\nroutes:\n  - {prefix: 192.0.2.0, via: 10.0.0.1}\n",
               "t.yaml:7: ", "'prefix' '192.0.2.0' is not an IPv4 prefix");
  expect_error(
      kPort +
          "services: []\nneighbours:\n  - {address: 10.0.0.11, mac: \"02:00:00:00:00:11\"}\n"
          "  - {address: 10.0.0.11, mac: \"02:00:00:00:00:12\"}\n",
      "t.yaml:8: ", "duplicate neighbour 10.0.0.11 (first at line 7)");
  expect_error(
      kPort + "services: []\nneighbours:\n  - {address: 10.9.0.11, mac: \"02:00:00:00:00:11\"}\n",
      "t.yaml:7: ", "neighbour 10.9.0.11 is not on-link");
}

// Lines 1-5: one port on 10.0.0.0/24 and fd00::/64, with an IPv6 gateway.
const std::string kDualStackPort = R"(ports:
  - name: lan
    device: net_null0
    addresses: [10.0.0.2/24, fd00::2/64, fd00:1::1/64]
    gateway: [10.0.0.254, fd00::fe]
)";

TEST_CASE("config: IPv6 VIPs, backends, port addresses and gateway", "[config][ipv6]") {
  const LoadResult r = load(kDualStackPort + R"(services:
  - name: web6
    vip: fd00::100
    port: 80
    forwarding: dr
    backends: [{address: "fd00::11"}, {address: "fd00::12", weight: 2}]
  - name: nat6
    vip: fd00::101
    port: 80
    forwarding: nat
    backends: [{address: "fd00:1::11", port: 8080}, {address: "2001:db8::7"}]
  - name: four-in-six
    vip: 10.0.0.100
    port: 80
    forwarding: tun
    backends: [{address: "fd00::13"}]
)");
  INFO("errors:\n" << lines_text(r.errors));
  REQUIRE(r.config);
  const Config& c = *r.config;
  REQUIRE(c.ports[0].addresses6.size() == 2);
  CHECK(shoal::cp::to_string(c.ports[0].addresses6[0]) == "fd00::2/64");
  CHECK(c.ports[0].gateway == ipv4(10, 0, 0, 254));
  REQUIRE(c.ports[0].gateway6);
  CHECK(shoal::cp::ipv6_to_string(*c.ports[0].gateway6) == "fd00::fe");
  const ServiceConfig* web6 = service(c, "web6");
  REQUIRE(web6);
  CHECK(web6->vip.is_v6());
  CHECK(shoal::cp::service_endpoint(*web6) == "[fd00::100]:80");
  CHECK(web6->backends[1].name == "[fd00::12]:80");
  CHECK(web6->backends[1].weight == 2);
  CHECK_FALSE(web6->sync);  // DR under Maglev maps a flow alike on every director
  const ServiceConfig* nat6 = service(c, "nat6");
  REQUIRE(nat6);
  CHECK(nat6->backends[0].port == 8080);
  CHECK(nat6->sync);  // NAT: its flows go to the peers, in either family
  CHECK(shoal::cp::to_string(nat6->backends[1].address) == "2001:db8::7");  // via the gateway
  const ServiceConfig* tun = service(c, "four-in-six");
  REQUIRE(tun);
  CHECK(tun->vip.is_v4());
  CHECK(tun->backends[0].address.is_v6());
}

TEST_CASE("config: IPv6 mistakes are refused on their line", "[config][ipv6]") {
  auto service_with = [](const std::string& vip, const std::string& mode,
                         const std::string& backend, const std::string& extra = "") {
    return kDualStackPort + "services:\n  - name: s\n    vip: \"" + vip + "\"\n    port: 80\n" +
           "    forwarding: " + mode + "\n" + extra + "    backends: [{address: \"" + backend +
           "\"}]\n";
  };
  // Lines: 6 services, 7 name, 8 vip, 9 port, 10 forwarding, then `extra`, then backends.
  expect_error(service_with("fd00::100", "dr", "10.0.0.11"), "t.yaml:11: ",
               "backend 10.0.0.11 is IPv4 but the VIP fd00::100 is IPv6: a service is one family");
  expect_error(service_with("10.0.0.100", "nat", "fd00:1::11"), "t.yaml:11: ",
               "backend fd00:1::11 is IPv6 but the VIP 10.0.0.100 is IPv4");
  expect_error(service_with("fd00::100", "dr", "fd00:2::11"), "t.yaml:11: ",
               "dr backend fd00:2::11 is not on-link");
  expect_error(service_with("fd00::2", "dr", "fd00::11"), "t.yaml:8: ",
               "VIP fd00::2 is a local address of port 'lan'");
  expect_error(service_with("fe80::1", "dr", "fd00::11"), "t.yaml:8: ",
               "'vip' fe80::1 is a link-local address");
  expect_error(service_with("ff02::1", "dr", "fd00::11"), "t.yaml:8: ", "is a multicast address");
  expect_error(service_with("::ffff:10.0.0.100", "dr", "fd00::11"), "t.yaml:8: ",
               "is not an IP address");
  expect_error(service_with("fd00::100%lan", "dr", "fd00::11"), "t.yaml:8: ",
               "is not an IP address");
  {  // An IPv6 service's clients are grouped by a prefix length.
    const LoadResult grouped = load(
        service_with("fd00::100", "dr", "fd00::11", "    persistence: {timeout: 60, netmask: 64}\n"));
    INFO(lines_text(grouped.errors));
    REQUIRE(grouped.config);
    CHECK(grouped.config->services.front().persistence_prefix6 == 64);
    CHECK(grouped.config->services.front().persistence_mask_text() == "64");
    const LoadResult whole = load(service_with("fd00::100", "dr", "fd00::11", "    persistence: {timeout: 60}\n"));
    REQUIRE(whole.config);
    CHECK(whole.config->services.front().persistence_prefix6 == 128);
  }
  expect_error(service_with("fd00::100", "dr", "fd00::11",
                            "    persistence: {timeout: 60, netmask: 255.255.255.0}\n"),
               "t.yaml:11: ", "an IPv6 service's 'netmask' is a prefix length (64)");
  expect_error(service_with("fd00::100", "dr", "fd00::11",
                            "    persistence: {timeout: 60, netmask: 129}\n"),
               "t.yaml:11: ", "129");
  {  // Connection sync carries IPv6 flows: the file may ask for it.
    const LoadResult synced = load(service_with("fd00::100", "dr", "fd00::11", "    sync: true\n"));
    INFO(lines_text(synced.errors));
    REQUIRE(synced.config);
    CHECK(synced.config->services.front().sync);
  }
  // A tunnel into IPv6 needs 1280 + 40 bytes of MTU on the way to the real server.
  const std::string small_mtu = kDualStackPort + "    mtu: 1300\n";
  const std::string tun6 = "services:\n  - name: s\n    vip: 10.0.0.100\n    port: 80\n"
                           "    forwarding: tun\n    backends: [{address: \"fd00::11\"}]\n";
  expect_error(small_mtu + tun6, "t.yaml:12: ",
               "real server fd00::11 is reached inside IPv6 through port 'lan', whose mtu 1300 "
               "leaves less than IPv6's 1280 bytes inside the tunnel: give the port an mtu of "
               "at least 1320");
  {
    const LoadResult ok = load(kDualStackPort + "    mtu: 1320\n" + tun6);
    INFO(lines_text(ok.errors));
    CHECK(ok.config);
  }
  auto port_with = [](const std::string& addresses, const std::string& gateway) {
    return "ports:\n  - name: lan\n    device: x\n    addresses: " + addresses +
           "\n    gateway: " + gateway + "\nservices: []\n";
  };
  expect_error(port_with("[fd00::2/129]", "fd00::1"), "t.yaml:4: ",
               "'fd00::2/129' is not an IPv6 address with a prefix length");
  expect_error(port_with("[fe80::2/64]", "fd00::1"), "t.yaml:4: ", "is a link-local address");
  expect_error(port_with("[fd00::2/64]", "fd01::1"), "t.yaml:5: ",
               "gateway fd01::1 is not inside an IPv6 prefix of port 'lan' (fd00::/64)");
  expect_error(port_with("[fd00::2/64]", "[fd00::1, fd00::3]"), "t.yaml:5: ",
               "'gateway' lists two IPv6 addresses");
  expect_error(port_with("[fd00::2/64, fd00::2/64]", "fd00::1"), "t.yaml:4: ",
               "duplicate local address fd00::2");
  CHECK(shoal::cp::parse_ip_endpoint("[fd00::100]:80") ==
        std::pair{IpAddress::from_v6(*shoal::cp::parse_ipv6("fd00::100")), uint16_t{80}});
  CHECK_FALSE(shoal::cp::parse_ip_endpoint("[fd00::100]:0"));
  CHECK_FALSE(shoal::cp::parse_ip_endpoint("fd00::100:80"));
}

TEST_CASE("config: IPv6 routes and static neighbours reach the model", "[config][ipv6][routes6]") {
  const LoadResult r = load(kDualStackPort + R"(services: []
neighbours:
  - {address: "fd00::11", mac: "02:00:00:00:00:11"}
  - {address: 10.0.0.11, mac: "02:00:00:00:00:12"}
  - address: fd00:1::12
    mac: "02:00:00:00:00:13"
routes:
  - {prefix: "2001:db8:1::/48", via: "fd00::1"}
  - {prefix: 192.0.2.0/24, via: 10.0.0.1}
  - prefix: 2001:db8:2::/64
    via: fd00:1::fe
  - {prefix: "2001:db8:3::7/128", via: "fd00::1"}
)");
  INFO("errors:\n" << lines_text(r.errors));
  REQUIRE(r.config);
  const Config& c = *r.config;
  REQUIRE(c.neighbours.size() == 1);
  CHECK(c.neighbours[0].address == ipv4(10, 0, 0, 11));
  REQUIRE(c.neighbours6.size() == 2);
  CHECK(shoal::cp::ipv6_to_string(c.neighbours6[0].address) == "fd00::11");
  CHECK(c.neighbours6[0].mac == MacAddress{0x02, 0, 0, 0, 0, 0x11});
  CHECK(shoal::cp::ipv6_to_string(c.neighbours6[1].address) == "fd00:1::12");
  REQUIRE(c.routes.size() == 1);
  CHECK(c.routes[0].prefix == Ipv4Prefix{ipv4(192, 0, 2, 0), 24});
  REQUIRE(c.routes6.size() == 3);
  CHECK(shoal::cp::to_string(c.routes6[0].prefix) == "2001:db8:1::/48");
  CHECK(shoal::cp::ipv6_to_string(c.routes6[0].via) == "fd00::1");
  CHECK(shoal::cp::to_string(c.routes6[1].prefix) == "2001:db8:2::/64");
  CHECK(shoal::cp::ipv6_to_string(c.routes6[1].via) == "fd00:1::fe");
  CHECK(shoal::cp::to_string(c.routes6[2].prefix) == "2001:db8:3::7/128");
}

namespace {

// Entries of a section, the line of the one error they make and what it says.
struct Mistake {
  std::string entries, line, phrase;
};

}  // namespace

TEST_CASE("config: IPv6 route and neighbour mistakes are refused on their line",
          "[config][ipv6][routes6]") {
  // Lines 1-5 the dual-stack port (fd00::/64, fd00:1::/64, gateway fd00::fe), 6 services,
  // 7 the section, 8 its first entry.
  const std::string routes = kDualStackPort + "services: []\nroutes:\n";
  const std::string neighbours = kDualStackPort + "services: []\nneighbours:\n";
  const Mistake route_mistakes[] = {
      {"  - {prefix: \"2001:db8::/32\", via: 10.0.0.1}\n", "t.yaml:8: ",
       "route for 2001:db8::/32 via 10.0.0.1: the next hop is IPv4 but the prefix is IPv6: a "
       "route is one family"},
      {"  - prefix: 192.0.2.0/24\n    via: \"fd00::1\"\n", "t.yaml:9: ",
       "route for 192.0.2.0/24 via fd00::1: the next hop is IPv6 but the prefix is IPv4"},
      {"  - prefix: \"2001:db8::/32\"\n    via: \"fd00:9::1\"\n", "t.yaml:9: ",
       "route via fd00:9::1: the next hop is not on-link (not inside any port's IPv6 prefix)"},
      {"  - {prefix: \"2001:db8::/32\", via: \"fd00::2\"}\n", "t.yaml:8: ",
       "route via fd00::2: that is one of this director's own addresses"},
      {"  - {prefix: \"2001:db8::/32\", via: \"fe80::1\"}\n", "t.yaml:8: ",
       "'via' fe80::1 is a link-local address"},
      {"  - {prefix: \"2001:db8::1/32\", via: \"fd00::1\"}\n", "t.yaml:8: ",
       "'prefix' 2001:db8::1/32 has host bits set (did you mean 2001:db8::/32?)"},
      {"  - {prefix: \"2001:db8::/129\", via: \"fd00::1\"}\n", "t.yaml:8: ",
       "'prefix' '2001:db8::/129' is not an IPv6 prefix"},
      {"  - {prefix: \"::ffff:192.0.2.0/120\", via: \"fd00::1\"}\n", "t.yaml:8: ",
       "is not an IPv6 prefix"},
      {"  - {prefix: \"2001:db8::\", via: \"fd00::1\"}\n", "t.yaml:8: ",
       "'prefix' '2001:db8::' is not an IPv6 prefix"},
      {"  - {prefix: \"2001:db8::/32\", via: \"fd00::1\"}\n"
       "  - {prefix: \"2001:db8:0::/32\", via: \"fd00:1::fe\"}\n",
       "t.yaml:9: ", "duplicate route for 2001:db8::/32 (first at line 8)"},
      {"  - {prefix: \"::/0\", via: \"fd00::1\"}\n", "t.yaml:8: ",
       "route for ::/0 conflicts with the gateway at line 5"},
  };
  for (const auto& m : route_mistakes) expect_error(routes + m.entries, m.line, m.phrase);
  // The same prefix in the other family is no duplicate; ::/0 without an IPv6 gateway is fine.
  expect_valid("ports:\n  - {name: lan, device: x, addresses: [10.0.0.2/24, fd00::2/64]}\n"
               "services: []\nroutes:\n  - {prefix: \"::/0\", via: \"fd00::1\"}\n"
               "  - {prefix: 0.0.0.0/0, via: 10.0.0.1}\n");

  const Mistake neighbour_mistakes[] = {
      {"  - {address: \"fd00:9::11\", mac: \"02:00:00:00:00:11\"}\n", "t.yaml:8: ",
       "neighbour fd00:9::11 is not on-link (not inside any port's IPv6 prefix), so it can have "
       "no Neighbour Discovery entry"},
      {"  - {address: \"fd00::11\", mac: \"02:00:00:00:00:11\"}\n"
       "  - {address: \"fd00::11\", mac: \"02:00:00:00:00:12\"}\n",
       "t.yaml:9: ", "duplicate neighbour fd00::11 (first at line 8)"},
      {"  - {address: \"fd00::2\", mac: \"02:00:00:00:00:11\"}\n", "t.yaml:8: ",
       "neighbour fd00::2 is one of this director's own addresses"},
      {"  - {address: \"fd00::11\", mac: \"33:33:00:00:00:01\"}\n", "t.yaml:8: ",
       "'mac' 33:33:00:00:00:01 is a multicast/broadcast MAC address"},
      {"  - {address: \"fd00::g\", mac: \"02:00:00:00:00:11\"}\n", "t.yaml:8: ",
       "'address' 'fd00::g' is not an IP address"},
  };
  for (const auto& m : neighbour_mistakes) expect_error(neighbours + m.entries, m.line, m.phrase);
}

TEST_CASE("config: an IPv6 backend off-link is reachable through an IPv6 route",
          "[config][ipv6][routes6]") {
  // No IPv6 gateway: a NAT66 backend off the port's prefix needs a route.
  const std::string text = R"(ports:
  - name: lan
    device: net_null0
    addresses: [fd00::2/64]
services:
  - name: nat6
    vip: fd00::100
    port: 80
    forwarding: nat
    backends: [{address: "2001:db8:5::11"}]
)";
  expect_error(text, "t.yaml:10: ",
               "nat backend 2001:db8:5::11 is unreachable: not inside any port's subnet and no "
               "gateway or route covers it");
  expect_valid(text + "routes:\n  - {prefix: \"2001:db8:4::/47\", via: \"fd00::1\"}\n");
  expect_error(text + "routes:\n  - {prefix: \"2001:db8:6::/47\", via: \"fd00::1\"}\n",
               "t.yaml:10: ", "nat backend 2001:db8:5::11 is unreachable");
}

TEST_CASE("config: duplicate and conflicting addresses", "[config]") {
  SECTION("a VIP equal to a local address") {
    expect_error(kPort + R"(services:
  - name: web
    vip: 10.0.0.2
    port: 80
    forwarding: dr
    backends: [{address: 10.0.0.11}]
)",
                 "t.yaml:7: ", "VIP 10.0.0.2 is a local address of port 'lan' (line 4)");
  }
  SECTION("the same local address on two ports") {
    expect_error(
        R"(ports:
  - name: a
    device: x0
    addresses: [10.0.0.2/24]
  - name: b
    device: x1
    addresses:
      - 10.0.1.2/24
      - 10.0.0.2/24
services: []
)",
        "t.yaml:9: ", "duplicate local address 10.0.0.2: already an address of port 'a' (line 4)");
  }
  SECTION("duplicate port names and devices") {
    const LoadResult r = load(R"(ports:
  - name: a
    device: x0
    addresses: [10.0.0.2/24]
  - name: a
    device: x0
    addresses: [10.0.1.2/24]
services: []
)");
    REQUIRE(r.errors.size() == 2);
    CHECK(r.errors[0] == "t.yaml:5: duplicate port name 'a' (first at line 2)");
    CHECK(r.errors[1] == "t.yaml:6: device 'x0' is already used by another port (line 3)");
  }
  SECTION("duplicate service names") {
    expect_error(kPort + R"(services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
    backends: [{address: 10.0.0.11}]
  - name: web
    vip: 10.0.0.101
    port: 80
    forwarding: dr
    backends: [{address: 10.0.0.11}]
)",
                 "t.yaml:11: ", "duplicate service name 'web' (first at line 6)");
  }
  SECTION("duplicate VIP:port/protocol; another protocol is another service") {
    const std::string two = kPort + R"(services:
  - name: a
    vip: 10.0.0.100
    port: 53
    protocol: udp
    forwarding: dr
    backends: [{address: 10.0.0.11}]
  - name: b
    vip: 10.0.0.100
    port: 53
    protocol: PROTO
    forwarding: dr
    backends: [{address: 10.0.0.12}]
)";
    const std::string same = std::string(two).replace(two.find("PROTO"), 5, "udp");
    const std::string other = std::string(two).replace(two.find("PROTO"), 5, "tcp");
    expect_error(same, "t.yaml:13: ",
                 "service 'b': 10.0.0.100:53/udp is already served by service 'a' (line 7)");
    expect_valid(other);
  }
  SECTION("duplicate backend within a service") {
    expect_error(kPort + R"(services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
    backends:
      - address: 10.0.0.11
      - address: 10.0.0.12
      - address: 10.0.0.11
        port: 80
)",
                 "t.yaml:13: ", "service 'web': duplicate backend 10.0.0.11:80 (first at line 11)");
  }
  SECTION("duplicate backend names within a service") {
    expect_error(kPort + R"(services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
    backends:
      - {name: rs, address: 10.0.0.11}
      - {name: rs, address: 10.0.0.12}
)",
                 "t.yaml:12: ", "duplicate backend name 'rs' (first at line 11)");
  }
  SECTION("a backend that is a local address or a VIP") {
    expect_error(kPort + R"(services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
    backends: [{address: 10.0.0.2}]
)",
                 "t.yaml:10: ", "backend 10.0.0.2 is a local address of port 'lan'");
    expect_error(kPort + R"(services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
    backends: [{address: 10.0.0.100}]
)",
                 "t.yaml:10: ", "backend 10.0.0.100 is the VIP of service 'web'");
  }
}

TEST_CASE("config: a backend address:port/protocol serves one NAT service only", "[config]") {
  const std::string two = kTwoSubnets + R"(services:
  - name: a
    vip: 10.0.0.100
    port: 80
    forwarding: nat
    backends: [{address: 10.0.1.11, port: 8080}]
  - name: b
    vip: 10.0.0.101
    port: 80
    forwarding: MODE
    backends:
      - address: 10.0.1.12
      - address: 10.0.1.11
        port: PORT
)";
  auto with = [&](const std::string& mode, const std::string& port) {
    return filled(two, {{"MODE", mode}, {"PORT", port}});
  };
  expect_error(with("nat", "8080"), "t.yaml:17: ",
               "service 'b': nat backend 10.0.1.11:8080/tcp is also a backend of nat service 'a' "
               "(line 10); replies are matched to a service by their source alone");
  expect_valid(with("nat", "8081"));  // another port: replies tell the services apart
  expect_valid(with("tun", "80"));    // only NAT translates replies
}

TEST_CASE("config: forwarding modes that cannot work with the ports given", "[config]") {
  auto svc = [](const std::string& mode, const std::string& backend,
                const std::string& extra = "") {
    return kPort +
           "services:\n  - name: web\n    vip: 10.0.0.100\n    port: 80\n    forwarding: " + mode +
           "\n    backends:\n      - address: " + backend + "\n" + extra;
  };
  SECTION("DR needs every backend on-link, even with a gateway") {
    expect_error(
        svc("dr", "10.0.5.11"), "t.yaml:11: ",
        "service 'web': dr backend 10.0.5.11 is not on-link (not inside any port's subnet)");
    expect_error(
        std::string(svc("dr", "10.0.5.11")).replace(kPort.size() - 1, 0, "\n    gateway: 10.0.0.1"),
        "t.yaml:12: ", "dr backend 10.0.5.11 is not on-link");
    expect_valid(svc("dr", "10.0.0.254"));
  }
  SECTION("DR and TUN cannot change the port; NAT can") {
    expect_error(
        svc("dr", "10.0.0.11", "        port: 8080\n"), "t.yaml:12: ",
        "backend 10.0.0.11 has port 8080 but dr forwarding cannot change the destination port");
    expect_error(svc("tun", "10.0.0.11", "        port: 8080\n"),
                 "t.yaml:12: ", "but tun forwarding cannot change the destination port");
    expect_valid(svc("nat", "10.0.0.11", "        port: 8080\n"));
  }
  SECTION("NAT and TUN need a reachable backend: on-link, by gateway or by route") {
    expect_error(
        svc("nat", "10.0.5.11"), "t.yaml:11: ",
        "service 'web': nat backend 10.0.5.11 is unreachable: not inside any port's subnet "
        "and no gateway or route covers it");
    expect_error(svc("tun", "10.0.5.11"), "t.yaml:11: ", "tun backend 10.0.5.11 is unreachable");
    expect_valid(svc("nat", "10.0.5.11", "routes:\n  - {prefix: 10.0.4.0/23, via: 10.0.0.1}\n"));
    expect_valid(svc("tun", "10.0.5.11", "routes:\n  - {prefix: 10.0.4.0/23, via: 10.0.0.1}\n"));
    expect_error(svc("tun", "10.0.5.11", "routes:\n  - {prefix: 10.0.6.0/23, via: 10.0.0.1}\n"),
                 "t.yaml:11: ", "tun backend 10.0.5.11 is unreachable");
    const std::string gw = std::string(svc("tun", "10.0.5.11"))
                               .replace(kPort.size() - 1, 0, "\n    gateway: 10.0.0.1");
    expect_valid(gw);
  }
}

TEST_CASE("config: gateways and routes must be on-link", "[config]") {
  expect_error(
      "ports:\n  - name: lan\n    device: x\n    addresses: [10.0.0.2/24, 10.0.1.1/24]\n"
      "    gateway: 10.0.2.1\nservices: []\n",
      "t.yaml:5: ",
      "gateway 10.0.2.1 is not inside a subnet of port 'lan' (10.0.0.0/24, 10.0.1.0/24)");
  expect_error(
      "ports:\n  - name: lan\n    device: x\n    addresses: [10.0.0.2/24]\n"
      "    gateway: 10.0.0.2\nservices: []\n",
      "t.yaml:5: ", "gateway 10.0.0.2 is one of this director's own addresses");
  // Inside another port's subnet is not enough: the gateway is this port's.
  expect_error(
      "ports:\n  - {name: a, device: x0, addresses: [10.0.0.2/24], gateway: 10.0.1.9}\n"
      "  - {name: b, device: x1, addresses: [10.0.1.2/24]}\nservices: []\n",
      "t.yaml:2: ", "gateway 10.0.1.9 is not inside a subnet of port 'a'");
  expect_error(
      "ports:\n  - {name: a, device: x0, addresses: [10.0.0.2/24], gateway: 10.0.0.1}\n"
      "  - {name: b, device: x1, addresses: [10.0.1.2/24], gateway: 10.0.1.1}\nservices: []\n",
      "t.yaml:3: ", "only one port may have a gateway");
  expect_error(kPort + "services: []\nroutes:\n  - prefix: 192.0.2.0/24\n    via: 10.0.9.1\n",
               "t.yaml:8: ", "route via 10.0.9.1: the next hop is not on-link");
  expect_error(kPort + "services: []\nroutes:\n  - {prefix: 192.0.2.0/24, via: 10.0.0.2}\n",
               "t.yaml:7: ", "route via 10.0.0.2: that is one of this director's own addresses");
  expect_error(kPort +
                   "services: []\nroutes:\n  - {prefix: 192.0.2.0/24, via: 10.0.0.1}\n"
                   "  - {prefix: 192.0.2.0/24, via: 10.0.0.3}\n",
               "t.yaml:8: ", "duplicate route for 192.0.2.0/24 (first at line 7)");
  expect_valid(kPort + "services: []\nroutes:\n  - {prefix: 0.0.0.0/0, via: 10.0.0.1}\n");
}

TEST_CASE("config: Maglev table size", "[config]") {
  auto svc = [](const std::string& size, int backends) {
    std::string s = kPort +
                    "services:\n  - name: web\n    vip: 10.0.0.100\n    port: 80\n"
                    "    forwarding: dr\n    maglev_size: " +
                    size + "\n    backends:\n";
    for (int i = 0; i < backends; ++i)
      s += "      - address: 10.0.0." + std::to_string(10 + i) + "\n";
    return s;
  };
  expect_error(svc("65536", 1), "t.yaml:10: ", "'maglev_size' 65536 is not prime");
  expect_error(svc("3", 3), "t.yaml:10: ",
               "service 'web': 'maglev_size' 3 must be larger than its number of backends (3)");
  const LoadResult small = load(svc("7", 3));  // allowed (tests pin tiny tables), but warned
  CHECK(small.errors.empty());
  REQUIRE(small.warnings.size() == 1);
  CHECK(small.warnings[0].rfind("t.yaml:10: ", 0) == 0);
  CHECK(small.warnings[0].find("is at most 100 x its 3 backends") != std::string::npos);
  CHECK(load(svc("307", 3)).warnings.empty());
}

TEST_CASE("config: at most 65534 backends in total", "[config]") {
  // Two NAT services behind a gateway: any address is reachable, so only the total counts.
  auto many = [](int first, int second) {
    std::string s =
        "ports:\n  - {name: lan, device: x, addresses: [10.0.0.2/24], gateway: 10.0.0.1}\n"
        "services:\n";
    int n = 0;
    int svc = 0;
    for (int count : {first, second}) {
      s += "  - name: s" + std::to_string(svc) + "\n    vip: 10.0.0." + std::to_string(100 + svc) +
           "\n    port: 80\n    forwarding: nat\n    backends:\n";
      for (int i = 0; i < count; ++i, ++n)
        s += "      - {address: 11." + std::to_string(n >> 8) + "." + std::to_string(n & 255) +
             ".1}\n";
      ++svc;
    }
    return s;
  };
  const LoadResult ok = load(many(40000, 25534));
  INFO("errors:\n"
       << lines_text(std::vector<std::string>(ok.errors.begin(),
                                       ok.errors.begin() + std::min<size_t>(3, ok.errors.size()))));
  CHECK(ok.errors.empty());
  REQUIRE(ok.config);
  CHECK(ok.config->backend_count() == 65534);

  // Line of the 65535th backend: 3 lines to "services:", 5 lines per service header.
  const LoadResult over = load(many(40000, 25535));
  REQUIRE(over.errors.size() == 1);
  const int line = 3 + 5 + 40000 + 5 + 25535;
  CHECK(over.errors[0] == "t.yaml:" + std::to_string(line) +
                              ": too many backends: at most 65534 in total over every service");
}

TEST_CASE("config: every mistake of a file is reported, in line order", "[config]") {
  const LoadResult r = load(R"(ports:
  - name: lan
    device: x
    addresses: [10.0.0.2/24]
    mtu: 20000
services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
    backends:
      - address: 10.0.0.11
      - address: 10.0.3.12
  - name: web
    vip: 10.0.0.101
    port: 80
    forwarding: dr
    backends: [{address: 10.0.0.11}]
)");
  INFO("errors:\n" << lines_text(r.errors));
  CHECK_FALSE(r.config);
  REQUIRE(r.errors.size() == 3);
  CHECK(r.errors[0] == "t.yaml:5: 'mtu' 20000 is out of range 576..9000");
  CHECK(r.errors[1].rfind("t.yaml:13: service 'web': dr backend 10.0.3.12 is not on-link", 0) == 0);
  CHECK(r.errors[2] == "t.yaml:14: duplicate service name 'web' (first at line 7)");
}

TEST_CASE("config: a value that did not parse causes no follow-on errors", "[config]") {
  // The port's address is malformed: whether backends are on-link is then unknown, and
  // stays unreported rather than reported wrongly.
  const LoadResult r = load(R"(ports:
  - name: lan
    device: x
    addresses: [10.0.0.2/2x]
services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
    backends: [{address: 10.0.0.11}]
)");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].rfind("t.yaml:4: ", 0) == 0);
}

TEST_CASE("config: a file that cannot be read", "[config]") {
  const LoadResult r = load_config_file("/nonexistent/shoal.yaml");
  CHECK_FALSE(r.config);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].rfind("/nonexistent/shoal.yaml: cannot open", 0) == 0);
}

TEST_CASE("config: backend ids stay stable across reloads", "[config]") {
  auto config = [](const std::string& backends_a, const std::string& backends_b) {
    std::string text = kPort +
                       "services:\n  - name: a\n    vip: 10.0.0.100\n    port: 80\n"
                       "    forwarding: nat\n    backends: [" +
                       backends_a + "]\n";
    if (!backends_b.empty())
      text +=
          "  - name: b\n    vip: 10.0.0.101\n    port: 80\n    forwarding: nat\n"
          "    backends: [" +
          backends_b + "]\n";
    const LoadResult r = load(text);
    INFO("errors:\n" << lines_text(r.errors));
    REQUIRE(r.config);
    return *r.config;
  };
  auto ids = [](const Config& c) {
    std::vector<std::pair<std::string, uint16_t>> out;
    for (const auto& s : c.services)
      for (const auto& b : s.backends) out.emplace_back(s.name + "/" + b.name, b.id);
    return out;
  };
  using Ids = std::vector<std::pair<std::string, uint16_t>>;

  Config v1 = config(
      "{name: r1, address: 10.0.0.11}, {name: r2, address: 10.0.0.12}, "
      "{name: r3, address: 10.0.0.13}",
      "{name: r1, address: 10.0.0.21}");
  // A first load numbers backends in file order.
  CHECK(ids(v1) == Ids{{"a/r1", 0}, {"a/r2", 1}, {"a/r3", 2}, {"b/r1", 3}});

  // r2 removed, r4 added and listed first, r3 reordered, r1's weight changed, and b's r1
  // moved to port 81 (a different backend for flow pinning).
  Config v2 = config(
      "{name: r4, address: 10.0.0.14}, {name: r3, address: 10.0.0.13}, "
      "{name: r1, address: 10.0.0.11, weight: 5}",
      "{name: r1, address: 10.0.0.21, port: 81}");
  assign_backend_ids(v2, &v1);
  // Survivors keep theirs; newcomers take ids nobody in v1 had (not r2's freed 1, not 3).
  CHECK(ids(v2) == Ids{{"a/r4", 4}, {"a/r3", 2}, {"a/r1", 0}, {"b/r1", 5}});

  // Next reload: ids used in v2 are off-limits to newcomers; v1-only ids are free again.
  Config v3 = config("{name: r1, address: 10.0.0.11}, {name: r6, address: 10.0.0.16}", "");
  assign_backend_ids(v3, &v2);
  CHECK(ids(v3) == Ids{{"a/r1", 0}, {"a/r6", 1}});

  // Identity is (service, address, port), not the name.
  Config renamed = config("{name: first, address: 10.0.0.11}", "");
  assign_backend_ids(renamed, &v1);
  CHECK(ids(renamed) == Ids{{"a/first", 0}});

  // No previous config: numbered from 0.
  assign_backend_ids(v2, nullptr);
  CHECK(ids(v2) == Ids{{"a/r4", 0}, {"a/r3", 1}, {"a/r1", 2}, {"b/r1", 3}});
}

TEST_CASE("config: freed ids are reused only when no fresh id is left", "[config]") {
  // 65535 ids in all (0..65534). The previous config used every id but the last one.
  Config previous;
  previous.services.resize(1);
  previous.services[0].name = "big";
  for (uint32_t i = 0; i < shoal::cp::kMaxBackendId; ++i) {
    BackendConfig b;
    b.address = IpAddress::from_v4(ipv4(11, uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)));
    b.port = 80;
    b.id = static_cast<uint16_t>(i);
    previous.services[0].backends.push_back(b);
  }
  // Next: the first two of those removed, three newcomers.
  Config next = previous;
  next.services[0].backends.erase(next.services[0].backends.begin(),
                                  next.services[0].backends.begin() + 2);
  for (uint8_t i = 0; i < 3; ++i) {
    BackendConfig b;
    b.address = IpAddress::from_v4(ipv4(12, 0, 0, i));
    b.port = 80;
    next.services[0].backends.push_back(b);
  }
  assign_backend_ids(next, &previous);
  const auto& bs = next.services[0].backends;
  REQUIRE(bs.size() == shoal::cp::kMaxBackendId + 1);
  CHECK(bs[0].id == 2);  // a survivor keeps its id
  const size_t n = bs.size();
  CHECK(bs[n - 3].id == 65534);  // the one fresh id first
  CHECK(bs[n - 2].id == 0);      // then freed ids, lowest first
  CHECK(bs[n - 1].id == 1);
  std::set<uint16_t> unique;
  for (const auto& b : bs) unique.insert(b.id);
  CHECK(unique.size() == bs.size());
  CHECK(unique.count(kNoBackend) == 0);
}

TEST_CASE("config: a service whose backends are all drained loads with a warning", "[config]") {
  const LoadResult r = load(kPort + R"(services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
    backends: [{address: 10.0.0.11, weight: 0}]
)");
  CHECK(r.errors.empty());
  CHECK(r.config);
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0] ==
        "t.yaml:6: service 'web': every backend has weight 0: it takes no new flows");
}

// ---- health checks ----

namespace {

using shoal::hc::CheckSpec;
using shoal::hc::CheckType;
using shoal::hc::StatusRange;

// A service "web" whose keys start at line 5; `health` is inserted at the service level
// (from line 10 on) and `backends` is the backends list, both indented as in a service.
std::string web(const std::string& health, const std::string& backends =
                                               "      - address: 10.0.0.11\n") {
  return kPort + R"(services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
)" + health + "    backends:\n" + backends;
}

}  // namespace

TEST_CASE("config: health checks default to none, and to the documented values", "[config][health]") {
  SECTION("no health_check: type none (always up)") {
    const LoadResult r = load(web(""));
    INFO("errors:\n" << lines_text(r.errors));
    REQUIRE(r.config);
    CHECK(r.config->services[0].health == CheckSpec{});
    CHECK(r.config->services[0].backends[0].health.type == CheckType::none);
  }
  SECTION("a type alone: every other key at its default") {
    const LoadResult r = load(web("    health_check: {type: http}\n"));
    INFO("errors:\n" << lines_text(r.errors));
    REQUIRE(r.config);
    CHECK(r.warnings.empty());
    const CheckSpec& h = r.config->services[0].backends[0].health;
    CHECK(h.type == CheckType::http);
    CHECK(h.interval_ms == 2000);
    CHECK(h.timeout_ms == 1000);
    CHECK(h.rise == 2);
    CHECK(h.fall == 3);
    CHECK_FALSE(h.initial_up);
    CHECK(h.spread == 1.0);
    CHECK(h.port == 0);
    CHECK(h.path == "/");
    CHECK(h.host.empty());
    CHECK(h.expect_status == std::vector<StatusRange>{{200, 399}});
    CHECK(h.body.empty());
    CHECK(h.read_limit == 65536);
    CHECK_FALSE(h.verify_tls);
  }
}

TEST_CASE("config: a service's health_check, and backends that override its keys",
          "[config][health]") {
  const LoadResult r = load(web(R"(    health_check:
      type: https
      interval: 0.5
      timeout: 0.25
      rise: 1
      fall: 5
      initial: up
      spread: 0.3
      port: 8443
      path: /healthz?full=1
      host: www.example.com
      expect: [200, "204-206", 301-302]
      body: OK
      read_limit: 1024
      verify_tls: true
)",
                                R"(      - name: rs1
        address: 10.0.0.11
      - name: rs2
        address: 10.0.0.12
        health_check: {type: tcp, port: 22, interval: 3, timeout: 2}
      - name: rs3
        address: 10.0.0.13
        health_check:
          path: /other
          expect: 503
      - name: rs4
        address: 10.0.0.14
        health_check: {type: udp, payload: ping, expect: pong}
      - name: rs5
        address: 10.0.0.15
        health_check:
          type: exec
          command: "curl -sf http://$SHOAL_BACKEND_ADDRESS/"
      - name: rs6
        address: 10.0.0.16
        health_check:
          type: exec
          command: [/usr/local/bin/check, --port, "80"]
          weight_from_output: true
      - name: rs7
        address: 10.0.0.17
        health_check: {type: none}
)"));
  INFO("errors:\n" << lines_text(r.errors) << "warnings:\n" << lines_text(r.warnings));
  REQUIRE(r.config);
  CHECK(r.warnings.empty());
  const ServiceConfig& s = r.config->services[0];
  REQUIRE(s.backends.size() == 7);

  CheckSpec https;
  https.type = CheckType::https;
  https.interval_ms = 500;
  https.timeout_ms = 250;
  https.rise = 1;
  https.fall = 5;
  https.initial_up = true;
  https.spread = 0.3;
  https.port = 8443;
  https.path = "/healthz?full=1";
  https.host = "www.example.com";
  https.expect_status = {{200, 200}, {204, 206}, {301, 302}};
  https.body = "OK";
  https.read_limit = 1024;
  https.verify_tls = true;
  CHECK(s.health == https);
  CHECK(s.backends[0].health == https);

  const CheckSpec& tcp = s.backends[1].health;  // inherits the timing it does not override
  CHECK(tcp.type == CheckType::tcp);
  CHECK(tcp.port == 22);
  CHECK(tcp.interval_ms == 3000);
  CHECK(tcp.timeout_ms == 2000);
  CHECK(tcp.rise == 1);
  CHECK(tcp.fall == 5);
  CHECK(tcp.initial_up);

  CheckSpec other = https;
  other.path = "/other";
  other.expect_status = {{503, 503}};
  CHECK(s.backends[2].health == other);

  const CheckSpec& udp = s.backends[3].health;
  CHECK(udp.type == CheckType::udp);
  CHECK(udp.payload == "ping");
  CHECK(udp.expect_reply == "pong");
  CHECK(udp.port == 8443);

  const CheckSpec& sh = s.backends[4].health;
  CHECK(sh.type == CheckType::exec);
  CHECK(sh.command ==
        std::vector<std::string>{"/bin/sh", "-c", "curl -sf http://$SHOAL_BACKEND_ADDRESS/"});
  CHECK_FALSE(sh.weight_from_output);
  const CheckSpec& argv = s.backends[5].health;
  CHECK(argv.command == std::vector<std::string>{"/usr/local/bin/check", "--port", "80"});
  CHECK(argv.weight_from_output);

  CHECK(s.backends[6].health.type == CheckType::none);
}

TEST_CASE("config: health_check mistakes are reported on their line", "[config][health]") {
  auto hc = [](const std::string& keys) { return web("    health_check:\n" + keys); };
  // The service's health_check keys start at line 11.
  expect_error(hc("      type: icmp\n"), "t.yaml:11: ",
               "'type' must be one of tcp|http|https|udp|exec|none, got 'icmp'");
  expect_error(hc("      type: tcp\n      interval: 2s\n"), "t.yaml:12: ",
               "'interval' must be a number of seconds in 0.1..3600 s (at most 3 decimals), got "
               "'2s'");
  expect_error(hc("      type: tcp\n      interval: 0.05\n"), "t.yaml:12: ",
               "'interval' 0.05 s is out of range 0.1..3600 s");
  expect_error(hc("      type: tcp\n      timeout: 0.0001\n"), "t.yaml:12: ",
               "at most 3 decimals");
  expect_error(hc("      type: tcp\n      timeout: 2\n"), "t.yaml:12: ",
               "'timeout' (2 s) must be less than 'interval' (2 s): checks of one backend must "
               "not overlap");
  expect_error(hc("      type: tcp\n      interval: 0.5\n"), "t.yaml:12: ",
               "'timeout' (1 s) must be less than 'interval' (0.5 s)");
  expect_error(hc("      type: tcp\n      rise: 0\n"), "t.yaml:12: ",
               "'rise' 0 is out of range 1..100");
  expect_error(hc("      type: tcp\n      fall: many\n"), "t.yaml:12: ",
               "'fall' must be an integer in 1..100, got 'many'");
  expect_error(hc("      type: tcp\n      initial: maybe\n"), "t.yaml:12: ",
               "'initial' must be one of up|down, got 'maybe'");
  expect_error(hc("      type: tcp\n      spread: 1.5\n"), "t.yaml:12: ",
               "'spread' must be a number in 0..1");
  expect_error(hc("      type: tcp\n      port: 0\n"), "t.yaml:12: ",
               "'port' 0 is out of range 1..65535");
  expect_error(hc("      type: http\n      path: health\n"), "t.yaml:12: ",
               "'path' 'health' must start with '/'");
  expect_error(hc("      type: http\n      host: \"bad host\"\n"), "t.yaml:12: ",
               "'host' 'bad host' is not a host name");
  expect_error(hc("      type: http\n      expect: 2xx\n"), "t.yaml:12: ",
               "'expect' '2xx' is not an HTTP status (100..599) or a range of them such as "
               "200-299");
  expect_error(hc("      type: http\n      expect:\n        - 200\n        - 300-200\n"),
               "t.yaml:14: ", "'expect' '300-200' is not an HTTP status");
  expect_error(hc("      type: http\n      expect: []\n"), "t.yaml:12: ",
               "'expect' must list at least one status or range");
  expect_error(hc("      type: https\n      verify_tls: yes\n"), "t.yaml:12: ",
               "'verify_tls' must be true or false, got 'yes'");
  expect_error(hc("      type: http\n      read_limit: 0\n"), "t.yaml:12: ",
               "'read_limit' 0 is out of range 1..16777216");
  expect_error(hc("      type: http\n      body: \"0123456789\"\n      read_limit: 5\n"),
               "t.yaml:12: ", "'body' (10 bytes) is longer than 'read_limit' (5 bytes)");
  expect_error(hc("      type: exec\n"), "t.yaml:11: ",
               "an exec check needs a 'command' (a list of arguments, or a string run by "
               "/bin/sh -c)");
  expect_error(hc("      type: exec\n      command: []\n"), "t.yaml:12: ",
               "'command' must be a string (run by /bin/sh -c) or a non-empty list of "
               "arguments, got an empty list");
  expect_error(hc("      type: exec\n      command: [\"\", x]\n"), "t.yaml:12: ",
               "'command' must start with the program to run");
  expect_error(hc("      type: exec\n      command: true\n      weight_from_output: 1\n"),
               "t.yaml:13: ", "'weight_from_output' must be true or false, got '1'");
  expect_error(hc("      type: tcp\n      intervall: 3\n"), "t.yaml:12: ",
               "unknown key 'intervall' in 'health_check' (allowed: type, interval, timeout, "
               "rise, fall, initial, spread, port, path, host, expect, body, read_limit, "
               "verify_tls, payload, command, weight_from_output); did you mean 'interval'?");
  expect_error(web("    health_check: tcp\n"), "t.yaml:10: ",
               "'health_check' must be a map, got a scalar");
}

TEST_CASE("config: health_check keys of another check type", "[config][health]") {
  auto hc = [](const std::string& keys, const std::string& backends =
                                            "      - address: 10.0.0.11\n") {
    return web("    health_check:\n" + keys, backends);
  };
  expect_error(hc("      type: tcp\n      path: /health\n"), "t.yaml:12: ",
               "'path' does not apply to a tcp check (it is for http and https checks)");
  expect_error(hc("      type: http\n      verify_tls: true\n"), "t.yaml:12: ",
               "'verify_tls' does not apply to a http check (it is for https checks)");
  expect_error(hc("      type: exec\n      command: x\n      payload: hi\n"), "t.yaml:13: ",
               "'payload' does not apply to a exec check (it is for udp checks)");
  expect_error(hc("      type: udp\n      weight_from_output: true\n"), "t.yaml:12: ",
               "'weight_from_output' does not apply to a udp check (it is for exec checks)");
  SECTION("one mistake, one error, however many backends inherit it") {
    const LoadResult r = load(hc("      type: tcp\n      path: /health\n      interval: x\n",
                                 "      - address: 10.0.0.11\n      - address: 10.0.0.12\n"
                                 "      - address: 10.0.0.13\n"));
    INFO("errors:\n" << lines_text(r.errors));
    REQUIRE(r.errors.size() == 2);
    CHECK(r.errors[0].rfind("t.yaml:12: 'path' does not apply to a tcp check", 0) == 0);
    CHECK(r.errors[1].rfind("t.yaml:13: 'interval' must be a number of seconds", 0) == 0);
  }
  SECTION("a backend's own key for another type is reported at the backend") {
    expect_error(web("    health_check: {type: http}\n",
                     "      - address: 10.0.0.11\n        health_check: {type: tcp, body: x}\n"),
                 "t.yaml:13: ", "'body' does not apply to a tcp check");
  }
  SECTION("a service's http keys serve the backends that keep the http check") {
    expect_valid(web("    health_check: {type: http, path: /h, expect: 204}\n",
                     "      - address: 10.0.0.11\n      - address: 10.0.0.12\n"
                     "        health_check: {type: tcp}\n"));
    // With no type at the service, its keys wait for the backends' types.
    expect_valid(web("    health_check: {path: /h}\n",
                     "      - address: 10.0.0.11\n        health_check: {type: http}\n"));
  }
  SECTION("a service key no backend can use") {
    expect_error(web("    health_check: {type: http, path: /h}\n",
                     "      - address: 10.0.0.11\n        health_check: {type: tcp}\n"),
                 "t.yaml:10: ",
                 "'path' is used by no backend: every backend that inherits it has a check of "
                 "another type (it is for http and https checks)");
  }
  SECTION("expect means a status for http and a reply substring for udp") {
    const LoadResult r = load(web("    health_check: {type: udp, expect: \"200\"}\n",
                                  "      - address: 10.0.0.11\n      - address: 10.0.0.12\n"
                                  "        health_check: {type: http}\n"));
    INFO("errors:\n" << lines_text(r.errors));
    REQUIRE(r.config);
    CHECK(r.config->services[0].backends[0].health.expect_reply == "200");
    CHECK(r.config->services[0].backends[1].health.expect_status ==
          std::vector<StatusRange>{{200, 200}});
  }
}

TEST_CASE("config: a health_check spec is checked whole for each backend", "[config][health]") {
  SECTION("a backend's interval against the service's timeout: reported at the backend") {
    const LoadResult r = load(web("    health_check: {type: tcp, timeout: 1.5}\n",
                                  "      - address: 10.0.0.11\n"
                                  "      - address: 10.0.0.12\n"
                                  "        health_check: {interval: 1}\n"));
    INFO("errors:\n" << lines_text(r.errors));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0] == "t.yaml:14: 'timeout' (1.5 s) must be less than 'interval' (1 s): checks "
                         "of one backend must not overlap");
  }
  SECTION("an exec check whose command each backend gives") {
    expect_valid(web("    health_check: {type: exec, timeout: 0.5}\n",
                     "      - address: 10.0.0.11\n        health_check: {command: \"true\"}\n"));
    expect_error(web("    health_check: {type: exec}\n",
                     "      - address: 10.0.0.11\n        health_check: {command: \"true\"}\n"
                     "      - address: 10.0.0.12\n"),
                 "t.yaml:10: ", "an exec check needs a 'command'");
  }
  SECTION("a health_check without a type runs no check: a warning") {
    const LoadResult r = load(web("    health_check: {interval: 5}\n"));
    INFO("errors:\n" << lines_text(r.errors));
    REQUIRE(r.config);
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0] ==
          "t.yaml:10: 'health_check' has no 'type': no check runs (the type defaults to none)");
  }
}

TEST_CASE("config: health_targets() gives the checker one target per backend", "[config][health]") {
  const LoadResult r = load(web("    health_check: {type: tcp}\n",
                                "      - address: 10.0.0.11\n      - name: rs2\n"
                                "        address: 10.0.0.12\n"
                                "        health_check: {type: http, port: 8080}\n"));
  INFO("errors:\n" << lines_text(r.errors));
  REQUIRE(r.config);
  const std::vector<shoal::hc::Target> targets = shoal::cp::health_targets(*r.config);
  REQUIRE(targets.size() == 2);
  CHECK(targets[0].key == shoal::hc::TargetKey{"web", "10.0.0.11:80"});
  CHECK(targets[0].address == shoal::hc::TargetAddress::from_v4(ipv4(10, 0, 0, 11)));
  CHECK(targets[0].port == 80);
  CHECK(targets[0].check_port() == 80);
  CHECK(targets[0].spec.type == CheckType::tcp);
  CHECK(targets[1].key == shoal::hc::TargetKey{"web", "rs2"});
  CHECK(targets[1].spec.type == CheckType::http);
  CHECK(targets[1].check_port() == 8080);
}

TEST_CASE("config: a port's exception path and the API socket", "[config]") {
  const std::string two_ports = R"(ports:
  - name: lan
    device: net_null0
    addresses: [10.0.0.2/24]
    tap: lan0
  - name: wan
    device: net_null1
    addresses: [10.0.1.2/24]
)";
  SECTION("valid: the tap and socket reach the model; both default to none and /run/shoal") {
    const LoadResult r = load(two_ports + "services: []\napi: {socket: /tmp/x/api.sock}\n");
    REQUIRE(r.config);
    CHECK(r.config->ports[0].tap == "lan0");
    CHECK(r.config->ports[1].tap.empty());
    CHECK(r.config->api.socket == "/tmp/x/api.sock");
    const LoadResult d = load(kPort + "services: []\n");
    REQUIRE(d.config);
    CHECK(d.config->api.socket == "/run/shoal/shoald.sock");
  }
  SECTION("an interface name Linux would refuse") {
    expect_error(kPort + "    tap: a-name-far-too-long\nservices: []\n", "t.yaml:5: ",
                 "'tap' interface name 'a-name-far-too-long' must be 1 to 15");
    expect_error(kPort + "    tap: \"a b\"\nservices: []\n", "t.yaml:5: ", "must be 1 to 15");
  }
  SECTION("one tap per port") {
    expect_error(two_ports + "    tap: lan0\nservices: []\n", "t.yaml:9: ",
                 "tap 'lan0' is already the exception path of another port (line 5)");
  }
  SECTION("the API socket is an absolute path") {
    expect_error(kPort + "services: []\napi: {socket: run/api.sock}\n", "t.yaml:6: ",
                 "'socket' must be an absolute path");
    expect_error(kPort + "services: []\napi: {port: 80}\n", "t.yaml:6: ",
                 "unknown key 'port' in 'api'");
  }
}

TEST_CASE("config: the API over TCP needs a token file", "[config]") {
  const LoadResult r = load(kPort + "services: []\napi: {listen: \"127.0.0.1:8080\", token_file: /etc/shoal/token}\n");
  REQUIRE(r.config);
  CHECK(r.config->api.listen == "127.0.0.1:8080");
  CHECK(r.config->api.token_file == "/etc/shoal/token");
  expect_error(kPort + "services: []\napi: {listen: \"127.0.0.1:8080\"}\n", "t.yaml:6: ",
               "'listen' needs 'token_file'");
  expect_error(kPort + "services: []\napi: {listen: \"localhost:80\", token_file: /t}\n",
               "t.yaml:6: ", "'listen' must be address:port");
  expect_error(kPort + "services: []\napi: {listen: \"127.0.0.1:99999\", token_file: /t}\n",
               "t.yaml:6: ", "'listen' must be address:port");
  expect_error(kPort + "services: []\napi: {listen: \"127.0.0.1:80\", token_file: token}\n",
               "t.yaml:6: ", "'token_file' must be an absolute path");
}

TEST_CASE("config: the token-free metrics listener has an address of its own", "[config]") {
  LoadResult r = load_config_string(kPort + "services: []\napi: {metrics_listen: \"0.0.0.0:9469\"}\n",
                                    "t.yaml");
  REQUIRE(r.config);
  CHECK(r.config->api.metrics_listen == "0.0.0.0:9469");
  CHECK(load_config_string(kPort + "services: []\n", "t.yaml").config->api.metrics_listen.empty());
  expect_error(kPort + "services: []\napi: {metrics_listen: \"9469\"}\n", "t.yaml:6: ",
               "'metrics_listen' must be address:port");
  expect_error(kPort + "services: []\napi: {listen: \"127.0.0.1:80\", token_file: /t, "
                       "metrics_listen: \"127.0.0.1:80\"}\n",
               "t.yaml:6: ", "'metrics_listen' and 'listen' are both 127.0.0.1:80");
}

TEST_CASE("config: the API and metrics listeners take IPv6 endpoints", "[config][ipv6][api]") {
  const LoadResult r = load(kPort + "services: []\napi: {listen: \"[::1]:8080\", token_file: /t, "
                                    "metrics_listen: \"[::]:9469\"}\n");
  INFO("errors:\n" << lines_text(r.errors));
  REQUIRE(r.config);
  CHECK(r.config->api.listen == "[::1]:8080");
  CHECK(r.config->api.metrics_listen == "[::]:9469");
  const struct {
    std::string api, phrase;
  } mistakes[] = {
      {"{listen: \"::1:8080\", token_file: /t}",
       "'listen' must be address:port (e.g. 127.0.0.1:8080 or [::1]:8080), got '::1:8080'"},
      {"{listen: \"[::1]\", token_file: /t}", "'listen' must be address:port"},
      {"{listen: \"[::ffff:127.0.0.1]:80\", token_file: /t}", "'listen' must be address:port"},
      {"{metrics_listen: \"[fd00::1]:99999\"}",
       "'metrics_listen' must be address:port (e.g. 0.0.0.0:9469 or [::]:9469)"},
      // One endpoint however it is written.
      {"{listen: \"[::1]:80\", token_file: /t, metrics_listen: \"[0:0::1]:80\"}",
       "'metrics_listen' and 'listen' are both [::1]:80"},
  };
  for (const auto& m : mistakes)
    expect_error(kPort + "services: []\napi: " + m.api + "\n", "t.yaml:6: ", m.phrase);
}

TEST_CASE("config: address:port endpoints, shared with the API and shoalctl", "[config]") {
  using shoal::cp::parse_ipv4_endpoint;
  CHECK(parse_ipv4_endpoint("10.0.0.1:80") == std::pair{ipv4(10, 0, 0, 1), uint16_t{80}});
  CHECK(parse_ipv4_endpoint("10.0.0.1:65535")->second == 65535);
  CHECK(parse_ipv4_endpoint("10.0.0.1", true) == std::pair{ipv4(10, 0, 0, 1), uint16_t{0}});
  for (const char* bad : {"10.0.0.1", "10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:080",
                          "10.0.0.1:8a", "localhost:80", ":80", "10.0.0.1:123456"})
    CHECK_FALSE(parse_ipv4_endpoint(bad).has_value());
}

TEST_CASE("config: a service's scheduler, with the keys that go with it", "[config]") {
  const std::string head = kPort + R"(services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
)";
  const std::string backends = "    backends: [{address: 10.0.0.11}, {address: 10.0.0.12, weight: 3}]\n";
  SECTION("maglev by default, hashing the 5-tuple; mh hashes the client address") {
    LoadResult r = load(head + backends);
    REQUIRE(r.config);
    CHECK(r.config->services[0].scheduler == shoal::dp::Scheduler::maglev);
    CHECK(r.config->services[0].hash == HashOn::five_tuple);
    r = load(head + "    scheduler: mh\n" + backends);
    REQUIRE(r.config);
    CHECK(r.config->services[0].scheduler == shoal::dp::Scheduler::mh);
    CHECK(r.config->services[0].hash == HashOn::source_address);
  }
  SECTION("every LVS name is taken") {
    for (const char* name : {"rr", "wrr", "lc", "wlc", "sed", "nq", "sh", "dh", "mh", "maglev"}) {
      const LoadResult r = load(head + "    scheduler: " + name + "\n" + backends);
      INFO(name << ": " << lines_text(r.errors));
      REQUIRE(r.config);
      CHECK(shoal::dp::scheduler_name(r.config->services[0].scheduler) == name);
    }
  }
  SECTION("an unknown one names the choices") {
    expect_error(head + "    scheduler: lblc\n" + backends, "t.yaml:10: ",
                 "'scheduler' must be one of maglev|rr|wrr|lc|wlc|sed|nq|sh|dh|mh, got 'lblc'");
  }
  SECTION("hash and maglev_size belong to the Maglev schedulers") {
    expect_error(head + "    scheduler: rr\n    hash: source-address\n" + backends, "t.yaml:11: ",
                 "'hash' applies to the maglev and mh schedulers, not to 'rr'");
    expect_error(head + "    scheduler: wlc\n    maglev_size: 251\n" + backends, "t.yaml:11: ",
                 "'maglev_size' applies to the maglev and mh schedulers, not to 'wlc'");
    expect_valid(head + "    scheduler: mh\n    maglev_size: 251\n    hash: 5-tuple\n" + backends);
  }
  SECTION("flows under a scheduler that differs between directors are synced by default") {
    auto synced = [&](const std::string& extra) {
      const LoadResult r = load(head + extra + backends);
      INFO(lines_text(r.errors));
      REQUIRE(r.config);
      return r.config->services[0].sync;
    };
    CHECK_FALSE(synced(""));
    CHECK_FALSE(synced("    scheduler: sh\n"));
    CHECK(synced("    scheduler: rr\n"));
    CHECK(synced("    scheduler: wlc\n"));
    CHECK_FALSE(synced("    scheduler: wlc\n    sync: false\n"));
  }
}

TEST_CASE("config: persistence, with a netmask or a prefix length", "[config][persistence]") {
  const std::string head = kPort + R"(services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
    backends: [{address: 10.0.0.11}]
)";
  LoadResult r = load(head + "    persistence: {timeout: 300, netmask: 255.255.255.0}\n");
  REQUIRE(r.config);
  CHECK(r.config->services[0].persistence_timeout_s == 300);
  CHECK(r.config->services[0].persistence_netmask == ipv4(255, 255, 255, 0));
  r = load(head + "    persistence: {timeout: 60, netmask: 16}\n");
  REQUIRE(r.config);
  CHECK(r.config->services[0].persistence_netmask == ipv4(255, 255, 0, 0));
  r = load(head + "    persistence: {timeout: 60}\n");
  REQUIRE(r.config);
  CHECK(r.config->services[0].persistence_netmask == ipv4(255, 255, 255, 255));
  r = load(head);
  REQUIRE(r.config);
  CHECK(r.config->services[0].persistence_timeout_s == 0);
  expect_error(head + "    persistence: {timeout: 60, netmask: 255.0.255.0}\n", "t.yaml:11: ",
               "'netmask' 255.0.255.0 is not a netmask");
  expect_error(head + "    persistence: {netmask: 24}\n", "t.yaml:11: ", "'timeout'");
  expect_error(head + "    persistence: {timeout: 60, netmask: 33}\n", "t.yaml:11: ", "'netmask'");
}

TEST_CASE("config: a multi-port service over listed ports, ranges or every port",
          "[config][multiport]") {
  const std::string head = kPort + R"(services:
  - name: shop
    vip: 10.0.0.100
    forwarding: dr
    backends: [{address: 10.0.0.11}, {address: 10.0.0.12}]
)";  // the service's keys from line 10 on
  LoadResult r = load(head + "    ports: [80, 443, \"8000-8100\"]\n");
  REQUIRE(r.config);
  const ServiceConfig& listed = r.config->services[0];
  CHECK(listed.multi_port());
  CHECK_FALSE(listed.every_port());
  CHECK(listed.port == 0);
  REQUIRE(listed.port_ranges.size() == 3);
  CHECK(listed.port_ranges[2] == shoal::dp::PortRange{8000, 8100});
  CHECK(listed.lists_port(443));
  CHECK(listed.lists_port(8050));
  CHECK_FALSE(listed.lists_port(8101));
  CHECK(shoal::cp::service_endpoint(listed) == "10.0.0.100:80,443,8000-8100");
  // Its backends keep each packet's port, and are named by their address alone.
  CHECK(listed.backends[0].port == 0);
  CHECK(listed.backends[0].name == "10.0.0.11");

  for (const char* every : {"    ports: all\n", "    port: 0\n"}) {
    r = load(head + every);
    REQUIRE(r.config);
    CHECK(r.config->services[0].every_port());
    CHECK(shoal::cp::service_endpoint(r.config->services[0]) == "10.0.0.100:0");
  }
}

TEST_CASE("config: multi-port mistakes are reported on their line", "[config][multiport]") {
  const std::string head = kPort + R"(services:
  - name: shop
    vip: 10.0.0.100
    forwarding: dr
)";  // the service's keys from line 9 on
  const std::string backends = "    backends: [{address: 10.0.0.11}]\n";
  expect_error(head + "    port: 80\n    ports: [443]\n" + backends, "t.yaml:10: ",
               "a service takes 'port' or 'ports', not both ('port' is at line 9)");
  expect_error(head + "    ports: []\n" + backends, "t.yaml:9: ",
               "'ports' must list at least one port or range, or be 'all'");
  expect_error(head + "    ports: some\n" + backends, "t.yaml:9: ",
               "'ports' must be 'all' or a list of ports and ranges");
  expect_error(head + "    ports:\n      - 80\n      - 8100-8000\n" + backends, "t.yaml:11: ",
               "range '8100-8000' is empty");
  expect_error(head + "    ports: [80, 0]\n" + backends, "t.yaml:9: ", "port 0 cannot be listed");
  expect_error(head + "    ports: [80, 70000]\n" + backends, "t.yaml:9: ", "past the last port");
  expect_error(head + "    ports: [80, http]\n" + backends, "t.yaml:9: ",
               "'http' is neither a port");
  expect_error(head + "    ports:\n      - 8000-8100\n      - 8080\n" + backends, "t.yaml:11: ",
               "port 8080 is listed twice (lines 10 and 11)");
  expect_error(head + "    ports: [80, 443]\n    backends: [{address: 10.0.0.11, port: 80}]\n",
               "t.yaml:10: ", "a backend of multi-port service 'shop' takes no 'port'");
}

TEST_CASE("config: services of one VIP and protocol share no port", "[config][multiport]") {
  const std::string two = kPort + R"(services:
  - name: a
    vip: 10.0.0.100
    PORTS_A
    forwarding: dr
    backends: [{address: 10.0.0.11}]
  - name: b
    vip: 10.0.0.100
    PORTS_B
    protocol: PROTO
    forwarding: dr
    backends: [{address: 10.0.0.12}]
)";
  auto with = [&](const std::string& a, const std::string& b, const std::string& proto = "tcp") {
    return filled(two, {{"PORTS_A", a}, {"PORTS_B", b}, {"PROTO", proto}});
  };
  expect_error(with("ports: [80, 443]", "port: 443"), "t.yaml:12: ",
               "service 'b': 10.0.0.100:443/tcp is already served by service 'a' (line 7)");
  expect_error(with("ports: [\"8000-8100\"]", "ports: [9000, \"8100-8200\"]"), "t.yaml:12: ",
               "10.0.0.100:8100/tcp is already served by service 'a'");
  expect_error(with("ports: all", "port: 0"), "t.yaml:12: ",
               "every port of 10.0.0.100/tcp is already served by service 'a'");
  // The service with a packet's port wins over the one on every port, as in IPVS.
  expect_valid(with("ports: all", "ports: [80, 443]"));
  expect_valid(with("ports: [80, 443]", "ports: [80, 443]", "udp"));
}

TEST_CASE("config: a multi-port service's health checks and NAT backends",
          "[config][multiport][health]") {
  const std::string head = kTwoSubnets + R"(services:
  - name: shop
    vip: 10.0.0.100
    forwarding: nat
    backends: [{address: 10.0.1.11}]
)";  // the service's keys from line 10 on
  LoadResult r = load(head + "    ports: [443, 80]\n    health_check: {type: tcp}\n");
  REQUIRE(r.config);
  // Checks go to the first port the service lists unless they name one.
  CHECK(r.config->services[0].backends[0].health.port == 443);
  r = load(head + "    ports: [443, 80]\n    health_check: {type: tcp, port: 22}\n");
  REQUIRE(r.config);
  CHECK(r.config->services[0].backends[0].health.port == 22);
  expect_error(head + "    ports: all\n    health_check: {type: http}\n", "t.yaml:9: ",
               "service 'shop' serves every port: the health_check of backend 10.0.1.11 needs a "
               "'port'");
  r = load(head + "    ports: all\n    health_check: {type: http, port: 80}\n");
  REQUIRE(r.config);
  CHECK(r.config->services[0].backends[0].health.port == 80);

  // A NAT backend answers from each listed port: another NAT service's backend on one of
  // them would make its replies ambiguous.
  const std::string other = R"(  - name: other
    vip: 10.0.0.101
    port: 80
    forwarding: nat
    backends: [{address: 10.0.1.11, port: PORT}]
)";
  auto with = [&](const std::string& port) {
    return head + "    ports: [80, 443]\n" + filled(other, {{"PORT", port}});
  };
  expect_error(with("443"), "t.yaml:15: ",
               "nat backend 10.0.1.11:443/tcp is also a backend of nat service 'shop'");
  expect_valid(with("8443"));
}

TEST_CASE("config: listed ports are bounded in total", "[config][multiport]") {
  const std::string head = kPort + R"(services:
  - name: wide
    vip: 10.0.0.100
    forwarding: dr
    backends: [{address: 10.0.0.11}]
)";
  expect_valid(head + "    ports: [\"1-65535\"]\n");
  const std::string two = head + "    ports: [\"1-65535\"]\n" + R"(  - name: wide2
    vip: 10.0.0.101
    forwarding: dr
    backends: [{address: 10.0.0.12}]
    ports: ["1-1000"]
)";
  expect_error(two, "t.yaml:15: ", "multi-port services list more than 65536 ports in all");
}

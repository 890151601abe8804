// From running state to the dataplane's backends (controlplane/net/snapshot_builder.cc): health,
// the operator's admin states, the all_down policies and sorry servers decide each backend's
// `healthy` and `weight` in the SnapshotSpec; and admin states outlive reloads as documented.
#include <catch2/catch.hpp>

#include "api/admin_state.h"
#include "config/config.h"
#include "net/snapshot_builder.h"
#include "controlplane/load_errors.h"
#include "packet_builder.h"
#include "quorum/service_quorum.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

using shoal::cp::AdminState;
using shoal::cp::AdminStates;
using shoal::cp::BackendHealth;
using shoal::cp::build_snapshot_spec;
using shoal::cp::ServiceQuorums;
using shoal::cp::Config;
using shoal::cp::HealthView;
using shoal::cp::load_config_string;
using shoal::cp::LoadResult;
using shoal::cp::Neighbours;
using shoal::cp::Neighbours6;
using shoal::cp::wanted_neighbours6;
using shoal::cp::PortHandle;
using shoal::dp::BackendSpec;
using shoal::hc::TargetKey;
using shoal::test::ip6;
using shoal::test::lines_text;

namespace {

// rs1, rs2 real backends (weights 1 and 3) of service web; `extra` adds keys and backends.
Config load(const std::string& all_down = "", const std::string& extra_backends = "") {
  const std::string text = R"(ports:
  - name: lan
    device: net_null0
    addresses: [10.0.0.2/24]
services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
)" + (all_down.empty() ? "" : "    all_down: " + all_down + "\n") +
                           R"(    backends:
      - {name: rs1, address: 10.0.0.11}
      - {name: rs2, address: 10.0.0.12, weight: 3}
)" + extra_backends;
  LoadResult r = load_config_string(text, "t.yaml");
  INFO((r.errors.empty() ? std::string() : r.errors.front()));
  REQUIRE(r.config);
  return *r.config;
}

struct Built {
  std::vector<BackendSpec> backends;
  const BackendSpec& operator[](std::size_t i) const { return backends.at(i); }
};

Built build(const Config& c, const HealthView& health, const AdminStates& admin = {}) {
  const std::vector<PortHandle> ports = {PortHandle{}};
  Neighbours neighbours;
  ServiceQuorums quorums;
  quorums.update(c, health, admin);
  const auto spec = build_snapshot_spec(c, ports, neighbours, health, admin,
                                        [&](const std::string& s) { return quorums.up(s); });
  REQUIRE(spec.services.size() == 1);
  return Built{spec.services[0].backends};
}

HealthView down(std::initializer_list<const char*> names) {
  HealthView v;
  for (const char* n : names) v[TargetKey{"web", n}] = BackendHealth{false, std::nullopt};
  return v;
}

}  // namespace

TEST_CASE("snapshot builder: health and admin state", "[builder]") {
  const Config c = load();
  SECTION("all up: file weights") {
    const Built b = build(c, {});
    CHECK((b[0].healthy && b[0].weight == 1 && b[1].healthy && b[1].weight == 3));
  }
  SECTION("down: not healthy, weight kept for when it returns") {
    const Built b = build(c, down({"rs2"}));
    CHECK(b[0].healthy);
    CHECK_FALSE(b[1].healthy);
  }
  SECTION("an exec check's weight replaces the file's") {
    HealthView v;
    v[TargetKey{"web", "rs2"}] = BackendHealth{true, 7u};
    CHECK(build(c, v)[1].weight == 7);
  }
  AdminStates admin;
  SECTION("disabled: out however healthy") {
    admin.set_state(TargetKey{"web", "rs1"}, AdminState::disabled);
    const Built b = build(c, {}, admin);
    CHECK_FALSE(b[0].healthy);
    CHECK(b[1].healthy);
  }
  SECTION("draining: weight 0, still healthy so its flows stay; over any weight override") {
    admin.set_weight(TargetKey{"web", "rs2"}, 9, 3);
    CHECK(build(c, {}, admin)[1].weight == 9);
    admin.set_state(TargetKey{"web", "rs2"}, AdminState::draining);
    const Built b = build(c, {}, admin);
    CHECK((b[1].healthy && b[1].weight == 0));
    admin.set_state(TargetKey{"web", "rs2"}, AdminState::enabled);
    CHECK(build(c, {}, admin)[1].weight == 9);
  }
  SECTION("admin state survives health transitions") {
    admin.set_state(TargetKey{"web", "rs1"}, AdminState::draining);
    CHECK(build(c, down({"rs1"}), admin)[0].healthy == false);
    const Built back = build(c, {}, admin);
    CHECK((back[0].healthy && back[0].weight == 0));
  }
}

TEST_CASE("snapshot builder: when every backend is down", "[builder]") {
  SECTION("drop (the default): nothing takes new flows") {
    const Built b = build(load(), down({"rs1", "rs2"}));
    CHECK_FALSE(b[0].healthy);
    CHECK_FALSE(b[1].healthy);
  }
  SECTION("fail-open: every enabled backend, as if its checks passed") {
    const Config c = load("fail-open");
    Built b = build(c, down({"rs1", "rs2"}));
    CHECK((b[0].healthy && b[1].healthy && b[1].weight == 3));
    AdminStates admin;
    admin.set_state(TargetKey{"web", "rs1"}, AdminState::disabled);
    b = build(c, down({"rs2"}), admin);  // rs1 disabled, rs2 down: all down
    CHECK_FALSE(b[0].healthy);
    CHECK(b[1].healthy);
    b = build(c, down({"rs1"}));  // one still up: the policy does not apply
    CHECK_FALSE(b[0].healthy);
    CHECK(b[1].healthy);
  }
  SECTION("sorry: the sorry server takes new flows only when all real ones are down") {
    const Config c = load("sorry", "      - {name: sorry, address: 10.0.0.19, sorry: true}\n");
    Built b = build(c, {});
    CHECK((b[2].healthy && b[2].weight == 0));  // drains: flows it had finish there
    CHECK(b[0].weight == 1);
    b = build(c, down({"rs1", "rs2"}));
    CHECK((b[2].healthy && b[2].weight == 1));
    CHECK_FALSE(b[0].healthy);
    HealthView all = down({"rs1", "rs2", "sorry"});
    CHECK_FALSE(build(c, all)[2].healthy);  // a sorry server with a failing check is out too
  }
}

TEST_CASE("config: all_down and sorry servers are validated", "[builder][config]") {
  const std::string head = R"(ports:
  - name: lan
    device: net_null0
    addresses: [10.0.0.2/24]
services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
)";
  auto errors = [&](const std::string& body) {
    LoadResult r = load_config_string(head + body, "t.yaml");
    CHECK_FALSE(r.config);
    return r.errors;
  };
  auto e = errors("    all_down: sorry\n    backends:\n      - {address: 10.0.0.11}\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].rfind("t.yaml:10: ", 0) == 0);
  CHECK(e[0].find("needs a backend marked 'sorry: true'") != std::string::npos);
  e = errors("    backends:\n      - {address: 10.0.0.11}\n      - {address: 10.0.0.19, sorry: true}\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].rfind("t.yaml:12: ", 0) == 0);
  CHECK(e[0].find("set 'all_down: sorry'") != std::string::npos);
  e = errors("    all_down: sorry\n    backends:\n      - {address: 10.0.0.19, sorry: true}\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].find("at least one real backend") != std::string::npos);
  e = errors("    all_down: open\n    backends:\n      - {address: 10.0.0.11}\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].rfind("t.yaml:10: ", 0) == 0);
  CHECK(e[0].find("fail-open") != std::string::npos);
}

TEST_CASE("admin states: kept across reloads for backends that remain", "[builder]") {
  const Config before = load();
  AdminStates admin;
  admin.set_state(TargetKey{"web", "rs1"}, AdminState::draining);
  admin.set_weight(TargetKey{"web", "rs2"}, 9, 3);
  admin.retain(before);
  CHECK(admin.get(TargetKey{"web", "rs1"}).state == AdminState::draining);
  CHECK(admin.get(TargetKey{"web", "rs2"}).weight == 9u);

  SECTION("a backend removed forgets its state, and returns enabled") {
    LoadResult r = load_config_string(R"(ports:
  - name: lan
    device: net_null0
    addresses: [10.0.0.2/24]
services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
    backends:
      - {name: rs2, address: 10.0.0.12, weight: 5}
)", "t.yaml");
    REQUIRE(r.config);
    admin.retain(*r.config);
    admin.retain(before);
    CHECK(admin.get(TargetKey{"web", "rs1"}).state == AdminState::enabled);
    // rs2's weight changed in the file (3 → 5): the file is the newer word.
    CHECK_FALSE(admin.get(TargetKey{"web", "rs2"}).weight.has_value());
    CHECK(admin.entries().empty());
  }
}

namespace {

// A NAT66 service whose second backend sits behind a static IPv6 route; a static ND entry for
// the first backend. Port 0 is DPDK port 3 here, so that a port id is told from an index.
const char* const kRoutes6 = R"(ports:
  - name: lan
    device: net_null0
    addresses: [10.0.0.2/24, fd00::2/64]
services:
  - name: nat6
    vip: fd00::100
    port: 80
    forwarding: nat
    backends:
      - {name: near, address: "fd00::11"}
      - {name: far, address: "2001:db8:1::11"}
neighbours:
  - {address: "fd00::11", mac: "02:00:00:00:00:11"}
routes:
  - {prefix: "2001:db8:1::/48", via: "fd00::1"}
  - {prefix: "2001:db8:1:2::/64", via: "fd00::3"}
)";

std::optional<std::size_t> find_route6(const shoal::dp::SnapshotSpec& spec, const char* prefix,
                                       uint8_t length) {
  for (std::size_t i = 0; i < spec.routes6.size(); ++i)
    if (spec.routes6[i].prefix == ip6(prefix) && spec.routes6[i].length == length) return i;
  return std::nullopt;
}

}  // namespace

TEST_CASE("snapshot builder: IPv6 static routes, resolved by Neighbour Discovery",
          "[builder][ipv6][routes6]") {
  LoadResult r = load_config_string(kRoutes6, "t.yaml");
  INFO(lines_text(r.errors));
  REQUIRE(r.config);
  const Config& c = *r.config;
  std::vector<PortHandle> ports(1);
  ports[0].id = 3;

  // The next hops wanted: the on-link backend and the routes' next hops, not the far backend.
  std::vector<std::string> wanted;
  for (const auto& probe : wanted_neighbours6(c, ports)) {
    CHECK(probe.port == 3);
    wanted.push_back(shoal::cp::ipv6_to_string(probe.ip));
  }
  CHECK(wanted == std::vector<std::string>{"fd00::1", "fd00::3", "fd00::11"});

  Neighbours neighbours;
  Neighbours6 nd;
  const rte_ether_addr router{{0x02, 0, 0, 0, 0, 0x01}};
  nd.set_wanted(wanted_neighbours6(c, ports), 0);
  nd.learn(ip6("fd00::1"), 3, router, 0);  // fd00::3 has not answered yet
  for (const auto& n : c.neighbours6) {  // as the director takes the file's static entries
    rte_ether_addr mac;
    std::copy(n.mac.begin(), n.mac.end(), mac.addr_bytes);
    nd.add_static(n.address, 3, mac);
  }
  const auto spec = build_snapshot_spec(c, ports, neighbours, {}, {},
                                        [](const std::string&) { return true; }, {}, &nd);

  const auto wide = find_route6(spec, "2001:db8:1::", 48);
  const auto narrow = find_route6(spec, "2001:db8:1:2::", 64);
  REQUIRE(wide);
  REQUIRE(narrow);
  const shoal::dp::NextHopSpec& via_router = spec.next_hops.at(spec.routes6[*wide].next_hop);
  CHECK(via_router.port == 3);
  CHECK(via_router.resolved);
  CHECK(rte_is_same_ether_addr(&via_router.mac, &router));
  CHECK_FALSE(spec.next_hops.at(spec.routes6[*narrow].next_hop).resolved);
  // The static entry is a host route, resolved without a solicitation.
  const auto host = find_route6(spec, "fd00::11", 128);
  REQUIRE(host);
  const shoal::dp::NextHopSpec& near = spec.next_hops.at(spec.routes6[*host].next_hop);
  CHECK(near.resolved);
  CHECK(near.mac.addr_bytes[5] == 0x11);

  // The far backend goes through the route's next hop.
  REQUIRE(spec.services.size() == 1);
  REQUIRE(spec.services[0].backends.size() == 2);
  CHECK(spec.services[0].backends[1].next_hop == spec.routes6[*wide].next_hop);
  CHECK(spec.services[0].backends[0].next_hop == spec.routes6[*host].next_hop);

  // And the dataplane takes them: the longest prefix first.
  std::string error;
  const auto snap = shoal::dp::Snapshot::build(spec, &error);
  INFO(error);
  REQUIRE(snap);
  CHECK(snap->route6(ip6("2001:db8:1:7::5")) == spec.routes6[*wide].next_hop);
  CHECK(snap->route6(ip6("2001:db8:1:2::5")) == spec.routes6[*narrow].next_hop);
  CHECK(snap->route6(ip6("2001:db8:2::5")) == shoal::dp::kNoNextHop);
}

TEST_CASE("snapshot builder: an IPv6 static route replaces the host route of a neighbour",
          "[builder][ipv6][routes6]") {
  // An on-link host reached through another box on the segment (a filter in front of it):
  // one entry for it, the route's, as rte_lpm keeps IPv4's last one (the dataplane's IPv6
  // table refuses a host route twice).
  LoadResult r = load_config_string(R"(ports:
  - name: lan
    device: net_null0
    addresses: [fd00::2/64]
services: []
routes:
  - {prefix: "fd00::7/128", via: "fd00::1"}
)",
                                    "t.yaml");
  INFO(lines_text(r.errors));
  REQUIRE(r.config);
  const std::vector<PortHandle> ports(1);
  Neighbours neighbours;
  Neighbours6 nd;
  nd.learn(ip6("fd00::7"), 0, rte_ether_addr{{0x02, 0, 0, 0, 0, 0x07}}, 0);
  nd.learn(ip6("fd00::1"), 0, rte_ether_addr{{0x02, 0, 0, 0, 0, 0x01}}, 0);
  const auto spec = build_snapshot_spec(*r.config, ports, neighbours, {}, {},
                                        [](const std::string&) { return true; }, {}, &nd);
  std::vector<uint32_t> hops;
  for (const auto& route : spec.routes6)
    if (route.prefix == ip6("fd00::7") && route.length == 128) hops.push_back(route.next_hop);
  REQUIRE(hops.size() == 1);
  CHECK(spec.next_hops.at(hops[0]).mac.addr_bytes[5] == 0x01);
  std::string error;
  const auto snap = shoal::dp::Snapshot::build(spec, &error);
  INFO(error);
  REQUIRE(snap);
  CHECK(snap->route6(ip6("fd00::7")) == hops[0]);
}

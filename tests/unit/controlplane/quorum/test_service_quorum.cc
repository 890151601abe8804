// Service quorum (controlplane/quorum/service_quorum.cc), as keepalived has it: the weights of
// the real backends in service against `quorum`, with hysteresis; what the snapshot builder and
// the BGP offer do below it; and the config's checks.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "api/admin_state.h"
#include "bgp/offer.h"
#include "config/config.h"
#include "controlplane/web_config.h"
#include "net/snapshot_builder.h"
#include "quorum/service_quorum.h"

using shoal::cp::AdminState;
using shoal::cp::AdminStates;
using shoal::cp::BackendHealth;
using shoal::cp::Config;
using shoal::cp::HealthView;
using shoal::cp::LoadResult;
using shoal::cp::ServiceQuorums;
using shoal::hc::TargetKey;

namespace {

// Service web: rs1, rs2, rs3 of weights 1, 2 and 3; `keys` adds service keys, `extra` backends.
LoadResult load(const std::string& keys, const std::string& extra = "") {
  return shoal::cp::load_config_string(shoal::test::web_config_head() + keys + R"(    backends:
      - {name: rs1, address: 10.0.0.11, weight: 1}
      - {name: rs2, address: 10.0.0.12, weight: 2}
      - {name: rs3, address: 10.0.0.13, weight: 3}
)" + extra,
                                       "t.yaml");
}

Config loaded(const std::string& keys, const std::string& extra = "") {
  LoadResult r = load(keys, extra);
  INFO((r.errors.empty() ? std::string() : r.errors.front()));
  REQUIRE(r.config);
  return *r.config;
}

void set_up(HealthView& health, const char* backend, bool up) {
  health[TargetKey{"web", backend}] = BackendHealth{up, std::nullopt};
}

}  // namespace

TEST_CASE("quorum: by default a service is up while a real backend in service has weight",
          "[quorum]") {
  const Config c = loaded("");
  HealthView health;
  AdminStates admin;
  ServiceQuorums q;
  CHECK(q.update(c, health, admin).empty());
  CHECK(q.up("web"));
  CHECK(q.state("web")->weight == 6);
  set_up(health, "rs1", false);
  set_up(health, "rs2", false);
  CHECK(q.update(c, health, admin).empty());
  CHECK(q.state("web")->weight == 3);
  // The last one drained by the operator: in service, but it gives no weight.
  admin.set_state(TargetKey{"web", "rs3"}, AdminState::draining);
  auto changes = q.update(c, health, admin);
  REQUIRE(changes.size() == 1);
  CHECK((changes[0].service == "web" && !changes[0].up && changes[0].weight == 0));
  CHECK_FALSE(q.up("web"));
  CHECK(describe(changes[0]) == "service web: quorum lost (healthy weight 0, needs 1 - hysteresis 0)");
  // The operator's weight counts instead of the file's.
  admin.set_state(TargetKey{"web", "rs3"}, AdminState::enabled);
  admin.set_weight(TargetKey{"web", "rs3"}, 7, 3);
  changes = q.update(c, health, admin);
  REQUIRE(changes.size() == 1);
  CHECK((changes[0].up && changes[0].weight == 7));
  CHECK(q.up("unknown"));  // a service it never saw is not held down
}

TEST_CASE("quorum: hysteresis keeps a service from flapping around its quorum", "[quorum]") {
  const Config c = loaded("    quorum: {up: 4, hysteresis: 1}\n");
  HealthView health;
  AdminStates admin;
  ServiceQuorums q;
  CHECK(q.update(c, health, admin).empty());  // 6 >= 4
  set_up(health, "rs3", false);               // 3: still >= 4 - 1
  CHECK(q.update(c, health, admin).empty());
  CHECK(q.up("web"));
  set_up(health, "rs2", false);  // 1 < 3: lost
  auto changes = q.update(c, health, admin);
  REQUIRE(changes.size() == 1);
  CHECK_FALSE(changes[0].up);
  set_up(health, "rs2", true);  // 3: not yet >= 4 + 1
  CHECK(q.update(c, health, admin).empty());
  CHECK_FALSE(q.up("web"));
  set_up(health, "rs2", false);
  set_up(health, "rs3", true);  // 4: still not 5
  CHECK(q.update(c, health, admin).empty());
  set_up(health, "rs2", true);  // 6 >= 5: regained
  changes = q.update(c, health, admin);
  REQUIRE(changes.size() == 1);
  CHECK((changes[0].up && changes[0].weight == 6 && changes[0].quorum == 4 &&
         changes[0].hysteresis == 1));
  CHECK(describe(changes[0]) ==
        "service web: quorum regained (healthy weight 6, needs 4 + hysteresis 1)");
}

TEST_CASE("quorum: a service that starts below quorum is reported once, then forgotten when it "
          "goes", "[quorum]") {
  HealthView health;
  AdminStates admin;
  set_up(health, "rs3", false);
  ServiceQuorums q;
  const Config c = loaded("    quorum: 4\n");
  auto changes = q.update(c, health, admin);  // 3 < 4, no hysteresis at the start
  REQUIRE(changes.size() == 1);
  CHECK_FALSE(changes[0].up);
  CHECK(q.update(c, health, admin).empty());
  Config none = c;
  none.services.clear();
  CHECK(q.update(none, health, admin).empty());
  CHECK(q.state("web") == nullptr);
}

TEST_CASE("quorum: below it, the all_down policy decides who takes new flows", "[quorum][builder]") {
  const std::vector<shoal::cp::PortHandle> ports = {shoal::cp::PortHandle{}};
  shoal::cp::Neighbours neighbours;
  HealthView health;
  AdminStates admin;
  set_up(health, "rs3", false);  // 3 left, below a quorum of 4
  auto build = [&](const Config& c) {
    ServiceQuorums q;
    q.update(c, health, admin);
    return build_snapshot_spec(c, ports, neighbours, health, admin,
                               [&](const std::string& s) { return q.up(s); })
        .services.at(0)
        .backends;
  };
  SECTION("drop: nothing stands in, the backends in service keep taking new flows") {
    const auto b = build(loaded("    quorum: 4\n"));
    CHECK((b[0].healthy && b[0].weight == 1 && b[1].weight == 2 && !b[2].healthy));
  }
  SECTION("sorry: the sorry server alone; the real ones drain") {
    const auto b = build(loaded("    quorum: 4\n    all_down: sorry\n",
                                "      - {name: sorry, address: 10.0.0.19, sorry: true}\n"));
    CHECK((b[0].healthy && b[0].weight == 0 && b[1].weight == 0));
    CHECK((b[3].healthy && b[3].weight == 1));
    // Back at quorum: the sorry server drains again.
    set_up(health, "rs3", true);
    const auto up = build(loaded("    quorum: 4\n    all_down: sorry\n",
                                 "      - {name: sorry, address: 10.0.0.19, sorry: true}\n"));
    CHECK((up[0].weight == 1 && up[2].weight == 3 && up[3].weight == 0));
  }
  SECTION("fail-open: every enabled backend, as if its checks passed") {
    const auto b = build(loaded("    quorum: 4\n    all_down: fail-open\n"));
    CHECK((b[2].healthy && b[2].weight == 3));
  }
  SECTION("BGP stops offering the VIP under drop, not under fail-open") {
    for (const auto& [policy, offered] : {std::pair{"drop", false}, std::pair{"fail-open", true}}) {
      const Config c = loaded(std::string("    quorum: 4\n    all_down: ") + policy + "\n", "bgp: {}\n");
      ServiceQuorums q;
      q.update(c, health, admin);
      const auto offers = offer_vips(c, [&](const std::string& s) { return q.up(s); }, {});
      REQUIRE(offers.size() == 1);
      CHECK(offers[0].offered == offered);
    }
  }
}

TEST_CASE("config: quorum and hysteresis are checked", "[quorum][config]") {
  CHECK(loaded("    quorum: 5\n").services[0].quorum == 5);
  const Config c = loaded("    quorum: {up: 5, hysteresis: 2}\n");
  CHECK((c.services[0].quorum == 5 && c.services[0].quorum_hysteresis == 2));
  CHECK(loaded("").services[0].quorum == 1);

  auto error = [](const std::string& keys) {
    LoadResult r = load(keys);
    CHECK_FALSE(r.config);
    REQUIRE_FALSE(r.errors.empty());
    return r.errors.front();
  };
  CHECK(error("    quorum: 0\n").rfind("t.yaml:10: ", 0) == 0);
  const std::string e = error("    quorum:\n      up: 3\n      hysteresis: 3\n");
  CHECK(e.rfind("t.yaml:12: ", 0) == 0);
  CHECK(e.find("'hysteresis' 3 must be below the quorum (3)") != std::string::npos);
  CHECK(error("    quorum: {hysteresis: 1}\n").find("'up'") != std::string::npos);
  CHECK(error("    quorum: {up: 2, down: 1}\n").find("'down'") != std::string::npos);

  LoadResult r = load("    quorum: 7\n");  // 6 in all: a warning, not an error
  REQUIRE(r.config);
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].rfind("t.yaml:10: ", 0) == 0);
  CHECK(r.warnings[0].find("real backends weigh 6 in all, below the quorum of 7") !=
        std::string::npos);
}

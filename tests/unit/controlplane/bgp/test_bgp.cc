// BGP announcement (controlplane/bgp/, config/load_bgp.cc): the `bgp:` section and its
// refusal beside NAT, which VIPs are offered, the file bird includes, and bird's control
// socket replies as bird2 writes them.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "api/admin_state.h"
#include "bgp/bird_client.h"
#include "bgp/offer.h"
#include "config/config.h"
#include "controlplane/load_errors.h"
#include "quorum/service_quorum.h"

using shoal::cp::AdminState;
using shoal::cp::AdminStates;
using shoal::cp::BackendHealth;
using shoal::cp::BgpWithdrawals;
using shoal::cp::Config;
using shoal::cp::HealthView;
using shoal::cp::load_config_string;
using shoal::cp::LoadResult;
using shoal::cp::VipOffer;
using shoal::dp::ipv4;
using shoal::hc::TargetKey;

using shoal::test::lines_text;

namespace {

// Lines 1-4 a port; 5-13 the web service on .100 (forwarding at line 9); 14-19 echo on .101.
std::string config(const std::string& web_mode, const std::string& tail) {
  return R"(ports:
  - name: lan
    device: net_null0
    addresses: [10.0.0.2/24]
services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: )" + web_mode + R"(
    backends:
      - {name: rs1, address: 10.0.0.11, port: 80}
      - {name: rs2, address: 10.0.0.12, port: 80}
      - {name: rs3, address: 10.0.0.13, port: 80}
  - name: echo
    vip: 10.0.0.101
    port: 7
    protocol: udp
    forwarding: dr
    backends: [{name: rs1, address: 10.0.0.11}]
)" + tail;
}


Config loaded(const std::string& text) {
  LoadResult r = load_config_string(text, "t.yaml");
  INFO(lines_text(r.errors));
  REQUIRE(r.config);
  return *r.config;
}

}  // namespace

TEST_CASE("bgp config: paths, defaults and mistakes on their lines", "[bgp][config]") {
  SECTION("absent: off") { CHECK_FALSE(loaded(config("dr", "")).bgp.enabled); }
  SECTION("empty: on, with the default paths") {
    const Config c = loaded(config("dr", "bgp:\n"));
    CHECK(c.bgp.enabled);
    CHECK(c.bgp.socket == "/run/bird/bird.ctl");
    CHECK(c.bgp.file == "/run/shoal/bird-vips.conf");
  }
  SECTION("paths given") {
    const Config c = loaded(config("dr", "bgp: {socket: /run/b.ctl, file: /run/v.conf}\n"));
    CHECK(c.bgp.socket == "/run/b.ctl");
    CHECK(c.bgp.file == "/run/v.conf");
  }
  SECTION("relative paths and unknown keys") {
    const LoadResult r = load_config_string(
        config("dr", "bgp:\n  socket: bird.ctl\n  file: /run/dir/\n  sokcet: /x\n"), "t.yaml");
    INFO(lines_text(r.errors));
    CHECK_FALSE(r.config);
    REQUIRE(r.errors.size() == 3);
    CHECK(r.errors[0].rfind("t.yaml:21: ", 0) == 0);
    CHECK(r.errors[0].find("'socket' must be an absolute path") != std::string::npos);
    CHECK(r.errors[1].rfind("t.yaml:22: ", 0) == 0);
    CHECK(r.errors[2].rfind("t.yaml:23: ", 0) == 0);
  }
}

TEST_CASE("bgp config: a NAT service cannot be announced", "[bgp][config]") {
  const LoadResult r =
      load_config_string(config("nat", "bgp: {socket: /run/b.ctl}\n"), "t.yaml");
  INFO(lines_text(r.errors));
  CHECK_FALSE(r.config);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].rfind("t.yaml:9: service 'web': forwarding nat", 0) == 0);
  CHECK(r.errors[0].find("('bgp' at line 20)") != std::string::npos);
  CHECK(r.errors[0].find("real servers' gateway") != std::string::npos);
  // Without bgp the same NAT service is fine.
  CHECK(load_config_string(config("nat", ""), "t.yaml").config);
}

TEST_CASE("bgp offers: a VIP is offered while a service on it takes traffic", "[bgp]") {
  const Config c = loaded(config("dr", "bgp:\n"));
  const uint32_t web = ipv4(10, 0, 0, 100), echo = ipv4(10, 0, 0, 101);
  HealthView health;
  AdminStates admin;
  BgpWithdrawals withdrawn;
  auto offers = [&](std::string_view held = {}) {
    shoal::cp::ServiceQuorums quorums;
    quorums.update(c, health, admin);
    return shoal::cp::offer_vips(c, [&](const std::string& s) { return quorums.up(s); },
                                 withdrawn, held);
  };
  {
    const std::vector<VipOffer> o = offers();
    REQUIRE(o.size() == 2);
    CHECK((o[0].vip == web && o[0].offered && o[0].services == std::vector<std::string>{"web"}));
    CHECK((o[1].vip == echo && o[1].offered));
  }
  SECTION("every real server down or disabled: not offered") {
    health[TargetKey{"web", "rs1"}] = BackendHealth{false, std::nullopt};
    health[TargetKey{"web", "rs2"}] = BackendHealth{false, std::nullopt};
    CHECK(offers()[0].offered);
    admin.set_state(TargetKey{"web", "rs3"}, AdminState::disabled);
    const std::vector<VipOffer> o = offers();
    CHECK_FALSE(o[0].offered);
    CHECK(o[0].why == "no service on it takes traffic");
    CHECK(o[1].offered);
  }
  SECTION("the operator withdraws one VIP, or the director") {
    withdrawn.vips.insert(echo);
    CHECK(offers()[0].offered);
    CHECK_FALSE(offers()[1].offered);
    CHECK(offers()[1].why == "withdrawn");
    withdrawn.director = true;
    CHECK_FALSE(offers()[0].offered);
    CHECK(offers()[0].why == "the director is withdrawn");
  }
  SECTION("held (stopping, resolving): nothing, and why") {
    for (const VipOffer& o : offers("shoald is stopping")) {
      CHECK_FALSE(o.offered);
      CHECK(o.why == "shoald is stopping");
    }
  }
  SECTION("bird's file lists the offered VIPs as static routes") {
    withdrawn.vips.insert(web);
    const std::string text = shoal::cp::bird_routes(offers(), 42);
    CHECK(text.find("route 10.0.0.101/32 blackhole;\n") != std::string::npos);
    CHECK(text.find("10.0.0.100") == std::string::npos);
    CHECK(text.find("pid 42") != std::string::npos);
  }
}

TEST_CASE("bird control socket: replies and show protocols", "[bgp]") {
  // As bird 2.0 writes them: a header (2002), rows (1002), a continued row, the end (0000).
  const std::string reply =
      "0001 BIRD 2.0.12 ready.\n"
      "2002-Name       Proto      Table      State  Since         Info\n"
      "1002-device1    Device     ---        up     00:29:54.417  \n"
      " shoal_vips Static     master4    up     00:29:54.539  \n"
      "1002-uplink     BGP        ---        up     00:30:00.517  Established   \n"
      "1002-backup     BGP        ---        start  2026-12-07 00:30:00  Active        Socket: "
      "Connection refused\n"
      "0000 \n";
  const auto lines = shoal::cp::parse_bird_lines(reply);
  REQUIRE(lines.size() == 7);
  CHECK(lines[0].code == 1);
  CHECK((lines[3].code == 1002 && lines[3].text.rfind("shoal_vips", 0) == 0));
  CHECK(lines.back().code == 0);
  const auto protocols = shoal::cp::parse_bird_protocols(lines);
  REQUIRE(protocols.size() == 4);
  CHECK((protocols[1].name == "shoal_vips" && protocols[1].proto == "Static"));
  CHECK((protocols[2].name == "uplink" && protocols[2].state == "up" &&
         protocols[2].since == "00:30:00.517" && protocols[2].info == "Established"));
  CHECK((protocols[3].state == "start" && protocols[3].since == "2026-12-07 00:30:00" &&
         protocols[3].info == "Active        Socket: Connection refused"));

  shoal::cp::BirdReply r;
  r.lines = shoal::cp::parse_bird_lines("0002-Reading configuration from /etc/bird.conf\n0003 Reconfigured\n");
  CHECK(r.ok());
  CHECK(r.summary() == "Reconfigured");
  r.lines = shoal::cp::parse_bird_lines("9001 /etc/bird.conf:3:1 syntax error\n");
  CHECK_FALSE(r.ok());
  r.lines.clear();
  r.error = "cannot reach bird";
  CHECK_FALSE(r.ok());
  CHECK(r.summary() == "cannot reach bird");
}

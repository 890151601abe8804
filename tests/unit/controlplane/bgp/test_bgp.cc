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
using shoal::cp::IpAddress;
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


// Lines 1-4 a dual-stack port; 5-11 web on 10.0.0.100; 12-18 web6 on fd00::100; from 19 the tail.
std::string config6(const std::string& tail) {
  return R"(ports:
  - name: lan
    device: net_null0
    addresses: [10.0.0.2/24, fd00::2/64]
services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
    backends:
      - {name: rs1, address: 10.0.0.11}
  - name: web6
    vip: fd00::100
    port: 80
    forwarding: dr
    backends:
      - {name: rs1, address: fd00::11}
      - {name: rs2, address: fd00::12}
)" + tail;
}

IpAddress v6(const char* text) {
  const auto a = shoal::cp::parse_ipv6(text);
  REQUIRE(a);
  return IpAddress::from_v6(*a);
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
    CHECK(c.bgp.file6 == "/run/shoal/bird-vips6.conf");
  }
  SECTION("paths given") {
    const Config c = loaded(config("dr", "bgp: {socket: /run/b.ctl, file: /run/v.conf}\n"));
    CHECK(c.bgp.socket == "/run/b.ctl");
    CHECK(c.bgp.file == "/run/v.conf");
    CHECK(c.bgp.file6 == "/run/v6.conf");  // beside `file` unless given
    const Config d = loaded(config("dr", "bgp: {file: /run/v.conf, file6: /var/b/six}\n"));
    CHECK((d.bgp.file == "/run/v.conf" && d.bgp.file6 == "/var/b/six"));
  }
  SECTION("file6's default: '6' before the extension of file's name, or at its end") {
    using shoal::cp::default_bgp_file6;
    CHECK(default_bgp_file6("/run/shoal/bird-vips.conf") == "/run/shoal/bird-vips6.conf");
    CHECK(default_bgp_file6("/etc/bird/vips") == "/etc/bird/vips6");
    CHECK(default_bgp_file6("/etc/bird.d/vips") == "/etc/bird.d/vips6");
    CHECK(default_bgp_file6("/run/.vips") == "/run/.vips6");
    CHECK(default_bgp_file6("/run/a.b.conf") == "/run/a.b6.conf");
  }
  SECTION("file6: relative, a directory, or the IPv4 file") {
    const LoadResult r = load_config_string(
        config("dr", "bgp:\n  file: /run/v.conf\n  file6: v6.conf\n"), "t.yaml");
    INFO(lines_text(r.errors));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0] ==
          "t.yaml:22: 'file6' must be an absolute path of a file (the one bird's config includes "
          "in its IPv6 static protocol), got 'v6.conf'");
    const LoadResult d =
        load_config_string(config("dr", "bgp: {file6: /run/six/}\n"), "t.yaml");
    REQUIRE(d.errors.size() == 1);
    CHECK(d.errors[0].rfind("t.yaml:20: 'file6' must be an absolute path of a file", 0) == 0);
    const LoadResult same = load_config_string(
        config("dr", "bgp:\n  file: /run/v.conf\n  file6: /run/v.conf\n"), "t.yaml");
    REQUIRE(same.errors.size() == 1);
    CHECK(same.errors[0] ==
          "t.yaml:22: 'file6' must differ from 'file' ('/run/v.conf'): bird includes each in a "
          "static protocol of its own family");
    const LoadResult list =
        load_config_string(config("dr", "bgp:\n  file6: [/run/a]\n"), "t.yaml");
    REQUIRE(list.errors.size() == 1);
    CHECK(list.errors[0].rfind("t.yaml:21: ", 0) == 0);
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
  const IpAddress web = IpAddress::from_v4(ipv4(10, 0, 0, 100)),
                  echo = IpAddress::from_v4(ipv4(10, 0, 0, 101));
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

TEST_CASE("bgp with IPv6 VIPs: offered as IPv4 ones are, in a file of their own", "[bgp][ipv6]") {
  const LoadResult r = load_config_string(config6("bgp: {file: /run/l/v.conf}\n"), "t.yaml");
  INFO(lines_text(r.errors) + lines_text(r.warnings));
  REQUIRE(r.config);
  CHECK(r.warnings.empty());  // announced: nothing to warn about
  const Config& c = *r.config;
  HealthView health;
  AdminStates admin;
  BgpWithdrawals withdrawn;
  auto offers = [&] {
    shoal::cp::ServiceQuorums quorums;
    quorums.update(c, health, admin);
    return shoal::cp::offer_vips(c, [&](const std::string& s) { return quorums.up(s); },
                                 withdrawn);
  };
  const IpAddress web = IpAddress::from_v4(ipv4(10, 0, 0, 100)), web6 = v6("fd00::100");
  {
    const std::vector<VipOffer> o = offers();
    REQUIRE(o.size() == 2);
    CHECK((o[0].vip == web && o[0].offered));
    CHECK((o[1].vip == web6 && o[1].offered && o[1].services == std::vector<std::string>{"web6"}));
    CHECK(shoal::cp::bird_routes(o, 7) ==
          "# Written by shoald (pid 7): the IPv4 VIPs this director offers. bird's config "
          "includes this\n# file in a static protocol (ipv4); shoald rewrites it and asks bird "
          "to reconfigure.\n"
          "route 10.0.0.100/32 blackhole;\n");
    CHECK(shoal::cp::bird_routes(o, 7, true) ==
          "# Written by shoald (pid 7): the IPv6 VIPs this director offers. bird's config "
          "includes this\n# file in a static protocol (ipv6); shoald rewrites it and asks bird "
          "to reconfigure.\n"
          "route fd00::100/128 blackhole;\n");
  }
  SECTION("down below quorum: withdrawn, the IPv4 VIP stays") {
    health[TargetKey{"web6", "rs1"}] = BackendHealth{false, std::nullopt};
    CHECK(offers()[1].offered);
    health[TargetKey{"web6", "rs2"}] = BackendHealth{false, std::nullopt};
    const std::vector<VipOffer> o = offers();
    CHECK((o[0].offered && !o[1].offered));
    CHECK(o[1].why == "no service on it takes traffic");
    CHECK(shoal::cp::bird_routes(o, 7, true).find("route") == std::string::npos);
    CHECK(shoal::cp::bird_routes(o, 7).find("route 10.0.0.100/32 blackhole;\n") !=
          std::string::npos);
  }
  SECTION("the operator withdraws the IPv6 VIP") {
    withdrawn.vips.insert(web6);
    const std::vector<VipOffer> o = offers();
    CHECK((o[0].offered && !o[1].offered && o[1].why == "withdrawn"));
    CHECK(shoal::cp::bird_routes(o, 7, true).find("fd00::100") == std::string::npos);
  }
  SECTION("the IPv4 file never holds an IPv6 VIP, nor the IPv6 file an IPv4 one") {
    withdrawn.vips.insert(web);
    const std::vector<VipOffer> o = offers();
    CHECK(shoal::cp::bird_routes(o, 7).find("route") == std::string::npos);
    CHECK(shoal::cp::bird_routes(o, 7, true).find("route fd00::100/128 blackhole;\n") !=
          std::string::npos);
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
  // A name wider than its column (bird pads to 10) pushes the rest of its row right.
  const auto six = shoal::cp::parse_bird_protocols(shoal::cp::parse_bird_lines(
      "1002-shoal_vips6 Static     master6    up     00:29:54.539  \n"
      "1002-uplink6    BGP        ---        up     00:30:01.002  Established   \n"
      "0000 \n"));
  REQUIRE(six.size() == 2);
  CHECK((six[0].name == "shoal_vips6" && six[0].proto == "Static" && six[0].table == "master6"));
  CHECK((six[1].name == "uplink6" && six[1].proto == "BGP" && six[1].info == "Established"));

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

// The admin states' JSON form (controlplane/api/admin_state.cc): what the state directory keeps
// across restarts reads back as it was written, a bad document is refused whole with a reason,
// and what is read back follows the reload rule (retain) against the config it meets.
#include <catch2/catch.hpp>

#include "api/admin_state.h"
#include "config/config.h"
#include "controlplane/web_config.h"

#include <string>

using shoal::cp::AdminState;
using shoal::cp::AdminStates;
using shoal::cp::admin_states_from_json;
using shoal::cp::admin_states_to_json;
using shoal::hc::TargetKey;
using shoal::test::web_config;

namespace {

AdminStates parse(const std::string& text) {
  std::string error;
  auto states = admin_states_from_json(text, error);
  INFO(error);
  REQUIRE(states);
  return *states;
}

std::string refusal(const std::string& text) {
  std::string error;
  CHECK_FALSE(admin_states_from_json(text, error));
  return error;
}

}  // namespace

TEST_CASE("admin states: JSON round trip", "[admin_state]") {
  AdminStates a;
  a.set_state(TargetKey{"web", "rs1"}, AdminState::draining);
  a.set_state(TargetKey{"web", "rs3"}, AdminState::disabled);
  a.set_weight(TargetKey{"web", "rs2"}, 9, 3);
  a.set_weight(TargetKey{"echo", "rs1"}, 0, 1);
  a.set_state(TargetKey{"echo", "rs1"}, AdminState::draining);

  const std::string text = admin_states_to_json(a);
  const AdminStates b = parse(text);
  REQUIRE(b.entries().size() == 4);
  CHECK(b.get(TargetKey{"web", "rs1"}).state == AdminState::draining);
  CHECK_FALSE(b.get(TargetKey{"web", "rs1"}).weight);
  CHECK(b.get(TargetKey{"web", "rs3"}).state == AdminState::disabled);
  CHECK(b.get(TargetKey{"web", "rs2"}).state == AdminState::enabled);
  CHECK(b.get(TargetKey{"web", "rs2"}).weight == 9u);
  CHECK(b.get(TargetKey{"web", "rs2"}).file_weight == 3u);
  CHECK(b.get(TargetKey{"echo", "rs1"}).state == AdminState::draining);
  CHECK(b.get(TargetKey{"echo", "rs1"}).weight == 0u);
  // The same entries give the same text: the director rewrites the file only on a change.
  CHECK(admin_states_to_json(b) == text);

  SECTION("nothing set is an empty list") {
    const std::string empty = admin_states_to_json(AdminStates{});
    CHECK(empty.find("\"backends\": []") != std::string::npos);
    CHECK(parse(empty).entries().empty());
  }
}

TEST_CASE("admin states: what is read back follows the reload rule", "[admin_state]") {
  AdminStates saved;
  saved.set_state(TargetKey{"web", "rs1"}, AdminState::draining);
  saved.set_weight(TargetKey{"web", "rs2"}, 9, 3);
  saved.set_state(TargetKey{"web", "rs3"}, AdminState::disabled);
  saved.set_state(TargetKey{"gone", "rs1"}, AdminState::disabled);
  const std::string text = admin_states_to_json(saved);

  SECTION("the same config: every backend it has keeps its state") {
    AdminStates a = parse(text);
    a.retain(web_config());
    CHECK(a.entries().size() == 3);
    CHECK(a.get(TargetKey{"web", "rs1"}).state == AdminState::draining);
    CHECK(a.get(TargetKey{"web", "rs2"}).weight == 9u);
    CHECK(a.get(TargetKey{"web", "rs3"}).state == AdminState::disabled);
    CHECK(a.get(TargetKey{"gone", "rs1"}).state == AdminState::enabled);  // no such service
  }
  SECTION("a backend the config lost is forgotten, and a changed file weight wins") {
    AdminStates a = parse(text);
    a.retain(web_config(4, false));
    CHECK(a.entries().size() == 1);
    CHECK(a.get(TargetKey{"web", "rs1"}).state == AdminState::draining);
    CHECK_FALSE(a.get(TargetKey{"web", "rs2"}).weight);
    CHECK(a.get(TargetKey{"web", "rs3"}).state == AdminState::enabled);
  }
}

TEST_CASE("admin states: a bad document is refused whole", "[admin_state]") {
  CHECK(refusal("") == "not JSON");
  CHECK(refusal("{\"version\": 1, \"backends\": [") == "not JSON");
  CHECK(refusal("[]").find("version") != std::string::npos);
  CHECK(refusal(R"({"version": 2, "backends": []})").find("version") != std::string::npos);
  CHECK(refusal(R"({"version": 1})") == "no \"backends\" array");
  CHECK(refusal(R"({"version": 1, "backends": {}})") == "no \"backends\" array");
  const std::string good = R"({"service": "web", "backend": "rs1", "state": "draining"})";
  CHECK(parse(R"({"version": 1, "backends": [)" + good + "]}").entries().size() == 1);
  // One bad entry after a good one: nothing of the file is taken.
  const auto with = [&](const std::string& bad) {
    return refusal(R"({"version": 1, "backends": [)" + good + ", " + bad + "]}");
  };
  CHECK(with("7") == "backends[1]: not an object");
  CHECK(with(R"({"service": "web", "state": "draining"})").find("strings") != std::string::npos);
  CHECK(with(R"({"service": "web", "backend": "rs2", "state": "asleep"})")
            .find("enabled, disabled or draining") != std::string::npos);
  CHECK(with(R"({"service": "web", "backend": "rs2", "state": "enabled", "weight": 70000,
                 "file_weight": 1})")
            .find("0..65535") != std::string::npos);
  CHECK(with(R"({"service": "web", "backend": "rs2", "state": "enabled", "weight": -1,
                 "file_weight": 1})")
            .find("0..65535") != std::string::npos);
  CHECK(with(R"({"service": "web", "backend": "rs2", "state": "enabled", "weight": 5})")
            .find("file_weight") != std::string::npos);
}

// Health-check state and scheduling under a fake clock (healthcheck/health_state.*,
// healthcheck/monitor.*): rise and fall counting, initial states, a flapping server damped,
// the time a dead server takes to go down, first checks spread over the interval, fixed-rate
// checks that never overlap, and reloads that keep what remains.
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "healthcheck/health_state.h"
#include "healthcheck/monitor.h"

using shoal::hc::CheckSpec;
using shoal::hc::CheckType;
using shoal::hc::HealthState;
using shoal::hc::Millis;
using shoal::hc::Monitor;
using shoal::hc::ProbeRequest;
using shoal::hc::Target;
using shoal::hc::TargetAddress;
using shoal::hc::TargetKey;
using shoal::hc::TimePoint;
using shoal::hc::Transition;
using shoal::hc::Verdict;

namespace {

class FakeClock final : public shoal::hc::Clock {
 public:
  TimePoint now() const override { return now_; }
  void advance(Millis d) { now_ += d; }
  TimePoint now_{std::chrono::hours(1000)};
};

TargetAddress v6(const char* text) {
  TargetAddress a;
  a.ipv6 = true;
  REQUIRE(inet_pton(AF_INET6, text, a.v6.data()) == 1);
  return a;
}

Target target(const std::string& backend, CheckType type = CheckType::tcp, uint32_t interval_ms = 2000,
              uint32_t timeout_ms = 1000, uint32_t rise = 2, uint32_t fall = 3) {
  Target t;
  t.key = TargetKey{"web", backend};
  t.address = TargetAddress::from_v4(0x0b00000a);  // 10.0.0.11
  t.port = 80;
  t.spec.type = type;
  t.spec.interval_ms = interval_ms;
  t.spec.timeout_ms = timeout_ms;
  t.spec.rise = rise;
  t.spec.fall = fall;
  return t;
}

Verdict pass(const char* detail = "tcp connect ok") {
  Verdict v;
  v.pass = true;
  v.detail = detail;
  return v;
}
Verdict fail(const char* detail = "tcp connect refused") {
  Verdict v;
  v.detail = detail;
  return v;
}

// Runs every probe due now and completes it with `verdict`.
size_t run_due(Monitor& m, const Verdict& verdict) {
  const std::vector<ProbeRequest> due = m.take_due(1'000'000);
  for (const ProbeRequest& p : due) m.complete(p.token, verdict);
  return due.size();
}

}  // namespace

TEST_CASE("health state: rise passes bring a backend up, fall failures take it down",
          "[health]") {
  HealthState s(2, 3, /*initial_up=*/true);
  CHECK(s.up());
  CHECK_FALSE(s.record(false, "http status 503"));
  CHECK_FALSE(s.record(false, "http status 503"));
  CHECK(s.up());
  CHECK(s.failures() == 2);
  const auto down = s.record(false, "http status 503");
  REQUIRE(down);
  CHECK(*down == "http status 503 (3/3)");
  CHECK_FALSE(s.up());
  CHECK_FALSE(s.record(false, "http status 503"));  // already down: no second flip

  CHECK_FALSE(s.record(true, "http status 200"));
  CHECK_FALSE(s.up());
  const auto up = s.record(true, "http status 200");
  REQUIRE(up);
  CHECK(*up == "http status 200 (2/2)");
  CHECK(s.up());
  CHECK(s.passes() == 2);
  CHECK(s.failures() == 0);
  CHECK(s.checks() == 6);

  SECTION("a pass in between restarts the failure count") {
    s.record(false, "x");
    s.record(false, "x");
    s.record(true, "y");
    CHECK_FALSE(s.record(false, "x"));
    CHECK_FALSE(s.record(false, "x"));
    CHECK(s.up());
    CHECK(s.record(false, "x"));
    CHECK_FALSE(s.up());
  }
  SECTION("rise 1 and fall 1 flip at once") {
    HealthState t(1, 1, true);
    CHECK(*t.record(false, "x") == "x (1/1)");
    CHECK(*t.record(true, "y") == "y (1/1)");
  }
}

TEST_CASE("health state: initial states", "[health]") {
  SECTION("down: the first check passing brings it up at once") {
    HealthState s(3, 3, false);
    CHECK_FALSE(s.up());
    const auto up = s.record(true, "tcp connect ok");
    REQUIRE(up);
    CHECK(*up == "tcp connect ok (first check)");
    CHECK(s.up());
  }
  SECTION("down: after a failed first check it needs rise passes") {
    HealthState s(3, 3, false);
    CHECK_FALSE(s.record(false, "tcp connect refused"));
    CHECK_FALSE(s.record(true, "ok"));
    CHECK_FALSE(s.record(true, "ok"));
    CHECK(*s.record(true, "ok") == "ok (3/3)");
  }
  SECTION("up: it stays up until fall failures, even from the first check") {
    HealthState s(2, 2, true);
    CHECK_FALSE(s.record(false, "x"));
    CHECK(s.up());
    CHECK(s.record(false, "x"));
    CHECK_FALSE(s.up());
  }
}

TEST_CASE("health state: a flapping server never flips when rise and fall are at least 2",
          "[health]") {
  for (uint32_t rise : {2u, 3u, 5u})
    for (uint32_t fall : {2u, 3u, 5u})
      for (bool initial_up : {false, true}) {
        INFO("rise " << rise << " fall " << fall << " initial " << (initial_up ? "up" : "down"));
        HealthState s(rise, fall, initial_up);
        s.record(!initial_up, "settle");  // a down start's first pass would count at once
        const bool start = s.up();
        for (int i = 0; i < 1000; ++i) {
          CHECK_FALSE(s.record(i % 2 == 0, "flap"));
          CHECK(s.up() == start);
        }
      }
  SECTION("two passes, one failure: a server that mostly works stays up") {
    HealthState s(2, 2, true);
    for (int i = 0; i < 300; ++i) CHECK_FALSE(s.record(i % 3 != 2, "flap"));
    CHECK(s.up());
  }
  SECTION("with rise 1 and fall 1 it would flip every time") {
    HealthState s(1, 1, true);
    int flips = 0;
    for (int i = 0; i < 10; ++i) flips += s.record(i % 2 == 1, "flap").has_value();
    CHECK(flips == 10);
  }
}

TEST_CASE("health state: new thresholds keep the counts", "[health]") {
  HealthState s(2, 5, true);
  s.record(false, "x");
  s.record(false, "x");
  s.set_thresholds(2, 3);
  CHECK(*s.record(false, "x") == "x (3/3)");
  s.set_thresholds(0, 0);  // clamped to 1
  CHECK(s.rise() == 1);
  CHECK(s.fall() == 1);
}

TEST_CASE("health monitor: a dead server is down within interval x fall + timeout", "[health]") {
  FakeClock clock;
  Monitor m(clock);
  const uint32_t interval = 2000, timeout = 1000, fall = 3;
  m.set_targets({target("rs1", CheckType::tcp, interval, timeout, 2, fall)});
  m.take_transitions();
  // Up first (the first check passes), then the server dies at `died`.
  TimePoint died{};
  TimePoint went_down{};
  bool dead = false;
  for (int ms = 0; ms < 30'000 && went_down == TimePoint{}; ms += 10) {
    if (!dead && m.status({"web", "rs1"})->up && ms > 5000) {
      dead = true;
      died = clock.now();
    }
    // A probe of a dead server times out: its verdict comes `timeout` after it started.
    for (const ProbeRequest& p : m.take_due(100)) {
      if (!dead) {
        m.complete(p.token, pass());
        m.take_transitions();
        continue;
      }
      clock.advance(Millis(timeout));
      m.complete(p.token, fail("tcp timeout after 1000 ms"));
      for (const Transition& t : m.take_transitions()) {
        CHECK_FALSE(t.up);
        CHECK(t.reason == "tcp timeout after 1000 ms (3/3)");
        went_down = clock.now();
      }
      clock.advance(-Millis(timeout));
    }
    clock.advance(Millis(10));
  }
  REQUIRE(dead);
  REQUIRE(went_down != TimePoint{});
  const auto took = std::chrono::duration_cast<Millis>(went_down - died).count();
  CHECK(took <= interval * fall + timeout);
  CHECK(took >= interval * (fall - 1) + timeout);
}

TEST_CASE("health monitor: first checks are spread over interval x spread", "[health]") {
  FakeClock clock;
  const TimePoint start = clock.now();
  for (double spread : {1.0, 0.25, 0.0}) {
    INFO("spread " << spread);
    Monitor m(clock);
    std::vector<Target> targets;
    for (int i = 0; i < 2000; ++i) {
      Target t = target("rs" + std::to_string(i), CheckType::tcp, 2000, 1000);
      t.spec.spread = spread;
      targets.push_back(t);
    }
    m.set_targets(targets);
    std::map<int, int> per_100ms;  // first checks per 100 ms slot
    std::set<TargetKey> seen;
    for (int ms = 0; ms <= 2000; ++ms) {
      for (const ProbeRequest& p : m.take_due(10'000)) {
        // Taken at the first whole millisecond at or after its due time.
        if (seen.insert(p.target->key).second) ++per_100ms[std::max(ms - 1, 0) / 100];
        m.complete(p.token, pass());
      }
      clock.advance(Millis(1));
    }
    clock.now_ = start;
    CHECK(seen.size() == 2000);
    const int window = static_cast<int>(2000 * spread);
    if (window == 0) {
      CHECK(per_100ms.size() == 1);
      CHECK(per_100ms[0] == 2000);
      continue;
    }
    // Every 100 ms slot of the window gets its share (2000 × 100 / window), give or take half.
    const int share = 2000 * 100 / window;
    for (int slot = 0; slot < window / 100; ++slot) {
      INFO("slot " << slot);
      CHECK(per_100ms[slot] > share / 2);
      CHECK(per_100ms[slot] < share * 3 / 2);
    }
    for (const auto& [slot, n] : per_100ms) CHECK(slot < (window + 99) / 100);
  }
  SECTION("the spread is a function of the key: the same on every start") {
    const TargetKey k{"web", "rs1"};
    CHECK(Monitor::spread_fraction(k) == Monitor::spread_fraction(TargetKey{"web", "rs1"}));
    CHECK(Monitor::spread_fraction(k) != Monitor::spread_fraction(TargetKey{"web", "rs2"}));
    CHECK(Monitor::spread_fraction(k) >= 0.0);
    CHECK(Monitor::spread_fraction(k) < 1.0);
  }
}

TEST_CASE("health monitor: checks run at a fixed rate and never overlap", "[health]") {
  FakeClock clock;
  Monitor m(clock);
  Target t = target("rs1", CheckType::http, 1000, 500);
  t.spec.spread = 0;
  m.set_targets({t});
  const TimePoint t0 = clock.now();
  REQUIRE(m.next_due() == t0);

  auto probes = m.take_due(10);
  REQUIRE(probes.size() == 1);
  CHECK(probes[0].target->key == t.key);
  CHECK(m.in_flight() == 1);
  CHECK(m.take_due(10).empty());  // not due again before the interval
  CHECK(m.next_due() == t0 + Millis(1000));

  // A slow verdict does not push the schedule back.
  clock.advance(Millis(400));
  m.complete(probes[0].token, pass());
  clock.advance(Millis(600));
  probes = m.take_due(10);
  REQUIRE(probes.size() == 1);
  CHECK(m.next_due() == t0 + Millis(2000));

  // Still in flight when the next is due (a verdict that never came): that round is skipped.
  clock.advance(Millis(1000));
  CHECK(m.take_due(10).empty());
  CHECK(m.next_due() == t0 + Millis(3000));
  m.complete(probes[0].token, pass());
  clock.advance(Millis(1000));
  CHECK(m.take_due(10).size() == 1);

  SECTION("a loop that fell far behind does not catch up with a burst") {
    clock.advance(Millis(10'500));
    auto late = m.take_due(10);
    CHECK(late.empty());  // the previous probe is still in flight
    CHECK(m.next_due() == clock.now() + Millis(1000));
  }
  SECTION("a stale token is ignored") {
    m.complete(987654, fail());
    CHECK(m.status(t.key)->checks == 2);
  }
}

TEST_CASE("target addresses: the text of either family, equality within a family",
          "[health]") {
  const TargetAddress a4 = TargetAddress::from_v4(0x0b00000a);
  CHECK(to_string(a4) == "10.0.0.11");
  CHECK(host_text(a4) == "10.0.0.11");
  CHECK(endpoint(a4, 80) == "10.0.0.11:80");
  const TargetAddress a6 = v6("fd00::11");
  CHECK(to_string(a6) == "fd00::11");
  CHECK(host_text(a6) == "[fd00::11]");
  CHECK(endpoint(a6, 8080) == "[fd00::11]:8080");
  CHECK(a6 == TargetAddress::from_v6(a6.v6));
  CHECK(a6 != v6("fd00::12"));
  CHECK(a4 != TargetAddress::from_v4(0x0c00000a));
  // ::a00:b holds 10.0.0.11's bytes at its end, and is still another address.
  CHECK(a4 != v6("::a00:b"));
  TargetAddress stray = a4;
  stray.v6 = a6.v6;  // the other family's field does not count
  CHECK(stray == a4);
}

TEST_CASE("health monitor: transitions carry the backend, its state and the reason",
          "[health]") {
  const auto [address, text] = GENERATE(
      std::pair{TargetAddress::from_v4(0x0c00000a), std::string("10.0.0.12:80")},
      std::pair{v6("fd00::12"), std::string("[fd00::12]:80")});
  FakeClock clock;
  Monitor m(clock);
  Target t = target("rs2", CheckType::http, 1000, 500, 2, 3);
  t.spec.spread = 0;
  t.address = address;
  m.set_targets({t});
  const auto initial = m.status(t.key);
  REQUIRE(initial);
  CHECK_FALSE(initial->up);
  CHECK(initial->reason == "initial state down (until the first check passes)");
  CHECK(m.take_transitions().empty());  // the initial state is not a transition

  run_due(m, pass("http status 200"));
  auto ts = m.take_transitions();
  REQUIRE(ts.size() == 1);
  CHECK(ts[0].key == TargetKey{"web", "rs2"});
  CHECK(ts[0].address == address);
  CHECK(ts[0].port == 80);
  CHECK(ts[0].up);
  CHECK(ts[0].state_changed);
  CHECK(ts[0].reason == "http status 200 (first check)");

  for (int i = 0; i < 3; ++i) {
    clock.advance(Millis(1000));
    REQUIRE(run_due(m, fail("http status 503")) == 1);
  }
  ts = m.take_transitions();
  REQUIRE(ts.size() == 1);
  CHECK_FALSE(ts[0].up);
  CHECK(ts[0].reason == "http status 503 (3/3)");
  CHECK(to_string(ts[0]) == "rs2 " + text + " down: http status 503 (3/3)");
  const auto s = m.status(t.key);
  CHECK_FALSE(s->up);
  CHECK(s->failures == 3);
  CHECK(s->checks == 4);
  CHECK(s->reason == "http status 503 (3/3)");
  REQUIRE(s->last);
  CHECK(s->last->detail == "http status 503");
  CHECK(s->last_checked == clock.now());
}

TEST_CASE("health monitor: type none is always up and never probed", "[health]") {
  FakeClock clock;
  Monitor m(clock);
  m.set_targets({target("rs1", CheckType::none)});
  CHECK(m.status({"web", "rs1"})->up);
  CHECK(m.status({"web", "rs1"})->reason == "no health check (type none)");
  CHECK_FALSE(m.next_due());
  clock.advance(Millis(100'000));
  CHECK(m.take_due(10).empty());
  CHECK_FALSE(m.status({"web", "nope"}));
}

TEST_CASE("health monitor: exec output weights", "[health]") {
  FakeClock clock;
  Monitor m(clock);
  Target t = target("rs1", CheckType::exec, 1000, 500, 1, 1);
  t.spec.spread = 0;
  t.spec.initial_up = true;
  m.set_targets({t});
  auto weighted = [](uint32_t w) {
    Verdict v = pass("exec exit status 0");
    v.weight = w;
    return v;
  };
  run_due(m, weighted(7));
  auto ts = m.take_transitions();
  REQUIRE(ts.size() == 1);
  CHECK_FALSE(ts[0].state_changed);
  CHECK(ts[0].up);
  CHECK(ts[0].weight == 7u);
  CHECK(ts[0].reason == "weight 7 from command output");
  CHECK(to_string(ts[0]) == "rs1 10.0.0.11:80 weight 7 from command output");
  clock.advance(Millis(1000));
  run_due(m, weighted(7));
  CHECK(m.take_transitions().empty());  // unchanged
  clock.advance(Millis(1000));
  run_due(m, fail("exec exit status 1"));
  ts = m.take_transitions();
  REQUIRE(ts.size() == 1);
  CHECK(ts[0].state_changed);
  CHECK_FALSE(ts[0].up);
  CHECK_FALSE(ts[0].weight);
  clock.advance(Millis(1000));
  run_due(m, weighted(0));  // up again and drained, in one transition
  ts = m.take_transitions();
  REQUIRE(ts.size() == 1);
  CHECK(ts[0].up);
  CHECK(ts[0].state_changed);
  CHECK(ts[0].weight == 0u);
  CHECK(m.status(t.key)->weight == 0u);
}

TEST_CASE("health monitor: a reload keeps what remains, starts what is new, stops the rest",
          "[health]") {
  FakeClock clock;
  Monitor m(clock);
  Target a = target("a", CheckType::tcp, 1000, 500, 1, 1);
  Target b = target("b", CheckType::tcp, 1000, 500, 1, 1);
  a.spec.spread = b.spec.spread = 0;
  m.set_targets({a, b});
  run_due(m, pass());
  m.take_transitions();
  REQUIRE(m.status(a.key)->up);
  REQUIRE(m.next_due() == clock.now() + Millis(1000));

  // b fails and goes down; its transition is still queued when b is removed.
  clock.advance(Millis(1000));
  auto probes = m.take_due(10);
  REQUIRE(probes.size() == 2);
  for (const ProbeRequest& p : probes)
    if (p.target->key == b.key) m.complete(p.token, fail());
  const uint64_t a_token = probes[0].target->key == a.key ? probes[0].token : probes[1].token;

  Target c = target("c", CheckType::tcp, 1000, 500, 1, 1);
  c.spec.initial_up = true;
  c.spec.spread = 0;
  clock.advance(Millis(100));
  m.set_targets({a, c});
  CHECK(m.size() == 2);
  CHECK_FALSE(m.status(b.key));
  CHECK(m.take_transitions().empty());  // b's went with it
  // a kept its state, its schedule and its probe in flight.
  CHECK(m.status(a.key)->up);
  CHECK(m.current(a_token));
  m.complete(a_token, pass());
  CHECK(m.status(a.key)->checks == 2);
  // c starts in its initial state.
  CHECK(m.status(c.key)->up);
  CHECK(m.status(c.key)->reason == "initial state up");

  SECTION("a changed spec keeps the state but not the probe in flight") {
    clock.advance(Millis(900));
    probes = m.take_due(10);
    REQUIRE(probes.size() == 2);
    Target a2 = a;
    a2.spec.type = CheckType::http;
    m.set_targets({a2, c});
    for (const ProbeRequest& p : probes) {
      CHECK(m.current(p.token) == (p.target->key == c.key));
      m.complete(p.token, fail());  // ignored for a, counted for c
    }
    CHECK(m.status(a.key)->up);
    CHECK(m.status(a.key)->checks == 2);
    CHECK_FALSE(m.status(c.key)->up);
  }
  SECTION("type none brings a down target up at once") {
    clock.advance(Millis(900));
    for (const ProbeRequest& p : m.take_due(10)) m.complete(p.token, fail());
    CHECK_FALSE(m.status(a.key)->up);
    m.take_transitions();
    Target a2 = a;
    a2.spec.type = CheckType::none;
    m.set_targets({a2, c});
    auto ts = m.take_transitions();
    REQUIRE(ts.size() == 1);
    CHECK(ts[0].key == a.key);
    CHECK(ts[0].up);
    CHECK(ts[0].reason == "health check removed (type none)");
    clock.advance(Millis(5000));
    for (const ProbeRequest& p : m.take_due(10)) CHECK(p.target->key == c.key);
  }
  SECTION("a backend that moved to another address (of either family) starts over") {
    const auto [moved, text] =
        GENERATE(std::pair{TargetAddress::from_v4(0x6300000a), std::string("10.0.0.99:80")},
                 std::pair{v6("fd00::99"), std::string("[fd00::99]:80")});
    Target a2 = a;
    a2.address = moved;
    m.set_targets({a2, c});
    auto ts = m.take_transitions();
    REQUIRE(ts.size() == 1);
    CHECK_FALSE(ts[0].up);
    CHECK(ts[0].address == moved);
    CHECK(ts[0].reason ==
          "now " + text + ", initial state down (until the first check passes)");
    CHECK(m.status(a.key)->checks == 0);
    CHECK_FALSE(m.status(a.key)->last);
    for (const ProbeRequest& p : m.take_due(10)) {
      if (p.target->key == a.key) CHECK(p.target->address == moved);
      m.complete(p.token, pass());
    }
    CHECK(m.status(a.key)->up);
  }
  SECTION("a shorter interval pulls the next check in") {
    Target a2 = a;
    a2.spec.interval_ms = 200;
    a2.spec.timeout_ms = 100;
    m.set_targets({a2, c});
    clock.advance(Millis(200));
    bool a_due = false;
    for (const ProbeRequest& p : m.take_due(10)) a_due |= p.target->key == a.key;
    CHECK(a_due);
  }
}

// Notify commands and tracked scripts (controlplane/notify/): words split as keepalived
// splits them, commands run in the background with their output logged line by line, killed
// with their process group at their timeout, dropped past the cap on running commands; the
// rise/fall counting of tracked scripts; and the config keys that hold them.
#include <catch2/catch.hpp>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "controlplane/load_errors.h"
#include "controlplane/web_config.h"
#include "log_capture.h"
#include "notify/command.h"
#include "notify/notifier.h"
#include "notify/runner.h"
#include "notify/script_tracker.h"
#include "vrrp/runner.h"

using shoal::cp::load_config_string;
using shoal::cp::LoadResult;
using shoal::cp::VrrpTrackKind;
using shoal::cp::notify::CommandRunner;
using shoal::cp::notify::Outcome;
using shoal::cp::notify::RiseFall;
using shoal::cp::notify::RunResult;
using shoal::cp::notify::ScriptTracker;
using shoal::cp::notify::split_words;
using shoal::test::LogCapture;

using shoal::test::lines_text;

namespace {

std::vector<std::string> words(const std::string& text) {
  std::string error;
  auto w = split_words(text, error);
  INFO(error);
  REQUIRE(w.has_value());
  return *w;
}

std::string split_error(const std::string& text) {
  std::string error;
  CHECK_FALSE(split_words(text, error).has_value());
  return error;
}

// Polls `runner` until nothing runs or `limit_ms` passed; how long it took.
uint64_t run_until_done(CommandRunner& runner, uint64_t limit_ms) {
  const uint64_t start = shoal::cp::notify::now_ms();
  while (runner.running() > 0 && shoal::cp::notify::now_ms() - start < limit_ms) {
    runner.poll(shoal::cp::notify::now_ms());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return shoal::cp::notify::now_ms() - start;
}


}  // namespace

TEST_CASE("notify words: split as keepalived does, without a shell", "[notify]") {
  CHECK(words("/bin/notify master") == std::vector<std::string>{"/bin/notify", "master"});
  CHECK(words("  a \t b  ") == std::vector<std::string>{"a", "b"});
  CHECK(words(R"(/bin/sh -c 'echo "$1" > /tmp/x')") ==
        std::vector<std::string>{"/bin/sh", "-c", R"(echo "$1" > /tmp/x)"});
  CHECK(words(R"(say "two words" 'and three words')") ==
        std::vector<std::string>{"say", "two words", "and three words"});
  CHECK(words(R"(a"b c"d)") == std::vector<std::string>{"ab cd"});
  CHECK(words(R"(empty "" arg)") == std::vector<std::string>{"empty", "", "arg"});
  CHECK(words(R"(esc\ aped "q\"uote" 'no\escape')") ==
        std::vector<std::string>{"esc aped", "q\"uote", "no\\escape"});
  CHECK(words("").empty());
  CHECK(split_error("say \"open") == "unterminated double quote");
  CHECK(split_error("say 'open") == "unterminated single quote");
  CHECK(split_error("ends\\").find("backslash") != std::string::npos);
  std::string error;
  CHECK_FALSE(shoal::cp::notify::parse_command("   ", error).has_value());
  CHECK(error.find("empty") != std::string::npos);
}

TEST_CASE("notify runner: output logged line by line, exit status reported", "[notify]") {
  LogCapture log;
  CommandRunner runner;
  std::vector<RunResult> results;
  auto collect = [&](const RunResult& r) { results.push_back(r); };
  const uint64_t now = shoal::cp::notify::now_ms();
  REQUIRE(runner.start("notify t1", {"/bin/sh", "-c", "echo one; echo two; echo oops >&2; printf tail"},
                       {}, 5000, now, collect));
  REQUIRE(runner.start("notify t2", {"/bin/sh", "-c", "echo \"$SHOAL_X\"; exit 3"},
                       {"SHOAL_X=from env"}, 5000, now, collect));
  // Not found: refused at once, with the reason.
  CHECK_FALSE(runner.start("notify t3", {"/nonexistent/program"}, {}, 5000, now, collect));
  REQUIRE(results.size() == 1);
  CHECK(results[0].outcome == Outcome::failed);
  CHECK(results[0].detail.find("No such file") != std::string::npos);
  run_until_done(runner, 5000);
  REQUIRE(results.size() == 3);
  const std::string text = log.text();
  INFO(text);
  CHECK(text.find("info notify t1 stdout: one\n") != std::string::npos);
  CHECK(text.find("info notify t1 stdout: two\n") != std::string::npos);
  CHECK(text.find("info notify t1 stderr: oops\n") != std::string::npos);
  CHECK(text.find("info notify t1 stdout: tail\n") != std::string::npos);  // no newline at the end
  CHECK(text.find("notify t2 stdout: from env\n") != std::string::npos);
  CHECK(text.find("warning notify t2: exit status 3") != std::string::npos);
  CHECK(text.find("notify t1: exit") == std::string::npos);  // a clean exit is not a warning
  int ok = 0, failed = 0;
  for (const RunResult& r : results) (r.outcome == Outcome::ok ? ok : failed) += 1;
  CHECK(ok == 1);
  CHECK(failed == 2);
}

TEST_CASE("notify runner: a command that hangs is killed with its process group", "[notify]") {
  LogCapture log;
  CommandRunner runner;
  std::vector<RunResult> results;
  char pidfile[] = "/tmp/shoal-notify-test-XXXXXX";
  const int fd = ::mkstemp(pidfile);
  REQUIRE(fd >= 0);
  ::close(fd);
  // The grandchild sleeps too: it must die with the command.
  const std::string script =
      std::string("sleep 30 & echo $! > ") + pidfile + "; echo started; wait";
  const uint64_t start = shoal::cp::notify::now_ms();
  REQUIRE(runner.start("notify hang", {"/bin/sh", "-c", script}, {}, 300, start,
                       [&](const RunResult& r) { results.push_back(r); }));
  const uint64_t took = run_until_done(runner, 5000);
  REQUIRE(results.size() == 1);
  CHECK(results[0].outcome == Outcome::timeout);
  CHECK(took >= 290);
  CHECK(took < 2000);
  pid_t grandchild = 0;
  std::ifstream(pidfile) >> grandchild;
  ::unlink(pidfile);
  REQUIRE(grandchild > 0);
  // Dead once killed: gone, or a zombie if whatever adopted it does not reap.
  auto dead = [](pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_field, comm, state;
    if (!(stat >> pid_field >> comm >> state)) return true;
    return state == "Z";
  };
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = dead(grandchild);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(gone);
  const std::string text = log.text();
  INFO(text);
  CHECK(text.find("notify hang stdout: started") != std::string::npos);
  CHECK(text.find("warning notify hang: killed after 0.3 s (its timeout)") != std::string::npos);
}

TEST_CASE("notify runner: past the cap, commands are dropped; output past its cap is not logged",
          "[notify]") {
  LogCapture log;
  CommandRunner runner(2);
  std::vector<Outcome> outcomes;
  auto collect = [&](const RunResult& r) { outcomes.push_back(r.outcome); };
  const uint64_t now = shoal::cp::notify::now_ms();
  CHECK(runner.start("a", {"sleep", "0.2"}, {}, 5000, now, collect));
  CHECK(runner.start("b", {"sleep", "0.2"}, {}, 5000, now, collect));
  CHECK_FALSE(runner.start("c", {"sleep", "0.2"}, {}, 5000, now, collect));
  REQUIRE(outcomes == std::vector<Outcome>{Outcome::dropped});
  CHECK(log.text().find("warning c: not run: 2 commands are running already") != std::string::npos);
  run_until_done(runner, 5000);
  CHECK(outcomes.size() == 3);

  // 100,000 lines of 9 bytes: the first 16 KiB are logged, the rest counted.
  REQUIRE(runner.start("chatty", {"/bin/sh", "-c", "yes 12345678 | head -n 100000"}, {}, 10000,
                       shoal::cp::notify::now_ms(), collect));
  run_until_done(runner, 10000);
  REQUIRE(outcomes.size() == 4);
  CHECK(outcomes.back() == Outcome::ok);
  const std::string text = log.text();
  std::size_t logged = 0;
  for (std::size_t at = 0; (at = text.find("chatty stdout: 12345678", at)) != std::string::npos; ++at)
    ++logged;
  CHECK(logged == CommandRunner::kMaxLoggedBytes / 8);
  CHECK(text.find("bytes of output not logged") != std::string::npos);
}

TEST_CASE("notify: the generic command gets the event's arguments; runs are counted",
          "[notify]") {
  LogCapture log;
  shoal::cp::notify::Notifier notifier;
  notifier.configure(300, 8);
  std::string error;
  const auto cmd = shoal::cp::notify::parse_command("/bin/sh -c 'echo \"$@\"; exit 1' notify", error);
  REQUIRE(cmd);
  notifier.fire(*cmd, {"INSTANCE", "vi_1", "MASTER", "150"}, {}, "vrrp instance vi_1 MASTER");
  notifier.fire(shoal::cp::notify::Command{}, {"ignored"}, {}, "nothing configured");
  notifier.fire(*shoal::cp::notify::parse_command("sleep 5", error), {}, {}, "slow");
  run_until_done(notifier.runner(), 3000);
  const std::string text = log.text();
  INFO(text);
  CHECK(text.find("notify vrrp instance vi_1 MASTER: running /bin/sh -c") != std::string::npos);
  CHECK(text.find("stdout: INSTANCE vi_1 MASTER 150") != std::string::npos);
  CHECK(text.find("nothing configured") == std::string::npos);
  CHECK(notifier.runs()[static_cast<std::size_t>(Outcome::failed)] == 1);
  CHECK(notifier.runs()[static_cast<std::size_t>(Outcome::timeout)] == 1);
  CHECK(notifier.runs()[static_cast<std::size_t>(Outcome::ok)] == 0);
}

TEST_CASE("tracked scripts: rise and fall count consecutive results", "[notify][vrrp]") {
  RiseFall s(2, 3);
  CHECK(s.ok());  // ok until it has failed `fall` times
  CHECK_FALSE(s.record(false));
  CHECK_FALSE(s.record(false));
  CHECK_FALSE(s.record(true));  // the streak of failures starts again
  CHECK_FALSE(s.record(false));
  CHECK_FALSE(s.record(false));
  CHECK(s.record(false));
  CHECK_FALSE(s.ok());
  CHECK_FALSE(s.record(true));
  CHECK_FALSE(s.record(false));
  CHECK_FALSE(s.record(true));
  CHECK(s.record(true));
  CHECK(s.ok());
  RiseFall once(1, 1);
  CHECK(once.record(false));
  CHECK(once.record(true));
}

TEST_CASE("tracked scripts: run every interval, their exit status makes their state",
          "[notify][vrrp]") {
  LogCapture log;
  CommandRunner runner;
  ScriptTracker tracker(runner);
  char flag[] = "/tmp/shoal-script-test-XXXXXX";
  const int fd = ::mkstemp(flag);
  REQUIRE(fd >= 0);
  ::close(fd);
  shoal::cp::VrrpScriptConfig c;
  c.name = "chk";
  c.command.argv = {"test", "-e", flag};
  c.interval_ms = 50;
  c.timeout_ms = 1000;
  c.fall = 2;
  tracker.configure({c}, shoal::cp::notify::now_ms());
  // Runs the tracker until `done` or 5 s (a loaded machine spawns slowly).
  auto run_until = [&](auto done) {
    const uint64_t end = shoal::cp::notify::now_ms() + 5000;
    while (!done() && shoal::cp::notify::now_ms() < end) {
      tracker.poll(shoal::cp::notify::now_ms());
      runner.poll(shoal::cp::notify::now_ms());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  };
  const ScriptTracker::Script* s = tracker.find("chk");
  REQUIRE(s != nullptr);
  run_until([&] { return s->runs >= 3; });
  CHECK(s->state.ok());
  CHECK(s->runs >= 3);
  CHECK(s->last_exit == 0);
  ::unlink(flag);
  const uint64_t runs_ok = s->runs;
  run_until([&] { return !s->state.ok(); });
  CHECK_FALSE(s->state.ok());
  CHECK(s->runs >= runs_ok + 2);  // fall 2: two failures in a row
  CHECK(s->last_exit == 1);
  CHECK(log.text().find("vrrp script chk: now failing (exit status 1)") != std::string::npos);
  // A reload keeps the state of a script of the same name.
  c.interval_ms = 60;
  tracker.configure({c}, shoal::cp::notify::now_ms());
  CHECK_FALSE(tracker.find("chk")->state.ok());
  tracker.configure({}, shoal::cp::notify::now_ms());
  CHECK(tracker.find("chk") == nullptr);
  run_until_done(runner, 2000);
}

namespace {

const std::string kBase = shoal::test::web_config_head() + R"(    notify_down: /usr/local/bin/page web
    backends:
      - {name: rs1, address: 10.0.0.11}
      - name: rs2
        address: 10.0.0.12
        notify_up: [/bin/echo, "rs2 is up"]
)";  // 15 lines

}  // namespace

TEST_CASE("notify config: every key reaches the model", "[notify][config]") {
  const LoadResult r = load_config_string(kBase + R"(notify: {timeout: 2.5, max_running: 4}
vrrp:
  scripts:
    - name: chk
      command: "pidof nginx"
      interval: 2
      rise: 2
      fall: 3
      weight: -30
    - {name: maint, command: "test ! -e /etc/maint", weight: 0}
  instances:
    - name: front
      vrid: 51
      addresses: [10.0.0.100]
      track:
        scripts: [chk, {name: maint, weight: 20}]
      notify_master: "/bin/sh -c 'echo master > /run/state'"
      notify_backup: /bin/true
      notify: /usr/local/bin/notify
  sync_groups:
    - {name: g, instances: [front], notify_fault: /bin/fault}
)", "t.yaml");
  INFO(lines_text(r.errors));
  REQUIRE(r.config);
  const auto& c = *r.config;
  CHECK(c.notify.timeout_ms == 2500);
  CHECK(c.notify.max_running == 4);
  const auto& web = c.services[0];
  CHECK(web.backends[0].notify_down.argv == std::vector<std::string>{"/usr/local/bin/page", "web"});
  CHECK(web.backends[0].notify_up.empty());
  CHECK(web.backends[1].notify_up.argv == std::vector<std::string>{"/bin/echo", "rs2 is up"});
  CHECK(web.backends[1].notify_down.text == "/usr/local/bin/page web");  // the service's
  REQUIRE(c.vrrp.scripts.size() == 2);
  const auto& chk = c.vrrp.scripts[0];
  CHECK(chk.command.argv == std::vector<std::string>{"pidof", "nginx"});
  CHECK(chk.interval_ms == 2000);
  CHECK(chk.timeout_ms == 2000);  // the interval, when not given
  CHECK(chk.rise == 2);
  CHECK(chk.fall == 3);
  CHECK(chk.weight == -30);
  CHECK(c.vrrp.scripts[1].interval_ms == 1000);  // keepalived's default
  const auto& front = c.vrrp.instances[0];
  REQUIRE(front.tracks.size() == 2);
  CHECK((front.tracks[0].kind == VrrpTrackKind::script && front.tracks[0].weight == -30));
  CHECK(front.tracks[1].weight == 20);  // the track's own weight wins over the script's
  CHECK(front.notify.master.argv ==
        std::vector<std::string>{"/bin/sh", "-c", "echo master > /run/state"});
  CHECK(front.notify.backup.text == "/bin/true");
  CHECK(front.notify.any.text == "/usr/local/bin/notify");
  CHECK(front.notify.fault.empty());
  CHECK(c.vrrp.sync_groups[0].notify.fault.text == "/bin/fault");
  CHECK(shoal::cp::instance_config(c, front, {}).tracks[0].name == "script:chk");
  CHECK(r.warnings.empty());

  const LoadResult unused = load_config_string(
      kBase + "vrrp:\n  instances:\n    - {name: a, vrid: 1, addresses: [10.0.0.100]}\n"
              "  scripts:\n    - {name: lonely, command: /bin/true}\n",
      "t.yaml");
  REQUIRE(unused.config);
  REQUIRE(unused.warnings.size() == 1);
  CHECK(unused.warnings[0] ==
        "t.yaml:20: VRRP script 'lonely' is tracked by no instance: it runs, but changes no priority");

  // Defaults without a `notify:` section.
  const LoadResult d = load_config_string(kBase, "t.yaml");
  REQUIRE(d.config);
  CHECK(d.config->notify.timeout_ms == 10000);
  CHECK(d.config->notify.max_running == 32);
}

TEST_CASE("notify config: mistakes are reported on their line", "[notify][config]") {
  const std::string instance =
      "vrrp:\n  instances:\n    - name: a\n      vrid: 1\n      addresses: [10.0.0.100]\n";  // 16..20
  struct Mistake {
    const char* what;
    std::string tail;  // after kBase (15 lines)
    const char* prefix;
    const char* phrase;
  };
  const Mistake mistakes[] = {
      {"an unterminated quote", instance + "      notify_master: \"/bin/x 'open\"\n", "t.yaml:21: ",
       "'notify_master': unterminated single quote"},
      {"an empty command", instance + "      notify: \"  \"\n", "t.yaml:21: ",
       "'notify': the command is empty"},
      {"a map for a command", instance + "      notify_fault: {a: b}\n", "t.yaml:21: ",
       "'notify_fault' must be a command"},
      {"tracking an unknown script", instance + "      track:\n        scripts: [nope]\n",
       "t.yaml:22: ", "tracks script 'nope', which is not configured"},
      {"a script without a command", instance + "  scripts:\n    - {name: s, interval: 2}\n",
       "t.yaml:22: ", "'command'"},
      {"a script whose timeout outlasts its interval",
       instance + "  scripts:\n    - name: s\n      command: /bin/true\n      interval: 1\n"
                  "      timeout: 3\n",
       "t.yaml:25: ", "its timeout (3 s) is longer than its interval (1 s)"},
      {"two scripts of one name",
       instance + "  scripts:\n    - {name: s, command: /bin/true}\n"
                  "    - {name: s, command: /bin/false}\n",
       "t.yaml:23: ", "duplicate VRRP script name 's' (first at line 22)"},
      {"rise 0", instance + "  scripts:\n    - {name: s, command: /bin/true, rise: 0}\n",
       "t.yaml:22: ", "'rise' 0 is out of range 1..100"},
      {"a backend's notify_up that is not a command",
       "  - name: dns\n    vip: 10.0.0.101\n    port: 53\n    forwarding: dr\n    backends:\n"
       "      - {name: rs1, address: 10.0.0.11, notify_up: []}\n",
       "t.yaml:21: ", "'notify_up' must be a command"},
      {"notify timeout 0", "notify: {timeout: 0}\n", "t.yaml:16: ", "'timeout'"},
  };
  for (const Mistake& m : mistakes) {
    INFO(m.what);
    shoal::test::expect_load_error(kBase + m.tail, m.prefix, m.phrase);
  }
}

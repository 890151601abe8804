// keepalived's vrrp_script: commands run every `interval` whose exit status says whether
// something the director depends on is fine (0: ok). A script turns bad after `fall`
// consecutive failures (non-zero exit, a signal, its timeout, or a start that failed) and good
// again after `rise` consecutive successes; the director feeds that state to the VRRP
// instances tracking it ("script:NAME"), where its weight applies as for any tracked item.
//
// A script counts as ok until it has failed `fall` times, as in keepalived without
// init_fail: a director does not start in fault because its scripts have not run yet.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/vrrp.h"
#include "notify/runner.h"

namespace shoal::cp::notify {

// The rise/fall counting of one script, apart from running it.
class RiseFall {
 public:
  RiseFall(uint32_t rise, uint32_t fall) : rise_(rise), fall_(fall) {}
  // One result; true if the state changed with it.
  bool record(bool success);
  bool ok() const { return ok_; }
  void set_thresholds(uint32_t rise, uint32_t fall) { rise_ = rise, fall_ = fall; }

 private:
  uint32_t rise_, fall_;
  uint32_t streak_ = 0;  // consecutive results against the current state
  bool ok_ = true;
};

class ScriptTracker {
 public:
  struct Script {
    // A new script: ok, first run at `first_run_ms`.
    Script(const VrrpScriptConfig& c, uint64_t first_run_ms)
        : config(c), state(c.rise, c.fall), next_run_ms(first_run_ms) {}

    VrrpScriptConfig config;
    RiseFall state;
    bool running = false;
    uint64_t next_run_ms = 0;
    uint64_t runs = 0;
    std::string last_result = "not run yet";  // "exit status 0", "killed after 2 s (its timeout)", …
    int last_exit = -1;       // exit status of the last run that exited, else -1
  };

  explicit ScriptTracker(CommandRunner& runner) : runner_(runner) {}

  // The scripts of the running config: ones of the same name keep their state (and rise/fall
  // counts), new ones start ok and run at once.
  void configure(const std::vector<VrrpScriptConfig>& scripts, uint64_t now_ms);
  // Starts the scripts that are due and not running.
  void poll(uint64_t now_ms);

  // nullptr if no script has that name.
  const Script* find(const std::string& name) const;
  const std::vector<Script>& scripts() const { return scripts_; }

 private:
  void finished(const std::string& name, const RunResult& r, uint64_t now_ms);

  CommandRunner& runner_;
  std::vector<Script> scripts_;
};

}  // namespace shoal::cp::notify

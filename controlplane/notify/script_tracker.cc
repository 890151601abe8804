#include "notify/script_tracker.h"

#include <sys/wait.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "notify/notifier.h"

namespace shoal::cp::notify {

bool RiseFall::record(bool success) {
  if (success == ok_) {
    streak_ = 0;
    return false;
  }
  if (++streak_ < (ok_ ? fall_ : rise_)) return false;
  ok_ = success;
  streak_ = 0;
  return true;
}

void ScriptTracker::configure(const std::vector<VrrpScriptConfig>& scripts, uint64_t now_ms) {
  std::vector<Script> next;
  for (const VrrpScriptConfig& c : scripts) {
    auto old = std::find_if(scripts_.begin(), scripts_.end(),
                            [&](const Script& s) { return s.config.name == c.name; });
    if (old != scripts_.end()) {
      Script s = std::move(*old);
      s.config = c;
      s.state.set_thresholds(c.rise, c.fall);
      next.push_back(std::move(s));
    } else {
      next.emplace_back(c, now_ms);  // runs at once
    }
  }
  scripts_ = std::move(next);
}

void ScriptTracker::poll(uint64_t now_ms) {
  for (Script& s : scripts_) {
    if (s.running || now_ms < s.next_run_ms) continue;
    s.running = true;
    s.next_run_ms = now_ms + s.config.interval_ms;
    const std::string name = s.config.name;
    // The callback finds its script by name: a reload may have moved or removed it.
    runner_.start(fmt::format("vrrp script {}", name), s.config.command.argv,
                  {"SHOAL_EVENT=vrrp_script", "SHOAL_VRRP_SCRIPT=" + name}, s.config.timeout_ms,
                  now_ms, [this, name](const RunResult& r) { finished(name, r, notify::now_ms()); });
  }
}

void ScriptTracker::finished(const std::string& name, const RunResult& r, uint64_t now_ms) {
  auto it = std::find_if(scripts_.begin(), scripts_.end(),
                         [&](const Script& s) { return s.config.name == name; });
  if (it == scripts_.end()) return;
  Script& s = *it;
  s.running = false;
  ++s.runs;
  s.last_result = r.detail;
  s.last_exit = r.wait_status >= 0 && WIFEXITED(r.wait_status) ? WEXITSTATUS(r.wait_status) : -1;
  // A script that could not even be queued says nothing of what it watches: try again soon.
  if (r.outcome == Outcome::dropped) {
    s.next_run_ms = std::min(s.next_run_ms, now_ms + 100);
    return;
  }
  if (s.state.record(r.outcome == Outcome::ok))
    spdlog::log(s.state.ok() ? spdlog::level::info : spdlog::level::warn,
                "vrrp script {}: now {} ({})", name, s.state.ok() ? "ok" : "failing", r.detail);
}

const ScriptTracker::Script* ScriptTracker::find(const std::string& name) const {
  for (const Script& s : scripts_)
    if (s.config.name == name) return &s;
  return nullptr;
}

}  // namespace shoal::cp::notify

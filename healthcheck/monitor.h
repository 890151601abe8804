// The checker's bookkeeping, free of I/O: every target's health state, when its next check is
// due, which probe is in flight for it, and the transitions not yet taken by the control
// loop. The checker thread (checker.h) drives it with real probes on the steady clock; unit
// tests drive it with a fake clock and made-up verdicts.
//
// Scheduling: a target's first check comes at a fixed fraction of interval × spread after it
// appears (a hash of its key, so that thousands of targets do not fire in the same
// millisecond and a restart spreads them the same way); after that checks run at a fixed rate
// (due + interval), never two at once for one target (timeout < interval; a check still in
// flight when the next is due makes that one skip a round). Not thread-safe: the checker
// serialises access.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "healthcheck/check_spec.h"
#include "healthcheck/health_state.h"

namespace shoal::hc {

// A change the control loop must publish: a backend went up or down, or an exec check's
// output gave it a new weight. Logged by the consumer as `NAME ADDRESS:PORT up|down: REASON`.
struct Transition {
  TargetKey key;
  TargetAddress address;           // the backend's
  uint16_t port = 0;               // the backend's
  bool up = false;                 // the state now
  bool state_changed = true;       // false: only the weight changed (`up` is then unchanged)
  std::string reason;              // "http status 503 (3/3)", "weight 7 from command output"
  std::optional<uint32_t> weight;  // set when the exec output gave a weight other than the last
};

// The transition's log line: "rs2 10.0.0.12:80 down: http status 503 (3/3)" (an IPv6 backend
// as "rs2 [fd00::12]:80 ..."), or for a weight change alone "rs1 10.0.0.11:80 weight 7 from
// command output".
std::string to_string(const Transition& t);

struct TargetStatus {
  CheckType type = CheckType::none;
  bool up = true;
  uint32_t passes = 0;    // consecutive
  uint32_t failures = 0;  // consecutive
  uint64_t checks = 0;
  std::string reason;            // why it is in its state: the last flip, or the initial state
  std::optional<Verdict> last;   // the last check's verdict
  std::optional<TimePoint> last_checked;
  std::optional<uint32_t> weight;  // the last weight an exec check's output gave
};

// A probe to run now. `token` names it to complete() and current().
struct ProbeRequest {
  uint64_t token = 0;
  std::shared_ptr<const Target> target;
};

class Monitor {
 public:
  explicit Monitor(const Clock& clock) : clock_(clock) {}

  // The whole target list (at start and on every reload). Targets that remain keep their
  // state and schedule (a shorter interval pulls the next check in); new ones start in their
  // initial state with their first check spread; removed ones stop and their queued
  // transitions are dropped. A target whose spec changed keeps its state, but a probe in
  // flight for it no longer counts (current() says so; its verdict is ignored). One whose
  // address or check port changed is another server: it starts over in its initial state
  // (a transition if that differs). A change to type none brings the target up at once (a
  // transition); from none to a check it stays up until `fall` failures. The initial state
  // of a new target is not a transition: status() gives it as soon as this returns.
  void set_targets(std::vector<Target> targets);

  // Targets due now, at most `max`; each stays in flight until complete().
  std::vector<ProbeRequest> take_due(size_t max);
  // When take_due() next has something to give, or nullopt if nothing is scheduled.
  std::optional<TimePoint> next_due();

  // A probe's verdict. Ignored if the token is stale (the target was removed or changed).
  void complete(uint64_t token, const Verdict& verdict);
  bool current(uint64_t token) const { return in_flight_.count(token) != 0; }

  std::vector<Transition> take_transitions();
  bool has_transitions() const { return !transitions_.empty(); }
  std::optional<TargetStatus> status(const TargetKey& key) const;
  size_t size() const { return entries_.size(); }
  size_t in_flight() const { return in_flight_.size(); }

  // The fraction of interval × spread after which a new target's first check comes: [0, 1).
  static double spread_fraction(const TargetKey& key);

 private:
  struct Entry {
    Entry(uint64_t id_, std::shared_ptr<const Target> target_)
        : id(id_), target(std::move(target_)),
          state(target->spec.rise, target->spec.fall,
                target->spec.type == CheckType::none || target->spec.initial_up) {}
    uint64_t id = 0;
    std::shared_ptr<const Target> target;
    HealthState state;
    bool scheduled = false;
    TimePoint due{};
    uint64_t seq = 0;    // heap items of an older seq are stale
    uint64_t token = 0;  // probe in flight, or 0
    std::string reason;
    std::optional<Verdict> last;
    std::optional<TimePoint> last_checked;
    std::optional<uint32_t> weight;
  };
  struct Due {
    TimePoint at;
    uint64_t id;
    uint64_t seq;
    bool operator>(const Due& o) const { return at > o.at; }
  };

  void schedule(Entry& e, TimePoint at);
  void unschedule(Entry& e);
  void drop_probe(Entry& e);
  void emit(const Entry& e, bool state_changed, std::string reason,
            std::optional<uint32_t> weight);

  const Clock& clock_;
  std::unordered_map<TargetKey, Entry, TargetKeyHash> entries_;  // references stay valid
  std::unordered_map<uint64_t, Entry*> by_id_;
  std::unordered_map<uint64_t, Entry*> in_flight_;  // token → target
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> heap_;
  std::vector<Transition> transitions_;
  uint64_t next_id_ = 0;
  uint64_t next_token_ = 0;
};

}  // namespace shoal::hc

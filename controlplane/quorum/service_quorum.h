// Whether each service has quorum, as keepalived decides it: the weights of its real (not
// sorry) backends in service add up to at least `quorum: up`, with `hysteresis` against
// flapping. A service below quorum is down: its all_down policy applies, VRRP instances that
// track it see it down, BGP stops offering its VIP, and its quorum notify commands run.
// Kept on the control thread; re-evaluated whenever health, admin states or the config change.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/admin_state.h"
#include "config/config.h"
#include "net/snapshot_builder.h"

namespace shoal::cp {

// The weight a service's backends give it now: each real backend in service counts its
// effective weight (file, operator or check weight; 0 when drained).
uint64_t healthy_weight(const ServiceConfig& svc, const HealthView& health, const AdminStates& admin);

class ServiceQuorums {
 public:
  struct State {
    bool up = true;
    uint64_t weight = 0;  // healthy weight at the last evaluation
  };
  struct Change {
    std::string service;
    bool up = false;
    uint64_t weight = 0;
    uint32_t quorum = 0;
    uint32_t hysteresis = 0;
  };

  // Re-evaluates every service of `config` and returns those whose state changed. A service
  // seen for the first time starts up exactly when its weight reaches its quorum (no
  // hysteresis yet), and is reported only when it starts down. A service that goes from the
  // config is forgotten.
  //   up → down: weight < quorum − hysteresis
  //   down → up: weight ≥ quorum + hysteresis
  std::vector<Change> update(const Config& config, const HealthView& health,
                             const AdminStates& admin);

  // True for a service the last update did not see.
  bool up(std::string_view service) const;
  const State* state(std::string_view service) const;

 private:
  std::map<std::string, State, std::less<>> states_;
};

// The sentence logged for a change, e.g. "service web: quorum lost (healthy weight 1, needs
// 2 - 0)".
std::string describe(const ServiceQuorums::Change& change);

}  // namespace shoal::cp

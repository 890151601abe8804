#include "quorum/service_quorum.h"

#include <fmt/format.h>

namespace shoal::cp {

uint64_t healthy_weight(const ServiceConfig& svc, const HealthView& health,
                        const AdminStates& admin) {
  uint64_t sum = 0;
  for (const BackendConfig& b : svc.backends)
    if (!b.sorry && in_service(svc, b, health, admin)) sum += effective_weight(svc, b, health, admin);
  return sum;
}

std::vector<ServiceQuorums::Change> ServiceQuorums::update(const Config& config,
                                                           const HealthView& health,
                                                           const AdminStates& admin) {
  std::vector<Change> changes;
  std::map<std::string, State, std::less<>> next;
  for (const ServiceConfig& svc : config.services) {
    const uint64_t weight = healthy_weight(svc, health, admin);
    const uint64_t quorum = svc.quorum;
    const uint64_t hysteresis = svc.quorum_hysteresis;
    State s;
    s.weight = weight;
    if (auto it = states_.find(svc.name); it != states_.end()) {
      // Unsigned: quorum − hysteresis cannot go below 0 (the loader keeps hysteresis < quorum).
      s.up = it->second.up ? weight + hysteresis >= quorum : weight >= quorum + hysteresis;
      if (s.up != it->second.up)
        changes.push_back({svc.name, s.up, weight, svc.quorum, svc.quorum_hysteresis});
    } else {
      s.up = weight >= quorum;
      if (!s.up) changes.push_back({svc.name, false, weight, svc.quorum, svc.quorum_hysteresis});
    }
    next.emplace(svc.name, s);
  }
  states_ = std::move(next);
  return changes;
}

bool ServiceQuorums::up(std::string_view service) const {
  const State* s = state(service);
  return s == nullptr || s->up;
}

const ServiceQuorums::State* ServiceQuorums::state(std::string_view service) const {
  auto it = states_.find(service);
  return it == states_.end() ? nullptr : &it->second;
}

std::string describe(const ServiceQuorums::Change& c) {
  if (c.up)
    return fmt::format("service {}: quorum regained (healthy weight {}, needs {} + hysteresis {})",
                       c.service, c.weight, c.quorum, c.hysteresis);
  return fmt::format("service {}: quorum lost (healthy weight {}, needs {} - hysteresis {})",
                     c.service, c.weight, c.quorum, c.hysteresis);
}

}  // namespace shoal::cp

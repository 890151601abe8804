#include "api/admin_state.h"

namespace shoal::cp {

std::string_view to_string(AdminState state) {
  switch (state) {
    case AdminState::enabled: return "enabled";
    case AdminState::disabled: return "disabled";
    case AdminState::draining: return "draining";
  }
  return "?";
}

std::optional<AdminState> parse_admin_state(std::string_view text) {
  for (AdminState s : {AdminState::enabled, AdminState::disabled, AdminState::draining})
    if (text == to_string(s)) return s;
  return std::nullopt;
}

BackendAdmin AdminStates::get(const hc::TargetKey& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? BackendAdmin{} : it->second;
}

void AdminStates::set_state(const hc::TargetKey& key, AdminState state) {
  BackendAdmin& a = entries_[key];
  a.state = state;
  if (a.state == AdminState::enabled && !a.weight) entries_.erase(key);
}

void AdminStates::set_weight(const hc::TargetKey& key, uint32_t weight, uint32_t file_weight) {
  BackendAdmin& a = entries_[key];
  a.weight = weight;
  a.file_weight = file_weight;
}

void AdminStates::retain(const Config& config) {
  std::map<hc::TargetKey, BackendAdmin> kept;
  for (const ServiceConfig& s : config.services)
    for (const BackendConfig& b : s.backends) {
      hc::TargetKey key{s.name, b.name};
      auto it = entries_.find(key);
      if (it == entries_.end()) continue;
      BackendAdmin a = it->second;
      if (a.weight && a.file_weight != b.weight) a.weight.reset();
      if (a.state != AdminState::enabled || a.weight) kept.emplace(std::move(key), a);
    }
  entries_ = std::move(kept);
}

}  // namespace shoal::cp

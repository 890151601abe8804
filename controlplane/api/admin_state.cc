#include "api/admin_state.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

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

namespace {

constexpr int kFormatVersion = 1;
constexpr uint32_t kMaxWeight = 65535;

using nlohmann::json;

// An unsigned integer member no larger than kMaxWeight, or nullopt.
std::optional<uint32_t> weight_member(const json& entry, const char* name) {
  const auto it = entry.find(name);
  if (it == entry.end() || !it->is_number_unsigned() || it->get<uint64_t>() > kMaxWeight)
    return std::nullopt;
  return it->get<uint32_t>();
}

}  // namespace

std::string admin_states_to_json(const AdminStates& states) {
  json backends = json::array();
  for (const auto& [key, admin] : states.entries()) {
    json entry = {{"service", key.service},
                  {"backend", key.backend},
                  {"state", std::string(to_string(admin.state))}};
    if (admin.weight) {
      entry["weight"] = *admin.weight;
      entry["file_weight"] = admin.file_weight;
    }
    backends.push_back(std::move(entry));
  }
  return json{{"version", kFormatVersion}, {"backends", std::move(backends)}}.dump(2) + "\n";
}

std::optional<AdminStates> admin_states_from_json(std::string_view text, std::string& error) {
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) {
    error = "not JSON";
    return std::nullopt;
  }
  if (!doc.is_object() || doc.value("version", json()) != json(kFormatVersion)) {
    error = fmt::format("not an object with \"version\": {}", kFormatVersion);
    return std::nullopt;
  }
  const auto backends = doc.find("backends");
  if (backends == doc.end() || !backends->is_array()) {
    error = "no \"backends\" array";
    return std::nullopt;
  }
  AdminStates states;
  for (std::size_t i = 0; i < backends->size(); ++i) {
    const json& e = (*backends)[i];
    const auto bad = [&](std::string_view why) {
      error = fmt::format("backends[{}]: {}", i, why);
      return std::nullopt;
    };
    if (!e.is_object()) return bad("not an object");
    const json service = e.value("service", json()), backend = e.value("backend", json());
    if (!service.is_string() || !backend.is_string())
      return bad("\"service\" and \"backend\" must be strings");
    const json state_text = e.value("state", json());
    const std::optional<AdminState> state =
        state_text.is_string() ? parse_admin_state(state_text.get<std::string>()) : std::nullopt;
    if (!state) return bad("\"state\" must be enabled, disabled or draining");
    const hc::TargetKey key{service.get<std::string>(), backend.get<std::string>()};
    if (e.contains("weight") || e.contains("file_weight")) {
      const std::optional<uint32_t> weight = weight_member(e, "weight");
      const std::optional<uint32_t> file_weight = weight_member(e, "file_weight");
      if (!weight || !file_weight)
        return bad("\"weight\" and \"file_weight\" must both be integers in 0..65535");
      states.set_weight(key, *weight, *file_weight);
    }
    states.set_state(key, *state);
  }
  return states;
}

}  // namespace shoal::cp

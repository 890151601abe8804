// What the operator has said of a backend at run time, apart from its health: enabled,
// disabled (out of the Maglev table, its flows rescheduled) or draining (weight 0: keeps its
// flows, takes no new ones), and a weight that overrides the file's.
//
// The control loop owns it (cp only). It survives health transitions, and a reload keeps the
// entries of backends that remain (same service and backend name), so that a backend drained
// for maintenance does not come back because someone reloaded. A weight override is dropped
// when the reload changes that backend's weight in the file: the file is then the newer word.
//
// It also outlives shoald: the director saves it as JSON in its state directory after every
// change and loads it at start-up, through the same retain() a reload applies.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "healthcheck/check_spec.h"
#include "config/config.h"

namespace shoal::cp {

enum class AdminState : uint8_t { enabled, disabled, draining };

std::string_view to_string(AdminState state);
std::optional<AdminState> parse_admin_state(std::string_view text);

struct BackendAdmin {
  AdminState state = AdminState::enabled;
  std::optional<uint32_t> weight;  // overrides the file's weight; 0..65535
  uint32_t file_weight = 0;        // the file's weight when `weight` was set
};

class AdminStates {
 public:
  // The entry of a backend, or the default (enabled, no override).
  BackendAdmin get(const hc::TargetKey& key) const;
  void set_state(const hc::TargetKey& key, AdminState state);
  void set_weight(const hc::TargetKey& key, uint32_t weight, uint32_t file_weight);

  // After a reload: forgets backends `config` no longer has, and weight overrides whose
  // backend's weight in the file changed.
  void retain(const Config& config);

  const std::map<hc::TargetKey, BackendAdmin>& entries() const { return entries_; }

 private:
  std::map<hc::TargetKey, BackendAdmin> entries_;  // only backends that differ from the default
};

// The entries as one JSON document, the same text for the same entries:
//   {"version": 1, "backends": [{"service": "web", "backend": "rs2", "state": "draining",
//                                "weight": 5, "file_weight": 1}, ...]}
// ("weight" and "file_weight" only with a weight override).
std::string admin_states_to_json(const AdminStates& states);
// Reads what admin_states_to_json() wrote; nullopt, with the reason in `error`, if `text` is
// not such a document (one bad entry refuses it all). Backends are not checked against any
// config: retain() does that.
std::optional<AdminStates> admin_states_from_json(std::string_view text, std::string& error);

}  // namespace shoal::cp

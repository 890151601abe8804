#include "healthcheck/health_state.h"

#include <fmt/format.h>

#include <algorithm>

namespace shoal::hc {

HealthState::HealthState(uint32_t rise, uint32_t fall, bool initial_up)
    : rise_(std::max(rise, 1u)), fall_(std::max(fall, 1u)), up_(initial_up) {}

std::optional<std::string> HealthState::record(bool pass, std::string_view detail) {
  const bool first = first_;
  first_ = false;
  ++checks_;
  if (pass) {
    failures_ = 0;
    ++passes_;
    if (up_) return std::nullopt;
    if (first) {
      up_ = true;
      return fmt::format("{} (first check)", detail);
    }
    if (passes_ < rise_) return std::nullopt;
    up_ = true;
    return fmt::format("{} ({}/{})", detail, passes_, rise_);
  }
  passes_ = 0;
  ++failures_;
  if (!up_ || failures_ < fall_) return std::nullopt;
  up_ = false;
  return fmt::format("{} ({}/{})", detail, failures_, fall_);
}

void HealthState::set_thresholds(uint32_t rise, uint32_t fall) {
  rise_ = std::max(rise, 1u);
  fall_ = std::max(fall, 1u);
}

bool HealthState::force_up() {
  const bool was_down = !up_;
  up_ = true;
  passes_ = failures_ = 0;
  return was_down;
}

}  // namespace shoal::hc

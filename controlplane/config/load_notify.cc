// `notify:` (how commands run) and the notify commands other sections hold. A command is a
// string, split into words as keepalived does (notify/command.h: no shell unless written),
// or a list of words taken as they are.
#include "config/loader.h"
#include "notify/command.h"

namespace shoal::cp::config_loader {
namespace {

constexpr std::string_view kNotifyKeys[] = {"timeout", "max_running"};
constexpr uint32_t kMaxNotifyTimeoutMs = 3600 * 1000;
constexpr uint64_t kMaxNotifyRunning = 1024;

}  // namespace

void Loader::parse_notify(const Field& field) {
  Map m(*this, field.value, field.line, "'notify'", kNotifyKeys);
  if (!m.ok()) return;
  if (const Field* f = m.get("timeout"))
    if (auto x = seconds(*f, 1, kMaxNotifyTimeoutMs)) config_.notify.timeout_ms = *x;
  if (const Field* f = m.get("max_running"))
    if (auto x = integer(*f, 1, kMaxNotifyRunning)) config_.notify.max_running = static_cast<uint32_t>(*x);
}

std::optional<notify::Command> Loader::notify_command(const Field& f) {
  std::string why;
  if (f.value.IsScalar()) {
    if (auto c = notify::parse_command(f.value.Scalar(), why)) return c;
    error(f.line, fmt::format("'{}': {} in {}", f.key, why, quoted(f.value.Scalar())));
    return std::nullopt;
  }
  if (f.value.IsSequence() && f.value.size() > 0) {
    notify::Command c;
    for (const auto& item : f.value) {
      if (!item.IsScalar()) {
        error(line_of(item, f.line),
              fmt::format("each '{}' word must be a string, got {}", f.key, describe(item)));
        return std::nullopt;
      }
      c.argv.push_back(item.Scalar());
      c.text += (c.text.empty() ? "" : " ") + item.Scalar();
    }
    if (!c.argv[0].empty()) return c;
  }
  error(f.line, fmt::format("'{}' must be a command (a string, split into words as keepalived "
                            "does, run without a shell) or a non-empty list of words starting "
                            "with the program, got {}",
                            f.key,
                            !f.value.IsSequence() ? describe(f.value)
                            : f.value.size() == 0 ? "an empty list"
                                                  : "an empty program"));
  return std::nullopt;
}

void Loader::vrrp_notify_commands(const Map& m, VrrpNotifyConfig& n) {
  const std::pair<std::string_view, notify::Command*> keys[] = {{"notify_master", &n.master},
                                                                {"notify_backup", &n.backup},
                                                                {"notify_fault", &n.fault},
                                                                {"notify_stop", &n.stop},
                                                                {"notify", &n.any}};
  for (const auto& [key, command] : keys)
    if (const Field* f = m.get(key))
      if (auto c = notify_command(*f)) *command = std::move(*c);
}

}  // namespace shoal::cp::config_loader

// The directory where shoald keeps what outlives it (--state-dir; systemd's StateDirectory=
// makes it /var/lib/shoal): the operator's admin states, in admin-state.json.
//
// The control loop owns it (cp only). Nothing kept here may stop shoald from starting or
// serving: a corrupt file is ignored with a warning, and a directory that cannot be written
// is logged as an error and the states apply in memory only.
#pragma once

#include <string>

#include "api/admin_state.h"
#include "config/config.h"

namespace shoal::cp {

class StateDir {
 public:
  static constexpr const char* kAdminStateFile = "admin-state.json";

  explicit StateDir(std::string path);

  const std::string& path() const { return path_; }
  std::string admin_state_path() const { return path_ + "/" + kAdminStateFile; }

  // At start-up, before the first Snapshot: the admin states the last run saved, kept for the
  // backends `config` has by the rule a reload follows (AdminStates::retain). A missing file
  // gives none; one that cannot be read or parsed gives none, with a warning.
  AdminStates load_admin(const Config& config);

  // Writes `states` whole (a temporary file renamed over the old one) unless the file already
  // holds them, creating the directory (0750) if it is missing. On failure logs an error, once
  // until a save succeeds again, and returns false.
  bool save_admin(const AdminStates& states);

 private:
  std::string path_;
  std::string saved_;  // what admin-state.json holds, as last read or written
  bool failure_logged_ = false;
};

}  // namespace shoal::cp

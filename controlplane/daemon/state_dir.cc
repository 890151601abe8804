#include "daemon/state_dir.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "daemon/files.h"

namespace shoal::cp {

namespace fs = std::filesystem;

namespace {

// `path` as a directory: its parents as the umask allows, itself 0750. One that exists keeps
// its mode.
bool make_directory(const std::string& path, std::string& error) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return true;
  const fs::path parent = fs::path(path).parent_path();
  ec.clear();
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (!ec && ::mkdir(path.c_str(), 0750) != 0) ec.assign(errno, std::generic_category());
  if (!ec) return true;
  error = fmt::format("{}: cannot create the directory: {}", path, ec.message());
  return false;
}

}  // namespace

StateDir::StateDir(std::string path)
    : path_(std::move(path)), saved_(admin_states_to_json(AdminStates{})) {}

AdminStates StateDir::load_admin(const Config& config) {
  const std::string file = admin_state_path();
  std::error_code ec;
  if (!fs::exists(file, ec) && !ec) return {};  // a first start, or nothing was ever changed
  saved_.clear();  // whatever is there, the next save replaces it
  const std::optional<std::string> text = read_file(file);
  if (!text) {
    spdlog::warn("{}: cannot read ({}); starting with every backend enabled", file,
                 ec ? ec.message() : "cannot open");
    return {};
  }
  std::string error;
  std::optional<AdminStates> states = admin_states_from_json(*text, error);
  if (!states) {
    spdlog::warn("{}: ignored, {}; starting with every backend enabled", file, error);
    return {};
  }
  const std::size_t saved = states->entries().size();
  states->retain(config);
  saved_ = *text;
  if (saved > 0)
    spdlog::info("admin states of {} backend(s) restored from {}{}", states->entries().size(),
                 file,
                 saved == states->entries().size()
                     ? ""
                     : fmt::format(" ({} no longer in the config, or overridden by its weight)",
                                   saved - states->entries().size()));
  return std::move(*states);
}

bool StateDir::save_admin(const AdminStates& states) {
  std::string text = admin_states_to_json(states);
  if (text == saved_) return true;
  std::string error;
  if (make_directory(path_, error) && write_file(admin_state_path(), text, error)) {
    if (failure_logged_) spdlog::info("admin states saved in {} again", admin_state_path());
    failure_logged_ = false;
    saved_ = std::move(text);
    return true;
  }
  if (!failure_logged_)
    spdlog::error("admin states not saved, they hold until shoald stops: {}", error);
  failure_logged_ = true;
  saved_.clear();  // what the file holds is no longer known: the next save writes it whole
  return false;
}

}  // namespace shoal::cp

// Whole files, read and written by the control loop: the config (a reload, the API's apply)
// and what the state directory keeps.
#pragma once

#include <optional>
#include <string>

namespace shoal::cp {

// The file's bytes, or nullopt if it cannot be opened.
std::optional<std::string> read_file(const std::string& path);

// Whole or not at all: a reader (a reload, an editor, the next start) never sees half a file.
// Writes PATH.shoald-new, then renames it over `path`. On failure says why in `error`.
bool write_file(const std::string& path, const std::string& text, std::string& error);

}  // namespace shoal::cp

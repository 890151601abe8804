// `bgp:` — read in the first pass; in the second, refused beside NAT services.
#include "config/loader.h"

namespace shoal::cp::config_loader {
namespace {

constexpr std::string_view kBgpKeys[] = {"socket", "file", "file6"};

// A file bird's config includes: an absolute path, not a directory.
bool file_path_ok(const std::string& s) { return !s.empty() && s.front() == '/' && s.back() != '/'; }

}  // namespace

void Loader::parse_bgp(const Field& field) {
  BgpSettings& b = config_.bgp;
  b.enabled = true;
  bgp_line_ = field.line;
  // `bgp: {}` (or an empty key) turns it on with bird's and shoal's default paths.
  if (field.value.IsNull()) return;
  Map m(*this, field.value, field.line, "'bgp'", kBgpKeys);
  if (!m.ok()) return;
  if (const Field* f = m.get("socket"))
    if (auto s = string(*f)) {
      if (s->empty() || s->front() != '/' || s->size() >= 108)
        error(f->line, fmt::format("'socket' must be an absolute path shorter than 108 "
                                   "characters (bird's control socket), got '{}'",
                                   *s));
      else
        b.socket = *s;
    }
  if (const Field* f = m.get("file"))
    if (auto s = string(*f)) {
      if (!file_path_ok(*s))
        error(f->line, fmt::format("'file' must be an absolute path of a file (the one bird's "
                                   "config includes), got '{}'",
                                   *s));
      else
        b.file = *s;
    }
  b.file6 = default_bgp_file6(b.file);
  if (const Field* f = m.get("file6"))
    if (auto s = string(*f)) {
      if (!file_path_ok(*s))
        error(f->line, fmt::format("'file6' must be an absolute path of a file (the one bird's "
                                   "config includes in its IPv6 static protocol), got '{}'",
                                   *s));
      else if (*s == b.file)
        error(f->line, fmt::format("'file6' must differ from 'file' ('{}'): bird includes each "
                                   "in a static protocol of its own family",
                                   *s));
      else
        b.file6 = *s;
    }
}

// Behind ECMP, a NAT service's replies come back through the real servers' gateway, which is
// one director, while the router spreads the requests over all of them: no director would
// hold the state to translate what another one sent. Refused rather than half working.
void Loader::check_bgp() {
  if (!config_.bgp.enabled) return;
  for (std::size_t i = 0; i < config_.services.size(); ++i) {
    const ServiceConfig& s = config_.services[i];
    const ServiceRec& r = services_[i];
    if (!r.mode_ok || s.forwarding != dp::ForwardMode::nat) continue;
    error(r.mode_line,
          fmt::format("{}: forwarding nat cannot be announced by BGP ('bgp' at line {}): behind "
                      "ECMP the replies return through the real servers' gateway, not through "
                      "the director that translated the request; use dr or tun",
                      r.name_ok ? fmt::format("service '{}'", s.name) : "service", bgp_line_));
  }
}

}  // namespace shoal::cp::config_loader

namespace shoal::cp {

std::string default_bgp_file6(const std::string& file) {
  const std::size_t slash = file.rfind('/');
  const std::size_t dot = file.rfind('.');
  // A dot that starts the name ("/run/.vips") is no extension.
  if (dot == std::string::npos || (slash != std::string::npos && dot <= slash + 1))
    return file + "6";
  return file.substr(0, dot) + "6" + file.substr(dot);
}

}  // namespace shoal::cp

// `bgp:` — read in the first pass; in the second, refused beside NAT services.
#include "config/loader.h"

namespace shoal::cp::config_loader {
namespace {

constexpr std::string_view kBgpKeys[] = {"socket", "file"};

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
      if (s->empty() || s->front() != '/' || s->back() == '/')
        error(f->line, fmt::format("'file' must be an absolute path of a file (the one bird's "
                                   "config includes), got '{}'",
                                   *s));
      else
        b.file = *s;
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

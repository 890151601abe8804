// `bgp:` — the VIPs this director offers are announced by BGP through bird2 (bgp/announcer.h):
// shoald writes them into files that bird's config includes, one per family, and asks bird, on
// its control socket, to reconfigure. shoald never speaks BGP itself.
#pragma once

#include <string>

namespace shoal::cp {

struct BgpSettings {
  bool enabled = false;
  std::string socket = "/run/bird/bird.ctl";     // bird's control socket
  std::string file = "/run/shoal/bird-vips.conf";  // `route VIP/32 blackhole;` lines, for bird
  // `route VIP/128 blackhole;` lines: a static protocol holds one family (its channel), so the
  // IPv6 VIPs go into a file of their own. Default: beside `file`, "6" before its extension.
  std::string file6 = "/run/shoal/bird-vips6.conf";

  bool operator==(const BgpSettings&) const = default;
};

// `file` with "6" before its extension (the last '.' of its last component), or at its end.
std::string default_bgp_file6(const std::string& file);

}  // namespace shoal::cp

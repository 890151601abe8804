// `bgp:` — the VIPs this director offers are announced by BGP through bird2 (bgp/announcer.h):
// shoald writes them into a file that bird's config includes and asks bird, on its control
// socket, to reconfigure. shoald never speaks BGP itself.
#pragma once

#include <string>

namespace shoal::cp {

struct BgpSettings {
  bool enabled = false;
  std::string socket = "/run/bird/bird.ctl";     // bird's control socket
  std::string file = "/run/shoal/bird-vips.conf";  // `route VIP/32 blackhole;` lines, for bird

  bool operator==(const BgpSettings&) const = default;
};

}  // namespace shoal::cp

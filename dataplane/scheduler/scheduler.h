// How a service picks the backend of a new flow: weighted Maglev (the default) or one of
// LVS's schedulers, under the names ipvsadm gives them. Every scheduler picks among the
// service's candidates: its backends that take new flows (healthy, enabled, weight > 0), in
// config order. Flows already pinned keep their backend whatever the scheduler.
#pragma once

#include <cstdint>
#include <string_view>

namespace shoal::dp {

enum class Scheduler : uint8_t {
  maglev,  // weighted Maglev over the 5-tuple (or the source address)
  rr,      // round robin
  wrr,     // weighted round robin (LVS's interleaved sequence)
  lc,      // least connections: active × 256 + inactive
  wlc,     // weighted least connections: (active × 256 + inactive) / weight; LVS's default
  sed,     // shortest expected delay: (active + 1) / weight
  nq,      // never queue: an idle backend if any, else sed
  sh,      // source hashing: 256 buckets shared out by weight, keyed on the client address
  dh,      // destination hashing: 256 buckets, keyed on the destination address
  mh,      // Maglev hashing keyed on the client address (LVS's mh)
};

// A backend a new flow may go to.
struct Candidate {
  uint16_t id;      // stable backend id
  uint32_t weight;  // > 0
};

inline constexpr uint16_t kNoCandidate = 0xffff;

// True for the hashing schedulers: every director with the same config (and, for sh and dh,
// the same backend order) maps a flow to the same backend, so a DR or TUN flow survives a
// failover without connection sync. The others follow each director's own history (a
// cursor, its connection counts): their flows survive a failover only through connection
// sync.
constexpr bool maps_alike_everywhere(Scheduler s) {
  return s == Scheduler::maglev || s == Scheduler::sh || s == Scheduler::dh || s == Scheduler::mh;
}

// The schedulers that read the backends' connection counts.
constexpr bool counts_connections(Scheduler s) {
  return s == Scheduler::lc || s == Scheduler::wlc || s == Scheduler::sed || s == Scheduler::nq;
}

constexpr std::string_view scheduler_name(Scheduler s) {
  switch (s) {
    case Scheduler::maglev: return "maglev";
    case Scheduler::rr: return "rr";
    case Scheduler::wrr: return "wrr";
    case Scheduler::lc: return "lc";
    case Scheduler::wlc: return "wlc";
    case Scheduler::sed: return "sed";
    case Scheduler::nq: return "nq";
    case Scheduler::sh: return "sh";
    case Scheduler::dh: return "dh";
    case Scheduler::mh: return "mh";
  }
  return "?";
}

}  // namespace shoal::dp

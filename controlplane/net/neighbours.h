// The neighbour tables of the control plane (ARP for IPv4, Neighbour Discovery for IPv6): which MAC answers for each next hop the
// dataplane needs (real servers, gateways, clients of NAT services). Entries the config asks
// for are probed until they answer and re-validated while in use; entries learned from
// traffic age out. Time comes in as an argument, so the state machine runs under a fake
// clock in tests.
#pragma once

#include <rte_ether.h>

#include <cstdint>
#include <map>
#include <vector>

#include "dataplane/ipv6_address.h"

namespace shoal::cp {

struct NeighbourTimers {
  uint32_t probe_interval_ms = 1000;   // between requests while unresolved
  uint32_t reachable_ms = 60'000;      // after an answer, trusted this long without probing
  uint32_t refresh_probes = 3;         // unanswered probes before a known MAC is dropped
  uint32_t learned_lifetime_ms = 300'000;  // learned (not wanted) entries are forgotten after
};

// One state machine for both families, over the address type: uint32_t (IPv4, network
// order) or dp::Ipv6Address.
template <typename Address>
class BasicNeighbours {
 public:
  enum class State : uint8_t { incomplete, reachable, probing, failed };

  struct Entry {
    Address ip{};
    uint16_t port = 0;
    rte_ether_addr mac{};
    State state = State::incomplete;
    bool is_static = false;
    bool wanted = false;  // the config needs it resolved
    uint32_t updated_ms = 0;
    uint32_t next_probe_ms = 0;
    uint32_t unanswered = 0;

    bool resolved() const { return state == State::reachable || state == State::probing; }
  };

  struct Probe {
    Address ip;
    uint16_t port;
  };

  struct Static {
    Address ip;
    uint16_t port;
    rte_ether_addr mac;
  };

  explicit BasicNeighbours(NeighbourTimers timers = {}) : timers_(timers) {}

  // The set of addresses the config needs resolved; others stop being probed (but stay
  // while they were learned recently). Static entries are never probed nor aged.
  void set_wanted(const std::vector<Probe>& wanted, uint32_t now_ms);
  void add_static(const Address& ip, uint16_t port, const rte_ether_addr& mac);
  // The config's whole set of static entries (after a reload): those it no longer lists go,
  // or, when the config still needs them resolved, become ordinary entries probed at once;
  // the others are added or get their new MAC and port. Learned entries are left alone.
  // Returns true if the dataplane's view changed.
  bool set_static(const std::vector<Static>& statics, uint32_t now_ms);

  // An ARP packet from `ip` showed its MAC. Returns true if the dataplane's view changed.
  bool learn(const Address& ip, uint16_t port, const rte_ether_addr& mac, uint32_t now_ms);

  // Advances timers: returns the requests to send now, and sets `changed` when an entry
  // was lost (failed or aged out) so that a new Snapshot must be published.
  std::vector<Probe> tick(uint32_t now_ms, bool& changed);

  const Entry* find(const Address& ip) const;
  const std::map<Address, Entry>& entries() const { return entries_; }

 private:
  NeighbourTimers timers_;
  std::map<Address, Entry> entries_;  // by address
};

using Neighbours = BasicNeighbours<uint32_t>;
using Neighbours6 = BasicNeighbours<dp::Ipv6Address>;
extern template class BasicNeighbours<uint32_t>;
extern template class BasicNeighbours<dp::Ipv6Address>;

}  // namespace shoal::cp

#include "net/neighbours.h"

namespace shoal::cp {
namespace {

// Wrap-safe "a is at or after b" for millisecond clocks.
inline bool reached(uint32_t now, uint32_t deadline) { return int32_t(now - deadline) >= 0; }

}  // namespace

template <typename Address>
void BasicNeighbours<Address>::set_wanted(const std::vector<Probe>& wanted, uint32_t now_ms) {
  for (auto& [ip, e] : entries_) e.wanted = false;
  for (const Probe& w : wanted) {
    auto [it, inserted] = entries_.try_emplace(w.ip);
    Entry& e = it->second;
    if (inserted) {
      e.ip = w.ip;
      e.port = w.port;
      e.next_probe_ms = now_ms;  // probe at once
      e.updated_ms = now_ms;
    }
    e.wanted = true;
  }
}

template <typename Address>
void BasicNeighbours<Address>::add_static(const Address& ip, uint16_t port, const rte_ether_addr& mac) {
  Entry& e = entries_[ip];
  e.ip = ip;
  e.port = port;
  e.mac = mac;
  e.state = State::reachable;
  e.is_static = true;
}

template <typename Address>
bool BasicNeighbours<Address>::set_static(const std::vector<Static>& statics, uint32_t now_ms) {
  bool changed = false;
  std::map<Address, const Static*> listed;
  for (const Static& s : statics) listed[s.ip] = &s;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (!e.is_static || listed.count(e.ip)) {
      ++it;
      continue;
    }
    changed = true;
    if (!e.wanted) {
      it = entries_.erase(it);
      continue;
    }
    // A next hop the config still needs: resolved again, from scratch, not with the MAC the
    // file gave.
    e.is_static = false;
    e.state = State::incomplete;
    e.mac = rte_ether_addr{};
    e.updated_ms = now_ms;
    e.next_probe_ms = now_ms;
    e.unanswered = 0;
    ++it;
  }
  for (const Static& s : statics) {
    const Entry* before = find(s.ip);
    changed |= before == nullptr || !before->is_static || before->port != s.port ||
               !rte_is_same_ether_addr(&before->mac, &s.mac);
    add_static(s.ip, s.port, s.mac);
  }
  return changed;
}

template <typename Address>
bool BasicNeighbours<Address>::learn(const Address& ip, uint16_t port, const rte_ether_addr& mac, uint32_t now_ms) {
  auto [it, inserted] = entries_.try_emplace(ip);
  Entry& e = it->second;
  if (e.is_static) return false;
  bool changed = inserted || !e.resolved() || !rte_is_same_ether_addr(&e.mac, &mac) ||
                 e.port != port;
  e.ip = ip;
  e.port = port;
  e.mac = mac;
  e.state = State::reachable;
  e.updated_ms = now_ms;
  e.unanswered = 0;
  e.next_probe_ms = now_ms + timers_.reachable_ms;
  return changed;
}

template <typename Address>
std::vector<typename BasicNeighbours<Address>::Probe> BasicNeighbours<Address>::tick(uint32_t now_ms, bool& changed) {
  std::vector<Probe> probes;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (e.is_static) {
      ++it;
      continue;
    }
    if (!e.wanted) {
      // Learned from traffic (a client of a NAT service): kept while fresh, never probed.
      if (reached(now_ms, e.updated_ms + timers_.learned_lifetime_ms)) {
        changed |= e.resolved();
        it = entries_.erase(it);
      } else {
        ++it;
      }
      continue;
    }
    if (reached(now_ms, e.next_probe_ms)) {
      if (e.state == State::reachable) {
        e.state = State::probing;  // still usable while it is re-validated
        e.unanswered = 0;
      } else if (e.state == State::probing && ++e.unanswered >= timers_.refresh_probes) {
        e.state = State::failed;
        changed = true;
      }
      probes.push_back({e.ip, e.port});
      e.next_probe_ms = now_ms + timers_.probe_interval_ms;
    }
    ++it;
  }
  return probes;
}

template <typename Address>
const typename BasicNeighbours<Address>::Entry* BasicNeighbours<Address>::find(
    const Address& ip) const {
  auto it = entries_.find(ip);
  return it == entries_.end() ? nullptr : &it->second;
}

template class BasicNeighbours<uint32_t>;
template class BasicNeighbours<dp::Ipv6Address>;

}  // namespace shoal::cp

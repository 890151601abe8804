// The VRRP instances of the running config, driven by the director's control loop: it feeds
// them received advertisements, real time and tracked items, and takes back the frames to
// send (advertisements, gratuitous ARPs) and the VIP ownership to publish in the Snapshot.
//
// No packet I/O and no EAL here: frames are queued for the caller (take_frames()), so that the
// caller can publish the new ownership first and announce it second, and so that the runner
// is tested with plain buffers.
#pragma once

#include <rte_ether.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "net/snapshot_builder.h"
#include "vrrp/instance.h"
#include "vrrp/sync_group.h"

namespace shoal::cp {

// VRRP timers want a clock that neither wraps nor jumps: milliseconds, monotonic.
inline uint64_t vrrp_now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// Whether `v` is an IPv6 virtual router: its addresses are IPv6 (all of them: the loader
// refuses a mix).
inline bool is_ipv6(const VrrpInstanceSettings& v) {
  return !v.addresses.empty() && v.addresses.front().is_v6();
}

// The state machine's configuration for `v`: its primary address is its port's first IPv4
// address, or for IPv6 the link-local address of `port_mac` (the port's MAC); its tracks are
// named "service:NAME" and "port:NAME" (see track_name()).
VrrpInstanceConfig instance_config(const Config& config, const VrrpInstanceSettings& v,
                                   const rte_ether_addr& port_mac);
std::string track_name(VrrpTrackKind kind, const std::string& name);

class VrrpRunner {
 public:
  struct Frame {
    std::size_t port = 0;  // config port index
    std::vector<uint8_t> bytes;
  };

  // A state an instance or a sync group entered, for the notify commands: `to` is init when
  // it stopped (keepalived's STOP). A group is master when all its members are, backup when
  // all are, in fault when one is, stopped when all are; in between it keeps its state.
  struct StateEvent {
    bool group = false;
    std::string name;
    VrrpState to = VrrpState::init;
    int priority = 0;  // the instance's; a group's is 0, as keepalived passes
  };

  // `port_macs` is indexed like config.ports. Instances stay in init until start().
  VrrpRunner(const Config& config, std::vector<rte_ether_addr> port_macs);

  void start(uint64_t now_ms);
  // Backups and masters leave: a master announces priority 0, so that a backup takes over
  // after its Skew_Time instead of three missed advertisements.
  void shutdown(uint64_t now_ms);
  // An IPv4 or IPv6 datagram with protocol 112 received on config port `port` (from its IP
  // header).
  void receive(std::size_t port, const uint8_t* ip, std::size_t len, uint64_t now_ms);
  // Timers due by now; cheap when nothing is due.
  void tick(uint64_t now_ms);
  // A tracked item's state (track_name()); unchanged states are ignored.
  void track(const std::string& name, bool ok, uint64_t now_ms);
  uint64_t next_deadline_ms() const;
  // See VrrpInstance::hold_preemption(); applies to every instance.
  void hold_preemption(bool held) {
    for (Member& m : members_) m.instance->hold_preemption(held);
  }

  // Why `next` cannot be applied without a restart, or nullopt: instances may change their
  // priority, preemption, timers, addresses and tracks, not their name, vrid, port, virtual
  // MAC or sync group; instances are neither added nor removed.
  std::optional<std::string> restart_needed(const Config& next) const;
  // Applies `next` (restart_needed(next) was nullopt) to the running instances, which keep
  // their state.
  void reconfigure(const Config& next, uint64_t now_ms);

  // True once after a state change: the ownership changed, publish a Snapshot.
  bool take_changed() {
    const bool c = changed_;
    changed_ = false;
    return c;
  }
  std::vector<Frame> take_frames() { return std::move(frames_); }
  std::vector<StateEvent> take_state_events() { return std::move(events_); }

  VrrpOwnership ownership() const;
  // Whether an instance carries `ip`, and whether this director holds it now.
  bool carries(const IpAddress& ip) const;
  bool holds(const IpAddress& ip) const;
  // MAC to answer ARP or a neighbour solicitation for `ip` with on config port `port`: the
  // instance's virtual MAC on its own port if it uses one, else the port's.
  rte_ether_addr arp_mac(const IpAddress& ip, std::size_t port) const;
  // Whether the port must accept frames to some virtual MAC (it has an instance using one).
  std::vector<rte_ether_addr> virtual_macs(std::size_t port) const;

  // One line per instance (state, priority, adverts, drops, transitions) and one for
  // advertisements no instance took.
  std::vector<std::string> counter_lines() const;

  struct Member {
    VrrpInstanceSettings settings;
    std::unique_ptr<VrrpInstance> instance;
    VrrpState logged = VrrpState::init;  // the state last logged
  };
  const std::vector<Member>& members() const { return members_; }
  const std::array<uint64_t, kVrrpDropCount>& unclaimed_drops() const { return drops_; }
  uint64_t own_adverts() const { return own_adverts_; }

 private:
  Member* member_for(std::size_t port, uint8_t vrid, bool ipv6);
  const Member* carrier(const IpAddress& ip) const;
  void act(Member& m, const VrrpInstance::Actions& actions, uint64_t now_ms);
  void act(Member& m, const VrrpAction& a, uint64_t now_ms);
  void reconcile(uint64_t now_ms);
  void update_group_states();

  int on_link_port(const IpAddress& ip) const;
  // Our own advertisement's source on `port`: its IPv4 addresses, its link-local address.
  bool is_own_address(std::size_t port, const IpAddress& ip) const;

  std::vector<PortConfig> ports_;  // ports change only with a restart
  std::vector<rte_ether_addr> port_macs_;
  std::vector<Member> members_;
  std::vector<std::unique_ptr<VrrpSyncGroup>> groups_;
  std::vector<VrrpState> group_states_;  // parallel to groups_, as last notified
  std::vector<Frame> frames_;
  std::vector<StateEvent> events_;
  bool changed_ = false;
  // Advertisements dropped before any instance saw them (malformed, unknown VRID).
  std::array<uint64_t, kVrrpDropCount> drops_{};
  uint64_t own_adverts_ = 0;  // our own, looped back by the port: ignored
};

}  // namespace shoal::cp

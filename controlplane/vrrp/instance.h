// One VRRPv3 virtual router, for IPv4 or for IPv6: the state machine of RFC 9568 §6.4 (which says
// Active where this code, like keepalived and the operators who read its logs, says master),
// plus keepalived's additions: tracked items that lower the priority or force a fault state,
// a preemption delay, gratuitous ARP bursts and refreshes, and a burst again when a master
// hears another master that ranks below it (a healed split brain).
//
// Pure: time comes in as milliseconds on every call, received advertisements come in parsed
// (vrrp/packet.h), and everything the caller must do comes back as actions, in order. The
// caller owns the I/O: it writes and sends the advertisements (write_advert()), publishes or
// withdraws VIP ownership in the Snapshot, sends the gratuitous ARPs (write_arp_request()
// with sender = target = each address, from source_mac()) or, for IPv6, the unsolicited
// neighbour advertisements that stand for them, logs, and calls tick() by
// next_deadline_ms().
#pragma once

#include <rte_ether.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "vrrp/packet.h"

namespace shoal::cp {

enum class VrrpState : uint8_t { init, backup, master, fault };
inline constexpr std::size_t kVrrpStateCount = 4;
std::string_view name(VrrpState s);

// A tracked item (an interface, a health check, a script: whatever the caller watches).
// keepalived's weights: a negative weight is added to the priority while the item fails, a
// positive one while it is up, and weight 0 puts the instance in fault while it fails.
struct VrrpTrack {
  std::string name;
  int32_t weight = 0;  // -254..254
};

// Defaults are keepalived's (vrrp_instance, vrrp_garp_*) with two exceptions. The virtual
// MAC is on, as RFC 9568 §7.2 has it (keepalived's use_vmac is opt-in). garp_interval_ms:
// keepalived sends a burst back to back (0 ms); spacing the five frames by 100 ms lets one
// survive a switch port that is still coming up.
struct VrrpInstanceConfig {
  std::string name;
  uint8_t vrid = 1;                   // 1..255
  uint8_t priority = 100;             // 1..255; 255 = we own the addresses (RFC 9568 §5.2.4)
  uint16_t advert_interval_cs = 100;  // 1..4095 centiseconds
  bool preempt = true;
  uint32_t preempt_delay_ms = 0;  // see VrrpInstance::receive()
  bool use_virtual_mac = true;    // send from 00:00:5e:00:01:VRID, else the port's MAC
  bool v2_checksum = false;       // send v2-style checksums, and accept them as well as v3
  // Advert source and tie-break: the port's primary IPv4 address, or its IPv6 link-local
  // address (RFC 9568 §5.1.2.1). Its family is the instance's.
  IpAddress primary_ip;
  std::vector<IpAddress> addresses;  // the virtual addresses (VIPs), 1..255, of that family
  uint32_t garp_count = 5;          // gratuitous ARPs per address on becoming master
  uint32_t garp_interval_ms = 100;  // between those
  uint32_t garp_refresh_ms = 0;     // then one every this long while master; 0 = never
  std::vector<VrrpTrack> tracks;
};

// Problems with a config, one sentence each; empty when the instance can run it.
std::vector<std::string> validate(const VrrpInstanceConfig& config);

enum class VrrpActionKind : uint8_t {
  send_advert,    // send an advertisement with `priority` (0: we are leaving)
  become_master,  // take the addresses: publish them as ours
  become_backup,  // release the addresses
  become_fault,   // release the addresses; no advertisements until the fault clears
  become_init,    // release the addresses; stopped
  send_garp,      // one gratuitous ARP (IPv6: unsolicited NA) for each address
  log,            // something an operator should read; no state changed
};
std::string_view name(VrrpActionKind k);

struct VrrpAction {
  VrrpActionKind kind = VrrpActionKind::log;
  uint8_t priority = 0;  // send_advert only
  std::string reason;    // for the log, e.g. "higher priority 150 from 10.0.0.202"
};

struct VrrpCounters {
  uint64_t adverts_sent = 0;      // send_advert actions handed out
  uint64_t adverts_received = 0;  // passed every check and reached the state machine
  std::array<uint64_t, kVrrpDropCount> drops{};
  uint64_t address_list_mismatches = 0;  // processed anyway (RFC 9568 §7.1)
  uint64_t interval_mismatches = 0;      // processed anyway (RFC 9568 §7.1)
  std::array<uint64_t, kVrrpStateCount> transitions{};  // into each state
};

class VrrpInstance {
 public:
  using Actions = std::vector<VrrpAction>;
  static constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

  // `config` must pass validate().
  explicit VrrpInstance(VrrpInstanceConfig config);

  // Startup event: the address owner becomes master at once, others backup.
  Actions start(uint64_t now_ms);
  // Shutdown event: a master sends priority 0 so that a backup takes over after Skew_Time.
  Actions shutdown(uint64_t now_ms);
  // An advertisement parsed by parse_vrrp_advert(). Dropped with a VrrpDrop (counted) when
  // its VRID is not ours, its checksum is v2-style and we are not configured for that, we
  // own the addresses, or we are in init or fault. RFC 9568 §7.1 as published discards an
  // advert that reaches the address owner; a reported erratum proposes only logging it.
  // Otherwise processed as RFC 9568 §6.4.2/§6.4.3 say. Preemption delay (keepalived's
  // preempt_delay): for preempt_delay_ms after start() or the end of a fault, a backup treats
  // a lower-priority master as it would a higher one (resets its timer), so that a director
  // that has just come up does not take over before it is ready; after that, it preempts.
  // A master that hears a master ranking below it (lower priority, or equal and a lower
  // address) answers at once (§6.4.3) and, once per conflict, announces its addresses again
  // with a gratuitous ARP burst.
  Actions receive(const VrrpReceived& rx, uint64_t now_ms);
  // The last router heard from on this VRID (for status pages): its address, the priority
  // it advertised and when.
  struct Peer {
    IpAddress address;  // :: while none was heard
    uint8_t priority = 0;
    uint64_t heard_ms = 0;
  };
  const Peer& last_peer() const { return peer_; }

  // Timers due by `now_ms`: Master_Down_Timer, Adver_Timer, gratuitous ARPs.
  Actions tick(uint64_t now_ms);
  // A tracked item went up or down. Unknown names are ignored.
  Actions track_changed(std::string_view track, bool ok, uint64_t now_ms);

  // A reload: `next` (same vrid; must pass validate()) replaces the config, the state stays.
  // Tracked items keep their state by name (new ones start up). A master whose priority or
  // addresses changed advertises at once (a backup that now ranks higher preempts), and
  // announces its addresses again when they changed.
  Actions reconfigure(VrrpInstanceConfig next, uint64_t now_ms);

  // When tick() has something to do next; kNever when no timer runs.
  uint64_t next_deadline_ms() const;

  // The advertisement frame for a send_advert action, from source_mac(port_mac).
  std::size_t write_advert(uint8_t* out, const rte_ether_addr& port_mac, uint8_t priority) const;
  // Source MAC of advertisements and gratuitous ARPs.
  rte_ether_addr source_mac(const rte_ether_addr& port_mac) const;

  VrrpState state() const { return state_; }
  // Configured priority with the tracked weights applied, in 1..254, or 255 for the owner
  // while no tracked weight applies (RFC 9568 §5.2.4: only the owner uses 255).
  uint8_t priority() const;
  uint16_t master_adver_interval_cs() const { return master_adver_interval_cs_; }
  const VrrpInstanceConfig& config() const { return config_; }
  const VrrpCounters& counters() const { return counters_; }
  // Whether config().tracks[i] is up, as last fed to track_changed().
  bool track_ok(std::size_t i) const { return track_ok_.at(i); }

  // RFC 9568 §6.1, in centiseconds as there.
  static uint32_t skew_time_cs(uint8_t priority, uint16_t master_adver_interval_cs);
  static uint32_t master_down_interval_cs(uint8_t priority, uint16_t master_adver_interval_cs);

  // While held, a backup tolerates a lower-priority master as during the preemption delay:
  // connection sync holds preemption until this director has pulled its peers' flows. A
  // master that disappears is still taken over.
  void hold_preemption(bool held) { preempt_held_ = held; }

  // For VrrpSyncGroup. A held backup whose Master_Down_Timer fires does not become master on
  // its own: it waits, wanting to, until the group promotes it.
  void hold(bool held) { held_ = held; }
  bool wants_master() const { return state_ == VrrpState::backup && ready_; }
  bool own_fault() const;
  Actions promote(uint64_t now_ms, const std::string& reason);
  // Master to backup, announcing priority 0 so that the peer takes over after Skew_Time.
  Actions demote(uint64_t now_ms, const std::string& reason);
  // In fault while another member of the group is.
  Actions set_group_fault(bool fault, uint64_t now_ms, const std::string& reason);

 private:
  void enter(VrrpState s, VrrpActionKind kind, const std::string& reason, Actions& out);
  void send_advert(uint8_t priority, const std::string& reason, Actions& out);
  void startup(uint64_t now_ms, const std::string& reason, Actions& out);
  void to_master(uint64_t now_ms, const std::string& reason, Actions& out);
  void to_backup(uint64_t now_ms, const std::string& reason, Actions& out);
  void update_fault(uint64_t now_ms, const std::string& reason, Actions& out);
  void check_advert_contents(const VrrpReceived& rx, Actions& out);
  void backup_receive(const VrrpReceived& rx, uint64_t now_ms);
  void master_receive(const VrrpReceived& rx, uint64_t now_ms, Actions& out);
  void garp_burst(uint64_t now_ms, const char* why, Actions& out);
  void garp_tick(uint64_t now_ms, Actions& out);
  uint64_t garp_refresh_at(uint64_t now_ms) const;

  VrrpInstanceConfig config_;
  std::vector<IpAddress> sorted_addresses_;  // to compare with received lists
  Peer peer_;
  std::vector<bool> track_ok_;              // parallel to config_.tracks
  VrrpState state_ = VrrpState::init;
  uint16_t master_adver_interval_cs_;
  uint64_t master_down_at_ = kNever;  // backup
  uint64_t advert_at_ = kNever;       // master
  uint64_t garp_at_ = kNever;         // master
  uint32_t garps_left_ = 0;           // of the current burst; then refreshes
  const char* garp_why_ = "";         // the current burst's cause, for the log
  uint64_t conflict_quiet_at_ = 0;    // master: a lower-priority master heard from now on
                                      // is a new conflict, announced with a burst
  uint64_t preempt_after_ = 0;        // lower-priority masters are tolerated until then
  bool held_ = false;
  bool preempt_held_ = false;
  bool ready_ = false;  // held backup whose Master_Down_Timer fired
  bool group_fault_ = false;
  // RFC 9568 §7.1 asks that mismatches be logged, rate-limited: once each time one starts.
  bool addresses_differ_ = false;
  bool interval_differs_ = false;
  VrrpCounters counters_;
};

}  // namespace shoal::cp

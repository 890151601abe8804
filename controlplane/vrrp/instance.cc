#include "vrrp/instance.h"

#include <algorithm>
#include <fmt/format.h>

#include "dataplane/snapshot.h"

namespace shoal::cp {
namespace {

constexpr std::array<std::string_view, kVrrpStateCount> kStateNames = {"init", "backup",
                                                                       "master", "fault"};
constexpr std::array<std::string_view, 7> kActionNames = {
    "send_advert", "become_master", "become_backup", "become_fault",
    "become_init", "send_garp",     "log"};
static_assert(kActionNames.size() == static_cast<std::size_t>(VrrpActionKind::log) + 1);

constexpr uint8_t kOwnerPriority = 255;
constexpr uint64_t kMsPerCs = 10;

// RFC 9568 §6.4.3: addresses compare as unsigned integers in network byte order, which is
// how IpAddress orders its bytes (IPv4 in its mapped form, behind one common prefix).
bool address_greater(const IpAddress& a, const IpAddress& b) { return a > b; }

}  // namespace

std::string_view name(VrrpState s) { return kStateNames[static_cast<std::size_t>(s)]; }
std::string_view name(VrrpActionKind k) { return kActionNames[static_cast<std::size_t>(k)]; }

std::vector<std::string> validate(const VrrpInstanceConfig& c) {
  std::vector<std::string> errors;
  if (c.vrid == 0) errors.push_back("vrid must be 1..255");
  if (c.priority == 0) errors.push_back("priority must be 1..255 (0 is reserved for leaving)");
  if (c.advert_interval_cs == 0 || c.advert_interval_cs > kVrrpMaxIntervalCs)
    errors.push_back("advert interval must be 1..4095 centiseconds");
  if (c.addresses.empty() || c.addresses.size() > kVrrpMaxAddresses)
    errors.push_back("an instance needs 1..255 virtual addresses");
  if (c.primary_ip == IpAddress{})
    errors.push_back("no primary address to send advertisements from");
  for (const IpAddress& a : c.addresses)
    if (a.is_v6() != c.primary_ip.is_v6()) {
      errors.push_back("the virtual addresses and the primary address must be of one family");
      break;
    }
  for (const VrrpTrack& t : c.tracks)
    if (t.weight < -254 || t.weight > 254)
      errors.push_back(fmt::format("weight of tracked '{}' must be -254..254", t.name));
  return errors;
}

uint32_t VrrpInstance::skew_time_cs(uint8_t priority, uint16_t master_adver_interval_cs) {
  return ((256u - priority) * master_adver_interval_cs) / 256u;
}

uint32_t VrrpInstance::master_down_interval_cs(uint8_t priority,
                                               uint16_t master_adver_interval_cs) {
  return 3u * master_adver_interval_cs + skew_time_cs(priority, master_adver_interval_cs);
}

VrrpInstance::VrrpInstance(VrrpInstanceConfig config)
    : config_(std::move(config)),
      sorted_addresses_(config_.addresses),
      track_ok_(config_.tracks.size(), true),
      master_adver_interval_cs_(config_.advert_interval_cs) {
  std::sort(sorted_addresses_.begin(), sorted_addresses_.end());
}

uint8_t VrrpInstance::priority() const {
  int32_t p = config_.priority;
  bool adjusted = false;
  for (std::size_t i = 0; i < track_ok_.size(); ++i) {
    const int32_t w = config_.tracks[i].weight;
    if ((w < 0 && !track_ok_[i]) || (w > 0 && track_ok_[i])) {
      p += w;
      adjusted = true;
    }
  }
  if (p == kOwnerPriority && !adjusted) return kOwnerPriority;
  return static_cast<uint8_t>(std::clamp(p, 1, 254));
}

bool VrrpInstance::own_fault() const {
  for (std::size_t i = 0; i < track_ok_.size(); ++i)
    if (config_.tracks[i].weight == 0 && !track_ok_[i]) return true;
  return false;
}

rte_ether_addr VrrpInstance::source_mac(const rte_ether_addr& port_mac) const {
  return config_.use_virtual_mac ? vrrp_virtual_mac(config_.vrid, config_.primary_ip.is_v6())
                                 : port_mac;
}

std::size_t VrrpInstance::write_advert(uint8_t* out, const rte_ether_addr& port_mac,
                                       uint8_t priority) const {
  const VrrpAdvert advert{config_.vrid, priority, config_.advert_interval_cs, config_.addresses};
  return write_vrrp_advert(out, advert, source_mac(port_mac), config_.primary_ip,
                           config_.v2_checksum ? VrrpChecksum::v2 : VrrpChecksum::v3);
}

uint64_t VrrpInstance::next_deadline_ms() const {
  switch (state_) {
    case VrrpState::backup:
      return master_down_at_;
    case VrrpState::master:
      return std::min(advert_at_, garp_at_);
    default:
      return kNever;
  }
}

void VrrpInstance::enter(VrrpState s, VrrpActionKind kind, const std::string& reason,
                         Actions& out) {
  state_ = s;
  ready_ = false;
  master_down_at_ = advert_at_ = garp_at_ = kNever;
  ++counters_.transitions[static_cast<std::size_t>(s)];
  out.push_back({kind, 0, reason});
}

void VrrpInstance::send_advert(uint8_t priority, const std::string& reason, Actions& out) {
  ++counters_.adverts_sent;
  out.push_back({VrrpActionKind::send_advert, priority, reason});
}

// RFC 9568 §6.4.1, the Startup event.
void VrrpInstance::startup(uint64_t now_ms, const std::string& reason, Actions& out) {
  preempt_after_ = now_ms + config_.preempt_delay_ms;
  if (priority() == kOwnerPriority) {
    to_master(now_ms, reason + ": address owner", out);
  } else {
    master_adver_interval_cs_ = config_.advert_interval_cs;
    to_backup(now_ms, reason, out);
  }
}

// Send an advertisement, announce the addresses, arm the Adver_Timer (RFC 9568 §6.4.2).
void VrrpInstance::to_master(uint64_t now_ms, const std::string& reason, Actions& out) {
  send_advert(priority(), reason, out);
  enter(VrrpState::master, VrrpActionKind::become_master, reason, out);
  advert_at_ = now_ms + uint64_t(config_.advert_interval_cs) * kMsPerCs;
  garp_burst(now_ms, "after becoming master", out);
}

// A burst of garp_count, the first now; with none configured, only the refresh timer runs.
void VrrpInstance::garp_burst(uint64_t now_ms, const char* why, Actions& out) {
  garps_left_ = config_.garp_count;
  garp_why_ = why;
  garp_at_ = garps_left_ > 0 ? now_ms : garp_refresh_at(now_ms);
  garp_tick(now_ms, out);
}

// Master_Down_Timer from the current Master_Adver_Interval (learned or configured).
void VrrpInstance::to_backup(uint64_t now_ms, const std::string& reason, Actions& out) {
  enter(VrrpState::backup, VrrpActionKind::become_backup, reason, out);
  master_down_at_ =
      now_ms + master_down_interval_cs(priority(), master_adver_interval_cs_) * kMsPerCs;
}

void VrrpInstance::update_fault(uint64_t now_ms, const std::string& reason, Actions& out) {
  if (state_ == VrrpState::init) return;  // start() looks again
  const bool fault = own_fault() || group_fault_;
  if (fault && state_ != VrrpState::fault) {
    // keepalived too says goodbye with priority 0, so that the backup need not wait for
    // three missed advertisements.
    if (state_ == VrrpState::master) send_advert(0, reason, out);
    enter(VrrpState::fault, VrrpActionKind::become_fault, reason, out);
  } else if (!fault && state_ == VrrpState::fault) {
    startup(now_ms, reason, out);
  }
}

VrrpInstance::Actions VrrpInstance::start(uint64_t now_ms) {
  Actions out;
  if (state_ != VrrpState::init) return out;
  if (own_fault()) {
    enter(VrrpState::fault, VrrpActionKind::become_fault, "start: a tracked item is down", out);
  } else {
    startup(now_ms, "start", out);
  }
  return out;
}

VrrpInstance::Actions VrrpInstance::shutdown(uint64_t /*now_ms*/) {
  Actions out;
  if (state_ == VrrpState::init) return out;
  if (state_ == VrrpState::master) send_advert(0, "shutdown", out);
  enter(VrrpState::init, VrrpActionKind::become_init, "shutdown", out);
  return out;
}

VrrpInstance::Actions VrrpInstance::receive(const VrrpReceived& rx, uint64_t now_ms) {
  Actions out;
  auto drop = [this](VrrpDrop r) { ++counters_.drops[static_cast<std::size_t>(r)]; };
  if (rx.advert.vrid != config_.vrid) {
    drop(VrrpDrop::unknown_vrid);
  } else if (state_ == VrrpState::init || state_ == VrrpState::fault) {
    drop(VrrpDrop::not_running);
  } else if (rx.v2_checksum && !config_.v2_checksum) {
    drop(VrrpDrop::bad_checksum);
  } else if (priority() == kOwnerPriority) {
    drop(VrrpDrop::we_are_owner);
  } else {
    ++counters_.adverts_received;
    peer_ = Peer{rx.src, rx.advert.priority, now_ms};
    check_advert_contents(rx, out);
    if (state_ == VrrpState::backup)
      backup_receive(rx, now_ms);
    else
      master_receive(rx, now_ms, out);
  }
  return out;
}

// RFC 9568 §7.1: a different interval (SHOULD) or address list (MAY) is logged, and the
// advertisement still processed: the backup learns the master's interval (§6.4.2).
void VrrpInstance::check_advert_contents(const VrrpReceived& rx, Actions& out) {
  const std::string from = to_string(rx.src);
  std::vector<IpAddress> theirs = rx.advert.addresses;
  std::sort(theirs.begin(), theirs.end());
  const bool addresses_differ = theirs != sorted_addresses_;
  if (addresses_differ) ++counters_.address_list_mismatches;
  if (addresses_differ && !addresses_differ_)
    out.push_back({VrrpActionKind::log, 0,
                   fmt::format("address list from {} differs from ours ({} addresses)", from,
                               rx.advert.addresses.size())});
  addresses_differ_ = addresses_differ;

  const bool interval_differs = rx.advert.max_advert_int_cs != config_.advert_interval_cs;
  if (interval_differs) ++counters_.interval_mismatches;
  if (interval_differs && !interval_differs_)
    out.push_back({VrrpActionKind::log, 0,
                   fmt::format("advertisement interval {} cs from {} differs from ours ({} cs)",
                               rx.advert.max_advert_int_cs, from, config_.advert_interval_cs)});
  interval_differs_ = interval_differs;
}

// RFC 9568 §6.4.2, Backup: an ADVERTISEMENT is received.
void VrrpInstance::backup_receive(const VrrpReceived& rx, uint64_t now_ms) {
  const uint8_t theirs = rx.advert.priority;
  if (theirs == 0) {
    // The master is leaving: take over after Skew_Time only.
    if (!ready_)
      master_down_at_ = now_ms + skew_time_cs(priority(), master_adver_interval_cs_) * kMsPerCs;
  } else if (!config_.preempt || theirs >= priority() || now_ms < preempt_after_ ||
             preempt_held_) {
    master_adver_interval_cs_ = rx.advert.max_advert_int_cs;
    master_down_at_ =
        now_ms + master_down_interval_cs(priority(), master_adver_interval_cs_) * kMsPerCs;
    ready_ = false;
  }
  // Else a lower-priority master we preempt: discarded, so its Master_Down_Timer runs out.
}

// RFC 9568 §6.4.3, Master (Active): an ADVERTISEMENT is received.
void VrrpInstance::master_receive(const VrrpReceived& rx, uint64_t now_ms, Actions& out) {
  const uint8_t theirs = rx.advert.priority;
  const uint8_t ours = priority();
  const std::string from = to_string(rx.src);
  if (theirs == 0) {
    send_advert(ours, fmt::format("priority 0 from {}", from), out);
    advert_at_ = now_ms + uint64_t(config_.advert_interval_cs) * kMsPerCs;
  } else if (theirs > ours ||
             (theirs == ours && address_greater(rx.src, config_.primary_ip))) {
    master_adver_interval_cs_ = rx.advert.max_advert_int_cs;
    to_backup(now_ms,
              theirs > ours
                  ? fmt::format("higher priority {} from {}", theirs, from)
                  : fmt::format("equal priority {} from higher address {}", theirs, from),
              out);
  } else {
    // Discarded, and answered at once so that the sender and learning bridges see who is
    // master; the Adver_Timer is left alone.
    send_advert(ours, fmt::format("asserting mastership over priority {} from {}", theirs, from),
                out);
    // Another master (ranking below us) means the two could not hear each other (a split
    // brain that is healing): its gratuitous ARPs may have pointed hosts and bridges at it,
    // and with virtual_mac off its own MAC is in their caches. Announce the addresses again,
    // as keepalived does (garp_lower_prio_repeat). Once per conflict: a peer that keeps
    // advertising (it hears nothing of ours) does not make us burst every interval; a
    // conflict is over after a Master_Down_Interval without one of its advertisements.
    if (now_ms >= conflict_quiet_at_) {
      out.push_back({VrrpActionKind::log, 0,
                     fmt::format("another master, {} with priority {}: announcing the "
                                 "addresses again",
                                 from, theirs)});
      if (config_.garp_count > 0) garp_burst(now_ms, "after hearing another master", out);
    }
    conflict_quiet_at_ =
        now_ms + master_down_interval_cs(ours, config_.advert_interval_cs) * kMsPerCs;
  }
}

VrrpInstance::Actions VrrpInstance::tick(uint64_t now_ms) {
  Actions out;
  if (state_ == VrrpState::backup && master_down_at_ <= now_ms) {
    master_down_at_ = kNever;
    if (held_)
      ready_ = true;
    else
      to_master(now_ms, "master down timer expired", out);
  } else if (state_ == VrrpState::master) {
    if (advert_at_ <= now_ms) {
      send_advert(priority(), "advertisement interval", out);
      advert_at_ = now_ms + uint64_t(config_.advert_interval_cs) * kMsPerCs;
    }
    garp_tick(now_ms, out);
  }
  return out;
}

uint64_t VrrpInstance::garp_refresh_at(uint64_t now_ms) const {
  return config_.garp_refresh_ms > 0 ? now_ms + config_.garp_refresh_ms : kNever;
}

void VrrpInstance::garp_tick(uint64_t now_ms, Actions& out) {
  if (garp_at_ > now_ms) return;
  if (garps_left_ == 0) {
    out.push_back({VrrpActionKind::send_garp, 0, "periodic refresh"});
    garp_at_ = garp_refresh_at(now_ms);
    return;
  }
  out.push_back({VrrpActionKind::send_garp, 0,
                 fmt::format("{}/{} {}", config_.garp_count - garps_left_ + 1,
                             config_.garp_count, garp_why_)});
  --garps_left_;
  garp_at_ = garps_left_ > 0 ? now_ms + config_.garp_interval_ms : garp_refresh_at(now_ms);
}

VrrpInstance::Actions VrrpInstance::track_changed(std::string_view track, bool ok,
                                                  uint64_t now_ms) {
  Actions out;
  const uint8_t before = priority();
  bool changed = false;
  for (std::size_t i = 0; i < track_ok_.size(); ++i) {
    if (config_.tracks[i].name == track && track_ok_[i] != ok) {
      track_ok_[i] = ok;
      changed = true;
    }
  }
  if (!changed) return out;
  const std::string why = fmt::format("tracked '{}' is {}", track, ok ? "up" : "down");
  const uint8_t after = priority();
  if (after != before)
    out.push_back(
        {VrrpActionKind::log, 0, fmt::format("priority {} -> {}: {}", before, after, why)});
  const bool was_master = state_ == VrrpState::master;
  update_fault(now_ms, why, out);
  // Tell the backups at once: one with a higher priority now preempts without waiting.
  if (was_master && state_ == VrrpState::master && after != before) {
    send_advert(after, why, out);
    advert_at_ = now_ms + uint64_t(config_.advert_interval_cs) * kMsPerCs;
  }
  return out;
}

VrrpInstance::Actions VrrpInstance::reconfigure(VrrpInstanceConfig next, uint64_t now_ms) {
  Actions out;
  const uint8_t before = priority();
  const bool addresses_changed = next.addresses != config_.addresses;
  std::vector<bool> ok(next.tracks.size(), true);
  for (std::size_t i = 0; i < next.tracks.size(); ++i)
    for (std::size_t j = 0; j < config_.tracks.size(); ++j)
      if (config_.tracks[j].name == next.tracks[i].name) ok[i] = track_ok_[j];
  config_ = std::move(next);
  track_ok_ = std::move(ok);
  sorted_addresses_ = config_.addresses;
  std::sort(sorted_addresses_.begin(), sorted_addresses_.end());
  if (state_ == VrrpState::init) return out;
  const uint8_t after = priority();
  if (after != before)
    out.push_back({VrrpActionKind::log, 0,
                   fmt::format("priority {} -> {}: reconfigured", before, after)});
  const bool was_master = state_ == VrrpState::master;
  update_fault(now_ms, "reconfigured", out);
  if (was_master && state_ == VrrpState::master && (after != before || addresses_changed)) {
    send_advert(after, "reconfigured", out);
    advert_at_ = now_ms + uint64_t(config_.advert_interval_cs) * kMsPerCs;
    if (addresses_changed) garp_burst(now_ms, "after an address change", out);
  }
  return out;
}

VrrpInstance::Actions VrrpInstance::promote(uint64_t now_ms, const std::string& reason) {
  Actions out;
  if (wants_master()) to_master(now_ms, reason, out);
  return out;
}

VrrpInstance::Actions VrrpInstance::demote(uint64_t now_ms, const std::string& reason) {
  Actions out;
  if (state_ != VrrpState::master) return out;
  send_advert(0, reason, out);
  master_adver_interval_cs_ = config_.advert_interval_cs;
  to_backup(now_ms, reason, out);
  return out;
}

VrrpInstance::Actions VrrpInstance::set_group_fault(bool fault, uint64_t now_ms,
                                                    const std::string& reason) {
  Actions out;
  if (fault == group_fault_) return out;
  group_fault_ = fault;
  update_fault(now_ms, reason, out);
  return out;
}

}  // namespace shoal::cp

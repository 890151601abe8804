// The link between shoald and bird2: the control loop says which VIPs this director offers
// (offer(), cheap, never blocks); a thread of the announcer's own writes them into the files
// bird's config includes (IPv4 and IPv6), asks bird to reconfigure on its control socket, and reads the BGP
// sessions' state from there every second. The control loop never waits on bird: it forwards
// the exception path's frames, BGP and BFD among them, so a bird that is slow to answer must
// not slow them.
//
// What withdraws a dead director is not this class but the session itself: it runs over the
// port's TAP, which vanishes with shoald and stops passing frames when the control loop
// hangs, and the router's BFD then drops the routes. A clean stop withdraws every VIP here
// first (offer nothing, wait for settled()).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bgp/bird_client.h"
#include "bgp/offer.h"
#include "config/bgp.h"

namespace shoal::cp {

class BgpAnnouncer {
 public:
  struct State {
    std::vector<VipOffer> offered;  // as last offered by the control loop
    std::vector<IpAddress> in_bird;  // the VIPs of the files bird last loaded
    bool bird_reachable = false;    // the last command on the socket got an answer
    std::string error;              // the last failure (writing the file, bird's answer)
    std::vector<BirdProtocol> sessions;  // BGP protocols, from the last `show protocols`
    uint64_t reconfigures = 0, failures = 0;
    bool settled = false;  // bird has what was last offered
  };

  // Writes the files with no VIP and asks bird to load them before returning (at most a few
  // seconds, logged if bird does not answer), so that files left by a killed shoald are not
  // announced again when the TAP comes back. Then starts the thread.
  explicit BgpAnnouncer(BgpSettings settings);
  ~BgpAnnouncer();
  BgpAnnouncer(const BgpAnnouncer&) = delete;
  BgpAnnouncer& operator=(const BgpAnnouncer&) = delete;

  // Control loop: what to offer now; bird hears of it only when the offered set changed.
  void offer(std::vector<VipOffer> offers);
  bool settled() const;
  State state() const;
  const BgpSettings& settings() const { return settings_; }

  // The operator's withdrawals: read and written on the control loop only.
  BgpWithdrawals& withdrawals() { return withdrawals_; }
  const BgpWithdrawals& withdrawals() const { return withdrawals_; }

 private:
  void run();
  // What bird is to load: the offered VIPs and the two files' texts.
  struct Files {
    std::vector<IpAddress> vips;
    std::string text, text6;  // for settings_.file and settings_.file6
  };
  static Files files_for(const std::vector<VipOffer>& offers);
  // Writes the files and reconfigures bird; false (with state_.error) if any step failed.
  bool apply(const Files& files);
  void poll_sessions();

  const BgpSettings settings_;
  BgpWithdrawals withdrawals_;  // cp only

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  State state_;                    // guarded by mutex_
  Files wanted_;                   // guarded: the offered VIPs and the files for them
  uint64_t wanted_version_ = 0, applied_version_ = 0;  // guarded
  bool stop_ = false;              // guarded
  std::thread thread_;
};

}  // namespace shoal::cp

// The VRRPv3 state machine (controlplane/vrrp/instance.*, sync_group.*) under a fake
// clock: exact timings of RFC 9568 §6.1 (Master_Down_Interval with Skew_Time), every
// receive rule of §6.4.2/§6.4.3, keepalived's preemption delay, tracking and fault, sync
// groups; and two routers talking through real advertisement frames.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "packet_builder.h"
#include "vrrp/instance.h"
#include "vrrp/sync_group.h"

using namespace shoal::cp;
using Kind = VrrpActionKind;
using Actions = VrrpInstance::Actions;

namespace {

constexpr uint8_t kVrid = 51;
IpAddress ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return IpAddress::from_v4(shoal::dp::ipv4(a, b, c, d));
}

const IpAddress kUs = ipv4(10, 0, 0, 201);
const IpAddress kHigherPeer = ipv4(10, 0, 0, 202);
const IpAddress kLowerPeer = ipv4(10, 0, 0, 200);
const IpAddress kVip = ipv4(10, 0, 0, 100);

// fe80::N and fd00::N.
shoal::dp::Ipv6Address link_local(uint32_t low) {
  shoal::dp::Ipv6Address a{0xfe, 0x80};
  for (int i = 0; i < 4; ++i) a[15 - i] = static_cast<uint8_t>(low >> (8 * i));
  return a;
}
shoal::dp::Ipv6Address fd00(uint32_t low) {
  shoal::dp::Ipv6Address a = link_local(low);
  a[0] = 0xfd;
  a[1] = 0x00;
  return a;
}

VrrpInstanceConfig config(uint8_t priority, IpAddress primary = kUs, uint8_t vrid = kVrid,
                          std::string name = "vi") {
  VrrpInstanceConfig c;
  c.name = std::move(name);
  c.vrid = vrid;
  c.priority = priority;
  c.primary_ip = primary;
  c.addresses = {kVip};
  c.garp_count = 1;  // just the one sent with the transition: no GARP timer in the way
  return c;
}

VrrpReceived advert(IpAddress from, uint8_t priority, uint16_t interval_cs = 100,
                    uint8_t vrid = kVrid, std::vector<IpAddress> addresses = {kVip}) {
  VrrpReceived rx;
  rx.advert = VrrpAdvert{vrid, priority, interval_cs, std::move(addresses)};
  rx.src = from;
  return rx;
}

std::vector<Kind> kinds(const Actions& actions) {
  std::vector<Kind> k;
  for (const VrrpAction& a : actions) k.push_back(a.kind);
  return k;
}

std::vector<Kind> without_logs(const Actions& actions) {
  std::vector<Kind> k = kinds(actions);
  k.erase(std::remove(k.begin(), k.end(), Kind::log), k.end());
  return k;
}

const VrrpAction& find(const Actions& actions, Kind kind) {
  auto it = std::find_if(actions.begin(), actions.end(),
                         [kind](const VrrpAction& a) { return a.kind == kind; });
  REQUIRE(it != actions.end());
  return *it;
}

uint64_t drops(const VrrpInstance& vi, VrrpDrop r) {
  return vi.counters().drops[static_cast<std::size_t>(r)];
}
uint64_t entered(const VrrpInstance& vi, VrrpState s) {
  return vi.counters().transitions[static_cast<std::size_t>(s)];
}

// Ticks at every deadline up to `until`, collecting (time, action).
struct Timed {
  uint64_t at;
  VrrpAction action;
};
std::vector<Timed> run(VrrpInstance& vi, uint64_t from, uint64_t until) {
  std::vector<Timed> out;
  for (uint64_t t = vi.next_deadline_ms(); t <= until && t >= from; t = vi.next_deadline_ms())
    for (VrrpAction& a : vi.tick(t)) out.push_back({t, std::move(a)});
  return out;
}
std::vector<uint64_t> times_of(const std::vector<Timed>& timed, Kind kind) {
  std::vector<uint64_t> t;
  for (const Timed& x : timed)
    if (x.action.kind == kind) t.push_back(x.at);
  return t;
}

// A backup started at `now`, whose master (priority 200) was last heard at `now`.
VrrpInstance backup_with_master(const VrrpInstanceConfig& c, uint64_t now) {
  VrrpInstance vi(c);
  vi.start(now);
  vi.receive(advert(kHigherPeer, 200), now);
  return vi;
}

// A master since `now` (started earlier, its Master_Down_Timer ran out at `now`).
VrrpInstance master_at(const VrrpInstanceConfig& c, uint64_t now) {
  VrrpInstance vi(c);
  vi.start(now - VrrpInstance::master_down_interval_cs(c.priority, c.advert_interval_cs) * 10);
  vi.tick(now);
  REQUIRE(vi.state() == VrrpState::master);
  return vi;
}

}  // namespace

TEST_CASE("vrrp instance: Skew_Time and Master_Down_Interval per RFC 9568 §6.1", "[vrrp]") {
  CHECK(VrrpInstance::skew_time_cs(100, 100) == 60);  // 156 * 100 / 256 = 60.9
  CHECK(VrrpInstance::master_down_interval_cs(100, 100) == 360);
  CHECK(VrrpInstance::skew_time_cs(255, 100) == 0);
  CHECK(VrrpInstance::master_down_interval_cs(254, 100) == 300);
  CHECK(VrrpInstance::master_down_interval_cs(1, 100) == 399);
  CHECK(VrrpInstance::master_down_interval_cs(1, 4095) == 3 * 4095 + 4079);
  CHECK(VrrpInstance::master_down_interval_cs(200, 50) == 150 + 10);
}

TEST_CASE("vrrp instance: init -> backup -> master after Master_Down_Interval", "[vrrp]") {
  VrrpInstance vi(config(100));
  CHECK(vi.state() == VrrpState::init);
  CHECK(vi.next_deadline_ms() == VrrpInstance::kNever);
  CHECK(vi.tick(1'000'000).empty());

  const Actions started = vi.start(1000);
  CHECK(kinds(started) == std::vector<Kind>{Kind::become_backup});
  CHECK(vi.state() == VrrpState::backup);
  CHECK(vi.next_deadline_ms() == 1000 + 3600);  // (3 * 100 + 60) cs
  CHECK(vi.start(1500).empty());                // already running

  CHECK(vi.tick(4599).empty());
  const Actions up = vi.tick(4600);
  CHECK(kinds(up) == std::vector<Kind>{Kind::send_advert, Kind::become_master, Kind::send_garp});
  CHECK(up[0].priority == 100);
  CHECK(find(up, Kind::become_master).reason == "master down timer expired");
  CHECK(vi.state() == VrrpState::master);
  CHECK(entered(vi, VrrpState::backup) == 1);
  CHECK(entered(vi, VrrpState::master) == 1);
  CHECK(vi.counters().adverts_sent == 1);
}

TEST_CASE("vrrp instance: the Master_Down_Interval depends on the priority", "[vrrp]") {
  VrrpInstance high(config(254));
  VrrpInstance low(config(1));
  high.start(0);
  low.start(0);
  CHECK(high.next_deadline_ms() == 3000);
  CHECK(low.next_deadline_ms() == 3990);
}

TEST_CASE("vrrp instance: the address owner is master at once", "[vrrp]") {
  VrrpInstance vi(config(255));
  const Actions a = vi.start(0);
  CHECK(kinds(a) == std::vector<Kind>{Kind::send_advert, Kind::become_master, Kind::send_garp});
  CHECK(a[0].priority == 255);
  CHECK(find(a, Kind::become_master).reason == "start: address owner");
  // RFC 9568 §7.1 as published: the owner discards what others send.
  CHECK(vi.receive(advert(kHigherPeer, 254), 10).empty());
  CHECK(drops(vi, VrrpDrop::we_are_owner) == 1);
  CHECK(vi.state() == VrrpState::master);
}

TEST_CASE("vrrp instance: a master advertises every interval and announces itself", "[vrrp]") {
  VrrpInstanceConfig c = config(100);
  c.advert_interval_cs = 100;
  c.garp_count = 5;
  c.garp_interval_ms = 100;
  VrrpInstance vi = master_at(c, 10'000);

  const std::vector<Timed> timed = run(vi, 10'000, 15'500);
  CHECK(times_of(timed, Kind::send_advert) ==
        std::vector<uint64_t>{11'000, 12'000, 13'000, 14'000, 15'000});
  // The first of the five went out with the transition.
  CHECK(times_of(timed, Kind::send_garp) ==
        std::vector<uint64_t>{10'100, 10'200, 10'300, 10'400});
  CHECK(timed.back().action.priority == 100);
  CHECK(vi.counters().adverts_sent == 6);
}

TEST_CASE("vrrp instance: gratuitous ARP refresh while master", "[vrrp]") {
  VrrpInstanceConfig c = config(100);
  c.garp_count = 2;
  c.garp_interval_ms = 500;
  c.garp_refresh_ms = 60'000;
  VrrpInstance vi = master_at(c, 10'000);
  const std::vector<Timed> timed = run(vi, 10'000, 200'000);
  CHECK(times_of(timed, Kind::send_garp) ==
        std::vector<uint64_t>{10'500, 70'500, 130'500, 190'500});
  auto refresh = std::find_if(timed.begin(), timed.end(),
                              [](const Timed& t) { return t.at == 70'500; });
  CHECK(refresh->action.reason == "periodic refresh");

  c.garp_count = 0;
  VrrpInstance quiet = master_at(c, 10'000);
  CHECK(times_of(run(quiet, 10'000, 80'000), Kind::send_garp) == std::vector<uint64_t>{70'000});
}

TEST_CASE("vrrp instance: a higher-priority advertisement demotes a master", "[vrrp]") {
  VrrpInstance vi = master_at(config(100), 10'000);
  const Actions a = vi.receive(advert(kHigherPeer, 150, 200), 10'500);
  CHECK(kinds(a) == std::vector<Kind>{Kind::log, Kind::become_backup});  // interval differs
  CHECK(find(a, Kind::become_backup).reason == "higher priority 150 from 10.0.0.202");
  CHECK(vi.state() == VrrpState::backup);
  // The master's interval is learned: 3 * 200 + 156 * 200 / 256 = 721 cs.
  CHECK(vi.master_adver_interval_cs() == 200);
  CHECK(vi.next_deadline_ms() == 10'500 + 7210);
  CHECK(vi.counters().adverts_received == 1);
}

TEST_CASE("vrrp instance: equal priority is decided by the higher primary address",
          "[vrrp]") {
  SECTION("a higher address wins") {
    VrrpInstance vi = master_at(config(100), 10'000);
    const Actions a = vi.receive(advert(kHigherPeer, 100), 10'500);
    CHECK(kinds(a) == std::vector<Kind>{Kind::become_backup});
    CHECK(a[0].reason == "equal priority 100 from higher address 10.0.0.202");
  }
  SECTION("a lower address loses, and the master asserts itself at once") {
    VrrpInstance vi = master_at(config(100), 10'000);
    const uint64_t next_advert = vi.next_deadline_ms();
    const Actions a = vi.receive(advert(kLowerPeer, 100), 10'500);
    CHECK(kinds(a) == std::vector<Kind>{Kind::send_advert, Kind::log, Kind::send_garp});
    CHECK(a[0].priority == 100);
    CHECK(vi.state() == VrrpState::master);
    CHECK(vi.next_deadline_ms() == next_advert);  // the Adver_Timer is not reset
  }
  SECTION("addresses compare in network byte order, not as stored") {
    // 9.255.255.255 < 10.0.0.201, though its little-endian word is larger.
    VrrpInstance vi = master_at(config(100), 10'000);
    CHECK(without_logs(vi.receive(advert(ipv4(9, 255, 255, 255), 100), 10'500)) ==
          std::vector<Kind>{Kind::send_advert, Kind::send_garp});
    CHECK(vi.state() == VrrpState::master);
  }
}

TEST_CASE("vrrp instance: a lower-priority advertisement is answered by the master",
          "[vrrp]") {
  VrrpInstance vi = master_at(config(150), 10'000);
  const Actions a = vi.receive(advert(kHigherPeer, 100), 10'300);
  CHECK(without_logs(a) == std::vector<Kind>{Kind::send_advert, Kind::send_garp});
  CHECK(a[0].reason == "asserting mastership over priority 100 from 10.0.0.202");
  CHECK(vi.state() == VrrpState::master);
}

TEST_CASE("vrrp instance: a master that hears a lower-priority master announces itself again",
          "[vrrp]") {
  // A healed split brain: both were master; the other's gratuitous ARPs may still steer the
  // hosts. The winner answers with an advertisement and a fresh burst, once per conflict.
  VrrpInstanceConfig c = config(150);
  c.advert_interval_cs = 10;  // 100 ms; Master_Down_Interval 30 + 106 * 10 / 256 = 34 cs at 150
  c.garp_count = 3;
  c.garp_interval_ms = 100;
  VrrpInstance vi = master_at(c, 10'000);
  run(vi, 10'000, 20'000);  // the burst of becoming master is long over

  const Actions a = vi.receive(advert(kLowerPeer, 100, 10), 20'050);
  CHECK(kinds(a) == std::vector<Kind>{Kind::send_advert, Kind::log, Kind::send_garp});
  CHECK(find(a, Kind::log).reason ==
        "another master, 10.0.0.200 with priority 100: announcing the addresses again");
  CHECK(find(a, Kind::send_garp).reason == "1/3 after hearing another master");
  CHECK(vi.state() == VrrpState::master);

  // The other keeps advertising (it does not hear us): the same conflict, no new burst.
  std::vector<Timed> timed = run(vi, 20'050, 20'120);
  for (uint64_t t = 20'150; t <= 20'750; t += 100) {
    for (VrrpAction& x : vi.receive(advert(kLowerPeer, 100, 10), t)) timed.push_back({t, x});
    for (Timed& x : run(vi, t, t + 99)) timed.push_back(std::move(x));
  }
  std::vector<uint64_t> garps = times_of(timed, Kind::send_garp);
  std::sort(garps.begin(), garps.end());
  CHECK(garps == std::vector<uint64_t>{20'150, 20'250});  // the rest of the one burst

  // Heard again 330 ms after the last: within the 340 ms, the same conflict. Then 420 ms
  // of silence: the next one is a new conflict.
  run(vi, 20'750, 21'070);
  CHECK(kinds(vi.receive(advert(kLowerPeer, 100, 10), 21'080)) ==
        std::vector<Kind>{Kind::send_advert});
  run(vi, 21'080, 21'490);
  CHECK(kinds(vi.receive(advert(kLowerPeer, 100, 10), 21'500)) ==
        std::vector<Kind>{Kind::send_advert, Kind::log, Kind::send_garp});

  // No burst configured, none sent.
  c.garp_count = 0;
  VrrpInstance quiet = master_at(c, 10'000);
  CHECK(without_logs(quiet.receive(advert(kLowerPeer, 100, 10), 10'500)) ==
        std::vector<Kind>{Kind::send_advert});
}

TEST_CASE("vrrp instance: priority 0 makes a backup take over after Skew_Time", "[vrrp]") {
  VrrpInstance vi = backup_with_master(config(100), 10'000);
  CHECK(vi.next_deadline_ms() == 10'000 + 3600);
  CHECK(vi.receive(advert(kHigherPeer, 0), 11'000).empty());
  CHECK(vi.next_deadline_ms() == 11'000 + 600);  // 156 * 100 / 256 = 60 cs
  CHECK(vi.tick(11'599).empty());
  CHECK(kinds(vi.tick(11'600)) ==
        std::vector<Kind>{Kind::send_advert, Kind::become_master, Kind::send_garp});
}

TEST_CASE("vrrp instance: priority 0 to a master is answered and resets its timer",
          "[vrrp]") {
  VrrpInstance vi = master_at(config(100), 10'000);
  const Actions a = vi.receive(advert(kHigherPeer, 0), 10'700);
  CHECK(kinds(a) == std::vector<Kind>{Kind::send_advert});
  CHECK(vi.next_deadline_ms() == 10'700 + 1000);
}

TEST_CASE("vrrp instance: preemption", "[vrrp]") {
  // Our priority is 150; a master of priority 100 advertises every second from t = 0.
  auto run_against_lower_master = [](VrrpInstanceConfig c, uint64_t until) {
    VrrpInstance vi(std::move(c));
    vi.start(0);
    std::optional<uint64_t> master_at_ms;
    for (uint64_t t = 500; t <= until; t += 1000) {
      for (const Timed& x : run(vi, 0, t - 1))
        if (x.action.kind == Kind::become_master && !master_at_ms) master_at_ms = x.at;
      if (vi.state() == VrrpState::backup) vi.receive(advert(kLowerPeer, 100), t);
    }
    return master_at_ms;
  };

  SECTION("on: the lower master's adverts are discarded, the timer runs out") {
    // Master_Down_Interval for 150: 300 + 106 * 100 / 256 = 341 cs.
    CHECK(run_against_lower_master(config(150), 20'000) == 3410);
  }
  SECTION("off: a backup does not take over from a lower-priority master") {
    VrrpInstanceConfig c = config(150);
    c.preempt = false;
    CHECK(run_against_lower_master(c, 60'000) == std::nullopt);
  }
  SECTION("delay: tolerated for preempt_delay_ms after start, then preempted") {
    VrrpInstanceConfig c = config(150);
    c.preempt_delay_ms = 10'000;
    // Adverts at 500 .. 9500 reset the timer; from 10 500 on they are discarded.
    CHECK(run_against_lower_master(c, 60'000) == 9500 + 3410);
  }
  SECTION("held (connection sync pulling): tolerated until released, then preempted") {
    VrrpInstance vi(config(150));
    vi.start(0);
    vi.hold_preemption(true);
    std::optional<uint64_t> master_at_ms;
    for (uint64_t t = 500; t <= 60'000; t += 1000) {
      if (t == 10'500) vi.hold_preemption(false);
      for (const Timed& x : run(vi, 0, t - 1))
        if (x.action.kind == Kind::become_master && !master_at_ms) master_at_ms = x.at;
      if (vi.state() == VrrpState::backup) vi.receive(advert(kLowerPeer, 100), t);
    }
    CHECK(master_at_ms == 9500 + 3410);
  }
  SECTION("held, but the master disappears: taken over all the same") {
    VrrpInstance vi(config(150));
    vi.start(0);
    vi.hold_preemption(true);
    vi.receive(advert(kLowerPeer, 100), 500);
    std::optional<uint64_t> master_at_ms;
    for (const Timed& x : run(vi, 0, 10'000))
      if (x.action.kind == Kind::become_master && !master_at_ms) master_at_ms = x.at;
    CHECK(master_at_ms == 500 + 3410);
  }
  SECTION("equal priority never preempts") {
    VrrpInstance vi = backup_with_master(config(100), 0);
    for (uint64_t t = 1000; t <= 20'000; t += 1000) {
      CHECK(run(vi, 0, t - 1).empty());
      vi.receive(advert(kLowerPeer, 100), t);
    }
    CHECK(vi.state() == VrrpState::backup);
  }
}

TEST_CASE("vrrp instance: a backup learns the master's advertisement interval", "[vrrp]") {
  VrrpInstance vi(config(100));
  vi.start(0);
  const Actions a = vi.receive(advert(kHigherPeer, 200, 50), 1000);
  CHECK(vi.master_adver_interval_cs() == 50);
  CHECK(vi.next_deadline_ms() == 1000 + 1800);  // 3 * 50 + 156 * 50 / 256 = 180 cs
  // RFC 9568 §7.1: logged once, counted each time, processed anyway.
  REQUIRE(kinds(a) == std::vector<Kind>{Kind::log});
  CHECK(a[0].reason == "advertisement interval 50 cs from 10.0.0.202 differs from ours (100 cs)");
  CHECK(vi.receive(advert(kHigherPeer, 200, 50), 1500).empty());
  CHECK(vi.counters().interval_mismatches == 2);
  CHECK(vi.next_deadline_ms() == 1500 + 1800);
}

TEST_CASE("vrrp instance: a different address list is logged and processed", "[vrrp]") {
  VrrpInstance vi(config(100));
  vi.start(0);
  const Actions a = vi.receive(advert(kHigherPeer, 200, 100, kVrid, {kVip, kLowerPeer}), 1000);
  REQUIRE(kinds(a) == std::vector<Kind>{Kind::log});
  CHECK(a[0].reason == "address list from 10.0.0.202 differs from ours (2 addresses)");
  CHECK(vi.next_deadline_ms() == 1000 + 3600);  // the advert was processed
  CHECK(vi.receive(advert(kHigherPeer, 200, 100, kVrid, {kLowerPeer}), 2000).empty());
  CHECK(vi.counters().address_list_mismatches == 2);
  // Matching again, then differing again: logged again.
  CHECK(vi.receive(advert(kHigherPeer, 200), 3000).empty());
  CHECK(kinds(vi.receive(advert(kHigherPeer, 200, 100, kVrid, {}), 4000)) ==
        std::vector<Kind>{Kind::log});
  CHECK(vi.counters().adverts_received == 4);
}

TEST_CASE("vrrp instance: adverts it must not act on are dropped with a reason", "[vrrp]") {
  VrrpInstance vi(config(100));
  CHECK(vi.receive(advert(kHigherPeer, 200), 0).empty());
  CHECK(drops(vi, VrrpDrop::not_running) == 1);
  vi.start(0);
  const uint64_t deadline = vi.next_deadline_ms();

  vi.receive(advert(kHigherPeer, 200, 100, kVrid + 1), 1000);
  CHECK(drops(vi, VrrpDrop::unknown_vrid) == 1);

  VrrpReceived v2 = advert(kHigherPeer, 200);
  v2.v2_checksum = true;
  vi.receive(v2, 1000);
  CHECK(drops(vi, VrrpDrop::bad_checksum) == 1);
  CHECK(vi.next_deadline_ms() == deadline);  // none of them reset the timer
  CHECK(vi.counters().adverts_received == 0);

  VrrpInstanceConfig c = config(100);
  c.v2_checksum = true;
  VrrpInstance tolerant(c);
  tolerant.start(0);
  tolerant.receive(v2, 1000);
  CHECK(tolerant.counters().adverts_received == 1);
  CHECK(tolerant.next_deadline_ms() == 1000 + 3600);
}

TEST_CASE("vrrp instance: shutdown", "[vrrp]") {
  SECTION("a master says goodbye with priority 0") {
    VrrpInstance vi = master_at(config(100), 10'000);
    const Actions a = vi.shutdown(10'500);
    CHECK(kinds(a) == std::vector<Kind>{Kind::send_advert, Kind::become_init});
    CHECK(a[0].priority == 0);
    CHECK(vi.state() == VrrpState::init);
    CHECK(vi.next_deadline_ms() == VrrpInstance::kNever);
    CHECK(vi.tick(100'000).empty());
  }
  SECTION("a backup just stops") {
    VrrpInstance vi = backup_with_master(config(100), 0);
    CHECK(kinds(vi.shutdown(10)) == std::vector<Kind>{Kind::become_init});
    CHECK(vi.tick(100'000).empty());
    CHECK(vi.shutdown(20).empty());
  }
  SECTION("and can start again") {
    VrrpInstance vi = master_at(config(100), 10'000);
    vi.shutdown(10'500);
    CHECK(kinds(vi.start(11'000)) == std::vector<Kind>{Kind::become_backup});
    CHECK(entered(vi, VrrpState::init) == 1);
    CHECK(entered(vi, VrrpState::backup) == 2);
  }
}

TEST_CASE("vrrp instance: effective priority with tracked weights", "[vrrp]") {
  VrrpInstanceConfig c = config(100);
  c.tracks = {{"uplink", -30}, {"disk", -80}, {"bonus", 20}};
  VrrpInstance vi(c);
  CHECK(vi.priority() == 120);  // a positive weight counts while its item is up
  vi.track_changed("bonus", false, 0);
  CHECK(vi.priority() == 100);
  vi.track_changed("uplink", false, 0);
  CHECK(vi.priority() == 70);
  vi.track_changed("disk", false, 0);
  CHECK(vi.priority() == 1);  // clamped
  CHECK(vi.track_changed("nosuch", false, 0).empty());

  VrrpInstanceConfig owner = config(255);
  owner.tracks = {{"uplink", -10}, {"bonus", 10}};
  VrrpInstance o(owner);
  CHECK(o.priority() == 254);  // 255 only while no weight applies
  o.track_changed("bonus", false, 0);
  CHECK(o.priority() == 255);
  o.track_changed("uplink", false, 0);
  CHECK(o.priority() == 245);
}

TEST_CASE("vrrp instance: a master whose priority changes advertises it at once", "[vrrp]") {
  VrrpInstanceConfig c = config(150);
  c.tracks = {{"uplink", -60}};
  VrrpInstance vi = master_at(c, 10'000);
  const Actions a = vi.track_changed("uplink", false, 10'300);
  CHECK(kinds(a) == std::vector<Kind>{Kind::log, Kind::send_advert});
  CHECK(a[0].reason == "priority 150 -> 90: tracked 'uplink' is down");
  CHECK(a[1].priority == 90);
  CHECK(vi.next_deadline_ms() == 10'300 + 1000);
  CHECK(vi.track_changed("uplink", false, 10'400).empty());  // no change
}

TEST_CASE("vrrp instance: fault while a weight-0 tracked item is down", "[vrrp]") {
  VrrpInstanceConfig c = config(100);
  c.tracks = {{"link", 0}};
  VrrpInstance vi = master_at(c, 10'000);

  const Actions down = vi.track_changed("link", false, 20'000);
  CHECK(kinds(down) == std::vector<Kind>{Kind::send_advert, Kind::become_fault});
  CHECK(down[0].priority == 0);
  CHECK(down[1].reason == "tracked 'link' is down");
  CHECK(vi.state() == VrrpState::fault);
  CHECK(vi.next_deadline_ms() == VrrpInstance::kNever);
  CHECK(vi.tick(60'000).empty());
  vi.receive(advert(kLowerPeer, 50), 30'000);
  CHECK(drops(vi, VrrpDrop::not_running) == 1);

  const Actions up = vi.track_changed("link", true, 40'000);
  CHECK(kinds(up) == std::vector<Kind>{Kind::become_backup});
  CHECK(vi.next_deadline_ms() == 40'000 + 3600);
  CHECK(without_logs(vi.tick(43'600)) ==
        std::vector<Kind>{Kind::send_advert, Kind::become_master, Kind::send_garp});
  CHECK(entered(vi, VrrpState::fault) == 1);

  SECTION("an item down at start means fault from the start") {
    VrrpInstance early(c);
    early.track_changed("link", false, 0);
    CHECK(kinds(early.start(0)) == std::vector<Kind>{Kind::become_fault});
    CHECK(kinds(early.track_changed("link", true, 5000)) == std::vector<Kind>{Kind::become_backup});
  }
}

TEST_CASE("vrrp instance: advertisement frames from the instance's config", "[vrrp]") {
  const rte_ether_addr port_mac = shoal::test::mac(7);
  VrrpInstanceConfig c = config(100);
  c.addresses = {kVip, ipv4(10, 0, 0, 101)};
  c.advert_interval_cs = 50;
  VrrpInstance vi(c);
  uint8_t frame[kVrrpMaxFrameLen];
  const std::size_t len = vi.write_advert(frame, port_mac, 0);
  const VrrpParseResult r = parse_vrrp_advert(frame + RTE_ETHER_HDR_LEN, len - RTE_ETHER_HDR_LEN);
  REQUIRE(r.ok);
  CHECK(r.received.advert.priority == 0);
  CHECK(r.received.advert.vrid == kVrid);
  CHECK(r.received.advert.max_advert_int_cs == 50);
  CHECK(r.received.advert.addresses == c.addresses);
  CHECK(r.received.src == kUs);
  CHECK_FALSE(r.received.v2_checksum);
  const rte_ether_addr virtual_mac = vrrp_virtual_mac(kVrid);
  CHECK(rte_is_same_ether_addr(&reinterpret_cast<rte_ether_hdr*>(frame)->src_addr, &virtual_mac));

  c.use_virtual_mac = false;
  c.v2_checksum = true;
  VrrpInstance plain(c);
  plain.write_advert(frame, port_mac, 100);
  CHECK(rte_is_same_ether_addr(&reinterpret_cast<rte_ether_hdr*>(frame)->src_addr, &port_mac));
  const VrrpParseResult v2 = parse_vrrp_advert(frame + RTE_ETHER_HDR_LEN, len - RTE_ETHER_HDR_LEN);
  REQUIRE(v2.ok);
  CHECK(v2.received.v2_checksum);
}

TEST_CASE("vrrp instance: an IPv6 router advertises from its link-local address", "[vrrp]") {
  const rte_ether_addr port_mac = shoal::test::mac(7);
  VrrpInstanceConfig c = config(100, IpAddress::from_v6(link_local(0x201)));
  c.addresses = {IpAddress::from_v6(fd00(0x100)), IpAddress::from_v6(fd00(0x101))};
  REQUIRE(validate(c).empty());
  VrrpInstance vi(c);
  uint8_t frame[kVrrpMaxFrameLen];
  const std::size_t len = vi.write_advert(frame, port_mac, 100);
  CHECK(len == RTE_ETHER_HDR_LEN + 40 + 8 + 2 * 16);
  const auto* eth = reinterpret_cast<const rte_ether_hdr*>(frame);
  const rte_ether_addr virtual_mac{{0x00, 0x00, 0x5e, 0x00, 0x02, kVrid}};
  CHECK(rte_is_same_ether_addr(&eth->src_addr, &virtual_mac));
  CHECK(rte_is_same_ether_addr(&eth->dst_addr, &kVrrpGroupMac6));
  const VrrpParseResult r = parse_vrrp_advert(frame + RTE_ETHER_HDR_LEN, len - RTE_ETHER_HDR_LEN);
  REQUIRE(r.ok);
  CHECK(r.received.src == c.primary_ip);
  CHECK(r.received.advert.addresses == c.addresses);
  CHECK(r.received.advert.priority == 100);

  SECTION("one family per router") {
    c.addresses.push_back(kVip);
    CHECK(validate(c) ==
          std::vector<std::string>{
              "the virtual addresses and the primary address must be of one family"});
  }
  SECTION("equal priorities: the higher link-local address wins, compared as bytes") {
    VrrpInstance master(c);
    master.start(0);
    master.tick(3'600);  // Master_Down_Interval at priority 100
    REQUIRE(master.state() == VrrpState::master);
    // fe80::201 < fe80::1:0 as bytes, though its last word is larger.
    CHECK(without_logs(master.receive(advert(IpAddress::from_v6(link_local(0x10000)), 100, 100,
                                             kVrid, c.addresses),
                                      4'000)) == std::vector<Kind>{Kind::become_backup});
  }
}

TEST_CASE("vrrp instance: config validation", "[vrrp]") {
  CHECK(validate(config(100)).empty());
  VrrpInstanceConfig c = config(100);
  c.vrid = 0;
  c.priority = 0;
  c.advert_interval_cs = 4096;
  c.addresses.clear();
  c.primary_ip = IpAddress{};
  c.tracks = {{"x", -255}};
  CHECK(validate(c).size() == 6);
}

namespace {

// Two routers on one segment: every advertisement one sends is written as a frame, parsed
// and handed to the other, at the time it was sent.
struct Segment {
  std::vector<VrrpInstance*> routers;
  uint64_t now = 0;
  std::vector<std::pair<uint64_t, std::string>> events;  // "name kind" at time

  void apply(std::size_t i, const Actions& actions) {
    for (const VrrpAction& a : actions) {
      events.push_back({now, fmt::format("{} {}", routers[i]->config().name, name(a.kind))});
      if (a.kind != Kind::send_advert) continue;
      uint8_t frame[kVrrpMaxFrameLen];
      const std::size_t len = routers[i]->write_advert(frame, shoal::test::mac(1), a.priority);
      const VrrpParseResult r =
          parse_vrrp_advert(frame + RTE_ETHER_HDR_LEN, len - RTE_ETHER_HDR_LEN);
      REQUIRE(r.ok);
      for (std::size_t j = 0; j < routers.size(); ++j)
        if (j != i) apply(j, routers[j]->receive(r.received, now));
    }
  }
  void run_until(uint64_t until) {
    for (;;) {
      uint64_t next = VrrpInstance::kNever;
      for (VrrpInstance* r : routers) next = std::min(next, r->next_deadline_ms());
      if (next > until) break;
      now = next;
      for (std::size_t i = 0; i < routers.size(); ++i) apply(i, routers[i]->tick(now));
    }
    now = until;
  }
  std::optional<uint64_t> first(const std::string& what, uint64_t after = 0) const {
    for (const auto& [t, e] : events)
      if (t >= after && e == what) return t;
    return std::nullopt;
  }
};

}  // namespace

TEST_CASE("vrrp instance: a tracked failure hands the VIP to the peer and back", "[vrrp]") {
  VrrpInstanceConfig ca = config(150, ipv4(10, 0, 0, 1), kVrid, "a");
  ca.tracks = {{"uplink", -60}};
  VrrpInstanceConfig cb = config(100, ipv4(10, 0, 0, 2), kVrid, "b");
  VrrpInstance a(ca), b(cb);
  Segment seg;
  seg.routers = {&a, &b};
  seg.apply(0, a.start(0));
  seg.apply(1, b.start(0));
  seg.run_until(10'000);
  CHECK(seg.first("a become_master") == 3410);  // a's Master_Down_Interval
  CHECK(seg.first("b become_master") == std::nullopt);
  CHECK(b.state() == VrrpState::backup);

  // At 10 200 a's uplink fails: a advertises 90 at once; b (100, preempt) discards that,
  // and its timer, last reset by a's advert at 9410, runs out at 9410 + 3600.
  seg.now = 10'200;
  seg.apply(0, a.track_changed("uplink", false, seg.now));
  seg.run_until(20'000);
  CHECK(seg.first("b become_master") == 9410 + 3600);
  CHECK(seg.first("a become_backup", 10'200) == 9410 + 3600);  // on b's first advertisement
  CHECK(a.state() == VrrpState::backup);

  // The uplink comes back: a (150) preempts b in its Master_Down_Interval.
  seg.now = 20'000;
  seg.apply(0, a.track_changed("uplink", true, seg.now));
  seg.run_until(40'000);
  const std::optional<uint64_t> back = seg.first("a become_master", 20'000);
  REQUIRE(back);
  // b's advert at 19 010 still reset a's timer, by a's Master_Down_Interval at priority 90
  // (300 + 166 * 100 / 256 = 364 cs); those after 20 000 are discarded.
  CHECK(*back == 19'010 + 3640);
  CHECK(b.state() == VrrpState::backup);
}

TEST_CASE("vrrp sync group: members become master together and follow each other",
          "[vrrp]") {
  VrrpInstanceConfig c1 = config(100, kUs, 1, "gw");
  c1.tracks = {{"internal", 0}};
  VrrpInstanceConfig c2 = config(150, kUs, 2, "vip");
  VrrpInstance gw(c1), vip(c2);
  VrrpSyncGroup group("nat", {&gw, &vip});
  gw.start(0);
  vip.start(0);
  CHECK(group.reconcile(0).empty());

  // vip's timer fires first (3410 ms) but it waits for gw's (3600 ms).
  CHECK(vip.tick(3410).empty());
  CHECK(vip.wants_master());
  CHECK(group.reconcile(3410).empty());
  CHECK(vip.state() == VrrpState::backup);
  CHECK(gw.tick(3600).empty());
  std::vector<VrrpSyncGroup::MemberAction> up = group.reconcile(3600);
  REQUIRE(up.size() == 6);
  CHECK(up[1].member == &gw);
  CHECK(up[1].action.kind == Kind::become_master);
  CHECK(up[1].action.reason == "sync group nat: master down timer expired for every member");
  CHECK(up[4].member == &vip);
  CHECK(up[4].action.kind == Kind::become_master);

  SECTION("one member demoted by a peer: the other steps down with priority 0") {
    CHECK(kinds(gw.receive(advert(kHigherPeer, 200, 100, 1), 5000)) ==
          std::vector<Kind>{Kind::become_backup});
    const auto follow = group.reconcile(5000);
    REQUIRE(follow.size() == 2);
    CHECK(follow[0].member == &vip);
    CHECK(follow[0].action.kind == Kind::send_advert);
    CHECK(follow[0].action.priority == 0);
    CHECK(follow[1].action.kind == Kind::become_backup);
    CHECK(follow[1].action.reason == "sync group nat: gw is backup");
    // vip's own timer runs out, but gw's master is alive: vip stays backup.
    CHECK(vip.tick(5000 + 3410).empty());
    gw.receive(advert(kHigherPeer, 200, 100, 1), 8000);
    CHECK(group.reconcile(8410).empty());
    CHECK(vip.state() == VrrpState::backup);
  }
  SECTION("one member in fault: the other follows, and both come back") {
    CHECK(kinds(gw.track_changed("internal", false, 5000)) ==
          std::vector<Kind>{Kind::send_advert, Kind::become_fault});
    const auto follow = group.reconcile(5000);
    REQUIRE(follow.size() == 2);
    CHECK(follow[0].member == &vip);
    CHECK(follow[0].action.priority == 0);
    CHECK(follow[1].action.kind == Kind::become_fault);
    CHECK(follow[1].action.reason == "sync group nat: gw is in fault");
    CHECK(vip.own_fault() == false);

    CHECK(kinds(gw.track_changed("internal", true, 9000)) ==
          std::vector<Kind>{Kind::become_backup});
    const auto back = group.reconcile(9000);
    REQUIRE(back.size() == 1);
    CHECK(back[0].member == &vip);
    CHECK(back[0].action.kind == Kind::become_backup);
    gw.tick(9000 + 3600);
    vip.tick(9000 + 3410);
    group.reconcile(9000 + 3600);
    CHECK(gw.state() == VrrpState::master);
    CHECK(vip.state() == VrrpState::master);
  }
}

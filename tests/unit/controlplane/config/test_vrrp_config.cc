// VRRP in the daemon, without an EAL: the `vrrp:` section of the config (every field reaches
// the model, every mistake on its line), ownership in the SnapshotSpec (a released VIP's
// services are not owned, an extra address is local only while held, virtual MACs are
// accepted only while master), and VrrpRunner: two runners that hand each other their frames
// elect the higher priority, say goodbye with priority 0 and take reloads.
#include <catch2/catch.hpp>

#include <rte_ether.h>
#include <rte_ip.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "controlplane/load_errors.h"
#include "net/snapshot_builder.h"
#include "vrrp/packet.h"
#include "vrrp/runner.h"

using shoal::cp::build_snapshot_spec;
using shoal::cp::IpAddress;
using shoal::cp::Config;
using shoal::cp::load_config_string;
using shoal::cp::LoadResult;
using shoal::cp::Neighbours;
using shoal::cp::PortHandle;
using shoal::cp::VrrpOwnership;
using shoal::cp::VrrpRunner;
using shoal::cp::VrrpState;
using shoal::cp::VrrpTrackKind;
using shoal::dp::ipv4;

using shoal::test::lines_text;

namespace {

IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return IpAddress::from_v4(ipv4(a, b, c, d)); }
IpAddress v6(std::string_view text) { return IpAddress::from_v6(*shoal::cp::parse_ipv6(text)); }

const std::string kBase = R"(ports:
  - name: lan
    device: net_null0
    addresses: [10.0.0.2/24]
  - name: inside
    device: net_null1
    addresses: [10.0.1.2/24]
services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: nat
    backends:
      - {name: rs1, address: 10.0.1.11}
  - name: dns
    vip: 10.0.0.101
    port: 53
    protocol: udp
    forwarding: nat
    backends:
      - {name: rs1, address: 10.0.1.11}
)";  // 21 lines: `vrrp:` is line 22


Config load(const std::string& vrrp) {
  LoadResult r = load_config_string(kBase + vrrp, "t.yaml");
  INFO("errors:\n" << lines_text(r.errors));
  REQUIRE(r.config);
  return *r.config;
}

void expect_error(const std::string& vrrp, const std::string& prefix, const std::string& phrase) {
  shoal::test::expect_load_error(kBase + vrrp, prefix, phrase);
}

const std::string kTwo = R"(vrrp:
  instances:
    - name: front
      vrid: 51
      priority: 150
      interval: 0.1
      preempt: false
      preempt_delay: 2.5
      virtual_mac: false
      v2_checksum: true
      addresses: [10.0.0.100, 10.0.0.101]
      garp: {count: 3, interval: 0.05, refresh: 60}
      track:
        services: [web, {name: dns, weight: -60}]
        ports: [{name: inside, weight: 0}]
    - name: gateway
      vrid: 52
      port: inside
      addresses: [10.0.1.1]
  sync_groups:
    - {name: nat, instances: [front, gateway]}
)";

}  // namespace

TEST_CASE("vrrp config: every field reaches the model", "[vrrp][config]") {
  const Config c = load(kTwo);
  REQUIRE(c.vrrp.instances.size() == 2);
  const auto& f = c.vrrp.instances[0];
  CHECK(f.name == "front");
  CHECK(f.vrid == 51);
  CHECK(f.priority == 150);
  CHECK(f.interval_cs == 10);
  CHECK_FALSE(f.preempt);
  CHECK(f.preempt_delay_ms == 2500);
  CHECK_FALSE(f.virtual_mac);
  CHECK(f.v2_checksum);
  CHECK(f.port == 0);
  CHECK(f.addresses == std::vector<IpAddress>{v4(10, 0, 0, 100), v4(10, 0, 0, 101)});
  CHECK(f.garp_count == 3);
  CHECK(f.garp_interval_ms == 50);
  CHECK(f.garp_refresh_ms == 60000);
  REQUIRE(f.tracks.size() == 3);
  CHECK((f.tracks[0].kind == VrrpTrackKind::service && f.tracks[0].name == "web" &&
         f.tracks[0].weight == 0));
  CHECK((f.tracks[1].name == "dns" && f.tracks[1].weight == -60));
  CHECK((f.tracks[2].kind == VrrpTrackKind::port && f.tracks[2].name == "inside"));
  const auto& g = c.vrrp.instances[1];
  CHECK(g.port == 1);
  // Defaults: keepalived's, with the virtual MAC on as RFC 9568 has it.
  CHECK(g.priority == 100);
  CHECK(g.interval_cs == 100);
  CHECK(g.preempt);
  CHECK(g.virtual_mac);
  CHECK_FALSE(g.v2_checksum);
  CHECK(g.garp_count == 5);
  REQUIRE(c.vrrp.sync_groups.size() == 1);
  CHECK(c.vrrp.sync_groups[0].instances == std::vector<std::string>{"front", "gateway"});
  CHECK(c.vrrp.instance_of(v4(10, 0, 1, 1)) == &c.vrrp.instances[1]);
  CHECK(c.vrrp.instance_of(v4(10, 0, 0, 9)) == nullptr);

  const auto ic = shoal::cp::instance_config(c, f, {});
  CHECK(ic.primary_ip == v4(10, 0, 0, 2));
  CHECK(ic.advert_interval_cs == 10);
  CHECK(ic.tracks[1].name == "service:dns");
  CHECK(shoal::cp::validate(ic).empty());
  CHECK(shoal::cp::instance_config(c, g, {}).primary_ip == v4(10, 0, 1, 2));
}

TEST_CASE("vrrp config: mistakes are reported on their line", "[vrrp][config]") {
  const std::string head = "vrrp:\n  instances:\n    - name: a\n      vrid: 1\n";  // 22..25
  SECTION("interval below a centisecond") {
    expect_error(head + "      addresses: [10.0.0.100]\n      interval: 0.005\n", "t.yaml:27: ",
                 "'interval' must be a number of seconds in 0.01..40.95");
  }
  SECTION("interval over 12 bits of centiseconds") {
    expect_error(head + "      addresses: [10.0.0.100]\n      interval: 41\n", "t.yaml:27: ",
                 "0.01..40.95");
  }
  SECTION("a VIP in two instances") {
    expect_error(head + "      addresses: [10.0.0.100]\n    - name: b\n      vrid: 2\n"
                        "      addresses: [10.0.0.100]\n",
                 "t.yaml:29: ", "10.0.0.100 is already carried by VRRP instance 'a' (line 26)");
  }
  SECTION("an extra address off every segment") {
    expect_error(head + "      addresses: [192.168.9.1]\n", "t.yaml:26: ",
                 "neither a service VIP nor inside a port's subnet");
  }
  SECTION("a port's own address") {
    expect_error(head + "      addresses: [10.0.0.2]\n", "t.yaml:26: ",
                 "10.0.0.2 is a local address of port 'lan'");
  }
  SECTION("a vrid twice on one port") {
    expect_error(head + "      addresses: [10.0.0.100]\n    - name: b\n      vrid: 1\n"
                        "      addresses: [10.0.0.101]\n",
                 "t.yaml:28: ", "vrid 1 is already used for IPv4 on this port by VRRP instance 'a'");
  }
  SECTION("IPv4 and IPv6 addresses in one instance") {
    expect_error(head + "      addresses: [10.0.0.100, 'fd00::100']\n", "t.yaml:26: ",
                 "fd00::100 is an IPv6 address in an IPv4 instance; a virtual router carries one "
                 "family");
  }
  SECTION("an IPv6 address that is neither a VIP nor on-link") {
    expect_error(head + "      addresses: ['fd00::100']\n", "t.yaml:26: ",
                 "fd00::100 is neither a service VIP nor inside a port's subnet; an extra address "
                 "is answered for by Neighbour Discovery");
  }
  SECTION("the same vrid on two ports is fine") {
    load(head + "      addresses: [10.0.0.100]\n    - name: b\n      vrid: 1\n      port: inside\n"
                "      addresses: [10.0.1.1]\n");
  }
  SECTION("an unknown port") {
    expect_error(head + "      addresses: [10.0.0.100]\n      port: wan\n", "t.yaml:27: ",
                 "no port named 'wan'");
  }
  SECTION("tracking an unknown service") {
    expect_error(head + "      addresses: [10.0.0.100]\n      track:\n        services: [mail]\n",
                 "t.yaml:28: ", "tracks service 'mail', which is not configured");
  }
  SECTION("a track weight out of range") {
    expect_error(head + "      addresses: [10.0.0.100]\n      track:\n        ports:\n"
                        "          - {name: lan, weight: -300}\n",
                 "t.yaml:29: ", "'weight' must be an integer in -254..254");
  }
  SECTION("a sync group naming an unknown instance") {
    expect_error(head + "      addresses: [10.0.0.100]\n  sync_groups:\n"
                        "    - name: g\n      instances: [a, z]\n",
                 "t.yaml:29: ", "sync group 'g': no VRRP instance named 'z'");
  }
  SECTION("a misspelt key, with a suggestion") {
    expect_error(head + "      addresses: [10.0.0.100]\n      prority: 10\n", "t.yaml:27: ",
                 "unknown key 'prority' in a VRRP instance");
  }
  SECTION("no addresses") {
    expect_error(head + "      addresses: []\n", "t.yaml:26: ", "'addresses' must list 1..255");
  }
  SECTION("priority 0 is reserved") {
    expect_error(head + "      addresses: [10.0.0.100]\n      priority: 0\n", "t.yaml:27: ",
                 "'priority' 0 is out of range 1..255");
  }
}

TEST_CASE("vrrp config: an IPv6 instance may share its vrid with an IPv4 one", "[vrrp][config]") {
  std::string text = kBase;
  text.replace(text.find("10.0.0.2/24"), 11, "10.0.0.2/24, fd00::2/64");
  text += "vrrp:\n  instances:\n    - {name: a, vrid: 1, addresses: [10.0.0.100]}\n"
          "    - {name: a6, vrid: 1, addresses: ['fd00::100']}\n"
          "    - {name: b6, vrid: 1, addresses: ['fd00::101']}\n";  // line 26
  shoal::test::expect_load_error(text, "t.yaml:26: ",
                                 "vrid 1 is already used for IPv6 on this port by VRRP "
                                 "instance 'a6' (line 25)");
  text.replace(text.find("name: b6, vrid: 1"), 17, "name: b6, vrid: 2");
  LoadResult r = load_config_string(text, "t.yaml");
  INFO(lines_text(r.errors));
  REQUIRE(r.config);
  const auto& a6 = r.config->vrrp.instances[1];
  CHECK(shoal::cp::is_ipv6(a6));
  CHECK(a6.addresses == std::vector<IpAddress>{v6("fd00::100")});
  const rte_ether_addr mac{{0x02, 0, 0, 0, 0, 0x02}};
  CHECK(shoal::cp::instance_config(*r.config, a6, mac).primary_ip == v6("fe80::ff:fe00:2"));

  // Extra IPv6 addresses (no service's VIP) are local while held, not owned while released.
  const std::vector<PortHandle> ports = {PortHandle{0, {}}, PortHandle{1, {}}};
  const auto all_up = [](const std::string&) { return true; };
  const shoal::dp::Ipv6Address fd00_100 = *shoal::cp::parse_ipv6("fd00::100");
  auto spec = build_snapshot_spec(*r.config, ports, Neighbours{}, {}, {}, all_up, {});
  CHECK(std::count(spec.local_addresses6.begin(), spec.local_addresses6.end(), fd00_100) == 1);
  VrrpOwnership backup;
  backup.released = {v6("fd00::100"), v6("fd00::101"), v4(10, 0, 0, 100)};
  spec = build_snapshot_spec(*r.config, ports, Neighbours{}, {}, {}, all_up, backup);
  CHECK(std::count(spec.local_addresses6.begin(), spec.local_addresses6.end(), fd00_100) == 0);
  CHECK(std::count(spec.unowned_addresses6.begin(), spec.unowned_addresses6.end(), fd00_100) == 1);
}

TEST_CASE("vrrp ownership: what a backup and a master publish", "[vrrp][snapshot]") {
  const Config c = load(kTwo);
  const std::vector<PortHandle> ports = {PortHandle{0, {}}, PortHandle{1, {}}};
  Neighbours neighbours;
  const rte_ether_addr vmac = shoal::cp::vrrp_virtual_mac(52);
  const auto all_up = [](const std::string&) { return true; };

  SECTION("everything held: services owned, the gateway local, its virtual MAC accepted") {
    VrrpOwnership o;
    o.virtual_macs[1].push_back(vmac);
    const auto spec = build_snapshot_spec(c, ports, neighbours, {}, {}, all_up, o);
    for (const auto& s : spec.services) CHECK(s.owned);
    CHECK(std::count(spec.local_addresses.begin(), spec.local_addresses.end(), ipv4(10, 0, 1, 1)));
    CHECK(spec.unowned_addresses.empty());
    REQUIRE(spec.ports[1].extra_macs.size() == 1);
    CHECK(rte_is_same_ether_addr(&spec.ports[1].extra_macs[0], &vmac));
    CHECK(spec.ports[1].accepts(vmac));
    CHECK_FALSE(spec.ports[0].accepts(vmac));
  }
  SECTION("backup: both VIPs and the gateway released, no virtual MAC") {
    VrrpOwnership o;
    o.released = {v4(10, 0, 0, 100), v4(10, 0, 0, 101), v4(10, 0, 1, 1)};
    const auto spec = build_snapshot_spec(c, ports, neighbours, {}, {}, all_up, o);
    for (const auto& s : spec.services) CHECK_FALSE(s.owned);
    CHECK(spec.unowned_addresses == std::vector<uint32_t>{ipv4(10, 0, 1, 1)});
    CHECK_FALSE(std::count(spec.local_addresses.begin(), spec.local_addresses.end(),
                           ipv4(10, 0, 1, 1)));
    CHECK(spec.ports[1].extra_macs.empty());
  }
  SECTION("VIPs no instance carries are always owned") {
    const Config plain = load("");
    VrrpOwnership o;
    o.released = {v4(10, 0, 0, 77)};
    const auto spec = build_snapshot_spec(plain, ports, neighbours, {}, {}, all_up, o);
    for (const auto& s : spec.services) CHECK(s.owned);
  }
}

namespace {

// Two directors on one segment: each runner's frames are handed to the other, parsed from
// the IP header on as the director does. Their instance is IPv4, or IPv6 (VRRP over IPv6,
// from link-local addresses, for two addresses on the IPv6 prefix the ports share).
struct Pair {
  Config a_config, b_config;
  VrrpRunner a, b;
  uint64_t now = 1000;

  static Config with(const std::string& address, int priority, bool preempt = true,
                     bool ipv6 = false) {
    std::string text = kBase;
    text.replace(text.find("10.0.0.2/24"), 11, address + "/24, fd00::" + address.substr(7) + "/64");
    text += "vrrp:\n  instances:\n    - {name: front, vrid: 51, interval: 0.1, priority: " +
            std::to_string(priority) + ", preempt: " + (preempt ? "true" : "false") +
            (ipv6 ? ", addresses: [fd00::100, fd00::101]}\n"
                  : ", addresses: [10.0.0.100, 10.0.0.101]}\n");
    LoadResult r = load_config_string(text, "t.yaml");
    INFO(lines_text(r.errors));
    REQUIRE(r.config);
    return *r.config;
  }

  Pair(int pa, int pb, bool ipv6 = false)
      : a_config(with("10.0.0.2", pa, true, ipv6)), b_config(with("10.0.0.3", pb, true, ipv6)),
        a(a_config, {rte_ether_addr{{2, 0, 0, 0, 0, 2}}, rte_ether_addr{{2, 0, 0, 0, 1, 2}}}),
        b(b_config, {rte_ether_addr{{2, 0, 0, 0, 0, 3}}, rte_ether_addr{{2, 0, 0, 0, 1, 3}}}) {}

  // Delivers each runner's advertisements to the other; returns how many were VRRP.
  static int deliver(VrrpRunner& from, VrrpRunner& to, uint64_t now, int* garps = nullptr) {
    int adverts = 0;
    for (const VrrpRunner::Frame& f : from.take_frames()) {
      const uint16_t type = static_cast<uint16_t>(f.bytes[12] << 8 | f.bytes[13]);
      // Gratuitous ARP, or its IPv6 stand-in: an unsolicited neighbour advertisement (ICMPv6).
      const bool icmpv6 = type == RTE_ETHER_TYPE_IPV6 && f.bytes[RTE_ETHER_HDR_LEN + 6] == 58;
      if (type == RTE_ETHER_TYPE_ARP || icmpv6) {
        if (garps) ++*garps;
        continue;
      }
      ++adverts;
      to.receive(f.port, f.bytes.data() + RTE_ETHER_HDR_LEN, f.bytes.size() - RTE_ETHER_HDR_LEN,
                 now);
    }
    return adverts;
  }

  void run_for(uint64_t ms, bool a_alive = true, bool b_alive = true) {
    for (uint64_t end = now + ms; now < end; now += 5) {
      if (a_alive) a.tick(now);
      if (b_alive) b.tick(now);
      if (a_alive && b_alive) {
        deliver(a, b, now);
        deliver(b, a, now);
      }
      if (!a_alive) a.take_frames();
      if (!b_alive) b.take_frames();
    }
  }
  VrrpState state(const VrrpRunner& r) const { return r.members()[0].instance->state(); }
};

}  // namespace

TEST_CASE("vrrp runner: election, failover, goodbye, reload", "[vrrp][runner]") {
  Pair p(150, 100);
  p.a.start(p.now);
  p.b.start(p.now);
  CHECK(p.a.take_changed());
  p.run_for(1000);
  CHECK(p.state(p.a) == VrrpState::master);
  CHECK(p.state(p.b) == VrrpState::backup);
  CHECK(p.a.holds(v4(10, 0, 0, 100)));
  CHECK_FALSE(p.b.holds(v4(10, 0, 0, 100)));
  CHECK(p.b.ownership().released.count(v4(10, 0, 0, 101)));
  CHECK(p.a.ownership().released.empty());
  // The master answers ARP from the virtual MAC on its port.
  const rte_ether_addr vmac = shoal::cp::vrrp_virtual_mac(51);
  const rte_ether_addr arp = p.a.arp_mac(v4(10, 0, 0, 100), 0);
  CHECK(rte_is_same_ether_addr(&arp, &vmac));
  CHECK(p.a.members()[0].instance->counters().adverts_sent > 3);
  CHECK(p.b.members()[0].instance->counters().adverts_received > 3);

  SECTION("the master dies: the backup takes over after 3 intervals plus skew") {
    p.b.take_changed();
    const uint64_t died = p.now;
    while (p.state(p.b) != VrrpState::master && p.now < died + 1000) p.run_for(5, false, true);
    // 3 × 100 ms + (256 − 100) × 100 / 256 ms = 360 ms after the last advertisement, which
    // left up to one interval before the death; then one 5 ms step of resolution.
    CHECK(p.now - died >= 260);
    CHECK(p.now - died <= 370);
    CHECK(p.b.take_changed());
    int garps = 0;
    Pair::deliver(p.b, p.a, p.now, &garps);
  }
  SECTION("the master stops cleanly: priority 0, takeover after skew time") {
    p.a.shutdown(p.now);
    CHECK(Pair::deliver(p.a, p.b, p.now) == 1);
    const uint64_t left = p.now;
    while (p.state(p.b) != VrrpState::master && p.now < left + 1000) p.run_for(5, false, true);
    CHECK(p.now - left <= 70);  // skew 60 ms
    CHECK(p.state(p.a) == VrrpState::init);
  }
  SECTION("an advertisement for a VRID nobody runs is counted, not delivered") {
    uint8_t frame[shoal::cp::kVrrpMaxFrameLen];
    const shoal::cp::VrrpAdvert advert{77, 100, 100, {v4(10, 0, 0, 100)}};
    const std::size_t n = shoal::cp::write_vrrp_advert(frame, advert, rte_ether_addr{},
                                                       v4(10, 0, 0, 9));
    p.b.receive(0, frame + RTE_ETHER_HDR_LEN, n - RTE_ETHER_HDR_LEN, p.now);
    CHECK(p.b.unclaimed_drops()[static_cast<std::size_t>(shoal::cp::VrrpDrop::unknown_vrid)] == 1);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(frame + RTE_ETHER_HDR_LEN);
    ip->time_to_live = 64;  // from off-link
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    p.b.receive(0, frame + RTE_ETHER_HDR_LEN, n - RTE_ETHER_HDR_LEN, p.now);
    CHECK(p.b.unclaimed_drops()[static_cast<std::size_t>(shoal::cp::VrrpDrop::ttl_not_255)] == 1);
    CHECK(p.state(p.b) == VrrpState::backup);
  }
  SECTION("our own advertisement looped back is ignored") {
    p.a.tick(p.now + 100);
    for (const VrrpRunner::Frame& f : p.a.take_frames())
      p.a.receive(f.port, f.bytes.data() + RTE_ETHER_HDR_LEN, f.bytes.size() - RTE_ETHER_HDR_LEN,
                  p.now);
    CHECK(p.a.own_adverts() >= 1);
    CHECK(p.state(p.a) == VrrpState::master);
  }
  SECTION("reload: a lower priority makes the backup preempt at once; vrid needs a restart") {
    Config lower = Pair::with("10.0.0.2", 50);
    CHECK_FALSE(p.a.restart_needed(lower).has_value());
    p.a.reconfigure(lower, p.now);
    CHECK(p.a.members()[0].instance->priority() == 50);
    p.run_for(500);
    CHECK(p.state(p.b) == VrrpState::master);
    CHECK(p.state(p.a) == VrrpState::backup);
    Config moved = lower;
    moved.vrrp.instances[0].vrid = 9;
    REQUIRE(p.a.restart_needed(moved).has_value());
    CHECK(p.a.restart_needed(moved)->find("vrid") != std::string::npos);
    moved.vrrp.instances.clear();
    CHECK(p.a.restart_needed(moved).has_value());
  }
}

TEST_CASE("vrrp runner: VRRP over IPv6 elects, announces and fails over", "[vrrp][runner]") {
  Pair p(150, 100, /*ipv6=*/true);
  REQUIRE(shoal::cp::is_ipv6(p.a.members()[0].settings));
  p.a.start(p.now);
  p.b.start(p.now);
  p.run_for(1000);
  CHECK(p.state(p.a) == VrrpState::master);
  CHECK(p.state(p.b) == VrrpState::backup);
  CHECK(p.a.holds(v6("fd00::100")));
  CHECK_FALSE(p.b.holds(v6("fd00::100")));
  CHECK(p.b.ownership().released == std::set<IpAddress>{v6("fd00::100"), v6("fd00::101")});
  CHECK(p.b.members()[0].instance->counters().adverts_received > 3);
  // Neighbour Discovery answers from the IPv6 virtual MAC, 00:00:5e:00:02:VRID.
  const rte_ether_addr vmac{{0x00, 0x00, 0x5e, 0x00, 0x02, 51}};
  const rte_ether_addr nd = p.a.arp_mac(v6("fd00::100"), 0);
  CHECK(rte_is_same_ether_addr(&nd, &vmac));
  REQUIRE(p.a.virtual_macs(0).size() == 1);
  CHECK(rte_is_same_ether_addr(&p.a.virtual_macs(0)[0], &vmac));
  // The master's last advertisement came from its link-local address to ff02::12.
  p.a.tick(p.now + 100);
  const std::vector<VrrpRunner::Frame> frames = p.a.take_frames();
  REQUIRE(!frames.empty());
  const std::vector<uint8_t>& advert = frames.back().bytes;
  const shoal::cp::VrrpParseResult r = shoal::cp::parse_vrrp_advert(
      advert.data() + RTE_ETHER_HDR_LEN, advert.size() - RTE_ETHER_HDR_LEN);
  REQUIRE(r.ok);
  CHECK(r.received.src == v6("fe80::ff:fe00:2"));  // EUI-64 of 02:00:00:00:00:02

  // The master dies: the backup takes over and announces both addresses by unsolicited NA.
  const uint64_t died = p.now;
  while (p.state(p.b) != VrrpState::master && p.now < died + 1000) p.run_for(5, false, true);
  CHECK(p.state(p.b) == VrrpState::master);
  CHECK(p.now - died <= 370);
  p.b.tick(p.now);
  int announcements = 0;
  for (const VrrpRunner::Frame& f : p.b.take_frames()) {
    if (f.bytes.size() < 78 || f.bytes[RTE_ETHER_HDR_LEN + 6] != 58) continue;
    ++announcements;
    CHECK(f.bytes[RTE_ETHER_HDR_LEN + 40] == 136);  // neighbour advertisement
    CHECK(std::memcmp(f.bytes.data() + 6, vmac.addr_bytes, 6) == 0);
  }
  CHECK(announcements >= 2);  // the first of the burst, for each address
}

TEST_CASE("vrrp runner: the states entered, for the notify commands", "[vrrp][runner][notify]") {
  auto describe = [](const std::vector<VrrpRunner::StateEvent>& events) {
    std::string out;
    for (const auto& e : events)
      out += std::string(e.group ? "group " : "") + e.name + " " +
             std::string(shoal::cp::name(e.to)) + " " + std::to_string(e.priority) + "; ";
    return out;
  };
  Pair p(150, 100);
  p.a.start(p.now);
  p.b.start(p.now);
  p.run_for(1000);
  CHECK(describe(p.a.take_state_events()) == "front backup 150; front master 150; ");
  CHECK(describe(p.b.take_state_events()) == "front backup 100; ");
  p.run_for(500);
  CHECK(p.a.take_state_events().empty());  // no state entered twice
  p.a.shutdown(p.now);
  CHECK(describe(p.a.take_state_events()) == "front init 150; ");

  // A group is master once all its members are, and stopped once all are.
  Config c = load(kTwo);
  VrrpRunner g(c, {rte_ether_addr{{2, 0, 0, 0, 0, 2}}, rte_ether_addr{{2, 0, 0, 0, 1, 2}}});
  g.track("service:web", true, 0);
  g.track("service:dns", true, 0);
  g.track("port:inside", true, 0);
  g.start(1000);
  for (uint64_t now = 1000; now < 6000; now += 5) g.tick(now);  // gateway: 1 s adverts
  CHECK(describe(g.take_state_events()) ==
        "front backup 150; gateway backup 100; group nat backup 0; front master 150; "
        "gateway master 100; group nat master 0; ");
  g.track("port:inside", false, 6000);  // weight 0: front to fault, and the group with it
  const std::string fault = describe(g.take_state_events());
  CHECK(fault.find("front fault") != std::string::npos);
  CHECK(fault.find("group nat fault 0") != std::string::npos);
  g.shutdown(6100);
  CHECK(describe(g.take_state_events()).find("group nat init 0") != std::string::npos);
}

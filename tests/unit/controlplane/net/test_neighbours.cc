// The neighbour tables' static entries across reloads (controlplane/net/neighbours.cc): the
// config's set replaces the last one whole, so an entry the file no longer lists leaves the
// table (or, still needed, is resolved again), a changed MAC replaces the old one, and what
// was learned from traffic or resolved by probing stays.
#include <catch2/catch.hpp>

#include <vector>

#include "config/address.h"
#include "net/neighbours.h"

using shoal::cp::Neighbours;
using shoal::cp::Neighbours6;

namespace {

rte_ether_addr mac_of(uint8_t last) {
  return rte_ether_addr{{0x02, 0, 0, 0, 0, last}};
}

bool same(const rte_ether_addr& a, const rte_ether_addr& b) {
  return rte_is_same_ether_addr(&a, &b);
}

uint32_t v4(const char* text) {
  return *shoal::cp::parse_ipv4(text);
}

shoal::dp::Ipv6Address v6(const char* text) {
  return *shoal::cp::parse_ipv6(text);
}

// The same story for either family: a learned client, a probed backend, three static entries;
// then a reload that drops one unneeded static entry, one still needed, and changes a MAC.
template <typename Table, typename Address>
void reload_story(const std::vector<Address>& a) {
  // a[0]: a learned client; a[1]: a backend resolved by probing; a[2], a[3], a[4]: static,
  // a[3] also a backend (wanted); a[5]: static from the reload on.
  Table t;
  t.set_wanted({{a[1], 1}, {a[3], 1}}, 0);
  CHECK(t.learn(a[0], 1, mac_of(0x10), 0));
  CHECK(t.learn(a[1], 1, mac_of(0x11), 0));
  CHECK(t.set_static({{a[2], 1, mac_of(0x22)}, {a[3], 1, mac_of(0x33)}, {a[4], 1, mac_of(0x44)}},
                     0));
  REQUIRE(t.entries().size() == 5);
  CHECK(t.find(a[3])->is_static);
  // The same set again changes nothing.
  CHECK_FALSE(t.set_static(
      {{a[2], 1, mac_of(0x22)}, {a[3], 1, mac_of(0x33)}, {a[4], 1, mac_of(0x44)}}, 5));

  // The reload: a[2] and a[3] left the file, a[4] has a new MAC, a[5] is new.
  t.set_wanted({{a[1], 1}, {a[3], 1}}, 10);
  CHECK(t.set_static({{a[4], 1, mac_of(0x45)}, {a[5], 1, mac_of(0x55)}}, 10));
  CHECK(t.find(a[2]) == nullptr);
  const auto* backend = t.find(a[3]);
  REQUIRE(backend != nullptr);
  CHECK_FALSE(backend->is_static);
  CHECK_FALSE(backend->resolved());  // not with the MAC the file gave any more
  CHECK(t.find(a[4])->is_static);
  CHECK(same(t.find(a[4])->mac, mac_of(0x45)));
  CHECK(t.find(a[5])->is_static);
  // Learned and probed entries are kept, with their MACs.
  REQUIRE(t.find(a[0]) != nullptr);
  CHECK(t.find(a[0])->resolved());
  CHECK(same(t.find(a[0])->mac, mac_of(0x10)));
  REQUIRE(t.find(a[1]) != nullptr);
  CHECK(t.find(a[1])->resolved());
  CHECK(t.entries().size() == 5);

  // The backend that lost its static entry is probed at once, and resolves by its answer.
  bool lost = false;
  std::vector<Address> probed;
  for (const auto& p : t.tick(10, lost)) probed.push_back(p.ip);
  CHECK(probed == std::vector<Address>{a[3]});
  CHECK(t.learn(a[3], 1, mac_of(0x3a), 11));
  CHECK(t.find(a[3])->resolved());

  // A static entry for an address learned before replaces it; dropped, it leaves no trace.
  CHECK(t.set_static({{a[0], 1, mac_of(0x01)}}, 20));
  CHECK(t.find(a[0])->is_static);
  CHECK(t.set_static({}, 30));
  CHECK(t.find(a[0]) == nullptr);
  CHECK(t.find(a[4]) == nullptr);
  CHECK(t.find(a[5]) == nullptr);
  CHECK(t.entries().size() == 2);  // the backends, resolved
}

}  // namespace

TEST_CASE("neighbours: a reload removes the static entries that left the file (ARP)",
          "[neighbours]") {
  reload_story<Neighbours>(std::vector<uint32_t>{v4("10.0.0.1"), v4("10.0.0.11"),
                                                 v4("10.0.0.20"), v4("10.0.0.12"),
                                                 v4("10.0.0.21"), v4("10.0.0.22")});
}

TEST_CASE("neighbours: a reload removes the static entries that left the file (ND)",
          "[neighbours][ipv6]") {
  reload_story<Neighbours6>(std::vector<shoal::dp::Ipv6Address>{
      v6("fd00::1"), v6("fd00::11"), v6("fd00::20"), v6("fd00::12"), v6("fd00::21"),
      v6("fd00::22")});
}

TEST_CASE("neighbours: a static entry moved to another port is updated", "[neighbours]") {
  Neighbours t;
  CHECK(t.set_static({{v4("10.0.1.5"), 1, mac_of(5)}}, 0));
  CHECK(t.set_static({{v4("10.0.1.5"), 2, mac_of(5)}}, 1));
  CHECK(t.find(v4("10.0.1.5"))->port == 2);
}

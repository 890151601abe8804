// The snapshot's destination table: every key inserted is found with its value, nothing else
// is, and probing copes with keys that share a home slot and with wrap-around at the end.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <vector>

#include "dataplane/address_table.h"

using shoal::dp::AddressTable;

TEST_CASE("address table: keys found with their values, others missed", "[address_table]") {
  std::mt19937_64 rng(7);
  for (uint32_t n : {0u, 1u, 5u, 8u, 100u, 5000u}) {
    CAPTURE(n);
    AddressTable table(n);
    CHECK(table.slot_count() >= 2 * n);
    CHECK(table.slot_count() >= 16);
    std::map<uint64_t, uint64_t> inserted;
    while (inserted.size() < n) {
      const uint64_t key = AddressTable::key(uint32_t(rng()), uint16_t(rng()), uint8_t(rng()));
      const uint64_t value = rng();
      if (inserted.emplace(key, value).second) REQUIRE(table.insert(key, value));
    }
    CHECK(table.size() == n);
    for (const auto& [key, value] : inserted) {
      uint64_t found = 0;
      REQUIRE(table.find(key, &found));
      CHECK(found == value);
    }
    for (int i = 0; i < 10000; ++i) {
      const uint64_t key = AddressTable::key(uint32_t(rng()), uint16_t(rng()), uint8_t(rng()));
      uint64_t found = 0;
      CHECK(table.find(key, &found) == inserted.contains(key));
    }
  }
}

TEST_CASE("address table: refuses a duplicate key and a key past its capacity",
          "[address_table]") {
  AddressTable table(2);
  const uint64_t a = AddressTable::key(0x0100000a, 0x5000, 6);
  const uint64_t b = AddressTable::key(0x0100000a, 0x5000, 17);
  const uint64_t c = AddressTable::key(0x0100000a, 0, 0);
  CHECK(table.insert(a, 0));  // value 0 is a value like any other
  CHECK_FALSE(table.insert(a, 1));
  CHECK(table.insert(b, 2));
  CHECK_FALSE(table.insert(c, 3));
  uint64_t v = 99;
  REQUIRE(table.find(a, &v));
  CHECK(v == 0);
  REQUIRE(table.find(b, &v));
  CHECK(v == 2);
  CHECK_FALSE(table.find(c, &v));
}

TEST_CASE("address table: keys sharing a home slot, across the end of the table",
          "[address_table]") {
  AddressTable table(8);  // 16 slots
  const uint32_t last = table.slot_count() - 1;
  // Keys whose home is the last slot: their probes wrap to slot 0 and on.
  std::vector<uint64_t> keys;
  for (uint32_t ip = 1; keys.size() < 5; ++ip) {
    const uint64_t key = AddressTable::key(ip, 0x5000, 6);
    if ((AddressTable::hash(key) & last) == last) keys.push_back(key);
  }
  for (uint64_t i = 0; i < keys.size(); ++i) REQUIRE(table.insert(keys[i], 100 + i));
  for (uint64_t i = 0; i < keys.size(); ++i) {
    uint64_t v = 0;
    REQUIRE(table.find(keys[i], &v));
    CHECK(v == 100 + i);
  }
  // A missing key with the same home walks the whole run and stops at the empty slot after it.
  for (uint32_t ip = 1u << 20;; ++ip) {
    const uint64_t key = AddressTable::key(ip, 0x5000, 6);
    if ((AddressTable::hash(key) & last) != last) continue;
    uint64_t v = 0;
    CHECK_FALSE(table.find(key, &v));
    break;
  }
}

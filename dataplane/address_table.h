// The snapshot's destination tables: (IPv4 address, port, protocol) to a 64-bit value, for
// classifying every packet and for matching NAT replies. Built once by the control thread and
// then only read by workers, so none of rte_hash's machinery for concurrent updates is needed:
// open addressing with linear probing over 16-byte slots, at most half full, one CRC32 per key,
// and a lookup the compiler inlines into the pipeline.
#pragma once

#include <rte_hash_crc.h>
#include <rte_prefetch.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/ipv6_address.h"

namespace shoal::dp {

class AddressTable {
 public:
  // Addresses and ports in network byte order, as they sit in the packet. The low byte of a
  // key is always 0, so kEmpty can never be a key.
  static constexpr uint64_t key(uint32_t ip, uint16_t port, uint8_t proto) {
    return uint64_t(ip) << 32 | uint32_t(port) << 16 | uint32_t(proto) << 8;
  }

  AddressTable() : slots_(1), mask_(0) {}
  // Room for `max_entries` keys, in a power of two of at least twice as many slots.
  explicit AddressTable(uint32_t max_entries);

  // False when the key is already present or the table holds max_entries keys.
  bool insert(uint64_t key, uint64_t value);

  static uint32_t hash(uint64_t key) { return rte_hash_crc_8byte(key, kSeed); }
  void prefetch(uint32_t hash) const { rte_prefetch0(&slots_[hash & mask_]); }

  // The key's value, or false. Linear probing: the run of occupied slots from the key's home
  // slot is short while the table is at most half full.
  bool find(uint64_t key, uint32_t hash, uint64_t* value) const {
    for (uint32_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.key == key) {
        *value = slot.value;
        return true;
      }
      if (slot.key == kEmpty) return false;
    }
  }
  bool find(uint64_t key, uint64_t* value) const { return find(key, hash(key), value); }

  uint32_t size() const { return size_; }
  uint32_t slot_count() const { return mask_ + 1; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t(0);
  static constexpr uint32_t kSeed = 0x5ad0'a11e;
  struct Slot {
    uint64_t key = kEmpty;
    uint64_t value = 0;
  };
  std::vector<Slot> slots_;  // never full: a probe always ends at an empty slot
  uint32_t mask_;
  uint32_t max_entries_ = 0;
  uint32_t size_ = 0;
};

// The same for IPv6 destinations: (IPv6 address, port, protocol) to a 64-bit value. Its own
// class rather than a template of the one above, so that the IPv4 lookup stays exactly what
// the benchmark measured; both are at most half full and probe linearly.
class AddressTable6 {
 public:
  struct Key {
    Ipv6Address ip{};
    uint16_t port = 0;  // network byte order
    uint8_t proto = 0;
    uint8_t used = 1;  // 0 only in an empty slot
    bool operator==(const Key&) const = default;
  };
  static_assert(sizeof(Key) == 20);
  static Key key(const Ipv6Address& ip, uint16_t port, uint8_t proto) {
    return Key{ip, port, proto, 1};
  }

  AddressTable6() : slots_(1), mask_(0) {}
  explicit AddressTable6(uint32_t max_entries);

  bool insert(const Key& key, uint64_t value);

  static uint32_t hash(const Key& key) {
    return rte_hash_crc_4byte(uint32_t(key.port) << 16 | uint32_t(key.proto) << 8 | key.used,
                              ipv6_crc(key.ip, kSeed));
  }

  bool find(const Key& key, uint64_t* value) const {
    for (uint32_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.key == key) {
        *value = slot.value;
        return true;
      }
      if (slot.key.used == 0) return false;
    }
  }

  uint32_t size() const { return size_; }

 private:
  static constexpr uint32_t kSeed = 0x5ad0'a116;
  struct Slot {
    Key key{{}, 0, 0, 0};
    uint64_t value = 0;
  };
  std::vector<Slot> slots_;
  uint32_t mask_;
  uint32_t max_entries_ = 0;
  uint32_t size_ = 0;
};

}  // namespace shoal::dp

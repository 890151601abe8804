// Persistence, as LVS has it: a client (its address under the service's netmask) keeps the
// real server of its last connection for `timeout` after its last activity, whichever worker
// its connections reach.
//
// Each worker writes only its own table and reads its peers' without locks: an entry's key
// and backend share one 64-bit word, so a reader sees both or neither, and the expiry time
// is stored before the word, so a reader that sees an entry sees its time too. A worker that
// finds a client in a peer's table copies the entry into its own, which it then keeps fresh;
// where tables disagree (a backend went down and one worker moved the client), the entry
// used last wins.
// Two workers that see a client's first two connections in the same instant may give them
// different backends; from then on each client is in at least one table.
//
// Fixed capacity, allocated once: 4 entries of 16 bytes per 64-byte bucket. An entry holds
// its expiry (last use + its service's timeout), so that any service can tell a live entry
// of another from a dead one. A full bucket gives up the entry closest to its expiry, the
// least recently used for equal timeouts (counted). Entries name a backend by its stable id,
// so they survive a reload that keeps it; one whose backend is gone, down or no longer in the
// service is ignored and overwritten.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

namespace shoal::dp {

class PersistenceTable {
 public:
  // At least `capacity` entries (rounded up to a power-of-two number of buckets).
  explicit PersistenceTable(uint32_t capacity);

  // What identifies a persistent client: its service's tag and its masked address.
  struct Client {
    uint16_t service_tag;  // never 0
    uint32_t address;      // masked, network byte order
  };
  struct Found {
    uint16_t backend;
    uint32_t expires_ms;
  };
  // Any worker: `c`'s live entry, if there is one.
  std::optional<Found> find(const Client& c, uint32_t now_ms) const;
  // The owning worker: records (or refreshes) `c` → `backend` until `now_ms + timeout_ms`.
  // Returns true if a live entry of another client was given up to make room.
  bool record(const Client& c, uint16_t backend, uint32_t now_ms, uint32_t timeout_ms);
  // The owning worker: extends `c`'s entry, if it is there with `backend`, to
  // `now_ms + timeout_ms` — once its last extension is a second old, so that a busy client
  // does not cost a write per packet.
  void touch(const Client& c, uint16_t backend, uint32_t now_ms, uint32_t timeout_ms);

  // Any thread: the live entry in slot `slot` (0..capacity() - 1), if there is one. For a walk
  // of the whole table (connection sync sends it to the other directors).
  struct Held {
    Client client;
    uint16_t backend;
    uint32_t expires_ms;
  };
  std::optional<Held> at(uint32_t slot, uint32_t now_ms) const;

  uint32_t capacity() const { return bucket_count_ * kWays; }
  uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }

 private:
  static constexpr uint32_t kWays = 4;
  struct alignas(16) Entry {
    std::atomic<uint64_t> word{0};     // tag:16 | address:32 | backend:16; 0 = empty
    std::atomic<uint32_t> expires_ms{0};  // stored before `word` on insert
  };
  struct alignas(64) Bucket {
    Entry ways[kWays];
  };
  static uint64_t key_bits(const Client& c) { return uint64_t(c.service_tag) << 48 | uint64_t(c.address) << 16; }
  static constexpr uint64_t kKeyMask = ~uint64_t(0xffff);
  const Bucket& bucket(const Client& c) const;
  Bucket& bucket(const Client& c) { return const_cast<Bucket&>(std::as_const(*this).bucket(c)); }

  std::unique_ptr<Bucket[]> buckets_;
  uint32_t bucket_count_ = 0;  // a power of two
  std::atomic<uint64_t> evictions_{0};  // dp: wo (owner), cp: ro
};

}  // namespace shoal::dp

#include "flow_table.h"

#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace shoal::dp {
namespace {

// Maps a 32-bit hash onto [0, n) without a division (Lemire's multiply-shift), so the
// bucket count need not be a power of two and no memory is lost to rounding.
inline uint32_t range(uint32_t hash, uint32_t n) {
  return static_cast<uint32_t>((uint64_t(hash) * n) >> 32);
}

inline bool same_key(const FlowEntry& e, const FlowKey& k) {
  return e.src_ip == k.src_ip && e.dst_ip == k.dst_ip && e.src_port == k.src_port &&
         e.dst_port == k.dst_port && e.proto == k.proto;
}

// Wrap-safe "how long ago": correct while the true gap is under 2^31 ms (24 days), far
// beyond any timeout; ageing removes entries long before that.
inline uint32_t idle_ms(const FlowEntry& e, uint32_t now_ms) { return now_ms - e.last_seen_ms; }

}  // namespace

FlowTable::FlowTable(uint32_t capacity, const FlowTimeouts& timeouts, int socket)
    : timeouts_(timeouts) {
  bucket_count_ = (capacity + kFlowEntriesPerBucket - 1) / kFlowEntriesPerBucket;
  if (bucket_count_ == 0) bucket_count_ = 1;
  std::size_t bytes = memory_bytes();
  buckets_ = static_cast<FlowBucket*>(
      rte_zmalloc_socket("shoal_flow_table", bytes, alignof(FlowBucket), socket));
  rte_allocated_ = buckets_ != nullptr;
  if (buckets_ == nullptr) {
    buckets_ = static_cast<FlowBucket*>(std::aligned_alloc(alignof(FlowBucket), bytes));
    if (buckets_ == nullptr) throw std::bad_alloc();
    std::memset(static_cast<void*>(buckets_), 0, bytes);
  }
}

FlowTable::~FlowTable() {
  if (rte_allocated_)
    rte_free(buckets_);
  else
    std::free(buckets_);
}

uint32_t FlowTable::hash(const FlowKey& key) {
  uint32_t h = rte_hash_crc_4byte(key.src_ip, 0x5ca1ab1e);
  h = rte_hash_crc_4byte(key.dst_ip, h);
  h = rte_hash_crc_4byte(uint32_t(key.src_port) << 16 | key.dst_port, h);
  return rte_hash_crc_1byte(key.proto, h);
}

uint32_t FlowTable::first_bucket(uint32_t hash) const { return range(hash, bucket_count_); }

// A second, independent-looking position from the same hash (Fibonacci multiplier).
uint32_t FlowTable::second_bucket(uint32_t hash) const {
  return range(hash * 0x9e3779b1u, bucket_count_);
}

void FlowTable::prefetch(uint32_t hash) const { rte_prefetch0(&buckets_[first_bucket(hash)]); }

uint32_t FlowTable::timeout_ms(FlowState s) const {
  switch (s) {
    case FlowState::syn:
      return timeouts_.syn_ms;
    case FlowState::established:
      return timeouts_.established_ms;
    case FlowState::closing:
      return timeouts_.closing_ms;
    case FlowState::udp:
      return timeouts_.udp_ms;
    case FlowState::empty:
      break;
  }
  return 0;
}

bool FlowTable::expired(const FlowEntry& e, uint32_t now_ms) const {
  return idle_ms(e, now_ms) > timeout_ms(e.state);
}

FlowEntry* FlowTable::lookup(const FlowKey& key, uint32_t hash, uint32_t now_ms) {
  for (uint32_t b : {first_bucket(hash), second_bucket(hash)}) {
    for (FlowEntry& e : buckets_[b].entries) {
      if (e.state != FlowState::empty && same_key(e, key))
        return expired(e, now_ms) ? nullptr : &e;
    }
  }
  return nullptr;
}

FlowEntry* FlowTable::insert(const FlowKey& key, uint32_t hash, uint16_t backend,
                             FlowState state, uint32_t now_ms) {
  // Victim order: empty, then expired, then the lowest state class (FlowState is declared
  // in eviction order), then the longest idle.
  FlowEntry* victim = nullptr;
  int victim_rank = 0;
  uint32_t victim_idle = 0;
  for (uint32_t b : {first_bucket(hash), second_bucket(hash)}) {
    for (FlowEntry& e : buckets_[b].entries) {
      int rank;
      if (e.state == FlowState::empty)
        rank = -2;
      else if (expired(e, now_ms))
        rank = -1;
      else
        rank = static_cast<int>(e.state);
      uint32_t idle = idle_ms(e, now_ms);
      if (victim == nullptr || rank < victim_rank ||
          (rank == victim_rank && idle > victim_idle)) {
        victim = &e;
        victim_rank = rank;
        victim_idle = idle;
      }
      if (rank == -2) break;  // an empty slot cannot be beaten by a later one
    }
    if (victim_rank == -2) break;
  }

  if (victim_rank == -2)
    ++size_;
  else if (victim_rank == -1)
    ++stats_.expired;
  else
    ++stats_.evicted[static_cast<std::size_t>(victim->state)];
  ++stats_.inserted;

  *victim = FlowEntry{key.src_ip, key.dst_ip, key.src_port, key.dst_port,
                      now_ms,     backend,    key.proto,    state};
  return victim;
}

void FlowTable::age(uint32_t now_ms, uint32_t max_buckets) {
  if (max_buckets > bucket_count_) max_buckets = bucket_count_;
  for (uint32_t i = 0; i < max_buckets; ++i) {
    for (FlowEntry& e : buckets_[age_cursor_].entries) {
      if (e.state != FlowState::empty && expired(e, now_ms)) {
        e.state = FlowState::empty;
        --size_;
        ++stats_.expired;
      }
    }
    if (++age_cursor_ == bucket_count_) age_cursor_ = 0;
  }
}

FlowState FlowTable::initial_tcp_state(uint8_t tcp_flags) {
  if (tcp_flags & (kTcpRstFlag | kTcpFinFlag)) return FlowState::closing;
  if ((tcp_flags & (kTcpSynFlag | kTcpAckFlag)) == kTcpSynFlag) return FlowState::syn;
  return FlowState::established;
}

void FlowTable::observe_tcp(FlowEntry& e, uint8_t tcp_flags, uint32_t now_ms) {
  e.last_seen_ms = now_ms;
  if (tcp_flags & (kTcpRstFlag | kTcpFinFlag)) {
    e.state = FlowState::closing;
  } else if (tcp_flags & kTcpSynFlag) {
    // A new SYN on a known 5-tuple: the client reuses the port for a new connection.
    if (!(tcp_flags & kTcpAckFlag)) e.state = FlowState::syn;
  } else if (e.state == FlowState::syn && (tcp_flags & kTcpAckFlag)) {
    e.state = FlowState::established;
  }
}

}  // namespace shoal::dp

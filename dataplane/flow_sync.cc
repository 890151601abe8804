#include "dataplane/flow_sync.h"

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_rcu_qsbr.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace shoal::dp {
namespace {

// A flow key with its padding zeroed, since rte_hash compares whole keys.
template <typename Key>
struct SyncKey {
  decltype(Key::src_ip) src_ip;
  decltype(Key::dst_ip) dst_ip;
  uint16_t src_port;
  uint16_t dst_port;
  uint8_t proto;
  uint8_t zero[3];

  explicit SyncKey(const Key& k)
      : src_ip(k.src_ip), dst_ip(k.dst_ip), src_port(k.src_port), dst_port(k.dst_port),
        proto(k.proto), zero{0, 0, 0} {}
  Key key() const { return {src_ip, dst_ip, src_port, dst_port, proto}; }
};
static_assert(sizeof(SyncKey<FlowKey>) == 16 && sizeof(SyncKey<FlowKey6>) == 40);

template <typename Key>
uint32_t flow_hash(const Key& key) {
  if constexpr (std::is_same_v<Key, FlowKey>) return FlowTable::hash(key);
  else return FlowTable6::hash(key);
}

// The value lives in the table's data pointer: no allocation, and a reader sees an update
// whole (rte_hash swaps the pointer atomically in lock-free mode).
void* encode(const SyncedFlow& f) {
  return reinterpret_cast<void*>(uintptr_t(f.backend) | uintptr_t(f.state) << 16 |
                                 uintptr_t(f.updated_ms) << 32);
}

SyncedFlow decode(void* data) {
  const auto v = reinterpret_cast<uintptr_t>(data);
  return SyncedFlow{static_cast<uint16_t>(v), static_cast<FlowState>(v >> 16 & 0xff),
                    static_cast<uint32_t>(v >> 32)};
}
static_assert(sizeof(uintptr_t) == 8);

}  // namespace

template <typename Event>
FlowEventRingOf<Event>::FlowEventRingOf(const char* name, uint32_t capacity, int socket) {
  ring_ = rte_ring_create_elem(name, sizeof(Event), capacity, socket,
                               RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (ring_ == nullptr)
    throw std::runtime_error(std::string("flow event ring ") + name + ": " +
                             rte_strerror(rte_errno));
}

template <typename Event>
FlowEventRingOf<Event>::~FlowEventRingOf() { rte_ring_free(ring_); }

template class FlowEventRingOf<FlowEvent>;
template class FlowEventRingOf<FlowEvent6>;

template <typename Key>
SyncedFlowsOf<Key>::SyncedFlowsOf(uint32_t capacity, rte_rcu_qsbr* qsbr, int socket)
    : capacity_(capacity) {
  // DPDK names its tables process-wide: one name per instance (tests make several).
  static std::atomic<unsigned> instances{0};
  const char* family = std::is_same_v<Key, FlowKey> ? "shoal_synced_flows" : "shoal_synced_flows6_";
  const std::string name = family + std::to_string(instances++);
  rte_hash_parameters params{};
  params.name = name.c_str();
  params.entries = capacity;
  params.key_len = sizeof(SyncKey<Key>);
  params.hash_func = rte_hash_crc;  // unused: every call passes the flow table's hash
  params.socket_id = socket;
  params.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;
  table_ = rte_hash_create(&params);
  if (table_ == nullptr)
    throw std::runtime_error(std::string("synced flow table: ") + rte_strerror(rte_errno));
  rte_hash_rcu_config rcu{};
  rcu.v = qsbr;
  rcu.mode = RTE_HASH_QSBR_MODE_DQ;
  rcu_ = qsbr != nullptr;
  if (rcu_ && rte_hash_rcu_qsbr_add(table_, &rcu) != 0) {
    rte_hash_free(table_);
    throw std::runtime_error(std::string("synced flow table RCU: ") + rte_strerror(rte_errno));
  }
}

template <typename Key>
SyncedFlowsOf<Key>::~SyncedFlowsOf() { rte_hash_free(table_); }

template <typename Key>
std::optional<SyncedFlow> SyncedFlowsOf<Key>::lookup(const Key& key, uint32_t hash) const {
  if (size() == 0) return std::nullopt;
  const SyncKey<Key> k(key);
  void* data = nullptr;
  if (rte_hash_lookup_with_hash_data(table_, &k, hash, &data) < 0) return std::nullopt;
  return decode(data);
}

template <typename Key>
bool SyncedFlowsOf<Key>::upsert(const Key& key, const SyncedFlow& flow) {
  const SyncKey<Key> k(key);
  const uint32_t hash = flow_hash(key);
  const bool present = rte_hash_lookup_with_hash(table_, &k, hash) >= 0;
  if (rte_hash_add_key_with_hash_data(table_, &k, hash, encode(flow)) != 0) return false;
  if (!present) size_.store(size() + 1, std::memory_order_relaxed);
  return true;
}

template <typename Key>
bool SyncedFlowsOf<Key>::remove(const Key& key) {
  const SyncKey<Key> k(key);
  const int32_t position = rte_hash_del_key_with_hash(table_, &k, flow_hash(key));
  if (position < 0) return false;
  // In lock-free mode a deleted key's slot is reused only once freed: by the RCU defer queue,
  // or here at once when there is no reader to wait for.
  if (!rcu_) rte_hash_free_key_with_position(table_, position);
  size_.store(size() - 1, std::memory_order_relaxed);
  return true;
}

template <typename Key>
bool SyncedFlowsOf<Key>::next(uint32_t* cursor, Key* key, SyncedFlow* flow) const {
  const void* k = nullptr;
  void* data = nullptr;
  if (rte_hash_iterate(table_, &k, &data, cursor) < 0) return false;
  *key = static_cast<const SyncKey<Key>*>(k)->key();
  *flow = decode(data);
  return true;
}

template <typename Key>
uint32_t SyncedFlowsOf<Key>::age(uint32_t now_ms, const FlowTimeouts& timeouts, uint32_t max) {
  std::vector<Key> stale;
  Key key;
  SyncedFlow f;
  for (uint32_t visited = 0; visited < max; ++visited) {
    if (!next(&age_cursor_, &key, &f)) {
      age_cursor_ = 0;  // the end: start over on the next call
      break;
    }
    if (now_ms - f.updated_ms > timeouts.of(f.state)) stale.push_back(key);
  }
  uint32_t removed = 0;
  for (const Key& k : stale) removed += remove(k) ? 1 : 0;
  return removed;
}

template class SyncedFlowsOf<FlowKey>;
template class SyncedFlowsOf<FlowKey6>;

}  // namespace shoal::dp

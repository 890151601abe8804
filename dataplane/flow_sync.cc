#include "dataplane/flow_sync.h"

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_rcu_qsbr.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

namespace shoal::dp {
namespace {

// FlowKey with its padding zeroed, since rte_hash compares whole keys.
struct SyncKey {
  uint32_t src_ip;
  uint32_t dst_ip;
  uint16_t src_port;
  uint16_t dst_port;
  uint8_t proto;
  uint8_t zero[3];
};
static_assert(sizeof(SyncKey) == 16);

SyncKey sync_key(const FlowKey& k) {
  return SyncKey{k.src_ip, k.dst_ip, k.src_port, k.dst_port, k.proto, {0, 0, 0}};
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

FlowEventRing::FlowEventRing(const char* name, uint32_t capacity, int socket) {
  ring_ = rte_ring_create_elem(name, sizeof(FlowEvent), capacity, socket,
                               RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (ring_ == nullptr)
    throw std::runtime_error(std::string("flow event ring ") + name + ": " +
                             rte_strerror(rte_errno));
}

FlowEventRing::~FlowEventRing() { rte_ring_free(ring_); }

SyncedFlows::SyncedFlows(uint32_t capacity, rte_rcu_qsbr* qsbr, int socket)
    : capacity_(capacity) {
  // DPDK names its tables process-wide: one name per instance (tests make several).
  static std::atomic<unsigned> instances{0};
  const std::string name = "shoal_synced_flows" + std::to_string(instances++);
  rte_hash_parameters params{};
  params.name = name.c_str();
  params.entries = capacity;
  params.key_len = sizeof(SyncKey);
  params.hash_func = rte_hash_crc;  // unused: every call passes FlowTable::hash
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

SyncedFlows::~SyncedFlows() { rte_hash_free(table_); }

std::optional<SyncedFlow> SyncedFlows::lookup(const FlowKey& key, uint32_t hash) const {
  if (size() == 0) return std::nullopt;
  const SyncKey k = sync_key(key);
  void* data = nullptr;
  if (rte_hash_lookup_with_hash_data(table_, &k, hash, &data) < 0) return std::nullopt;
  return decode(data);
}

bool SyncedFlows::upsert(const FlowKey& key, const SyncedFlow& flow) {
  const SyncKey k = sync_key(key);
  const uint32_t hash = FlowTable::hash(key);
  const bool present = rte_hash_lookup_with_hash(table_, &k, hash) >= 0;
  if (rte_hash_add_key_with_hash_data(table_, &k, hash, encode(flow)) != 0) return false;
  if (!present) size_.store(size() + 1, std::memory_order_relaxed);
  return true;
}

bool SyncedFlows::remove(const FlowKey& key) {
  const SyncKey k = sync_key(key);
  const int32_t position = rte_hash_del_key_with_hash(table_, &k, FlowTable::hash(key));
  if (position < 0) return false;
  // In lock-free mode a deleted key's slot is reused only once freed: by the RCU defer queue,
  // or here at once when there is no reader to wait for.
  if (!rcu_) rte_hash_free_key_with_position(table_, position);
  size_.store(size() - 1, std::memory_order_relaxed);
  return true;
}

bool SyncedFlows::next(uint32_t* cursor, FlowKey* key, SyncedFlow* flow) const {
  const void* k = nullptr;
  void* data = nullptr;
  if (rte_hash_iterate(table_, &k, &data, cursor) < 0) return false;
  const auto* sk = static_cast<const SyncKey*>(k);
  *key = FlowKey{sk->src_ip, sk->dst_ip, sk->src_port, sk->dst_port, sk->proto};
  *flow = decode(data);
  return true;
}

uint32_t SyncedFlows::age(uint32_t now_ms, const FlowTimeouts& timeouts, uint32_t max) {
  std::vector<FlowKey> stale;
  FlowKey key;
  SyncedFlow f;
  for (uint32_t visited = 0; visited < max; ++visited) {
    if (!next(&age_cursor_, &key, &f)) {
      age_cursor_ = 0;  // the end: start over on the next call
      break;
    }
    if (now_ms - f.updated_ms > timeouts.of(f.state)) stale.push_back(key);
  }
  uint32_t removed = 0;
  for (const FlowKey& k : stale) removed += remove(k) ? 1 : 0;
  return removed;
}

}  // namespace shoal::dp

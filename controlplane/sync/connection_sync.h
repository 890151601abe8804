// Connection sync: NAT connections survive a failover between directors even when their
// Maglev tables differ (another backend set, other weights, a drained backend), because the
// director holding a VIP tells its peers which backend each flow is pinned to. IPv4 and IPv6
// flows alike: each family has its event rings and synced table, and both share the messages.
//
// - Holding a synced service's VIP, the workers report flow creations, state and backend
//   changes and removals (FlowEvents); this class, on the control thread, batches them into
//   UDP datagrams to a multicast group on the LAN (sync/message.h): full datagrams as events
//   come, the partly filled one at the end of each control loop, and at most kFramesPerPoll
//   per loop, the rest waiting on the workers' rings. Each worker's dp::SyncWalker re-reports
//   active flows every refresh period.
// - Not holding it, a director installs what it hears into SyncedFlows, mapped to its own
//   backend of the same address:port, and ages the entries by the flow timeouts since they were
//   last heard. After a takeover the workers claim them on the flows' first packets.
// - Persistence entries (dataplane/scheduler/persistence.h) of synced services go too, so that
//   a client keeps its real server across a failover: every kPersistenceIntervalMs the
//   director holding the VIP walks its workers' tables (read-only, in slices) and sends the
//   entries that are new or were extended since it last sent them, with the time they have
//   left. A peer keeps them in one table of its own, written here and read by its workers as
//   one more worker's.
// - On start a director pulls: it asks the group for every synced flow; a director holding
//   synced VIPs answers with a full walk of its tables (its workers' flow tables, and the
//   flows it took over that no packet has claimed yet) and a pull_done. Until the pull is done
//   (or pull_timeout passes) VRRP must not preempt a master (pull_settled()). The first
//   pull_done ends the pull: with more than two directors, each VIP's master answers, and a
//   director that would preempt several masters waits for the quickest alone.
//
// Control thread only, except the FlowEventRings, SyncWalkers and SyncedFlows it shares with
// the workers (see flow_sync.h).
#pragma once

#include <rte_ether.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "dataplane/flow_sync.h"
#include "dataplane/snapshot.h"
#include "sync/message.h"
#include "dataplane/worker/sync_walker.h"

struct rte_rcu_qsbr;

namespace shoal::cp {

enum class PullState : uint8_t { pulling, done, timed_out };
std::string_view name(PullState s);

struct SyncCounters {
  uint64_t messages_sent = 0;
  uint64_t flows_sent = 0;     // entries sent (upserts and removals)
  uint64_t messages_received = 0;
  uint64_t messages_missed = 0;  // gaps in a peer's sequence numbers: datagrams lost
  uint64_t flows_received = 0;  // entries received
  uint64_t installed = 0;       // upserts taken into the table
  uint64_t removed = 0;         // removals that found their flow
  uint64_t aged = 0;            // flows no peer reported for longer than their timeout
  uint64_t events_unsendable = 0;  // local events whose backend no longer exists
  uint64_t pulls_answered = 0;
  uint64_t persistence_sent = 0;       // persistence entries sent
  uint64_t persistence_received = 0;   // persistence entries received
  uint64_t persistence_installed = 0;  // taken into the table (new, or a later expiry)
  std::array<uint64_t, kSyncDropCount> drops{};
};

class ConnectionSync {
 public:
  static constexpr uint32_t kEventRingSize = 65536;  // per worker
  static constexpr uint32_t kFramesPerPoll = 32;
  static constexpr uint32_t kPullRetryMs = 1000;
  // The synced table's ageing: up to kAgePerSlice flows every kAgeIntervalMs (160,000 flows
  // a second: a full pass over a million flows in about 6 s, well inside any timeout).
  static constexpr uint32_t kAgeIntervalMs = 50;
  static constexpr uint32_t kAgePerSlice = 8192;
  // The walk of the workers' persistence tables: a pass at most every kPersistenceIntervalMs
  // (an entry is extended at most once a second), kPersistenceSlotsPerPoll slots a loop.
  static constexpr uint32_t kPersistenceIntervalMs = 1000;
  static constexpr uint32_t kPersistenceSlotsPerPoll = 8192;

  // Needs a running EAL. `mac`, `src_ip` and `mtu` are the sync port's.
  ConnectionSync(const ConnectionSyncSettings& settings, const dp::FlowTimeouts& timeouts,
                 uint32_t workers, rte_rcu_qsbr* qsbr, int socket, const rte_ether_addr& mac,
                 uint32_t src_ip, uint16_t mtu, uint32_t persistence_capacity);
  ~ConnectionSync();

  // Once the workers exist: their persistence tables, whose entries go to the peers.
  void watch_persistence(std::vector<const dp::PersistenceTable*> tables) {
    local_persistence_ = std::move(tables);
  }
  // The entries peers sent (what the workers read, and the API's simulate).
  const dp::PersistenceTable& synced_persistence() const { return *synced_persistence_; }

  // What worker `w` attaches (dp::Worker::attach_sync).
  dp::FlowSyncContext context(uint32_t w) const;
  dp::SyncWalker* walker(uint32_t w) { return walkers_[w].get(); }

  // Each published Snapshot's spec: which services are synced and held, and their backends.
  void update(const dp::SnapshotSpec& spec);
  // Starts the pull.
  void start(uint32_t now_ms);
  // A UDP datagram to the group's port: its payload, the sender and the IPv4 TTL.
  void receive(const uint8_t* payload, std::size_t len, uint32_t src_ip, uint8_t ttl,
               uint32_t now_ms);
  // Once per control loop: sends the workers' events, answers pulls, ages the table, retries
  // or gives up the pull.
  void poll(uint32_t now_ms);
  // The frames to send on the sync port, in order.
  std::vector<std::vector<uint8_t>> take_frames() { return std::move(frames_); }

  // VRRP may preempt: the pull is over (done or timed out).
  bool pull_settled() const { return pull_ != PullState::pulling; }
  PullState pull_state() const { return pull_; }
  const SyncCounters& counters() const { return counters_; }
  uint64_t events_lost() const;  // worker rings that were full
  // Flows peers pinned here, of both families.
  uint32_t table_size() const { return synced_->size() + synced6_->size(); }
  uint32_t table_size6() const { return synced6_->size(); }
  nlohmann::json status(uint64_t claimed) const;
  std::string counter_line(uint64_t claimed) const;

 private:
  struct ServiceEntry {
    bool owned = false;
    uint16_t persistence_tag = 0;  // 0: no persistence
    uint32_t persistence_timeout_ms = 0;
    uint32_t persistence_mask = 0xffffffff;
    std::map<std::pair<IpAddress, uint16_t>, uint16_t> backends;  // (ip, port) → backend id
    std::vector<dp::PortRange> port_ranges;  // a multi-port service's; see dp::ServiceSpec
  };
  // VIP, port (0: multi-port), protocol.
  using ServiceKey = std::tuple<IpAddress, uint16_t, uint8_t>;

  // The synced service a flow to (vip, port, proto) belongs to, as the dataplane classifies:
  // the service with the port, else the VIP's service on every port. nullptr if none.
  const ServiceEntry* find_service(const IpAddress& vip, uint16_t port, uint8_t proto) const;

  // A flows or wide_flows message's entries, each `entry_len` bytes.
  void receive_flows(const uint8_t* entries, uint16_t count, std::size_t entry_len,
                     uint32_t now_ms);
  void install(const SyncEntry& e, uint32_t now_ms);
  void receive_persistence(const uint8_t* entries, uint16_t count, std::size_t entry_len,
                           uint32_t now_ms);
  // The next slice of the walk of the workers' persistence tables.
  void walk_persistence(uint32_t now_ms);
  // Sends up to `max_entries` of the workers' events (fewer once kFramesPerPoll are queued).
  void drain_events(uint32_t max_entries);
  // One ring's share of it; returns the budget left.
  template <typename Ring>
  uint32_t drain_ring(Ring& ring, uint32_t max_entries);
  // Walks every table for a pull from `to`; pull_done goes once everything is sent.
  void start_answer(uint32_t to);
  // Answering a pull: the next slice of flows peers pinned here for VIPs this director holds
  // now (flows it took over that no packet has claimed yet). False once both tables are done.
  bool walk_synced_for_pull(uint32_t max_visits);
  template <typename Key>
  bool walk_synced_for_pull(const dp::SyncedFlowsOf<Key>& table, uint32_t* cursor,
                            uint32_t max_visits);
  // A flow's entry, to a backend known here; nullopt (counted) if it is not.
  template <typename Key>
  std::optional<SyncEntry> to_entry(const Key& key, dp::FlowState state, uint16_t backend) const;
  void add_entry(const SyncEntry& e);
  void add_persistence(const SyncPersistence& p);
  // Sends the pending entries of each kind in one datagram each.
  void flush();
  // A datagram of `type` with `count` entries that `write(entry_start, i)` fills in.
  template <typename WriteEntry>
  void send_entries(SyncMessageType type, std::size_t count, WriteEntry write);
  template <typename Key>
  dp::SyncedFlowsOf<Key>& synced_table() {
    if constexpr (std::is_same_v<Key, dp::FlowKey>) return *synced_;
    else return *synced6_;
  }
  void send_control(SyncMessageType type);
  void drop(SyncDrop r) { ++counters_.drops[static_cast<std::size_t>(r)]; }

  ConnectionSyncSettings settings_;
  dp::FlowTimeouts timeouts_;
  rte_ether_addr mac_;
  uint32_t src_ip_;
  std::size_t entries_per_message_;
  std::size_t wide_entries_per_message_;
  std::size_t wide_persistence_per_message_;
  std::unique_ptr<dp::SyncedFlows> synced_;
  std::unique_ptr<dp::SyncedFlows6> synced6_;
  std::vector<std::unique_ptr<dp::FlowEventRing>> rings_;
  std::vector<std::unique_ptr<dp::FlowEventRing6>> rings6_;
  std::vector<std::unique_ptr<dp::SyncWalker>> walkers_;

  std::map<ServiceKey, ServiceEntry> services_;  // synced services only
  std::map<uint32_t, uint32_t> last_sequence_;   // by peer address
  std::unordered_map<uint16_t, std::pair<IpAddress, uint16_t>> backend_address_;  // id → ip, port
  bool holds_synced_ = false;

  uint32_t aged_at_ms_ = 0;
  std::vector<SyncEntry> pending_;       // entries of the next flows message
  std::vector<SyncEntry> pending_wide_;  // of the next wide_flows message
  std::vector<SyncPersistence> pending_persistence_;  // of the next persistence message
  std::vector<SyncPersistence> pending_wide_persistence_;

  std::unique_ptr<dp::PersistenceTable> synced_persistence_;     // what peers sent
  std::vector<const dp::PersistenceTable*> local_persistence_;  // the workers'
  std::unordered_map<uint16_t, ServiceKey> persistent_owned_;    // by persistence tag
  // The walk: where it is (worker × slot), when the pass began, and the expiry last sent for
  // each client (tag << 32 | masked address), pruned at the end of each pass.
  uint64_t persistence_cursor_ = 0;
  uint32_t persistence_pass_ms_ = 0;
  bool persistence_walking_ = false;
  std::unordered_map<uint64_t, uint32_t> persistence_sent_;
  std::vector<std::vector<uint8_t>> frames_;
  uint32_t sequence_ = 0;

  PullState pull_ = PullState::pulling;
  uint32_t pull_started_ms_ = 0;
  uint32_t pull_sent_ms_ = 0;
  uint64_t pull_flows_at_start_ = 0;
  // A pull being answered: the walkers' tickets, the walk of synced_, who asked (for the log).
  std::vector<uint32_t> answer_tickets_;
  bool answering_ = false;
  bool answer_synced_done_ = false;
  uint32_t answer_cursor_ = 0;   // in synced_, then
  uint32_t answer_cursor6_ = 0;  // in synced6_
  uint32_t answer_to_ = 0;
  uint32_t answer_again_ = 0;  // another director asked meanwhile: answer it next
  uint64_t answer_flows_at_start_ = 0;

  SyncCounters counters_;
};

}  // namespace shoal::cp

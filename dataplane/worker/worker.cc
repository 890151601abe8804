#include "dataplane/worker/worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <sys/prctl.h>

#include <algorithm>
#include <stdexcept>
#include <type_traits>

namespace shoal::dp {
namespace {

constexpr uint16_t kRxBurst = 32;
// Ageing keeps pace with the clock, not with the loop: each whole table every kAgeSweepMs, at
// most kAgeBucketsPerLoop buckets a turn. Paced by the loop alone, a worker spinning under
// load walked a 2^20-flow table dozens of times a second, a quarter of its time in the lab.
constexpr uint32_t kAgeBucketsPerLoop = 64;
constexpr uint32_t kAgeSweepMs = 500;

// One flow table's ageing budget: the buckets the clock says are due and no turn has aged yet.
class AgePacer {
 public:
  explicit AgePacer(uint32_t buckets)
      : per_ms_(std::max(1u, buckets / kAgeSweepMs)), buckets_(buckets) {}
  // The buckets to age this turn, `elapsed_ms` after the last.
  uint32_t due(uint32_t elapsed_ms) {
    owed_ = static_cast<uint32_t>(
        std::min<uint64_t>(owed_ + uint64_t(elapsed_ms) * per_ms_, buckets_));
    const uint32_t n = std::min(owed_, kAgeBucketsPerLoop);
    owed_ -= n;
    return n;
  }

 private:
  uint32_t per_ms_;
  uint32_t buckets_;
  uint32_t owed_ = 0;
};

// Adaptive polling: spin while traffic flows; after kIdlePollsBeforeSleep empty polls sleep
// kMinSleepUs, doubling up to kMaxSleepUs while idle. 200 µs bounds the latency a sleeping
// worker adds to the first packet of a burst and the time an RCU grace period waits on it.
constexpr uint32_t kIdlePollsBeforeSleep = 256;
constexpr uint32_t kMinSleepUs = 10;
constexpr uint32_t kMaxSleepUs = 200;

}  // namespace

uint32_t now_ms() {
  static const uint64_t hz = rte_get_timer_hz();
  return static_cast<uint32_t>(rte_get_timer_cycles() * 1000 / hz);
}

Worker::Worker(uint32_t id, uint16_t queue, const WorkerPorts& ports, SnapshotPublisher& publisher,
               rte_ring* to_control, const std::atomic<bool>& stop, uint32_t flow_capacity,
               const FlowTimeouts& timeouts, int socket, uint32_t persistence_capacity)
    : id_(id), queue_(queue), ports_(ports), publisher_(publisher), to_control_(to_control),
      stop_(stop), flows_(flow_capacity, timeouts, socket),
      flows6_(std::max<uint32_t>(flow_capacity / kIpv6FlowShare, 1024), timeouts, socket,
              &flows_.connections()),
      scheduler_(flows_.connections(), persistence_capacity) {
  if (!control_reason_field_registered())
    throw std::logic_error("register_control_reason_field() before making a Worker");
}

void Worker::attach_sync(const FlowSyncContext& sync, SyncWalker* walker) {
  sync_ = sync;
  walker_ = walker;
  scheduler_.set_synced_persistence(sync.persistence);
  if (sync_.events != nullptr) flows_.on_remove(&Worker::flow_removed<FlowEntry>, this);
  if (sync_.events6 != nullptr) flows6_.on_remove(&Worker::flow_removed<FlowEntry6>, this);
}

void Worker::set_peers(const std::vector<const Worker*>& workers) {
  std::vector<const WorkerScheduler*> peers;
  for (const Worker* w : workers)
    if (w != this) peers.push_back(&w->scheduler_);
  scheduler_.set_peers(peers);
}

template <typename Entry>
void Worker::flow_removed(void* worker, const Entry& gone) {
  auto* w = static_cast<Worker*>(worker);
  if (w->snapshot_ == nullptr) return;
  // A VIP another director holds now classifies as not_owned: its flows are the holder's news.
  uint16_t index = 0;
  if constexpr (std::is_same_v<Entry, FlowEntry>) {
    if (w->snapshot_->classify(gone.dst_ip, gone.dst_port, gone.proto, &index) ==
            AddressKind::service &&
        w->snapshot_->service(index).sync)
      w->sync_.events->push(flow_event(gone, FlowState::empty));
  } else {
    if (w->snapshot_->classify6(gone.dst_ip, gone.dst_port, gone.proto, &index) ==
            AddressKind::service &&
        w->snapshot_->service(index).sync)
      w->sync_.events6->push(flow_event(gone, FlowState::empty));
  }
}

void Worker::run() {
  // The default 50 µs timer slack would stretch every short idle sleep to ~60 µs and add it to
  // the latency of the packet that ends the idle spell.
  prctl(PR_SET_TIMERSLACK, 1000UL);
  publisher_.register_worker(id_);
  rte_mbuf* pkts[kRxBurst];
  Verdict verdicts[kRxBurst];
  const uint64_t hz = rte_get_timer_hz();
  AgePacer age4(flows_.bucket_count());
  AgePacer age6(flows6_.bucket_count());
  uint32_t idle_polls = 0;
  uint32_t sleep_us = kMinSleepUs;
  uint32_t aged_until_ms = now_ms();
  while (!stop_.load(std::memory_order_relaxed)) {
    const uint64_t start = rte_get_timer_cycles();
    const auto now = static_cast<uint32_t>(start * 1000 / hz);
    const Snapshot* snap = publisher_.current();
    snapshot_ = snap;
    scheduler_.refresh(*snap, now);
    uint32_t received = 0;
    for (uint16_t port : ports_.port_ids) {
      uint16_t n = rte_eth_rx_burst(port, queue_, pkts, kRxBurst);
      if (n == 0) continue;
      received += n;
      process_burst(pkts, n, {*snap, flows_, counters_, scheduler_, now, sync_, &flows6_},
                    verdicts);
      dispatch(pkts, verdicts, n);
    }
    if (id_ == 0) drain_control_tx();
    const uint32_t elapsed_ms = now - aged_until_ms;
    aged_until_ms = now;
    if (const uint32_t n = age4.due(elapsed_ms)) flows_.age(now, n);
    if (const uint32_t n = age6.due(elapsed_ms)) flows6_.age(now, n);
    sampler_.step(flows_, flows6_, now);
    if (walker_ != nullptr)
      walker_->step(flows_, flows6_, *snap, *sync_.events, *sync_.events6, now);
    publisher_.quiescent(id_);

    const uint64_t cycles = rte_get_timer_cycles() - start;
    if (received != 0) {
      counters_.busy_polls.add();
      counters_.busy_cycles.add(cycles);
      idle_polls = 0;
      sleep_us = kMinSleepUs;
    } else {
      counters_.empty_polls.add();
      counters_.empty_cycles.add(cycles);
      if (++idle_polls >= kIdlePollsBeforeSleep) {
        counters_.idle_sleeps.add();
        rte_delay_us_sleep(sleep_us);
        sleep_us = std::min(sleep_us * 2, kMaxSleepUs);
      }
    }
  }
  snapshot_ = nullptr;
  publisher_.unregister_worker(id_);
}

void Worker::dispatch(rte_mbuf** pkts, const Verdict* verdicts, uint16_t n) {
  rte_mbuf* out[kRxBurst];
  uint16_t out_port[kRxBurst];
  uint16_t n_out = 0;
  bool one_port = true;
  rte_mbuf* control[kRxBurst];
  ControlReason reasons[kRxBurst];  // control[k]'s, to move exactly its count if refused
  uint16_t n_control = 0;
  for (uint16_t i = 0; i < n; ++i) {
    switch (verdicts[i].action) {
      case Action::transmit:
        out[n_out] = pkts[i];
        out_port[n_out] = verdicts[i].tx_port;
        one_port = one_port && out_port[n_out] == out_port[0];
        ++n_out;
        break;
      case Action::to_control:
        reasons[n_control] = verdicts[i].control_reason();
        set_control_reason(pkts[i], reasons[n_control]);
        control[n_control++] = pkts[i];
        break;
      case Action::drop:
        rte_pktmbuf_free(pkts[i]);
        break;
    }
  }
  // Most bursts leave by a single port: sent as gathered, no regrouping.
  if (n_out != 0) {
    if (one_port)
      transmit(out_port[0], out, n_out);
    else
      transmit_per_port(out, out_port, n_out);
  }
  if (n_control == 0) return;
  const auto queued = static_cast<uint16_t>(
      rte_ring_enqueue_burst(to_control_, reinterpret_cast<void**>(control), n_control, nullptr));
  if (queued == n_control) return;
  for (uint16_t k = queued; k < n_control; ++k) counters_.control_failed(reasons[k], 1);
  rte_pktmbuf_free_bulk(control + queued, n_control - queued);
}

// Frames for several ports in one burst: a counting sort by port, which keeps each port's
// frames in arrival order, then one transmit per port.
void Worker::transmit_per_port(rte_mbuf** pkts, const uint16_t* ports, uint16_t n) {
  uint16_t next[RTE_MAX_ETHPORTS] = {};
  for (uint16_t i = 0; i < n; ++i) ++next[ports[i]];
  uint16_t start[RTE_MAX_ETHPORTS];
  uint16_t at = 0;
  for (uint16_t port = 0; port < RTE_MAX_ETHPORTS; ++port) {
    start[port] = at;
    at = static_cast<uint16_t>(at + next[port]);
    next[port] = start[port];
  }
  rte_mbuf* grouped[kRxBurst];
  for (uint16_t i = 0; i < n; ++i) grouped[next[ports[i]]++] = pkts[i];
  for (uint16_t port = 0; port < RTE_MAX_ETHPORTS; ++port)
    if (next[port] != start[port])
      transmit(port, grouped + start[port], static_cast<uint16_t>(next[port] - start[port]));
}

void Worker::transmit(uint16_t port, rte_mbuf** pkts, uint16_t n) {
  uint16_t sent = rte_eth_tx_burst(port, queue_, pkts, n);
  if (sent < n) {
    counters_.transmit_failed(n - sent);
    rte_pktmbuf_free_bulk(pkts + sent, n - sent);
  }
}

// Frames the control plane built (ARP, ICMP, gratuitous ARP) go out on worker 0's queues,
// so that no transmit queue has two writers.
void Worker::drain_control_tx() {
  rte_mbuf* pkts[kRxBurst];
  for (std::size_t p = 0; p < ports_.port_ids.size(); ++p) {
    unsigned n = rte_ring_dequeue_burst(ports_.control_tx[p], reinterpret_cast<void**>(pkts),
                                        kRxBurst, nullptr);
    if (n == 0) continue;
    uint16_t sent = rte_eth_tx_burst(ports_.port_ids[p], queue_, pkts, static_cast<uint16_t>(n));
    if (sent < n) rte_pktmbuf_free_bulk(pkts + sent, n - sent);
  }
}

}  // namespace shoal::dp

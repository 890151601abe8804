// A worker lcore: polls its receive queue on every port, runs the packet core's entry point
// on each burst, transmits, hands frames for the control plane to its ring and frees drops.
// Polls adaptively: after a run of empty polls it sleeps a little, longer while it stays idle,
// so that several directors, clients and servers can share a small machine.
#pragma once

#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "dataplane/worker/control_reason_field.h"  // on every frame handed to the control plane
#include "dataplane/worker/flow_sampler.h"
#include "dataplane/flow_table.h"
#include "dataplane/pipeline.h"
#include "dataplane/scheduler/worker_scheduler.h"
#include "dataplane/worker/publisher.h"
#include "dataplane/worker/sync_walker.h"

namespace shoal::dp {

struct WorkerPorts {
  std::vector<uint16_t> port_ids;       // every port the director drives
  std::vector<rte_ring*> control_tx;    // per port: frames the control plane sends (worker 0)
};

class Worker {
 public:
  // IPv6 flows a worker holds: a quarter as many as IPv4 ones (64 bytes each against 21.3).
  static constexpr uint32_t kIpv6FlowShare = 4;

  Worker(uint32_t id, uint16_t queue, const WorkerPorts& ports, SnapshotPublisher& publisher,
         rte_ring* to_control, const std::atomic<bool>& stop, uint32_t flow_capacity,
         const FlowTimeouts& timeouts, int socket,
         uint32_t persistence_capacity = WorkerScheduler::kDefaultPersistenceCapacity);

  // The lcore's body; returns when `stop` becomes true.
  void run();
  // rte_eal_remote_launch's signature for run().
  static int launch(void* worker) {
    static_cast<Worker*>(worker)->run();
    return 0;
  }

  // Before run(): connection sync's tables and this worker's walker (connection_sync.h).
  void attach_sync(const FlowSyncContext& sync, SyncWalker* walker);

  const WorkerCounters& counters() const { return counters_; }
  const FlowTable& flows() const { return flows_; }
  const FlowTable6& flows6() const { return flows6_; }
  FlowSampler& flow_sampler() { return sampler_; }
  // Before run(): the other workers, whose connection counts lc, wlc, sed and nq read, and
  // whose persistence entries this one follows.
  void set_peers(const std::vector<const Worker*>& workers);
  const WorkerScheduler& scheduler() const { return scheduler_; }
  uint32_t id() const { return id_; }

 private:
  void dispatch(rte_mbuf** pkts, const Verdict* verdicts, uint16_t n);
  void transmit(uint16_t port, rte_mbuf** pkts, uint16_t n);
  void transmit_per_port(rte_mbuf** pkts, const uint16_t* ports, uint16_t n);
  void drain_control_tx();
  // The flow tables' RemoveHook: a synced flow is gone; tell the peers.
  template <typename Entry>
  static void flow_removed(void* worker, const Entry& gone);

  uint32_t id_;
  uint16_t queue_;
  WorkerPorts ports_;
  SnapshotPublisher& publisher_;
  rte_ring* to_control_;
  const std::atomic<bool>& stop_;
  FlowTable flows_;         // this worker's alone
  FlowTable6 flows6_;  // a kIpv6FlowShare-th as many flows as `flows_`, sharing its counts
  WorkerCounters counters_;  // dp: wo, cp: ro
  FlowSampler sampler_;
  WorkerScheduler scheduler_;  // over flows_' connection counts
  FlowSyncContext sync_;
  SyncWalker* walker_ = nullptr;
  const Snapshot* snapshot_ = nullptr;  // this loop's: what flow_removed() classifies by
};

// Milliseconds on a monotonic clock, as the flow table counts time.
uint32_t now_ms();

}  // namespace shoal::dp

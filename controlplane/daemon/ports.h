// The director's DPDK side as the control loop drives it: the EAL, the mbuf pool, the ports
// with one queue pair per worker, the ring on which workers hand frames to the control plane,
// per port the ring of frames the control plane sends (drained by worker 0, so that no
// transmit queue has two writers), and each port's exception path.
#pragma once

#include <rte_mempool.h>
#include <rte_ring.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/counters.h"
#include "config/config.h"
#include "net/exception_path.h"
#include "net/snapshot_builder.h"

namespace shoal::cp {

class Ports {
 public:
  Ports() = default;
  ~Ports();  // frees the rings and the pool and cleans the EAL up; stop() first
  Ports(const Ports&) = delete;
  Ports& operator=(const Ports&) = delete;

  // `eal_override`: EAL arguments from the command line, used instead of the config's.
  // Both throw std::runtime_error with a message for the operator.
  void start_eal(const Config& config, const std::vector<std::string>& eal_override);
  void start(const Config& config);
  // Stops and closes the devices (the TAPs' kernel interfaces go with them). Before the
  // workers go: nothing may receive into a queue nobody polls.
  void stop();

  std::size_t size() const { return handles_.size(); }
  const std::vector<PortHandle>& handles() const { return handles_; }
  const PortHandle& handle(std::size_t port) const { return handles_[port]; }
  // The config index of DPDK port `dpdk_id`, or -1.
  int index_of(uint16_t dpdk_id) const;
  rte_mempool* pool() const { return pool_; }
  rte_ring* to_control() const { return to_control_; }
  const std::vector<rte_ring*>& control_tx() const { return control_tx_; }
  // The port's exception path, or nullptr if it has none.
  ExceptionPath* tap(std::size_t port) const { return taps_[port].get(); }

  // The port's driver counters (rte_eth_stats and xstats). Control loop only.
  PortCounters counters(std::size_t port, const std::string& name) const;

  // Queues a frame the control plane built for port `port` (a copy; dropped if the pool or
  // the ring is exhausted).
  void send(std::size_t port, const uint8_t* frame, uint16_t len);
  // Queues `m` as it is; false (and `m` still the caller's) if the ring is full.
  bool send(std::size_t port, rte_mbuf* m);
  // Sends out of their ports what the kernel wrote on the exception paths; returns how many.
  unsigned forward_from_kernel();

 private:
  bool eal_started_ = false;
  std::vector<PortHandle> handles_;
  rte_mempool* pool_ = nullptr;
  rte_ring* to_control_ = nullptr;
  std::vector<rte_ring*> control_tx_;                 // per port
  std::vector<std::unique_ptr<ExceptionPath>> taps_;  // per port; null without one
};

}  // namespace shoal::cp

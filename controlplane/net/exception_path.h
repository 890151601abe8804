// The exception path of one port: a DPDK net_tap device whose kernel side holds the port's
// local addresses, with the port's MAC. The control loop gives it the frames workers hand
// over for those addresses (ControlReason::local, ARP) and sends what the kernel transmits on
// it out of the port — so processes on the director (health checks, ssh, monitoring) reach
// the network through a NIC the kernel does not see. VIP traffic never goes this way.
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <string>

#include "config/config.h"

namespace shoal::cp {

class ExceptionPath {
 public:
  // The EAL --vdev argument that creates the TAP of config.ports[port].
  static std::string vdev_argument(const Config& config, std::size_t port);

  // After the EAL has created the device: one queue pair, the port's MAC and MTU, started,
  // and the kernel side configured (configure_kernel_interface). Throws std::runtime_error.
  ExceptionPath(const Config& config, std::size_t port, const rte_ether_addr& mac,
                rte_mempool* pool);
  ~ExceptionPath();  // closing the device removes the kernel interface
  ExceptionPath(const ExceptionPath&) = delete;
  ExceptionPath& operator=(const ExceptionPath&) = delete;

  // Gives a frame to the kernel. Takes `m` either way (freed, counted, if the TAP is full).
  void to_kernel(rte_mbuf* m);
  // Frames the kernel sent, for the wire.
  uint16_t from_kernel(rte_mbuf** out, uint16_t max);

  const std::string& ifname() const { return ifname_; }
  uint64_t to_kernel_count() const { return to_kernel_; }
  uint64_t from_kernel_count() const { return from_kernel_; }
  uint64_t dropped_count() const { return dropped_; }

 private:
  std::string ifname_;
  uint16_t id_ = 0;  // the TAP's DPDK port
  uint64_t to_kernel_ = 0, from_kernel_ = 0, dropped_ = 0;  // cp only
};

}  // namespace shoal::cp

#include "net/exception_path.h"

#include <rte_ethdev.h>

#include <stdexcept>

#include "net/kernel_interface.h"

namespace shoal::cp {
namespace {

constexpr uint16_t kDescriptors = 512;

// net_tap matches devices by name prefix; the suffix keeps clear of ports the operator names
// net_tap0, net_tap1... in the config.
std::string device_name(std::size_t port) { return "net_tap_exception" + std::to_string(port); }

}  // namespace

std::string ExceptionPath::vdev_argument(const Config& config, std::size_t port) {
  return device_name(port) + ",iface=" + config.ports[port].tap;
}

ExceptionPath::ExceptionPath(const Config& config, std::size_t port, const rte_ether_addr& mac,
                             rte_mempool* pool)
    : ifname_(config.ports[port].tap) {
  const std::string what = "exception path " + ifname_ + " of port " + config.ports[port].name;
  if (rte_eth_dev_get_port_by_name(device_name(port).c_str(), &id_) != 0)
    throw std::runtime_error(what + ": the EAL did not create " + device_name(port));
  rte_eth_conf conf{};
  int rc = rte_eth_dev_configure(id_, 1, 1, &conf);
  const int socket = rte_eth_dev_socket_id(id_);
  if (rc == 0) rc = rte_eth_rx_queue_setup(id_, 0, kDescriptors, socket, nullptr, pool);
  if (rc == 0) rc = rte_eth_tx_queue_setup(id_, 0, kDescriptors, socket, nullptr);
  // The kernel's frames must carry the port's MAC: the network knows the port's addresses by it.
  if (rc == 0) rc = rte_eth_dev_default_mac_addr_set(id_, const_cast<rte_ether_addr*>(&mac));
  if (rc == 0) rc = rte_eth_dev_set_mtu(id_, config.ports[port].mtu);
  if (rc == 0) rc = rte_eth_dev_start(id_);
  if (rc != 0) {
    rte_eth_dev_close(id_);
    throw std::runtime_error(what + ": " + rte_strerror(-rc));
  }
  try {
    configure_kernel_interface(ifname_, config, port);
  } catch (...) {
    rte_eth_dev_stop(id_);
    rte_eth_dev_close(id_);
    throw;
  }
}

ExceptionPath::~ExceptionPath() {
  rte_eth_dev_stop(id_);
  rte_eth_dev_close(id_);
}

void ExceptionPath::to_kernel(rte_mbuf* m) {
  if (rte_eth_tx_burst(id_, 0, &m, 1) == 1) {
    ++to_kernel_;
  } else {
    rte_pktmbuf_free(m);
    ++dropped_;
  }
}

uint16_t ExceptionPath::from_kernel(rte_mbuf** out, uint16_t max) {
  const uint16_t n = rte_eth_rx_burst(id_, 0, out, max);
  from_kernel_ += n;
  return n;
}

}  // namespace shoal::cp

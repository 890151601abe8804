// The kernel's side of the exception path: the TAP interface on which the kernel holds a
// port's local addresses (rtnetlink through libnl-route), so that the director's own
// processes — the health checker first — reach the network through a port DPDK owns.
#pragma once

#include <cstddef>
#include <string>

#include "config/config.h"

namespace shoal::cp {

// Brings `ifname` up with the addresses of `config.ports[port]`, the static routes whose next
// hop is on that port and, if the port has one, the default route through its gateway. The kernel answers no ARP on it (arp_ignore 8:
// the control plane answers for the port, with the same MAC) but learns from the ARP the
// control plane passes on; IPv6 is off, so the kernel sends nothing the director did not mean.
// Throws std::runtime_error naming the interface and what failed.
void configure_kernel_interface(const std::string& ifname, const Config& config,
                                std::size_t port);

}  // namespace shoal::cp

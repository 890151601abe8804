// The loopback address of either family (127.0.0.1, ::1) for the health checker's tests: the
// servers they start listen there and the targets point there, so that the same checks run
// over IPv4 and over IPv6.
#pragma once

#include <sys/socket.h>

#include <cstdint>

#include "healthcheck/check_spec.h"

namespace shoal::test {

enum class Family { v4, v6 };

// "IPv4", "IPv6": for a test's INFO.
const char* to_string(Family family);

hc::TargetAddress loopback(Family family);

// A socket address on the loopback of a family.
struct LoopbackAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};
LoopbackAddress loopback_address(Family family, uint16_t port);

// A socket of `type` (SOCK_STREAM, SOCK_DGRAM) bound to the loopback on a port of the
// kernel's choice.
int bound_socket(Family family, int type);
uint16_t bound_port(int fd);

}  // namespace shoal::test

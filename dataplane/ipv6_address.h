// An IPv6 address as it sits in the packet: 16 bytes in network order, compared and hashed
// as they are, never converted.
#pragma once

#include <array>
#include <cstdint>

namespace shoal::dp {

using Ipv6Address = std::array<uint8_t, 16>;

}  // namespace shoal::dp

// An IPv6 address as it sits in the packet (network byte order): compared, hashed and copied
// as 16 bytes, never swapped. Every layer that carries one (parser, flow keys, snapshot,
// control plane) uses this type.
#pragma once

#include <array>
#include <cstdint>

namespace shoal::dp {

using Ipv6Address = std::array<uint8_t, 16>;

}  // namespace shoal::dp

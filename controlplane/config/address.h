// Addresses as the configuration (and the API and shoalctl) write them. The parsers are
// strict: a text that another parser might read differently is refused rather than guessed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace shoal::cp {

using MacAddress = std::array<uint8_t, 6>;

// An IPv4 address with a prefix length: a port's local address and its subnet, or a route's
// destination (whose host bits are then zero).
struct Ipv4Prefix {
  uint32_t address = 0;  // network byte order
  uint8_t length = 0;    // 0..32

  // Netmask in network byte order.
  uint32_t mask() const;
  bool contains(uint32_t ip) const { return ((ip ^ address) & mask()) == 0; }
  bool operator==(const Ipv4Prefix&) const = default;
};

// Strict parsers, shared with the API and shoalctl: dotted quad without leading zeros;
// "a.b.c.d/len"; "xx:xx:xx:xx:xx:xx" (hex, either case).
std::optional<uint32_t> parse_ipv4(std::string_view text);
std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view text);
// "a.b.c.d:port" (port 1..65535, host order); with `port_optional`, "a.b.c.d" gives port 0.
std::optional<std::pair<uint32_t, uint16_t>> parse_ipv4_endpoint(std::string_view text,
                                                                 bool port_optional = false);
std::optional<MacAddress> parse_mac(std::string_view text);

std::string to_string(const Ipv4Prefix& prefix);
std::string to_string(const MacAddress& mac);

}  // namespace shoal::cp

// Addresses as the configuration (and the API and shoalctl) write them. The parsers are
// strict: a text that another parser might read differently is refused rather than guessed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "dataplane/ipv6_address.h"

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

// An IPv6 address with a prefix length: a port's local address and its on-link prefix, or a
// route's destination.
struct Ipv6Prefix {
  dp::Ipv6Address address{};
  uint8_t length = 0;  // 0..128

  bool contains(const dp::Ipv6Address& ip) const;
  // The prefix itself: the address with its host bits cleared.
  dp::Ipv6Address network() const;
  bool operator==(const Ipv6Prefix&) const = default;
};

// An address of either family, as a service's VIP and its backends' addresses may be. IPv4 is
// held in its IPv4-mapped form (::ffff:a.b.c.d, RFC 4291 2.5.5.2), so that one comparison, one
// ordering and one map key serve both families; v4() gives the dataplane's uint32_t.
class IpAddress {
 public:
  IpAddress() = default;  // ::, neither a valid VIP nor a backend
  static IpAddress from_v4(uint32_t nbo);
  static IpAddress from_v6(const dp::Ipv6Address& bytes) { return IpAddress(bytes); }

  bool is_v4() const;
  bool is_v6() const { return !is_v4(); }
  uint32_t v4() const;  // network byte order; 0 unless is_v4()
  const dp::Ipv6Address& v6() const { return bytes_; }  // the mapped form for IPv4
  auto operator<=>(const IpAddress&) const = default;

 private:
  explicit IpAddress(const dp::Ipv6Address& bytes) : bytes_(bytes) {}
  dp::Ipv6Address bytes_{};
};

// Strict parsers, shared with the API and shoalctl: dotted quad without leading zeros;
// "a.b.c.d/len"; "xx:xx:xx:xx:xx:xx" (hex, either case).
std::optional<uint32_t> parse_ipv4(std::string_view text);
std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view text);
// "a.b.c.d:port" (port 1..65535, host order); with `port_optional`, "a.b.c.d" gives port 0.
std::optional<std::pair<uint32_t, uint16_t>> parse_ipv4_endpoint(std::string_view text,
                                                                 bool port_optional = false);
std::optional<MacAddress> parse_mac(std::string_view text);
// An IPv6 address as RFC 4291 writes it, without a zone ("%eth0") and without an embedded
// IPv4 address: "::ffff:10.0.0.1" would be an IPv4 address in disguise, and is refused.
std::optional<dp::Ipv6Address> parse_ipv6(std::string_view text);
std::optional<Ipv6Prefix> parse_ipv6_prefix(std::string_view text);
// Either family: IPv6 when the text holds a ':'.
std::optional<IpAddress> parse_ip(std::string_view text);
// "a.b.c.d:port" or "[v6]:port", as parse_ipv4_endpoint.
std::optional<std::pair<IpAddress, uint16_t>> parse_ip_endpoint(std::string_view text,
                                                                bool port_optional = false);

std::string to_string(const Ipv4Prefix& prefix);
std::string to_string(const Ipv6Prefix& prefix);
// RFC 5952's form: lower case, the longest run of zero groups as "::".
std::string ipv6_to_string(const dp::Ipv6Address& ip);
std::string to_string(const IpAddress& ip);
// "IPv4" or "IPv6", for messages.
inline std::string_view family_name(const IpAddress& ip) { return ip.is_v4() ? "IPv4" : "IPv6"; }
// "10.0.0.100:80", "[fd00::100]:80": as ipvsadm writes an endpoint.
std::string endpoint_string(const IpAddress& ip, uint16_t port);
std::string to_string(const MacAddress& mac);

}  // namespace shoal::cp

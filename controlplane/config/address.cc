#include "config/address.h"

#include <fmt/format.h>

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "dataplane/snapshot.h"

namespace shoal::cp {
namespace {

uint32_t to_net(uint32_t host) {
  return __builtin_bswap32(host);
}

}  // namespace

uint32_t Ipv4Prefix::mask() const {
  return length == 0 ? 0 : to_net(0xffffffffu << (32 - length));
}

std::optional<uint32_t> parse_ipv4(std::string_view text) {
  uint8_t bytes[4];
  size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (pos >= text.size() || text[pos] != '.') return std::nullopt;
      ++pos;
    }
    const size_t start = pos;
    unsigned value = 0;
    while (pos < text.size() && pos - start < 4 && text[pos] >= '0' && text[pos] <= '9')
      value = value * 10 + unsigned(text[pos++] - '0');
    const size_t digits = pos - start;
    // No leading zeros: "010" means 8 to inet_aton and 10 to others.
    if (digits == 0 || digits > 3 || value > 255 || (digits > 1 && text[start] == '0'))
      return std::nullopt;
    bytes[i] = static_cast<uint8_t>(value);
  }
  if (pos != text.size()) return std::nullopt;
  return dp::ipv4(bytes[0], bytes[1], bytes[2], bytes[3]);
}

std::optional<std::pair<uint32_t, uint16_t>> parse_ipv4_endpoint(std::string_view text,
                                                                 bool port_optional) {
  const size_t colon = text.find(':');
  const auto ip = parse_ipv4(text.substr(0, colon));
  if (!ip) return std::nullopt;
  if (colon == std::string_view::npos)
    return port_optional ? std::optional(std::pair{*ip, uint16_t{0}}) : std::nullopt;
  const std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  if (port.empty() || port.size() > 5 || (port.size() > 1 && port[0] == '0')) return std::nullopt;
  for (char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + unsigned(c - '0');
  }
  if (value < 1 || value > 65535) return std::nullopt;
  return std::pair{*ip, static_cast<uint16_t>(value)};
}

std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto ip = parse_ipv4(text.substr(0, slash));
  const std::string_view len = text.substr(slash + 1);
  if (!ip || len.empty() || len.size() > 2 || (len.size() > 1 && len[0] == '0'))
    return std::nullopt;
  unsigned length = 0;
  const auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), length);
  if (ec != std::errc() || end != len.data() + len.size() || length > 32) return std::nullopt;
  return Ipv4Prefix{*ip, static_cast<uint8_t>(length)};
}

std::optional<MacAddress> parse_mac(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  MacAddress mac{};
  for (size_t i = 0; i < 6; ++i) {
    if (i > 0 && text[i * 3 - 1] != ':') return std::nullopt;
    const char* first = text.data() + i * 3;
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(first, first + 2, value, 16);
    if (ec != std::errc() || end != first + 2 || first[0] == '+' || first[0] == '-')
      return std::nullopt;
    mac[i] = static_cast<uint8_t>(value);
  }
  return mac;
}

bool Ipv6Prefix::contains(const dp::Ipv6Address& ip) const {
  for (uint8_t bit = 0; bit < length; bit += 8) {
    const uint8_t byte = static_cast<uint8_t>(bit / 8);
    const uint8_t bits = std::min<uint8_t>(8, static_cast<uint8_t>(length - bit));
    const uint8_t mask = static_cast<uint8_t>(0xff00 >> bits);
    if ((ip[byte] ^ address[byte]) & mask) return false;
  }
  return true;
}

dp::Ipv6Address Ipv6Prefix::network() const {
  dp::Ipv6Address out{};
  for (uint8_t bit = 0; bit < length; bit += 8) {
    const uint8_t byte = static_cast<uint8_t>(bit / 8);
    const uint8_t bits = std::min<uint8_t>(8, static_cast<uint8_t>(length - bit));
    out[byte] = static_cast<uint8_t>(address[byte] & (0xff00 >> bits));
  }
  return out;
}

namespace {
constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}  // namespace

IpAddress IpAddress::from_v4(uint32_t nbo) {
  dp::Ipv6Address b{};
  std::memcpy(b.data(), kMappedPrefix, sizeof kMappedPrefix);
  std::memcpy(b.data() + 12, &nbo, 4);
  return IpAddress(b);
}

bool IpAddress::is_v4() const { return std::memcmp(bytes_.data(), kMappedPrefix, 12) == 0; }

uint32_t IpAddress::v4() const {
  uint32_t nbo = 0;
  if (is_v4()) std::memcpy(&nbo, bytes_.data() + 12, 4);
  return nbo;
}

std::optional<dp::Ipv6Address> parse_ipv6(std::string_view text) {
  // inet_pton takes what RFC 4291 allows; the zone and the embedded dotted quad are refused
  // here first (so is anything long enough to be neither).
  if (text.empty() || text.size() > 39 || text.find_first_of(".%") != std::string_view::npos)
    return std::nullopt;
  const std::string s(text);
  dp::Ipv6Address out{};
  if (inet_pton(AF_INET6, s.c_str(), out.data()) != 1) return std::nullopt;
  return out;
}

std::optional<Ipv6Prefix> parse_ipv6_prefix(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto ip = parse_ipv6(text.substr(0, slash));
  const std::string_view len = text.substr(slash + 1);
  if (!ip || len.empty() || len.size() > 3 || (len.size() > 1 && len[0] == '0'))
    return std::nullopt;
  unsigned length = 0;
  const auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), length);
  if (ec != std::errc() || end != len.data() + len.size() || length > 128) return std::nullopt;
  return Ipv6Prefix{*ip, static_cast<uint8_t>(length)};
}

std::optional<IpAddress> parse_ip(std::string_view text) {
  if (text.find(':') == std::string_view::npos) {
    if (auto v4 = parse_ipv4(text)) return IpAddress::from_v4(*v4);
    return std::nullopt;
  }
  if (auto v6 = parse_ipv6(text)) {
    // The mapped form is how IpAddress holds IPv4; written out it must be a.b.c.d.
    if (IpAddress::from_v6(*v6).is_v4()) return std::nullopt;
    return IpAddress::from_v6(*v6);
  }
  return std::nullopt;
}

std::optional<std::pair<IpAddress, uint16_t>> parse_ip_endpoint(std::string_view text,
                                                                bool port_optional) {
  if (text.empty() || text.front() != '[') {
    auto v4 = parse_ipv4_endpoint(text, port_optional);
    if (!v4) return std::nullopt;
    return std::pair{IpAddress::from_v4(v4->first), v4->second};
  }
  const size_t close = text.find(']');
  if (close == std::string_view::npos) return std::nullopt;
  const auto ip = parse_ip(text.substr(1, close - 1));
  if (!ip || !ip->is_v6()) return std::nullopt;
  const std::string_view rest = text.substr(close + 1);
  if (rest.empty())
    return port_optional ? std::optional(std::pair{*ip, uint16_t{0}}) : std::nullopt;
  // The port's own rules are parse_ipv4_endpoint's: reuse them on a placeholder address.
  if (rest.front() != ':') return std::nullopt;
  auto port = parse_ipv4_endpoint(fmt::format("0.0.0.0{}", rest));
  if (!port) return std::nullopt;
  return std::pair{*ip, port->second};
}

std::string ipv6_to_string(const dp::Ipv6Address& ip) {
  char buf[INET6_ADDRSTRLEN];
  return inet_ntop(AF_INET6, ip.data(), buf, sizeof buf) ? std::string(buf) : std::string("?");
}

std::string to_string(const IpAddress& ip) {
  return ip.is_v4() ? dp::ipv4_to_string(ip.v4()) : ipv6_to_string(ip.v6());
}

std::string endpoint_string(const IpAddress& ip, uint16_t port) {
  return ip.is_v4() ? fmt::format("{}:{}", dp::ipv4_to_string(ip.v4()), port)
                    : fmt::format("[{}]:{}", ipv6_to_string(ip.v6()), port);
}

std::string to_string(const Ipv6Prefix& prefix) {
  return fmt::format("{}/{}", ipv6_to_string(prefix.address), prefix.length);
}

std::string to_string(const Ipv4Prefix& prefix) {
  return fmt::format("{}/{}", dp::ipv4_to_string(prefix.address), prefix.length);
}

std::string to_string(const MacAddress& mac) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3],
                     mac[4], mac[5]);
}

}  // namespace shoal::cp

#include "config/address.h"

#include <fmt/format.h>

#include <charconv>

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

std::string to_string(const Ipv4Prefix& prefix) {
  return fmt::format("{}/{}", dp::ipv4_to_string(prefix.address), prefix.length);
}

std::string to_string(const MacAddress& mac) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3],
                     mac[4], mac[5]);
}

}  // namespace shoal::cp

#include "healthcheck/check_spec.h"

#include <arpa/inet.h>

#include <fmt/format.h>

namespace shoal::hc {

size_t TargetKeyHash::operator()(const TargetKey& k) const {
  const size_t a = std::hash<std::string>{}(k.service);
  const size_t b = std::hash<std::string>{}(k.backend);
  return a ^ (b + 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2));
}

std::string_view to_string(CheckType type) {
  switch (type) {
    case CheckType::none:
      return "none";
    case CheckType::tcp:
      return "tcp";
    case CheckType::http:
      return "http";
    case CheckType::https:
      return "https";
    case CheckType::udp:
      return "udp";
    case CheckType::exec:
      return "exec";
  }
  return "?";
}

std::string to_string(const TargetAddress& address) {
  char text[INET6_ADDRSTRLEN];
  if (address.ipv6) return inet_ntop(AF_INET6, address.v6.data(), text, sizeof text) ? text : "?";
  in_addr a{};
  a.s_addr = address.v4;
  return inet_ntop(AF_INET, &a, text, sizeof text) ? text : "?";
}

std::string host_text(const TargetAddress& address) {
  return address.ipv6 ? fmt::format("[{}]", to_string(address)) : to_string(address);
}

std::string endpoint(const TargetAddress& address, uint16_t port) {
  return fmt::format("{}:{}", host_text(address), port);
}

std::string to_string(const TargetKey& key) {
  return key.service + "/" + key.backend;
}

}  // namespace shoal::hc

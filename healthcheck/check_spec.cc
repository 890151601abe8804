#include "healthcheck/check_spec.h"

#include <arpa/inet.h>

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

std::string ipv4_to_string(uint32_t address_nbo) {
  char text[INET_ADDRSTRLEN];
  in_addr a{};
  a.s_addr = address_nbo;
  return inet_ntop(AF_INET, &a, text, sizeof text) ? text : "?";
}

std::string to_string(const TargetKey& key) {
  return key.service + "/" + key.backend;
}

}  // namespace shoal::hc

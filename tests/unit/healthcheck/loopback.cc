#include "healthcheck/loopback.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstring>

namespace shoal::test {

const char* to_string(Family family) {
  return family == Family::v4 ? "IPv4" : "IPv6";
}

hc::TargetAddress loopback(Family family) {
  if (family == Family::v4) return hc::TargetAddress::from_v4(htonl(INADDR_LOOPBACK));
  hc::TargetAddress a;
  a.ipv6 = true;
  std::memcpy(a.v6.data(), &in6addr_loopback, a.v6.size());
  return a;
}

LoopbackAddress loopback_address(Family family, uint16_t port) {
  LoopbackAddress a;
  if (family == Family::v4) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&a.storage);
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa->sin_port = htons(port);
    a.length = sizeof(sockaddr_in);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&a.storage);
    sa->sin6_family = AF_INET6;
    sa->sin6_addr = in6addr_loopback;
    sa->sin6_port = htons(port);
    a.length = sizeof(sockaddr_in6);
  }
  return a;
}

int bound_socket(Family family, int type) {
  const int fd = ::socket(family == Family::v4 ? AF_INET : AF_INET6, type | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const LoopbackAddress a = loopback_address(family, 0);
  REQUIRE(::bind(fd, a.get(), a.length) == 0);
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0);
  if (sa.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&sa)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(&sa)->sin_port);
}

}  // namespace shoal::test

// What to check on a real server and how often: the health-check part of the configuration,
// as the checker consumes it. The config loader (controlplane/config/) fills one CheckSpec
// per backend — the service's `health_check:` with the backend's own keys laid over it — so
// the checker never sees a partial spec. Defaults here are the documented defaults.
//
// healthcheck/ depends on nothing of the control plane: the control plane turns its Config
// into Targets and hands them to a HealthChecker (checker.h).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::hc {

// none: no probe; the backend is always up (and configs without `health_check:` keep working).
enum class CheckType : uint8_t { none, tcp, http, https, udp, exec };

inline constexpr uint32_t kDefaultIntervalMs = 2000;
inline constexpr uint32_t kDefaultTimeoutMs = 1000;
inline constexpr uint32_t kDefaultRise = 2;
inline constexpr uint32_t kDefaultFall = 3;
inline constexpr uint32_t kDefaultReadLimit = 64 * 1024;

// An inclusive range of HTTP status codes; "200" is {200, 200}.
struct StatusRange {
  uint16_t first;
  uint16_t last;
  bool contains(long status) const { return status >= first && status <= last; }
  bool operator==(const StatusRange&) const = default;
};

struct CheckSpec {
  CheckType type = CheckType::none;
  uint32_t interval_ms = kDefaultIntervalMs;  // from the start of one check to the next
  uint32_t timeout_ms = kDefaultTimeoutMs;    // < interval_ms: checks of one target never overlap
  uint32_t rise = kDefaultRise;               // consecutive passes that bring a down backend up
  uint32_t fall = kDefaultFall;               // consecutive failures that take an up backend down
  // Starting state of a new target. Down: it comes up at its first check if that passes (at
  // once, not after `rise`); if the first check fails, it needs `rise` passes like any down
  // backend. Up: it stays up until `fall` consecutive failures. Ignored for type none.
  bool initial_up = false;
  double spread = 1.0;  // 0..1: the first check comes at a fraction of interval × spread
  uint16_t port = 0;    // 0: the backend's port (tcp, http, https, udp)

  // http, https
  std::string path = "/";
  std::string host;  // Host header (and TLS SNI); empty: the backend's address
  std::vector<StatusRange> expect_status = {StatusRange{200, 399}};
  std::string body;  // substring the first read_limit bytes of the body must hold; empty: any
  uint32_t read_limit = kDefaultReadLimit;  // bytes of body read at most; the rest is not read
  bool verify_tls = false;                  // https: check the certificate chain and host name

  // udp
  std::string payload;       // the datagram sent (may be empty)
  std::string expect_reply;  // substring the reply must hold; empty: any reply passes

  // exec: argv, run with posix_spawnp (a string in the file becomes {"/bin/sh", "-c", it})
  std::vector<std::string> command;
  bool weight_from_output = false;  // first line of stdout, an integer 0..65535, is the weight

  bool operator==(const CheckSpec&) const = default;
};

// Which backend a target is: stable across reloads as long as the service and backend names
// are (backend names default to "address:port").
struct TargetKey {
  std::string service;
  std::string backend;
  bool operator==(const TargetKey&) const = default;
  auto operator<=>(const TargetKey&) const = default;
};

struct TargetKeyHash {
  size_t operator()(const TargetKey& k) const;
};

// A real server's address, of either family. The health checker keeps its own type, so that
// it needs nothing of the control plane's config model.
struct TargetAddress {
  bool ipv6 = false;
  uint32_t v4 = 0;               // IPv4, network byte order (as in the config and the dataplane)
  std::array<uint8_t, 16> v6{};  // IPv6, network byte order

  static TargetAddress from_v4(uint32_t address_nbo) { return {false, address_nbo, {}}; }
  static TargetAddress from_v6(const std::array<uint8_t, 16>& address) {
    return {true, 0, address};
  }
  // The field of the other family is ignored.
  bool operator==(const TargetAddress& o) const {
    return ipv6 == o.ipv6 && (ipv6 ? v6 == o.v6 : v4 == o.v4);
  }
};

struct Target {
  TargetKey key;
  TargetAddress address;
  uint16_t port = 0;  // the backend's port, host order
  CheckSpec spec;

  // The port probes go to: spec.port, or the backend's.
  uint16_t check_port() const { return spec.port ? spec.port : port; }
  bool operator==(const Target&) const = default;
};

std::string_view to_string(CheckType type);
// "10.0.0.11", "fd00::11".
std::string to_string(const TargetAddress& address);
// How the address stands before ":port" (in a URL, a message): "10.0.0.11", "[fd00::11]".
std::string host_text(const TargetAddress& address);
// "10.0.0.11:80", "[fd00::11]:80".
std::string endpoint(const TargetAddress& address, uint16_t port);
// "service/backend": for messages.
std::string to_string(const TargetKey& key);

}  // namespace shoal::hc

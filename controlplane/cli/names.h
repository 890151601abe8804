// Names for the addresses and ports that `shoalctl list` prints, as ipvsadm prints them without
// -n: hosts by reverse lookup (the system's resolver: /etc/hosts, then DNS as nsswitch says),
// ports by /etc/services. A reverse lookup can hang for seconds when a name server does not
// answer, so every lookup runs at once under one deadline, and an address without a name by
// then prints as its number.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace shoal::cli {

// The lookup itself: a name for an address, or nothing. Tests pass their own.
using ReverseLookup = std::function<std::optional<std::string>(const std::string& address)>;

// getnameinfo(NI_NAMEREQD) on a literal IPv4 or IPv6 address.
std::optional<std::string> system_reverse_lookup(const std::string& address);

// The name of each address that found one within `budget`; an address missing from the result
// has no name, or none in time. Runs at most `parallel` lookups at once; lookups still running
// at the deadline are abandoned (they finish on their own threads and their answers are ignored).
std::map<std::string, std::string> reverse_lookup_all(const std::vector<std::string>& addresses,
                                                      std::chrono::milliseconds budget,
                                                      const ReverseLookup& lookup = system_reverse_lookup,
                                                      size_t parallel = 16);

// The service name of a port in /etc/services ("http" for 80/tcp), or the number.
std::string port_name(uint16_t port, const std::string& protocol);

}  // namespace shoal::cli

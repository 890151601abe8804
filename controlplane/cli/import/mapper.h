// From a parsed source to shoal's model: what maps, maps; what does not becomes a warning that
// names its line and a note the writer prints beside the part it concerns.
#pragma once

#include <optional>
#include <string>

#include "cli/import/ipvsadm_parser.h"
#include "cli/import/keepalived_parser.h"
#include "cli/import/model.h"

namespace shoal::cli::import {

Imported map_keepalived(const KaParseResult& parsed, const std::string& file);
Imported map_ipvsadm(const IpvsParseResult& parsed, const std::string& file);

// Shared by both mappers.
namespace detail {
// The model with what the parser said: its warnings (also as notes) and its errors.
Imported start(const std::string& from, const std::string& file, const Warnings& warnings,
               const std::vector<std::string>& errors);
// A warning on stderr and the same words as a note on the part it concerns (or the file's).
void warn(Imported& out, std::vector<std::string>* notes, const Source& at, std::string text);
// A service name shoal accepts, unique in `out`: tcp-10-0-0-10-80, tcp-fd00--100-80.
std::string service_name(const Imported& out, const std::string& protocol, const std::string& vip,
                         uint16_t port);
bool is_ipv4(const std::string& s);
bool is_ipv6(const std::string& s);
// An IPv6 address as inet_ntop writes it (lower case, the longest run of zeros as ::), so that
// one address is one string; anything else is returned as it is.
std::string canonical(const std::string& s);
// A firewall-mark service as a multi-port service: its VIP and ports are in the firewall rules
// that set the mark, not in the file, so both are placeholders (198.19.255.0/24, from the
// benchmarking range, or 2001:2:0:ff::/64 when its real servers are IPv6, and every port)
// that load as they are and say what to write instead.
void fwmark_placeholders(Imported& out, Service& s, const std::string& mark, const Source& at);
// A persistence timeout in seconds as shoal takes it (1 s to 7 days), from LVS's text.
uint32_t persistence_seconds(const std::string& text);
// What shoal's loader would refuse across services (a VIP that is a real server, one VIP:port
// twice, a dr/tun backend on another port): mended or dropped here, with a warning each.
void settle(Imported& out);
}  // namespace detail

}  // namespace shoal::cli::import

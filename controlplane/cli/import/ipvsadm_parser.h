// `ipvsadm-save -n` (the same as `ipvsadm -S -n`): a line per rule, `-A` a virtual service and
// `-a` a real server of the service named on its line, each with ipvsadm's own options.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/import/source.h"

namespace shoal::cli::import {

struct IpvsRealServer {
  Source at;
  std::string address;  // as written: a.b.c.d or [v6]
  uint16_t port = 0;
  char method = 'g';  // g (gatewaying, DR), m (masquerading, NAT), i (ipip, TUN)
  std::optional<uint32_t> weight;
  std::vector<std::string> unsupported;  // options read but without an equivalent
};

struct IpvsService {
  Source at;
  std::string protocol;  // tcp | udp | sctp | fwmark
  std::string address;   // the VIP, or the mark for fwmark services
  uint16_t port = 0;
  std::string scheduler = "wlc";          // ipvsadm's default
  std::optional<std::string> persistent;  // timeout in seconds
  std::optional<std::string> netmask;
  std::vector<std::string> unsupported;
  std::vector<IpvsRealServer> real_servers;
};

struct IpvsParseResult {
  std::vector<IpvsService> services;
  std::vector<std::string> errors;  // "FILE:LINE: text"
  Warnings warnings;
};

IpvsParseResult parse_ipvsadm_text(const std::string& text, const std::string& file);

}  // namespace shoal::cli::import

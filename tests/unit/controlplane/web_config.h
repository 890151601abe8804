// A config the control-plane unit tests share: port lan (10.0.0.2/24) and service web
// (10.0.0.100:80, DR) with backends rs1 (10.0.0.11, weight 1), rs2 (10.0.0.12, weight
// `rs2_weight`) and, with `with_rs3`, rs3 (10.0.0.13, weight 1).
#pragma once

#include <cstdint>
#include <string>

#include "config/config.h"

namespace shoal::test {

cp::Config web_config(uint32_t rs2_weight = 3, bool with_rs3 = true);

// The YAML of that config up to service web's `forwarding: dr` (9 lines), for tests that
// add keys and backends of their own.
std::string web_config_head();

}  // namespace shoal::test

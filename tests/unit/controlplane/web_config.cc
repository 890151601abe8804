#include "controlplane/web_config.h"

#include <catch2/catch.hpp>

#include <string>

namespace shoal::test {

std::string web_config_head() {
  return R"(ports:
  - name: lan
    device: net_null0
    addresses: [10.0.0.2/24]
services:
  - name: web
    vip: 10.0.0.100
    port: 80
    forwarding: dr
)";
}

cp::Config web_config(uint32_t rs2_weight, bool with_rs3) {
  std::string text = web_config_head() + R"(    backends:
      - {name: rs1, address: 10.0.0.11}
)";
  text += "      - {name: rs2, address: 10.0.0.12, weight: " + std::to_string(rs2_weight) + "}\n";
  if (with_rs3) text += "      - {name: rs3, address: 10.0.0.13}\n";
  cp::LoadResult r = cp::load_config_string(text, "web.yaml");
  INFO((r.errors.empty() ? std::string() : r.errors.front()));
  REQUIRE(r.config);
  return *r.config;
}

}  // namespace shoal::test

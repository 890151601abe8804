// ipvsadm-save -n → shoal's YAML (ipvsadm_parser.cc, map_ipvsadm.cc).
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "cli/import/ipvsadm_parser.h"
#include "cli/import/mapper.h"
#include "cli/import/yaml_writer.h"
#include "config/config.h"

using namespace shoal::cli::import;

namespace {

bool warned(const Imported& m, int line, const std::string& words) {
  return std::any_of(m.warnings.begin(), m.warnings.end(), [&](const Warning& w) {
    return w.at.line == line && w.describe().find(words) != std::string::npos;
  });
}

}  // namespace

TEST_CASE("ipvsadm parser: services, real servers, methods, weights, persistence") {
  const auto r = parse_ipvsadm_text(R"(-A -t 10.0.0.100:80 -s wlc
-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 1
-a -t 10.0.0.100:80 -r 10.0.0.12:8080 -m -w 3
-A -u 10.0.0.100:53 -s rr -p 120 -M 255.255.0.0
-a -u 10.0.0.100:53 -r 10.0.0.11:53 -i -w 0
-A -f 5 -s sh
)",
                                    "rules");
  REQUIRE(r.errors.empty());
  REQUIRE(r.services.size() == 3);
  const IpvsService& web = r.services[0];
  CHECK(web.protocol == "tcp");
  CHECK(web.address == "10.0.0.100");
  CHECK(web.port == 80);
  CHECK(web.scheduler == "wlc");
  REQUIRE(web.real_servers.size() == 2);
  CHECK(web.real_servers[1].method == 'm');
  CHECK(web.real_servers[1].port == 8080);
  CHECK(web.real_servers[1].weight == 3u);
  CHECK(web.real_servers[1].at.line == 3);
  const IpvsService& dns = r.services[1];
  CHECK(dns.protocol == "udp");
  CHECK(dns.persistent == "120");
  CHECK(dns.netmask == "255.255.0.0");
  CHECK(dns.real_servers[0].method == 'i');
  CHECK(dns.real_servers[0].weight == 0u);
  CHECK(r.services[2].protocol == "fwmark");
  CHECK(r.services[2].address == "5");
}

TEST_CASE("ipvsadm parser: a real server of an unknown service and malformed lines are errors") {
  auto r = parse_ipvsadm_text("-a -t 10.0.0.1:80 -r 10.0.0.11:80 -g\n", "rules");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].rfind("rules:1: real server of tcp 10.0.0.1:80", 0) == 0);
  r = parse_ipvsadm_text("-A -t 10.0.0.1 -s rr\n", "rules");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0] ==
        "rules:1: '10.0.0.1' is not ADDRESS:PORT in numbers (as ipvsadm-save -n writes them)");
  r = parse_ipvsadm_text("-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:http -g\n",
                         "rules");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].rfind("rules:2: '10.0.0.2:http' is not ADDRESS:PORT in numbers", 0) == 0);
  r = parse_ipvsadm_text("-C\n# comment\n\n", "rules");
  CHECK(r.errors.empty());
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].at.line == 1);
}

TEST_CASE("ipvsadm mapping: forwarding, scheduler, persistence, and the output loads") {
  const Imported m = map_ipvsadm(parse_ipvsadm_text(R"(-A -t 10.0.0.100:80 -s wlc -p 300
-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 1
-a -t 10.0.0.100:80 -r 10.0.0.12:80 -g -w 2
-A -t 10.0.0.100:443 -s lblc
-a -t 10.0.0.100:443 -r 10.0.0.21:8443 -m -w 1 -x 10
-A -f 1 -s rr
-a -f 1 -r 10.0.0.11:0 -g -w 1
)",
                                                    "rules"),
                                 "rules");
  REQUIRE(m.services.size() == 3);
  CHECK(m.services[0].forwarding == "dr");
  CHECK(m.services[1].forwarding == "nat");
  // The firewall mark: a multi-port service whose VIP and ports are placeholders.
  CHECK(m.services[2].port == 0);
  CHECK(m.services[2].vip == "198.19.255.1");
  CHECK_FALSE(warned(m, 1, "persistence"));
  CHECK(warned(m, 4, "no 'lblc' scheduler"));
  CHECK(warned(m, 5, "'-x 10' has no equivalent"));
  CHECK(warned(m, 6, "firewall mark 1 imported as a multi-port service with a placeholder VIP"));
  const std::string yaml = write_yaml(m);
  CHECK(yaml.find("    scheduler: wlc  # -s, line 1\n") != std::string::npos);
  CHECK(yaml.find("    forwarding: dr  # -g\n") != std::string::npos);
  CHECK(yaml.find("persistence: {timeout: 300}  # -p 300 (line 1)") != std::string::npos);
  CHECK(yaml.find("      # rules:5 -a -t 10.0.0.100:443 -r 10.0.0.21:8443 -m -w 1 -x 10\n") !=
        std::string::npos);
  CHECK(yaml.find("      - address: 10.0.0.21\n        port: 8443\n") != std::string::npos);
  CHECK(yaml.find("    vip: 198.19.255.1  # PLACEHOLDER for firewall mark 1") != std::string::npos);
  CHECK(yaml.find("    ports: all  # PLACEHOLDER for firewall mark 1: list the ports") !=
        std::string::npos);
  const auto l = shoal::cp::load_config_string(yaml, "imported.yaml");
  INFO(yaml);
  INFO((l.errors.empty() ? std::string() : l.errors.front()));
  CHECK(l.config.has_value());
}

TEST_CASE("ipvsadm mapping: mixed methods go the most common way, each other real server warned") {
  const Imported m = map_ipvsadm(parse_ipvsadm_text(R"(-A -t 10.0.0.100:80 -s rr
-a -t 10.0.0.100:80 -r 10.0.0.11:80 -i -w 1
-a -t 10.0.0.100:80 -r 10.0.0.12:80 -g -w 1
-a -t 10.0.0.100:80 -r 10.0.0.13:80 -g -w 1
)",
                                                    "rules"),
                                 "rules");
  REQUIRE(m.services.size() == 1);
  CHECK(m.services[0].forwarding == "dr");
  CHECK(warned(m, 2, "uses the service's dr"));
}

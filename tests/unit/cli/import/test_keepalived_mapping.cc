// keepalived.conf constructs → shoal's YAML (map_keepalived.cc, yaml_writer.cc): each construct
// that has an equivalent lands on its key, each that has none is a warning naming its line, and
// every output here loads in shoal's own config loader.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "cli/import/keepalived_parser.h"
#include "cli/import/mapper.h"
#include "cli/import/scheduler.h"
#include "cli/import/yaml_writer.h"
#include "config/config.h"

using namespace shoal::cli::import;

namespace {

struct Result {
  Imported model;
  std::string yaml;
};

Result import_text(const std::string& text) {
  Result r;
  r.model = map_keepalived(parse_keepalived_text(text, "keepalived.conf", "."), "keepalived.conf");
  REQUIRE(r.model.errors.empty());
  r.yaml = write_yaml(r.model);
  return r;
}

// The output as shoald --check reads it: no errors.
void loads(const Result& r) {
  const auto l = shoal::cp::load_config_string(r.yaml, "imported.yaml");
  INFO(r.yaml);
  INFO((l.errors.empty() ? std::string() : l.errors.front()));
  CHECK(l.config.has_value());
}

bool has(const std::string& yaml, const std::string& line) {
  return yaml.find(line) != std::string::npos;
}

// The warning about line `line` whose text holds `words`.
bool warned(const Imported& m, int line, const std::string& words) {
  return std::any_of(m.warnings.begin(), m.warnings.end(), [&](const Warning& w) {
    return w.at.line == line && w.describe().find(words) != std::string::npos;
  });
}

const std::string kService = R"(virtual_server 10.0.0.100 80 {
  delay_loop 6
  lb_algo wlc
  lb_kind DR
  protocol TCP
  real_server 10.0.0.11 80 {
    weight 2
    TCP_CHECK {
      connect_port 8080
      connect_timeout 3
      retry 2
    }
  }
}
)";

}  // namespace

TEST_CASE("virtual_server and real_server map to a service and its backends, with sources") {
  const Result r = import_text(kService);
  REQUIRE(r.model.services.size() == 1);
  CHECK(r.model.warnings.empty());
  CHECK(has(r.yaml,
            "  # keepalived.conf:1 virtual_server 10.0.0.100 80\n  - name: tcp-10-0-0-100-80\n"));
  CHECK(has(r.yaml, "    vip: 10.0.0.100\n    port: 80\n    protocol: tcp\n"));
  CHECK(has(r.yaml, "    forwarding: dr  # lb_kind DR (line 4)\n"));
  CHECK(has(r.yaml,
            "      # keepalived.conf:6 real_server 10.0.0.11 80\n      - address: 10.0.0.11\n      "
            "  weight: 2\n"));
  CHECK(has(r.yaml,
            "        # keepalived.conf:8 TCP_CHECK\n        health_check:\n          type: tcp\n"));
  CHECK(has(r.yaml, "interval: 6  # delay_loop"));
  CHECK(has(r.yaml, "timeout: 3  # connect_timeout"));
  CHECK(has(r.yaml, "fall: 3  # retry + 1"));
  CHECK(has(r.yaml, "port: 8080  # connect_port"));
  CHECK(has(r.yaml, "initial: up"));
  loads(r);
}

TEST_CASE("lb_kind NAT and TUN, and keepalived's default NAT") {
  for (const auto& [kind, want] : {std::pair{"NAT", "nat"}, std::pair{"TUN", "tun"}}) {
    std::string text = kService;
    text.replace(text.find("DR"), 2, kind);
    const Result r = import_text(text);
    CHECK(has(r.yaml, fmt::format("forwarding: {}  #", want)));
    loads(r);
  }
  std::string text = kService;
  text.erase(text.find("  lb_kind DR\n"), 13);
  const Result r = import_text(text);
  CHECK(has(r.yaml, "forwarding: nat  # keepalived's default lb_kind NAT"));
}

TEST_CASE("lb_algo becomes scheduler:, and what shoal lacks a warning") {
  CHECK(scheduler_for("wlc") == "wlc");
  CHECK(scheduler_for("mh") == "mh");
  CHECK_FALSE(scheduler_for("lblcr"));
  const Result with_key = import_text(kService);
  CHECK(has(with_key.yaml, "    scheduler: wlc  # lb_algo, line 3\n"));
  loads(with_key);
  std::string text = kService;
  text.replace(text.find("wlc"), 3, "lblc");
  const Result unknown = import_text(text);
  CHECK(warned(unknown.model, 3, "no 'lblc' scheduler"));
  CHECK_FALSE(has(unknown.yaml, "scheduler: lblc"));
}

TEST_CASE("persistence_timeout and persistence_granularity become persistence") {
  std::string text = kService;
  text.insert(text.find("  protocol"),
              "  persistence_timeout 300\n  persistence_granularity 255.255.255.0\n");
  const Result r = import_text(text);
  CHECK(has(r.yaml, "persistence: {timeout: 300, netmask: 255.255.255.0}  # persistence_timeout "
                    "300 (line 5), persistence_granularity 255.255.255.0 (line 6)"));
  CHECK_FALSE(warned(r.model, 5, "persistence"));
  CHECK_FALSE(has(r.yaml, "hash:"));
  loads(r);
}

TEST_CASE("quorum, hysteresis, quorum_up and quorum_down become quorum") {
  std::string text = kService;
  text.insert(text.find("  protocol"),
              "  quorum 2\n  hysteresis 1\n  quorum_up /bin/up\n  quorum_down /bin/down\n");
  Result r = import_text(text);
  CHECK(has(r.yaml, "    quorum:  # quorum 2 (line 5), hysteresis 1 (line 6), quorum_up (line 7), "
                    "quorum_down (line 8)\n      up: 2\n      hysteresis: 1\n"
                    "      notify_up: \"/bin/up\"\n      notify_down: \"/bin/down\"\n"));
  for (int line = 5; line <= 8; ++line) CHECK_FALSE(warned(r.model, line, "quorum"));
  loads(r);

  // shoal keeps hysteresis below the quorum: keepalived's 2 against 2 is left out, and said.
  text = kService;
  text.insert(text.find("  protocol"), "  quorum 2\n  hysteresis 2\n");
  r = import_text(text);
  CHECK(has(r.yaml, "      up: 2\n      hysteresis: 0\n"));
  CHECK(warned(r.model, 1, "hysteresis 2 is not below the quorum 2"));
  loads(r);
}

TEST_CASE("sorry_server is a sorry backend under all_down: sorry") {
  std::string text = kService;
  text.insert(text.find("  protocol"), "  sorry_server 10.0.0.99 80\n");
  const Result r = import_text(text);
  CHECK(has(r.yaml, "all_down: sorry  # sorry_server"));
  CHECK(has(r.yaml,
            "      # keepalived.conf:5 sorry_server 10.0.0.99 80\n      - address: 10.0.0.99\n     "
            "   sorry: true\n"));
  loads(r);
}

TEST_CASE("inhibit_on_failure is noted as shoal's closest: no new flows while down") {
  std::string text = kService;
  text.insert(text.find("    weight 2"), "    inhibit_on_failure\n");
  const Result r = import_text(text);
  CHECK(has(r.yaml,
            "# keepalived.conf:7: inhibit_on_failure: a failed real server takes no new flows"));
  CHECK(r.model.warnings.empty());
  loads(r);
  // Said once, for the service, when the virtual server sets it for all its real servers.
  std::string all = kService;
  all.insert(all.find("  protocol"), "  inhibit_on_failure\n");
  const Result v = import_text(all);
  CHECK(has(v.yaml, "  # keepalived.conf:5: inhibit_on_failure: a failed real server"));
  CHECK_FALSE(has(v.yaml, "      # keepalived.conf:5: inhibit_on_failure"));
  CHECK(v.model.warnings.empty());
}

TEST_CASE("HTTP_GET and SSL_GET: path, status codes, virtualhost; digest and extra urls warned") {
  const Result r = import_text(R"(virtual_server 10.0.0.100 443 {
  delay_loop 10
  lb_kind NAT
  virtualhost www.example.org
  real_server 10.0.0.11 8443 {
    SSL_GET {
      url {
        path /health
        status_code 200-299 301
        digest 0123
        regex healthy
      }
      url {
        path /other
      }
      connect_timeout 2
      retry 0
      delay_before_retry 3
    }
  }
}
)");
  CHECK(has(r.yaml, "type: https"));
  CHECK(has(r.yaml, "path: \"/health\""));
  CHECK(has(r.yaml, "expect: [\"200-299\", \"301\"]  # status_code"));
  CHECK(has(r.yaml, "body: \"healthy\"  # regex"));
  CHECK(has(r.yaml, "host: \"www.example.org\"  # virtualhost"));
  CHECK(has(r.yaml, "verify_tls: false"));
  CHECK(has(r.yaml, "fall: 1  # retry + 1"));
  CHECK(has(r.yaml, "port: 8443\n"));
  CHECK(warned(r.model, 10, "digest"));
  CHECK(warned(r.model, 13, "only the first url"));
  loads(r);
}

TEST_CASE("MISC_CHECK is an exec check run by the shell; UDP_CHECK a udp check") {
  const Result r = import_text(R"(virtual_server 10.0.0.100 53 {
  protocol UDP
  real_server 10.0.0.11 53 {
    MISC_CHECK {
      misc_path "/usr/local/bin/check dns 10.0.0.11"
      misc_timeout 4
      misc_dynamic
    }
  }
  real_server 10.0.0.12 53 {
    UDP_CHECK {
      connect_timeout 1
      payload ping
      require_reply pong
    }
  }
}
)");
  CHECK(has(r.yaml, "type: exec"));
  CHECK(has(r.yaml, "command: \"/usr/local/bin/check dns 10.0.0.11\"  # misc_path"));
  CHECK(has(r.yaml, "timeout: 4  # connect_timeout"));
  CHECK(warned(r.model, 7, "weight from the exit status"));
  CHECK(has(r.yaml, "type: udp"));
  CHECK(has(r.yaml, "payload: \"ping\""));
  CHECK(has(r.yaml, "expect: \"pong\"  # require_reply"));
  CHECK(has(r.yaml, "protocol: udp"));
  loads(r);
}

TEST_CASE("a check timeout not shorter than its interval is shortened, with a warning") {
  const Result r = import_text(R"(virtual_server 10.0.0.100 25 {
  delay_loop 10
  real_server 10.0.0.11 25 {
    SMTP_CHECK {
      connect_timeout 30
    }
  }
}
)");
  CHECK(warned(r.model, 4, "no SMTP check"));
  CHECK(warned(r.model, 5, "timeout 5 s instead of 30 s"));
  CHECK(has(r.yaml, "port: 25  # connect_port"));
  loads(r);
}

TEST_CASE("checks shoal lacks leave the backend unchecked, with a warning; alpha starts it down") {
  const Result r = import_text(R"(virtual_server 10.0.0.100 80 {
  alpha
  real_server 10.0.0.11 80 {
    PING_CHECK {
    }
  }
  real_server 10.0.0.12 80 {
    TCP_CHECK {
    }
    HTTP_GET {
    }
  }
}
)");
  CHECK(warned(r.model, 4, "shoal has no PING_CHECK"));
  CHECK(warned(r.model, 10, "one check per backend"));
  CHECK(has(r.yaml, "initial: down  # alpha"));
  loads(r);
}

TEST_CASE("fwmark services get placeholders; nothing is left out in silence") {
  const Result r = import_text(R"(virtual_server fwmark 1 {
  real_server 10.0.0.11 {
  }
}
virtual_server 2001:db8::1 80 {
  real_server 2001:db8::11 80 {
  }
}
virtual_server 10.0.0.100 80 {
  real_server 10.0.0.11 80 {
    notify_up /bin/up
    uthreshold 5
  }
  ops
}
)");
  CHECK(warned(r.model, 1, "firewall mark 1 imported as a multi-port service"));
  CHECK(r.model.services.size() == 3);
  CHECK_FALSE(warned(r.model, 11, "notify"));
  CHECK(has(r.yaml, "        notify_up: \"/bin/up\"\n"));
  CHECK(warned(r.model, 12, "'uthreshold' has no equivalent"));
  CHECK(warned(r.model, 14, "'ops' has no equivalent"));
  CHECK(has(r.yaml, "# WARNING keepalived.conf:1: virtual_server fwmark 1: firewall mark 1 "
                    "imported as a multi-port service with a placeholder VIP (198.19.255.1)"));
  CHECK(has(r.yaml, "    ports: all  # PLACEHOLDER for firewall mark 1"));
  loads(r);
}

TEST_CASE("virtual_server_group: one service per address, ranges expanded, fwmarks as placeholders") {
  const Result r = import_text(R"(virtual_server_group G {
  10.0.0.100 80
  10.0.0.101-103 8080
  fwmark 3
}
virtual_server group G {
  lb_kind DR
  real_server 10.0.0.11 80 {
  }
}
)");
  REQUIRE(r.model.services.size() == 5);
  CHECK(r.model.services[4].port == 0);  // the fwmark entry
  CHECK(r.model.services[1].vip == "10.0.0.101");
  CHECK(r.model.services[3].vip == "10.0.0.103");
  CHECK(r.model.services[3].port == 8080);
  CHECK(has(r.yaml, "# from keepalived.conf:3 10.0.0.101-103 8080"));
  CHECK(warned(r.model, 4, "firewall mark 3 imported as a multi-port service"));
  // DR cannot change the port: the group's 8080 services get the real server on 8080.
  CHECK(warned(r.model, 8, "cannot change the port"));
  loads(r);
}

TEST_CASE("what shoal would refuse across services is left out with a warning") {
  const Result r = import_text(R"(virtual_server 10.0.0.100 80 {
  real_server 10.0.0.11 80 {
  }
}
virtual_server 10.0.0.101 80 {
  real_server 10.0.0.11 80 {
  }
  real_server 10.0.0.12 80 {
  }
}
virtual_server 10.0.0.11 80 {
  real_server 10.0.0.13 80 {
  }
}
)");
  CHECK(warned(r.model, 6, "already a nat backend"));
  CHECK(warned(r.model, 11, "also a real server's address"));
  REQUIRE(r.model.services.size() == 2);
  CHECK(r.model.services[1].backends.size() == 1);
  loads(r);
}

TEST_CASE("vrrp_instance: vrid, priority, advert_int, nopreempt, addresses, tracked ports") {
  const Result r = import_text(R"(vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 0.5
  nopreempt
  use_vmac
  authentication {
    auth_type PASS
    auth_pass x
  }
  virtual_ipaddress {
    192.168.200.16/24 dev eth0
    192.168.200.17
  }
  track_interface {
    eth1 weight -10
    eth2
  }
  track_script {
    chk
  }
  notify_master /bin/m
  unicast_peer {
    192.168.200.3
  }
}
)");
  REQUIRE(r.model.vrrp.size() == 1);
  CHECK(has(r.yaml, "    # keepalived.conf:1 vrrp_instance VI_1\n"));
  CHECK(has(r.yaml,
            "    - name: vi_1\n      vrid: 51\n      port: eth0  # interface eth0\n      priority: "
            "150\n      interval: 0.5  # advert_int\n      preempt: false  # nopreempt\n      "
            "virtual_mac: true  # use_vmac\n"));
  CHECK(has(r.yaml, "      addresses:\n        - 192.168.200.16\n        - 192.168.200.17\n"));
  CHECK(has(r.yaml, "          - {name: eth1, weight: -10}\n          - eth2\n"));
  CHECK(has(r.yaml, "  - name: eth0\n    device: \"net_null0\"  # CHANGE ME"));
  CHECK(has(r.yaml, "  - name: eth1\n"));
  CHECK(has(r.yaml, "- 192.168.200.254/24  # CHANGE ME"));
  CHECK(warned(r.model, 9, "no authentication"));
  CHECK(warned(r.model, 22, "no vrrp_script named 'chk' was imported: not tracked"));
  CHECK(has(r.yaml, "      notify_master: \"/bin/m\"\n"));
  CHECK(warned(r.model, 25, "multicast only"));
  CHECK(has(r.yaml, "services: []"));
  loads(r);
}

TEST_CASE("vrrp_sync_group: both forms of member lists, notify imported, unknown members left out") {
  const Result r = import_text(R"(vrrp_sync_group G1 {
  group {
    VI_1
    VI_X
  }
  notify_master /bin/m
}
vrrp_sync_group G2 {
  VI_2
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress {
    10.1.0.10
  }
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 2
  virtual_ipaddress {
    10.1.0.11
  }
}
)");
  REQUIRE(r.model.sync_groups.size() == 2);
  CHECK(r.model.sync_groups[0].instances == std::vector<std::string>{"vi_1"});
  CHECK(r.model.sync_groups[1].instances == std::vector<std::string>{"vi_2"});
  CHECK(warned(r.model, 1, "'VI_X' is no imported VRRP instance"));
  CHECK(has(r.yaml, "      instances:\n        - vi_1\n      notify_master: \"/bin/m\"\n"));
  CHECK(has(r.yaml, "  sync_groups:\n    # keepalived.conf:1 vrrp_sync_group G1\n"));
  loads(r);
}

TEST_CASE("top-level blocks without an equivalent are warnings naming their keywords") {
  const Result r = import_text(R"(global_defs {
  router_id X
  smtp_server 1.2.3.4
}
static_routes {
  10.9.0.0/24 via 10.0.0.1
}
vrrp_script chk {
  script "true"
}
)" + kService);
  CHECK(warned(r.model, 1, "router_id, smtp_server"));
  CHECK(warned(r.model, 5, "'static_routes' has no equivalent"));
  CHECK(warned(r.model, 8, "no VRRP instance was imported to track it"));
  CHECK(has(r.yaml, "# WARNING keepalived.conf:5: static_routes:"));
  loads(r);
}

TEST_CASE("vrrp_script, track_script and notify commands map to shoal's scripts and notify keys") {
  const Result r = import_text(R"(vrrp_script chk_web {
  script "/usr/bin/curl -sf 'http://127.0.0.1/health check'"
  interval 2
  timeout 1
  rise 2
  fall 3
  weight -20
  user nobody
}
vrrp_script CHK_MAINT {
  script "/bin/test ! -e /etc/maint"
  interval 1
  timeout 5
  weight 10 reverse
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 9
  virtual_ipaddress {
    10.0.0.100
  }
  track_script {
    chk_web
    CHK_MAINT weight 0
    chk_gone
  }
  notify_master "/etc/keepalived/to.sh master"
  notify_backup /etc/keepalived/to.sh backup "two words"
  notify "/usr/local/bin/notify"
  notify_stop /bin/stopped
  notify_deleted /bin/x
}
vrrp_sync_group G {
  group {
    VI_1
  }
  notify_fault "/bin/fault"
}
virtual_server 10.0.0.100 80 {
  lb_kind DR
  real_server 10.0.0.11 80 {
    notify_up "/bin/rs up"
    notify_down /bin/rs down
  }
}
)");
  CHECK(has(r.yaml, "  scripts:\n    # keepalived.conf:1 vrrp_script chk_web\n"));
  CHECK(has(r.yaml, "    - name: chk_web\n      command: \"/usr/bin/curl -sf "
                    "'http://127.0.0.1/health check'\"  # script\n      interval: 2\n      "
                    "timeout: 1\n      rise: 2\n      fall: 3\n      weight: -20\n"));
  CHECK(warned(r.model, 8, "'user' has no equivalent"));
  CHECK(has(r.yaml, "    - name: chk_maint\n      command: \"/bin/test ! -e /etc/maint\"  # "
                    "script\n      interval: 1\n"));
  CHECK_FALSE(has(r.yaml, "interval: 1\n      timeout"));
  CHECK(warned(r.model, 10, "timeout 5 s is longer than the interval"));
  CHECK(warned(r.model, 14, "without 'reverse'"));
  CHECK(has(r.yaml, "      track:\n        scripts:  # track_script\n          - chk_web\n"
                    "          - {name: chk_maint, weight: 0}\n"));
  CHECK(warned(r.model, 25, "no vrrp_script named 'chk_gone'"));
  CHECK(has(r.yaml, "      notify_master: \"/etc/keepalived/to.sh master\"\n"
                    "      notify_backup: \"/etc/keepalived/to.sh backup 'two words'\"\n"
                    "      notify: \"/usr/local/bin/notify\"\n"
                    "      notify_stop: \"/bin/stopped\"\n"));
  CHECK(warned(r.model, 31, "'notify_deleted' has no equivalent"));
  CHECK(has(r.yaml, "      notify_fault: \"/bin/fault\"\n"));
  CHECK(has(r.yaml, "        notify_up: \"/bin/rs up\"\n        notify_down: \"/bin/rs down\"\n"));
  loads(r);
  // What shoald makes of them: the words keepalived would run.
  const auto l = shoal::cp::load_config_string(r.yaml, "imported.yaml");
  REQUIRE(l.config);
  const auto& v = l.config->vrrp.instances[0];
  CHECK(v.notify.backup.argv ==
        std::vector<std::string>{"/etc/keepalived/to.sh", "backup", "two words"});
  CHECK(l.config->vrrp.scripts[0].command.argv ==
        std::vector<std::string>{"/usr/bin/curl", "-sf", "http://127.0.0.1/health check"});
  CHECK(l.config->vrrp.scripts[1].weight == 0);
}

TEST_CASE("yaml_quote: a double-quoted scalar that keeps quotes, backslashes and controls") {
  CHECK(yaml_quote("a \"b\" c\\d") == "\"a \\\"b\\\" c\\\\d\"");
  CHECK(yaml_quote("x\ty\n") == "\"x\\ty\\n\"");
  CHECK(yaml_quote(std::string(1, '\x01')) == "\"\\x01\"");
}

TEST_CASE("lvs_sync_daemon (global_defs) and lvs_sync_daemon_interface map to connection_sync") {
  Result r = import_text(R"(global_defs {
  router_id D1
  lvs_sync_daemon eth1 VI_1 id 7 port 9000 maxlen 1400
}
)" + kService);
  CHECK(has(r.yaml, "# keepalived.conf:3 lvs_sync_daemon eth1 VI_1 id 7 port 9000 maxlen 1400\n"));
  CHECK(has(r.yaml, "connection_sync:\n  port: eth1  # eth1\n  id: 7\n  udp_port: 9000\n"));
  CHECK(has(r.yaml, "  - name: eth1\n"));
  CHECK(warned(r.model, 3, "'maxlen 1400' has no equivalent"));
  CHECK(warned(r.model, 1, "not imported: router_id"));
  loads(r);
  r = import_text(R"(vrrp_instance VI_1 {
  interface eth0
  lvs_sync_daemon_interface eth0
  virtual_router_id 9
  virtual_ipaddress {
    10.0.0.100
  }
}
)" + kService);
  CHECK(has(r.yaml, "connection_sync:\n  port: eth0  # eth0\n"));
  loads(r);
}

TEST_CASE("VRRP: a vrid twice on an interface or an address twice gives way, with a warning") {
  const Result r = import_text(R"(vrrp_instance A {
  interface eth0
  virtual_router_id 5
  virtual_ipaddress {
    10.0.0.100
    10.0.0.101
  }
}
vrrp_instance B {
  interface eth0
  virtual_router_id 5
  virtual_ipaddress {
    10.0.0.102
  }
}
vrrp_instance C {
  interface eth0
  virtual_router_id 6
  priority 0
  virtual_ipaddress {
    10.0.0.101
    10.0.0.103
  }
}
)");
  REQUIRE(r.model.vrrp.size() == 2);
  CHECK(warned(r.model, 9, "virtual_router_id 5 on eth0 is already used for IPv4 at keepalived.conf:1"));
  CHECK(warned(r.model, 16, "10.0.0.101 is already carried by instance a"));
  CHECK(warned(r.model, 19, "must be 1..255"));
  CHECK(r.model.vrrp[1].addresses == std::vector<std::string>{"10.0.0.103"});
  loads(r);
}

TEST_CASE("VRRP: an instance or sync group name twice, or an instance in two groups, gives way") {
  const Result r = import_text(R"(vrrp_instance A {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress {
    10.0.0.100
  }
}
vrrp_instance A {
  interface eth1
  virtual_router_id 2
  virtual_ipaddress {
    10.0.1.100
  }
}
vrrp_sync_group G {
  group {
    A
  }
}
vrrp_sync_group H {
  group {
    A
  }
}
vrrp_sync_group G {
  group {
    A
  }
}
)");
  REQUIRE(r.model.vrrp.size() == 1);
  CHECK(warned(r.model, 8, "an instance named a is already imported from keepalived.conf:1"));
  CHECK(warned(r.model, 20, "instance a is already in another sync group"));
  CHECK(warned(r.model, 25, "a sync group named g is already imported"));
  REQUIRE(r.model.sync_groups.size() == 1);
  loads(r);
}

TEST_CASE("the same check on every real server is written once, for the service") {
  const Result r = import_text(R"(virtual_server 10.0.0.100 80 {
  delay_loop 5
  sorry_server 10.0.0.99 80
  real_server 10.0.0.11 80 {
    HTTP_GET {
      url {
        path /ok
        digest 00
      }
    }
  }
  real_server 10.0.0.12 80 {
    HTTP_GET {
      url {
        path /ok
      }
    }
  }
}
)");
  CHECK(has(r.yaml,
            "    # keepalived.conf:5 HTTP_GET (every real server's: the same at line 13)\n"
            "    health_check:\n"
            "      type: http\n"));
  // What a check could not carry stays with its real server.
  CHECK(has(r.yaml, "      # WARNING keepalived.conf:8: digest 00:"));
  CHECK(has(r.yaml, "        sorry: true\n        health_check: {type: none}"));
  CHECK_FALSE(has(r.yaml, "        health_check:\n"));
  loads(r);
  // Checks that differ stay with their backends.
  std::string text = R"(virtual_server 10.0.0.100 80 {
  real_server 10.0.0.11 80 {
    TCP_CHECK {
      connect_port 81
    }
  }
  real_server 10.0.0.12 80 {
    TCP_CHECK {
    }
  }
}
)";
  const Result apart = import_text(text);
  CHECK(has(apart.yaml, "        # keepalived.conf:3 TCP_CHECK\n        health_check:\n"));
  CHECK(has(apart.yaml, "        # keepalived.conf:8 TCP_CHECK\n        health_check:\n"));
  loads(apart);
}

TEST_CASE("HTTP_GET: keepalived's default status range, a url's virtualhost, a real regex warned") {
  const Result r = import_text(R"(virtual_server 10.0.0.100 80 {
  real_server 10.0.0.11 80 {
    HTTP_GET {
      url {
        path /
        virtualhost api.example.org
        regex "ok|fine"
      }
    }
  }
}
)");
  CHECK(has(r.yaml, "expect: [\"200-299\"]  # keepalived's default status_code"));
  CHECK(has(r.yaml, "host: \"api.example.org\"  # virtualhost"));
  CHECK(warned(r.model, 7, "not a regular expression"));
  loads(r);
}

// ---- IPv6 ----

TEST_CASE("IPv6 virtual_server and real_server: a NAT66 service, its /64 on-link, one family") {
  const Result r = import_text(R"(virtual_server fd00::100 80 {
  delay_loop 2
  lb_kind NAT
  protocol TCP
  persistence_timeout 50
  real_server fd00:1::11 80 {
    weight 2
    TCP_CHECK {
      connect_timeout 1
    }
  }
  real_server FD00:1:0::12 8080 {
  }
  real_server 10.0.1.13 80 {
  }
  sorry_server fd00:1::99 80
}
)");
  REQUIRE(r.model.services.size() == 1);
  CHECK(has(r.yaml, "  # keepalived.conf:1 virtual_server fd00::100 80\n"));
  CHECK(has(r.yaml, "  - name: tcp-fd00--100-80\n    vip: fd00::100\n    port: 80\n"
                    "    protocol: tcp\n    forwarding: nat  # lb_kind NAT (line 3)\n"));
  CHECK(has(r.yaml, "      - address: fd00:1::11\n        weight: 2\n"));
  CHECK(has(r.yaml, "      - address: fd00:1::12\n        port: 8080\n"));  // written canonical
  CHECK(has(r.yaml, "      - address: fd00:1::99\n        sorry: true\n"));
  CHECK(has(r.yaml, "    persistence: {timeout: 50}  # persistence_timeout 50 (line 5)\n"));
  CHECK(warned(r.model, 14, "10.0.1.13 is IPv4 but the VIP fd00::100 is IPv6"));
  CHECK(has(r.yaml, "      - fd00:1::fffe/64  # CHANGE ME: a placeholder, on-link for real "
                    "server fd00:1::11\n"));
  // No IPv4 needed: the benchmarking placeholder only for a port that would have nothing.
  CHECK_FALSE(has(r.yaml, "198.18."));
  CHECK(r.model.warnings.size() == 1);
  loads(r);
}

TEST_CASE("IPv6 persistence_granularity: a prefix length is kept, a netmask is not") {
  auto imported = [](const std::string& granularity) {
    return import_text("virtual_server fd00::100 80 {\n  lb_kind DR\n  protocol TCP\n"
                       "  persistence_timeout 60\n  persistence_granularity " + granularity +
                       "\n  real_server fd00::11 80 {\n  }\n}\n");
  };
  const Result prefix = imported("64");
  CHECK(has(prefix.yaml, "persistence: {timeout: 60, netmask: 64}"));
  CHECK(prefix.model.warnings.empty());
  loads(prefix);
  const Result mask = imported("255.255.255.0");
  CHECK(has(mask.yaml, "persistence: {timeout: 60}"));
  CHECK(warned(mask.model, 4, "persistence_granularity 255.255.255.0 is not an IPv6 prefix length"));
  loads(mask);
}

TEST_CASE("IPv6 in a virtual_server_group: a range counts in hex in the last group") {
  const Result r = import_text(R"(virtual_server_group G6 {
  fd00::100 80
  fd00::1a-1c 8080
  fd00::1-g 80
}
virtual_server group G6 {
  lb_kind DR
  real_server fd00::11 80 {
  }
}
)");
  REQUIRE(r.model.services.size() == 4);
  CHECK(r.model.services[1].vip == "fd00::1a");
  CHECK(r.model.services[3].vip == "fd00::1c");
  CHECK(r.model.services[3].port == 8080);
  CHECK(has(r.yaml, "  - name: tcp-fd00--1b-8080\n    vip: fd00::1b\n"));
  CHECK(warned(r.model, 4, "'fd00::1-g' is not an address range"));
  loads(r);
}

TEST_CASE("VRRP over IPv6: addresses with prefix and dev, link-local and other families left out") {
  // keepalived --config-test takes it (and ignores 10.0.0.100 too).
  const Result r = import_text(R"(vrrp_instance VI_6 {
  interface eth0
  virtual_router_id 52
  priority 150
  advert_int 0.1
  virtual_ipaddress {
    fe80::1/64
    fd00::100/64 dev eth0
    fd00:1::1/64 dev eth1
    10.0.0.100
  }
}
virtual_server fd00::100 80 {
  lb_kind NAT
  real_server fd00:1::11 80 {
  }
}
)");
  REQUIRE(r.model.vrrp.size() == 1);
  CHECK(r.model.vrrp[0].ipv6);
  CHECK(has(r.yaml, "    # keepalived.conf:1 vrrp_instance VI_6\n"));
  CHECK(has(r.yaml, "    - name: vi_6\n      vrid: 52\n      port: eth0  # interface eth0\n"
                    "      priority: 150\n      interval: 0.1  # advert_int\n"
                    "      addresses:\n        - fd00::100\n        - fd00:1::1\n"));
  CHECK(warned(r.model, 7, "a link-local address"));
  CHECK(warned(r.model, 10, "an IPv4 address in an IPv6 instance, which keepalived ignores too"));
  CHECK(has(r.yaml, "# keepalived.conf:9: fd00:1::1/64 dev eth1: shoal carries the address "
                    "alone, on eth1's port (its prefix, label and scope are not imported)"));
  // The gateway is on-link on eth1, its dev: the /64 placeholder goes there, and the real
  // server's /64 is the same one.
  CHECK(has(r.yaml, "  - name: eth1\n    device: \"net_null1\"  # CHANGE ME: net_null drops "
                    "every packet\n    addresses:\n      - fd00:1::fffe/64  # CHANGE ME: a "
                    "placeholder, on-link for VRRP address fd00:1::1\n"));
  // eth0 carries only the VIP: the benchmarking placeholder.
  CHECK(has(r.yaml, "  - name: eth0\n    device: \"net_null0\"  # CHANGE ME: net_null drops "
                    "every packet\n    addresses:\n      - 198.18.0.1/24"));
  loads(r);
}

TEST_CASE("VRRP: excluded addresses of the other family get an instance of their own, synced") {
  const Result r = import_text(R"(vrrp_sync_group G {
  group {
    VI_1
  }
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  virtual_ipaddress {
    10.0.0.100/24
  }
  virtual_ipaddress_excluded {
    fd00::100/64
    10.0.0.101
  }
  notify_master /bin/m
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 52
  native_ipv6
  virtual_ipaddress {
    fd00::200
  }
  virtual_ipaddress_excluded {
    10.0.0.200
  }
}
vrrp_instance VI_3 {
  interface eth0
  virtual_router_id 53
  virtual_ipaddress_excluded {
    fd00::300
  }
}
)");
  REQUIRE(r.model.vrrp.size() == 5);
  // VI_1: IPv4 (its first virtual_ipaddress), the IPv4 excluded one with it.
  CHECK(has(r.yaml, "    - name: vi_1\n      vrid: 51\n      port: eth0  # interface eth0\n"
                    "      addresses:\n        - 10.0.0.100\n        - 10.0.0.101\n"
                    "      notify_master: \"/bin/m\"\n"));
  CHECK(has(r.yaml, "# keepalived.conf:14: virtual_ipaddress_excluded: shoal advertises every "
                    "address it carries\n"));
  CHECK(has(r.yaml, "    - name: vi_1-ipv6\n      vrid: 51\n      port: eth0  # interface eth0\n"
                    "      addresses:\n        - fd00::100\n    #"));
  CHECK(has(r.yaml, "    # keepalived.conf:6: virtual_ipaddress_excluded: the IPv6 addresses of "
                    "instance vi_1, which shoal's instances carry one family each: an instance "
                    "of their own, in a sync group with vi_1 (the notify commands run for that "
                    "one)\n"));
  // VI_2 (native_ipv6): IPv6, and its IPv4 excluded address in vi_2-ipv4.
  CHECK(has(r.yaml, "    - name: vi_2\n      vrid: 52\n      port: eth0  # interface eth0\n"
                    "      addresses:\n        - fd00::200\n"));
  CHECK(has(r.yaml, "    - name: vi_2-ipv4\n      vrid: 52\n      port: eth0  # interface eth0\n"
                    "      addresses:\n        - 10.0.0.200\n"));
  // VI_3: nothing but an IPv6 excluded address: an IPv6 instance, said in a note.
  CHECK(has(r.yaml, "    - name: vi_3\n      vrid: 53\n      port: eth0  # interface eth0\n"
                    "      addresses:\n        - fd00::300\n"));
  CHECK(has(r.yaml, "keepalived advertises over IPv4 for addresses it does not advertise; "
                    "shoal's instance is of its addresses' family, IPv6"));
  // The pair joins G; VI_2's pair makes a group of its own.
  CHECK(has(r.yaml, "  sync_groups:\n    # keepalived.conf:1 vrrp_sync_group G\n    - name: g\n"
                    "      instances:\n        - vi_1\n        - vi_1-ipv6\n"));
  CHECK(has(r.yaml, "    - name: vi_2\n      instances:\n        - vi_2\n        - vi_2-ipv4\n"));
  CHECK(r.model.warnings.empty());
  loads(r);
}

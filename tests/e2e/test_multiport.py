"""Multi-port services (IPVS's firewall-mark services, LVS's port 0) through the lab, in DR and
NAT: with persistence, one client's connections to two ports of a service reach one real
server (rr would spread them); a port the service does not list is dropped and counted; a
service on every port takes a port it does not name. The API, `shoalctl list` and simulate
show and find the ports.

Besides nginx on 80, each real server answers HTTP with its name on SECOND_PORT.

Run as root:  /usr/bin/python3 -m pytest tests/e2e/test_multiport.py
"""

import copy
import subprocess

import pytest

from conftest import PY, VIP, make_config, requirements_missing, start_lab

pytestmark = pytest.mark.skipif(requirements_missing() is not None,
                                reason=requirements_missing() or "")

SECOND_PORT = 8080
UNLISTED_PORT = 8081
CLIENTS = ["10.0.0.211", "10.0.0.212", "10.0.0.213"]

# An HTTP server that answers its name, as the lab's nginx does on 80.
NAME_SERVER = r"""
import http.server, sys
name = sys.argv[1].encode() + b"\n"
class Name(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(name)))
        self.end_headers()
        self.wfile.write(name)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("", int(sys.argv[2])), Name).serve_forever()
"""


@pytest.fixture(scope="module", params=["dr", "nat"])
def d(request, tmp_path_factory):
    lab, d = start_lab(request, tmp_path_factory, request.param, servers=3)
    servers = [lab.popen(f"rs{i}", PY, "-c", NAME_SERVER, f"rs{i}", SECOND_PORT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for i in range(1, 4)]
    for p in servers:
        request.addfinalizer(p.kill)
    lab.add_client_addresses(CLIENTS)
    d.base = make_config(lab)
    d.start(with_ports(d, [80, SECOND_PORT]))
    return d


def with_ports(d, ports):
    """The lab's web service over `ports` (a list, or "all"), round robin with persistence:
    without persistence a client's connections would go to each server in turn."""
    cfg = copy.deepcopy(d.base)
    web = next(s for s in cfg["services"] if s["name"] == "web")
    web.pop("port")
    web.pop("hash", None)
    web["ports"] = ports
    web["scheduler"] = "rr"
    web["persistence"] = {"timeout": 300}
    for b in web["backends"]:
        b.pop("port", None)  # each packet keeps its own port
    return cfg


def answers(d, source, port, count=6):
    res = d.lab.client("http", "--vip", VIP, "--port", port, "--count", count, "--timeout", 3,
                       "--source", source, timeout=60)
    assert res["ok"] == count, res
    return res["hist"]


def drops(d, reason):
    return d.api("counters")["total"]["drops"].get(reason, 0)


def test_one_client_one_server_across_the_ports(d):
    ok, lines, _, _ = d.reload(with_ports(d, [80, SECOND_PORT]))
    assert ok, lines
    chosen = {}
    for source in CLIENTS:
        seen = {}
        for port in (80, SECOND_PORT, 80):
            seen.update(answers(d, source, port))
        assert len(seen) == 1, (source, seen)
        chosen[source] = next(iter(seen))
    web = next(s for s in d.api("list")["services"] if s["name"] == "web")
    assert web["port"] == 0 and web["ports"] == f"80,{SECOND_PORT}", web
    assert f"{VIP}:80,{SECOND_PORT}" in d.ctl("list", "-n").stdout
    sim = d.api_json("GET", f"/v1/simulate?client={CLIENTS[0]}:1&vip={VIP}:{SECOND_PORT}&proto=tcp")
    assert sim["service"] == "web" and sim["backend"]["name"] == chosen[CLIENTS[0]], sim


def test_a_port_outside_the_list_is_dropped_and_counted(d):
    before = drops(d, "vip_port_unknown")
    p = d.lab.exec("client", PY, "-c",
                   f"import socket; socket.create_connection(('{VIP}', {UNLISTED_PORT}), timeout=1)",
                   check=False)
    assert p.returncode != 0 and "timed out" in p.stderr, p.stderr  # no answer, not a refusal
    assert drops(d, "vip_port_unknown") > before
    d.assert_balanced()


def test_a_service_on_every_port(d):
    ok, lines, _, _ = d.reload(with_ports(d, "all"))
    assert ok, lines
    for source in CLIENTS[:2]:
        seen = {}
        for port in (SECOND_PORT, 80):
            seen.update(answers(d, source, port, count=3))
        assert len(seen) == 1, (source, seen)
    assert f"{VIP}:0 " in d.ctl("list", "-n").stdout
    sim = d.api_json("GET", f"/v1/simulate?client={CLIENTS[0]}:1&vip={VIP}:4242&proto=tcp")
    assert sim["service"] == "web", sim
    d.assert_balanced()

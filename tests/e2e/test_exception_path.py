"""The exception path (DR lab, no management interface): the director's only port is a DPDK
device the kernel has no address on, so everything the director's own processes send and
receive crosses the TAP on which the kernel holds the port's address. Health checks of the
real servers go that way, a TCP server and ICMP echo on the director's address answer the
client through it, and VIP traffic never reaches the kernel.

Run as root:  /usr/bin/python3 -m pytest tests/e2e/test_exception_path.py
"""

import re
import subprocess
import time

import pytest

from conftest import PY, VIP, make_config, requirements_missing, start_lab

pytestmark = pytest.mark.skipif(requirements_missing() is not None,
                                reason=requirements_missing() or "")

TAP = "lan0"
DIRECTOR = "10.0.0.2"


@pytest.fixture(scope="module")
def d(request, tmp_path_factory):
    lab, d = start_lab(request, tmp_path_factory, "dr", servers=3, mgmt=False)
    cfg = make_config(lab, tap=TAP)
    for svc in cfg["services"]:
        if svc["name"] == "web":
            svc["health_check"] = {"type": "http", "interval": 0.5, "timeout": 0.3, "rise": 2,
                                   "fall": 2, "initial": "down"}
    d.start(cfg, warm_up=False)
    for i in (1, 2, 3):
        d.wait_log(rf"rs{i} 10\.0\.0\.1{i}:80 up: http status 200", timeout=15)
    d.warm_up()
    return d


def test_kernel_holds_the_port_address_on_the_tap(d):
    out = d.lab.exec("d1", "ip", "-o", "-4", "addr", "show").stdout
    assert re.search(rf"\d+: {TAP}\s+inet {re.escape(DIRECTOR)}/24", out), out
    # The DPDK port itself has no address: without the TAP the kernel could reach nothing.
    assert f"{d.lab.prefix}-d1" not in out, out
    mac = d.lab.exec("d1", "cat", f"/sys/class/net/{TAP}/address").stdout.strip()
    assert re.search(rf"MAC {re.escape(mac)}", d.log_text(), re.I), \
        d.diag(f"the TAP's MAC {mac} is not the port's")


def test_health_checks_cross_the_exception_path(d):
    status = d.api("list")
    web = next(s for s in status["services"] if s["name"] == "web")
    assert all(b["health"]["up"] for b in web["backends"]), web
    # The kernel resolved the real servers through the TAP (ARP passed on by the control plane).
    neigh = d.lab.exec("d1", "ip", "neigh", "show", "dev", TAP).stdout
    assert "10.0.0.11" in neigh and "lladdr" in neigh, neigh
    res = d.lab.client("http", "--vip", VIP, "--port", 80, "--count", 200,
                       "--sport-base", 21000)
    assert res["ok"] == 200 and set(res["hist"]) == {"rs1", "rs2", "rs3"}, res


def test_a_server_on_the_director_answers_the_client(d):
    server = d.lab.popen("d1", PY, "-m", "http.server", "--bind", DIRECTOR, "8081",
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out = None
        for _ in range(50):
            out = d.lab.exec("client", "curl", "-s", "-m", "2", "-o", "/dev/null", "-w",
                             "%{http_code}", f"http://{DIRECTOR}:8081/", check=False)
            if out.stdout == "200":
                break
            time.sleep(0.1)
        assert out.stdout == "200", f"{out.stdout} {out.stderr}"
    finally:
        server.kill()
        server.wait(timeout=10)


def test_the_kernel_answers_echo_to_the_director(d):
    # The kernel sends on the TAP what the director's port transmits: its tx counter moves.
    sent = f"/sys/class/net/{TAP}/statistics/tx_packets"
    before = int(d.lab.exec("d1", "cat", sent).stdout)
    probe = ("from scapy.all import IP, ICMP, sr1\n"
             f"r = sr1(IP(dst='{DIRECTOR}')/ICMP(id=4242, seq=7), timeout=2, verbose=0)\n"
             "print(r[IP].src if r is not None and r[ICMP].type == 0 and r[ICMP].id == 4242 "
             "else 'none')")
    out = d.lab.exec("client", PY, "-c", probe).stdout.strip()
    assert out == DIRECTOR, out
    assert int(d.lab.exec("d1", "cat", sent).stdout) > before


def test_vip_traffic_never_reaches_the_kernel(d):
    stats = f"/sys/class/net/{TAP}/statistics/rx_packets"
    before = int(d.lab.exec("d1", "cat", stats).stdout)
    res = d.lab.client("http", "--vip", VIP, "--port", 80, "--count", 300,
                       "--sport-base", 22000)
    after = int(d.lab.exec("d1", "cat", stats).stdout)
    assert res["ok"] == 300, res
    # 300 connections are some 2000 frames; the kernel may meanwhile get the health checks'
    # own traffic (6 checks/s of a few frames each) but nothing per VIP packet.
    assert after - before < 300, f"{after - before} frames reached the kernel"


def test_a_dead_server_is_seen_through_the_exception_path(d):
    mark = len(d.log_lines())
    pid = (d.lab.state / "rs2" / "nginx.pid").read_text().strip()
    d.lab.exec("rs2", "kill", "-QUIT", pid)
    try:
        d.wait_log(r"rs2 10\.0\.0\.12:80 down: http connect", after=mark, timeout=5)
        res = d.lab.client("http", "--vip", VIP, "--port", 80, "--count", 200,
                           "--sport-base", 23000)
        assert res["ok"] == 200 and "rs2" not in res["hist"], res
    finally:
        d.lab.exec("rs2", "nginx", "-c", str(d.lab.state / "rs2" / "nginx.conf"))
    d.wait_log(r"rs2 10\.0\.0\.12:80 up: http status 200", after=mark, timeout=10)
    d.assert_balanced()

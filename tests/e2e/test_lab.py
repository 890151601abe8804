"""The namespace lab itself (scripts/lab), with no director running: what the other suites
take for granted, above all for IPv6, which the lab carries beside IPv4 on the same segment.

- every real server answers HTTP, the UDP echo, and 1000 connections from fixed source ports
  and the 64 MiB download through the lab client (client.py) on its IPv6 address;
- DR and TUN real servers take traffic for the IPv6 VIP and answer from it: the client's
  kernel, told that the VIP is at one real server's MAC, plays the DR director;
- NAT real servers route IPv6 through the director's fd00:1::1, and the client reaches their
  fd00:1::/64 through the director's fd00::2;
- no real server answers a Neighbour Solicitation for the IPv6 VIP (nor ARP for the IPv4
  one), while each answers for its own addresses; the director's veth has no kernel IPv6
  (shoald alone answers for fd00::2 there).

Run as root:  /usr/bin/python3 -m pytest tests/e2e/test_lab.py
"""

import json

import pytest

from conftest import LIB, PY, VIP, VIP6, Lab, requirements_missing

pytestmark = pytest.mark.skipif(requirements_missing() is not None,
                                reason=requirements_missing() or "")

PROBE = LIB / "neighbour_probe.py"
BIG_SIZE = 64 * 1024 * 1024
MODES = ["dr", "nat", "tun"]


@pytest.fixture(scope="module")
def lab(request):
    lab = Lab(request.param)
    request.addfinalizer(lab.down)
    lab.up()
    return lab


def client_node(lab, i):
    """Where to reach real server i from: the client, except in NAT, where the real servers'
    subnet is behind the director and only the other real servers reach it directly."""
    return f"rs{i % lab.servers + 1}" if lab.mode == "nat" else "client"


def mac_of(lab, node):
    return lab.exec(node, "cat", "/sys/class/net/eth0/address").stdout.strip()


@pytest.mark.parametrize("lab", MODES, indirect=True)
def test_real_servers_answer_on_their_ipv6_addresses(lab):
    for i in range(1, lab.servers + 1):
        addr, node = lab.rs_address6(i), client_node(lab, i)
        res = lab.client("http", "--vip", addr, "--port", 80, "--count", 5, node=node)
        assert res["ok"] == 5 and res["hist"] == {f"rs{i}": 5}, (addr, res)
        res = lab.client("udp", "--vip", addr, "--port", 7, "--payload", "six", node=node)
        assert res["replies"] == [{"data": f"rs{i}:six", "peer": [addr, 7], "sent": "six"}], res


@pytest.mark.parametrize("lab", MODES, indirect=True)
def test_1000_connections_and_the_download_over_ipv6(lab):
    """What test_forwarding asks of the lab client through the IPv6 VIP, against rs1."""
    addr, node = lab.rs_address6(1), client_node(lab, 1)
    res = lab.client("http", "--vip", addr, "--port", 80, "--count", 1000,
                     "--sport-base", 10000, node=node, timeout=300)
    assert res["ok"] == 1000 and res["hist"] == {"rs1": 1000}, (
        f"{res['errors']} {res['error_samples']}")
    res = lab.client("big", "--vip", addr, "--port", 80, node=node, timeout=300)
    assert res["error"] is None and res["status"] == 200 and res["size"] == BIG_SIZE, res
    assert res["sha256"] == lab.big_hashes()["rs1"], res


@pytest.mark.parametrize("lab", ["dr", "tun"], indirect=True)
def test_dr_and_tun_real_servers_answer_from_the_ipv6_vip(lab):
    for i in (1, 3):
        lab.exec("client", "ip", "-6", "neigh", "replace", VIP6, "lladdr", mac_of(lab, f"rs{i}"),
                 "dev", "eth0", "nud", "permanent")
        try:
            res = lab.client("http", "--vip", VIP6, "--port", 80, "--count", 3)
            assert res["ok"] == 3 and res["hist"] == {f"rs{i}": 3}, res
            res = lab.client("udp", "--vip", VIP6, "--port", 7, "--payload", "vip")
            # From the VIP, as the client expects, not from the server's own address.
            assert res["replies"] == [{"data": f"rs{i}:vip", "peer": [VIP6, 7], "sent": "vip"}], res
        finally:
            lab.exec("client", "ip", "-6", "neigh", "del", VIP6, "dev", "eth0")


@pytest.mark.parametrize("lab", ["nat"], indirect=True)
def test_nat_real_servers_route_ipv6_through_the_director(lab):
    for i in range(1, lab.servers + 1):
        route = lab.exec(f"rs{i}", "ip", "-6", "route", "get", "fd00::1").stdout
        assert " via fd00:1::1 " in route, route
    route = lab.exec("client", "ip", "-6", "route", "get", lab.rs_address6(1)).stdout
    assert " via fd00::2 " in route, route


@pytest.mark.parametrize("lab", MODES, indirect=True)
def test_only_the_director_may_answer_for_the_vips(lab):
    own = [a for i in range(1, lab.servers + 1) for a in (lab.rs_address(i), lab.rs_address6(i))]
    p = lab.exec("client", PY, PROBE, "--iface", "eth0", VIP6, VIP, *own)
    answers = json.loads(p.stdout.strip().splitlines()[-1])
    assert VIP6 not in answers and VIP not in answers, f"answered for a VIP: {answers}"
    # The probe does hear answers: each real server's for its own addresses, from its MAC.
    for i in range(1, lab.servers + 1):
        mac = mac_of(lab, f"rs{i}")
        assert answers.get(lab.rs_address(i)) == [mac], answers
        assert answers.get(lab.rs_address6(i)) == [mac], answers
    veth = f"{lab.prefix}-d1"
    off = lab.exec("d1", "sysctl", "-n", f"net.ipv6.conf.{veth}.disable_ipv6").stdout.strip()
    assert off == "1", f"the kernel's IPv6 is on on {veth}, which shoald drives"
    assert "inet" not in lab.exec("d1", "ip", "addr", "show", "dev", veth).stdout

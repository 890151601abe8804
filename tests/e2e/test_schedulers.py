"""LVS's schedulers through the DR lab, by real connections: rr and wrr hold their exact
ratios over 1000 new connections with one worker and within ±5% with two; lc and wlc keep new
connections away from a real server that holds long ones, and the API's simulation names the
counts that decided.

Run as root:  /usr/bin/python3 -m pytest tests/e2e/test_schedulers.py
"""

import copy
import subprocess
import time

import pytest

from conftest import PY, VIP, make_config, requirements_missing, start_lab

pytestmark = pytest.mark.skipif(requirements_missing() is not None,
                                reason=requirements_missing() or "")

CONNECTIONS = 1000


@pytest.fixture(scope="module")
def d(request, tmp_path_factory):
    lab, d = start_lab(request, tmp_path_factory, "dr", servers=3)
    d.base = make_config(lab)  # web: rs1:1 rs2:1 rs3:2
    d.start(scheduled(d, "rr"))
    return d


def scheduled(d, scheduler, weights=None, workers=1):
    cfg = copy.deepcopy(d.base)
    cfg["workers"]["count"] = workers
    web = next(s for s in cfg["services"] if s["name"] == "web")
    web.pop("hash", None)
    web["scheduler"] = scheduler
    for b in web["backends"]:
        if weights is not None:
            b["weight"] = weights[b["name"]]
    return cfg


def reload(d, cfg):
    ok, lines, _, _ = d.reload(cfg)
    assert ok, "\n".join(lines)


def connections(d, count=CONNECTIONS):
    """`count` HTTP requests, each on a new connection: {real server: answers}."""
    res = d.lab.client("http", "--vip", VIP, "--port", 80, "--count", count, "--timeout", 5,
                       timeout=300)
    assert res["ok"] == count, res
    return res["hist"]


def test_rr_and_wrr_exact_with_one_worker(d):
    reload(d, scheduled(d, "rr"))
    hist = connections(d)
    # 1000 over 3 in turn: 334, 333, 333 in some order (the sequence may start anywhere).
    assert sorted(hist.values()) == [333, 333, 334], hist
    reload(d, scheduled(d, "wrr"))
    hist = connections(d)
    # Weights 1:1:2, a cycle of 4: any 1000 consecutive picks hold it exactly.
    assert hist == {"rs1": 250, "rs2": 250, "rs3": 500}, hist
    web = next(s for s in d.api("list")["services"] if s["name"] == "web")
    assert web["scheduler"] == "wrr" and web["hash"] is None, web
    assert "wrr" in d.ctl("list").stdout


class Holder:
    """`n` TCP connections to the VIP, opened one after another and held open."""

    def __init__(self, lab, n):
        self.proc = lab.popen("client", PY, "-c", (
            "import socket, sys, time\n"
            "socks = []\n"
            f"for i in range({n}):\n"
            "    socks.append(socket.create_connection(('" + VIP + "', 80), timeout=5))\n"
            "print('open', flush=True)\n"
            "sys.stdin.readline()\n"
            "time.sleep(30)\n"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "open"

    def close(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


def active(d):
    web = next(s for s in d.api("list")["services"] if s["name"] == "web")
    return {b["name"]: b["connections"]["active"] for b in web["backends"]}


@pytest.mark.parametrize("scheduler", ["lc", "wlc"])
def test_least_connections_avoid_the_busy_server(d, scheduler):
    # Only rs1 takes new connections while 20 long ones open: all of them land there.
    reload(d, scheduled(d, scheduler, {"rs1": 1, "rs2": 0, "rs3": 0}))
    holder = Holder(d.lab, 20)
    try:
        deadline = time.time() + 5
        while active(d)["rs1"] < 20 and time.time() < deadline:
            time.sleep(0.1)
        assert active(d) == {"rs1": 20, "rs2": 0, "rs3": 0}
        # Everyone back in (rs1 weighing 3 for wlc): the held connections stay on rs1, and
        # its 20 active ones outweigh the short connections that close on rs2 and rs3.
        weights = {"rs1": 3 if scheduler == "wlc" else 1, "rs2": 1, "rs3": 1}
        reload(d, scheduled(d, scheduler, weights))
        sim = d.api_json("GET", f"/v1/simulate?client=10.0.0.1:1&vip={VIP}:80&proto=tcp")
        assert sim["scheduler"] == scheduler and sim["backend"]["name"] in ("rs2", "rs3"), sim
        loads = {c["backend"]: c["active"] for c in sim["connections"]}
        assert loads["rs1"] == 20 and "least load" in sim["why"], sim
        hist = connections(d, 200)
        assert "rs1" not in hist and sum(hist.values()) == 200, hist
    finally:
        holder.close()


def test_rr_and_wrr_within_five_percent_with_two_workers(d):
    """Each worker keeps its own place in the sequence; the ratio holds over the whole."""
    d.stop()
    d.start(scheduled(d, "wrr", workers=2))
    before = [w["flows_created"] for w in d.api_json("GET", "/v1/counters")["workers"]]
    hist = connections(d)
    after = [w["flows_created"] for w in d.api_json("GET", "/v1/counters")["workers"]]
    created = [b - a for a, b in zip(before, after)]
    # Both workers scheduled a fair part of them, or this would test one worker again.
    assert len(created) == 2 and min(created) >= 0.2 * CONNECTIONS, created
    for name, share in (("rs1", 0.25), ("rs2", 0.25), ("rs3", 0.5)):
        assert abs(hist.get(name, 0) / CONNECTIONS - share) <= 0.05 * share, hist
    reload(d, scheduled(d, "rr", workers=2))
    hist = connections(d)
    for name in ("rs1", "rs2", "rs3"):
        assert abs(hist.get(name, 0) / CONNECTIONS - 1 / 3) <= 0.05 / 3, hist


def persistent(d, scheduler="rr", netmask=None, workers=2):
    cfg = scheduled(d, scheduler, workers=workers)
    web = next(s for s in cfg["services"] if s["name"] == "web")
    web["persistence"] = {"timeout": 300}
    if netmask is not None:
        web["persistence"]["netmask"] = netmask
    return cfg


def from_source(d, source, count):
    res = d.lab.client("http", "--vip", VIP, "--port", 80, "--count", count, "--timeout", 5,
                       "--source", source, timeout=300)
    assert res["ok"] == count, res
    return res["hist"]


def test_persistence_holds_a_client_across_workers_and_reloads(d):
    """rr would spread a client's connections; with persistence each client keeps one real
    server, whichever of the two workers its connections reach, through a reload that keeps
    that server, and moves (then stays) when it is disabled."""
    d.lab.add_client_addresses(["10.0.0.201", "10.0.0.202"])
    reload(d, persistent(d))
    web = next(s for s in d.api("list")["services"] if s["name"] == "web")
    assert web["persistence"] == {"timeout": 300, "netmask": "255.255.255.255"}, web
    before = d.api_json("GET", "/v1/counters")["workers"]
    servers = {}
    for source in ("10.0.0.201", "10.0.0.202"):
        hist = from_source(d, source, 100)
        assert len(hist) == 1, (source, hist)
        servers[source] = next(iter(hist))
    after = d.api_json("GET", "/v1/counters")["workers"]
    created = [b["flows_created"] - a["flows_created"] for a, b in zip(before, after)]
    hits = sum(b["persistence_hits"] - a["persistence_hits"] for a, b in zip(before, after))
    assert min(created) >= 20, created  # both workers took part
    assert hits >= 196, hits  # all but each client's first (once per worker at most)
    assert "persistent 300 mask 255.255.255.255" in d.ctl("list").stdout
    sim = d.api_json("GET", f"/v1/simulate?client=10.0.0.201:1&vip={VIP}:80&proto=tcp")
    assert sim["persistence"] == "hit" and sim["backend"]["name"] == servers["10.0.0.201"], sim

    # A reload that keeps the servers keeps the entries (rr's order changes with the weights).
    cfg = persistent(d)
    next(s for s in cfg["services"] if s["name"] == "web")["backends"][0]["weight"] = 3
    reload(d, cfg)
    assert from_source(d, "10.0.0.201", 30) == {servers["10.0.0.201"]: 30}

    # Its server disabled: the client moves, and stays on its new server once it is back.
    d.ctl("disable", "web", servers["10.0.0.201"])
    moved = from_source(d, "10.0.0.201", 30)
    assert len(moved) == 1 and servers["10.0.0.201"] not in moved, moved
    d.ctl("enable", "web", servers["10.0.0.201"])
    assert from_source(d, "10.0.0.201", 30) == moved


def test_persistence_netmask_groups_clients(d):
    reload(d, persistent(d, netmask="255.255.255.0"))
    first = from_source(d, "10.0.0.201", 20)
    assert len(first) == 1, first
    assert from_source(d, "10.0.0.202", 20) == {next(iter(first)): 20}

"""End-to-end test of shoal-decap, the XDP IPv4-in-IPv4 decapsulator for TUN real servers.

Two network namespaces made here ("a" the director/client side, "b" the real server), joined
by a veth pair:

    a: va 10.99.0.1/24                      b: vb 10.99.0.2/24, lo 10.99.9.100/32 (VIP)
                                               shoal-decap attached to vb, UDP echo + TCP
                                               listener bound to the VIP

From a, scapy sends Ethernet/IPv4(10.99.0.1 -> 10.99.0.2, proto 4)/IPv4(-> VIP)/... frames
on va; b decapsulates with XDP (b's kernel has no ipip module) and answers directly,
unencapsulated, to 10.99.0.1. All traffic stays inside the two namespaces.

Run as root:  SHOAL_BUILD_DIR=build-bpf /usr/bin/python3 -m pytest tests/e2e/test_decap.py
SHOAL_BUILD_DIR defaults to build/release (relative to the repo root).
"""

import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable  # Debian's scapy lives with /usr/bin/python3

A_IP = "10.99.0.1"
B_IP = "10.99.0.2"
VIP = "10.99.9.100"
UDP_PORT = 7
TCP_PORT = 8080


def build_dir() -> Path:
    d = Path(os.environ.get("SHOAL_BUILD_DIR", "build/release"))
    return d if d.is_absolute() else REPO / d


def loader_path() -> Path:
    return build_dir() / "dataplane" / "bpf" / "shoal-decap"


pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, XDP)"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2"),
]


def run(*cmd, check=True, timeout=30):
    p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    return p


# --- helper programs run inside the namespaces -------------------------------------------

# UDP echo on VIP:7 and a TCP listener on VIP:8080 (accepts, echoes one read, closes).
SERVER = r"""
import socket, sys, select
vip, uport, tport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((vip, uport))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind((vip, tport)); t.listen(16)
print("ready", flush=True)
while True:
    r, _, _ = select.select([u, t], [], [], 60)
    if not r:
        break  # idle for a minute: the test is gone
    if u in r:
        data, peer = u.recvfrom(65535)
        u.sendto(data, peer)
    if t in r:
        c, _ = t.accept()
        c.settimeout(2)
        try:
            d = c.recv(65535)
            if d:
                c.sendall(d)
        except OSError:
            pass
        c.close()
"""

# Sends frames built with scapy on va (in a); optionally waits for a UDP echo or a TCP SYN-ACK.
SENDER = r"""
import json, socket, sys, time
from scapy.all import Ether, Dot1Q, IP, UDP, TCP, Raw, sendp, AsyncSniffer, conf
conf.verb = 0
a = json.loads(sys.argv[1])
out = {}

def outer(inner_bytes_or_pkt, vlan=None):
    eth = Ether(src=a["src_mac"], dst=a["dst_mac"])
    if vlan is not None:
        eth = eth / Dot1Q(vlan=vlan)
    return eth / IP(src=a["a_ip"], dst=a["b_ip"], proto=4) / inner_bytes_or_pkt

kind = a["kind"]
if kind == "udp_ipip" or kind == "udp_plain":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a["a_ip"], 0))
    s.settimeout(1.0)
    sport = s.getsockname()[1]
    payload = a["payload"].encode()
    got = None
    for attempt in range(3):
        if kind == "udp_ipip":
            inner = IP(src=a["a_ip"], dst=a["vip"]) / UDP(sport=sport, dport=a["port"]) / Raw(payload)
            sendp(outer(inner), iface=a["iface"])
        else:
            s.sendto(payload, (a["vip"], a["port"]))
        try:
            data, peer = s.recvfrom(65535)
            got = {"data": data.decode(errors="replace"), "peer": list(peer)}
            break
        except socket.timeout:
            continue
    out["reply"] = got
elif kind == "tcp_syn_ipip":
    sport = 40000 + (int(time.time() * 1000) % 20000)
    seen = []  # AsyncSniffer.results is only filled in at stop()
    sn = AsyncSniffer(iface=a["iface"], store=False, prn=seen.append,
                      lfilter=lambda p: TCP in p and IP in p and p[IP].src == a["vip"]
                                        and p[TCP].dport == sport)
    sn.start()
    time.sleep(0.3)
    inner = IP(src=a["a_ip"], dst=a["vip"]) / TCP(sport=sport, dport=a["port"], flags="S", seq=1000)
    synack = None
    for attempt in range(3):
        sendp(outer(inner), iface=a["iface"])
        deadline = time.time() + 1.0
        while time.time() < deadline and synack is None:
            for p in list(seen):
                if p[TCP].flags & 0x12 == 0x12:
                    synack = {"flags": str(p[TCP].flags), "ack": p[TCP].ack,
                              "encapsulated": p[IP].proto == 4}
            time.sleep(0.05)
        if synack:
            break
    sn.stop()
    out["synack"] = synack
elif kind == "malformed":
    # outer proto 4, inner IPv4 header cut to its first 10 bytes
    inner = bytes(IP(src=a["a_ip"], dst=a["vip"]) / UDP(dport=a["port"]))[:10]
    sendp(outer(Raw(inner)), iface=a["iface"], count=a.get("count", 1))
elif kind == "vlan_ipip":
    inner = IP(src=a["a_ip"], dst=a["vip"]) / UDP(sport=5555, dport=a["port"]) / Raw(b"vlan")
    sendp(outer(inner, vlan=a["vlan"]), iface=a["iface"])
print(json.dumps(out), flush=True)
"""

# Captures on vb (in b), after XDP, what reaches the stack for a given UDP destination port.
SNIFFER = r"""
import json, sys, time
from scapy.all import AsyncSniffer, IP, UDP, Dot1Q, conf
conf.verb = 0
iface, dport, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
sn = AsyncSniffer(iface=iface, lfilter=lambda p: IP in p and (
    (UDP in p and p[UDP].dport == dport) or p[IP].proto == 4))
sn.start()
time.sleep(0.3)
print("ready", flush=True)
time.sleep(secs)
sn.stop()
res = []
for p in sn.results or []:
    res.append({"ip_src": p[IP].src, "ip_dst": p[IP].dst, "proto": p[IP].proto,
                "vlan": p[Dot1Q].vlan if Dot1Q in p else None,
                "udp_dport": p[UDP].dport if UDP in p else None,
                "ip_layers": sum(1 for l in p.layers() if l is IP)})
print(json.dumps(res), flush=True)
"""


def wait_ready(proc, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"helper exited early ({proc.returncode}): {proc.stderr.read()}")
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if r:
            line = proc.stdout.readline()
            if line.strip() == "ready":
                return
    raise AssertionError("helper did not become ready in time")


class Env:
    def __init__(self, mode):
        tag = f"{os.getpid()}-{mode}"
        self.ns_a = f"shoal-dt-{tag}-a"
        self.ns_b = f"shoal-dt-{tag}-b"
        self.mode = mode
        self.loader = str(loader_path())
        self.procs = []
        self.made_ns = []

    def in_a(self, *cmd, **kw):
        return run("ip", "netns", "exec", self.ns_a, *cmd, **kw)

    def in_b(self, *cmd, **kw):
        return run("ip", "netns", "exec", self.ns_b, *cmd, **kw)

    def decap(self, *args, check=True):
        return self.in_b(self.loader, *args, check=check)

    def stats(self):
        p = self.decap("stats", "vb", "--json")
        return json.loads(p.stdout)

    def mac(self, ns, dev):
        p = run("ip", "-n", ns, "-j", "link", "show", dev)
        return json.loads(p.stdout)[0]["address"]

    def send(self, **args):
        base = {"iface": "va", "src_mac": self.mac_a, "dst_mac": self.mac_b,
                "a_ip": A_IP, "b_ip": B_IP, "vip": VIP}
        base.update(args)
        p = self.in_a(PY, "-c", SENDER, json.dumps(base), timeout=60)
        return json.loads(p.stdout.strip().splitlines()[-1])

    def start(self, ns, script, *args):
        p = subprocess.Popen(["ip", "netns", "exec", ns, PY, "-c", script, *map(str, args)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def setup(self):
        for ns in (self.ns_a, self.ns_b):
            run("ip", "netns", "add", ns)
            self.made_ns.append(ns)
        run("ip", "-n", self.ns_a, "link", "add", "va", "type", "veth", "peer", "name", "vb",
            "netns", self.ns_b)
        for ns, dev, addr in ((self.ns_a, "va", f"{A_IP}/24"), (self.ns_b, "vb", f"{B_IP}/24")):
            run("ip", "-n", ns, "link", "set", "lo", "up")
            run("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            run("ip", "-n", ns, "link", "set", dev, "up")
            # veth hands over partial checksums; make them complete on the wire
            run("ip", "netns", "exec", ns, "ethtool", "-K", dev, "tx", "off")
        run("ip", "-n", self.ns_b, "addr", "add", f"{VIP}/32", "dev", "lo")
        # real-server VIP-on-lo settings (DR/TUN): don't answer ARP for the VIP, and use the
        # interface address as ARP source
        for key, val in (("net.ipv4.conf.all.arp_ignore", "1"), ("net.ipv4.conf.all.arp_announce", "2")):
            self.in_b("sysctl", "-qw", f"{key}={val}")
        # the client side knows the VIP through the director (here: straight at b)
        run("ip", "-n", self.ns_a, "route", "add", f"{VIP}/32", "via", B_IP)
        self.mac_a = self.mac(self.ns_a, "va")
        self.mac_b = self.mac(self.ns_b, "vb")

        p = self.decap("attach", "vb", "--mode", self.mode)
        assert f"in {self.mode} mode" in p.stdout, p.stdout + p.stderr
        link = run("ip", "-n", self.ns_b, "link", "show", "vb").stdout
        assert "shoal_decap" in link, link
        assert ("xdpgeneric" in link) == (self.mode == "skb"), link

        srv = self.start(self.ns_b, SERVER, VIP, UDP_PORT, TCP_PORT)
        wait_ready(srv)

    def teardown(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)
        for ns in reversed(self.made_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture(scope="module", params=["native", "skb"])
def env(request):
    if not loader_path().exists():
        pytest.fail(f"shoal-decap not built at {loader_path()} (set SHOAL_BUILD_DIR)")
    e = Env(request.param)
    request.addfinalizer(e.teardown)  # registered before setup: runs even if setup fails
    e.setup()
    return e


def test_udp_echo_through_ipip(env):
    before = env.stats()
    res = env.send(kind="udp_ipip", port=UDP_PORT, payload="hello-through-ipip")
    assert res["reply"] is not None, "no UDP echo came back through the decapsulator"
    assert res["reply"]["data"] == "hello-through-ipip"
    assert res["reply"]["peer"] == [VIP, UDP_PORT]  # answered directly from the VIP
    after = env.stats()
    assert after["decapsulated"] >= before["decapsulated"] + 1
    assert after["decapsulated"] >= 1
    assert after["mode"] == env.mode


def test_stats_text_output(env):
    p = env.decap("stats", "vb")
    m = re.search(r"^decapsulated\s+(\d+)$", p.stdout, re.M)
    assert m and int(m.group(1)) >= 1, p.stdout
    assert re.search(r"^passed\s+\d+$", p.stdout, re.M), p.stdout
    assert re.search(r"^malformed\s+\d+$", p.stdout, re.M), p.stdout


def test_tcp_syn_through_ipip(env):
    res = env.send(kind="tcp_syn_ipip", port=TCP_PORT)
    assert res["synack"] is not None, "no SYN-ACK for a SYN sent through IPIP"
    assert res["synack"]["ack"] == 1001
    assert res["synack"]["encapsulated"] is False


def test_non_ipip_passes_untouched(env):
    before = env.stats()
    res = env.send(kind="udp_plain", port=UDP_PORT, payload="plain")
    assert res["reply"] is not None and res["reply"]["data"] == "plain"
    after = env.stats()
    assert after["passed"] >= before["passed"] + 1
    assert after["decapsulated"] == before["decapsulated"]
    assert after["malformed"] == before["malformed"]


def test_malformed_ipip_dropped_and_counted(env):
    before = env.stats()
    env.send(kind="malformed", port=UDP_PORT, count=3)
    after = env.stats()
    assert after["malformed"] >= before["malformed"] + 3
    assert after["decapsulated"] == before["decapsulated"]


def test_decap_output_seen_by_stack(env):
    """What the stack sees on vb after XDP: the inner packet alone, no outer IPIP header."""
    sn = env.start(env.ns_b, SNIFFER, "vb", 9999, 2.0)
    wait_ready(sn)
    env.send(kind="udp_ipip", port=9999, payload="seen")
    out, err = sn.communicate(timeout=30)
    pkts = json.loads(out.strip().splitlines()[-1])
    assert pkts, f"nothing captured on vb; stderr: {err}"
    for p in pkts:
        assert p["proto"] == 17 and p["ip_layers"] == 1, pkts
        assert p["ip_src"] == A_IP and p["ip_dst"] == VIP and p["udp_dport"] == 9999


def test_vlan_tagged_ipip_decapsulated(env):
    # No 8021q module here, so nothing upstack consumes the tag; the counter shows the tagged
    # path of the XDP program decapsulated it.
    before = env.stats()
    env.send(kind="vlan_ipip", port=UDP_PORT, vlan=10)
    after = env.stats()
    assert after["decapsulated"] >= before["decapsulated"] + 1
    assert after["malformed"] == before["malformed"]


def test_cli_errors(env):
    p = env.decap("stats", "no-such-if0", check=False)
    assert p.returncode == 1 and "no such interface" in p.stderr
    p = env.decap("frobnicate", "vb", check=False)
    assert p.returncode == 2
    p = env.decap("attach", "vb", "--mode", "bogus", check=False)
    assert p.returncode == 2
    p = env.decap("attach", "vb", "--mode", env.mode, "--object", "/nonexistent/x.o", check=False)
    assert p.returncode == 1 and "cannot read BPF object" in p.stderr
    p = env.decap("stats", "lo", check=False)  # lo has no program
    assert p.returncode == 3 and "no XDP program" in p.stderr


def test_reattach_replaces_and_detach(env):
    # Re-attaching replaces the program in place (fresh counters), then detach removes it.
    p = env.decap("attach", "vb", "--mode", env.mode)
    assert p.returncode == 0
    assert env.stats()["decapsulated"] == 0
    res = env.send(kind="udp_ipip", port=UDP_PORT, payload="again")
    assert res["reply"] is not None and res["reply"]["data"] == "again"
    p = env.decap("detach", "vb")
    assert "detached" in p.stdout
    assert "xdp" not in run("ip", "-n", env.ns_b, "link", "show", "vb").stdout
    p = env.decap("stats", "vb", check=False)
    assert p.returncode == 3
    # without the decapsulator (and without an ipip module) IPIP goes unanswered
    res = env.send(kind="udp_ipip", port=UDP_PORT, payload="nodecap")
    assert res["reply"] is None
    p = env.decap("detach", "vb")  # idempotent
    assert p.returncode == 0

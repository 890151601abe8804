"""End-to-end test of shoal-decap, the XDP decapsulator for TUN real servers: IPv4-in-IPv4,
IPv6-in-IPv6 and IPv4-in-IPv6.

Two network namespaces made here ("a" the director/client side, "b" the real server), joined
by a veth pair:

    a: va 10.99.0.1/24, fd00::1/64          b: vb 10.99.0.2/24, fd00::2/64,
                                               lo 10.99.9.100/32 and fd00::100/128 (VIPs)
                                               shoal-decap attached to vb, UDP echo + TCP
                                               listener bound to each VIP

From a, scapy sends the frames the director would: Ethernet/IPv4(10.99.0.1 -> 10.99.0.2,
proto 4)/IPv4(-> VIP)/..., Ethernet/IPv6(fd00::1 -> fd00::2, next header 41)/IPv6(-> VIP6)/...
and Ethernet/IPv6(next header 4)/IPv4(-> VIP)/... on va; b decapsulates with XDP (b's kernel
has no ipip or ip6tnl module) and answers directly, unencapsulated, to a. All traffic stays
inside the two namespaces. The program attached to vb is also run alone over hand-written
frames (BPF_PROG_TEST_RUN), to compare what it leaves byte for byte.

Run as root:  SHOAL_BUILD_DIR=build-bpf /usr/bin/python3 -m pytest tests/e2e/test_decap.py
SHOAL_BUILD_DIR defaults to build/release (relative to the repo root).
"""

import ctypes
import ipaddress
import json
import os
import re
import select
import shutil
import struct
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
A_IP6 = "fd00::1"
B_IP6 = "fd00::2"
VIP6 = "fd00::100"
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

# The tunnels the director sends (dataplane/forward.cc, forward_ipv6.cc): the outer family and
# the inner one, and the stats counter each is counted under.
TUNNELS = {
    "4in4": {"outer": 4, "inner": 4},
    "6in6": {"outer": 6, "inner": 6},
    "4in6": {"outer": 6, "inner": 4},
}

# UDP echo on VIP:7 and a TCP listener on VIP:8080 (accepts, echoes one read, closes), for
# each VIP named, IPv4 or IPv6 (comma-separated).
SERVER = r"""
import socket, sys, select
vips, uport, tport = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3])
udp, tcp = [], []
for vip in vips:
    fam = socket.AF_INET6 if ":" in vip else socket.AF_INET
    u = socket.socket(fam, socket.SOCK_DGRAM); u.bind((vip, uport)); udp.append(u)
    t = socket.socket(fam, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind((vip, tport)); t.listen(16)
    tcp.append(t)
print("ready", flush=True)
while True:
    r, _, _ = select.select(udp + tcp, [], [], 300)
    if not r:
        break  # idle for five minutes: the test is gone
    for u in udp:
        if u in r:
            data, peer = u.recvfrom(65535)
            u.sendto(data, peer)
    for t in tcp:
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
# a["tunnel"] (4in4, 6in6 or 4in6) says how the inner packet is wrapped, as the director does.
SENDER = r"""
import json, socket, sys, time
from scapy.all import (Ether, Dot1Q, IP, IPv6, IPv6ExtHdrDestOpt, UDP, TCP, Raw, sendp,
                       AsyncSniffer, conf)
conf.verb = 0
a = json.loads(sys.argv[1])
out = {}
tunnel = a.get("tunnel", "4in4")
inner_v6 = tunnel == "6in6"
L3 = IPv6 if inner_v6 else IP
me, vip = (a["a_ip6"], a["vip6"]) if inner_v6 else (a["a_ip"], a["vip"])

def inner_ip():
    return IPv6(src=me, dst=vip) if inner_v6 else IP(src=me, dst=vip)

def outer(inner, vlan=None, ext=False):
    eth = Ether(src=a["src_mac"], dst=a["dst_mac"])
    if vlan is not None:
        eth = eth / Dot1Q(vlan=vlan)
    if tunnel == "4in4":
        return eth / IP(src=a["a_ip"], dst=a["b_ip"], proto=4) / inner
    # as encap_ipv6 writes it: next header 41 or 4, a flow label from the flow's hash
    nh = 41 if inner_v6 else 4
    o6 = IPv6(src=a["a_ip6"], dst=a["b_ip6"], hlim=64, fl=0x5eed5)
    if ext:  # a destination options header between the outer header and the inner packet
        return eth / o6 / IPv6ExtHdrDestOpt(nh=nh) / inner
    o6.nh = nh
    return eth / o6 / inner

kind = a["kind"]
if kind == "udp_tunnel" or kind == "udp_plain":
    s = socket.socket(socket.AF_INET6 if inner_v6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((me, 0))
    s.settimeout(1.0)
    sport = s.getsockname()[1]
    payload = a["payload"].encode()
    got = None
    for attempt in range(3):
        if kind == "udp_tunnel":
            inner = inner_ip() / UDP(sport=sport, dport=a["port"]) / Raw(payload)
            sendp(outer(inner, ext=a.get("ext", False)), iface=a["iface"])
        else:
            s.sendto(payload, (vip, a["port"]))
        try:
            data, peer = s.recvfrom(65535)
            got = {"data": data.decode(errors="replace"), "peer": list(peer[:2])}
            break
        except socket.timeout:
            continue
    out["reply"] = got
elif kind == "tcp_syn_tunnel":
    sport = 40000 + (int(time.time() * 1000) % 20000)
    seen = []  # AsyncSniffer.results is only filled in at stop()
    sn = AsyncSniffer(iface=a["iface"], store=False, prn=seen.append,
                      lfilter=lambda p: TCP in p and L3 in p and p[L3].src == vip
                                        and p[TCP].dport == sport)
    sn.start()
    time.sleep(0.3)
    inner = inner_ip() / TCP(sport=sport, dport=a["port"], flags="S", seq=1000)
    synack = None
    for attempt in range(3):
        sendp(outer(inner), iface=a["iface"])
        deadline = time.time() + 1.0
        while time.time() < deadline and synack is None:
            for p in list(seen):
                if p[TCP].flags & 0x12 == 0x12:
                    ip_layers = sum(1 for l in p.layers() if l in (IP, IPv6))
                    synack = {"flags": str(p[TCP].flags), "ack": p[TCP].ack,
                              "encapsulated": ip_layers > 1}
            time.sleep(0.05)
        if synack:
            break
    sn.stop()
    out["synack"] = synack
elif kind == "malformed":
    # outer proto 4, inner IPv4 header cut to its first 10 bytes
    inner = bytes(IP(src=a["a_ip"], dst=a["vip"]) / UDP(dport=a["port"]))[:10]
    sendp(outer(Raw(inner)), iface=a["iface"], count=a.get("count", 1))
elif kind == "vlan_tunnel":
    inner = inner_ip() / UDP(sport=5555, dport=a["port"]) / Raw(b"vlan")
    sendp(outer(inner, vlan=a["vlan"]), iface=a["iface"])
elif kind == "bad6":
    # Outer IPv6 frames that must not be decapsulated, by a["case"].
    eth = Ether(src=a["src_mac"], dst=a["dst_mac"])
    o6 = dict(src=a["a_ip6"], dst=a["b_ip6"], hlim=64)
    udp4 = IP(src=a["a_ip"], dst=a["vip"]) / UDP(sport=5555, dport=a["port"]) / Raw(b"x" * 32)
    udp6 = IPv6(src=a["a_ip6"], dst=a["vip6"]) / UDP(sport=5555, dport=a["port"]) / Raw(b"x" * 32)
    case = a["case"]
    if case == "truncated_outer_header":  # 20 of the outer header's 40 bytes
        frame = bytes(eth / IPv6(nh=41, **o6) / udp6)[:14 + 20]
    elif case == "truncated_inner_6in6":  # payload length counts 16 bytes the frame lacks
        frame = bytes(eth / IPv6(nh=41, **o6) / udp6)[:-16]
    elif case == "truncated_inner_4in6":  # 10 bytes of an IPv4 header, honestly announced
        frame = bytes(eth / IPv6(nh=4, **o6) / Raw(bytes(udp4)[:10]))
    elif case == "ipv4_in_41":  # next header 41 announces IPv6, an IPv4 packet follows
        frame = bytes(eth / IPv6(nh=41, **o6) / udp4)
    elif case == "ipv6_in_4":  # next header 4 announces IPv4, an IPv6 packet follows
        frame = bytes(eth / IPv6(nh=4, **o6) / udp6)
    elif case == "inner_longer_than_outer":  # the inner payload length overruns the outer's
        inner = bytearray(bytes(udp6))
        inner[4:6] = (len(inner) - 40 + 8).to_bytes(2, "big")
        frame = bytes(eth / IPv6(nh=41, **o6) / Raw(bytes(inner)))
    else:
        raise SystemExit(f"unknown case {case}")
    sendp(Raw(frame), iface=a["iface"], count=a.get("count", 1))
print(json.dumps(out), flush=True)
"""


# Captures on vb (in b), after XDP, what reaches the stack for a given UDP destination port,
# and any tunnelled packet (IPv4 protocol 4, IPv6 next header 41 or 4).
SNIFFER = r"""
import json, select, sys, time
from scapy.all import AsyncSniffer, Ether, IP, IPv6, UDP, Dot1Q, conf
conf.verb = 0
iface, dport, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
def tunnelled(p):
    return (IP in p and p[IP].proto == 4) or (IPv6 in p and p[IPv6].nh in (4, 41))
sn = AsyncSniffer(iface=iface, lfilter=lambda p: (UDP in p and p[UDP].dport == dport)
                                                 or tunnelled(p))
sn.start()
time.sleep(0.3)
print("ready", flush=True)
select.select([sys.stdin], [], [], secs)  # until the test says stop (a line), at most secs
time.sleep(0.5)  # what was on its way
sn.stop()
res = []
for p in sn.results or []:
    l3 = [l.__name__ for l in p.layers() if l in (IP, IPv6)]
    first = p[IP] if l3 and l3[0] == "IP" else p[IPv6]
    res.append({"ip_src": first.src, "ip_dst": first.dst, "l3": l3,
                "ethertype": p[Dot1Q].type if Dot1Q in p else p[Ether].type,
                "vlan": p[Dot1Q].vlan if Dot1Q in p else None,
                "udp_dport": p[UDP].dport if UDP in p else None})
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
                "a_ip": A_IP, "b_ip": B_IP, "vip": VIP,
                "a_ip6": A_IP6, "b_ip6": B_IP6, "vip6": VIP6}
        base.update(args)
        p = self.in_a(PY, "-c", SENDER, json.dumps(base), timeout=60)
        return json.loads(p.stdout.strip().splitlines()[-1])

    def start(self, ns, script, *args):
        p = subprocess.Popen(["ip", "netns", "exec", ns, PY, "-c", script, *map(str, args)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def setup(self):
        for ns in (self.ns_a, self.ns_b):
            run("ip", "netns", "add", ns)
            self.made_ns.append(ns)
        run("ip", "-n", self.ns_a, "link", "add", "va", "type", "veth", "peer", "name", "vb",
            "netns", self.ns_b)
        for ns, dev, addr, addr6 in ((self.ns_a, "va", f"{A_IP}/24", f"{A_IP6}/64"),
                                     (self.ns_b, "vb", f"{B_IP}/24", f"{B_IP6}/64")):
            run("ip", "-n", ns, "link", "set", "lo", "up")
            run("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            run("ip", "-n", ns, "addr", "add", addr6, "dev", dev, "nodad")
            run("ip", "-n", ns, "link", "set", dev, "up")
            # veth hands over partial checksums; make them complete on the wire
            run("ip", "netns", "exec", ns, "ethtool", "-K", dev, "tx", "off")
        run("ip", "-n", self.ns_b, "addr", "add", f"{VIP}/32", "dev", "lo")
        # IPv6 has no arp_ignore to set: b answers neighbour solicitations on vb only for the
        # addresses vb holds, not for the VIP on lo
        run("ip", "-n", self.ns_b, "addr", "add", f"{VIP6}/128", "dev", "lo", "nodad")
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

        srv = self.start(self.ns_b, SERVER, f"{VIP},{VIP6}", UDP_PORT, TCP_PORT)
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


def delta(before, after):
    """What each counter of `stats --json` gained."""
    return {k: after[k] - before[k] for k in after if isinstance(after[k], int) and k in before}


DECAP_KEYS = ("decapsulated_4in4", "decapsulated_6in6", "decapsulated_4in6")


@pytest.mark.parametrize("tunnel", TUNNELS)
def test_udp_echo_through_tunnel(env, tunnel):
    before = env.stats()
    res = env.send(kind="udp_tunnel", tunnel=tunnel, port=UDP_PORT,
                   payload=f"hello-through-{tunnel}")
    assert res["reply"] is not None, f"no UDP echo came back through the {tunnel} decapsulator"
    assert res["reply"]["data"] == f"hello-through-{tunnel}"
    vip = VIP6 if TUNNELS[tunnel]["inner"] == 6 else VIP
    assert res["reply"]["peer"] == [vip, UDP_PORT]  # answered directly from the VIP
    after = env.stats()
    d = delta(before, after)
    # the kind counted, and decapsulated as their sum; a retry may have sent it again
    assert d[f"decapsulated_{tunnel}"] >= 1, d
    assert d["decapsulated"] == sum(d[k] for k in DECAP_KEYS), d
    assert all(d[k] == 0 for k in DECAP_KEYS if k != f"decapsulated_{tunnel}"), d
    assert d["malformed"] == 0, d
    assert after["mode"] == env.mode


def test_stats_text_output(env):
    p = env.decap("stats", "vb")
    m = re.search(r"^decapsulated\s+(\d+)$", p.stdout, re.M)
    assert m and int(m.group(1)) >= 1, p.stdout
    kinds = {k: int(v) for k, v in re.findall(r"^(decapsulated_\w+)\s+(\d+)$", p.stdout, re.M)}
    assert set(kinds) == set(DECAP_KEYS), p.stdout
    assert int(m.group(1)) == sum(kinds.values()), p.stdout
    assert re.search(r"^passed\s+\d+$", p.stdout, re.M), p.stdout
    assert re.search(r"^malformed\s+\d+$", p.stdout, re.M), p.stdout


@pytest.mark.parametrize("tunnel", TUNNELS)
def test_tcp_syn_through_tunnel(env, tunnel):
    res = env.send(kind="tcp_syn_tunnel", tunnel=tunnel, port=TCP_PORT)
    assert res["synack"] is not None, f"no SYN-ACK for a SYN sent through {tunnel}"
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


# Outer IPv6 frames that are not decapsulated, and the counter each one lands in: a frame too
# short for the outer header goes to the kernel as it is (which drops it); a tunnel whose inner
# packet is cut short or is not of the family the next header announces is dropped.
BAD6 = {
    "truncated_outer_header": "passed",
    "truncated_inner_6in6": "malformed",
    "truncated_inner_4in6": "malformed",
    "ipv4_in_41": "malformed",
    "ipv6_in_4": "malformed",
    "inner_longer_than_outer": "malformed",
}


@pytest.mark.parametrize("case", BAD6)
def test_bad_ipv6_tunnel_not_decapsulated(env, case):
    before = env.stats()
    env.send(kind="bad6", case=case, port=UDP_PORT, count=3)
    d = delta(before, env.stats())
    assert d[BAD6[case]] >= 3, d
    assert d["decapsulated"] == 0, d
    if BAD6[case] == "passed":
        assert d["malformed"] == 0, d


def test_outer_ipv6_extension_header_passes_untouched(env):
    # A destination options header between the outer IPv6 header and the tunnelled packet:
    # the director never sends one, and shoal-decap does not walk the chain, so the frame goes
    # to the kernel as it came, which has no ip6tnl module to take it further: no echo.
    before = env.stats()
    res = env.send(kind="udp_tunnel", tunnel="6in6", ext=True, port=UDP_PORT, payload="ext")
    assert res["reply"] is None, res
    d = delta(before, env.stats())
    assert d["passed"] >= 1, d
    assert d["decapsulated"] == 0 and d["malformed"] == 0, d


@pytest.mark.parametrize("tunnel", TUNNELS)
def test_decap_output_seen_by_stack(env, tunnel):
    """What the stack sees on vb after XDP: the inner packet alone, no outer header, with the
    inner packet's EtherType."""
    sn = env.start(env.ns_b, SNIFFER, "vb", 9999, 30)
    wait_ready(sn)
    env.send(kind="udp_tunnel", tunnel=tunnel, port=9999, payload="seen")
    out, err = sn.communicate(input="stop\n", timeout=60)
    pkts = json.loads(out.strip().splitlines()[-1])
    assert pkts, f"nothing captured on vb; stderr: {err}"
    v6 = TUNNELS[tunnel]["inner"] == 6
    for p in pkts:
        assert p["l3"] == (["IPv6"] if v6 else ["IP"]), pkts
        assert p["ethertype"] == (0x86DD if v6 else 0x0800), pkts
        assert (p["ip_src"], p["ip_dst"]) == ((A_IP6, VIP6) if v6 else (A_IP, VIP)), pkts
        assert p["udp_dport"] == 9999, pkts


@pytest.mark.parametrize("tunnel", TUNNELS)
def test_vlan_tagged_tunnel_decapsulated(env, tunnel):
    # No 8021q module here, so nothing upstack consumes the tag; the counter shows the tagged
    # path of the XDP program decapsulated it, and a capture on vb (which sees the tag) that
    # the tag now announces the inner packet.
    sn = env.start(env.ns_b, SNIFFER, "vb", UDP_PORT, 30)
    wait_ready(sn)
    before = env.stats()
    env.send(kind="vlan_tunnel", tunnel=tunnel, port=UDP_PORT, vlan=10)
    d = delta(before, env.stats())
    assert d[f"decapsulated_{tunnel}"] >= 1, d
    assert d["malformed"] == 0, d
    out, err = sn.communicate(input="stop\n", timeout=60)
    tagged = [p for p in json.loads(out.strip().splitlines()[-1]) if p["vlan"] == 10]
    assert tagged, f"no tagged frame captured on vb; stderr: {err}"
    v6 = TUNNELS[tunnel]["inner"] == 6
    for p in tagged:
        assert p["l3"] == (["IPv6"] if v6 else ["IP"]), tagged
        assert p["ethertype"] == (0x86DD if v6 else 0x0800), tagged


# --- the program alone, byte for byte: BPF_PROG_TEST_RUN on the attached program ----------

_libc = ctypes.CDLL(None, use_errno=True)
SYS_BPF = {"x86_64": 321, "aarch64": 280}[os.uname().machine]
BPF_PROG_TEST_RUN, BPF_PROG_GET_FD_BY_ID = 10, 13
XDP_DROP, XDP_PASS = 1, 2


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, len(attr))
    r = _libc.syscall(SYS_BPF, cmd, buf, len(attr))
    if r < 0:
        raise OSError(ctypes.get_errno(), f"bpf({cmd}): {os.strerror(ctypes.get_errno())}")
    return r, buf.raw


def xdp_run(prog_id, frame):
    """Runs the program once over `frame`: (verdict, the frame it leaves)."""
    fd, _ = bpf(BPF_PROG_GET_FD_BY_ID, struct.pack("=III", prog_id, 0, 0))
    try:
        out = ctypes.create_string_buffer(len(frame) + 256)
        data_in = ctypes.create_string_buffer(frame, len(frame))
        # struct { prog_fd, retval, data_size_in, data_size_out; data_in, data_out (u64);
        #          repeat, duration }
        attr = struct.pack("=IIIIQQII", fd, 0, len(frame), len(out), ctypes.addressof(data_in),
                           ctypes.addressof(out), 1, 0)
        _, res = bpf(BPF_PROG_TEST_RUN, attr)
        _, retval, _, size_out = struct.unpack_from("=IIII", res)
        return retval, out.raw[:size_out]
    finally:
        os.close(fd)


# Frames written out field by field, as the director's encap_ipv6 and encapsulation write them.
MAC_B = bytes.fromhex("020000000002")
MAC_A = bytes.fromhex("020000000001")


def eth(ethertype, vlan_tci=None):
    if vlan_tci is None:
        return MAC_B + MAC_A + struct.pack("!H", ethertype)
    return MAC_B + MAC_A + struct.pack("!HHH", 0x8100, vlan_tci, ethertype)


def ipv6(next_header, payload, src=A_IP6, dst=B_IP6, payload_len=None, version=6, tc=0x28,
         fl=0x5EED5):
    first = version << 28 | tc << 20 | fl  # hop limit 64
    plen = len(payload) if payload_len is None else payload_len
    return (struct.pack("!IHBB", first, plen, next_header, 64) + ipaddress.IPv6Address(src).packed
            + ipaddress.IPv6Address(dst).packed + payload)


def ipv4(proto, payload, src=A_IP, dst=VIP, ident=0x1234):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0,
                      ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    words = struct.unpack("!10H", hdr)
    csum = sum(words)
    csum = (csum & 0xFFFF) + (csum >> 16)
    csum = ~((csum & 0xFFFF) + (csum >> 16)) & 0xFFFF
    return hdr[:10] + struct.pack("!H", csum) + hdr[12:] + payload


UDP_BYTES = struct.pack("!HHHH", 5555, UDP_PORT, 8 + 4, 0) + b"ping"  # checksum 0: untouched
INNER4 = ipv4(17, UDP_BYTES)
INNER6 = ipv6(17, UDP_BYTES, src=A_IP6, dst=VIP6)
# Packets of one family that would pass for the other but for their version field: an IPv4
# packet whose identification, read as an IPv6 payload length, is 0; an IPv6 packet whose
# first byte reads as IHL 5 and whose flow label reads as a total length that fits.
IPV4_LIKE_IPV6 = ipv4(17, UDP_BYTES, ident=0) + bytes(20)
IPV6_LIKE_IPV4 = ipv6(17, UDP_BYTES, src=A_IP6, dst=VIP6, tc=0x50, fl=len(INNER4))


def outer4(inner):
    return ipv4(4, inner, src=A_IP, dst=B_IP)


@pytest.mark.parametrize("vlan_tci", [None, 0x600A], ids=["untagged", "vlan10-pcp3"])
@pytest.mark.parametrize("tunnel,frame_l3,inner,inner_type", [
    pytest.param("4in4", lambda: outer4(INNER4), INNER4, 0x0800, id="4in4"),
    pytest.param("6in6", lambda: ipv6(41, INNER6), INNER6, 0x86DD, id="6in6"),
    pytest.param("4in6", lambda: ipv6(4, INNER4), INNER4, 0x0800, id="4in6"),
])
def test_program_leaves_the_inner_packet_exactly(env, tunnel, frame_l3, inner, inner_type,
                                                vlan_tci):
    """The frame out is the Ethernet header (and tag, TCI kept) with the inner packet's
    EtherType, then the inner packet byte for byte."""
    prog_id = env.stats()["prog_id"]
    outer_type = 0x0800 if tunnel == "4in4" else 0x86DD
    before = env.stats()
    verdict, out = xdp_run(prog_id, eth(outer_type, vlan_tci) + frame_l3())
    assert verdict == XDP_PASS
    assert out.hex() == (eth(inner_type, vlan_tci) + inner).hex()
    d = delta(before, env.stats())
    assert d[f"decapsulated_{tunnel}"] == 1 and d["decapsulated"] == 1, d


# Outer IPv6 frames the program leaves alone (XDP_PASS, the frame as it came) or drops.
BAD6_FRAMES = [
    ("not a tunnel", lambda: eth(0x86DD) + INNER6, XDP_PASS),
    ("20 bytes of outer header", lambda: (eth(0x86DD) + ipv6(41, INNER6))[:14 + 20], XDP_PASS),
    ("destination options, then 41",
     lambda: eth(0x86DD) + ipv6(60, bytes([41, 0, 1, 4, 0, 0, 0, 0]) + INNER6), XDP_PASS),
    ("fragment header, then 41",
     lambda: eth(0x86DD) + ipv6(44, bytes([41, 0, 0, 0, 0, 0, 0, 1]) + INNER6), XDP_PASS),
    ("outer version 4 in 86DD", lambda: eth(0x86DD) + ipv6(41, INNER6, version=4), XDP_DROP),
    ("payload length past the frame",
     lambda: eth(0x86DD) + ipv6(41, INNER6, payload_len=len(INNER6) + 1), XDP_DROP),
    ("inner IPv6 header cut", lambda: eth(0x86DD) + ipv6(41, INNER6[:39]), XDP_DROP),
    ("inner IPv6 payload past the outer's", lambda: eth(0x86DD) + ipv6(41, INNER6[:-1]), XDP_DROP),
    ("inner IPv4 header cut", lambda: eth(0x86DD) + ipv6(4, INNER4[:19]), XDP_DROP),
    ("inner IPv4 total length past the outer's",
     lambda: eth(0x86DD) + ipv6(4, INNER4[:-1]), XDP_DROP),
    ("inner IPv4 IHL 4", lambda: eth(0x86DD) + ipv6(4, b"\x44" + INNER4[1:]), XDP_DROP),
    ("IPv4 behind 41", lambda: eth(0x86DD) + ipv6(41, IPV4_LIKE_IPV6), XDP_DROP),
    ("IPv6 behind 4", lambda: eth(0x86DD) + ipv6(4, IPV6_LIKE_IPV4), XDP_DROP),
]


@pytest.mark.parametrize("name,frame,verdict", [pytest.param(*c, id=c[0]) for c in BAD6_FRAMES])
def test_program_passes_or_drops_ipv6(env, name, frame, verdict):
    prog_id = env.stats()["prog_id"]
    before = env.stats()
    got, out = xdp_run(prog_id, frame())
    assert got == verdict, name
    d = delta(before, env.stats())
    assert d["decapsulated"] == 0, d
    # vb's own traffic (neighbour discovery, MLD) may add to passed meanwhile, never to malformed
    if verdict == XDP_PASS:
        assert out == frame(), name
        assert d["passed"] >= 1 and d["malformed"] == 0, d
    else:
        assert d["malformed"] == 1, d


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
    for tunnel in TUNNELS:
        res = env.send(kind="udp_tunnel", tunnel=tunnel, port=UDP_PORT, payload="again")
        assert res["reply"] is not None and res["reply"]["data"] == "again", tunnel
    p = env.decap("detach", "vb")
    assert "detached" in p.stdout
    assert "xdp" not in run("ip", "-n", env.ns_b, "link", "show", "vb").stdout
    p = env.decap("stats", "vb", check=False)
    assert p.returncode == 3
    # without the decapsulator (and without ipip or ip6tnl modules) no tunnel is answered
    for tunnel in TUNNELS:
        res = env.send(kind="udp_tunnel", tunnel=tunnel, port=UDP_PORT, payload="nodecap")
        assert res["reply"] is None, tunnel
    p = env.decap("detach", "vb")  # idempotent
    assert p.returncode == 0

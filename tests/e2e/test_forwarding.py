"""End-to-end forwarding through shoald in the namespace lab, in each mode (DR, NAT, TUN; DR
and NAT also with two workers sharing the CPUs; the first three cases and the full-size one
also over IPv6, with the web and echo services on the IPv6 VIP fd00::100 and a dual-stack port,
one worker):

- 1,000 HTTP requests, each on its own TCP connection, all answered, spread over the real
  servers by their weights (each share within ±20% of its weight's share);
- a 64 MiB download arrives intact (sha256 of the body = that of one real server's file);
- the UDP echo answers through the VIP;
- with source-address hashing, every connection from one client address reaches the same
  real server, and different client addresses do not all land on one;
- a near-MTU datagram with DF (TUN: fragmentation needed, or packet too big, from the
  director; then a 1 MB upload through the tunnel);
- a closed UDP port on a real server: the client hears port unreachable from the VIP.

Each mode gets one lab (module-scoped fixture); every test ends by checking that the
director's counters balance (rx = tx + drops + to-control), and the module ends by stopping
shoald with SIGTERM and checking its exit dump.

Run as root:  /usr/bin/python3 -m pytest tests/e2e/test_forwarding.py
"""

import json
import re
import signal
import subprocess

import pytest

from conftest import PY, VIP, VIP6, make_config, requirements_missing, shares_ok, start_lab

pytestmark = pytest.mark.skipif(requirements_missing() is not None,
                                reason=requirements_missing() or "")

WEB_WEIGHTS = {"rs1": 1, "rs2": 1, "rs3": 2}  # the demo configs' weights
EXTRA_CLIENTS = [f"10.0.0.{30 + k}" for k in range(1, 9)]  # 10.0.0.31 .. 10.0.0.38
BIG_SIZE = 64 * 1024 * 1024


IPV4_SPECS = ["dr", "nat", "tun", "dr-2w", "nat-2w"]
IPV6_SPECS = ["dr-ipv6", "nat-ipv6", "tun-ipv6"]
# Each case names the labs it runs in; a lab (module-scoped) serves every case that names it.
ipv4_only = pytest.mark.parametrize("fwd", IPV4_SPECS, indirect=True)
both_families = pytest.mark.parametrize("fwd", IPV4_SPECS + IPV6_SPECS, indirect=True)


@pytest.fixture(scope="module")
def fwd(request, tmp_path_factory):
    spec = request.param
    family = "ipv6" if spec.endswith("-ipv6") else "ipv4"
    lab, d = start_lab(request, tmp_path_factory, spec.removesuffix("-ipv6"), servers=3)
    d.vip = VIP6 if family == "ipv6" else VIP  # the VIP of web and echo: the tests' target
    d.start(make_config(lab, workers=d.workers, family=family))
    return d


@both_families
def test_http_1000_connections_weighted(fwd):
    # Source ports 10000-10999: the spread is a fixed function of shoald's hashing, not a
    # sample that is 3.5 sigma off once in a thousand runs.
    res = fwd.lab.client("http", "--vip", fwd.vip, "--port", 80, "--count", 1000,
                         "--sport-base", 10000, timeout=300)
    assert res["ok"] == 1000 and not res["errors"], fwd.diag(
        f"{res['count'] - res['ok']} of 1000 requests failed: {res['errors']} "
        f"{res['error_samples']}")
    print(f"1000 connections in {res['seconds']} s: {res['hist']}")
    problems = shares_ok(res["hist"], WEB_WEIGHTS)
    assert not problems, fwd.diag(f"shares off: {problems}; histogram {res['hist']}")
    # The flow tables name the flows as ipvsadm writes endpoints: [fd00::100]:80 over IPv6.
    ipv6 = ":" in fwd.vip
    client = "fd00::1" if ipv6 else "10.0.0.1"
    flows = fwd.api("flows", "--vip", fwd.vip, "--client", client, "--limit", "5")
    assert flows["complete"] is True and len(flows["flows"]) == 5, flows
    vip_port = f"[{fwd.vip}]:80" if ipv6 else f"{fwd.vip}:80"
    for f in flows["flows"]:
        assert f["vip"] == vip_port and f["client"].startswith(f"[{client}]:" if ipv6 else
                                                               f"{client}:"), f
        assert f["backend"] in ("web/rs1", "web/rs2", "web/rs3"), f
    c = fwd.assert_balanced()
    if fwd.workers > 1:
        # Both workers must have carried part of the load (af_packet fans flows out over
        # the queue pairs), or the test says nothing about two workers.
        rx = c["workers"]
        assert len(rx) == fwd.workers and all(r > 100 for r in rx), fwd.diag(
            f"per-worker rx {rx}, total {c['line']}")


@both_families
def test_long_transfer_intact(fwd):
    res = fwd.lab.client("big", "--vip", fwd.vip, "--port", 80, timeout=300)
    assert res["error"] is None and res["status"] == 200, fwd.diag(f"download failed: {res}")
    assert res["size"] == BIG_SIZE, fwd.diag(f"got {res['size']} bytes, expected {BIG_SIZE}")
    served_by = [rs for rs, h in fwd.lab.big_hashes().items() if h == res["sha256"]]
    assert len(served_by) == 1, fwd.diag(
        f"body sha256 {res['sha256']} matches no real server's file: "
        f"{fwd.lab.big_hashes()}")
    assert served_by[0] in WEB_WEIGHTS
    print(f"/big ({res['size']} bytes) from {served_by[0]} in {res['seconds']} s")
    fwd.assert_balanced()


@both_families
def test_udp_echo(fwd):
    res = fwd.lab.client("udp", "--vip", fwd.vip, "--port", 7, "--count", 5,
                         "--payload", f"hello-{fwd.lab.mode}")
    servers = set()
    for r in res["replies"]:
        assert r["data"] is not None, fwd.diag(f"no UDP echo for {r['sent']}: {res}")
        m = re.fullmatch(r"(rs\d+):(.*)", r["data"])
        assert m and m.group(2) == r["sent"], r
        assert r["peer"] == [fwd.vip, 7], f"reply from {r['peer']}, expected the VIP"
        servers.add(m.group(1))
    # The echo service hashes on the source address: one server answers everything.
    assert len(servers) == 1 and servers <= set(WEB_WEIGHTS), servers
    fwd.assert_balanced()


@ipv4_only
def test_persistence_source_address(fwd):
    """The web service with `hash: source-address`: all connections from one client address
    go to one real server; several client addresses do not all go to the same one."""
    fwd.stop()  # the running daemon's exit dump must balance too
    fwd.start(make_config(fwd.lab, workers=fwd.workers, web_hash="source-address"))
    fwd.lab.add_client_addresses(EXTRA_CLIENTS)
    sources = ["10.0.0.1"] + EXTRA_CLIENTS
    if fwd.lab.mode == "nat":
        # NAT replies go back through the director, which learns on-link clients from their
        # ARP only. The extra addresses share eth0's neighbour entry for the VIP, so they
        # would never ARP: make each one ask (arp_announce 0 takes the packet's source).
        for s in sources:
            fwd.lab.exec("client", "ip", "neigh", "flush", "dev", "eth0")
            fwd.lab.client("http", "--vip", VIP, "--port", 80, "--count", 1, "--source", s,
                           "--timeout", 2, "--sport-base", fwd.lab.fresh_port())
    per_source = 20
    args = ["http", "--vip", VIP, "--port", 80, "--count", per_source * len(sources)]
    for s in sources:
        args += ["--source", s]
    res = fwd.lab.client(*args, timeout=300)
    assert res["ok"] == res["count"], fwd.diag(
        f"failed requests: {res['errors']} {res['error_samples']}")
    backend_of = {}
    for s in sources:
        hist = res["by_source"][s]
        assert sum(hist.values()) == per_source, (s, hist)
        assert len(hist) == 1, fwd.diag(f"client {s} reached several servers: {hist}")
        backend_of[s] = next(iter(hist))
    assert len(set(backend_of.values())) >= 2, fwd.diag(
        f"every client address went to one server: {backend_of}")
    # UDP: the echo service hashes on the source address too; new sockets (new source
    # ports) from one address still reach the same server.
    for s in sources[:3]:
        names = set()
        for _ in range(3):
            r = fwd.lab.client("udp", "--vip", VIP, "--port", 7, "--payload", "p", "--source", s)
            assert r["replies"][0]["data"], fwd.diag(f"no UDP echo from {s}: {r}")
            names.add(r["replies"][0]["data"].split(":")[0])
        assert len(names) == 1, (s, names)
    print(f"client address → server: {backend_of}")
    fwd.assert_balanced()


PMTU_PROBE = r"""
import json, socket, sys, time
vip, source = sys.argv[1], sys.argv[2]
v6 = ":" in vip
# DF on every datagram (IPv6 hosts never fragment on their own either), then the path MTU.
if v6:
    level, MTU_DISCOVER, PMTUDISC_DO, MTU = socket.IPPROTO_IPV6, 23, 2, 24
else:
    level, MTU_DISCOVER, PMTUDISC_DO, MTU = socket.IPPROTO_IP, 10, 2, 14
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(level, MTU_DISCOVER, PMTUDISC_DO)
s.bind((source, 29999))
s.connect((vip, 7))
s.settimeout(2)
out = {}
try:
    # 1496 bytes: the echo (4 bytes longer) still fits 1500; with TUN's 20 (IPv4) or 40
    # (IPv6), the request does not.
    s.send(b"x" * int(sys.argv[3]))
    out["reply"] = len(s.recv(4000))
except OSError as e:
    out["error"] = e.errno
time.sleep(0.3)
out["mtu"] = s.getsockopt(level, MTU)
print(json.dumps(out))
"""

UPLOAD_PROBE = r"""
import json, socket, sys, time
vip, size = sys.argv[1], int(sys.argv[2])
out = {}
t0 = time.monotonic()
s = socket.create_connection((vip, 80), timeout=20)
try:
    s.sendall(f"POST / HTTP/1.1\r\nHost: vip\r\nContent-Length: {size}\r\n"
              "Connection: close\r\n\r\n".encode() + b"x" * size)
    answer = b""
    while chunk := s.recv(65536):
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    out["status"] = head.split(b"\r\n")[0].decode(errors="replace")
    out["body"] = body.decode(errors="replace").strip()
except OSError as e:
    out["error"] = f"{type(e).__name__}: {e}"
out["seconds"] = round(time.monotonic() - t0, 3)
out["mss"] = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
print(json.dumps(out))
"""

# Full-size datagrams from the client to the VIP: a UDP payload that makes a 1496-byte packet,
# and the path MTU the client must learn from a TUN director (1500 less the outer header).
FULL_SIZE = {"ipv4": {"source": "10.0.0.1", "payload": 1468, "tun_mtu": 1480},
             "ipv6": {"source": "fd00::1", "payload": 1448, "tun_mtu": 1460}}
UPLOAD_SIZE = 1_000_000  # under nginx's default client_max_body_size (1 MiB)


def frag_needed(d):
    return d.api("counters")["total"]["control"]["frag_needed"]


@both_families
def test_full_size_datagram_with_df(fwd):
    """DR and NAT add no bytes: a near-MTU DF datagram is echoed. TUN adds 20 (IPv4 in IPv4)
    or 40 (IPv6 in IPv6): the director answers "fragmentation needed" (ICMP) or "packet too
    big" (ICMPv6) with MTU 1480 or 1460, and the client's path MTU follows. With it, a TCP
    upload through the tunnel — full-size segments from the client, which TCP first sends at
    the link's MTU — gets through."""
    family = "ipv6" if ":" in fwd.vip else "ipv4"
    size = FULL_SIZE[family]
    out = json.loads(fwd.lab.exec("client", PY, "-c", PMTU_PROBE, fwd.vip, size["source"],
                                  size["payload"]).stdout.strip().splitlines()[-1])
    fwd.assert_balanced()  # also logs the counter dump read below
    if fwd.lab.mode == "tun":
        assert out["mtu"] == size["tun_mtu"], fwd.diag(
            f"client path MTU {out}; expected {size['tun_mtu']} after ICMP "
            f"{'packet too big' if family == 'ipv6' else 'fragmentation needed'} from the "
            "director")
        assert "control.frag_needed=" in fwd.log_text(), fwd.diag("no frag_needed counted")
        # The TCP connection discovers the path MTU again on its own: forget the one learnt.
        fwd.lab.exec("client", "ip", "-6" if family == "ipv6" else "-4", "route", "flush",
                     "cache")
        before = frag_needed(fwd)
        up = json.loads(fwd.lab.exec("client", PY, "-c", UPLOAD_PROBE, fwd.vip, UPLOAD_SIZE,
                                     timeout=60).stdout.strip().splitlines()[-1])
        print(f"upload of {UPLOAD_SIZE} bytes over {family}: {up}")
        assert frag_needed(fwd) > before, fwd.diag(
            f"the upload's full-size segments got no error from the director: {up}")
        assert up.get("status", "").endswith("200 OK") and up["body"] in WEB_WEIGHTS, fwd.diag(
            f"upload through the tunnel failed: {up}")
        assert up["mss"] <= size["tun_mtu"] - (60 if family == "ipv6" else 40), fwd.diag(
            f"the upload's MSS did not follow the path MTU: {up}")
        fwd.assert_balanced()
    else:
        assert out.get("reply") == size["payload"] + len("rsN:"), fwd.diag(
            f"echo of {size['payload']} bytes: {out}")
        assert out["mtu"] == 1500, fwd.diag(str(out))


CLOSED_PORT_PROBE = r"""
import json, socket, struct, sys
IP_RECVERR, MSG_ERRQUEUE = 11, 0x2000
out = {"tries": []}
for attempt in range(3):  # real servers rate-limit their ICMP errors
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.settimeout(2)
    s.send(b"anyone there?")
    try:
        s.recv(100)
        out["tries"].append("answered")
        continue
    except socket.timeout:
        out["tries"].append("timeout")
        continue
    except OSError as e:
        out["tries"].append(e.errno)
    # The error queue says who sent the ICMP error (the offender) and what it was.
    _, anc, _, _ = s.recvmsg(0, 512, MSG_ERRQUEUE)
    for level, kind, data in anc:
        if level == socket.IPPROTO_IP and kind == IP_RECVERR:
            errno, origin, typ, code = struct.unpack_from("=IBBB", data)
            out.update(errno=errno, origin=origin, type=typ, code=code,
                       offender=socket.inet_ntoa(data[16 + 4:16 + 8]))
    break
print(json.dumps(out))
"""


@ipv4_only
def test_closed_port_on_a_real_server_is_refused_as_by_the_vip(fwd):
    """A UDP service whose real server has nothing listening: the client's socket, connected
    to VIP:9, gets ECONNREFUSED from an ICMP port unreachable sent from the VIP. In DR and TUN
    the real server sends it as the VIP; in NAT it sends it from its own address about the
    translated datagram, and the director translates the error back (outer source, quoted
    destination and checksums) — without that, the client's stack matches it to no socket."""
    cfg = make_config(fwd.lab, workers=fwd.workers)
    echo = next(s for s in cfg["services"] if s["name"] == "echo")
    closed = dict(echo, name="closed", port=9, hash="5-tuple")
    closed["backends"] = [dict(b, port=9) if "port" in b else dict(b)
                          for b in echo["backends"][:1]]
    cfg["services"].append(closed)
    ok, lines, _, _ = fwd.reload(cfg)
    assert ok, fwd.diag(f"reload refused: {lines}")
    out = json.loads(fwd.lab.exec("client", PY, "-c", CLOSED_PORT_PROBE, VIP, "9")
                     .stdout.strip().splitlines()[-1])
    print(f"closed port through {fwd.lab.mode}: {out}")
    assert out.get("errno") == 111, fwd.diag(f"no ECONNREFUSED on the client: {out}")
    # SO_EE_ORIGIN_ICMP, destination unreachable, port unreachable, from the VIP.
    assert (out["origin"], out["type"], out["code"]) == (2, 3, 3), out
    assert out["offender"] == VIP, fwd.diag(f"the error came from {out['offender']}: {out}")
    fwd.assert_balanced()


BAD_SOLICITATIONS = """
import sys
from scapy.all import Ether, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6, get_if_hwaddr, sendp
mac = get_if_hwaddr("eth0")
# Solicitations for the director's fd00::2 that RFC 4861 7.1.1 discards: from off-link
# (hop limit 64), and with a link-layer option of length 0.
ns = IPv6(src="fd00::1", dst="ff02::1:ff00:2", hlim=64) / ICMPv6ND_NS(tgt="fd00::2")
zero = (IPv6(src="fd00::1", dst="ff02::1:ff00:2", hlim=255) / ICMPv6ND_NS(tgt="fd00::2") /
        ICMPv6NDOptSrcLLAddr(lladdr=mac, len=0))
sendp([Ether(src=mac, dst="33:33:ff:00:00:02") / p for p in (ns, ns, zero)], iface="eth0",
      verbose=False)
"""


@pytest.mark.parametrize("fwd", ["dr-ipv6"], indirect=True)
def test_malformed_neighbour_discovery_is_dropped_and_counted(fwd):
    """Neighbour solicitations that RFC 4861 discards are not answered and are counted under
    their reason, in the counter dump and the metrics."""
    fwd.lab.exec("client", PY, "-c", BAD_SOLICITATIONS)
    mark = len(fwd.log_lines())
    fwd.signal(signal.SIGUSR1)
    _, line = fwd.wait_log(r"counters neighbour_discovery:", after=mark, timeout=10)
    assert "drop.hop_limit_not_255=2" in line and "drop.option_zero_length=1" in line, line
    metrics = subprocess.run(["curl", "-s", "--unix-socket", fwd.api_socket, "http://shoald/metrics"],
                             capture_output=True, text=True, check=True).stdout
    assert 'shoal_neighbour_discovery_drops_total{reason="hop_limit_not_255"} 2' in metrics, \
        [m for m in metrics.splitlines() if "neighbour_discovery" in m]
    fwd.assert_balanced()

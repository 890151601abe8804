"""VRRP between two directors (DR, TUN and NAT labs, scripts/lab --directors 2): d1 (priority
150) and d2 (priority 100) carry the VIP in one instance with a 100 ms advertisement interval and
the virtual MAC; in NAT the instance also carries the real servers' gateway, 10.0.1.1. The master alone answers ARP for the VIP and forwards its traffic; the backup
drops what reaches it as vip_not_owned. A killed master is replaced within Master_Down_Interval
(3 × interval + skew) plus 100 ms of slack, a stopped one (priority 0) within skew + 100 ms;
requests resume and a long transfer survives in every mode, since both directors build the
same Maglev table (and NAT's reverse translation needs no per-flow state). Malformed advertisements are counted under their reason and change nothing; a
reload can turn preemption on. The SIGKILL failover runs over IPv6 too (DR and NAT66): VRRP
over IPv6 carries fd00::100 (and in NAT the real servers' gateway, fd00:1::1), and the new
master's unsolicited neighbour advertisements are seen on the LAN. No connection sync here:
the long transfer survives because both directors' Maglev tables send it to the same real
server (test_conn_sync.py covers directors whose tables differ, over IPv6 too).

Run as root:  SHOAL_E2E_LAB=vr /usr/bin/python3 -m pytest tests/e2e/test_vrrp.py
"""

import datetime
import hashlib
import json
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import PY, VIP, VIP6, Lab, Shoald, _DAEMONS, make_config, requirements_missing, \
    shoald_path

pytestmark = pytest.mark.skipif(requirements_missing() is not None,
                                reason=requirements_missing() or "")

WIRE = Path(__file__).resolve().parent / "lib" / "vrrp_wire.py"
INTERVAL = 0.1
VRID = 51
VMAC = "00:00:5e:00:01:33"
VMAC6 = "00:00:5e:00:02:33"  # RFC 9568 §7.3: IPv6 routers' own range
SLACK = 0.1  # the allowance over the protocol's own delays
NAT_GATEWAY = "10.0.1.1"
NAT_GATEWAY6 = "fd00:1::1"


def skew(priority):
    return (256 - priority) * INTERVAL / 256


def master_down(priority):
    return 3 * INTERVAL + skew(priority)


def vrrp_config(lab, director, priority, preempt=True, family="ipv4"):
    cfg = make_config(lab, director=director, family=family)
    # Two daemons on one filesystem: an API socket each, under this lab's state directory.
    cfg["api"] = {"socket": str(lab.state / f"d{director}.sock")}
    addresses = [VIP6 if family == "ipv6" else VIP]
    if lab.mode == "nat":
        # The real servers' gateway moves with the VIP: each director keeps an address of its
        # own on their subnet, and the instance carries 10.0.1.1 (fd00:1::1 over IPv6: one
        # family per instance).
        cfg["ports"][0]["addresses"] = [f"10.0.0.{1 + director}/24", f"10.0.1.{1 + director}/24"]
        if family == "ipv6":
            cfg["ports"][0]["addresses"] += [f"fd00::{1 + director}/64",
                                             f"fd00:1::{1 + director}/64"]
        addresses.append(NAT_GATEWAY6 if family == "ipv6" else NAT_GATEWAY)
    cfg["vrrp"] = {"instances": [{
        "name": "front", "vrid": VRID, "priority": priority, "interval": INTERVAL,
        "preempt": preempt, "addresses": addresses,
        "garp": {"count": 3, "interval": 0.1}}]}
    return cfg


def log_time(line):
    """Wall-clock time of a shoald log line ("2026-11-25 01:44:30.309 info ...", local time)."""
    m = re.match(r"\[?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})", line)
    assert m, line
    return datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()


def vrrp_counters(d):
    """The 'counters vrrp' lines of a SIGUSR1 dump: {instance or 'unclaimed': {key: value}}."""
    mark = len(d.log_lines())
    d.signal(signal.SIGUSR1)
    d.wait_log(r"counters total:", after=mark, timeout=10)
    out = {"total": {"vip_not_owned": 0}}
    for ln in d.log_lines()[mark:]:
        if m := re.search(r"counters vrrp (\S+): (.*)", ln):
            out[m.group(1)] = dict(kv.split("=", 1) for kv in m.group(2).split())
        if m := re.search(r"counters total: rx=(\d+) tx=(\d+)", ln):
            out["total"].update(rx=int(m.group(1)), tx=int(m.group(2)))
        if m := re.search(r"drop\.vip_not_owned=(\d+)", ln):
            out["total"]["vip_not_owned"] += int(m.group(1))
    return out


def state(d):
    return vrrp_counters(d)["front"]["state"]


def wire(lab, *args, timeout=30):
    p = lab.exec("client", PY, WIRE, *map(str, args), timeout=timeout)
    return json.loads(p.stdout.strip().splitlines()[-1])


class Pair:
    def __init__(self, lab, d1, d2):
        self.lab, self.d1, self.d2 = lab, d1, d2


def start_pair(request, tmp_path_factory, mode, pair_class=Pair, family="ipv4"):
    """For a module fixture: a two-director lab in `mode`, d1 master (priority 150) and d2
    backup (100), torn down in order when the module is done. family "ipv6": their instance
    carries the IPv6 VIP, over VRRP over IPv6."""
    if not shoald_path().exists():
        pytest.fail(f"shoald not built at {shoald_path()} (./scripts/build.sh release)")
    lab = Lab(mode, servers=3, directors=2)
    request.addfinalizer(lab.down)  # registered first: runs last
    tmp = tmp_path_factory.mktemp(f"vrrp-{mode}")
    d1 = Shoald(lab, tmp, name="d1", node="d1")
    d2 = Shoald(lab, tmp, name="d2", node="d2")
    for d in (d1, d2):
        request.addfinalizer(lambda d=d: _DAEMONS.remove(d))
        request.addfinalizer(lambda d=d: d.stop(check=False))
    lab.up()
    if family == "ipv6":
        d1.vip = d2.vip = VIP6
    d1.start(vrrp_config(lab, 1, 150, family=family), warm_up=False)
    d1.wait_log(r"vrrp front: backup -> master", timeout=10)
    d2.start(vrrp_config(lab, 2, 100, family=family), warm_up=False)
    d2.wait_log(r"vrrp front: init -> backup", timeout=10)
    d1.warm_up()
    return pair_class(lab, d1, d2)


@pytest.fixture(scope="module", params=["dr", "tun", "nat"])
def pair(request, tmp_path_factory):
    return start_pair(request, tmp_path_factory, request.param)


def test_higher_priority_is_master_and_alone_forwards(pair):
    d1, d2, lab = pair.d1, pair.d2, pair.lab
    assert state(d1) == "master", d1.diag()
    assert state(d2) == "backup", d2.diag()
    assert not re.search(r"vrrp front: backup -> master", d2.log_text()), d2.diag()
    # shoalctl says so too.
    shoalctl = shoald_path().parent / "shoalctl"
    for d, want in ((d1, "master, priority 150"), (d2, "backup, priority 100")):
        out = subprocess.run([str(shoalctl), "--socket", str(lab.state / f"{d.node}.sock"),
                              "status"], capture_output=True, text=True, timeout=10).stdout
        assert f"vrrp front (vrid {VRID}): {want}: {VIP}" in out, out
    # The API names the peer (the master, seen from the backup) and /metrics the states.
    sock = {d: str(lab.state / f"{d.node}.sock") for d in (d1, d2)}
    status = json.loads(subprocess.run([str(shoalctl), "--socket", sock[d2], "--json", "status"],
                                       capture_output=True, text=True, timeout=10).stdout)
    front = status["vrrp"][0]
    assert front["master"] == "10.0.0.2" and front["peers"][0]["address"] == "10.0.0.2", front
    assert front["peers"][0]["priority"] == 150 and front["peers"][0]["seconds_ago"] < 1, front
    for d, master in ((d1, "1"), (d2, "0")):
        metrics = subprocess.run(["curl", "-s", "--unix-socket", sock[d], "http://shoald/metrics"],
                                 capture_output=True, text=True, timeout=10).stdout
        assert f'shoal_vrrp_state{{vrrp_instance="front",state="master"}} {master}' in metrics, metrics
    # One ARP answer for the VIP, from the virtual MAC: the backup stays silent.
    arp = wire(lab, "arp", "--vip", VIP)
    assert arp["answers"] == [VMAC], arp

    before1, before2 = vrrp_counters(d1)["total"], vrrp_counters(d2)["total"]
    # A generous timeout: the lab machine is shared, and this is about who forwards.
    res = lab.client("http", "--vip", VIP, "--port", 80, "--count", 100,
                     "--sport-base", 21000, "--timeout", 10)
    assert res["ok"] == 100, res
    after1, after2 = vrrp_counters(d1)["total"], vrrp_counters(d2)["total"]
    assert after1["tx"] - before1["tx"] >= 300, (before1, after1)  # SYN, ACK, GET, FIN... each
    assert after2["tx"] == before2["tx"], d2.diag("the backup forwarded")

    # Traffic sent to the backup's own MAC anyway is dropped, counted, never forwarded.
    mac2 = lab.exec("d2", "cat", f"/sys/class/net/{lab.prefix}-d2/address").stdout.strip()
    lab.exec("client", PY, "-c",
             "from scapy.all import Ether, IP, TCP, sendp; "
             f"sendp([Ether(dst='{mac2}')/IP(src='10.0.0.1', dst='{VIP}')/TCP(sport=40000+i, "
             "dport=80, flags='S') for i in range(5)], iface='eth0', verbose=False)")
    time.sleep(0.3)
    c2 = vrrp_counters(d2)["total"]
    assert c2["vip_not_owned"] - before2["vip_not_owned"] >= 5, d2.diag(str(c2))
    assert c2["tx"] == before2["tx"], d2.diag("the backup forwarded")


MALFORMED = [  # (kind, vrid, where it is counted, reason)
    ("ttl", VRID, "unclaimed", "ttl_not_255"),
    ("checksum", VRID, "unclaimed", "bad_checksum"),
    ("version", VRID, "unclaimed", "bad_version"),
    ("type", VRID, "unclaimed", "bad_type"),
    ("bad_length", VRID, "unclaimed", "bad_length"),
    ("truncated", VRID, "unclaimed", "truncated"),
    ("no_addresses", VRID, "unclaimed", "no_addresses"),
    ("zero_interval", VRID, "unclaimed", "zero_interval"),
    ("ok", 77, "unclaimed", "unknown_vrid"),
    ("v2_checksum", VRID, "front", "bad_checksum"),  # right in v2 style; we want v3
]


def test_malformed_advertisements_are_counted_and_change_nothing(pair):
    d1, d2, lab = pair.d1, pair.d2, pair.lab
    before = {d.node: vrrp_counters(d) for d in (d1, d2)}
    # Priority 254: were any of them taken for a real advertisement, d1 would step down.
    kinds = [a for kind, vrid, _, _ in MALFORMED for a in ("--kind", f"{kind}:{vrid}")]
    assert wire(lab, "send", *kinds, "--priority", 254)["sent"] == len(MALFORMED)
    time.sleep(0.5)
    for d in (d1, d2):
        after = vrrp_counters(d)
        for kind, _, where, reason in MALFORMED:
            key = f"drop.{reason}"
            got = int(after[where].get(key, 0)) - int(before[d.node][where].get(key, 0))
            expected = sum(1 for _, _, w, r in MALFORMED if (w, r) == (where, reason))
            assert got == expected, d.diag(f"{d.node}: {kind} → {where} {key}: {got}, "
                                           f"expected {expected}")
        assert int(after["front"]["adverts_received"]) >= int(before[d.node]["front"]
                                                              ["adverts_received"])
    assert state(d1) == "master" and state(d2) == "backup"
    for d in (d1, d2):
        assert len(re.findall(r"vrrp front: .* -> ", d.log_text())) == (2 if d is d1 else 1), \
            d.diag("a malformed advertisement changed a state")


@pytest.fixture(scope="module", params=["dr", "nat"])
def pair6(request, tmp_path_factory):
    return start_pair(request, tmp_path_factory, request.param, family="ipv6")


def test_killed_master_is_replaced_under_load(pair):
    killed_master_is_replaced_under_load(pair, VIP, VMAC)


def test_killed_master_is_replaced_under_load_over_ipv6(pair6):
    killed_master_is_replaced_under_load(pair6, VIP6, VMAC6)


def killed_master_is_replaced_under_load(pair, vip, vmac):
    """SIGKILL the master under load: the backup takes over in time and announces `vip` from
    `vmac` (gratuitous ARP, or unsolicited NA over IPv6); requests resume, and a long transfer
    started before the kill ends whole."""
    d1, d2, lab = pair.d1, pair.d2, pair.lab
    # A long transfer through the VIP (about 6 s at 10 MB/s), started before the failover.
    out = tempfile.NamedTemporaryFile(prefix="vr-big-", delete=False)
    out.close()
    host = f"[{vip}]" if ":" in vip else vip
    curl = lab.popen("client", "curl", "-g", "-s", "--max-time", "60", "--limit-rate", "10M",
                     "-o", out.name, "-w", "%{http_code} %{size_download}",
                     f"http://{host}/big", stdout=subprocess.PIPE, text=True)
    sniffer = lab.popen("client", PY, WIRE, "garps", "--vip", vip, "--seconds", 8,
                        stdout=subprocess.PIPE, text=True)
    assert sniffer.stdout.readline().strip() == "ready"
    time.sleep(1.0)  # scapy's socket is open a little after "ready"; the transfer is under way
    load = lab.popen("client", PY, Path(__file__).resolve().parent / "lib" / "client.py", "http",
                     "--vip", vip, "--port", 80, "--duration", 4, "--timeout", 2, "--timeline",
                     stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    mark2 = len(d2.log_lines())
    killed = time.time()
    d1.proc.kill()
    d1.proc.wait(timeout=10)
    d1.proc = None
    _, line = d2.wait_log(r"vrrp front: backup -> master", after=mark2, timeout=5)
    took = log_time(line) - killed
    bound = master_down(100) + SLACK
    print(f"\n{lab.mode}: SIGKILL failover: backup master after {took * 1000:.0f} ms "
          f"(bound {bound * 1000:.0f} ms)")
    assert took <= bound, d2.diag(f"took {took:.3f} s > {bound:.3f} s")
    assert took >= 3 * INTERVAL - INTERVAL, d2.diag(f"took over too soon: {took:.3f} s")

    garps = [json.loads(ln) for ln in sniffer.communicate(timeout=30)[0].splitlines() if ln]
    after_kill = [g for g in garps if g["t"] >= killed]
    assert len(after_kill) >= 3 and all(g["mac"] == vmac for g in after_kill), garps
    first = after_kill[0]["t"] - killed
    print(f"first announcement (GARP or NA) on the LAN {first * 1000:.0f} ms after the kill")
    assert first <= bound + 0.05, garps

    res = json.loads(load.communicate(timeout=60)[0].strip().splitlines()[-1])
    timeline = res["timeline"]
    late = [t for t in timeline if t[0] >= killed + bound + 0.5]
    assert late and all(not str(t[2]).startswith("!") for t in late), \
        d2.diag(f"requests after the takeover failed: {[t for t in late if str(t[2])[0] == '!']}")
    failed = [t for t in timeline if str(t[2]).startswith("!")]
    print(f"load: {res['ok']} ok, {len(failed)} failed around the failover")

    code_size = curl.communicate(timeout=90)[0].split()
    digest = hashlib.sha256(Path(out.name).read_bytes()).hexdigest()
    Path(out.name).unlink()
    assert code_size[0] == "200" and int(code_size[1]) == 64 << 20, code_size
    assert digest in lab.big_hashes().values(), "the transfer was corrupted"
    assert state(d2) == "master"


def test_returning_higher_priority_preempts(pair):
    d1, d2 = pair.d1, pair.d2
    mark2 = len(d2.log_lines())
    d1.start(vrrp_config(pair.lab, 1, 150, preempt=True), warm_up=False)
    d1.wait_log(r"vrrp front: backup -> master", timeout=10)
    d2.wait_log(r"vrrp front: master -> backup .*higher priority 150", after=mark2, timeout=5)
    d1.warm_up()


def test_clean_stop_hands_over_after_skew(pair):
    d1, d2 = pair.d1, pair.d2
    assert state(d1) == "master"
    mark2 = len(d2.log_lines())
    mark1 = len(d1.log_lines())
    stopped = time.time()
    d1.stop()
    assert re.search(r"vrrp front: sent priority 0 \(shutdown\)",
                     "\n".join(d1.log_lines()[mark1:])), d1.diag()
    _, line = d2.wait_log(r"vrrp front: backup -> master", after=mark2, timeout=5)
    took = log_time(line) - stopped
    bound = skew(100) + SLACK
    print(f"\n{pair.lab.mode}: SIGTERM handover: backup master after {took * 1000:.0f} ms "
          f"(bound {bound * 1000:.0f} ms)")
    assert took <= bound, d2.diag(f"took {took:.3f} s > {bound:.3f} s")
    res = pair.lab.client("http", "--vip", VIP, "--port", 80, "--count", 20, "--timeout", 2)
    assert res["ok"] == 20, res


def test_no_preempt_leaves_the_master_alone(pair):
    d1, d2 = pair.d1, pair.d2
    assert state(d2) == "master"
    mark2 = len(d2.log_lines())
    d1.start(vrrp_config(pair.lab, 1, 150, preempt=False), warm_up=False)
    d1.wait_log(r"vrrp front: init -> backup", timeout=10)
    time.sleep(1.5)  # several Master_Down_Intervals: d1 hears d2 and stays backup
    assert state(d1) == "backup", d1.diag()
    assert state(d2) == "master", d2.diag()
    assert not any("-> backup" in ln for ln in d2.log_lines()[mark2:]), d2.diag()


def test_reload_turns_preemption_on(pair):
    d1, d2 = pair.d1, pair.d2
    assert state(d1) == "backup" and state(d2) == "master"
    mark1, mark2 = len(d1.log_lines()), len(d2.log_lines())
    ok, lines, sent, _ = d1.reload(vrrp_config(pair.lab, 1, 150, preempt=True))
    assert ok, d1.diag("\n".join(lines))
    # d1 now ignores d2's lower priority, so its Master_Down_Timer runs out.
    _, line = d1.wait_log(r"vrrp front: backup -> master", after=mark1, timeout=5)
    took = log_time(line) - sent
    assert took <= master_down(150) + SLACK, d1.diag(f"{took:.3f} s")
    d2.wait_log(r"vrrp front: master -> backup .*higher priority 150", after=mark2, timeout=5)
    # What takes a restart is refused whole.
    moved = vrrp_config(pair.lab, 1, 150)
    moved["vrrp"]["instances"][0]["vrid"] = VRID + 1
    ok, lines, _, _ = d1.reload(moved)
    assert not ok and any("vrid, port and virtual_mac change only with a restart" in ln
                          for ln in lines), lines
    assert state(d1) == "master"


def test_tracked_service_without_backends_hands_over(pair):
    d1, d2, lab = pair.d1, pair.d2, pair.lab
    cfg = vrrp_config(lab, 1, 150)
    cfg["vrrp"]["instances"][0]["track"] = {"services": [{"name": "web", "weight": -60}]}
    ok, lines, _, _ = d1.reload(cfg)
    assert ok, d1.diag("\n".join(lines))
    assert state(d1) == "master"
    shoalctl = shoald_path().parent / "shoalctl"
    sock = str(lab.state / "d1.sock")

    def admin(op):
        for rs in ("rs1", "rs2", "rs3"):
            subprocess.run([str(shoalctl), "--socket", sock, op, "web", rs], check=True,
                           capture_output=True, timeout=10)

    mark1, mark2 = len(d1.log_lines()), len(d2.log_lines())
    admin("disable")  # web has no enabled backend left: d1's priority drops to 90
    d1.wait_log(r"vrrp front: priority 150 -> 90: tracked 'service:web' is down", after=mark1)
    d2.wait_log(r"vrrp front: backup -> master", after=mark2, timeout=5)
    d1.wait_log(r"vrrp front: master -> backup .*higher priority 100", after=mark1, timeout=5)

    mark1 = len(d1.log_lines())
    admin("enable")
    d1.wait_log(r"vrrp front: priority 90 -> 150: tracked 'service:web' is up", after=mark1)
    d1.wait_log(r"vrrp front: backup -> master", after=mark1, timeout=5)
    d1.warm_up()

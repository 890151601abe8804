"""Scale-out behind ECMP (issue 14): three directors active at once in DR, each announcing the
VIP by BGP through its own bird2, over its exception path (the TAP), to a bird2 router that
spreads flows over them by Linux ECMP with an L4 hash (scripts/lab up --ecmp).

- Traffic spreads over all three directors: each one's counters show a share.
- SIGKILL one director under wrk while long transfers run: the router drops its route within
  1 s (BFD 100 ms x 3; measured), new connections succeed, the transfers through the others
  finish with their sha256 intact, and so do those the router moved off the dead director (the
  test proves there was one: its flow was in the dead director's table before the kill and in
  a survivor's after). The director comes back: its route returns, and transfers the router
  moves onto it keep their real server (sha256 intact).
- shoalctl withdraw / announce, for the whole director and for one VIP: the route goes and
  comes back; a withdrawn director creates no new flows while new connections still succeed.
- A hung shoald (SIGSTOP) loses its route the same way, and gets it back when it runs again.
- A real server's health changes: every director's checks reach the same backend set, and
  every director maps each new flow to the same real server (Maglev moves only the dead
  server's flows).
- SIGTERM withdraws the VIPs before shoald ends.

The lab is dual-stack: every director also serves the IPv6 VIP (web6 on fd00::100) and
announces it over an IPv6 session of its own, with its IPv6 address as the next hop; the router
holds one IPv6 multipath route too. The core cases run for both families (spread, a hung
director, withdraw/announce of one VIP); a SIGKILL withdraws both routes at once.
"""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest
import yaml

from conftest import VIP, VIP6, Lab, Shoald, _DAEMONS, make_config, parse_wrk, \
    requirements_missing, run, shoalctl_path, start_wrk

DIRECTORS = 3
CLIENT = "10.0.2.1"
RATE = "4M"  # per transfer: the 64 MiB /big lasts ~16 s, long enough to outlive a kill
VIPS = {"ipv4": VIP, "ipv6": VIP6}
FAMILIES = pytest.mark.parametrize("family", ["ipv4", "ipv6"])


def director_address(n, family="ipv4"):
    return f"fd00::{1 + n}" if family == "ipv6" else f"10.0.0.{1 + n}"


def ecmp_config(lab, n):
    """Dual stack: the IPv4 demo services, and web6/echo6 on the IPv6 VIP with the real
    servers' IPv6 addresses, on a port with both families' addresses."""
    cfg = make_config(lab, director=n, tap="lan0")
    cfg6 = make_config(lab, director=n, tap="lan0", family="ipv6")
    cfg["ports"][0]["addresses"] = cfg6["ports"][0]["addresses"]
    for svc in cfg6["services"]:
        svc["name"] += "6"
        cfg["services"].append(svc)
    cfg["bgp"] = {"socket": f"{lab.state}/d{n}/bird.ctl",
                  "file": f"{lab.state}/d{n}/bird-vips.conf",
                  "file6": f"{lab.state}/d{n}/bird-vips6.conf"}
    return cfg


def next_hops(lab, family="ipv4"):
    """The directors the router's route to the family's VIP goes through, as director
    numbers."""
    if family == "ipv6":
        out = lab.exec("router", "ip", "-6", "route", "show", VIP6, check=False).stdout
        return sorted(int(a.rsplit(":", 1)[1]) - 1 for a in re.findall(r"via (fd00::\d+) ", out))
    out = lab.exec("router", "ip", "route", "show", VIP, check=False).stdout
    return sorted(int(a.split(".")[-1]) - 1 for a in re.findall(r"via (10\.0\.0\.\d+) ", out))


def wait_next_hops(lab, want, timeout=30.0, family="ipv4"):
    deadline = time.time() + timeout
    while True:
        got = next_hops(lab, family)
        if got == sorted(want):
            return time.time()
        if time.time() > deadline:
            raise AssertionError(f"the router's next hops for {VIPS[family]} are {got}, not "
                                 f"{sorted(want)} after {timeout}s:\n" + bird_protocols(lab))
        time.sleep(0.05)


def wait_all_next_hops(lab, want, timeout=30.0):
    """Both families' routes go through `want`; returns when the later one did."""
    return max(wait_next_hops(lab, want, timeout, family) for family in VIPS)


def route_watch(via):
    """A shell loop for the router's namespace: prints "up|down <ns since the epoch>" each time
    the route to the VIP starts or stops going through `via`, and exits once it has been down
    for 3 s."""
    return (f"last=; since=0; while :; do "
            f"if ip route show {VIP} | grep -q 'via {via} '; then s=up; else s=down; fi; "
            f"now=$(date +%s%N); "
            f"if [ \"$s\" != \"$last\" ]; then echo \"$s $now\"; last=$s; since=$now; fi; "
            f"if [ $s = down ] && [ $((now - since)) -gt 3000000000 ]; then exit 0; fi; "
            f"done")


def bird_protocols(lab):
    return lab.exec("router", "birdc", "-s", f"{lab.state}/router/bird.ctl", "show", "protocols",
                    check=False).stdout


def ports(lab, count):
    """`count` client source ports never used before in this lab."""
    base = lab.fresh_port()
    lab._next_port += count
    assert lab._next_port < 30000
    return base


def http_batch(lab, count, timeout=2, family="ipv4"):
    return lab.client("http", "--vip", VIPS[family], "--port", 80, "--count", count,
                      "--timeout", timeout, "--sport-base", ports(lab, count))


def flows_created(d):
    return d.api("counters")["total"]["flows_created"]


def client_ports(d):
    """Source ports of the client's flows in this director's tables."""
    body = d.api("flows", "--client", CLIENT, "--limit", 1000)
    return {int(f["client"].rsplit(":", 1)[1]) for f in body["flows"]}


def start_transfer(lab, port):
    """curl of /big at RATE from a fixed source port; prints the body's sha256."""
    script = (f"set -o pipefail; curl -sS --max-time 60 --limit-rate {RATE} --local-port {port} "
              f"http://{VIP}/big | sha256sum")
    return lab.popen("client", "bash", "-c", script, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)


def finish_transfers(lab, transfers):
    """Waits for every transfer; asserts each exited 0 with the sha256 of a real server's /big."""
    hashes = set(lab.big_hashes().values())
    for port, p in transfers.items():
        out, err = p.communicate(timeout=90)
        assert p.returncode == 0, f"transfer from port {port} failed ({p.returncode}): {err}"
        digest = out.split()[0]
        assert digest in hashes, f"transfer from port {port}: sha256 {digest} is no server's /big"


@pytest.fixture(scope="module")
def ecmp(request, tmp_path_factory):
    why = requirements_missing()
    if why:
        pytest.skip(why)
    if shutil.which("bird") is None or shutil.which("curl") is None:
        pytest.skip("needs bird2 and curl")
    lab = Lab("dr", directors=DIRECTORS, ecmp=True)
    request.addfinalizer(lab.down)  # registered first: runs last
    tmp = tmp_path_factory.mktemp("ecmp")
    ds = {}
    for n in range(1, DIRECTORS + 1):
        d = Shoald(lab, tmp, name=f"d{n}", node=f"d{n}")
        request.addfinalizer(lambda d=d: _DAEMONS.remove(d))
        request.addfinalizer(lambda d=d: d.stop(check=False))
        ds[n] = d
    lab.up()
    for n, d in ds.items():
        d.start(ecmp_config(lab, n), warm_up=False)
    wait_all_next_hops(lab, ds.keys())
    # Every director resolves the real servers before its first flow: retry until a batch of
    # new connections all get answers.
    for family in VIPS:
        deadline = time.time() + 20
        while http_batch(lab, 30, family=family)["ok"] != 30:
            assert time.time() < deadline, \
                f"no clean batch of {family} requests through the router in 20 s"
            time.sleep(0.3)
    return lab, ds


def test_nat_with_bgp_is_refused(tmp_path):
    lab = Lab("nat", prefix="ecmpnat")  # only for make_config; never brought up
    cfg = make_config(lab)
    cfg["bgp"] = {}
    path = tmp_path / "nat-bgp.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    p = run(shoalctl_path(), "check", path, check=False)
    assert p.returncode != 0, p.stdout
    assert re.search(r"nat-bgp\.yaml:\d+: service 'web': forwarding nat cannot be announced by "
                     r"BGP \('bgp' at line \d+\)", p.stderr), p.stderr


@FAMILIES
def test_traffic_spreads_over_every_director(ecmp, family):
    lab, ds = ecmp
    # The router's route: one next hop per director, each the director's own address of the
    # family (for IPv6, the source of its IPv6 session).
    wait_next_hops(lab, ds.keys(), family=family)
    before = {n: flows_created(d) for n, d in ds.items()}
    r = http_batch(lab, 150, family=family)
    assert r["ok"] == 150, r
    share = {n: flows_created(d) - before[n] for n, d in ds.items()}
    print(f"{family}: new flows per director over 150 connections: {share}")
    assert sum(share.values()) >= 150
    for n, s in share.items():
        assert s >= 150 // DIRECTORS // 3, f"director d{n} took {s} of 150 new flows: {share}"
    status = ds[1].api("status")["bgp"]
    vip = next(v for v in status["vips"] if v["vip"] == VIPS[family])
    session = "uplink6" if family == "ipv6" else "uplink"
    assert vip["announced"] and vip["in_bird"], status
    assert next(s for s in status["sessions"] if s["name"] == session)["established"], status


def test_sigkill_one_director(ecmp):
    lab, ds = ecmp
    transfers = {}
    for _ in range(6):
        port = ports(lab, 1)
        transfers[port] = start_transfer(lab, port)
    wrk = start_wrk(ds[1], 12)
    time.sleep(2)
    where = {n: client_ports(d) & transfers.keys() for n, d in ds.items()}
    victim = max(where, key=lambda n: len(where[n]))
    moved = where[victim]
    assert moved, f"no transfer went through any director? {where}"
    survivors = [n for n in ds if n != victim]
    v = ds[victim]

    # The router's view, polled from its namespace: every change of whether a route goes
    # through the victim, timestamped, until it has been gone for 3 s. Under this load a BFD
    # session can flap before the kill; what counts is the last time the route went.
    wait_next_hops(lab, ds.keys(), timeout=10)
    watch = lab.popen("router", "timeout", "20", "sh", "-c", route_watch(director_address(victim)),
                      stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    assert watch.poll() is None, f"the route watch ended early: {watch.stdout.read()}"
    t_kill = time.time()
    v.proc.send_signal(signal.SIGKILL)
    v.proc.wait(timeout=10)
    v.proc = None
    out, _ = watch.communicate(timeout=25)
    assert watch.returncode == 0, f"the router kept the dead director's route for 17 s: {out}"
    events = [(line.split()[0], int(line.split()[1]) / 1e9) for line in out.splitlines()]
    assert events and events[0][0] == "up", f"no route through the victim before the kill: {out}"
    flaps = [t - t_kill for state, t in events[1:-1] if state == "down"]
    if flaps:
        print(f"the route through d{victim} flapped before going: down at {flaps} s from the kill")
    gone = events[-1][1]
    withdrawal = gone - t_kill
    assert withdrawal > 0, f"the route through the victim was gone before the kill: {out}"
    print(f"d{victim} SIGKILLed: the router dropped its route after {withdrawal * 1000:.0f} ms")
    assert withdrawal < 1.0
    assert next_hops(lab) == survivors
    # Its IPv6 session had its own BFD session, which died with it as well.
    assert next_hops(lab, "ipv6") == survivors, bird_protocols(lab)

    r = http_batch(lab, 30)
    assert r["ok"] == 30, f"new connections after the kill: {r}"
    time.sleep(1.5)
    on_survivors = set().union(*(client_ports(ds[n]) for n in survivors))
    assert moved & on_survivors, (f"the dead director's transfers {sorted(moved)} are in no "
                                  f"survivor's table")
    print(f"transfers from ports {sorted(moved)} went through d{victim}; "
          f"{sorted(moved & on_survivors)} now go through the survivors")
    # Their packets reached the survivors mid-connection: forwarded, and counted as such.
    midstream = sum(ds[n].api("counters")["total"]["flows_midstream"] for n in survivors)
    assert midstream >= len(moved & on_survivors), midstream
    finish_transfers(lab, transfers)
    out, _ = wrk.communicate(timeout=60)
    w = parse_wrk(out)
    print(f"wrk across the kill: {w}")
    assert w["requests"] > 0 and w["connect"] == 0 and w["non2xx"] == 0, out

    # Back: its route returns, and transfers the router moves onto it keep their real server.
    later = {}
    for _ in range(6):
        port = ports(lab, 1)
        later[port] = start_transfer(lab, port)
    time.sleep(1)
    v.start(warm_up=False)
    t_back = wait_next_hops(lab, ds.keys())
    wait_next_hops(lab, ds.keys(), family="ipv6")
    time.sleep(1)
    onto = client_ports(v) & later.keys()
    print(f"d{victim} back in the route after restart; transfers moved onto it: {sorted(onto)}")
    finish_transfers(lab, later)
    assert time.time() - t_back < 120
    r = http_batch(lab, 30)
    assert r["ok"] == 30, r


def test_withdraw_and_announce(ecmp):
    lab, ds = ecmp
    d = ds[1]
    others = [n for n in ds if n != 1]
    wait_next_hops(lab, ds.keys())

    # Transfers under way when the director is withdrawn: the router moves the ones it carried
    # to the others, which keep them on their real server.
    transfers = {}
    for _ in range(6):
        port = ports(lab, 1)
        transfers[port] = start_transfer(lab, port)
    time.sleep(1.5)
    mine = client_ports(d) & transfers.keys()
    t0 = time.time()
    body = d.api("withdraw")
    assert body["director_withdrawn"] is True
    t_gone = wait_next_hops(lab, others, timeout=5)
    print(f"shoalctl withdraw: route gone after {(t_gone - t0) * 1000:.0f} ms; transfers "
          f"through it then: {sorted(mine)}")
    before = flows_created(d)
    r = http_batch(lab, 60)
    assert r["ok"] == 60, r
    assert flows_created(d) == before, "a withdrawn director took new flows"
    vip = d.api("bgp")["vips"][0]
    assert not vip["offered"] and not vip["announced"], vip
    assert vip["why"] == "the director is withdrawn"
    finish_transfers(lab, transfers)

    d.api("announce")
    wait_all_next_hops(lab, ds.keys(), timeout=15)

    # One VIP of each family: the other family's route keeps the director.
    for family, other in (("ipv4", "ipv6"), ("ipv6", "ipv4")):
        vip = VIPS[family]
        d.api("withdraw", vip)
        wait_next_hops(lab, others, timeout=5, family=family)
        assert next_hops(lab, other) == sorted(ds.keys()), f"withdrawing {vip} took {other}'s"
        entry = next(v for v in d.api("bgp")["vips"] if v["vip"] == vip)
        assert entry["withdrawn"] is True and not entry["announced"], entry
        metrics = subprocess.run(["curl", "-s", "--unix-socket", str(d.api_socket),
                                  "http://shoald/metrics"], capture_output=True, text=True,
                                 timeout=30).stdout
        assert f'shoal_bgp_vip_announced{{vip="{vip}"}} 0' in metrics, metrics
        assert f'shoal_bgp_vip_announced{{vip="{VIPS[other]}"}} 1' in metrics, metrics
        assert 'shoal_bgp_session_up{session="uplink"} 1' in metrics, metrics
        assert 'shoal_bgp_session_up{session="uplink6"} 1' in metrics, metrics
        d.api("announce", vip)
        wait_next_hops(lab, ds.keys(), timeout=15, family=family)
        r = http_batch(lab, 30, family=family)
        assert r["ok"] == 30, r


@FAMILIES
def test_hung_director_is_withdrawn(ecmp, family):
    """A shoald that hangs (SIGSTOP) passes no more frames between its TAP and the wire: BFD
    on the router gives up and the route goes, with nothing to clean up; it comes back when
    shoald runs again."""
    lab, ds = ecmp
    d = ds[2]
    wait_all_next_hops(lab, ds.keys())
    t0 = time.time()
    d.signal(signal.SIGSTOP)
    try:
        t_gone = wait_next_hops(lab, [n for n in ds if n != 2], timeout=5, family=family)
        print(f"d2 stopped (SIGSTOP): the router dropped its {family} route after "
              f"{(t_gone - t0) * 1000:.0f} ms")
        assert t_gone - t0 < 1.5
        r = http_batch(lab, 30, family=family)
        assert r["ok"] == 30, r
    finally:
        d.signal(signal.SIGCONT)
    wait_all_next_hops(lab, ds.keys(), timeout=60)


def mapping(d, sports):
    """The backend this director gives each new flow from the client's `sports`."""
    return {p: (d.api("simulate", f"{CLIENT}:{p}", f"{VIP}:80", "tcp")["backend"] or {})
            .get("name") for p in sports}


def web_health(d):
    """{backend: up?} of the web service as this director's health checks see it."""
    web = next(s for s in d.api("list")["services"] if s["name"] == "web")
    return {b["name"]: b["health"].get("up") for b in web["backends"]}


def wait_health(ds, want, timeout=15.0):
    deadline = time.time() + timeout
    while True:
        seen = {n: web_health(d) for n, d in ds.items()}
        if all(h == want for h in seen.values()):
            return
        assert time.time() < deadline, f"health after {timeout}s: {seen}, want {want}"
        time.sleep(0.2)


def test_health_change_keeps_directors_consistent(ecmp):
    """A real server goes down and comes back: every director's checks reach the same backend
    set, and every director maps each new flow to the same real server."""
    lab, ds = ecmp
    for n, d in ds.items():
        cfg = ecmp_config(lab, n)
        for svc in cfg["services"]:
            if svc["name"] == "web":
                svc["health_check"] = {"type": "tcp", "interval": 0.3, "timeout": 0.2,
                                       "rise": 2, "fall": 2, "initial": "up"}
        ok, lines, _, _ = d.reload(cfg)
        assert ok, lines
    up = {"rs1": True, "rs2": True, "rs3": True}
    wait_health(ds, up)
    base = ports(lab, 40)
    sports = list(range(base, base + 40))
    before = {n: mapping(d, sports) for n, d in ds.items()}
    assert before[1] == before[2] == before[3], before
    assert set(before[1].values()) == {"rs1", "rs2", "rs3"}, before[1]

    pid = int((lab.state / "rs2" / "nginx.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    try:
        wait_health(ds, dict(up, rs2=False))
        down = {n: mapping(d, sports) for n, d in ds.items()}
        assert down[1] == down[2] == down[3], down
        assert "rs2" not in down[1].values(), down[1]
        moved = {p for p in sports if before[1][p] != down[1][p]}
        assert moved == {p for p in sports if before[1][p] == "rs2"}, \
            "Maglev moved flows that were not on the dead server"
        r = http_batch(lab, 30)
        assert r["ok"] == 30 and "rs2" not in r["hist"], r
    finally:
        deadline = time.time() + 10
        lab.exec("rs2", "nginx", "-c", lab.state / "rs2" / "nginx.conf", check=False)
        while lab.exec("rs2", "sh", "-c", "ss -ltn | grep -q ':80 '", check=False).returncode:
            assert time.time() < deadline, "nginx on rs2 did not come back"
            time.sleep(0.2)
    wait_health(ds, up)
    again = {n: mapping(d, sports) for n, d in ds.items()}
    assert again[1] == again[2] == again[3] == before[1], again


def test_clean_stop_withdraws_first(ecmp):
    lab, ds = ecmp
    d = ds[3]
    wait_next_hops(lab, ds.keys())
    t0 = time.time()
    c = d.stop()
    assert c["balanced"]
    assert DIRECTORS not in next_hops(lab)
    assert DIRECTORS not in next_hops(lab, "ipv6")
    assert "bgp: every VIP withdrawn" in d.log_text()
    print(f"SIGTERM: shoald withdrew and stopped in {(time.time() - t0) * 1000:.0f} ms")

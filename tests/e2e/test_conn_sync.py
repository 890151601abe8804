"""NAT connection sync between two VRRP directors (NAT lab, scripts/lab --directors 2, the VRRP
instance of test_vrrp: VIP 10.0.0.100 and the real servers' gateway 10.0.1.1, 100 ms interval).

The directors' Maglev tables differ on purpose: d1 weighs rs1, rs2, rs3 12:1:1 and d2 lists
them the other way round (other backend ids) weighing rs3 12 and the others 1. Maglev's
identity of a backend is its address and port, and a weight change moves few slots, so the
weights must differ that much for most 5-tuples to hash to another real server on d2 (checked
with /v1/simulate for the very ports used: 1:1:1 against 1:1:6 moves about 40%). Long-lived
HTTP keep-alive connections (hold_client.py: one GET every 150 ms on one TCP connection, never
reopened, each answer naming its real server) show whether a connection survives a failover
on the real server it started on.

- Removals: connections closed by the client leave the backup's table within a bounded time:
  closing state, expiry on the master after its short closing timeout, removals to the backup
  (whose own closing timeout is long, so that its ageing of synced flows plays no part). The
  datagrams on the wire follow the format (TTL 255, from the port's first address, to the
  group's MAC, 16 + 24·count bytes) and name each flow's backend.
- Malformed datagrams (sync_wire.py, from the client) are counted under their reason and
  change nothing; a well-formed one from the same place is installed, and its removal removes
  it.
- Failover with sync: after d1 is killed every connection carries on, without an error, on the
  same real server, and d2's workers claimed the flows from the synced table — with one worker
  per director, with two (both of d2's workers claim some), and over IPv6 (NAT66 on
  fd00::100, VRRP over IPv6 moving it and the real servers' gateway fd00:1::1; the flows go
  in the wide 60-byte entries, into d2's IPv6 table). With one, the kill also comes
  under wrk's load (no error) during three 64 MiB transfers that arrive intact, at least one
  of them on a 5-tuple d2's Maglev maps elsewhere.
- The same without connection_sync breaks connections: the control case proving that the
  previous test measures something.
- A director that starts with a higher priority and preemption pulls the master's flows
  (bulk) before it preempts, and the connections carried by the old master carry on. When the
  master does not answer the pull, the newcomer preempts only once pull_timeout has passed.

Run as root:  SHOAL_E2E_LAB=cs /usr/bin/python3 -m pytest tests/e2e/test_conn_sync.py
"""

import hashlib
import json
import re
import select
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import PY, VIP, VIP6, parse_wrk, requirements_missing, start_wrk
from test_vrrp import log_time, start_pair, vrrp_config

pytestmark = pytest.mark.skipif(requirements_missing() is not None,
                                reason=requirements_missing() or "")

HERE = Path(__file__).resolve().parent
HOLD = HERE / "lib" / "hold_client.py"
SYNC_WIRE = HERE / "lib" / "sync_wire.py"
GROUP = "224.0.0.81"
GROUP_MAC = "01:00:5e:00:00:51"
SYNC_PORT = 8848
CLOSING = 2  # s: d1's flow_timeouts.closing, so that closed connections expire soon
CLOSING_D2 = 60  # s: d2's, so that only d1's removals take closed flows out of d2's table
D1_WEB = [(1, 12), (2, 1), (3, 1)]  # (real server, weight), in config order
D2_WEB = [(3, 12), (2, 1), (1, 1)]  # other order (other backend ids) and other weights
RUN_AFTER_TAKEOVER = 2.0  # s the connections go on after the backup became master
TRANSFER_PORTS = (24190, 24191, 24192)  # client ports of the long transfers


# --- configs and daemons ------------------------------------------------------------------

def director_config(pair, node, priority, preempt=True, sync=True, workers=1, persistence=False,
                    family="ipv4"):
    lab = pair.lab
    n = int(node[1:])
    cfg = vrrp_config(lab, n, priority, preempt, family=family)
    cfg["api"] = {"socket": str(getattr(pair, node).api_socket)}
    web = next(s for s in cfg["services"] if s["name"] == "web")
    rs_address = lab.rs_address6 if family == "ipv6" else lab.rs_address
    web["backends"] = [{"name": f"rs{i}", "address": rs_address(i), "port": 80, "weight": w}
                       for i, w in (D1_WEB if n == 1 else D2_WEB)]
    if persistence:
        web["persistence"] = {"timeout": 300}
    cfg["workers"]["flow_timeouts"] = {"closing": CLOSING if n == 1 else CLOSING_D2}
    cfg["workers"]["count"] = workers
    if sync:
        # d1 with every default, d2 with every key spelled out (the defaults' values).
        cfg["connection_sync"] = {} if n == 1 else {
            "port": "lan", "group": GROUP, "udp_port": SYNC_PORT, "id": 0,
            "table_size": 65536, "refresh": 60, "pull_timeout": 3}
    return cfg


def bring_up(pair, setup):
    """d1 master (150) and d2 backup (100), both with connection_sync or both without; left
    running from the previous test when that one had the same setup."""
    d1, d2 = pair.d1, pair.d2
    running = all(d.proc is not None and d.proc.poll() is None for d in (d1, d2))
    if running and getattr(pair, "setup", None) == setup:
        return
    pair.setup = None
    sync = setup.startswith("sync")
    workers = 2 if setup == "sync-2-workers" else 1
    persistence = setup == "sync-persistence"
    family = "ipv6" if setup.endswith("ipv6") else "ipv4"
    for d in (d2, d1):
        d.stop()  # a running daemon must exit cleanly, its counters balanced
        d.vip = VIP6 if family == "ipv6" else VIP  # what warm_up and simulated() ask for
    mark1, mark2 = len(d1.log_lines()), len(d2.log_lines())
    d1.start(director_config(pair, "d1", 150, sync=sync, workers=workers,
                             persistence=persistence, family=family), warm_up=False)
    d1.wait_log(r"vrrp front: backup -> master", after=mark1, timeout=10)
    d2.start(director_config(pair, "d2", 100, sync=sync, workers=workers,
                             persistence=persistence, family=family), warm_up=False)
    d2.wait_log(r"vrrp front: init -> backup", after=mark2, timeout=10)
    if sync:
        d2.wait_log(r"connection sync: pull done: ", after=mark2, timeout=10)
    if persistence:
        # From ports d1's Maglev sends to rs1 alone: the client's persistence entry then names
        # rs1, whichever attempt got through.
        d1.warm_up(port_ok=lambda port: simulated(d1, port) == "rs1")
    else:
        d1.warm_up()
    pair.setup = setup


def kill(d):
    d.proc.kill()
    d.proc.wait(timeout=10)
    d.proc = None


def sync_status(d):
    status = d.api_json("GET", "/v1/status")
    assert "connection_sync" in status, d.diag(f"no connection_sync in the status: {status}")
    return status["connection_sync"]


def wait_status(d, what, pred, timeout):
    deadline = time.time() + timeout
    while True:
        cs = sync_status(d)
        if pred(cs):
            return cs
        if time.time() > deadline:
            raise AssertionError(d.diag(f"{d.node}: {what} not seen within {timeout} s: "
                                        f"{json.dumps(cs)}"))
        time.sleep(0.1)


def drops(cs):
    return dict(cs.get("drops", {}))


def simulated(d, sport):
    """The real server `d`'s Maglev gives a new flow from the client's `sport` (to d.vip)."""
    client, vip = ("[fd00::1]", f"[{d.vip}]") if ":" in d.vip else ("10.0.0.1", d.vip)
    r = d.api_json("GET", f"/v1/simulate?client={client}:{sport}&vip={vip}:80&proto=tcp")
    assert r.get("backend"), d.diag(f"simulate: {r}")
    return r["backend"]["name"]


def server_address(lab, name):
    return f"{lab.rs_address(int(name[2:]))}:80"


# --- the connections ----------------------------------------------------------------------

class Held:
    """hold_client.py in the client namespace: `n` keep-alive connections from source ports
    base..base+n-1 to `vip`."""

    def __init__(self, lab, n, base, vip=VIP):
        self.n, self.base = n, base
        self.proc = lab.popen("client", PY, HOLD, "--vip", vip, "--port", 80, "--connections",
                              n, "--sport-base", base, "--interval", 0.15, "--timeout", 5,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)

    def ready(self, timeout=15):
        """{sport: first real server}, once every connection made its first request."""
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert r, f"hold_client not ready within {timeout} s"
        line = self.proc.stdout.readline()
        assert line, f"hold_client ended: {self.proc.stderr.read()}"
        first = {int(k): v for k, v in json.loads(line)["ready"].items()}
        bad = {k: v for k, v in first.items() if v is None or v.startswith("!")}
        assert not bad, f"connections failed before the test began: {bad}"
        return first

    def finish(self):
        """Closes every connection; the per-connection reports."""
        out, err = self.proc.communicate("stop\n", timeout=30)
        lines = out.strip().splitlines()
        assert lines, f"hold_client said nothing: {err}"
        return json.loads(lines[-1])["connections"]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def problems(conns, first, after):
    """What went wrong with connections that should all have carried on, on their first real
    server, with answers later than `after`."""
    out = []
    for c in conns:
        s = c["sport"]
        if c["error"]:
            out.append(f"{s}: {c['error']} at {c['error_at']:.3f}")
        elif c["in_flight"]:
            out.append(f"{s}: request unanswered at the stop")
        elif set(c["servers"]) != {first[s]}:
            out.append(f"{s}: moved from {first[s]}: {c['servers']}")
        elif c["last_ok"] is None or c["last_ok"] < after:
            out.append(f"{s}: no answer after the takeover (last at {c['last_ok']})")
    return out


def broken(conns, first):
    return [c["sport"] for c in conns if c["error"] or set(c["servers"]) != {first[c["sport"]]}]


def moved_by_maglev(d_old, d_new, first):
    """Source ports whose new flow goes elsewhere on d_new. d_old (running) must agree with
    the first answers: simulate speaks for the dataplane."""
    if d_old is not None:
        for sport, name in first.items():
            assert simulated(d_old, sport) == name, \
                f"{sport}: {d_old.node} simulates {simulated(d_old, sport)}, answered by {name}"
    return [s for s in first if simulated(d_new, s) != first[s]]


@pytest.fixture(scope="module")
def pair(request, tmp_path_factory):
    return start_pair(request, tmp_path_factory, "nat")


@pytest.fixture
def hold(pair):
    started = []

    def start(n, base):
        h = Held(pair.lab, n, base, vip=pair.d1.vip)
        started.append(h)
        return h

    yield start
    for h in started:
        h.kill()


@pytest.fixture
def sniffer(pair):
    """sync_wire.py listening on the client's side of the LAN; stop() gives the datagrams."""
    procs = []

    class Sniffer:
        def __init__(self):
            self.proc = pair.lab.popen("client", PY, SYNC_WIRE, "listen", "--seconds", 60,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
            procs.append(self.proc)
            r, _, _ = select.select([self.proc.stdout], [], [], 15)
            assert r and self.proc.stdout.readline().strip() == "ready", "sniffer not ready"

        def stop(self):
            out, _ = self.proc.communicate("stop\n", timeout=30)
            return [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]

    yield Sniffer
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)


def send_datagrams(lab, kinds, client_port):
    args = [a for k in kinds for a in ("--kind", k)]
    p = lab.exec("client", PY, SYNC_WIRE, "send", *args, "--client-port", client_port,
                 timeout=30)
    return json.loads(p.stdout.strip().splitlines()[-1])


# --- the tests ----------------------------------------------------------------------------

def test_closed_connections_leave_the_backups_table(pair, hold, sniffer):
    bring_up(pair, "sync")
    d1, d2, lab = pair.d1, pair.d2, pair.lab
    n, base = 16, 24000
    wire = sniffer()
    h = hold(n, base)
    first = h.ready()
    held_cs = wait_status(d2, f"{n} flows in the table",
                          lambda cs: cs["table"]["entries"] >= n, timeout=5)
    time.sleep(0.5)  # the table settles: the warm-up's flow may still be on its way out
    held_cs = sync_status(d2)
    held = held_cs["table"]["entries"]
    conns = h.finish()
    closed = time.time()
    assert not problems(conns, first, 0), problems(conns, first, 0)
    bound = CLOSING + 5
    cs = wait_status(d2, f"entries down from {held} by {n}",
                     lambda cs: cs["table"]["entries"] <= held - n, timeout=bound)
    took = time.time() - closed
    time.sleep(0.3)
    datagrams = wire.stop()
    sent = sync_status(d1)["sent"]
    print(f"\nremovals: {n} closed, d2 entries {held} -> {cs['table']['entries']} in "
          f"{took:.1f} s (closing timeout {CLOSING} s); d2 removed "
          f"{held_cs['removed']} -> {cs['removed']}; d1 sent {sent}; "
          f"{len(datagrams)} datagram(s) on the wire")

    # The wire: every datagram from d1 as the format says, naming our flows and their ends.
    assert datagrams, "no sync datagram seen on the LAN"
    malformed = [g for g in datagrams
                 if g["src"] != "10.0.0.2" or g["ttl"] != 255 or g["mac_dst"] != GROUP_MAC
                 or g["header"] is None or g["header"]["magic"] != 0x53485359
                 or g["header"]["version"] != 1 or g["header"]["id"] != 0
                 or g["length"] != 16 + 24 * g["header"]["count"]]
    assert not malformed, f"datagrams not as specified: {malformed[:3]}"
    types = {g["header"]["type"] for g in datagrams}
    assert types <= {1, 2, 3}, types
    ours = {f"10.0.0.1:{s}": first[s] for s in first}
    upserts, removes = {}, set()
    for g in datagrams:
        for e in g["entries"]:
            if e["client"] not in ours:
                continue
            assert e["vip"] == f"{VIP}:80" and e["proto"] == 6, e
            if e["op"] == 1:
                upserts.setdefault(e["client"], set()).add((e["state"], e["backend"]))
            elif e["op"] == 2:
                removes.add(e["client"])
            else:
                raise AssertionError(f"op {e['op']}: {e}")
    for client, name in ours.items():
        got = upserts.get(client, set())
        assert got, f"{client}: no upsert on the wire"
        assert {b for _, b in got} == {server_address(lab, name)}, (client, name, got)
        assert {s for s, _ in got} <= {1, 2, 4}, (client, got)
    print(f"on the wire: {len(upserts)} flow(s) upserted, {len(removes)} removed; states "
          f"{sorted({s for v in upserts.values() for s, _ in v})}")
    assert removes == set(ours), f"no removal on the wire for {sorted(set(ours) - removes)}"
    assert cs["removed"] - held_cs["removed"] >= n, d2.diag(
        f"removed {held_cs['removed']} -> {cs['removed']}: the flows left otherwise ({cs})")


MALFORMED = [  # (kind, reason on d2)
    ("bad_magic", "bad_magic"),
    ("version", "bad_version"),
    ("type", "bad_type"),
    ("wrong_id", "wrong_id"),
    ("ttl", "bad_ttl"),
    ("truncated", "truncated"),
    ("bad_length", "bad_length"),
    ("bad_op", "bad_entry"),
    ("bad_state", "bad_entry"),
    ("unknown_service", "unknown_service"),
    ("unknown_backend", "unknown_backend"),
]
HEADER_REASONS = {"bad_magic", "bad_version", "bad_type", "wrong_id", "bad_ttl", "truncated",
                  "bad_length"}


def test_malformed_datagrams_are_counted_and_change_nothing(pair):
    bring_up(pair, "sync")
    d1, d2, lab = pair.d1, pair.d2, pair.lab
    # No traffic now: wait until what earlier flows left has expired and the table is still.
    deadline = time.time() + CLOSING + 10
    last = sync_status(d2)["table"]["entries"]
    while True:
        time.sleep(1.0)
        now = sync_status(d2)["table"]["entries"]
        if now == last:
            break
        assert time.time() < deadline, d2.diag(f"d2's table does not settle: {last} -> {now}")
        last = now
    before = {d: sync_status(d) for d in (d1, d2)}
    entries = before[d2]["table"]["entries"]

    # Each malformed datagram carries an upsert of a flow of its own: were one taken, the
    # table would grow. The last one is well-formed and must be installed.
    kinds = [k for k, _ in MALFORMED] + ["ok"]
    assert send_datagrams(lab, kinds, 12000)["sent"] == len(kinds)
    ok_port = 12000 + len(MALFORMED)
    wait_status(d2, "the well-formed flow installed",
                lambda cs: cs["table"]["entries"] >= entries + 1, timeout=3)
    time.sleep(0.3)
    after = {d: sync_status(d) for d in (d1, d2)}
    print(f"\nmalformed: d2 drops {drops(after[d2])}, d1 drops {drops(after[d1])}")
    assert after[d2]["table"]["entries"] == entries + 1, \
        d2.diag(f"table entries {entries} -> {after[d2]['table']['entries']}")
    assert after[d2]["installed"] - before[d2]["installed"] == 1, (before[d2], after[d2])
    for reason in sorted({r for _, r in MALFORMED}):
        want = sum(1 for _, r in MALFORMED if r == reason)
        got = drops(after[d2]).get(reason, 0) - drops(before[d2]).get(reason, 0)
        assert got == want, d2.diag(f"d2 drops.{reason}: {got}, expected {want}")
        if reason in HEADER_REASONS:  # the master checks what reaches it the same way
            got = drops(after[d1]).get(reason, 0) - drops(before[d1]).get(reason, 0)
            assert got == want, d1.diag(f"d1 drops.{reason}: {got}, expected {want}")
    # The master holds the VIP: the well-formed flow is not for it.
    owned = drops(after[d1]).get("owned_service", 0) - drops(before[d1]).get("owned_service", 0)
    assert owned >= 1, d1.diag(f"d1 drops.owned_service: {owned}")
    assert after[d1]["table"]["entries"] == before[d1]["table"]["entries"], (before[d1],
                                                                              after[d1])

    # Its removal removes it.
    assert send_datagrams(lab, ["remove"], ok_port)["sent"] == 1
    wait_status(d2, f"entries back to {entries}",
                lambda cs: cs["table"]["entries"] == entries, timeout=3)


@pytest.mark.parametrize("setup", ["sync", "sync-2-workers", "sync-ipv6"])
def test_sync_keeps_connections_when_the_backups_maglev_differs(pair, hold, setup):
    # With two workers each, the port spreads the flows over both: a flow may be reported by
    # one of d1's workers and claimed by either of d2's. Over IPv6 the flows fill d2's IPv6
    # table, not its IPv4 one.
    bring_up(pair, setup)
    d1, d2 = pair.d1, pair.d2
    n, base = 20, {"sync": 24100, "sync-2-workers": 24400, "sync-ipv6": 24500}[setup]
    table = "table6" if setup == "sync-ipv6" else "table"
    before = sync_status(d2)
    h = hold(n, base)
    first = h.ready()
    # With one worker each, also long transfers (64 MiB at 10 MB/s) and wrk's load.
    transfers, wrk = [], None
    if setup == "sync":
        for port in TRANSFER_PORTS:
            out = tempfile.NamedTemporaryFile(prefix="cs-big-", delete=False)
            out.close()
            transfers.append((port, out.name, pair.lab.popen(
                "client", "curl", "-s", "--max-time", "60", "--local-port", port,
                "--limit-rate", "10M", "-o", out.name, "-w", "%{http_code} %{size_download}",
                f"http://{VIP}/big", stdout=subprocess.PIPE, text=True)))
        wrk = start_wrk(d1, 5)
        time.sleep(1.0)  # under way
    synced = wait_status(d2, f"{n} flows in the {table}",
                         lambda cs: cs[table]["entries"] >= n, timeout=5)
    mark2 = len(d2.log_lines())
    expected_moves = [s for s in first if simulated(d1, s) != first[s]]
    assert not expected_moves, f"d1's simulate disagrees with its dataplane: {expected_moves}"
    killed = time.time()
    kill(d1)
    _, line = d2.wait_log(r"vrrp front: backup -> master", after=mark2, timeout=5)
    master_at = log_time(line)
    time.sleep(RUN_AFTER_TAKEOVER)
    conns = h.finish()
    moved = moved_by_maglev(None, d2, first)
    after = sync_status(d2)
    claimed = after["claimed"] - before["claimed"]
    gaps = sorted(c["max_gap"] for c in conns)
    print(f"\nsync: {len(moved)}/{n} 5-tuples hash to another real server on d2; d2 had "
          f"{synced[table]['entries']} flows in its {table}; master "
          f"{(master_at - killed) * 1000:.0f} ms after the kill; "
          f"{n - len(broken(conns, first))}/{n} connections kept their real server; "
          f"claimed {claimed}; longest pause {gaps[-1]:.2f} s; requests "
          f"{sum(c['requests'] for c in conns)}")
    assert len(moved) >= n / 2, \
        f"only {len(moved)} of {n} 5-tuples differ between d1 and d2: this proves nothing"
    bad = problems(conns, first, master_at + RUN_AFTER_TAKEOVER / 2)
    assert not bad, d2.diag(f"{len(bad)} connection(s) did not carry on: {bad}")
    assert claimed >= n, d2.diag(f"claimed grew by {claimed}, expected >= {n}: {after}")
    if transfers:
        by_hash = {v: k for k, v in pair.lab.big_hashes().items()}
        served = {}
        for port, path, curl in transfers:
            code_size = curl.communicate(timeout=90)[0].split()
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            Path(path).unlink()
            assert code_size == ["200", str(64 << 20)], f"transfer from port {port}: {code_size}"
            assert digest in by_hash, f"transfer from port {port} was corrupted"
            served[port] = by_hash[digest]
        moved_transfers = [p for p in served if simulated(d2, p) != served[p]]
        load = parse_wrk(wrk.communicate(timeout=60)[0])
        print(f"transfers: {served}, {len(moved_transfers)} of them hash elsewhere on d2, all "
              f"intact; wrk: {load['requests']} requests, {load['errors']} errors")
        assert moved_transfers, f"no transfer's 5-tuple maps elsewhere on d2: {served}"
        assert load["requests"] > 0 and load["errors"] == 0, load
    if setup == "sync-2-workers":
        per_worker = [w["flows_claimed"] for w in d2.api("counters")["workers"]]
        print(f"claimed per worker on d2: {per_worker}")
        assert len(per_worker) == 2 and all(per_worker), \
            d2.diag(f"the flows did not spread over both workers: {per_worker}")


def test_persistence_survives_a_failover(pair):
    """With persistence (300 s per client), the client keeps its real server across a failover:
    d1's persistence entries reach d2 by connection sync, and d2's workers follow them for new
    connections that its own Maglev (rs3 weighing 12) would send elsewhere."""
    bring_up(pair, "sync-persistence")
    d1, d2 = pair.d1, pair.d2
    lab = pair.lab
    later = 24800  # the client ports of the connections after the failover
    # What d2's Maglev does with new flows of a client it has no entry for (d1's warm-up gave
    # 10.0.0.1 one on rs1 already): rs3 weighs 12 there, rs1 1.
    on_d2 = [d2.api_json("GET", f"/v1/simulate?client=10.0.0.99:{p}&vip={VIP}:80&proto=tcp")
             ["backend"]["name"] for p in range(later, later + 20)]
    assert sum(name != "rs1" for name in on_d2) >= 10, \
        f"d2's Maglev sends these ports to rs1 anyway: this would prove nothing: {on_d2}"
    first = next(p for p in range(24600, 24700) if simulated(d1, p) == "rs1")
    r = lab.client("http", "--vip", VIP, "--port", 80, "--count", 1, "--sport-base", first)
    assert r["hist"] == {"rs1": 1}, r
    r = lab.client("http", "--vip", VIP, "--port", 80, "--count", 10, "--sport-base", 24700)
    assert r["ok"] == 10 and r["hist"] == {"rs1": 10}, r  # persistence on d1
    cs = wait_status(d2, "a persistence entry installed",
                     lambda cs: cs["persistence"]["installed"] >= 1, timeout=5)
    assert sync_status(d1)["persistence"]["sent"] >= 1, sync_status(d1)
    why = d2.api_json("GET", f"/v1/simulate?client=10.0.0.1:{later}&vip={VIP}:80&proto=tcp")
    assert "live persistence entry" in why["why"] and why["backend"]["name"] == "rs1", why
    mark2 = len(d2.log_lines())
    kill(d1)
    d2.wait_log(r"vrrp front: backup -> master", after=mark2, timeout=5)
    r = lab.client("http", "--vip", VIP, "--port", 80, "--count", 20, "--sport-base", later)
    print(f"\npersistence across the failover: d2 alone would send {on_d2.count('rs1')}/20 to "
          f"rs1; after the takeover: {r['hist']}; sync {cs['persistence']}")
    assert r["ok"] == 20 and r["hist"] == {"rs1": 20}, r
    assert d2.api("counters")["total"]["persistence_hits"] >= 20


def test_without_sync_a_differing_backup_breaks_connections(pair, hold):
    bring_up(pair, "plain")
    d1, d2 = pair.d1, pair.d2
    assert "connection_sync" not in d2.api_json("GET", "/v1/status")
    n, base = 12, 24200
    h = hold(n, base)
    first = h.ready()
    mark2 = len(d2.log_lines())
    kill(d1)
    d2.wait_log(r"vrrp front: backup -> master", after=mark2, timeout=5)
    time.sleep(RUN_AFTER_TAKEOVER / 2)
    conns = h.finish()
    moved = moved_by_maglev(None, d2, first)
    lost = broken(conns, first)
    print(f"\nwithout sync: {len(moved)}/{n} 5-tuples hash to another real server on d2; "
          f"{len(lost)} connection(s) broke or moved: "
          f"{sorted({(c['error'] or 'moved').split(':')[0] for c in conns if c['sport'] in lost})}"
          f"; {sorted(set(lost) ^ set(moved))} differ from the prediction")
    assert lost, "no connection broke without sync: the sync test measures nothing"


def test_a_preempting_director_pulls_the_flows_first(pair, hold):
    d1, d2 = pair.d1, pair.d2
    pair.setup = None
    for d in (d2, d1):
        d.stop()
    mark1 = len(d1.log_lines())
    d1.start(director_config(pair, "d1", 100), warm_up=False)
    d1.wait_log(r"vrrp front: backup -> master", after=mark1, timeout=10)
    d1.warm_up()
    n, base = 10, 24300
    h = hold(n, base)
    first = h.ready()
    wait_status(d1, f"{n} flows reported", lambda cs: cs["sent"]["flows"] >= n, timeout=5)
    assert not [s for s in first if simulated(d1, s) != first[s]], "d1's simulate disagrees"

    mark1, mark2 = len(d1.log_lines()), len(d2.log_lines())
    started = time.time()
    d2.start(director_config(pair, "d2", 200, preempt=True), warm_up=False)
    i_pull, pull = d2.wait_log(r"connection sync: pull (done|timed out)", after=mark2,
                               timeout=10)
    i_master, master = d2.wait_log(r"vrrp front: backup -> master", after=mark2, timeout=10)
    d1.wait_log(r"vrrp front: master -> backup", after=mark1, timeout=5)
    time.sleep(RUN_AFTER_TAKEOVER)
    conns = h.finish()
    moved = moved_by_maglev(None, d2, first)
    cs = sync_status(d2)
    gaps = sorted(c["max_gap"] for c in conns)
    print(f"\npull: {pull.strip()}\n  then {master.strip()} "
          f"({(log_time(master) - started) * 1000:.0f} ms after the start); "
          f"{len(moved)}/{n} 5-tuples hash elsewhere on d2; "
          f"{n - len(broken(conns, first))}/{n} connections kept their real server; "
          f"claimed {cs['claimed']}; longest pause {gaps[-1]:.2f} s")
    assert any(re.search(r"connection sync: pulling flows from peers", ln)
               for ln in d2.log_lines()[mark2:i_pull]), d2.diag("no pull request logged")
    m = re.search(r"pull done: (\d+) flow\(s\) from ([\d.]+) in (\d+) ms", pull)
    assert m, d2.diag(f"the pull did not complete: {pull}")
    assert int(m.group(1)) >= n and m.group(2) == "10.0.0.2", pull
    assert i_pull < i_master, d2.diag("took over before the pull was done")
    assert cs["pull"] == "done", cs
    assert len(moved) >= n / 2, f"only {len(moved)} of {n} 5-tuples differ: this proves nothing"
    bad = problems(conns, first, log_time(master) + RUN_AFTER_TAKEOVER / 2)
    assert not bad, d2.diag(f"{len(bad)} connection(s) did not carry on: {bad}")
    assert cs["claimed"] >= n, d2.diag(f"claimed {cs['claimed']}, expected >= {n}")
    line = [ln for ln in d2.ctl("status").stdout.splitlines() if ln.startswith("connection sync")]
    m = re.search(rf"{GROUP}:{SYNC_PORT}: pull done, .* (\d+) claimed; ", line[0]) if line else None
    assert m and int(m.group(1)) >= n, line


def test_preemption_waits_for_the_pull_timeout(pair):
    """The master does not answer pulls (no connection_sync): the returning director, with a
    higher priority, stays backup until its pull_timeout has passed, well beyond the
    Master_Down_Interval after which it would preempt otherwise."""
    d1, d2 = pair.d1, pair.d2
    pull_timeout = 1.5
    pair.setup = None
    for d in (d2, d1):
        d.stop()
    mark1 = len(d1.log_lines())
    d1.start(director_config(pair, "d1", 100, sync=False), warm_up=False)
    d1.wait_log(r"vrrp front: backup -> master", after=mark1, timeout=10)
    mark1, mark2 = len(d1.log_lines()), len(d2.log_lines())
    cfg = director_config(pair, "d2", 200, preempt=True)
    cfg["connection_sync"]["pull_timeout"] = pull_timeout
    d2.start(cfg, warm_up=False)
    i_pulling, pulling = d2.wait_log(r"connection sync: pulling flows from peers", after=mark2,
                                     timeout=10)
    i_out, out = d2.wait_log(r"connection sync: pull (done|timed out)", after=mark2, timeout=10)
    i_master, master = d2.wait_log(r"vrrp front: backup -> master", after=mark2, timeout=10)
    d1.wait_log(r"vrrp front: master -> backup", after=mark1, timeout=5)
    held_back = log_time(master) - log_time(pulling)
    print(f"\npull timeout: {out.strip()}\n  then master {held_back * 1000:.0f} ms after the "
          f"pull began (pull_timeout {pull_timeout * 1000:.0f} ms)")
    m = re.search(r"pull timed out after (\d+) ms", out)
    assert m and int(m.group(1)) >= pull_timeout * 1000, d2.diag(out)
    assert i_pulling < i_out < i_master, d2.diag("preempted before the pull timed out")
    assert held_back >= pull_timeout, d2.diag(f"master {held_back:.3f} s after the pull began")
    assert sync_status(d2)["pull"] == "timed_out"

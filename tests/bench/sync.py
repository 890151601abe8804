#!/usr/bin/python3
"""Connection sync throughput and pull time (run by scripts/bench-sync.sh): two directors in
the NAT lab, the VRRP instance of test_vrrp (d1 priority 150 master, d2 100 backup), both with
connection sync, a flow table of 262144 flows per worker and a synced table as large.

Each round starts both directors afresh (empty tables; d2's start-up pull of the idle, empty
d1 is kept as the round's "empty pull"), then:
  stream  sync_load.py send, in the client's namespace, sends N TCP ACKs of new 5-tuples to
          the VIP (frames prebuilt; flat out, or paced at a rate in frames/s). Every 50 ms the
          driver reads d1's /v1/counters (flows created, rx) and /v1/status
          (connection_sync.sent.flows) and d2's /v1/status (connection_sync.table.entries),
          and takes, from the first frame sent, when d1 had reported every flow it created and
          when d2's table held them all. sync_load.py listen, in the client's namespace too,
          timestamps each sync datagram (the group is flooded to the segment): the latency
          from a flow's frame leaving the client to its entry on the wire from d1.
  pull    d2 restarted (SIGTERM, started again at priority 100): its log line
          "connection sync: pull done: X flow(s) from 10.0.0.2 in Y ms".
Then both stop (SIGTERM; their exit dumps must balance). Events lost on d1's rings, datagrams
d2 missed and every drop are reported per round. Last, with one worker and each of
--pull-tables as flow_table_size: pulls of an idle d1 (tables empty but for the warm-up's
flows) and one while the client sends it new flows at LOADED_RATE.

Prints one line per round, then Markdown tables (median and range over the repeats), and
writes the rounds as JSON to --json.
"""
import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

from conftest import PY, VIP, Lab, Shoald  # noqa: E402
from test_vrrp import VMAC, vrrp_config  # noqa: E402

TABLE = 262144  # flows per worker's table, and in the synced table
BATCH = 32  # frames sync_load.py sends between two readings of the clock
LOADED_RATE = 10000  # frames/s to d1 during the pull "under load"
FRAMES_PER_POLL = 32  # ConnectionSync::kFramesPerPoll: datagrams per control loop pass at most
FULL_STEP = 256  # SyncWalker::kBucketsPerFullStep: buckets a worker walks per loop for a pull
BURST_GAP = 0.0003  # s: datagrams closer together on the wire were sent in one burst
POLL = 0.05  # s between two readings of the directors' counters
SETTLE = 15.0  # s after the last frame: longer means the round failed
# The client's own address (10.0.0.1) is left to the warm-up's real connections; the flows
# come from these, added to the client's interface, 25000 source ports each at most.
SOURCES_PER_ADDRESS = 25000
PULL_RE = re.compile(r"connection sync: pull done: (\d+) flow\(s\) from ([\d.]+) in (\d+) ms")
TIMED_OUT_RE = re.compile(r"pull timed out after (\d+) ms \((\d+) flow\(s\) received\)")
ANSWER_RE = re.compile(r"connection sync: answered a pull from ([\d.]+): (\d+) flow\(s\) sent")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=5.0):
        super().__init__("shoald", timeout=timeout)
        self.path = str(path)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def get(d, path):
    """GET on a director's API socket, parsed."""
    c = UnixHTTPConnection(d.api_socket)
    try:
        c.request("GET", path)
        return json.loads(c.getresponse().read())
    finally:
        c.close()


def reading(d1, d2):
    """One sample: d1's flows created (and in its tables), rx, drops and what it sent; d2's
    synced table and what it received."""
    t = time.time()
    counters = get(d1, "/v1/counters")
    c1 = counters["total"]
    s1 = get(d1, "/v1/status")["connection_sync"]
    s2 = get(d2, "/v1/status")["connection_sync"]
    return {"t": t, "created": c1["flows_created"],
            "flows": sum(w["flows"] for w in counters["workers"]),
            "rx": c1["rx"], "d1_drops": sum(c1["drops"].values()),
            "sent": s1["sent"]["flows"], "sent_messages": s1["sent"]["messages"],
            "lost": s1["events_lost"], "entries": s2["table"]["entries"],
            "received": s2["received"]["flows"], "received_messages": s2["received"]["messages"],
            "missed": s2["received"]["missed"], "d2_drops": sum(s2["drops"].values())}


def iface_rx(lab, node):
    """Frames the kernel received on a director's port (the veth its af_packet PMD reads)."""
    iface = f"{lab.prefix}-{node}"
    return int(lab.exec(node, "cat", f"/sys/class/net/{iface}/statistics/rx_packets").stdout)


def first(samples, key, target):
    """Time of the first sample whose `key` reached `target`, or None."""
    return next((s["t"] for s in samples if s[key] >= target), None)


def config(lab, d, n, priority, workers, table=TABLE):
    cfg = vrrp_config(lab, n, priority)
    cfg["api"] = {"socket": str(d.api_socket)}
    cfg["workers"]["count"] = workers
    cfg["workers"]["flow_table_size"] = table
    cfg["connection_sync"] = {"table_size": TABLE}
    return cfg


def start_pair(d, cfg):
    """d1 master, then d2 backup; returns d2's start-up pull (of d1's empty tables)."""
    mark1, mark2 = len(d[1].log_lines()), len(d[2].log_lines())
    d[1].start(cfg[1], warm_up=False)
    d[1].wait_log(r"vrrp front: backup -> master", after=mark1, timeout=10)
    d[2].start(cfg[2], warm_up=False)
    d[2].wait_log(r"vrrp front: init -> backup", after=mark2, timeout=10)
    _, line = d[2].wait_log(PULL_RE.pattern + "|pull timed out", after=mark2, timeout=10)
    d[1].warm_up()  # the real servers resolved
    m = PULL_RE.search(line)
    return {"flows": int(m.group(1)), "ms": int(m.group(3))} if m else {"timed_out": line}


def sync_line(d, lines):
    return next((ln.split("counters sync: ", 1)[1] for ln in reversed(lines)
                 if "counters sync: " in ln), None)


def pull_under_load(lab, d, cfg2, sources, work):
    """d2's pull while sync_load.py sends d1 new flows at LOADED_RATE frames/s."""
    load = lab.popen("client", PY, HERE / "sync_load.py", "send", "--dst-mac", VMAC,
                     "--vip", VIP, "--port", 80, "--sources", ",".join(sources), "--count",
                     LOADED_RATE * 8, "--port-base", 1024, "--rate", LOADED_RATE,
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert load.stdout.readline().strip() == "ready", "sync_load.py send did not start"
        load.stdin.write("go\n")
        load.stdin.flush()
        time.sleep(0.5)
        p = pull(lab, d, cfg2, work)
        assert load.poll() is None, "the load ended before the pull did"
        return p
    finally:
        load.terminate()
        load.wait(timeout=10)


def pull_text(p):
    if "ms" in p:
        return f"{p['flows']} flow(s) in {p['ms']} ms"
    return f"TIMED OUT ({p['timed_out'].split('connection sync: ', 1)[-1]})"


def percentile(values, p):
    """Nearest-rank percentile: the smallest value with at least p % of them at or below."""
    s = sorted(values)
    return s[max(0, -(-len(s) * p // 100) - 1)]


class Wire:
    """sync_load.py listen in the client's namespace: the sync datagrams on the segment."""

    def __init__(self, lab, path):
        self.path = path
        with open(path, "w") as f:
            self.proc = lab.popen("client", PY, HERE / "sync_load.py", "listen", stdout=f,
                                  text=True)
        deadline = time.time() + 10
        while path.read_text()[:5] != "ready":
            if self.proc.poll() is not None or time.time() > deadline:
                self.close()
                raise AssertionError("sync_load.py listen did not start")
            time.sleep(0.02)

    def close(self):
        """Stops it; the flows datagrams it saw."""
        if self.proc.poll() is None:
            time.sleep(0.1)  # the last datagrams
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return [json.loads(ln) for ln in self.path.read_text().splitlines()
                if ln.startswith("{")]


def bursts(messages, since=0.0):
    """d1's control loop sends a pass's datagrams back to back (microseconds apart on the
    wire), then sleeps 1 ms unless it has frames to read: datagrams less than BURST_GAP apart
    make a burst, one pass or a few that did not sleep. A pass sends kFramesPerPoll datagrams
    at most (a pull_done and a partly filled one besides): a burst under FRAMES_PER_POLL
    shows that the budget did not bind. Returns the number of bursts, the median interval
    between two (ms), the most datagrams in one and how many had FRAMES_PER_POLL or more."""
    ts = sorted(m["t"] for m in messages if m["t"] >= since)
    if not ts:
        return None
    groups = [[ts[0]]]
    for a, b in zip(ts, ts[1:]):
        if b - a < BURST_GAP:
            groups[-1].append(b)
        else:
            groups.append([b])
    starts = [g[0] for g in groups]
    gaps = [(b - a) * 1000 for a, b in zip(starts, starts[1:])]
    return {"bursts": len(groups), "interval_ms": statistics.median(gaps) if gaps else None,
            "max_datagrams": max(len(g) for g in groups),
            "full": sum(len(g) >= FRAMES_PER_POLL for g in groups)}


def wire_latency(messages, sources, port_base, batches, start):
    """From the listener's datagrams: for each flow of the round, the first upsert on the wire
    after the first frame went, less the time its batch was sent. Returns (flows seen,
    latencies in s)."""
    index = {ip: k for k, ip in enumerate(sources)}
    seen = {}
    for m in messages:
        if m["t"] < start:
            continue
        for ip, port in m["flows"]:
            if ip in index and port >= port_base:
                seen.setdefault((port - port_base) * len(sources) + index[ip], m["t"])
    lat = [t - batches[i // BATCH] for i, t in seen.items() if i // BATCH < len(batches)]
    return len(seen), lat


def stream(lab, d, n, sources, port_base, rate, work):
    """Sends n flows; returns the round's figures and samples."""
    wire = Wire(lab, work / "wire-stream.jsonl")
    load = lab.popen("client", PY, HERE / "sync_load.py", "send", "--dst-mac", VMAC,
                     "--vip", VIP, "--port", 80, "--sources", ",".join(sources), "--count", n,
                     "--port-base", port_base, "--rate", rate, stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, text=True)
    try:
        assert load.stdout.readline().strip() == "ready", "sync_load.py send did not start"
        base = reading(d[1], d[2])
        samples = [base]
        veth0 = iface_rx(lab, "d1")
        load.stdin.write("go\n")
        load.stdin.flush()
        sent_at = None
        while True:
            time.sleep(POLL)
            s = reading(d[1], d[2])
            samples.append(s)
            if sent_at is None and load.poll() is not None:
                sent_at = s["t"]
            if sent_at is None:
                continue
            created = s["created"] - base["created"]
            settled = len(samples) > 2 and samples[-3]["created"] == s["created"]
            if settled and s["sent"] - base["sent"] >= created and \
                    s["entries"] - base["entries"] >= created:
                break
            if s["t"] - sent_at > SETTLE:
                break
        veth1 = iface_rx(lab, "d1")
        out = json.loads(load.stdout.readline())
        assert load.wait(timeout=10) == 0, "sync_load.py send failed"
    finally:
        messages = wire.close()
        if load.poll() is None:
            load.kill()
            load.wait()
    last = samples[-1]
    created = last["created"] - base["created"]
    start = out["start"]
    rel = [dict(s, **{k: s[k] - base[k] for k in s if k != "t"}) for s in samples]
    t_d1 = first(rel, "sent", created)
    t_d2 = first(rel, "entries", created)
    on_wire, lat = wire_latency(messages, sources, port_base, out["batches"], start)
    r = {"n": n, "rate": rate, "send_s": out["end"] - out["start"],
         "send_rate": n / (out["end"] - out["start"]), "send_errors": out["errors"],
         "created": created, "rx_lost": n - created,
         # Frames the kernel handed to d1's port (the ACKs, the real servers' RSTs, a few
         # others) that its worker never received: dropped at the af_packet ring.
         "ring_dropped": (veth1 - veth0) - (last["rx"] - base["rx"]),
         "evicted": created - (last["flows"] - base["flows"]),
         "d1_reported_s": t_d1 - start if t_d1 else None,
         "d2_installed_s": t_d2 - start if t_d2 else None,
         "after_last_frame_s": t_d2 - out["end"] if t_d2 else None,
         "sent": last["sent"] - base["sent"],
         "datagrams": last["sent_messages"] - base["sent_messages"],
         "received": last["received"] - base["received"],
         "entries": last["entries"] - base["entries"],
         "events_lost": last["lost"] - base["lost"], "missed": last["missed"] - base["missed"],
         "d2_drops": last["d2_drops"] - base["d2_drops"],
         "on_wire": on_wire,
         "wire_ms": [percentile(lat, p) * 1000 for p in (50, 99, 100)] if lat else None,
         "loop": bursts(messages, start),
         "samples": [{k: s[k] for k in ("t", "created", "sent", "entries")} for s in rel]}
    r["synced_rate"] = created / r["d2_installed_s"] if r["d2_installed_s"] else None
    return r


def pull(lab, d, cfg2, work):
    """Restarts d2; its pull of d1's flows, and d1's bursts of datagrams meanwhile."""
    d[2].stop()
    on_d1 = sum(w["flows"] for w in get(d[1], "/v1/counters")["workers"])
    mark1, mark2 = len(d[1].log_lines()), len(d[2].log_lines())
    wire = Wire(lab, work / "wire-pull.jsonl")
    try:
        started = time.time()
        d[2].start(cfg2, warm_up=False)
        _, line = d[2].wait_log(PULL_RE.pattern + "|pull timed out", after=mark2, timeout=15)
    finally:
        messages = wire.close()
    m = PULL_RE.search(line)
    if not m:
        t = TIMED_OUT_RE.search(line)
        return {"timed_out": line, "on_d1": on_d1, "received": int(t.group(2)) if t else None,
                "loop": bursts(messages, started)}
    d[1].wait_log(ANSWER_RE.pattern, after=mark1, timeout=5)
    answered = [ANSWER_RE.search(ln) for ln in d[1].log_lines()[mark1:]]
    s2 = get(d[2], "/v1/status")["connection_sync"]
    return {"flows": int(m.group(1)), "ms": int(m.group(3)), "on_d1": on_d1,
            "answered": [int(a.group(2)) for a in answered if a],
            "entries": s2["table"]["entries"], "missed": s2["received"]["missed"],
            "drops": {k: v for k, v in s2["drops"].items() if v},
            "loop": bursts(messages, started)}


def fmt(values, scale=1.0, digits=0):
    v = [x * scale for x in values if x is not None]
    if not v:
        return "—"
    med = statistics.median(v)
    missing = len(values) - len(v)
    text = f"{med:.{digits}f} ({min(v):.{digits}f}–{max(v):.{digits}f})"
    return text + (f", {missing} incomplete" if missing else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts", default="100000,20000", help="flows per round, comma-separated")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rates", default="0,50000",
                    help="send rates in frames/s, comma-separated; 0: flat out")
    ap.add_argument("--workers", default="1,2", help="workers per director, comma-separated")
    ap.add_argument("--pull-tables", default="65536,262144,1048576",
                    help="flow_table_size values for the pulls of an empty d1 (one worker)")
    ap.add_argument("--prefix", default=os.environ.get("SHOAL_LAB", "bs"))
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    counts = [int(x) for x in a.counts.split(",")]
    rates = [float(x) for x in a.rates.split(",")]
    workers = [int(x) for x in a.workers.split(",")]
    tables = [int(x) for x in a.pull_tables.split(",") if x]

    lab = Lab("nat", servers=3, directors=2, prefix=a.prefix)
    work = Path(tempfile.mkdtemp(prefix="shoal-bench-sync."))
    d = {n: Shoald(lab, work, name=f"d{n}", node=f"d{n}") for n in (1, 2)}
    rounds = []
    empties = {}
    n_addresses = -(-max(counts + [LOADED_RATE * 8]) // SOURCES_PER_ADDRESS)
    sources = [f"10.0.0.{50 + i}" for i in range(n_addresses)]
    try:
        lab.up()
        lab.add_client_addresses(sources)
        for w in workers:
            cfg = {1: config(lab, d[1], 1, 150, w), 2: config(lab, d[2], 2, 100, w)}
            for n in counts:
                for rate in rates:
                    for rep in range(a.repeats):
                        load = os.getloadavg()
                        empty = start_pair(d, cfg)
                        r = stream(lab, d, n, sources, 1024, rate, work)
                        r.update(workers=w, repeat=rep + 1, load=load, empty_pull=empty)
                        r["pull"] = pull(lab, d, cfg[2], work)
                        stops = {}
                        for k in (2, 1):
                            mark = len(d[k].log_lines())
                            d[k].stop()
                            stops[f"d{k}"] = sync_line(d[k], d[k].log_lines()[mark:])
                        r["exit_sync"] = stops
                        rounds.append(r)
                        print(line(r), flush=True)
        for size in tables:
            # The pulls of an idle d1 (its tables empty but for the warm-up's flows), then one
            # while the client sends it new flows at LOADED_RATE (its worker busy).
            cfg = {1: config(lab, d[1], 1, 150, 1, size), 2: config(lab, d[2], 2, 100, 1, size)}
            load_avg = os.getloadavg()
            idle = [start_pair(d, cfg)]
            idle += [pull(lab, d, cfg[2], work) for _ in range(a.repeats - 1)]
            loaded = pull_under_load(lab, d, cfg[2], sources, work)
            time.sleep(1.0)  # d1's worker idle again, its flows left from the load
            after = pull(lab, d, cfg[2], work)
            empties[size] = {"idle": idle, "loaded": loaded, "after": after, "load": load_avg}
            print(f"flow_table_size {size} (load {load_avg[0]:.2f}): pulls of an idle d1 "
                  f"{', '.join(pull_text(p) for p in idle)}; under {LOADED_RATE} frames/s "
                  f"{pull_text(loaded)} ({loop_text(loaded.get('loop'))}); idle again with "
                  f"{after['on_d1']} flows {pull_text(after)}", flush=True)
            for k in (2, 1):
                d[k].stop()
    finally:
        for s in d.values():
            s.stop(check=False)
        lab.down()
        if a.json:
            Path(a.json).write_text(json.dumps({"rounds": rounds, "empty_pulls": empties},
                                               indent=1))
    print(f"\nlogs: {work}")
    report(rounds, workers, counts, rates, empties)
    return 0


def ms(x):
    return f"{x * 1000:.0f}" if x is not None else "—"


def pacing(rate):
    return "flat out" if not rate else f"{rate:.0f}/s"


def loop_text(loop):
    if not loop:
        return "no datagram seen"
    interval = f"{loop['interval_ms']:.2f}" if loop["interval_ms"] is not None else "—"
    return (f"{loop['bursts']} bursts of datagrams from d1, every {interval} ms (median), "
            f"at most {loop['max_datagrams']} datagrams in one, {loop['full']} of "
            f"{FRAMES_PER_POLL} or more")


def line(r):
    p, empty = r["pull"], r["empty_pull"]
    pull_text = f"pull {p['flows']} in {p['ms']} ms" if "ms" in p else "pull TIMED OUT"
    wire = ("" if not r["wire_ms"] else
            "; on the wire p50/p99/max %.1f/%.1f/%.1f ms" % tuple(r["wire_ms"]))
    return (f"w{r['workers']} n={r['n']} {pacing(r['rate'])} #{r['repeat']} "
            f"(load {r['load'][0]:.2f}): sent in {ms(r['send_s'])} ms ({r['send_rate']:.0f}/s), "
            f"d1 took {r['created']} (not {r['rx_lost']}; {r['ring_dropped']} frames dropped at "
            f"its port's ring; evicted {r['evicted']}); "
            f"d1 reported all at {ms(r['d1_reported_s'])} ms, "
            f"d2 held all at {ms(r['d2_installed_s'])} ms "
            f"(+{ms(r['after_last_frame_s'])} after the last frame); {r['datagrams']} datagrams, "
            f"{r['on_wire']} flows seen{wire}; {loop_text(r['loop'])}; "
            f"lost {r['events_lost']}, missed {r['missed']}, d2 drops {r['d2_drops']}; "
            f"{pull_text} (d1 held {p['on_d1']}; {loop_text(p.get('loop'))}); "
            f"empty pull {empty.get('ms', 'TIMED OUT')} ms")


def wire_cell(wire):
    if not wire:
        return "—"
    return " / ".join(fmt([x[k] for x in wire], 1, 1) for k in range(3))


def per_datagram(r):
    return r["sent"] / r["datagrams"] if r["datagrams"] else None


def loop_cell(loops):
    loops = [x for x in loops if x]
    if not loops:
        return "—"
    return (f"{fmt([x['interval_ms'] for x in loops], 1, 2)} / "
            f"{fmt([x['max_datagrams'] for x in loops])}")


def loaded_pull(p):
    return f"{p['flows']}, {p['ms']}" if "ms" in p else "timed out"


def after_pull(p):
    if "ms" in p:
        return f"{p['flows']} flows in {p['ms']} ms"
    return f"timed out after receiving {p.get('received')} flows"


def loaded_loop(loop):
    if not loop:
        return "—"
    return f"{loop['bursts']}, {loop['max_datagrams']}, {loop['full']}"


def report(rounds, workers, counts, rates, empties):
    groups = [(w, n, rate, [r for r in rounds if (r["workers"], r["n"], r["rate"]) == (w, n, rate)])
              for w in workers for n in counts for rate in rates]
    groups = [g for g in groups if g[3]]
    print("\n| workers | flows | pacing | frames/s sent | flows d1 took | d1 reported all (ms) "
          "| d2 held all (ms) | d2 after the last frame (ms) | synced flows/s "
          "| wire latency p50 / p99 / max (ms) | flows per datagram "
          "| d1's bursts of datagrams: interval (ms) / most datagrams in one "
          "| lost / missed / drops |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for w, n, rate, rs in groups:
        wire = [r["wire_ms"] for r in rs if r["wire_ms"]]
        print(f"| {w} | {n} | {pacing(rate)} "
              f"| {fmt([r['send_rate'] for r in rs])} "
              f"| {fmt([r['created'] for r in rs])} "
              f"| {fmt([r['d1_reported_s'] for r in rs], 1000)} "
              f"| {fmt([r['d2_installed_s'] for r in rs], 1000)} "
              f"| {fmt([r['after_last_frame_s'] for r in rs], 1000)} "
              f"| {fmt([r['synced_rate'] for r in rs])} "
              f"| {wire_cell(wire)} "
              f"| {fmt([per_datagram(r) for r in rs], 1, 1)} "
              f"| {loop_cell([r['loop'] for r in rs])} "
              f"| {sum(r['events_lost'] for r in rs)} / {sum(r['missed'] for r in rs)} "
              f"/ {sum(r['d2_drops'] for r in rs)} |")
    print("\n| workers | flows on d1 | pull: flows received | pull time (ms) | d1 answered "
          "| d2's table after | d1's bursts of datagrams: interval (ms) / most datagrams in one "
          "| missed / drops |")
    print("|---|---|---|---|---|---|---|---|")
    for w in workers:
        empty = [r["empty_pull"] for r in rounds if r["workers"] == w]
        print(f"| {w} | 0 (start-up) | {fmt([p.get('flows') for p in empty])} "
              f"| {fmt([p.get('ms') for p in empty])} | | | | |")
        for w2, n, rate, rs in groups:
            if w2 != w:
                continue
            ps = [r["pull"] for r in rs]
            print(f"| {w} | {fmt([p['on_d1'] for p in ps])} ({pacing(rate)}) "
                  f"| {fmt([p.get('flows') for p in ps])} | {fmt([p.get('ms') for p in ps])} "
                  f"| {fmt([sum(p.get('answered', [])) or None for p in ps])} "
                  f"| {fmt([p.get('entries') for p in ps])} "
                  f"| {loop_cell([p.get('loop') for p in ps])} "
                  f"| {sum(p.get('missed', 0) for p in ps)} / "
                  f"{sum(sum(p.get('drops', {}).values()) for p in ps)} |")
    if empties:
        print(f"\n| flow_table_size (1 worker) | buckets | walk steps of {FULL_STEP} buckets "
              f"| pull of an idle d1 (ms) | pull under {LOADED_RATE} frames/s: flows, ms "
              "| d1's bursts of datagrams: count, most datagrams in one, those of 32 or more "
              "| then idle with the flows left: flows on d1, pull |")
        print("|---|---|---|---|---|---|---|")
        points = []
        for size, e in empties.items():
            buckets = -(-size // 3)
            steps = -(-buckets // FULL_STEP)
            t = [p.get("ms") for p in e["idle"]]
            points += [(steps, x) for x in t if x is not None]
            timed_out = sum(x is None for x in t)
            loaded = e["loaded"]
            print(f"| {size} | {buckets} | {steps} "
                  f"| {fmt(t) if timed_out < len(t) else f'timed out {timed_out} of {len(t)}'} "
                  f"| {loaded_pull(loaded)} | {loaded_loop(loaded.get('loop'))} "
                  f"| {e['after']['on_d1']}, {after_pull(e['after'])} |")
        if len({x for x, _ in points}) > 1:  # least squares: ms = a + b × steps
            mx = statistics.mean(x for x, _ in points)
            my = statistics.mean(y for _, y in points)
            b = (sum((x - mx) * (y - my) for x, y in points) /
                 sum((x - mx) ** 2 for x, _ in points))
            print(f"\nidle pulls that completed: {my - b * mx:.0f} ms + {b * 1000:.0f} µs per "
                  f"step of {FULL_STEP} buckets")


if __name__ == "__main__":
    sys.exit(main())

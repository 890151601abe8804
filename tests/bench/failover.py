#!/usr/bin/python3
"""VRRP failover time under load (run by scripts/bench-failover.sh): two directors in the DR
lab, both priority 100 with preemption off and a 100 ms interval, so that every failover is
the same one (Master_Down_Interval = 3 × 100 + (256 - 100) × 100 / 256 = 360.9 ms). A steady
request rate runs through the VIP the whole time (failover_load.py). Each round SIGKILLs the
master and measures, from the kill:
  master   the backup's "backup -> master" log line (its own wall-clock timestamp, ms)
  garp     the first gratuitous ARP for the VIP seen in the client's namespace
and counts the requests that failed (no answer within the client's timeout) and those that
were answered late (more than LATE seconds: a lost SYN, retransmitted after 1 s), among the
requests started from 1 s before the kill to 1 s before the next one. The killed director is
restarted as backup (preemption off: it stays backup), and the next round kills the other one.

Prints one line per round, then a Markdown summary, and writes the rounds as JSON to --json.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

from conftest import PY, VIP, Lab, Shoald  # noqa: E402
from test_vrrp import INTERVAL, WIRE, log_time, master_down, vrrp_config  # noqa: E402

LATE = 0.5


def percentile(values, p):
    """Nearest-rank percentile: the smallest value with at least p % of them at or below."""
    s = sorted(values)
    return s[max(0, -(-len(s) * p // 100) - 1)]


def summary(values):
    return (min(values), statistics.median(values), percentile(values, 90), max(values))


def tear_down(helpers, daemons, lab):
    """Helper processes ended (terminated, killed if they linger), the daemons stopped, the
    lab removed: in that order, whatever failed before."""
    for p in helpers:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    for s in daemons:
        s.stop(check=False)
    lab.down()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--rate", type=float, default=50.0, help="requests per second")
    ap.add_argument("--timeout", type=float, default=3.0, help="per request, seconds")
    ap.add_argument("--prefix", default=os.environ.get("SHOAL_LAB", "vb"))
    ap.add_argument("--json", default=None)
    a = ap.parse_args()

    lab = Lab("dr", servers=3, directors=2, prefix=a.prefix)
    work = Path(tempfile.mkdtemp(prefix="shoal-bench-failover."))
    d = {n: Shoald(lab, work, name=f"d{n}", node=f"d{n}") for n in (1, 2)}
    cfg = {n: vrrp_config(lab, n, 100, preempt=False) for n in (1, 2)}
    helpers = []
    rounds = []
    try:
        lab.up()
        d[1].start(cfg[1], warm_up=False)
        d[1].wait_log(r"vrrp front: backup -> master", timeout=10)
        d[2].start(cfg[2], warm_up=False)
        d[2].wait_log(r"vrrp front: init -> backup", timeout=10)
        d[1].warm_up()
        garps_path, load_path = work / "garps.jsonl", work / "requests.jsonl"
        with open(garps_path, "w") as f:
            sniffer = lab.popen("client", PY, WIRE, "garps", "--vip", VIP, "--seconds", 3600,
                                stdout=f, text=True)
        helpers.append(sniffer)
        load = lab.popen("client", PY, HERE / "failover_load.py", "--vip", VIP, "--rate", a.rate,
                         "--timeout", a.timeout, "--out", load_path, stdout=subprocess.PIPE,
                         text=True)
        helpers.append(load)
        assert load.stdout.readline().strip() == "ready"
        time.sleep(2.0)  # the sniffer's socket is open, the load is steady

        master, backup = 1, 2
        for k in range(a.kills):
            mark = len(d[backup].log_lines())
            killed = time.time()
            d[master].proc.kill()
            d[master].proc.wait(timeout=10)
            d[master].proc = None
            _, line = d[backup].wait_log(r"vrrp front: backup -> master", after=mark, timeout=10)
            rounds.append({"kill": killed, "killed": f"d{master}",
                           "master": log_time(line) - killed})
            time.sleep(1.0)
            # Back as backup; preemption is off, so it stays one whatever its priority.
            mark = len(d[master].log_lines())
            d[master].start(cfg[master], warm_up=False)
            d[master].wait_log(r"vrrp front: init -> backup", after=mark, timeout=30)
            # Hears the new master for many intervals before the next kill. The kill must land
            # anywhere between two advertisements: without the random part, the round's fixed
            # sleeps (multiples of the interval) would put it at nearly the same phase each time.
            time.sleep(1.5 + random.uniform(0, INTERVAL))
            assert not any("backup -> master" in ln for ln in d[master].log_lines()[mark:]), \
                d[master].diag("the restarted director did not hear the master")
            master, backup = backup, master
        time.sleep(1.0 + a.timeout)  # the last requests end
    finally:
        tear_down(helpers, d.values(), lab)

    garps = [json.loads(ln)["t"] for ln in garps_path.read_text().splitlines()
             if ln.startswith("{")]  # after the sniffer's "ready"
    requests = [json.loads(ln) for ln in load_path.read_text().splitlines() if ln.strip()]
    for i, r in enumerate(rounds):
        after = [t for t in garps if t >= r["kill"]]
        r["garp"] = after[0] - r["kill"] if after else None
        lo = r["kill"] - 1.0
        # The last round as long as the one before.
        length = rounds[i]["kill"] - rounds[i - 1]["kill"] if i > 0 else 3.0
        hi = rounds[i + 1]["kill"] - 1.0 if i + 1 < len(rounds) else r["kill"] - 1.0 + length
        mine = [q for q in requests if lo <= q["t"] < hi]
        r["requests"] = len(mine)
        r["failed"] = sum(not q["ok"] for q in mine)
        r["late"] = sum(q["ok"] and q["end"] - q["t"] > LATE for q in mine)
        r["errors"] = sorted({q["err"] for q in mine if not q["ok"]})
        print(f"kill {i + 1:2d} ({r['killed']}): master after {r['master'] * 1000:4.0f} ms, "
              f"first GARP after {r['garp'] * 1000 if r['garp'] is not None else -1:4.0f} ms; "
              f"{r['requests']} requests, {r['failed']} failed, {r['late']} late "
              f"{' '.join(r['errors'])}")

    bound = master_down(100)
    master_ms = [r["master"] * 1000 for r in rounds]
    garp_ms = [r["garp"] * 1000 for r in rounds if r["garp"] is not None]
    print(f"\n{len(rounds)} SIGKILLs, interval 100 ms, priorities 100/100, preemption off; "
          f"{a.rate:g} requests/s, one connection each, timeout {a.timeout:g} s; "
          f"Master_Down_Interval {bound * 1000:.1f} ms\n")
    print("| from the SIGKILL to | min | median | p90 | max |")
    print("|---|---|---|---|---|")
    print("| backup's master transition (ms) | %.0f | %.0f | %.0f | %.0f |" % summary(master_ms))
    if garp_ms:
        print(f"| first gratuitous ARP on the LAN (ms), {len(garp_ms)} of {len(rounds)} seen "
              "| %.0f | %.0f | %.0f | %.0f |" % summary(garp_ms))
    print("| failed requests per failover | %d | %g | %d | %d |"
          % summary([r["failed"] for r in rounds]))
    print(f"| requests answered after > {LATE:g} s per failover | %d | %g | %d | %d |"
          % summary([r["late"] for r in rounds]))
    if a.json:
        Path(a.json).write_text(json.dumps({"rate": a.rate, "timeout": a.timeout,
                                            "rounds": rounds}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

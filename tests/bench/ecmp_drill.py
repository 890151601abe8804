#!/usr/bin/python3
"""The ECMP kill drill (run by scripts/bench-ecmp.sh): three directors behind the lab's bird2
router (scripts/lab up --ecmp), in DR or TUN, each announcing the VIP by BGP over its TAP with
BFD at 100 ms x 3. A steady rate of HTTP requests, one new connection each, runs through the
VIP the whole time (failover_load.py), and each round runs wrk with keep-alive connections
across its kill. Each round SIGKILLs one director (in turn) and measures:
  withdrawal  from the SIGKILL to the moment the router's route to the VIP no longer goes
              through that director (polled in the router's namespace, a few ms resolution)
  broken      wrk's socket errors over the round: established keep-alive connections that
              broke (the ones through the dead director are moved by the router to the others,
              which send them to the same real server by Maglev)
  failed/late new connections started from 1 s before the kill to 1 s before the next one:
              no answer within the timeout, or answered after more than LATE s (a SYN lost to
              the dead director before the withdrawal, retransmitted after 1 s)
then restarts the director and waits for its route to come back.

Prints one line per round, then a Markdown summary, and writes the rounds as JSON to --json.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

from conftest import VIP, Lab, Shoald, parse_wrk  # noqa: E402
from failover import LATE, summary, tear_down  # noqa: E402
from test_ecmp import director_address, ecmp_config, next_hops, wait_next_hops  # noqa: E402

DIRECTORS = 3
WRK_SECONDS = 4
WRK_CONNECTIONS = 12


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["dr", "tun"], default="dr")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--rate", type=float, default=50.0, help="new connections per second")
    ap.add_argument("--timeout", type=float, default=3.0, help="per request, seconds")
    ap.add_argument("--prefix", default=os.environ.get("SHOAL_LAB", "eb"))
    ap.add_argument("--json", default=None)
    a = ap.parse_args()

    lab = Lab(a.mode, directors=DIRECTORS, ecmp=True, prefix=a.prefix)
    work = Path(tempfile.mkdtemp(prefix="shoal-bench-ecmp."))
    d = {n: Shoald(lab, work, name=f"d{n}", node=f"d{n}") for n in range(1, DIRECTORS + 1)}
    helpers = []
    rounds = []
    flaps = []  # times a director's route went before its kill (BFD missed under load)
    load_path = work / "requests.jsonl"
    try:
        lab.up()
        for n, s in d.items():
            s.start(ecmp_config(lab, n), warm_up=False)
        wait_next_hops(lab, d.keys(), timeout=60)
        time.sleep(1.0)
        load = lab.popen("client", sys.executable, HERE / "failover_load.py", "--vip", VIP,
                         "--rate", a.rate, "--timeout", a.timeout, "--out", load_path,
                         stdout=subprocess.PIPE, text=True)
        helpers.append(load)
        assert load.stdout.readline().strip() == "ready"
        time.sleep(2.0)

        k = 0
        while k < a.kills:
            victim = k % DIRECTORS + 1
            v = d[victim]
            wrk = lab.popen("client", "wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{WRK_SECONDS}s",
                            f"http://{VIP}/", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
            helpers.append(wrk)
            watch = lab.popen("router", "timeout", "10", "sh", "-c",
                              f"while ip route show {VIP} | grep -q 'via "
                              f"{director_address(victim)} '; do :; done; date +%s.%N",
                              stdout=subprocess.PIPE, text=True)
            helpers.append(watch)
            time.sleep(1.0)
            if watch.poll() is not None:
                # The route went while the director still ran: a BFD or BGP flap, counted and
                # reported; the round is run again once the route is back.
                flaps.append({"t": time.time(), "director": f"d{victim}"})
                print(f"round {k + 1}: d{victim}'s route went before the kill (flap); again",
                      flush=True)
                wrk.communicate(timeout=WRK_SECONDS + 30)
                wait_next_hops(lab, d.keys(), timeout=60)
                assert len(flaps) <= a.kills, "more flaps than kills"
                continue
            killed = time.time()
            v.proc.kill()
            v.proc.wait(timeout=10)
            v.proc = None
            out, _ = watch.communicate(timeout=15)
            assert watch.returncode == 0, f"the router kept d{victim}'s route for 10 s"
            withdrawal = float(out.strip()) - killed
            w = parse_wrk(wrk.communicate(timeout=WRK_SECONDS + 30)[0])
            rounds.append({"kill": killed, "killed": f"d{victim}", "withdrawal": withdrawal,
                           "wrk": w, "broken": w["read"] + w["write"] + w["timeout"]
                           + w["connect"]})
            v.start(warm_up=False)
            wait_next_hops(lab, d.keys(), timeout=60)
            rounds[-1]["back"] = time.time() - killed
            time.sleep(1.0)  # its neighbours resolved, the route settled on every hash bucket
            k += 1
        time.sleep(1.0 + a.timeout)
    finally:
        # bird's logs say why a session went (BFD, hold timer): kept beside the requests.
        for node in ["router", *(f"d{n}" for n in d)]:
            log = lab.state / node / "bird.log"
            if log.exists():
                shutil.copy(log, work / f"bird-{node}.log")
        tear_down(helpers, d.values(), lab)
        print(f"logs in {work}")

    requests = [json.loads(ln) for ln in load_path.read_text().splitlines() if ln.strip()]
    for i, r in enumerate(rounds):
        lo = r["kill"] - 1.0
        hi = rounds[i + 1]["kill"] - 1.0 if i + 1 < len(rounds) else r["kill"] + r["back"]
        mine = [q for q in requests if lo <= q["t"] < hi]
        r["requests"] = len(mine)
        r["failed"] = sum(not q["ok"] for q in mine)
        r["late"] = sum(q["ok"] and q["end"] - q["t"] > LATE for q in mine)
        print(f"kill {i + 1:2d} ({r['killed']}): route withdrawn after "
              f"{r['withdrawal'] * 1000:4.0f} ms, back after {r['back']:4.1f} s; wrk "
              f"{r['wrk']['requests']} requests, {r['broken']} broken; {r['requests']} new "
              f"connections, {r['failed']} failed, {r['late']} late")

    ms = [r["withdrawal"] * 1000 for r in rounds]
    print(f"\n{a.mode.upper()}: {len(rounds)} SIGKILLs over {DIRECTORS} directors, BFD 100 ms x 3; "
          f"wrk {WRK_CONNECTIONS} keep-alive connections per round; {a.rate:g} new "
          f"connections/s, timeout {a.timeout:g} s\n")
    print("| per kill | min | median | p90 | max |")
    print("|---|---|---|---|---|")
    print("| route withdrawn after (ms) | %.0f | %.0f | %.0f | %.0f |" % summary(ms))
    print("| broken keep-alive connections (wrk errors) | %d | %g | %d | %d |"
          % summary([r["broken"] for r in rounds]))
    print("| new connections failed | %d | %g | %d | %d |"
          % summary([r["failed"] for r in rounds]))
    print(f"| new connections answered after > {LATE:g} s | %d | %g | %d | %d |"
          % summary([r["late"] for r in rounds]))
    print("| route back after a restart (s) | %.1f | %.1f | %.1f | %.1f |"
          % summary([r["back"] for r in rounds]))
    print(f"\nroutes lost before their kill (flaps, rounds run again): {len(flaps)}")
    if a.json:
        Path(a.json).write_text(json.dumps({"mode": a.mode, "rate": a.rate,
                                            "timeout": a.timeout, "rounds": rounds,
                                            "flaps": flaps}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

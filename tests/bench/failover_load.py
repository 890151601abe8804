#!/usr/bin/python3
"""Steady load for the failover benchmark, run in the lab's client namespace: one HTTP GET on
a new TCP connection every 1/RATE seconds, on a fixed schedule (a request that hangs does not
delay the next one, as an open-loop client population would not wait either). Each request
is written, when it ends, as one JSON line to --out:
{"t": start, "end": end, "ok": true|false, "err": "..."} (wall-clock times, time.time()).

  failover_load.py --vip IP --rate R --timeout S --out FILE
Runs until terminated.
"""
import argparse
import http.client
import json
import signal
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vip", required=True)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--timeout", type=float, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    out = open(a.out, "a", buffering=1)
    lock = threading.Lock()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    def one():
        started = time.time()
        ok, err = False, ""
        conn = http.client.HTTPConnection(a.vip, 80, timeout=a.timeout)
        try:
            conn.request("GET", "/", headers={"Connection": "close"})
            resp = conn.getresponse()
            resp.read()
            ok = resp.status == 200
            err = "" if ok else f"HTTP {resp.status}"
        except Exception as e:  # noqa: BLE001 - every failure is a data point
            err = type(e).__name__
        finally:
            conn.close()
        with lock:
            out.write(json.dumps({"t": started, "end": time.time(), "ok": ok, "err": err}) + "\n")

    print("ready", flush=True)
    t0 = time.monotonic()
    i = 0
    while True:
        delay = t0 + i / a.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        threading.Thread(target=one, daemon=True).start()
        i += 1


if __name__ == "__main__":
    sys.exit(main())

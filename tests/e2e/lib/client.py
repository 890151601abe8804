#!/usr/bin/python3
"""Lab client for the end-to-end tests, run inside the client namespace. Prints one JSON
object on stdout.

  client.py http --vip IP --port P --count N [--source IP]... [--timeout S]
             [--duration S] [--timeline]
      N HTTP GETs of /, each on a new TCP connection (round-robin over the --source
      addresses). Answers the number of successes, a histogram of the bodies (the real
      servers answer with their name), per-source histograms and a sample of the errors.
      --sport-base B: request i binds source port B+i (a fixed set of 5-tuples, hence a
      reproducible spread over the servers).
      --duration: as many requests as fit in S seconds instead of N. --timeline: also list
      every request as [start, end, server or "!Error", source port] (wall-clock times,
      time.time()).
  client.py big --vip IP --port P [--path /big] [--source IP]
      One GET of a large body, streamed: answers its size, sha256, HTTP status and duration.
  client.py udp --vip IP --port P --payload TEXT [--count N] [--source IP]
      N UDP datagrams (one at a time, each retried) from one socket: answers the replies,
      each with its sender as [address, port].
IP may be IPv4 or IPv6 (--vip fd00::100); --source addresses are of the same family.
"""
import argparse
import collections
import hashlib
import http.client
import ipaddress
import json
import socket
import sys
import time


def http_many(a):
    sources = a.source or [None]
    hist = collections.Counter()
    by_source = {s or "": collections.Counter() for s in sources}
    ok = 0
    errors = collections.Counter()
    samples = []
    timeline = []
    t0 = time.monotonic()
    i = -1
    while True:
        i += 1
        if a.duration is not None:
            if time.monotonic() - t0 >= a.duration:
                break
        elif i >= a.count:
            break
        src = sources[i % len(sources)]
        started = time.time()
        outcome = None
        sport = 0
        if a.sport_base:
            bind = (src or "", a.sport_base + i)
        else:
            bind = (src, 0) if src else None
        conn = http.client.HTTPConnection(a.vip, a.port, timeout=a.timeout, source_address=bind)
        try:
            conn.connect()
            sport = conn.sock.getsockname()[1]
            conn.request("GET", a.path, headers={"Connection": "close"})
            resp = conn.getresponse()
            body = resp.read().decode(errors="replace").strip()
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}: {body[:80]}")
            hist[body] += 1
            by_source[src or ""][body] += 1
            ok += 1
            outcome = body
        except Exception as e:  # noqa: BLE001 - every failure is a data point
            kind = type(e).__name__
            errors[kind] += 1
            outcome = "!" + kind
            if len(samples) < 10:
                samples.append(f"#{i} from {src} at {started:.3f}: {kind}: {e}")
        finally:
            conn.close()
        if a.timeline:
            timeline.append([round(started, 4), round(time.time(), 4), outcome, sport])
    out = {"count": i, "ok": ok, "hist": dict(hist),
           "by_source": {s: dict(c) for s, c in by_source.items()},
           "errors": dict(errors), "error_samples": samples,
           "seconds": round(time.monotonic() - t0, 3)}
    if a.timeline:
        out["timeline"] = timeline
    return out


def big(a):
    conn = http.client.HTTPConnection(a.vip, a.port, timeout=a.timeout,
                                      source_address=(a.source[0], 0) if a.source else None)
    t0 = time.monotonic()
    h = hashlib.sha256()
    size = 0
    status = None
    error = None
    try:
        conn.request("GET", a.path)
        resp = conn.getresponse()
        status = resp.status
        while True:
            chunk = resp.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            size += len(chunk)
    except Exception as e:  # noqa: BLE001
        error = f"{type(e).__name__}: {e}"
    finally:
        conn.close()
    return {"status": status, "size": size, "sha256": h.hexdigest(), "error": error,
            "seconds": round(time.monotonic() - t0, 3)}


def udp(a):
    v6 = ipaddress.ip_address(a.vip).version == 6
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.source[0] if a.source else ("::" if v6 else "0.0.0.0"), 0))
    s.settimeout(1.0)
    replies = []
    for i in range(a.count):
        payload = f"{a.payload}-{i}" if a.count > 1 else a.payload
        got = None
        for _attempt in range(3):
            s.sendto(payload.encode(), (a.vip, a.port))
            try:
                data, peer = s.recvfrom(65535)
                # An IPv6 peer comes with its flow label and scope: address and port only.
                got = {"data": data.decode(errors="replace"), "peer": list(peer[:2]),
                       "sent": payload}
                break
            except socket.timeout:
                continue
        replies.append(got or {"data": None, "sent": payload})
    return {"replies": replies}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["http", "big", "udp"])
    p.add_argument("--vip", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--path", default=None)
    p.add_argument("--source", action="append")
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--payload", default="ping")
    p.add_argument("--duration", type=float)
    p.add_argument("--sport-base", type=int, default=0)
    p.add_argument("--timeline", action="store_true")
    a = p.parse_args()
    if a.what == "http":
        a.path = a.path or "/"
        out = http_many(a)
    elif a.what == "big":
        a.path = a.path or "/big"
        a.timeout = max(a.timeout, 30.0)
        out = big(a)
    else:
        out = udp(a)
    json.dump(out, sys.stdout)
    print(flush=True)


if __name__ == "__main__":
    main()

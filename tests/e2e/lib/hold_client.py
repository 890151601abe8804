#!/usr/bin/python3
"""Long-lived HTTP keep-alive connections through the VIP, run inside the client namespace
(stdlib only).

  hold_client.py --vip IP --port P --connections N --sport-base B [--interval S]
                 [--timeout S] [--max-seconds S]

Connection i binds source port B+i (a fixed 5-tuple), connects once and then sends a GET of /
every --interval seconds on that same TCP connection; the real servers answer with their name.
A connection is never reopened: the first error (reset, timeout, close by the peer, a non-200
answer) ends it and is recorded, so that a connection moved to another real server or broken
by a failover shows as such.

Prints one JSON line once every connection has made its first request:
  {"ready": {sport: server or "!Error"}}
then runs until a line (or EOF) on stdin or --max-seconds, closes every connection cleanly
(FIN) and prints one JSON line:
  {"connections": [{"sport", "first", "servers": {name: count}, "requests", "error",
                    "error_at", "last_ok", "max_gap", "in_flight"}], "stopped_at": t}
Times are wall-clock (time.time()).
"""
import argparse
import collections
import json
import socket
import sys
import threading
import time


class Held:
    def __init__(self, a, sport):
        self.a = a
        self.sport = sport
        self.servers = collections.Counter()
        self.first = None
        self.requests = 0
        self.error = None
        self.error_at = None
        self.last_ok = None
        self.max_gap = 0.0
        self.in_flight = False
        self.first_done = threading.Event()
        self.done = threading.Event()
        self.sock = None

    def fail(self, what):
        if self.error is None:
            self.error = what
            self.error_at = time.time()
        if self.first is None:
            self.first = "!" + what.split(":")[0]

    def get(self, f):
        host = f"[{self.a.vip}]" if ":" in self.a.vip else self.a.vip
        self.sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        status = f.readline()
        if not status:
            raise ConnectionError("closed by the peer")
        parts = status.split()
        length = None
        while True:
            line = f.readline()
            if not line:
                raise ConnectionError("closed by the peer in the headers")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is None:
            raise ValueError(f"no Content-Length after {status!r}")
        body = f.read(length)
        if len(body) != length:
            raise ConnectionError("closed by the peer in the body")
        if len(parts) < 2 or parts[1] != b"200":
            raise ValueError(f"HTTP {status.strip()!r}")
        return body.decode(errors="replace").strip()

    def run(self, stop):
        try:
            family = socket.AF_INET6 if ":" in self.a.vip else socket.AF_INET
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.settimeout(self.a.timeout)
            self.sock.bind(("", self.sport))
            self.sock.connect((self.a.vip, self.a.port))
            f = self.sock.makefile("rb")
            while True:
                self.in_flight = True
                name = self.get(f)
                self.in_flight = False
                now = time.time()
                if self.last_ok is not None:
                    self.max_gap = max(self.max_gap, now - self.last_ok)
                self.last_ok = now
                self.requests += 1
                self.servers[name] += 1
                if self.first is None:
                    self.first = name
                    self.first_done.set()
                if stop.wait(self.a.interval):
                    break
        except Exception as e:  # noqa: BLE001 - every failure is the result
            self.fail(f"{type(e).__name__}: {e}")
        finally:
            self.first_done.set()
            if self.sock is not None:
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self.sock.close()
            self.done.set()

    def report(self):
        return {"sport": self.sport, "first": self.first, "servers": dict(self.servers),
                "requests": self.requests, "error": self.error, "error_at": self.error_at,
                "last_ok": self.last_ok, "max_gap": round(self.max_gap, 3),
                "in_flight": self.in_flight and not self.done.is_set()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vip", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--connections", type=int, required=True)
    p.add_argument("--sport-base", type=int, required=True)
    p.add_argument("--interval", type=float, default=0.15)
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--max-seconds", type=float, default=120.0)
    a = p.parse_args()

    stop = threading.Event()
    held = [Held(a, a.sport_base + i) for i in range(a.connections)]
    threads = [threading.Thread(target=h.run, args=(stop,), daemon=True) for h in held]
    for t in threads:
        t.start()
        time.sleep(0.01)  # spread the requests over the interval
    for h in held:
        h.first_done.wait(a.timeout + 5)
    print(json.dumps({"ready": {h.sport: h.first for h in held}}), flush=True)

    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    stop.wait(a.max_seconds)
    stop.set()
    stopped_at = time.time()
    for t in threads:
        t.join(a.timeout + 2)
    print(json.dumps({"connections": [h.report() for h in held], "stopped_at": stopped_at}),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

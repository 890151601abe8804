#!/usr/bin/python3
"""A misbehaving HTTP server for the health-check tests, run in a real server's namespace on a
port of its own (the backend's check port), so that the checks see it while traffic through
the VIP still reaches the real server's nginx.

How it answers is read from --mode-file at every connection, so that a test switches the
behaviour without restarting anything:

  ok         200 with a short body holding the marker
  status:N   status N (e.g. status:503)
  hang       accepts, reads the request and never answers (until the peer gives up)
  reset      accepts, reads the request, then closes with a reset (SO_LINGER 0)
  big-tail   200 with a 100 MB body whose marker is only in its last bytes
  big-head   200 with a 100 MB body whose marker is in its first bytes

Every connection leaves one JSON line in --log: its mode, the bytes of body sent and how it
ended (a 100 MB body the checker stopped reading ends early with the peer's reset).
"""
import argparse
import json
import socket
import socketserver
import struct
import threading
import time

BIG = 100 * 1000 * 1000
CHUNK = 1 << 20

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--mode-file", required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--marker", default="shoal-ok")
args = parser.parse_args()

marker = args.marker.encode()
log_lock = threading.Lock()


def log(entry):
    with log_lock, open(args.log, "a") as f:
        f.write(json.dumps(entry) + "\n")


def mode():
    try:
        with open(args.mode_file) as f:
            return f.read().strip() or "ok"
    except FileNotFoundError:
        return "ok"


def read_request(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return False
        data += chunk
    return True


def head(status, length):
    reason = {200: "OK", 503: "Service Unavailable"}.get(status, "Whatever")
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode()


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        m = mode()
        entry = {"t": round(time.time(), 3), "mode": m, "sent": 0, "end": "done"}
        try:
            if not read_request(sock):
                entry["end"] = "no request"
                return
            if m == "hang":
                # Holds the connection without a byte until the checker gives up on it.
                sock.settimeout(30)
                while sock.recv(4096):
                    pass
                entry["end"] = "peer closed"
            elif m == "reset":
                # Closed here: the server's own shutdown() would send a FIN first.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
                entry["end"] = "reset"
            elif m.startswith("big-"):
                sock.sendall(head(200, BIG))
                filler = b"x" * CHUNK
                first = marker + filler[len(marker):] if m == "big-head" else filler
                while entry["sent"] < BIG:
                    n = min(CHUNK, BIG - entry["sent"])
                    chunk = first if entry["sent"] == 0 else filler
                    if entry["sent"] + n == BIG and m == "big-tail":
                        chunk = filler[:n - len(marker)] + marker
                    view = memoryview(chunk)[:n]
                    while view:  # counts what the kernel took, up to the peer's reset
                        k = sock.send(view)
                        entry["sent"] += k
                        view = view[k:]
            else:
                status = int(m.split(":", 1)[1]) if m.startswith("status:") else 200
                body = marker + b"\n"
                sock.sendall(head(status, len(body)) + body)
                entry["sent"] = len(body)
        except OSError as e:
            entry["end"] = type(e).__name__
        finally:
            log(entry)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128


with Server(("0.0.0.0", args.port), Handler) as server:
    server.serve_forever()

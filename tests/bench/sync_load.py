#!/usr/bin/python3
"""The client's side of the connection sync benchmark (tests/bench/sync.py), run in the lab's
client namespace.

  sync_load.py send --dst-mac MAC --vip IP --port 80 --sources A,B,... --count N \
                    [--port-base P] [--rate FRAMES_PER_S] [--iface eth0]
One TCP ACK (no SYN) per flow to VIP:PORT, as fast as a raw AF_PACKET socket in Python sends
them (or paced at --rate, 32 frames back to back between two looks at the clock). A director
picks up an ACK of a 5-tuple it does not know as an established flow (a flow met mid-stream),
so each frame is one new synced flow, reported once. The frames are built before the clock
starts: Ethernet to --dst-mac (the VRRP virtual MAC), IPv4 (checksummed) from the --sources
addresses in turn, TCP (checksummed) from source ports P, P + 1, ... (flow i: address i mod A,
port P + i div A), padded to 60 bytes. The real servers answer each ACK with a RST through
the director; the client's kernel ignores it.
Prints "ready" once the frames are built, waits for a line on stdin, sends them all, and
prints one JSON line: {"count": N, "start": t, "end": t, "errors": E, "batches": [t, ...]}
(wall-clock times, time.time(); batches[k]: when frame 32·k was about to go). E counts sends
the socket refused for want of room (each is retried).

  sync_load.py listen [--group 224.0.0.81] [--port 8848] [--local 10.0.0.1]
Joins the connection sync group (directors flood it to the whole segment) and writes one
JSON line per flows datagram: {"t": kernel receive time, "seq": sequence number, "flows":
[[client address, client port], ...]} for the upserts it carries. Prints "ready" first; runs
until terminated.
"""
import argparse
import errno
import ipaddress
import json
import signal
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
TCP_ACK = 0x10
BATCH = 32
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; SCM_TIMESTAMPNS is the same
SYNC_MAGIC = 0x53485359
SYNC_FLOWS = 1
SYNC_UPSERT = 1


def csum(data):
    """The Internet checksum of `data` (even length)."""
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


def frames(src_mac, dst_mac, sources, vip, port, count, port_base):
    eth = dst_mac + src_mac + struct.pack("!H", ETH_P_IP)
    dst = ipaddress.IPv4Address(vip).packed
    out = []
    for i in range(count):
        src = sources[i % len(sources)]
        sport = port_base + i // len(sources)
        ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, i & 0xFFFF, 0x4000, 64, 6, 0,
                                   src, dst))
        struct.pack_into("!H", ip, 10, csum(ip))
        seq = (i * 2654435761) & 0xFFFFFFFF
        tcp = bytearray(struct.pack("!HHIIBBHHH", sport, port, seq, 1, 5 << 4, TCP_ACK, 65535,
                                    0, 0))
        struct.pack_into("!H", tcp, 16, csum(src + dst + struct.pack("!BBH", 0, 6, 20) + tcp))
        out.append(eth + bytes(ip) + bytes(tcp) + bytes(6))  # padded to 60 bytes
    return out


def send(a):
    sources = [ipaddress.IPv4Address(s).packed for s in a.sources.split(",")]
    last_port = a.port_base + (a.count - 1) // len(sources)
    assert last_port < 65536, f"{a.count} flows need more source addresses (port {last_port})"
    with open(f"/sys/class/net/{a.iface}/address") as f:
        src_mac = mac_bytes(f.read().strip())
    todo = frames(src_mac, mac_bytes(a.dst_mac), sources, a.vip, a.port, a.count, a.port_base)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    print("ready", flush=True)
    sys.stdin.readline()

    send_frame = s.send
    now = time.time
    errors = 0
    batches = []
    start = now()
    for k in range(0, len(todo), BATCH):
        if a.rate:
            ahead = start + k / a.rate - now()
            if ahead > 0:
                time.sleep(ahead)
        batches.append(now())
        for f in todo[k:k + BATCH]:
            while True:
                try:
                    send_frame(f)
                    break
                except OSError as e:  # a full queue: wait for room, send it again
                    if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                        raise
                    errors += 1
                    time.sleep(0.0001)
    end = now()
    print(json.dumps({"count": a.count, "start": start, "end": end, "errors": errors,
                      "batches": batches}), flush=True)
    return 0


def listen(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 8 << 20)  # root
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.bind((a.group, a.port))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                 socket.inet_aton(a.group) + socket.inet_aton(a.local))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    while True:
        data, anc, _, _ = s.recvmsg(2048, 64)
        t = time.time()
        for level, kind, value in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", value[:16])
                t = sec + nsec / 1e9
        if len(data) < 16:
            continue
        magic, _, kind, _, _, count, _, seq = struct.unpack("!IBBBBHHI", data[:16])
        if magic != SYNC_MAGIC or kind != SYNC_FLOWS:
            continue
        flows = []
        for off in range(16, min(len(data), 16 + 24 * count), 24):
            if data[off] == SYNC_UPSERT:
                flows.append([socket.inet_ntoa(data[off + 4:off + 8]),
                              struct.unpack("!H", data[off + 12:off + 14])[0]])
        print(json.dumps({"t": t, "seq": seq, "flows": flows}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("send")
    p.add_argument("--iface", default="eth0")
    p.add_argument("--dst-mac", required=True)
    p.add_argument("--vip", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--sources", required=True, help="comma-separated source addresses")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--port-base", type=int, default=1024)
    p.add_argument("--rate", type=float, default=0, help="frames per second; 0: no limit")
    p = sub.add_parser("listen")
    p.add_argument("--group", default="224.0.0.81")
    p.add_argument("--port", type=int, default=8848)
    p.add_argument("--local", default="10.0.0.1")
    a = ap.parse_args()
    return send(a) if a.cmd == "send" else listen(a)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Connection sync on the lab's wire, run in the client namespace with Debian's scapy.

  sync_wire.py send --kind KIND... [--id N] [--client-port P]
      Sends one datagram per --kind to the sync group from the client (10.0.0.1), each
      carrying one upsert of an established flow 10.0.0.77:P+i → VIP:80 on rs1 (10.0.1.11:80),
      i the datagram's position; well-formed unless KIND says how not to be:
        ok, remove (op 2 instead of upsert), bad_magic, version (2), type (9), wrong_id
        (sync id N+1), ttl (64 instead of 255), truncated (10 bytes: less than a header),
        bad_length (count 2, one entry), bad_op (op 3), bad_state (state 9),
        unknown_service (VIP port 8080), unknown_backend (backend 10.0.1.99:80).
  sync_wire.py listen [--seconds S]
      Prints "ready", then one JSON line per datagram to the sync group seen until a line (or
      EOF) on stdin, or S seconds:
      {"t", "src", "mac_dst", "ttl", "length", "header": {...}, "entries": [{...}, ...]}
      (the datagram decoded as the format says, whatever it holds: 24-byte entries, or the
      60-byte wide ones of type 5, whose IPv6 endpoints print as "[fd00::1]:40000").

The datagrams are built by hand with struct, field by field, as the format is specified:
header 16 bytes (magic "SHSY", version, type, sync id, reserved, count, reserved, sequence),
entries 24 bytes (op, proto, state, reserved, client ip, vip, client port, vip port,
backend ip, backend port, reserved), network byte order. Wide entries (type 5), 60 bytes:
op, proto, state, reserved, client (16 bytes), vip (16), client port, vip port, backend (16),
backend port, reserved; an IPv4 address in them is IPv4-mapped (::ffff:a.b.c.d).
"""
import argparse
import json
import socket
import struct
import sys
import threading
import time

from scapy.all import IP, UDP, AsyncSniffer, Ether, Raw, get_if_hwaddr, sendp  # noqa: E402

IFACE = "eth0"
SRC = "10.0.0.1"
GROUP = "224.0.0.81"
UDP_PORT = 8848
VIP = "10.0.0.100"
MAGIC = 0x53485359
HEADER = struct.Struct("!IBBBBHHI")
ENTRY = struct.Struct("!BBBBIIHHIHH")
WIDE_ENTRY = struct.Struct("!BBBB16s16sHH16sHH")
T_FLOWS, T_PULL, T_PULL_DONE, T_WIDE_FLOWS = 1, 2, 3, 5
MAPPED = bytes(10) + b"\xff\xff"
OP_UPSERT, OP_REMOVE = 1, 2
ST_ESTABLISHED = 4


def ip(a):
    return struct.unpack("!I", socket.inet_aton(a))[0]


def group_mac(group):
    o = socket.inet_aton(group)
    return "01:00:5e:%02x:%02x:%02x" % (o[1] & 0x7F, o[2], o[3])


def datagram(kind, sync_id, client_port, seq):
    op, state, vport, backend = OP_UPSERT, ST_ESTABLISHED, 80, "10.0.1.11"
    magic, version, mtype, sid = MAGIC, 1, T_FLOWS, sync_id
    if kind == "remove":
        op = OP_REMOVE
    elif kind == "bad_op":
        op = 3
    elif kind == "bad_state":
        state = 9
    elif kind == "unknown_service":
        vport = 8080
    elif kind == "unknown_backend":
        backend = "10.0.1.99"
    elif kind == "bad_magic":
        magic = 0x53485358
    elif kind == "version":
        version = 2
    elif kind == "type":
        mtype = 9
    elif kind == "wrong_id":
        sid = (sync_id + 1) & 0xFF
    entry = ENTRY.pack(op, 6, state, 0, ip("10.0.0.77"), ip(VIP), client_port, vport,
                       ip(backend), 80, 0)
    count = 2 if kind == "bad_length" else 1
    msg = HEADER.pack(magic, version, mtype, sid, 0, count, 0, seq) + entry
    if kind == "truncated":
        msg = msg[:10]
    return msg


def endpoint(address, port):
    """A wide entry's 16-byte address and its port, as ipvsadm writes them."""
    if address.startswith(MAPPED):
        return f"{socket.inet_ntoa(address[12:])}:{port}"
    return f"[{socket.inet_ntop(socket.AF_INET6, address)}]:{port}"


def decode(payload):
    out = {"header": None, "entries": []}
    if len(payload) < HEADER.size:
        return out
    magic, version, mtype, sid, _r1, count, _r2, seq = HEADER.unpack_from(payload)
    out["header"] = {"magic": magic, "version": version, "type": mtype, "id": sid,
                     "count": count, "sequence": seq}
    if mtype == T_WIDE_FLOWS:
        for off in range(HEADER.size, len(payload) - WIDE_ENTRY.size + 1, WIDE_ENTRY.size):
            op, proto, state, _r, cip, vip, cport, vport, bip, bport, _r2 = \
                WIDE_ENTRY.unpack_from(payload, off)
            out["entries"].append({
                "op": op, "proto": proto, "state": state, "client": endpoint(cip, cport),
                "vip": endpoint(vip, vport), "backend": endpoint(bip, bport)})
        return out
    for off in range(HEADER.size, len(payload) - ENTRY.size + 1, ENTRY.size):
        op, proto, state, _r, cip, vip, cport, vport, bip, bport, _r2 = ENTRY.unpack_from(
            payload, off)
        out["entries"].append({
            "op": op, "proto": proto, "state": state,
            "client": f"{socket.inet_ntoa(struct.pack('!I', cip))}:{cport}",
            "vip": f"{socket.inet_ntoa(struct.pack('!I', vip))}:{vport}",
            "backend": f"{socket.inet_ntoa(struct.pack('!I', bip))}:{bport}"})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["send", "listen"])
    ap.add_argument("--kind", action="append")
    ap.add_argument("--id", type=int, default=0)
    ap.add_argument("--client-port", type=int, default=12000)
    ap.add_argument("--seconds", type=float, default=60)
    a = ap.parse_args()

    if a.what == "send":
        frames = []
        seq = int(time.time()) & 0xFFFFFF
        for i, kind in enumerate(a.kind or ["ok"]):
            msg = datagram(kind, a.id, a.client_port + i, seq + i)
            # scapy finds no route to the group, hence no source MAC: a zero one the bridge
            # would drop.
            frames.append(Ether(src=get_if_hwaddr(IFACE), dst=group_mac(GROUP)) /
                          IP(src=SRC, dst=GROUP, ttl=64 if kind == "ttl" else 255) /
                          UDP(sport=UDP_PORT, dport=UDP_PORT) / Raw(msg))
        for f in frames:
            sendp(f, iface=IFACE, verbose=False)
            time.sleep(0.02)
        print(json.dumps({"sent": len(frames)}))
    else:
        # Datagrams seen before "ready" is printed are held back and printed right after it,
        # so that "ready" is always the first line.
        lock = threading.Lock()
        early = []

        def seen(p):
            if IP not in p or UDP not in p or p[IP].dst != GROUP:
                return
            payload = bytes(p[UDP].payload)
            rec = {"t": float(p.time), "src": p[IP].src, "mac_dst": p[Ether].dst,
                   "ttl": p[IP].ttl, "length": len(payload)}
            rec.update(decode(payload))
            with lock:
                if early is None:
                    print(json.dumps(rec), flush=True)
                else:
                    early.append(rec)
        sniffer = AsyncSniffer(iface=IFACE, prn=seen, store=False,
                               filter=f"udp and dst host {GROUP} and dst port {UDP_PORT}")
        sniffer.start()
        time.sleep(0.5)  # the socket opens a little after start()
        with lock:
            print("ready", flush=True)
            for rec in early:
                print(json.dumps(rec), flush=True)
            early = None
        done = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.readline(), done.set()), daemon=True).start()
        done.wait(a.seconds)
        time.sleep(0.2)  # what was on the wire when told to stop
        sniffer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

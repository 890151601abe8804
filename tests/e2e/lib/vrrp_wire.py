#!/usr/bin/python3
"""VRRP on the lab's wire, run in the client namespace with Debian's scapy.

  vrrp_wire.py garps --vip IP --seconds S
      Prints "ready", then one JSON line per gratuitous ARP for IP (for an IPv6 IP: per
      unsolicited neighbour advertisement, to all nodes) seen within S seconds:
      {"t": wall-clock time, "mac": Ethernet source}.
  vrrp_wire.py send --kind KIND[:VRID]... [--vrid N] [--priority P] [--address IP]...
      Sends one advertisement per --kind to 224.0.0.18 from the client (10.0.0.1), well-formed
      unless KIND says how not to be: ok, ttl, checksum, v2_checksum, version, type,
      no_addresses, zero_interval, truncated, bad_length. VRID defaults to --vrid.
  vrrp_wire.py arp --vip IP
      Asks who has IP; prints {"answers": [MAC, ...]} of the replies within a second.

The advertisement is built by hand (not with scapy's VRRPv3 layer), so that each malformed
field is exactly the one asked for.
"""
import argparse
import json
import socket
import struct
import sys
import time

from scapy.all import (ARP, Ether, ICMPv6ND_NA, IP, IPv6, Raw, get_if_hwaddr,  # noqa: E402
                       sendp, sniff, srp)

IFACE = "eth0"
GROUP = "224.0.0.18"
SRC = "10.0.0.1"


def fold(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def advert(kind, vrid, priority, addresses, interval_cs=10):
    version, vtype = 3, 1
    if kind == "version":
        version = 2
    if kind == "type":
        vtype = 2
    if kind == "zero_interval":
        interval_cs = 0
    addrs = [] if kind == "no_addresses" else addresses
    body = b"".join(socket.inet_aton(a) for a in addrs)
    count = len(addrs) + (1 if kind == "bad_length" else 0)
    head = struct.pack("!BBBBHH", version << 4 | vtype, vrid, priority, count,
                       interval_cs & 0x0FFF, 0)
    msg = head + body
    if kind == "v2_checksum":  # RFC 3768 style: the message alone
        csum = fold(msg)
    else:  # RFC 9568: with the IPv4 pseudo-header
        pseudo = socket.inet_aton(SRC) + socket.inet_aton(GROUP) + struct.pack("!BBH", 0, 112,
                                                                              len(msg))
        csum = fold(pseudo + msg)
    if kind == "checksum":
        csum ^= 0x5A5A
    msg = msg[:6] + struct.pack("!H", csum) + msg[8:]
    if kind == "truncated":
        msg = msg[:6]
    return msg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["garps", "send", "arp"])
    ap.add_argument("--vip")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--kind", action="append")
    ap.add_argument("--vrid", type=int, default=51)
    ap.add_argument("--priority", type=int, default=200)
    ap.add_argument("--address", action="append")
    a = ap.parse_args()

    if a.what == "garps":
        def seen(p):
            garp = ARP in p and p[ARP].op == 1 and p[ARP].psrc == a.vip and p[ARP].pdst == a.vip
            unsolicited_na = (ICMPv6ND_NA in p and p[IPv6].dst == "ff02::1" and
                              socket.inet_pton(socket.AF_INET6, p[ICMPv6ND_NA].tgt) ==
                              socket.inet_pton(socket.AF_INET6, a.vip))
            if garp or unsolicited_na:
                print(json.dumps({"t": float(p.time), "mac": p[Ether].src}), flush=True)
        print("ready", flush=True)
        sniff(iface=IFACE, filter="arp or icmp6", prn=seen, store=False, timeout=a.seconds)
    elif a.what == "send":
        frames = []
        for spec in a.kind or ["ok"]:
            kind, _, vrid = spec.partition(":")
            msg = advert(kind, int(vrid or a.vrid), a.priority, a.address or ["10.0.0.100"])
            ttl = 64 if kind == "ttl" else 255
            # scapy finds no route to the group, hence no source MAC: a zero one the bridge
            # would drop.
            frames.append(Ether(src=get_if_hwaddr(IFACE), dst="01:00:5e:00:00:12") /
                          IP(src=SRC, dst=GROUP, ttl=ttl, proto=112, tos=0xC0) / Raw(msg))
        for f in frames:
            sendp(f, iface=IFACE, verbose=False)
            time.sleep(0.02)
        print(json.dumps({"sent": len(frames)}))
    else:
        ans, _ = srp(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, psrc=SRC, pdst=a.vip),
                     iface=IFACE, timeout=1, multi=True, verbose=False)
        print(json.dumps({"answers": [r[ARP].hwsrc for _, r in ans]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

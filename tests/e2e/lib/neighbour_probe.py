#!/usr/bin/python3
"""Who answers for an address on the lab's segment, asked the way a host asks: run in a node's
namespace with Debian's scapy.

  neighbour_probe.py --iface eth0 [--source4 IP] [--source6 IP] [--seconds S] TARGET...

For each IPv4 TARGET an ARP request (broadcast), for each IPv6 TARGET a Neighbour Solicitation
(to its solicited-node multicast group, with our link-layer address), each sent twice. Prints
{TARGET: [MAC, ...]}: the Ethernet sources of the ARP replies and Neighbour Advertisements for
it seen within S seconds (default 1); a target nobody answered for is absent.
"""
import argparse
import ipaddress
import json
import socket
import time

from scapy.all import (ARP, AsyncSniffer, Ether, ICMPv6ND_NA, ICMPv6ND_NS,  # noqa: E402
                       ICMPv6NDOptSrcLLAddr, IPv6, get_if_hwaddr, in6_getnsma, in6_getnsmac,
                       sendp)

p = argparse.ArgumentParser()
p.add_argument("--iface", default="eth0")
p.add_argument("--source4", default="10.0.0.1")
p.add_argument("--source6", default="fd00::1")
p.add_argument("--seconds", type=float, default=1.0)
p.add_argument("targets", nargs="+")
a = p.parse_args()
a.targets = [str(ipaddress.ip_address(t)) for t in a.targets]

mac = get_if_hwaddr(a.iface)
frames = []
for t in a.targets:
    if ipaddress.ip_address(t).version == 4:
        frames.append(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") /
                      ARP(op=1, hwsrc=mac, psrc=a.source4, pdst=t))
    else:
        packed = socket.inet_pton(socket.AF_INET6, t)
        group = socket.inet_ntop(socket.AF_INET6, in6_getnsma(packed))
        frames.append(Ether(src=mac, dst=in6_getnsmac(packed)) /
                      IPv6(src=a.source6, dst=group, hlim=255) /
                      ICMPv6ND_NS(tgt=t) / ICMPv6NDOptSrcLLAddr(lladdr=mac))

sniffer = AsyncSniffer(iface=a.iface, store=True,
                       lfilter=lambda f: ICMPv6ND_NA in f or (ARP in f and f[ARP].op == 2))
sniffer.start()
time.sleep(0.3)  # the capture socket is open a little after start()
for _ in range(2):
    sendp(frames, iface=a.iface, verbose=False)
    time.sleep(0.1)
time.sleep(a.seconds)
answers = {}
for f in sniffer.stop():
    if ICMPv6ND_NA in f:
        target = str(ipaddress.ip_address(f[ICMPv6ND_NA].tgt))
    else:
        target = f[ARP].psrc
    if f[Ether].src != mac and target in a.targets:
        answers.setdefault(target, [])
        if f[Ether].src not in answers[target]:
            answers[target].append(f[Ether].src)
print(json.dumps(answers), flush=True)

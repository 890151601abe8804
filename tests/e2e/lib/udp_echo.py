#!/usr/bin/python3
"""UDP echo for the lab's real servers: answers each datagram with '<name>:' + its payload,
so that a test sees both that the echo works and which server answered. Replies leave from
the address the request was sent to (IP_PKTINFO, IPV6_PKTINFO): in DR and TUN that is the VIP
on lo, which the client expects, not the server's own address. IPv4 and IPv6 each have a
socket of their own (the IPv6 one IPv6 only), so that IPv4 is answered as it always was."""
import argparse
import select
import socket
import struct

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # Linux value; the constant is new in Python

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=7)
parser.add_argument("--name", required=True)
args = parser.parse_args()

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
sock.bind(("0.0.0.0", args.port))
sock6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
sock6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
sock6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
sock6.bind(("::", args.port))
prefix = args.name.encode() + b":"


def echo_v4(s):
    data, ancillary, _, peer = s.recvmsg(65535, socket.CMSG_SPACE(12))
    reply_info = []
    for level, kind, cdata in ancillary:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
            _, _, dst = struct.unpack("I4s4s", cdata)
            reply_info = [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("I4s4s", 0, dst, bytes(4)))]
    s.sendmsg([prefix + data], reply_info, 0, peer)


def echo_v6(s):
    # struct in6_pktinfo: the destination address, then the interface index (0: any).
    data, ancillary, _, peer = s.recvmsg(65535, socket.CMSG_SPACE(20))
    reply_info = []
    for level, kind, cdata in ancillary:
        if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
            dst, _ = struct.unpack("16sI", cdata)
            reply_info = [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO,
                           struct.pack("16sI", dst, 0))]
    s.sendmsg([prefix + data], reply_info, 0, peer)


while True:
    ready, _, _ = select.select([sock, sock6], [], [])
    if sock in ready:
        echo_v4(sock)
    if sock6 in ready:
        echo_v6(sock6)

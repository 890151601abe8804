#!/usr/bin/python3
"""UDP echo for the lab's real servers: answers each datagram with '<name>:' + its payload,
so that a test sees both that the echo works and which server answered. Replies leave from
the address the request was sent to (IP_PKTINFO): in DR and TUN that is the VIP on lo, which
the client expects, not the server's own address."""
import argparse
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
prefix = args.name.encode() + b":"
while True:
    data, ancillary, _, peer = sock.recvmsg(65535, socket.CMSG_SPACE(12))
    reply_info = []
    for level, kind, cdata in ancillary:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
            _, _, dst = struct.unpack("I4s4s", cdata)
            reply_info = [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("I4s4s", 0, dst, bytes(4)))]
    sock.sendmsg([prefix + data], reply_info, 0, peer)

#!/usr/bin/env python3
"""Send hand-made VRRP adverts from a lab namespace (tests of what a
director must reject: a wrong TTL, an unknown VRID, a wrong password).

usage: lab-vrrp-advert.py --iface IF --src ADDR [--dst 224.0.0.18]
                          [--ttl 255] [--version 3] --vrid N --priority P
                          [--interval S] [--auth PASSWORD]
                          [--checksum pseudo|message] [--count N]
                          [--gap S] ADDRESS...

IPv4 only. VRRPv2 (RFC 3768) carries whole seconds and, with --auth, a
simple-text password; VRRPv3 (RFC 5798) centiseconds and no auth; its
checksum covers the IPv4 pseudo-header unless --checksum message
(RFC 9568). The kernel builds the IP header (raw socket, protocol 112):
TTL from --ttl, source --src.
"""

import argparse
import ipaddress
import socket
import struct
import time

from lab_net import checksum

IPPROTO_VRRP = 112


def advert(args) -> bytes:
    addrs = [ipaddress.IPv4Address(a).packed for a in args.addresses]
    if args.version == 2:
        auth_type = 1 if args.auth else 0
        head = struct.pack("!BBBBBBH", 0x21, args.vrid, args.priority, len(addrs),
                           auth_type, int(args.interval), 0)
        auth = (args.auth or "").encode()[:8].ljust(8, b"\0")
        body = head + b"".join(addrs) + auth
        csum = checksum(body)
    else:
        centis = int(round(args.interval * 100)) & 0x0FFF
        head = struct.pack("!BBBBHH", 0x31, args.vrid, args.priority, len(addrs), centis, 0)
        body = head + b"".join(addrs)
        if args.checksum == "pseudo":
            pseudo = (ipaddress.IPv4Address(args.src).packed + ipaddress.IPv4Address(args.dst).packed
                      + struct.pack("!BBH", 0, IPPROTO_VRRP, len(body)))
            csum = checksum(pseudo + body)
        else:
            csum = checksum(body)
    return body[:6] + struct.pack("!H", csum) + body[8:]


def main():
    p = argparse.ArgumentParser(description="send VRRP adverts (lab tests)")
    p.add_argument("--iface", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--dst", default="224.0.0.18")
    p.add_argument("--ttl", type=int, default=255)
    p.add_argument("--version", type=int, choices=[2, 3], default=3)
    p.add_argument("--vrid", type=int, required=True)
    p.add_argument("--priority", type=int, required=True)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--auth")
    p.add_argument("--checksum", choices=["pseudo", "message"], default="pseudo")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--gap", type=float, default=0.05)
    p.add_argument("addresses", nargs="+")
    args = p.parse_args()

    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_VRRP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, args.iface.encode())
    s.bind((args.src, 0))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, args.ttl)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, args.ttl)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    msg = advert(args)
    for i in range(args.count):
        s.sendto(msg, (args.dst, 0))
        if i + 1 < args.count:
            time.sleep(args.gap)


if __name__ == "__main__":
    main()

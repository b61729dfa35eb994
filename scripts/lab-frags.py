#!/usr/bin/env python3
"""Fragmented UDP datagrams for the xvs lab (tests/e2e/e2e_fragments.rs).

Usage:
  lab-frags.py send VIP PORT [--size N] [--chunk C] [--count K] [--order reverse|kernel]
  lab-frags.py flood VIP PORT [--count N] [--seed S]

send: K datagrams of N payload bytes to VIP:PORT (UDP), each cut into
fragments of C bytes of IP payload and sent through a raw socket, last
fragment first (--order reverse, the default), or handed whole to the
kernel, which fragments them in order (--order kernel). The lab's UDP echo
(scripts/lab-backend.py) answers b"NAME:" + payload, itself a datagram
larger than the MTU that the real server's kernel fragments, so an answer
equal to that proves the real server's kernel reassembled the whole
datagram, and the client's kernel the whole reply. Prints one JSON line:
{"sent": K, "ok": n, "servers": {NAME: count}, "failures": [why, ...]}.

flood: N non-first fragments (random identification, offset, MF) of UDP
datagrams to VIP:PORT whose first fragment never comes. Prints
{"sent": N}.

The fragments are built here, by the rules a host follows: IPv4 flags and
13-bit offset in 8-byte units with MF on all but the last (RFC 791 §3.1);
IPv6 a Fragment header, next header 44, with a 32-bit identification
(RFC 8200 §4.5). Standard library only; needs root (raw sockets).
"""

import argparse
import json
import os
import random
import socket
import struct
import sys

from lab_net import checksum

IPPROTO_UDP = 17
IPV6_FRAGMENT = 44
REPLY_TIMEOUT = 5.0


def udp_datagram(src, dst, sport, dport, payload, v6):
    """The UDP header and payload, checksum over the pseudo-header
    (RFC 768; RFC 8200 §8.1)."""
    length = 8 + len(payload)
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    s, d = socket.inet_pton(fam, src), socket.inet_pton(fam, dst)
    if v6:
        pseudo = s + d + struct.pack("!I3xB", length, IPPROTO_UDP)
    else:
        pseudo = s + d + struct.pack("!xBH", IPPROTO_UDP, length)
    header = struct.pack("!HHHH", sport, dport, length, 0)
    csum = checksum(pseudo + header + payload) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, length, csum) + payload


def ipv4_fragment(src, dst, ident, offset, more, data):
    flags = (0x2000 if more else 0) | (offset // 8)
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(data), ident, flags, 64, IPPROTO_UDP, 0,
        socket.inet_pton(socket.AF_INET, src), socket.inet_pton(socket.AF_INET, dst),
    )
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + data


def ipv6_fragment(src, dst, ident, offset, more, data):
    frag = struct.pack("!BBHI", IPPROTO_UDP, 0, (offset // 8) << 3 | (1 if more else 0), ident)
    header = struct.pack("!IHBB16s16s", 6 << 28, 8 + len(data), IPV6_FRAGMENT, 64,
                         socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst))
    return header + frag + data


def fragments(src, dst, ident, datagram, chunk, v6):
    build = ipv6_fragment if v6 else ipv4_fragment
    out, offset = [], 0
    while offset < len(datagram):
        end = min(offset + chunk, len(datagram))
        out.append(build(src, dst, ident, offset, end < len(datagram), datagram[offset:end]))
        offset = end
    return out


def raw_socket(v6):
    # IPPROTO_RAW implies a header we supply (raw(7); IPv6 since Linux 4.5).
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    return socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW)


def send(args):
    v6 = ":" in args.vip
    if args.chunk % 8 or args.chunk <= 0:
        sys.exit("--chunk must be a positive multiple of 8")
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_DGRAM)
    sock.connect((args.vip, args.port))
    sock.settimeout(REPLY_TIMEOUT)
    src, sport = sock.getsockname()[:2]
    raw = raw_socket(v6)
    ok, servers, failures = 0, {}, []
    for i in range(args.count):
        payload = bytes((i * 31 + k * 7) % 251 for k in range(args.size))
        ident = random.randrange(1, 1 << (32 if v6 else 16))
        if args.order == "kernel":
            sock.send(payload)
        else:
            pieces = fragments(src, args.vip, ident, udp_datagram(src, args.vip, sport, args.port, payload, v6), args.chunk, v6)
            if len(pieces) < 3:
                sys.exit("fewer than 3 fragments: raise --size or lower --chunk")
            for p in reversed(pieces):
                raw.sendto(p, (args.vip, 0))
        try:
            answer = sock.recv(65535)
        except OSError as err:
            failures.append("datagram %d: %s" % (i, err))
            continue
        name, sep, echoed = answer.partition(b":")
        if not sep or echoed != payload:
            failures.append("datagram %d: answer of %d bytes does not echo the %d sent" % (i, len(answer), len(payload)))
            continue
        ok += 1
        key = name.decode(errors="replace")
        servers[key] = servers.get(key, 0) + 1
    print(json.dumps({"sent": args.count, "ok": ok, "servers": servers, "failures": failures}))


def flood(args):
    v6 = ":" in args.vip
    rng = random.Random(args.seed)
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    probe = socket.socket(fam, socket.SOCK_DGRAM)
    probe.connect((args.vip, args.port))
    src = probe.getsockname()[0]
    raw = raw_socket(v6)
    build = ipv6_fragment if v6 else ipv4_fragment
    for _ in range(args.count):
        ident = rng.randrange(1 << (32 if v6 else 16))
        offset = rng.randrange(1, 1000) * 8
        data = os.urandom(64)
        raw.sendto(build(src, args.vip, ident, offset, rng.random() < 0.5, data), (args.vip, 0))
    print(json.dumps({"sent": args.count}))


def main():
    parser = argparse.ArgumentParser(description="Fragmented UDP for the xvs lab.")
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("send")
    s.add_argument("vip")
    s.add_argument("port", type=int)
    s.add_argument("--size", type=int, default=4000)
    s.add_argument("--chunk", type=int, default=1200)
    s.add_argument("--count", type=int, default=5)
    s.add_argument("--order", choices=("reverse", "kernel"), default="reverse")
    f = sub.add_parser("flood")
    f.add_argument("vip")
    f.add_argument("port", type=int)
    f.add_argument("--count", type=int, default=5000)
    f.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    if args.mode == "send":
        send(args)
    else:
        flood(args)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Stand-in for the kernel's ipip module on a lab TUN real server, for
IPIP packets that arrive as outer fragments.

The lab kernel is built without the ipip module, so TUN real servers
strip the outer header with `xvs decap`, an XDP program that sees each
frame on its own and so cannot decapsulate an outer packet the director
had to fragment (a full-size IPv4 packet plus the 20-byte tunnel header:
the director fragments it as the kernel's tunnel transmit does). Those
fragments pass to the stack, which reassembles them and finds no handler
for protocol 4; this script is that handler: a raw socket for protocol 4
receives every reassembled IPIP packet to this host, and the inner
packet, if it is to one of the given VIPs, is sent again with its own
header (IP_HDRINCL), which delivers it locally as the ipip module's
decapsulation would (the VIP is on lo).

Usage: lab-ipip-rx.py VIP [VIP ...]

Prints one line per decapsulated packet to stdout. Runs until killed.
Needs CAP_NET_RAW. Standard library only (Python 3.11).
"""

import socket
import sys

IPPROTO_IPIP = 4


def main():
    vips = {socket.inet_aton(v) for v in sys.argv[1:]}
    if not vips:
        sys.exit("usage: lab-ipip-rx.py VIP [VIP ...]")
    rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_IPIP)
    tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    tx.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    while True:
        outer = rx.recv(65535)
        if len(outer) < 20 or outer[0] >> 4 != 4:
            continue
        inner = outer[(outer[0] & 0x0F) * 4:]
        if len(inner) < 20 or inner[0] >> 4 != 4 or inner[16:20] not in vips:
            continue
        tx.sendto(inner, (socket.inet_ntoa(inner[16:20]), 0))
        print(f"decapsulated {len(inner)} bytes", flush=True)


if __name__ == "__main__":
    main()

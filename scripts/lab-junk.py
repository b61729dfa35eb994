#!/usr/bin/env python3
"""Send malformed Ethernet frames from a lab namespace (tests that every
frame a director receives is counted, whatever it is).

usage: lab-junk.py --iface IF --dst-mac MAC --kind KIND --count N
                   [--dst ADDR] [--src ADDR] [--burst 32] [--gap 0.002]

Each frame carries exactly one defect, named by KIND:

  unknown_ethertype   ethertype 0x88b5 (IEEE local experimental)
  arp_bad_lengths     ARP request for --dst with 8-byte hardware addresses
  arp_truncated       ARP request for --dst cut after 20 bytes
  vlan_stacked        UDP to --dst under three 802.1Q tags
  vlan_truncated      802.1Q ethertype, then only the 2-byte TCI
  ipv4_bad_ihl        UDP to --dst, IPv4 IHL 4 (RFC 791: at least 5)
  ipv4_bad_version    UDP to --dst, ethertype IPv4, version nibble 6
  ipv6_bad_version    UDP to --dst (IPv6), ethertype IPv6, version nibble 4
  ipv4_truncated      IPv4 header cut after 12 bytes
  ipv6_truncated      IPv6 header cut after 30 bytes
  ipv4_total_length   UDP to --dst whose total length claims 100 bytes more
  tcp_truncated       TCP to --dst with 3 bytes of TCP header (cut in the
                      destination port)
  fragment            a non-first IPv4 fragment of a UDP datagram to --dst
  udp                 a well-formed UDP datagram to --dst port 9 (control)

Frames go out of an AF_PACKET socket exactly as built (no padding to the
60-byte Ethernet minimum: a veth carries them as they are). --burst
frames are sent, then the sender sleeps --gap seconds, so a receiver
polling its queues keeps up. Prints "sent N" at the end.
"""

import argparse
import ipaddress
import socket
import struct
import time

from lab_net import checksum, mac

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100


def ipv4(src, dst, proto, payload, ihl=5, version=4, extra_len=0, frag=0):
    total = 20 + len(payload) + extra_len
    head = struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, 0, total, 0x1234,
                       frag, 64, proto, 0, src.packed, dst.packed)
    head = head[:10] + struct.pack("!H", checksum(head)) + head[12:]
    return head + payload


def ipv6(src, dst, nexthdr, payload, version=6):
    head = struct.pack("!IHBB16s16s", version << 28, len(payload), nexthdr, 64,
                       src.packed, dst.packed)
    return head + payload


def udp(sport, dport, data):
    # Checksum 0: "none" for UDP over IPv4 (RFC 768); the defects under
    # test are elsewhere.
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def arp_request(src_mac, spa, tpa, hlen=6):
    sha = (src_mac + b"\0" * hlen)[:hlen]
    return (struct.pack("!HHBBH", 1, ETH_P_IP, hlen, 4, 1) + sha + spa.packed
            + b"\0" * hlen + tpa.packed)


def frame(args, dst_mac, src_mac, n):
    """Frame number n of the requested kind."""
    kind = args.kind
    dst = ipaddress.ip_address(args.dst)
    src = ipaddress.ip_address(args.src)
    sport = 20000 + n % 40000
    eth = lambda proto: dst_mac + src_mac + struct.pack("!H", proto)
    data = b"junk %d" % n
    if kind == "unknown_ethertype":
        return eth(0x88B5) + data.ljust(46, b"\0")
    if kind == "arp_bad_lengths":
        return eth(ETH_P_ARP) + arp_request(src_mac, src, dst, hlen=8)
    if kind == "arp_truncated":
        return eth(ETH_P_ARP) + arp_request(src_mac, src, dst)[:20]
    if kind == "vlan_stacked":
        tags = struct.pack("!HH", ETH_P_8021Q, 100) * 3
        return (dst_mac + src_mac + tags + struct.pack("!H", ETH_P_IP)
                + ipv4(src, dst, 17, udp(sport, 9, data)))
    if kind == "vlan_truncated":
        return eth(ETH_P_8021Q) + struct.pack("!H", 100)
    if kind == "ipv4_bad_ihl":
        return eth(ETH_P_IP) + ipv4(src, dst, 17, udp(sport, 9, data), ihl=4)
    if kind == "ipv4_bad_version":
        return eth(ETH_P_IP) + ipv4(src, dst, 17, udp(sport, 9, data), version=6)
    if kind == "ipv6_bad_version":
        return eth(ETH_P_IPV6) + ipv6(src, dst, 17, udp(sport, 9, data), version=4)
    if kind == "ipv4_truncated":
        return eth(ETH_P_IP) + ipv4(src, dst, 17, udp(sport, 9, data))[:12]
    if kind == "ipv6_truncated":
        return eth(ETH_P_IPV6) + ipv6(src, dst, 17, udp(sport, 9, data))[:30]
    if kind == "ipv4_total_length":
        return eth(ETH_P_IP) + ipv4(src, dst, 17, udp(sport, 9, data), extra_len=100)
    if kind == "tcp_truncated":
        return eth(ETH_P_IP) + ipv4(src, dst, 6, struct.pack("!HB", sport, 0))
    if kind == "fragment":
        # Offset 185 × 8 bytes, more fragments follow: no UDP header here.
        return eth(ETH_P_IP) + ipv4(src, dst, 17, data.ljust(64, b"\0"), frag=0x2000 | 185)
    if kind == "udp":
        return eth(ETH_P_IP) + ipv4(src, dst, 17, udp(sport, 9, data))
    raise SystemExit("unknown kind %r" % kind)


def main():
    p = argparse.ArgumentParser(description="send malformed frames (lab tests)")
    p.add_argument("--iface", required=True)
    p.add_argument("--dst-mac", required=True)
    p.add_argument("--kind", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--dst", default="198.18.0.100")
    p.add_argument("--src", default="198.18.0.10")
    p.add_argument("--burst", type=int, default=32)
    p.add_argument("--gap", type=float, default=0.002)
    args = p.parse_args()
    if ipaddress.ip_address(args.dst).version != ipaddress.ip_address(args.src).version:
        raise SystemExit("--src and --dst must be the same family")

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((args.iface, 0))
    src_mac = s.getsockname()[4]
    dst_mac = mac(args.dst_mac)
    sent = 0
    for n in range(args.count):
        f = frame(args, dst_mac, src_mac, n)
        while True:
            try:
                s.send(f)
                break
            except BlockingIOError:
                time.sleep(args.gap)
        sent += 1
        if args.burst and sent % args.burst == 0:
            time.sleep(args.gap)
    print("sent %d" % sent)


if __name__ == "__main__":
    main()

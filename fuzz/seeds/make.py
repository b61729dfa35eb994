#!/usr/bin/env python3
"""Writes the committed seed corpus of every fuzz target (fuzz/seeds/<target>/).

Seeds are well-formed inputs of the shapes each target parses, addressed
as the fixture director (crates/testkit/src/lab.yaml) expects, so the
fuzzer starts inside the code paths that matter instead of at the first
length check. Re-run after changing a target's input format:
    python3 fuzz/seeds/make.py
"""
import ipaddress
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

DIR_CLIENT_MAC = bytes([2, 0, 0, 0, 0, 1])
DIR_SERVER_MAC = bytes([2, 0, 0, 0, 0, 2])
GW_MAC = bytes([2, 0, 0, 0, 0xEE, 1])
RS_MAC = bytes([2, 0, 0, 0, 0xAA, 0x11])
CLIENT4, CLIENT6 = "198.19.0.7", "fd00:0:0:9::7"
RS4, RS6 = "198.18.1.11", "fd00:0:0:2::11"
VIPS4 = {"dr": "198.18.0.10", "nat": "198.18.0.11", "tun": "198.18.0.12",
         "fnat": "198.18.0.13", "persist": "198.18.0.14"}
VIPS6 = {"dr": "fd00:0:0:1::10", "nat": "fd00:0:0:1::11", "tun": "fd00:0:0:1::12",
         "fnat": "fd00:0:0:1::13"}
SYN, ACK, FIN, PSH = 0x02, 0x10, 0x01, 0x08


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip(a):
    return ipaddress.ip_address(a)


def l4(proto, src, dst, sport, dport, flags=0, seq=1000, ack=0, payload=b""):
    if proto == 6:
        hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 29200, 0, 0)
    else:
        hdr = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    seg = hdr + payload
    s, d = ip(src).packed, ip(dst).packed
    if ip(src).version == 4:
        pseudo = s + d + struct.pack("!BBH", 0, proto, len(seg))
    else:
        pseudo = s + d + struct.pack("!IxxxB", len(seg), proto)
    c = csum(pseudo + seg)
    off = 16 if proto == 6 else 6
    return seg[:off] + struct.pack("!H", c) + seg[off + 2:]


def ip_packet(proto, src, dst, body, ttl=64):
    if ip(src).version == 4:
        h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, 0, ttl, proto, 0,
                        ip(src).packed, ip(dst).packed)
        h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
        return 0x0800, h + body
    h = struct.pack("!IHBB16s16s", 6 << 28, len(body), proto, ttl, ip(src).packed, ip(dst).packed)
    return 0x86DD, h + body


def frame(src_mac, dst_mac, ethertype, payload):
    return dst_mac + src_mac + struct.pack("!H", ethertype) + payload


def tcp_frame(src, dst, sport, dport, flags, src_mac=GW_MAC, dst_mac=DIR_CLIENT_MAC, payload=b""):
    et, pkt = ip_packet(6, src, dst, l4(6, src, dst, sport, dport, flags, payload=payload))
    return frame(src_mac, dst_mac, et, pkt)


def udp_frame(src, dst, sport, dport, src_mac=GW_MAC, dst_mac=DIR_CLIENT_MAC, payload=b"seed"):
    et, pkt = ip_packet(17, src, dst, l4(17, src, dst, sport, dport, payload=payload))
    return frame(src_mac, dst_mac, et, pkt)


def arp_request(target):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, GW_MAC, ip("198.18.0.1").packed,
                       bytes(6), ip(target).packed)
    return frame(GW_MAC, b"\xff" * 6, 0x0806, body)


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def flow_frames(vips, client, rs):
    """Per method: a client's SYN, ACK and FIN to the VIP, and (NAT, FullNAT) a real server's reply."""
    out = {}
    for method, vip in vips.items():
        for sport in range(40000, 41000):
            frames = [tcp_frame(client, vip, sport, 80, SYN),
                      tcp_frame(client, vip, sport, 80, ACK | PSH, payload=b"GET / HTTP/1.0\r\n\r\n"),
                      tcp_frame(client, vip, sport, 80, FIN | ACK),
                      udp_frame(client, vip, sport, 53)]
            if method == "nat":
                frames.append(tcp_frame(rs, client, 8080, sport, SYN | ACK,
                                        src_mac=RS_MAC, dst_mac=DIR_SERVER_MAC))
            # process splits an input at 0xFF: keep the bytes clear of it.
            if all(0xFF not in f for f in frames):
                out[method] = frames
                break
    return out


def main():
    for t in os.listdir(HERE):
        if os.path.isdir(os.path.join(HERE, t)):
            shutil.rmtree(os.path.join(HERE, t))

    flows = {}
    flows.update({f"{m}4": f for m, f in flow_frames(VIPS4, CLIENT4, RS4).items()})
    flows.update({f"{m}6": f for m, f in flow_frames(VIPS6, CLIENT6, RS6).items()})
    for name, frames in flows.items():
        write("process", f"flow-{name}", b"\xff".join(frames))
        for i, f in enumerate(frames):
            write("parse", f"{name}-{i}", f)
    write("parse", "arp", arp_request(VIPS4["dr"]))
    # steer_program: the same frames, as the steering program sees them.
    for name in os.listdir(os.path.join(HERE, "parse")):
        with open(os.path.join(HERE, "parse", name), "rb") as f:
            write("steer_program", name, f.read())
    write("process", "arp", arp_request(VIPS4["dr"]).replace(b"\xff" * 6, bytes([1, 0, 0x5e, 0, 0, 1])))

    # vrrp_adverts: selector 1 = a bare VRRPv3 IPv4 advert (RFC 5798 §5.1).
    advert = struct.pack("!BBBBH H4s", 0x31, 51, 100, 1, 100, 0, ip("198.18.0.10").packed)
    write("vrrp_adverts", "v3-ipv4", b"\x01" + advert)
    et, pkt = ip_packet(112, "198.18.0.2", "224.0.0.18", advert, ttl=255)
    vrrp_frame = frame(DIR_CLIENT_MAC, bytes([1, 0, 0x5e, 0, 0, 18]), et, pkt)
    write("vrrp_adverts", "v3-frame", b"\x00" + vrrp_frame)
    write("steer_program", "vrrp", vrrp_frame)
    v2 = struct.pack("!BBBBBBH4s8s", 0x21, 51, 100, 1, 0, 1, 0, ip("198.18.0.10").packed, bytes(8))
    write("vrrp_adverts", "v2-ipv4", b"\x01" + v2)

    # sync_receiver: SyncID byte + an IPVS sync v1 datagram with one IPv4 TCP entry.
    entry = struct.pack("!BBHIHHHHII4s4s4s", 0, 6, (0 << 12) | 36, 0, 1, 40000, 80, 8080, 0, 900,
                        ip(CLIENT4).packed, ip(VIPS4["nat"]).packed, ip(RS4).packed)
    header = struct.pack("!BBHBBH", 0, 1, 8 + len(entry), 1, 1, 0)
    write("sync_receiver", "one-entry", b"\x01" + header + entry)
    # The same entry from an xvs master, SYN-proxied: owning worker (0x45)
    # and the sequence translation (0x46: Δseq, Δts, four window scales).
    opts = struct.pack("!BBH", 0x45, 2, 0) + struct.pack("!BBII4B", 0x46, 12, 0x60001234,
                                                         0xFFFFFFF0, 9, 7, 7, 7)
    xentry = bytearray(entry + opts)
    struct.pack_into("!H", xentry, 2, len(xentry))
    xentry += bytes(-len(xentry) % 4)
    header = struct.pack("!BBHBBH", 0, 1, 8 + len(xentry), 1, 1, 0)
    write("sync_receiver", "synproxy-entry", b"\x01" + header + bytes(xentry))

    # probe_replies: selector 0 = HTTP, 1 = SMTP (see the target).
    write("probe_replies", "http-200", b"\x28" + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    write("probe_replies", "smtp", b"\x21" + b"220 rs1 ESMTP\r\n250 rs1\r\n221 bye\r\n")

    # control_requests: even selector = a control request line, odd = an HTTP head.
    for i, cmd in enumerate(["list", "conns", "status", "metrics"]):
        write("control_requests", f"req-{cmd}", b"\x00" +
              f'{{"version":1,"command":"{cmd}","args":{{}}}}\n'.encode())
    write("control_requests", "req-list-service", b"\x00" +
          b'{"version":1,"command":"list","args":{"service":"tcp:198.18.0.10:80"}}\n')
    write("control_requests", "http-metrics", b"\x01GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")

    # config_yaml: every example config and the fixture director.
    cfg = os.path.join(ROOT, "config")
    os.makedirs(os.path.join(HERE, "config_yaml"), exist_ok=True)
    for name in sorted(os.listdir(cfg)):
        if name.endswith(".yaml"):
            shutil.copy(os.path.join(cfg, name), os.path.join(HERE, "config_yaml", name))
    shutil.copy(os.path.join(ROOT, "crates/testkit/src/lab.yaml"), os.path.join(HERE, "config_yaml", "fixture.yaml"))

    # keepalived_import: the import fixtures.
    ka = os.path.join(ROOT, "tests/keepalived")
    os.makedirs(os.path.join(HERE, "keepalived_import"), exist_ok=True)
    for name in sorted(os.listdir(ka)):
        if name.endswith(".conf"):
            shutil.copy(os.path.join(ka, name), os.path.join(HERE, "keepalived_import", name))


if __name__ == "__main__":
    main()

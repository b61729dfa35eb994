#!/usr/bin/env python3
"""The client of the xvs lab (crates/lab): sends requests to a VIP (or any
address) and reports which real server answered each one.

Usage:
  lab-client.py http URL  [--count N] [--concurrency C] [--source IP] [--timeout S] [--servers A,B,..]
                          [--duration S --interval S | --duration S --every S] [--timeline FILE]
  lab-client.py udp ADDR  [same options]      ADDR is 198.18.0.100:53 or [fd00:0:0:1::100]:53

HTTP: N GET requests over C threads, each on a new TCP connection (so each
is a new flow for the director). A request is ok when the answer is 200 and
the body is "NAME\\n" (then only "x" padding) with X-Server: NAME, and NAME is
one of --servers when given.
UDP: N datagrams, each from a fresh socket (a new source port, so a new
flow), ok when a reply "NAME:" + the same payload comes back from ADDR
within the timeout.

With --duration, every thread keeps sending (one request, then --interval
seconds of pause) until that many seconds have passed, whatever --count
says. With --duration and --every, one request starts every --every
seconds whether or not earlier ones finished (open loop, up to
--concurrency in flight), as a failover measurement needs: a request whose
SYN was lost delays no other. With --timeline, one JSON line per request is written to FILE as it
completes: {"t": UNIX time the request started, "d": seconds it took,
"server": NAME or null, "error": message or null} (a test lines these up
with what it did).

Prints one JSON object: {"ok": .., "failed": .., "by_server": {NAME: count},
"errors": {message: count}}. Exits 0 whatever the outcome (failures are in
the report); 2 on a usage error. Standard library only (Python 3.11).
"""

import argparse
import collections
import http.client
import ipaddress
import json
import os
import random
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

NAME_CHARS = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class BadAnswer(Exception):
    """An answer arrived but is not what a lab backend sends."""


def check_name(raw, known):
    if not raw or not set(raw) <= NAME_CHARS:
        raise BadAnswer("not a backend name: %r" % raw[:64])
    name = raw.decode()
    if known is not None and name not in known:
        raise BadAnswer("unknown server %r" % name)
    return name


def http_once(target, source, timeout, known):
    host, port, path = target
    conn = http.client.HTTPConnection(
        host, port, timeout=timeout, source_address=(source, 0) if source else None
    )
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise BadAnswer("HTTP status %d" % resp.status)
        raw, sep, padding = body.partition(b"\n")
        if not sep or padding.strip(b"x"):
            raise BadAnswer("body is not NAME\\n plus padding: %r" % body[:64])
        name = check_name(raw, known)
        if resp.getheader("X-Server") != name:
            raise BadAnswer("X-Server %r differs from body %r" % (resp.getheader("X-Server"), name))
        return name
    finally:
        conn.close()


# UDP requests use consecutive source ports from a random base, so that
# the N datagrams of one run are N distinct flows. With kernel-chosen
# ephemeral ports two of them can share a port by chance, and a load
# balancer rightly treats them as one flow (one real server).
UDP_PORT_BASE = random.randrange(20000, 50000)


def udp_once(target, source, timeout, known, seq):
    host, port = target
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.settimeout(timeout)
        any_addr = "::" if family == socket.AF_INET6 else "0.0.0.0"
        try:
            sock.bind((source or any_addr, UDP_PORT_BASE + seq % 10000))
        except OSError:
            sock.bind((source or any_addr, 0))
        payload = b"xvs-lab %d %s" % (seq, os.urandom(6).hex().encode())
        sock.sendto(payload, (host, port))
        data, peer = sock.recvfrom(65535)
        if ipaddress.ip_address(peer[0]) != ipaddress.ip_address(host) or peer[1] != port:
            raise BadAnswer("reply from %s port %d, not the target" % (peer[0], peer[1]))
        raw, sep, echo = data.partition(b":")
        if not sep or echo != payload:
            raise BadAnswer("reply is not NAME:payload: %r" % data[:64])
        return check_name(raw, known)
    finally:
        sock.close()


def describe(err):
    if isinstance(err, BadAnswer):
        return str(err)
    if isinstance(err, (socket.timeout, TimeoutError)):
        return "timeout: no answer"
    return "%s: %s" % (type(err).__name__, err)


def parse_http_target(url):
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError("URL must be http://HOST[:PORT]/PATH, got %r" % url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname, parts.port or 80, path


def parse_udp_target(addr):
    host, sep, port = addr.rpartition(":")
    if not sep:
        raise ValueError("ADDR must be HOST:PORT, got %r" % addr)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    ipaddress.ip_address(host)
    port = int(port)
    if not 0 < port < 65536:
        raise ValueError("port out of range in %r" % addr)
    return host, port


def main():
    parser = argparse.ArgumentParser(description="xvs lab client")
    parser.add_argument("mode", choices=["http", "udp"])
    parser.add_argument("target", help="http://HOST[:PORT]/PATH or HOST:PORT")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--source", help="local address to bind")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds per request")
    parser.add_argument("--servers", help="comma-separated names that may answer")
    parser.add_argument("--duration", type=float, help="keep sending for this many seconds")
    parser.add_argument("--interval", type=float, default=0.0, help="pause between a thread's requests")
    parser.add_argument("--timeline", help="append one JSON line per request to this file")
    parser.add_argument("--every", type=float,
                        help="with --duration: start one request every this many seconds whether "
                             "or not earlier ones finished (open loop; at most --concurrency in flight)")
    args = parser.parse_args()
    try:
        if args.mode == "http":
            target = parse_http_target(args.target)
        else:
            target = parse_udp_target(args.target)
        if args.source:
            ipaddress.ip_address(args.source)
    except ValueError as err:
        parser.error(str(err))
    if args.count < 0 or args.concurrency < 1 or args.timeout <= 0:
        parser.error("need --count >= 0, --concurrency >= 1, --timeout > 0")
    if (args.duration is not None and args.duration <= 0) or args.interval < 0:
        parser.error("need --duration > 0 and --interval >= 0")
    timeline = open(args.timeline, "a", buffering=1) if args.timeline else None
    known = set(args.servers.split(",")) if args.servers else None

    lock = threading.Lock()
    by_server = collections.Counter()
    errors = collections.Counter()

    def one(seq):
        started = time.time()
        name, error = None, None
        try:
            if args.mode == "http":
                name = http_once(target, args.source, args.timeout, known)
            else:
                name = udp_once(target, args.source, args.timeout, known, seq)
        except Exception as err:  # every failure is counted, none aborts the run
            error = describe(err)
        with lock:
            if error is None:
                by_server[name] += 1
            else:
                errors[error] += 1
            if timeline:
                done = time.time()
                timeline.write(json.dumps({"t": started, "d": done - started,
                                           "server": name, "error": error}) + "\n")

    if args.duration is not None and args.every:
        # Open loop: a lost SYN delays only its own request, so the
        # timeline shows from when new connections work again.
        deadline = time.monotonic() + args.duration
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            seq, next_at = 0, time.monotonic()
            while next_at < deadline:
                pool.submit(one, seq)
                seq += 1
                next_at += args.every
                time.sleep(max(0.0, next_at - time.monotonic()))
    elif args.duration is None:
        with ThreadPoolExecutor(max_workers=min(args.concurrency, max(args.count, 1))) as pool:
            list(pool.map(one, range(args.count)))
    else:
        deadline = time.monotonic() + args.duration

        def loop(thread):
            seq = thread
            while time.monotonic() < deadline:
                one(seq)
                seq += args.concurrency
                if args.interval:
                    time.sleep(args.interval)

        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            list(pool.map(loop, range(args.concurrency)))

    report = {
        "ok": sum(by_server.values()),
        "failed": sum(errors.values()),
        "by_server": dict(sorted(by_server.items())),
        "errors": dict(sorted(errors.items())),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

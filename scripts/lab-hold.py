#!/usr/bin/env python3
"""Long-lived TCP connections for the xvs lab (crates/lab): holds N
connections open to the hold service of scripts/lab-backend.py (TCP 9000),
usually through a VIP, while a test does something to the director (fails
it over to its backup), then reports how many connections went on with the
same real server without a reset.

Usage: lab-hold.py TARGET --count N [--sources A,B,..] [--timeout S]

TARGET is 198.18.0.100:9000 or [fd00:0:0:1::100]:9000. --sources are
local addresses the connections bind, round-robin (default: the kernel
chooses); source ports are always the kernel's. --timeout (default 5 s)
bounds every wait: a handshake, an answer, the gap between stream lines.

Every connection first sends "echo hello"; the answer "NAME hello" names
its real server. Then connection i follows a pattern chosen by i % 3:
  0 chatty   "echo cK" every 0.5 s, each answered in time
  1 idle     silent until the end
  2 stream   sends "stream" and reads "NAME sK" lines (one every 100 ms,
             K = 0, 1, ... in order); no line for longer than the timeout
             is a failure
Once every connection has answered its first echo or failed, prints
"ready K" (K: the connections that answered and are still good; N when
all went well). It
goes on until stdin says "finish" or closes. Then every connection still
good sends "stop" (stream: the answer must count exactly the lines it
received) and "echo bye", and must have the answers within the timeout.

Prints one JSON line:
  {"opened": connections whose handshake completed,
   "continued": connections that never failed and answered the final
                exchange (every answer from the server of their first one),
   "failed": {reason: count}, "by_server": {NAME: connections whose first
   echo NAME answered}, "failures": [up to 20 examples, first first:
   {"i": index, "pattern": .., "src": "ip:port", "reason": ..,
    "at": UNIX time, "detail": text}]}
A connection fails once, for the first of these reasons, so continued plus
the failed counts is N:
  connect         no handshake (refused, no answer in time, bind error,
                  out of file descriptors)
  reset           the kernel reported an error on it: ECONNRESET mostly, or
                  an ICMP error such as EHOSTUNREACH (the detail says)
  eof             the server closed it
  timeout         an answer did not come in time (or ETIMEDOUT)
  server_changed  an answer came from another NAME than the first one
  bad_answer      an answer that is not the one expected
  stream_gap      a stream stayed silent for longer than the timeout
Each failure is also one line on stderr when it happens.

Exits 0 whatever the outcome (failures are in the report); 2 on a usage
error. One thread, one selectors loop (epoll: no FD_SETSIZE limit); needs
N + a few file descriptors. Standard library only (Python 3.11).
"""

import argparse
import collections
import errno
import ipaddress
import json
import os
import re
import resource
import selectors
import socket
import sys
import time

PATTERNS = ("chatty", "idle", "stream")
CHATTY_INTERVAL = 0.5
# Handshakes in flight at once: a burst of hundreds of SYNs to one
# listener could overflow its accept queue, and the connections would
# fail for a reason that has nothing to do with the test.
MAX_CONNECTING = 64
# How often deadlines and chatty echoes are looked at.
TICK = 0.05
MAX_EXAMPLES = 20
# The hold service's request limit; its answers are no longer.
MAX_LINE = 256
# Descriptors besides the connections: stdio, the selector, slack.
SPARE_FDS = 16
# Linux <linux/in.h>: choose the source port at connect(), not bind(), so
# bound sources share the ephemeral range per destination.
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
NAME_CHARS = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
STREAM_LINE = re.compile(rb"s(\d+)")

# Connection states. LIVE ones are in Holder.live and watched for
# deadlines; DONE ones continued; FAILED ones have a reason.
WAITING, CONNECTING, HELLO, RUNNING, FINISHING, DONE, FAILED = range(7)
LIVE = (CONNECTING, HELLO, RUNNING, FINISHING)
# The answers a connection waits for.
ECHO, STOPPED = "echo", "stopped"


class Failed(Exception):
    """A connection failed for `reason` (one of the report's)."""

    def __init__(self, reason, detail):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def error_reason(err):
    """The report's reason for an OSError on an established connection."""
    if err.errno == errno.ETIMEDOUT:
        return "timeout"
    return "reset"


class Conn:
    def __init__(self, i, source):
        self.i = i
        self.pattern = PATTERNS[i % 3]
        self.source = source
        self.sock = None
        self.src = source or ""
        self.state = WAITING
        self.server = None
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.events = 0
        # (kind, token, deadline) of each answer still due, in order.
        self.expect = collections.deque()
        self.connect_deadline = 0.0
        self.next_echo = 0.0
        self.echo_seq = 0
        self.streaming = False
        self.stream_next = 0
        self.stream_deadline = 0.0


class Holder:
    def __init__(self, target, family, count, sources, timeout):
        self.target = target
        self.family = family
        self.timeout = timeout
        self.sel = selectors.DefaultSelector()
        self.conns = [Conn(i, sources[i % len(sources)] if sources else None) for i in range(count)]
        self.to_open = collections.deque(self.conns)
        self.live = set()
        self.connecting = 0
        # Connections that have neither answered "hello" nor failed.
        self.unsettled = count
        self.opened = 0
        self.failed = collections.Counter()
        self.examples = []
        self.ready = False
        self.finish_requested = False
        self.finishing = False
        self.stdin_buf = bytearray()

    # The loop.

    def run(self):
        self.watch_stdin()
        last_sweep = 0.0
        while not (self.finishing and not self.live):
            self.start_connects()
            for key, mask in self.sel.select(TICK):
                if key.data is None:
                    self.read_stdin()
                    continue
                conn = key.data
                if conn.state in LIVE:
                    self.guard(conn, self.on_event, conn, mask)
            now = time.monotonic()
            if now - last_sweep >= TICK:
                last_sweep = now
                self.sweep(now)
            if not self.ready and self.unsettled == 0 and not self.to_open:
                self.ready = True
                print("ready %d" % sum(1 for c in self.conns if c.state in LIVE), flush=True)
            if self.ready and self.finish_requested and not self.finishing:
                self.begin_finish()
        return self.report()

    def guard(self, conn, action, *args):
        try:
            action(*args)
        except Failed as failure:
            self.fail(conn, failure.reason, failure.detail)

    def on_event(self, conn, mask):
        if conn.state == CONNECTING:
            self.connected(conn)
            return
        if mask & selectors.EVENT_READ:
            self.read(conn)
        if mask & selectors.EVENT_WRITE and conn.state in LIVE:
            self.flush(conn)

    def sweep(self, now):
        for conn in list(self.live):
            self.guard(conn, self.check, conn, now)

    def check(self, conn, now):
        if conn.state == CONNECTING:
            if now > conn.connect_deadline:
                raise Failed("connect", "no handshake within %gs" % self.timeout)
            return
        if conn.expect and now > conn.expect[0][2]:
            kind, token, _ = conn.expect[0]
            asked = "stop" if kind == STOPPED else "echo " + token.decode()
            raise Failed("timeout", "no answer to %r within %gs" % (asked, self.timeout))
        if conn.streaming and now > conn.stream_deadline:
            raise Failed("stream_gap", "no stream line for %gs after s%d" % (self.timeout, conn.stream_next - 1))
        if conn.state == RUNNING and conn.pattern == "chatty" and not conn.expect and now >= conn.next_echo:
            conn.echo_seq += 1
            conn.next_echo = now + CHATTY_INTERVAL
            self.send(conn, b"echo c%d" % conn.echo_seq, ECHO, b"c%d" % conn.echo_seq)

    # Opening.

    def start_connects(self):
        while self.to_open and self.connecting < MAX_CONNECTING:
            conn = self.to_open.popleft()
            self.guard(conn, self.open, conn)

    def open(self, conn):
        conn.state = CONNECTING
        self.connecting += 1
        self.live.add(conn)
        try:
            conn.sock = socket.socket(self.family, socket.SOCK_STREAM)
        except OSError as err:
            if err.errno in (errno.EMFILE, errno.ENFILE):
                soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
                raise Failed("connect", "out of file descriptors (%s; the limit is %d, raise it with ulimit -n)" % (err.strerror, soft))
            raise Failed("connect", "socket: %s" % err)
        conn.sock.setblocking(False)
        try:
            if conn.source:
                try:
                    conn.sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                except OSError:
                    pass  # an older kernel: bind picks the port, which works too
                conn.sock.bind((conn.source, 0))
            code = conn.sock.connect_ex(self.target)
        except OSError as err:
            raise Failed("connect", "bind to %s: %s" % (conn.source, err))
        if code not in (0, errno.EINPROGRESS):
            raise Failed("connect", os.strerror(code))
        conn.connect_deadline = time.monotonic() + self.timeout
        conn.events = selectors.EVENT_WRITE
        self.sel.register(conn.sock, conn.events, conn)

    def connected(self, conn):
        code = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise Failed("connect", os.strerror(code))
        self.connecting -= 1
        conn.state = HELLO
        conn.src = address_text(conn.sock.getsockname())
        self.opened += 1
        self.send(conn, b"echo hello", ECHO, b"hello")

    # Talking.

    def send(self, conn, request, kind=None, token=b""):
        conn.outbuf += request + b"\n"
        if kind is not None:
            conn.expect.append((kind, token, time.monotonic() + self.timeout))
        self.flush(conn)

    def flush(self, conn):
        if conn.outbuf:
            try:
                sent = conn.sock.send(conn.outbuf)
                del conn.outbuf[:sent]
            except BlockingIOError:
                pass
            except OSError as err:
                raise Failed(error_reason(err), "send: %s" % err)
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.outbuf else 0)
        if events != conn.events:
            self.sel.modify(conn.sock, events, conn)
            conn.events = events

    def read(self, conn):
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as err:
            raise Failed(error_reason(err), "recv: %s" % err)
        if not data:
            raise Failed("eof", "the server closed the connection")
        conn.inbuf += data
        while conn.state in LIVE:
            end = conn.inbuf.find(b"\n")
            if end < 0:
                if len(conn.inbuf) > MAX_LINE:
                    raise Failed("bad_answer", "no newline in %d bytes: %r" % (len(conn.inbuf), bytes(conn.inbuf[:64])))
                return
            line = bytes(conn.inbuf[:end])
            del conn.inbuf[: end + 1]
            self.answer(conn, line)

    def answer(self, conn, line):
        name, sep, rest = line.partition(b" ")
        if not sep or not name or not set(name) <= NAME_CHARS:
            raise Failed("bad_answer", "not NAME ANSWER: %r" % line[:64])
        name = name.decode()
        if conn.server is None:
            conn.server = name
        elif name != conn.server:
            raise Failed("server_changed", "first %s, now %s" % (conn.server, name))
        now = time.monotonic()
        stream_line = STREAM_LINE.fullmatch(rest) if conn.streaming else None
        if stream_line:
            k = int(stream_line.group(1))
            if k != conn.stream_next:
                raise Failed("bad_answer", "stream line s%d where s%d was due" % (k, conn.stream_next))
            conn.stream_next += 1
            conn.stream_deadline = now + self.timeout
            return
        if not conn.expect:
            raise Failed("bad_answer", "unasked-for %r" % line[:64])
        kind, token, _ = conn.expect.popleft()
        if kind == STOPPED:
            token = b"stopped %d" % conn.stream_next
            conn.streaming = False
        if rest != token:
            raise Failed("bad_answer", "%r where %r was due" % (rest[:64], token))
        if token == b"hello":
            self.hello_answered(conn, now)
        elif conn.state == FINISHING and not conn.expect:
            self.finished(conn)

    def hello_answered(self, conn, now):
        conn.state = RUNNING
        self.unsettled -= 1
        if conn.pattern == "chatty":
            conn.next_echo = now + CHATTY_INTERVAL
        elif conn.pattern == "stream":
            conn.streaming = True
            conn.stream_deadline = now + self.timeout
            self.send(conn, b"stream")

    # Finishing.

    def begin_finish(self):
        self.finishing = True
        for conn in list(self.live):
            conn.state = FINISHING
            if conn.streaming:
                self.guard(conn, self.send, conn, b"stop", STOPPED)
            if conn.state in LIVE:
                self.guard(conn, self.send, conn, b"echo bye", ECHO, b"bye")

    def finished(self, conn):
        conn.state = DONE
        self.live.discard(conn)
        self.close(conn)

    def fail(self, conn, reason, detail):
        if conn.state in (DONE, FAILED):
            return
        if conn.state in (WAITING, CONNECTING):
            self.connecting -= conn.state == CONNECTING
            self.unsettled -= 1
            reason = "connect"
        elif conn.state == HELLO:
            self.unsettled -= 1
        conn.state = FAILED
        self.live.discard(conn)
        self.close(conn)
        self.failed[reason] += 1
        at = time.time()
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(
                {"i": conn.i, "pattern": conn.pattern, "src": conn.src, "reason": reason, "at": round(at, 3), "detail": detail}
            )
        print(
            "lab-hold: connection %d (%s from %s to %s): %s: %s" % (conn.i, conn.pattern, conn.src or "-", conn.server or "?", reason, detail),
            file=sys.stderr,
            flush=True,
        )

    def close(self, conn):
        if conn.sock is None:
            return
        if conn.events:
            self.sel.unregister(conn.sock)
            conn.events = 0
        conn.sock.close()
        conn.sock = None

    def report(self):
        by_server = collections.Counter(c.server for c in self.conns if c.server is not None)
        return {
            "opened": self.opened,
            "continued": sum(1 for c in self.conns if c.state == DONE),
            "failed": dict(sorted(self.failed.items())),
            "by_server": dict(sorted(by_server.items())),
            "failures": self.examples,
        }

    # stdin: "finish", or its end.

    def watch_stdin(self):
        if sys.stdin is None:
            self.finish_requested = True
            return
        try:
            self.sel.register(sys.stdin.fileno(), selectors.EVENT_READ, None)
        except (PermissionError, ValueError, OSError):
            # A regular file or /dev/null (epoll refuses those): reading
            # cannot block, so take it all now.
            while self.read_stdin(registered=False):
                pass

    def read_stdin(self, registered=True):
        """Take what stdin has; False at its end."""
        data = os.read(sys.stdin.fileno(), 4096)
        if not data:
            self.finish_requested = True
            if registered:
                self.sel.unregister(sys.stdin.fileno())
            return False
        self.stdin_buf += data
        while b"\n" in self.stdin_buf:
            line, _, rest = bytes(self.stdin_buf).partition(b"\n")
            self.stdin_buf = bytearray(rest)
            if line.strip() == b"finish":
                self.finish_requested = True
            elif line.strip():
                print("lab-hold: ignoring %r on stdin (only \"finish\" is known)" % line[:64], file=sys.stderr, flush=True)
        return True


def address_text(addr):
    host, port = addr[:2]
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def parse_target(text):
    """(family, address tuple) of HOST:PORT or [V6]:PORT."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
        if ":" in host:
            raise ValueError("an IPv6 address goes in brackets: [%s]:%s" % (host, port))
    if not sep:
        raise ValueError("no :PORT")
    ip = ipaddress.ip_address(host)
    port = int(port)
    if not 0 < port < 65536:
        raise ValueError("port %d is not 1..65535" % port)
    if ip.version == 6:
        return socket.AF_INET6, (str(ip), port, 0, 0)
    return socket.AF_INET, (str(ip), port)


def parse_args():
    parser = argparse.ArgumentParser(description="Hold long-lived TCP connections to the lab's hold service and report which survived.")
    parser.add_argument("target", metavar="TARGET", help="HOST:PORT or [V6]:PORT")
    parser.add_argument("--count", type=int, required=True, metavar="N")
    parser.add_argument("--sources", default="", metavar="A,B,..", help="local addresses to bind, round-robin")
    parser.add_argument("--timeout", type=float, default=5.0, metavar="S")
    args = parser.parse_args()
    try:
        args.family, args.address = parse_target(args.target)
    except ValueError as err:
        parser.error("TARGET %s: %s" % (args.target, err))
    if args.count < 1:
        parser.error("--count must be at least 1")
    if not args.timeout > 0 or args.timeout == float("inf"):
        parser.error("--timeout must be a positive number of seconds")
    args.source_list = []
    for source in filter(None, args.sources.split(",")):
        try:
            ip = ipaddress.ip_address(source.strip())
        except ValueError as err:
            parser.error("--sources: %s" % err)
        if (ip.version == 6) != (args.family == socket.AF_INET6):
            parser.error("--sources: %s is not of TARGET's address family" % ip)
        args.source_list.append(str(ip))
    # One descriptor per connection: raise the soft limit when the hard
    # one allows (1024, the usual default, is enough for ~1000).
    need = args.count + SPARE_FDS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            parser.error("--count %d needs %d file descriptors; the limit is %d (hard %d): raise it with ulimit -n" % (args.count, need, soft, hard))
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    return args


def main():
    args = parse_args()
    holder = Holder(args.address, args.family, args.count, args.source_list, args.timeout)
    print(json.dumps(holder.run()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

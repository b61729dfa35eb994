#!/usr/bin/env python3
"""A real server's services in the xvs lab (crates/lab).

Usage: lab-backend.py NAME [--state DIR]

Serves, dual stack on [::] (IPv4 clients arrive as v4-mapped addresses),
so on every address of the namespace (also ones added later):
  - HTTP on TCP ports 80 and 8080: every GET answers 200 with the body
    "NAME\\n", padded with "x" up to N bytes when the query has ?size=N,
    and the headers X-Server: NAME and X-Client: ADDR:PORT (the source the
    real server saw: the client in DR/TUN/NAT, a local address in FullNAT).
    GET /health is the health-check target: the status code in DIR/status
    (default 200) and the body in DIR/body (default "NAME ok\\n").
  - HTTPS on TCP 443, same handler, when DIR/cert.pem and DIR/key.pem exist
    at start (crates/lab's readiness check applies the same rule).
  - UDP echo on ports 53 and 5353: every datagram is answered with
    b"NAME:" + the payload, from the port it was sent to.
  - DNS on UDP 5300: any query is answered with its ID, QR=1, its opcode
    and RD, RCODE from DIR/dns_rcode (default 0, NOERROR), the question
    echoed and no records (RFC 1035 §4.1).
  - SMTP on TCP 2525: the banner "220 NAME ESMTP" (or the line in
    DIR/smtp_banner), then "HELO x" -> "250 NAME", "QUIT" -> "221 bye" and
    close, anything else -> "500" (RFC 5321 §4.2, §4.3.2).
  - A line service for long-lived connections on TCP 9000 ("hold", what
    scripts/lab-hold.py drives across a director failover). Each request
    is one line ending in "\\n" of at most 256 bytes (a longer one closes
    the connection):
      "echo TOKEN"  -> "NAME TOKEN"
      "stream"      -> "NAME s0", "NAME s1", ... one line every 100 ms on
                       this connection ("stream N": stop after N lines)
      "stop"        -> "NAME stopped COUNT", COUNT the lines the last
                       stream sent (0 if none); the stream lines already
                       sent all arrive before it, and the connection stays
                       open for more requests
      anything else -> "NAME error"
    One thread serves every connection (non-blocking, selectors), so
    hundreds of idle connections cost no threads; a client that resets or
    goes away affects only its own connection, and one that stops reading
    is closed once 1 MiB of answers waits for it.

The files in DIR are read on every request, so a test changes a backend's
health by writing a file (crates/lab writes them atomically, by rename).
Without --state every file is absent and the defaults apply.

Prints "ready" on stdout once every socket is bound. Standard library only
(Python 3.11); runs until killed.
"""

import argparse
import errno
import heapq
import os
import resource
import selectors
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HTTP_PORTS = (80, 8080)
HTTPS_PORT = 443
UDP_PORTS = (53, 5353)
DNS_PORT = 5300
SMTP_PORT = 2525
HOLD_PORT = 9000
# The hold service's limits: a request line, the answers queued for a
# client that does not read, and the stream's pace.
HOLD_MAX_LINE = 256
HOLD_MAX_BUFFERED = 1024 * 1024
HOLD_STREAM_INTERVAL = 0.1
HOLD_MAX_FDS = 65536
# Large enough for multi-segment responses, small enough that a typo in a
# test cannot make a backend allocate gigabytes.
MAX_SIZE = 16 * 1024 * 1024
# A peer that connects and then says nothing (a TCP-only probe, a TLS
# client that never finishes its handshake) holds one thread this long.
IDLE_TIMEOUT = 30
# The names lab-client.py accepts: they must not contain ":" (the UDP reply
# separator) or a newline (the HTTP body separator).
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class State:
    """The per-backend state directory; every read goes to the file system
    so a test's rename takes effect on the next request."""

    def __init__(self, directory):
        self.directory = directory

    def read(self, name):
        """The bytes of DIR/name, or None when there is no such file."""
        if self.directory is None:
            return None
        try:
            with open(os.path.join(self.directory, name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def has(self, name):
        return self.directory is not None and os.path.isfile(os.path.join(self.directory, name))

    def path(self, name):
        return os.path.join(self.directory, name)


def dual_stack_socket(kind):
    """An AF_INET6 socket that also accepts IPv4 (IPV6_V6ONLY off)."""
    sock = socket.socket(socket.AF_INET6, kind)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def quiet_error(what, err):
    # One line per failed connection, not a traceback: probes that close
    # early (TCP connect checks, TLS handshakes only) are normal here.
    print("%s: %s: %s" % (what, type(err).__name__, err), file=sys.stderr, flush=True)


class DualStackTCPServer(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        socketserver.TCPServer.server_bind(self)

    def handle_error(self, request, client_address):
        quiet_error("tcp %s from %s" % (self.server_address[1], client_address[0]), sys.exc_info()[1])


class DualStackHTTPServer(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    request_queue_size = 128

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        # HTTPServer.server_bind would call socket.getfqdn("::"), a reverse
        # DNS lookup that hangs for seconds in a namespace without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "xvs-lab"
        self.server_port = self.server_address[1]

    def handle_error(self, request, client_address):
        quiet_error("http %s from %s" % (self.server_port, client_address[0]), sys.exc_info()[1])


class DualStackHTTPSServer(DualStackHTTPServer):
    """HTTPS: the TLS handshake runs in the connection's own thread (in
    finish_request), so a client that stalls mid-handshake cannot block
    accept() for everyone else, as wrapping the listening socket would."""

    def __init__(self, address, handler, context):
        self.context = context
        super().__init__(address, handler)

    def finish_request(self, request, client_address):
        request.settimeout(IDLE_TIMEOUT)
        with self.context.wrap_socket(request, server_side=True) as tls:
            self.RequestHandlerClass(tls, client_address, self)


def make_handler(name, state):
    class Handler(BaseHTTPRequestHandler):
        server_version = "xvs-lab-backend"
        # HTTP/1.1 so that ?keepalive=1 can keep a connection open (the
        # quiescing test sends a second request on an established flow);
        # every other response closes its connection.
        protocol_version = "HTTP/1.1"
        timeout = IDLE_TIMEOUT

        def version_string(self):
            return self.server_version

        def do_GET(self):
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            keepalive = query.get("keepalive", ["0"])[0] == "1"
            if url.path == "/health":
                self.health(keepalive)
                return
            size = 0
            if "size" in query:
                try:
                    size = int(query["size"][0])
                except ValueError:
                    size = -1
                if size < 0 or size > MAX_SIZE:
                    self.send_error(400, "size must be 0..%d" % MAX_SIZE)
                    return
            body = (name + "\n").encode()
            if size > len(body):
                body += b"x" * (size - len(body))
            self.answer(200, body, keepalive)

        def health(self, keepalive):
            raw = state.read("status")
            code = 200
            if raw is not None:
                try:
                    code = int(raw.strip())
                except ValueError:
                    code = 0
                if not 100 <= code <= 599:
                    self.send_error(500, "%s holds %r, not an HTTP status" % (state.path("status"), raw[:32]))
                    return
            body = state.read("body")
            if body is None:
                body = (name + " ok\n").encode()
            self.answer(code, body, keepalive)

        def answer(self, code, body, keepalive):
            host, port = self.client_address[:2]
            if host.startswith("::ffff:"):
                host = host[len("::ffff:"):]
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Server", name)
            self.send_header("X-Client", "%s:%d" % (host, port))
            if not keepalive:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            # Quiet: a test may send thousands of requests and nobody reads
            # a per-request log.
            pass

    return Handler


def make_smtp_handler(name, state):
    class Handler(socketserver.StreamRequestHandler):
        timeout = IDLE_TIMEOUT

        def send(self, line):
            self.wfile.write(line.encode() + b"\r\n")
            self.wfile.flush()

        def handle(self):
            banner = state.read("smtp_banner")
            if banner is None:
                self.send("220 %s ESMTP" % name)
            else:
                self.send(banner.decode(errors="replace").rstrip("\r\n"))
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    return
                # RFC 5321 §2.4: command verbs are case-insensitive.
                verb, _, argument = line.decode(errors="replace").strip().partition(" ")
                verb = verb.upper()
                if verb == "HELO" and argument.strip():
                    self.send("250 %s" % name)
                elif verb == "QUIT":
                    self.send("221 bye")
                    return
                else:
                    self.send("500 unrecognised command")

    return Handler


def dns_answer(query, rcode):
    """The reply to a DNS query (RFC 1035 §4.1.1): same ID, QR set, opcode
    and RD copied, RCODE `rcode`, the question section echoed, no records.
    None when the datagram is too short to be a query."""
    if len(query) < 12:
        return None
    ident, flags, qdcount = struct.unpack("!HHH", query[:6])
    # §4.1.2: each question is a name (labels up to a zero byte; queries
    # carry no compression pointers) then QTYPE and QCLASS.
    end = 12
    for _ in range(qdcount):
        while end < len(query) and query[end] != 0:
            if query[end] & 0xC0:
                end = len(query) + 1  # a pointer or a reserved label type
                break
            end += 1 + query[end]
        end += 1 + 4
        if end > len(query):
            # Not a question we can echo: RCODE 1, format error.
            rcode, qdcount, end = 1, 0, 12
            break
    reply_flags = 0x8000 | (flags & 0x7800) | (flags & 0x0100) | (rcode & 0xF)
    return struct.pack("!HHHHHH", ident, reply_flags, qdcount, 0, 0, 0) + query[12:end]


def udp_echo(name):
    prefix = (name + ":").encode()
    return lambda data: prefix + data


def udp_dns(state):
    def reply(data):
        raw = state.read("dns_rcode")
        rcode = 0
        if raw is not None:
            try:
                rcode = int(raw.strip())
            except ValueError:
                print("dns: %s holds %r, not an RCODE" % (state.path("dns_rcode"), raw[:32]), file=sys.stderr)
                rcode = 2  # SERVFAIL: the test wrote nonsense
        return dns_answer(data, rcode)

    return reply


def serve_udp(handlers):
    """Answer datagrams on every socket in `handlers` with what its
    function returns (None: no answer)."""
    sel = selectors.DefaultSelector()
    for sock, reply in handlers:
        sel.register(sock, selectors.EVENT_READ, reply)
    while True:
        for key, _ in sel.select():
            try:
                # Reply from the address the datagram was sent to: on a DR or
                # TUN real server that is the VIP (on lo), not the primary
                # address a wildcard socket would pick (RFC 1122 4.1.3.5).
                data, anc, _flags, peer = key.fileobj.recvmsg(65535, socket.CMSG_SPACE(20))
                answer = key.data(data)
                if answer is None:
                    continue
                pktinfo = [
                    (level, kind, raw)
                    for level, kind, raw in anc
                    if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO
                ]
                # in6_pktinfo: 16-byte address + interface index; reply with
                # the address only (interface 0: let routing choose).
                reply_anc = [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, raw[:16] + bytes(4)) for _, _, raw in pktinfo]
                key.fileobj.sendmsg([answer], reply_anc, 0, peer)
            except OSError as err:
                # An ICMP error from an earlier reply surfaces here; the
                # service keeps going.
                print("udp: %s" % err, file=sys.stderr)


def udp_socket(port):
    sock = dual_stack_socket(socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    sock.bind(("::", port))
    return sock


class HoldConnection:
    """One client of the hold service: its unparsed input, the answers
    queued for it, and its stream."""

    def __init__(self, sock):
        self.sock = sock
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.events = selectors.EVENT_READ
        # False after the client's FIN: answer what it sent, then close.
        self.reading = True
        self.closed = False
        self.streaming = False
        self.stream_sent = 0
        self.stream_limit = None
        # Bumped by every "stream": timers of an earlier stream are stale.
        self.stream_generation = 0


class HoldService:
    """The hold service on TCP 9000 (see the module docstring): one
    selectors loop, non-blocking sockets, a heap of stream timers."""

    def __init__(self, name, listener):
        self.name = name.encode()
        self.listener = listener
        self.sel = selectors.DefaultSelector()
        self.sel.register(listener, selectors.EVENT_READ, None)
        # (due, seq, generation, connection): the next stream line of each
        # streaming connection; seq keeps connections from being compared.
        self.timers = []
        self.seq = 0
        # Out of descriptors: accept again at this time (monotonic).
        self.accept_paused_until = None

    def serve_forever(self):
        while True:
            now = time.monotonic()
            timeout = None
            if self.timers:
                timeout = max(0.0, self.timers[0][0] - now)
            if self.accept_paused_until is not None:
                pause = max(0.0, self.accept_paused_until - now)
                timeout = pause if timeout is None else min(timeout, pause)
            for key, events in self.sel.select(timeout):
                conn = key.data
                if conn is None:
                    self.accept()
                    continue
                try:
                    if events & selectors.EVENT_READ and not conn.closed:
                        self.read(conn)
                    if events & selectors.EVENT_WRITE and not conn.closed:
                        self.flush(conn)
                except Exception as err:  # one connection's bug must not stop the others
                    quiet_error("hold", err)
                    self.close(conn)
            now = time.monotonic()
            if self.accept_paused_until is not None and now >= self.accept_paused_until:
                self.accept_paused_until = None
                self.sel.register(self.listener, selectors.EVENT_READ, None)
            self.run_streams(now)

    def accept(self):
        # Everything pending, up to a bound: a burst of clients costs one
        # select, and the established ones still get their turn.
        for _ in range(64):
            try:
                sock, _ = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as err:
                if err.errno in (errno.EMFILE, errno.ENFILE):
                    # The listener stays readable (epoll is level
                    # triggered): stop watching it for a while instead of
                    # spinning. Raise `ulimit -n` for more connections.
                    quiet_error("hold accept (out of file descriptors, pausing 0.5 s)", err)
                    self.sel.unregister(self.listener)
                    self.accept_paused_until = time.monotonic() + 0.5
                else:
                    quiet_error("hold accept", err)
                return
            sock.setblocking(False)
            self.sel.register(sock, selectors.EVENT_READ, HoldConnection(sock))

    def read(self, conn):
        try:
            data = conn.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            # ECONNRESET, ETIMEDOUT, EHOSTUNREACH: the client is gone.
            self.close(conn)
            return
        if not data:
            # FIN: the client sends no more but may still read; its
            # answers go out, then the connection closes (see flush).
            conn.reading = False
            conn.streaming = False
            self.flush(conn)
            return
        conn.inbuf += data
        while not conn.closed:
            end = conn.inbuf.find(b"\n")
            if end < 0:
                break
            if end + 1 > HOLD_MAX_LINE:
                self.close(conn)
                return
            line = bytes(conn.inbuf[:end]).rstrip(b"\r")
            del conn.inbuf[: end + 1]
            self.request(conn, line)
        if len(conn.inbuf) >= HOLD_MAX_LINE:
            # No newline within the limit: not a client of this service.
            self.close(conn)

    def request(self, conn, line):
        verb, _, argument = line.partition(b" ")
        argument = argument.strip()
        if verb == b"echo" and argument:
            self.send(conn, argument)
        elif verb == b"stream" and not conn.streaming:
            limit = None
            if argument:
                limit = int(argument) if argument.isdigit() else 0
                if limit < 1:
                    self.send(conn, b"error")
                    return
            conn.streaming = True
            conn.stream_sent = 0
            conn.stream_limit = limit
            conn.stream_generation += 1
            self.schedule(conn, time.monotonic())
        elif verb == b"stop" and not argument:
            conn.streaming = False
            self.send(conn, b"stopped %d" % conn.stream_sent)
        else:
            self.send(conn, b"error")

    def schedule(self, conn, due):
        self.seq += 1
        heapq.heappush(self.timers, (due, self.seq, conn.stream_generation, conn))

    def run_streams(self, now):
        while self.timers and self.timers[0][0] <= now:
            due, _, generation, conn = heapq.heappop(self.timers)
            if conn.closed or not conn.streaming or generation != conn.stream_generation:
                continue
            self.send(conn, b"s%d" % conn.stream_sent)
            conn.stream_sent += 1
            if conn.stream_limit is not None and conn.stream_sent >= conn.stream_limit:
                conn.streaming = False
            if conn.closed or not conn.streaming:
                continue
            # Keep the pace without drift, but after a stall (the process
            # was stopped) go on from now instead of sending a burst.
            self.schedule(conn, max(due + HOLD_STREAM_INTERVAL, now))

    def send(self, conn, text):
        conn.outbuf += self.name + b" " + text + b"\n"
        self.flush(conn)

    def flush(self, conn):
        if conn.outbuf:
            try:
                sent = conn.sock.send(conn.outbuf)
                del conn.outbuf[:sent]
            except BlockingIOError:
                pass
            except OSError:
                # EPIPE, ECONNRESET: the client is gone.
                self.close(conn)
                return
        if len(conn.outbuf) > HOLD_MAX_BUFFERED:
            print("hold: closing a client that read nothing for %d bytes" % len(conn.outbuf), file=sys.stderr, flush=True)
            self.close(conn)
            return
        if not conn.reading and not conn.outbuf:
            self.close(conn)
            return
        events = (selectors.EVENT_READ if conn.reading else 0) | (selectors.EVENT_WRITE if conn.outbuf else 0)
        if events != conn.events:
            self.sel.modify(conn.sock, events, conn)
            conn.events = events

    def close(self, conn):
        if conn.closed:
            return
        conn.closed = True
        conn.streaming = False
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()


def hold_listener():
    # One descriptor per held connection: lift the soft open-files limit
    # (often 1024) towards the hard one, so a test holding many
    # connections to one real server does not meet EMFILE first.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = HOLD_MAX_FDS if hard == resource.RLIM_INFINITY else min(hard, HOLD_MAX_FDS)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    sock = dual_stack_socket(socket.SOCK_STREAM)
    sock.bind(("::", HOLD_PORT))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def parse_args():
    parser = argparse.ArgumentParser(description="A real server's services in the xvs lab.")
    parser.add_argument("name", metavar="NAME", help="letters, digits, '.', '_', '-'")
    parser.add_argument("--state", metavar="DIR", help="files that set health answers (status, body, dns_rcode, smtp_banner, cert.pem, key.pem)")
    args = parser.parse_args()
    if not args.name or not set(args.name) <= NAME_CHARS:
        parser.error("NAME: letters, digits, '.', '_', '-'")
    if args.state is not None and not os.path.isdir(args.state):
        parser.error("--state %s is not a directory" % args.state)
    return args


def main():
    args = parse_args()
    name, state = args.name, State(args.state)
    handler = make_handler(name, state)
    servers = [DualStackHTTPServer(("::", port), handler) for port in HTTP_PORTS]
    if state.has("cert.pem") and state.has("key.pem"):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(state.path("cert.pem"), state.path("key.pem"))
        servers.append(DualStackHTTPSServer(("::", HTTPS_PORT), handler, context))
    servers.append(DualStackTCPServer(("::", SMTP_PORT), make_smtp_handler(name, state)))
    udp = [(udp_socket(port), udp_echo(name)) for port in UDP_PORTS]
    udp.append((udp_socket(DNS_PORT), udp_dns(state)))
    hold = HoldService(name, hold_listener())
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=hold.serve_forever, daemon=True).start()
    print("ready", flush=True)
    serve_udp(udp)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A real server's services in the xvs lab (crates/lab).

Usage: lab-backend.py NAME

Serves, dual stack on [::] (IPv4 clients arrive as v4-mapped addresses):
  - HTTP on TCP ports 80 and 8080: every GET answers 200 with the body
    "NAME\\n", padded with "x" up to N bytes when the query has ?size=N,
    and the headers X-Server: NAME and X-Client: ADDR:PORT (the source the
    real server saw: the client in DR/TUN/NAT, a local address in FullNAT).
  - UDP echo on ports 53 and 5353: every datagram is answered with
    b"NAME:" + the payload, from the port it was sent to.

Prints "ready" on stdout once every socket is bound. Standard library only
(Python 3.11); runs until killed.
"""

import selectors
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HTTP_PORTS = (80, 8080)
UDP_PORTS = (53, 5353)
# Large enough for multi-segment responses, small enough that a typo in a
# test cannot make a backend allocate gigabytes.
MAX_SIZE = 16 * 1024 * 1024
# The names lab-client.py accepts: they must not contain ":" (the UDP reply
# separator) or a newline (the HTTP body separator).
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def dual_stack_socket(kind):
    """An AF_INET6 socket that also accepts IPv4 (IPV6_V6ONLY off)."""
    sock = socket.socket(socket.AF_INET6, kind)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


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


def make_handler(name):
    class Handler(BaseHTTPRequestHandler):
        server_version = "xvs-lab-backend"
        # HTTP/1.1 so that ?keepalive=1 can keep a connection open (the
        # quiescing test sends a second request on an established flow);
        # every other response closes its connection.
        protocol_version = "HTTP/1.1"

        def version_string(self):
            return self.server_version

        def do_GET(self):
            query = parse_qs(urlsplit(self.path).query)
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
            host, port = self.client_address[:2]
            if host.startswith("::ffff:"):
                host = host[len("::ffff:"):]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Server", name)
            self.send_header("X-Client", "%s:%d" % (host, port))
            keepalive = query.get("keepalive", ["0"])[0] == "1"
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


def serve_udp(name, sockets):
    prefix = (name + ":").encode()
    sel = selectors.DefaultSelector()
    for sock in sockets:
        sel.register(sock, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            try:
                # Reply from the address the datagram was sent to: on a DR or
                # TUN real server that is the VIP (on lo), not the primary
                # address a wildcard socket would pick (RFC 1122 4.1.3.5).
                data, anc, _flags, peer = key.fileobj.recvmsg(65535, socket.CMSG_SPACE(20))
                pktinfo = [
                    (level, kind, raw)
                    for level, kind, raw in anc
                    if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO
                ]
                # in6_pktinfo: 16-byte address + interface index; reply with
                # the address only (interface 0: let routing choose).
                reply_anc = [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, raw[:16] + bytes(4)) for _, _, raw in pktinfo]
                key.fileobj.sendmsg([prefix + data], reply_anc, 0, peer)
            except OSError as err:
                # An ICMP error from an earlier reply surfaces here; the
                # echo service keeps going.
                print("udp: %s" % err, file=sys.stderr)


def main():
    if len(sys.argv) != 2 or not sys.argv[1] or not set(sys.argv[1]) <= NAME_CHARS:
        print("usage: lab-backend.py NAME  (NAME: letters, digits, '.', '_', '-')", file=sys.stderr)
        return 2
    name = sys.argv[1]
    servers = [DualStackHTTPServer(("::", port), make_handler(name)) for port in HTTP_PORTS]
    udp = []
    for port in UDP_PORTS:
        sock = dual_stack_socket(socket.SOCK_DGRAM)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        sock.bind(("::", port))
        udp.append(sock)
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    serve_udp(name, udp)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A minimal SMTP sink for scripts/bench: accepts everything, keeps nothing.

Run as its own process (so it does not share a GIL with what it measures):
    python scripts/bench_sink.py PORT
It prints "ready" once listening, and a count of messages on SIGTERM.
Deliberately tiny and fast: the benchmark compares digest's sender with a raw
smtplib loop into this same sink, so the sink's own cost cancels out.
"""

from __future__ import annotations

import signal
import socket
import socketserver
import sys
import threading

COUNT = 0
LOCK = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        global COUNT
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        w = self.wfile.write
        w(b"220 sink ESMTP\r\n")
        rl = self.rfile.readline
        while True:
            line = rl(65536)
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                w(b"250-sink\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 SIZE 104857600\r\n")
            elif verb == b"DATA":
                w(b"354 go ahead\r\n")
                while True:
                    chunk = rl(65536)
                    if not chunk or chunk == b".\r\n":
                        break
                with LOCK:
                    COUNT += 1
                w(b"250 2.0.0 OK\r\n")
            elif verb == b"QUIT":
                w(b"221 bye\r\n")
                return
            else:  # MAIL, RCPT, RSET, NOOP
                w(b"250 OK\r\n")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 64


def main() -> None:
    port = int(sys.argv[1])
    server = Server(("127.0.0.1", port), Handler)

    def stop(*_):
        print(f"received {COUNT}", flush=True)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

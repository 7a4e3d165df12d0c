"""A minimal SMTP sink for scripts/bench: accepts everything, keeps nothing, answers after a delay.

Run as its own process (so it does not share a GIL with what it measures):
    python scripts/bench_sink.py PORT [LATENCY_MS]
It prints "ready" once listening, and a count of messages on SIGTERM.

LATENCY_MS (default 0) models a relay a network away: every reply is written
that long after its command arrived. Commands that arrive together (a
pipelined group) are answered together one latency later, as over a real
network: the delay is a round trip, not a cost per command. The sink
advertises PIPELINING and answers commands in order.

Deliberately small and fast (asyncio, no thread per connection, hundreds of
connections): the benchmark compares digest's sender with a raw smtplib loop
into this same sink, so the sink's own cost cancels out.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections import deque

COUNT = 0
EHLO = b"250-sink\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 SIZE 104857600\r\n"


class Session(asyncio.Protocol):
    def __init__(self, latency: float):
        self.latency = latency
        self.buf = bytearray()
        self.in_data = False
        self.scanned = 0  # how far the body has been searched for its end
        self.out: deque[tuple[float, bytes]] = deque()
        self.timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.loop = asyncio.get_running_loop()
        self.reply(b"220 sink ESMTP\r\n")

    def reply(self, data: bytes) -> None:
        if not self.latency:
            self.transport.write(data)
            return
        self.out.append((self.loop.time() + self.latency, data))
        if self.timer is None:
            self.timer = self.loop.call_at(self.out[0][0], self.flush)

    def flush(self) -> None:
        self.timer = None
        now = self.loop.time()
        ready = []
        while self.out and self.out[0][0] <= now + 0.0005:
            ready.append(self.out.popleft()[1])
        if ready and not self.transport.is_closing():
            self.transport.write(b"".join(ready))
        if self.out:
            self.timer = self.loop.call_at(self.out[0][0], self.flush)

    def data_received(self, data: bytes) -> None:
        global COUNT
        buf = self.buf
        buf += data
        while True:
            if self.in_data:
                if buf[:3] == b".\r\n":
                    end, cut = 0, 3
                else:
                    end = buf.find(b"\r\n.\r\n", max(0, self.scanned - 4))
                    if end < 0:
                        self.scanned = len(buf)
                        return
                    cut = end + 5
                del buf[:cut]
                self.in_data, self.scanned = False, 0
                COUNT += 1
                self.reply(b"250 2.0.0 OK\r\n")
                continue
            nl = buf.find(b"\n")
            if nl < 0:
                return
            verb = bytes(buf[:4]).upper()
            del buf[: nl + 1]
            if verb in (b"EHLO", b"HELO"):
                self.reply(EHLO)
            elif verb == b"DATA":
                self.in_data = True
                self.reply(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.reply(b"221 bye\r\n")
                self.loop.call_later(self.latency + 0.01, self.transport.close)
                return
            else:  # MAIL, RCPT, RSET, NOOP
                self.reply(b"250 OK\r\n")


async def serve(port: int, latency: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Session(latency), "127.0.0.1", port, backlog=1024, reuse_address=True)
    stopped = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, lambda: stopped.done() or stopped.set_result(None))
    print("ready", flush=True)
    async with server:
        await stopped
    print(f"received {COUNT}", flush=True)


def main() -> None:
    port = int(sys.argv[1])
    latency = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0
    asyncio.run(serve(port, latency))


if __name__ == "__main__":
    main()

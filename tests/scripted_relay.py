"""A hand-written SMTP relay on 127.0.0.1 that shows what arrived in each round trip, and can misbehave.

    with ScriptedRelay() as relay:                 # advertises PIPELINING
        ... send to relay.url ...
        relay.rounds[0]                             # connection 1: what arrived before each batch of replies
        relay.messages                              # [(connection, recipient, body)]

asyncio in a thread of its own, one Protocol per connection. It reads what
arrives, answers every complete command (and every end of data) in one
write, and logs the bytes that arrived since its last write: one entry of
`rounds` is one round trip of the client. The test servers of aiosmtpd
cannot show that, nor answer out of step:

  after_dot="drop"     a "." followed by more commands in the same read: answer
                       the "." and throw the rest away (the replies never come)
  after_dot="reorder"  answer the commands behind the "." first, then the "."
  after_dot="extra"    answer them in order, then say the last reply once more

A "." that arrives on its own (two round trips) is always answered properly.
`on_dot(connection, recipient)`, run in the relay's thread before a final
"." is answered, lets a test look at the database at that moment; a reply
it returns (e.g. "550 5.7.1 No") is the answer to that ".".
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Callable

EHLO = b"250-relay.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10000000\r\n"


class _Session(asyncio.Protocol):
    def __init__(self, relay: "ScriptedRelay"):
        self.relay = relay
        self.number = relay._opened()
        self.buf = bytearray()
        self.in_data = False
        self.rcpt = ""
        self.rcpt_ok = False  # a recipient accepted in this transaction
        self.rounds: list[bytearray] = relay.rounds.setdefault(self.number, [])
        self.answered = True  # the next bytes to arrive start a new round

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.write(b"220 relay.test ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        if self.answered:
            self.rounds.append(bytearray())
            self.answered = False
        self.rounds[-1] += data
        self.buf += data
        replies: list[bytes] = []
        dot_at = None  # where the reply to a "." sits among this read's replies
        while not self.transport.is_closing():
            if self.in_data:
                end = 0 if self.buf[:3] == b".\r\n" else self.buf.find(b"\r\n.\r\n")
                if end < 0:
                    break
                body = bytes(self.buf[:end + 2]) if end else b""
                del self.buf[:end + (3 if end == 0 else 5)]
                self.in_data = False
                replies.append(self._dot(body))
                dot_at = len(replies) - 1
                if self.buf and self.relay.after_dot == "drop":
                    self.buf.clear()
                continue
            nl = self.buf.find(b"\n")
            if nl < 0:
                break
            line = bytes(self.buf[:nl + 1])
            del self.buf[:nl + 1]
            replies.append(self._command(line))
        self._answer(replies, dot_at)

    def _answer(self, replies: list[bytes], dot_at: int | None) -> None:
        if not replies:
            return
        behind = dot_at is not None and dot_at < len(replies) - 1  # commands came behind a "."
        if behind and self.relay.after_dot == "reorder":
            replies.append(replies.pop(dot_at))
        elif behind and self.relay.after_dot == "extra":
            replies.append(replies[-1])
        self.answered = True
        self.transport.write(b"".join(replies))
        if replies[-1].startswith(b"221") or any(r.startswith(b"421") for r in replies):
            self.transport.close()

    def _command(self, line: bytes) -> bytes:
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            return EHLO
        if verb == b"RCPT":
            self.rcpt = line.split(b"<", 1)[1].split(b">", 1)[0].decode()
            reply = self.relay.rcpt_reply.get(self.rcpt, b"250 OK\r\n")
            self.rcpt_ok = self.rcpt_ok or reply.startswith(b"250")
            return reply
        if verb == b"DATA":
            if not self.rcpt_ok:
                return b"554 5.5.1 no valid recipients\r\n"
            reply = self.relay.data_reply.get(self.rcpt, b"354 go ahead\r\n")
            self.in_data = reply.startswith(b"354")
            return reply
        if verb == b"QUIT":
            return b"221 bye\r\n"
        if verb in (b"MAIL", b"RSET"):
            self.rcpt_ok = False
        return b"250 OK\r\n"  # MAIL, RSET, NOOP

    def _dot(self, body: bytes) -> bytes:
        self.rcpt_ok = False
        reply = self.relay.on_dot(self.number, self.rcpt) if self.relay.on_dot else None
        if reply:
            return reply.encode() + b"\r\n"
        with self.relay._lock:
            self.relay.messages.append((self.number, self.rcpt, body.replace(b"\r\n..", b"\r\n.")))
        return b"250 2.0.0 queued\r\n"


class ScriptedRelay:
    def __init__(self, *, after_dot: str | None = None, on_dot: Callable[[int, str], str | None] | None = None):
        assert after_dot in (None, "drop", "reorder", "extra")
        self.after_dot, self.on_dot = after_dot, on_dot
        self.rcpt_reply: dict[str, bytes] = {}  # recipient -> reply to its RCPT TO
        self.data_reply: dict[str, bytes] = {}  # recipient -> reply to the DATA command after its RCPT TO
        self.rounds: dict[int, list[bytearray]] = {}  # connection -> what arrived before each batch of replies
        self.messages: list[tuple[int, str, bytes]] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def _opened(self) -> int:
        with self._lock:
            self.connections += 1
            return self.connections

    def _serve(self) -> None:
        self.loop = asyncio.new_event_loop()
        server = self.loop.run_until_complete(
            self.loop.create_server(lambda: _Session(self), "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        server.close()
        self.loop.run_until_complete(server.wait_closed())
        self.loop.close()

    def __enter__(self) -> "ScriptedRelay":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc_info) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def received(self) -> list[str]:
        with self._lock:
            return [rcpt for _, rcpt, _ in self.messages]

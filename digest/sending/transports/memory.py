"""MemoryTransport: the in-memory twin for unit tests, with scripted refusals."""

from __future__ import annotations

import threading
from typing import Mapping

from .base import Envelope, SendResult, parse_reply


class MemoryTransport:
    """Keeps what it is given in .sent; answers chosen addresses with chosen replies.

        t = MemoryTransport({"gone@example.org": "550 5.1.1 No such user"})
        t.answer("slow@example.org", "451 4.3.0 Try again later", times=2)
        t.answer("*", "connection refused")   # every address; no code -> temporary

    A reply applies to an envelope when any recipient (or "*") has one; a
    message that is refused is not added to .sent.
    """

    def __init__(self, replies: Mapping[str, str] | None = None):
        self.sent: list[tuple[Envelope, bytes]] = []
        self.closed = 0  # how many times close() was called
        self._replies: dict[str, tuple[str, int | None]] = {}
        self._lock = threading.Lock()  # tests may share one across worker threads
        for address, reply in (replies or {}).items():
            self.answer(address, reply)

    def answer(self, address: str, reply: str, *, times: int | None = None) -> None:
        """Refuse ADDRESS with REPLY (always, or for the next TIMES sends); "*" means everyone."""
        if times is not None and times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._replies[address.lower()] = (reply, times)

    def forget(self, address: str) -> None:
        with self._lock:
            self._replies.pop(address.lower(), None)

    def _reply_for(self, envelope: Envelope) -> str | None:
        for key in (*(r.lower() for r in envelope.recipients), "*"):
            if key not in self._replies:
                continue
            reply, times = self._replies[key]
            if times is not None:
                if times <= 1:
                    del self._replies[key]
                else:
                    self._replies[key] = (reply, times - 1)
            return reply
        return None

    def send(self, envelope: Envelope, message: bytes) -> SendResult:
        with self._lock:
            reply = self._reply_for(envelope)
            if reply is None:
                self.sent.append((envelope, message))
                return SendResult(True, False, 250, "250 OK (memory)")
        code, text = parse_reply(reply)
        permanent = code is not None and 500 <= code <= 599
        return SendResult(False, permanent, code, text)

    def close(self) -> None:
        with self._lock:
            self.closed += 1

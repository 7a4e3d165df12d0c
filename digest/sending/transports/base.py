"""The transport protocol: hand one finished message to SMTP, a folder, or a list.

A transport takes an Envelope (MAIL FROM and RCPT TO) and the message bytes,
and answers with a SendResult; it never raises for a delivery problem. The
send worker (digest/sending/worker.py) decides what a result means for the delivery
row: ok -> sent, permanent -> failed, otherwise retry later; `fatal` says the
transport itself is broken (bad password, no STARTTLS), so stop the run
rather than blame every address.

Transports are not thread-safe: the worker makes one per thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

_REPLY = re.compile(r"^\s*([2-5]\d\d)(?:[ -]|$)(.*)$", re.DOTALL)
_MAX_MESSAGE = 400  # deliveries.last_error is 500 characters


@dataclass(frozen=True)
class Envelope:
    sender: str  # MAIL FROM (the bounce address)
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class SendResult:
    ok: bool
    permanent: bool  # 5xx or refused for good; 4xx and connection trouble are temporary
    code: int | None  # the SMTP reply code, None when there was no reply
    message: str  # one line, for deliveries.last_error
    fatal: bool = False  # the transport's fault (authentication, TLS), not this address's


@runtime_checkable
class Transport(Protocol):
    def send(self, envelope: Envelope, message: bytes) -> SendResult: ...

    def close(self) -> None: ...


def one_line(text: str | bytes) -> str:
    """A reply or error as one line, short enough for deliveries.last_error."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    line = " ".join(text.split())
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 3] + "..."



def parse_reply(reply: str) -> tuple[int | None, str]:
    """'451 4.3.0 Try again' -> (451, '451 4.3.0 Try again'); text without a code -> (None, text)."""
    m = _REPLY.match(reply)
    return (int(m.group(1)), one_line(reply)) if m else (None, one_line(reply))

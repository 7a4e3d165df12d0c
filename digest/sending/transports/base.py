"""The transport contracts: hand a finished message to SMTP, a folder, a list, a provider's API.

Two contracts, as httpx has BaseTransport and AsyncBaseTransport:

  Transport        synchronous: send(envelope, message) -> SendResult, close().
                   One message at a time (send-test, notices, confirmations; and
                   `digest send` runs one per connection in threads).
  AsyncTransport   asynchronous: await connect() -> AsyncConnection, whose
                   await send(envelope, message, hold=...) -> SendResult and
                   await quit(); many connections on the sender's event loop.

A connection whose `one_trip` is True also offers one round trip a message
(RFC 2920: the end of one message's data followed by the next message's
commands in one write):

  await send_next(envelope, message, hold=...) -> (before, result)
                   the held final "." of the message before (once `hold` is done)
                   goes out with this message's MAIL FROM, RCPT TO and DATA, then
                   this message's body without its "." (now held). `before` is the
                   outcome of the message before (None if there was none held);
                   `result` is this message's outcome if it is already known
                   (refused before its body), else None: it is held.
  await finish(hold=..., quit=False) -> SendResult
                   the held "." alone (with QUIT when the connection ends there).

A relay that answers such a group out of step (too many or too few replies,
a 354 where a 250 belongs) makes the connection raise Dropped with
`out_of_step`: its successor should use send(), two round trips.

A transport takes an Envelope (MAIL FROM and RCPT TO) and the message bytes,
and answers with a SendResult; it never raises for a delivery problem. The
send worker (digest/sending/worker.py) decides what a result means for the delivery
row: ok -> sent, permanent -> failed, otherwise retry later; `fatal` says the
transport itself is broken (bad password, no STARTTLS), so stop the run
rather than blame every address. An asynchronous connection may also raise,
for what concerns the connection rather than the message:

  Dropped          the connection is gone and the message certainly did not go:
                   send it on another connection, no attempt spent (`busy`: the
                   relay asked for fewer connections)
  RelayUnusable    the transport cannot be used at all: stop the run
  TimedOut         no answer within a step's timeout: give the delivery back
                   (and the held one, from send_next(): it may have gone)

Transports are not thread-safe: the worker makes one per thread. Each kind
is registered once, in digest/sending/transports/__init__.py.
"""

from __future__ import annotations

import abc
import asyncio
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


class AsyncConnection(abc.ABC):
    """One session of an asynchronous transport; one coroutine sends on it at a time."""

    messages: int = 0  # handed over on this connection (the worker reconnects after max_per_connection)
    closed: bool = False  # the connection is gone: the worker opens another
    one_trip: bool = False  # send_next() and finish() may be used (else send() only)

    @abc.abstractmethod
    async def send(self, envelope: Envelope, message: bytes, *, hold: asyncio.Future | None = None) -> SendResult:
        """Send one message. `hold`: the commit to wait for before the message can be accepted (crash safety)."""

    async def send_next(self, envelope: Envelope, message: bytes, *,
                        hold: asyncio.Future | None = None) -> tuple[SendResult | None, SendResult | None]:
        """One round trip a message (only when `one_trip`): see the module's docstring."""
        raise NotImplementedError(f"{type(self).__name__} sends one message at a time (one_trip is False)")

    async def finish(self, *, hold: asyncio.Future | None = None, quit: bool = False) -> SendResult:
        """The held message's final "." (only when `one_trip`), alone or with QUIT."""
        raise NotImplementedError(f"{type(self).__name__} holds no message (one_trip is False)")

    @abc.abstractmethod
    async def quit(self) -> None:
        """End the session politely; never raises. A held message is not completed: it did not go."""


class AsyncTransport(abc.ABC):
    """The asynchronous contract: opens connections on the caller's event loop."""

    @abc.abstractmethod
    async def connect(self) -> AsyncConnection:
        """A connection ready to send (raises RelayUnusable, Dropped or TimedOut)."""


class Dropped(Exception):
    """The connection is unusable and the message was certainly not accepted.

    From send_next(): `previous` is the outcome of the message that was held
    (its "." went with this message's commands) when it is known; None when
    it certainly did not go either (send it again too, no attempt spent).
    `out_of_step`: the relay answered pipelined commands out of the expected
    shape; the next connection should take two round trips a message.
    """

    def __init__(self, reason: str, *, busy: bool = False, previous: "SendResult | None" = None,
                 out_of_step: bool = False):
        super().__init__(one_line(reason))
        self.reason, self.busy, self.previous, self.out_of_step = one_line(reason), busy, previous, out_of_step


class TimedOut(Exception):
    """The relay did not answer in time at one step of the conversation; the connection is dropped."""

    def __init__(self, step: str, seconds: float, url: str):
        self.reason = one_line(f"{url} did not answer {step} within {seconds:g} s")
        super().__init__(self.reason)


class RelayUnusable(Exception):
    """The relay refuses us as a whole (refused connection, TLS, AUTH): the run must stop."""

    def __init__(self, reason: str):
        super().__init__(one_line(reason))
        self.result = SendResult(False, True, None, one_line(reason), fatal=True)


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

"""Transports: where a finished message goes. Each kind is registered once, in KINDS below.

    make_transport("smtp", settings)     # a synchronous Transport (send-test, notices, confirmations)
    sender_transport("smtp", settings)   # what `digest send` sends with: an AsyncTransport, or a
                                         # factory of Transports run in threads
    choices()                            # the kinds `--transport` and [digest] transport accept

The contracts are in base.py (Transport, AsyncTransport). To add a kind, say
a provider's HTTP API: one module beside these with a class implementing
Transport (and, for speed, AsyncTransport), and its line in KINDS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ...config import Settings
from ...errors import ConfigError, DeliveryError
from .base import (AsyncConnection, AsyncTransport, Dropped, Envelope, RelayUnusable, SendResult, TimedOut,
                   Transport, one_line, parse_reply)
from .file import FileTransport
from .memory import MemoryTransport
from .pipelined import SmtpRelay
from .smtp import SmtpTransport, crlf, mask_url

__all__ = ["AsyncConnection", "AsyncTransport", "Dropped", "Envelope", "FileTransport", "KINDS", "Kind",
           "MemoryTransport", "RelayUnusable", "SendResult", "SmtpTransport", "TimedOut", "Transport", "choices",
           "crlf", "kind_of", "make_transport", "mask_url", "one_line", "parse_reply", "sender_transport"]


@dataclass(frozen=True)
class Kind:
    name: str
    help: str  # for --transport's help
    make: Callable[[Settings], Transport]
    make_async: Callable[[Settings], AsyncTransport] | None = None  # None: `make`'s Transports in threads
    setting: tuple[str, str] = ("", "")  # (environment variable, config key) to fix when it cannot be made
    choosable: bool = True  # offered by --transport and [digest] transport (memory is for tests)


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("smtp", "SMTP to DIGEST_SMTP_URL",
         lambda s: SmtpTransport.from_url(s.smtp_url, timeout=s.smtp.command_timeout),
         lambda s: SmtpRelay.from_url(s.smtp_url, timeouts=s.smtp), ("DIGEST_SMTP_URL", "digest.smtp_url")),
    Kind("file", ".eml files in DIGEST_OUTBOX", lambda s: FileTransport(s.outbox),
         setting=("DIGEST_OUTBOX", "digest.outbox")),
    Kind("memory", "kept in memory (tests)", lambda s: MemoryTransport(), choosable=False),
)}


def choices() -> list[str]:
    return [k.name for k in KINDS.values() if k.choosable]


def kind_of(name: str | None, settings: Settings) -> Kind:
    """The registered kind NAME (None: [digest] transport); ConfigError (exit status 2) for an unknown one."""
    if name is None or name == settings.transport:
        name = settings.transport
        if name not in KINDS:
            raise ConfigError(settings.source, "digest.transport", f"must be {' or '.join(choices())}, not {name!r}")
    if name not in KINDS:  # only from code: the command line's --transport checks its choices
        raise DeliveryError(f"unknown transport {name!r}: choose {', '.join(KINDS)}")
    return KINDS[name]


def make_transport(kind: str | None, settings: Settings) -> Transport:
    """A synchronous Transport of the kind ("smtp", "file", "memory"; None: [digest] transport)."""
    return kind_of(kind, settings).make(settings)


def sender_transport(kind: str | None, settings: Settings):
    """What `digest send` sends with: the kind's AsyncTransport, else a picklable factory of its Transports.

    A malformed SMTP URL (or an outbox that cannot be made) fails here, before anything is claimed.
    """
    found = kind_of(kind, settings)
    if found.make_async is not None:
        return found.make_async(settings)
    make_transport(found.name, settings).close()
    return TransportFactory(found.name, settings)


class TransportFactory:
    """make_transport(kind, settings) as an object a sender process can be given (a lambda cannot)."""

    def __init__(self, kind: str, settings: Settings):
        self.kind, self.settings = kind, settings

    def __call__(self) -> Transport:
        return make_transport(self.kind, self.settings)

"""Delivery transports: hand one finished message to SMTP, a folder, or a list.

A transport takes an Envelope (MAIL FROM and RCPT TO) and the message bytes,
and answers with a SendResult; it never raises for a delivery problem. The
send worker (digest/sender.py) decides what a result means for the delivery
row: ok -> sent, permanent -> failed, otherwise retry later; `fatal` says the
transport itself is broken (bad password, no STARTTLS), so stop the run
rather than blame every address.

Transports are not thread-safe: the worker makes one per thread.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Protocol, runtime_checkable

from .errors import DeliveryError

if TYPE_CHECKING:
    from .config import Settings

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._@+=-]")
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


def _one_line(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    line = " ".join(text.split())
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 3] + "..."


class FileTransport:
    """Writes each message to FOLDER/NAME.eml, named after its Message-ID.

    The file appears whole or not at all (temporary file + os.replace), and a
    re-send of the same message overwrites its file instead of adding one.
    """

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeliveryError(f"outbox {self.folder}: cannot create the folder: {exc.strerror or exc}") from None

    def __repr__(self) -> str:
        return f"<FileTransport {self.folder}>"

    @staticmethod
    def file_name(message: bytes) -> str:
        """NAME.eml from the Message-ID (made safe), or from a hash of the bytes without one."""
        end = message.find(b"\r\n\r\n")
        if end < 0:
            end = message.find(b"\n\n")
        headers = message if end < 0 else message[:end]
        m = _MESSAGE_ID.search(headers)
        raw = "".join(m.group(1).decode("ascii", errors="replace").split()).strip("<>") if m else ""
        if not raw:
            return hashlib.sha256(message).hexdigest()[:32] + ".eml"
        name = _UNSAFE_NAME.sub("_", raw).lstrip(".")[:150]
        if name != raw:  # changed it: keep two different IDs from sharing a file
            name = f"{name}-{hashlib.sha256(raw.encode()).hexdigest()[:8]}"
        return name + ".eml"

    def send(self, envelope: Envelope, message: bytes) -> SendResult:
        path = self.folder / self.file_name(message)
        tmp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(message)
            # No fsync: atomic is what readers need; durability would cost a disk flush a message.
            os.replace(tmp, path)
        except OSError as exc:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            return SendResult(False, False, None, _one_line(f"outbox {path}: {exc.strerror or exc}"))
        return SendResult(True, False, None, _one_line(f"written to {path}"))

    def close(self) -> None:
        pass


def parse_reply(reply: str) -> tuple[int | None, str]:
    """'451 4.3.0 Try again' -> (451, '451 4.3.0 Try again'); text without a code -> (None, text)."""
    m = _REPLY.match(reply)
    return (int(m.group(1)), _one_line(reply)) if m else (None, _one_line(reply))


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


def make_transport(kind: str, settings: "Settings", *, timeout: float = 30) -> Transport:
    """"smtp" (settings.smtp_url), "file" (settings.outbox) or "memory"."""
    if kind == "smtp":
        return SmtpTransport.from_url(settings.smtp_url, timeout=timeout)
    if kind == "file":
        return FileTransport(settings.outbox)
    if kind == "memory":
        return MemoryTransport()
    raise DeliveryError(f"unknown transport {kind!r}: choose smtp, file or memory")


# The SMTP transport lives in digest/smtp.py; it is part of this module's API.
from .smtp import SmtpTransport, crlf, mask_url  # noqa: E402,F401  (after the names smtp.py imports)

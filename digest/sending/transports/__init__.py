"""Transports: where a finished message goes (SMTP, a folder of .eml files, memory).

    make_transport("smtp", settings)   # settings.smtp_url
    make_transport("file", settings)   # settings.outbox
"""

from __future__ import annotations

from ...config import Settings
from ...errors import DeliveryError
from .base import Envelope, SendResult, Transport, one_line, parse_reply
from .file import FileTransport
from .memory import MemoryTransport
from .smtp import SmtpTransport, crlf, mask_url

__all__ = ["Envelope", "SendResult", "Transport", "FileTransport", "MemoryTransport", "SmtpTransport",
           "make_transport", "one_line", "parse_reply", "crlf", "mask_url"]


def make_transport(kind: str, settings: Settings, *, timeout: float = 30) -> Transport:
    """"smtp" (settings.smtp_url), "file" (settings.outbox) or "memory"."""
    if kind == "smtp":
        return SmtpTransport.from_url(settings.smtp_url, timeout=timeout)
    if kind == "file":
        return FileTransport(settings.outbox)
    if kind == "memory":
        return MemoryTransport()
    raise DeliveryError(f"unknown transport {kind!r}: choose smtp, file or memory")

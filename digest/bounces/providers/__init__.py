"""What mail providers tell us by webhook: verified first, then read into ProviderEvents (pure).

One module per provider (sns + ses, postmark, mailgun, sendgrid), each with
a `verify...` step that raises WebhookError before anything of the payload is
trusted, and a `parse...` step that turns the verified body into events. An
event is one thing that happened to one message:

    bounce       the provider gave up on the address (permanent, as the provider says)
    delay        a transient failure or a delay: the provider is still trying, or will
    complaint    the recipient marked it as spam (the provider's feedback loop)
    suppressed   the provider did not send it: the address is on its suppression list
    unsubscribe  the recipient left by the provider's own unsubscribe link
    delivered    the receiving server took it (counted for the report, nothing else)
    other        opens, clicks, sends and the like: recorded once, changes nothing

Attribution is left to digest.bounces.feedback: an event carries only what
the provider echoed back (our signed tag, our Message-ID) and the address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

EVENT_KINDS = ("bounce", "delay", "complaint", "suppressed", "unsubscribe", "delivered", "other")
STATUS = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
SMTP_CODE = re.compile(r"(?<!\d)([45])\d\d(?!\d)")


@dataclass(frozen=True)
class ProviderEvent:
    """One event a provider reported, as it said it (nothing attributed yet)."""

    provider: str  # ses, postmark, mailgun, sendgrid
    event_id: str  # the provider's id for it: the same event sent twice has the same id
    kind: str  # one of EVENT_KINDS
    what: str  # the provider's own name for it ("Bounce/Permanent/General", "HardBounce", "failed/permanent")
    recipient: str | None = None
    tag: str | None = None  # the signed delivery token digest gave the message, as echoed back
    message_id: str | None = None  # the Message-ID digest gave the message, as the provider saw it
    status: str | None = None  # enhanced status code, "5.1.1"
    diagnostic: str | None = None  # the provider's or the receiver's sentence, one line
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Skipped:
    """An event of a batch that could not be read: skipped and reported, the rest kept."""

    position: int
    reason: str


def status_in(*texts: object) -> str | None:
    """The first enhanced status code (5.1.1) in the texts, else one made from an SMTP code (550 -> 5.0.0)."""
    for text in texts:
        m = STATUS.search(str(text or ""))
        if m:
            return m.group(1)
    for text in texts:
        m = SMTP_CODE.search(str(text or ""))
        if m:
            return f"{m.group(1)}.0.0"
    return None


def one_line(text: object, limit: int = 300) -> str | None:
    return " ".join(str(text).split())[:limit] or None if text else None


def text_field(obj: dict, key: str, limit: int = 300) -> str | None:
    """A string field of a provider's JSON object, or None (other types are not trusted as text)."""
    value = obj.get(key)
    return value[:limit] if isinstance(value, str) and value else None


def angle(message_id: str | None) -> str | None:
    """'<id@host>' whatever way the provider wrote it ('id@host' or '<id@host>')."""
    if not message_id or not isinstance(message_id, str):
        return None
    value = message_id.strip()
    return value if value.startswith("<") else f"<{value}>"

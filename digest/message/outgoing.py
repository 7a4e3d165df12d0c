"""The one maker of outgoing mail: every message digest sends is made and signed here.

Two kinds of message leave digest:

- an edition's digest (and an editor's send-test of it): a rendered variant
  compiled once into a MessageTemplate, filled per member by a join
  (`assemble`, the hot path) and DKIM-signed over the finished bytes;
- a notice to one person (the double opt-in confirmation, editors' notices):
  a short text + HTML message built with the standard library's
  `email.message` (it is not on a hot path), signed the same way.

Nobody else builds message bytes, so whatever a mailbox provider requires
(Date, Message-ID, DKIM) is decided once.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid

from ..config import Settings
from ..models import Rendered
from .assemble import MessageTemplate, Recipient
from .dkim import DkimSigner
from .feedback import FeedbackHeaders
from .links import Links


class Outgoing:
    """Makes the bytes of digest's messages for one configuration: links, templates, DKIM."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.links = Links(settings.secret_key, settings.base_url)
        self.signer = DkimSigner.from_settings(settings)  # None unless DKIM is configured
        self.feedback = FeedbackHeaders.from_settings(settings)  # None unless a [providers.*] is configured

    def template(self, rendered: Rendered, *, edition_key: str, fmt: str) -> MessageTemplate:
        """A rendered variant compiled once into fixed pieces and per-member slots."""
        return MessageTemplate.compile(rendered, settings=self.settings, edition_key=edition_key, fmt=fmt,
                                       links=self.links)

    def digest(self, template: MessageTemplate, recipient: Recipient, *, date: datetime | None = None) -> bytes:
        """One member's copy of a variant: assembled by a join, then signed."""
        return self.sign(self._assemble(template, recipient, date))

    def _assemble(self, template: MessageTemplate, recipient: Recipient, date: datetime | None) -> bytes:
        message = template.assemble(recipient, date=date)
        if self.feedback is None:
            return message
        # Header lines for the provider go first: it strips them before sending on.
        return self.feedback.lines(recipient.delivery_id) + message

    async def digest_beside(self, executor, template: MessageTemplate, recipient: Recipient, *,
                            date: datetime | None = None) -> bytes:
        """digest(), with DKIM's RSA step (about 0.8 ms, without the GIL) run in `executor`.

        For the sender's event loop: the other connections' replies are read
        while OpenSSL works, instead of waiting for each signature in turn.
        """
        message = self._assemble(template, recipient, date)
        if self.signer is None:
            return message
        pending = self.signer.prepare(message)
        return pending.finish(await asyncio.get_running_loop().run_in_executor(executor, self.signer.rsa,
                                                                                pending.data))

    def sign(self, message: bytes) -> bytes:
        """DKIM-sign finished bytes when DKIM is configured (OpenSSL releases the GIL while it works)."""
        return self.signer.sign(message) if self.signer is not None else message

    def notice(self, to: str, subject: str, text: str, html: str | None = None, *, kind: str = "notice",
               date: datetime | None = None, auto_submitted: bool = True) -> bytes:
        """A message to one person (confirmation, editors' notice): text (+ HTML), dated, signed."""
        s = self.settings
        msg = EmailMessage()
        msg["From"] = s.sender
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = format_datetime(date or datetime.now(timezone.utc))
        msg["Message-ID"] = make_msgid(kind, domain=s.sender_domain)
        if auto_submitted:
            msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this, please
        if s.reply_to.strip():
            msg["Reply-To"] = s.reply_to
        msg.set_content(text, cte="quoted-printable")
        if html is not None:
            msg.add_alternative(html, subtype="html", cte="quoted-printable")
        return self.sign(msg.as_bytes(policy=SMTP_POLICY))

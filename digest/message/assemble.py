"""Per-recipient messages from a rendered variant: the send path's hot loop.

Why this is written by hand: building each message with email.message
(EmailMessage, set_content, as_bytes) costs about 4 ms, nearly all of it
re-encoding and re-folding the same 30 KB of HTML for every member. Here a
rendered variant is compiled once (MessageTemplate.compile) into byte
segments that are already quoted-printable encoded and folded, with slots
between them; a recipient's message is those segments joined with a few
short encoded values (To, Date, Message-ID, List-Unsubscribe, name, links),
which takes microseconds. build_reference() is the same message made the slow
standard-library way; the tests hold the two to the same decoded content.

The quoted-printable trick: every piece (fixed segment or slot value) ends on
a line boundary, with a soft line break if the text goes on, so pieces
encoded separately concatenate into one valid body (see mime.qp_piece).
"""

from __future__ import annotations

import email.policy
import hashlib
import html
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from operator import itemgetter

from ..config import Settings
from ..errors import ConfigError, RenderError, SubscriberError
from ..models import FORMATS, SLOT_MARKERS, Rendered
from .links import Links
from .mime import clean_text, fold_header, phrase_tokens, qp_piece, text_tokens

# A plain address as validated subscribers have one; anything else must not
# reach a header (this is a second line of defence against header injection).
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_MARKERS = re.compile("(" + "|".join(re.escape(m) for m in SLOT_MARKERS.values()) + ")")
_SLOT_OF_MARKER = {marker: slot for slot, marker in SLOT_MARKERS.items()}
_QP_HEADERS = b"Content-Type: text/%s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
# The query of an unsubscribe mailto: printable ASCII but the space, '"', '<' and '>'.
_MAILTO_QUERY = re.compile(r'[!#-;=?-~]*')
_UNSET = (None, b"")  # an empty Date cache: matches no second and no date

# Slot numbers: index into the per-recipient value list built by assemble().
_TO, _DATE, _MSGID, _UNSUB_HEADER = 0, 1, 2, 3
_BODY_SLOTS = {  # (part, slot name) -> index
    ("text", "name"): 4,
    ("html", "name"): 5,
    ("text", "preferences_url"): 6,
    ("html", "preferences_url"): 7,
    ("text", "unsubscribe_url"): 8,
    ("html", "unsubscribe_url"): 9,
}


@dataclass(frozen=True)
class Recipient:
    """One delivery of an edition to one member."""

    delivery_id: int
    subscriber_id: int
    email: str
    name: str | None
    token_version: int


def _message_id_parts(edition_key: str, domain: str) -> tuple[str, str]:
    """('<edition.KEY.', '@domain>'): what goes either side of the delivery id."""
    key = re.sub(r"[^A-Za-z0-9-]+", "-", edition_key)[:64].strip("-") or "edition"
    domain = re.sub(r"[^A-Za-z0-9.-]+", "", domain).strip(".") or "localhost"
    return f"<edition.{key}.", f"@{domain}>"


def message_id(edition_key: str, delivery_id: int, domain: str) -> str:
    """'<edition.KEY.DELIVERY@domain>': the same for every attempt at one delivery."""
    prefix, suffix = _message_id_parts(edition_key, domain)
    return f"{prefix}{int(delivery_id)}{suffix}"


_HONORIFICS = frozenset({"dr", "mr", "mrs", "ms", "mx", "miss", "prof", "professor", "sir", "dame", "cllr",
                         "councillor", "rev", "revd", "lord", "lady"})


def first_name(name: str | None) -> str:
    """The name a greeting uses: 'Siân' of 'Siân Phillips', 'Dr Jones' of 'Dr Jim Jones, PhD',
    'Pat' of "O'Brien, Pat" and of "O'Brien, Pat, Chair"; a one-word name as it is."""
    name = clean_text(name or "")
    if not name:
        return ""
    before, comma, after = name.partition(",")
    given = after.partition(",")[0].split()
    if comma and len(before.split()) <= 1 and given:  # "Surname, Given names[, role]"
        return given[0]
    words = before.split() or name.split()  # what follows a comma is a suffix: ", PhD", ", Chair"
    if words[0].rstrip(".").lower() in _HONORIFICS:
        return f"{words[0]} {words[-1]}" if len(words) > 1 else words[0]
    return words[0]


def name_slot(name: str | None) -> str:
    """What the greeting marker becomes: ' Siân' for 'Hello Siân,' (the first name), '' for 'Hello,'."""
    name = first_name(name)
    return " " + name if name else ""


def _normalise(body: str) -> str:
    return body.replace("\r\n", "\n").replace("\r", "\n")


def _mailbox_header(header: str, value: str, settings: Settings, key: str) -> bytes:
    name, addr = parseaddr(value)
    if not _ADDRESS.fullmatch(addr):
        raise ConfigError(settings.source, key, f"{value!r} is not a usable address")
    return fold_header(header, phrase_tokens(clean_text(name)) + [f"<{addr}>"])


def _list_id_header(settings: Settings) -> bytes:
    m = re.fullmatch(r"(.*?)\s*<([A-Za-z0-9.-]+)>\s*", settings.list_id)
    if m is None:
        m = re.fullmatch(r"()([A-Za-z0-9.-]+)", settings.list_id.strip())
    if m is None:
        raise ConfigError(settings.source, "digest.list_id", f"{settings.list_id!r} is not 'Name <list.id.domain>'")
    return fold_header("List-Id", phrase_tokens(clean_text(m.group(1))) + [f"<{m.group(2)}>"])


def _mailto(settings: Settings) -> tuple[str, str] | None:
    """The List-Unsubscribe mailto either side of the member's signed unsubscribe token, or None.

    The token goes at the end of the subject ("unsubscribe 42.3.SIG"): a request
    by mail is attributed by it alone (bounces.process), never by its From.
    """
    target = settings.unsubscribe_mailto.strip()
    if not target:
        return None
    target = target.removeprefix("mailto:")
    address, _, query = target.partition("?")
    if not _ADDRESS.fullmatch(address) or not _MAILTO_QUERY.fullmatch(query):
        raise ConfigError(settings.source, "digest.unsubscribe_mailto", f"{target!r} is not an address")
    fields = query.split("&") if query else []
    at = next((i for i, f in enumerate(fields) if f.lower().startswith("subject=")), None)
    if at is None:
        fields.insert(0, "subject=unsubscribe")
        at = 0
    before, after = "&".join(fields[:at + 1]), "&".join(fields[at + 1:])
    return f"<mailto:{address}?{before}%20", ("&" + after if after else "") + ">"


def _date_header(date: datetime) -> bytes:
    if date.tzinfo is None:
        raise ValueError("message date must be timezone-aware")
    return b"Date: %s\r\n" % format_datetime(date).encode()


def _bodies(rendered: Rendered, settings: Settings, edition_key: str, fmt: str, links: Links) -> tuple[str, str]:
    """The variant's text and HTML, normalised; an error for what could never make a message."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    if not links.base_url.isascii() or re.search(r'[\s<>"]', links.base_url):
        raise ConfigError(settings.source, "organisation.base_url",
                          f"{links.base_url!r} cannot go into a header (use the ASCII/punycode form)")
    text = _normalise(rendered.text)
    body_html = _normalise(rendered.html)
    if fmt == "html" and not body_html.strip():
        raise RenderError(f"edition {edition_key}: the html variant has no HTML body")
    if not text.strip():
        raise RenderError(f"edition {edition_key}: the {fmt} variant has no text body")
    return text, body_html


class _Layout:
    """A message laid down once per variant: fixed bytes, and the slots each recipient fills, in order."""

    def __init__(self, boundary: bytes, edition_key: str):
        self.boundary, self.edition_key = boundary, edition_key
        self.segments: list[bytes] = [b""]
        self.order: list[int] = []

    def fixed(self, b: bytes) -> None:
        self.segments[-1] += b  # one segment between two slots, not many

    def slot(self, n: int) -> None:
        self.order.append(n)
        self.segments.append(b"")

    def body(self, part: str, content: str) -> None:
        for i, piece in enumerate(_MARKERS.split(content)):
            if i % 2:
                self.slot(_BODY_SLOTS[(part, _SLOT_OF_MARKER[piece])])
            elif piece:
                encoded = qp_piece(piece)
                if self.boundary in encoded:
                    raise RenderError(f"edition {self.edition_key}: MIME boundary occurs in the {part} body")
                self.fixed(encoded)


class MessageTemplate:
    """A rendered variant compiled into encoded segments and per-recipient slots."""

    def __init__(self, segments: list[bytes], order: list[int], *, links: Links, html_part: bool,
                 escape_urls: bool, msgid_prefix: bytes, msgid_suffix: bytes,
                 mailto: tuple[bytes, bytes] | None):
        # segments[i] comes before the value of slot order[i], the last after them all.
        self._parts: list[bytes | None] = [None] * (2 * len(order) + 1)
        self._parts[::2] = segments
        self._pick = itemgetter(*order)  # the per-recipient values, in message order
        self._links = links
        self._html = html_part
        self._escape_urls = escape_urls
        self._msgid = (msgid_prefix, msgid_suffix)
        self._mailto = mailto  # what goes either side of the token in the List-Unsubscribe mailto
        self._now: tuple[int | None, bytes] = _UNSET  # (second, Date header) cache for date=None
        self._given: tuple[datetime | None, bytes] = _UNSET  # (date, Date header) of the last call
        self.size = sum(map(len, segments))  # bytes without the slot values, for logs

    @classmethod
    def compile(cls, rendered: Rendered, *, settings: Settings, edition_key: str, fmt: str,
                links: Links) -> MessageTemplate:
        """Encode everything that is the same for every recipient of this variant.

        fmt "html" gives multipart/alternative (text/plain first, then text/html),
        "text" a single text/plain part; both UTF-8, quoted-printable. The
        subject is put on one line; the preheader is expected inside the HTML.
        """
        text, body_html = _bodies(rendered, settings, edition_key, fmt, links)

        digest = hashlib.sha256("\0".join((edition_key, text, body_html)).encode(errors="replace"))
        # "=_" cannot occur in quoted-printable output ('=' is always followed
        # by hex digits or a line break), so no body can hold the boundary;
        # body() makes sure of it (in a text-only variant too: one rule).
        boundary = b"=_digest_" + digest.hexdigest()[:24].encode()

        out = _Layout(boundary, edition_key)
        out.fixed(_mailbox_header("From", settings.sender, settings, "organisation.sender"))
        out.slot(_TO)
        out.fixed(fold_header("Subject", text_tokens(clean_text(rendered.subject))))
        out.slot(_DATE)
        out.slot(_MSGID)
        if settings.reply_to.strip():
            out.fixed(_mailbox_header("Reply-To", settings.reply_to, settings, "organisation.reply_to"))
        out.fixed(_list_id_header(settings))
        out.slot(_UNSUB_HEADER)
        out.fixed(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nMIME-Version: 1.0\r\n")
        if fmt == "text":
            out.fixed(_QP_HEADERS % b"plain")
            out.body("text", text)
        else:
            out.fixed(b'Content-Type: multipart/alternative;\r\n boundary="%s"\r\n\r\n--%s\r\n' % (boundary, boundary))
            out.fixed(_QP_HEADERS % b"plain")
            out.body("text", text)
            out.fixed(b"\r\n--%s\r\n" % boundary)
            out.fixed(_QP_HEADERS % b"html")
            out.body("html", body_html)
            out.fixed(b"\r\n--%s--\r\n" % boundary)

        prefix, suffix = _message_id_parts(edition_key, settings.sender_domain)
        # A List-Unsubscribe URL alone is longer than 78 characters (its token
        # has a 43-character signature), so a mailto always goes on a line of its own.
        mailto = _mailto(settings)
        return cls(
            out.segments,
            out.order,
            links=links,
            html_part=fmt == "html",
            escape_urls=html.escape(links.base_url) != links.base_url,
            msgid_prefix=b"Message-ID: " + prefix.encode(),
            msgid_suffix=(suffix + "\r\n").encode(),
            mailto=(b">,\r\n " + mailto[0].encode(), mailto[1].encode() + b"\r\n") if mailto else None,
        )

    def _date(self, date: datetime | None) -> bytes:
        # A batch shares one date (and a second one now), and formatting costs
        # ~10 µs; a cache is one tuple, so threads may share the template.
        if date is None:
            second = int(time.time())
            cached, header = self._now
            if cached == second:
                return header
            header = _date_header(datetime.fromtimestamp(second, timezone.utc))
            self._now = (second, header)
            return header
        cached, header = self._given
        if cached is date:  # not ==: equal datetimes in other zones format differently
            return header
        header = _date_header(date)
        self._given = (date, header)
        return header

    def _unsubscribe_header(self, unsub: str) -> bytes:
        # ASCII: compile checked base_url, and a token is base64url.
        if self._mailto is None:
            return b"List-Unsubscribe: <" + unsub.encode() + b">\r\n"
        head, tail = self._mailto
        return b"List-Unsubscribe: <" + unsub.encode() + head + unsub.rpartition("/")[2].encode() + tail

    def assemble(self, r: Recipient, *, date: datetime | None = None) -> bytes:
        """The complete message for one recipient: RFC 5322, CRLF line ends."""
        if not _ADDRESS.fullmatch(r.email):
            raise SubscriberError(r.email, "address cannot be written into a message header")
        name = clean_text(r.name) if r.name else ""
        if name:
            to = fold_header("To", phrase_tokens(name) + [f"<{r.email}>"])
        else:
            to = b"To: %s\r\n" % r.email.encode()  # ASCII: _ADDRESS allows nothing else
        links = self._links
        prefs = links.preferences_url(r.subscriber_id, r.token_version)
        unsub = links.unsubscribe_url(r.subscriber_id, r.token_version)
        prefix, suffix = self._msgid
        greet = first_name(name)  # "Hello Siân," (the To header keeps the whole name)
        text_name = qp_piece(" " + greet) if greet else b""
        text_prefs = qp_piece(prefs)
        text_unsub = qp_piece(unsub)
        values = [
            to,
            self._date(date),
            prefix + b"%d" % r.delivery_id + suffix,
            self._unsubscribe_header(unsub),
            text_name,
            text_name,
            text_prefs,
            text_prefs,
            text_unsub,
            text_unsub,
        ]
        if self._html:
            if greet:
                escaped = html.escape(greet)
                if escaped != greet:
                    values[5] = qp_piece(" " + escaped)
            if self._escape_urls:
                values[7] = qp_piece(html.escape(prefs))
                values[9] = qp_piece(html.escape(unsub))
        out = self._parts.copy()
        out[1::2] = self._pick(values)
        return b"".join(out)


def build_reference(rendered: Rendered, *, settings: Settings, edition_key: str, fmt: str, links: Links,
                    recipient: Recipient, date: datetime) -> bytes:
    """The same message as MessageTemplate.assemble, built with email.message (slow; for tests)."""
    r = recipient
    prefs = links.preferences_url(r.subscriber_id, r.token_version)
    unsub = links.unsubscribe_url(r.subscriber_id, r.token_version)
    name = clean_text(r.name or "")

    def fill(body: str, escape) -> str:
        values = {"name": escape(name_slot(name)), "preferences_url": escape(prefs), "unsubscribe_url": escape(unsub)}
        return _MARKERS.sub(lambda m: values[_SLOT_OF_MARKER[m.group()]], _normalise(body))

    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = settings.sender
    msg["To"] = Address(display_name=name, addr_spec=r.email)  # no name: the bare address
    msg["Subject"] = clean_text(rendered.subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id(edition_key, r.delivery_id, settings.sender_domain)
    if settings.reply_to.strip():
        msg["Reply-To"] = settings.reply_to
    msg["List-Id"] = settings.list_id
    mailto = _mailto(settings)
    token = unsub.rpartition("/")[2]
    msg["List-Unsubscribe"] = f"<{unsub}>" + (f", {mailto[0]}{token}{mailto[1]}" if mailto else "")
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(fill(rendered.text, str), cte="quoted-printable")  # text/plain, UTF-8
    if fmt == "html":
        msg.add_alternative(fill(rendered.html, html.escape), subtype="html", cte="quoted-printable")
    return msg.as_bytes()

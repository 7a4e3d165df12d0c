"""Deliverability checks: would mailbox providers accept this message, and can everyone read it?

check_message() looks at one complete message (bytes, as sent); checks.edition
applies it to every variant of an edition.
Each problem is a Failure with a short code and a one-line message; an empty
list means the message passes. The message is parsed with the standard
library's email package and the HTML with lxml: this is the editor's path,
not the send loop.

    for f in check_message(Path("outbox/1.eml").read_bytes(), settings):
        print(f"{f.code}: {f.message}")
"""

from __future__ import annotations

import email
import email.policy
import re
import unicodedata
from email.utils import parsedate_to_datetime
from typing import Mapping, Sequence

from ..config import Settings
from ..errors import ConfigError
from ..message.dkim import dkim_record, verify
from . import Failure, collapse, short
from .html import check_html, link_ok

GMAIL_CLIP_BYTES = 102_000  # Gmail cuts the HTML part off ("[Message clipped]") beyond this
ONE_CLICK = "List-Unsubscribe=One-Click"
LEFTOVERS = ("{{", "{%", "<mj-", "</mj-", "[[digest:", "digest.invalid")

_MSGID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
_ANGLE_URI = re.compile(r"<([^<>\s]+)>")


def _controls(s: str) -> list[str]:
    return sorted({f"U+{ord(c):04X}" for c in s if c not in "\t\r\n" and unicodedata.category(c) == "Cc"})


# ---- the message ------------------------------------------------------------------


def check_message(message: bytes, settings: Settings, *, article_titles: Sequence[str] = (),
                  article_urls: Sequence[str] = (), image_bytes: Mapping[str, int] | None = None) -> list[Failure]:
    """Every deliverability check on one complete message; [] if it passes.

    article_titles / article_urls: what the text part must carry (the variant's articles).
    image_bytes: the weight of the articles' pictures by URL (as measured at ingest).
    """
    out: list[Failure] = []
    msg = email.message_from_bytes(message, policy=email.policy.default)
    unsubscribe = _check_headers(msg, message, settings, out)
    text_part, html_part = _check_structure(msg, out)
    text = _content(text_part, "text", out)
    html = _content(html_part, "HTML", out)
    for label, content in (("text part", text), ("HTML part", html)):
        if content and (bad := _controls(content)):
            out.append(Failure("control-characters", f"the {label} holds control characters ({', '.join(bad)})"))
        for marker in LEFTOVERS:
            if content and marker in content:
                out.append(Failure("template-leftover", f"the {label} still holds {marker!r}"))
    if text is not None:
        _check_text(text, settings, unsubscribe, article_titles, article_urls, out)
    if html is not None and html_part is not None:
        encoded = len(html_part.get_payload(decode=False).encode("ascii", "replace"))
        if encoded >= GMAIL_CLIP_BYTES:
            out.append(Failure("html-size", f"the encoded HTML part is {encoded:,} bytes; Gmail clips it at "
                                            f"{GMAIL_CLIP_BYTES:,}"))
        check_html(html, settings, unsubscribe, out, image_bytes)
    if not collapse(settings.address):
        out.append(Failure("postal-address", "no postal address is configured (organisation.address); bulk "
                                             "mail must show one"))
    if settings.dkim is not None:
        _check_dkim(message, msg, settings, out)
    return out


def _check_headers(msg, raw: bytes, settings: Settings, out: list[Failure]) -> str | None:
    """Header checks; returns the https List-Unsubscribe URI (or None)."""
    for name in ("From", "To", "Subject"):
        if not str(msg.get(name, "")).strip():
            out.append(Failure("missing-header", f"no {name} header"))
    head = raw.partition(b"\r\n\r\n")[0] if b"\r\n\r\n" in raw else raw.partition(b"\n\n")[0]
    bad = sorted({f"0x{b:02X}" for b in head if (b < 32 and b not in (9, 10, 13)) or b == 127})
    decoded = " ".join(str(v) for v in msg.values())
    if bad or _controls(decoded):
        out.append(Failure("control-characters", f"the header holds control characters "
                                                 f"({', '.join(bad or _controls(decoded))})"))
    for marker in LEFTOVERS:
        if marker in str(msg.get("Subject", "")):
            out.append(Failure("template-leftover", f"the Subject still holds {marker!r}"))
    date = msg.get("Date")
    try:
        parsed = parsedate_to_datetime(str(date)) if date else None
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        out.append(Failure("date", "no Date header" if not date else f"Date {str(date)!r} is not an RFC 5322 date"))
    mid = str(msg.get("Message-ID", "")).strip()
    if not _MSGID.fullmatch(mid):
        out.append(Failure("message-id", f"Message-ID {mid!r} is not <id@domain>" if mid else "no Message-ID header"))
    raw_unsub = str(msg.get("List-Unsubscribe", ""))
    uris = _ANGLE_URI.findall(raw_unsub)
    web = [u for u in uris if link_ok(u, settings)]
    if not raw_unsub:
        out.append(Failure("list-unsubscribe", "no List-Unsubscribe header"))
    elif not web:
        out.append(Failure("list-unsubscribe", f"List-Unsubscribe {short(raw_unsub)!r} has no <https:...> URI "
                                               "(one-click unsubscribe needs one)"))
    post = collapse(str(msg.get("List-Unsubscribe-Post", "")))
    if post != ONE_CLICK:
        out.append(Failure("list-unsubscribe-post", f"List-Unsubscribe-Post must read {ONE_CLICK!r}"
                           + (f", not {post!r}" if post else " (the header is missing)")))
    return web[0] if web else None


def _check_structure(msg, out: list[Failure]):
    """(text part, HTML part); multipart/alternative with text first when there is HTML."""
    ctype = msg.get_content_type()
    if ctype == "text/plain":
        return msg, None
    if ctype == "text/html":
        out.append(Failure("mime-structure", "the message is HTML only: add a text/plain alternative"))
        return None, msg
    if ctype != "multipart/alternative":
        out.append(Failure("mime-structure", f"the message is {ctype}; expected multipart/alternative "
                                             "(text, then HTML) or text/plain"))
    parts = list(msg.iter_parts()) if msg.is_multipart() else []
    types = [p.get_content_type() for p in parts]
    if ctype == "multipart/alternative" and types != ["text/plain", "text/html"]:
        out.append(Failure("mime-structure", f"the alternatives are {', '.join(types) or 'missing'}; expected "
                                             "text/plain first, then text/html"))
    text = next((p for p in parts if p.get_content_type() == "text/plain"), None)
    html = next((p for p in parts if p.get_content_type() == "text/html"), None)
    if text is None:
        out.append(Failure("mime-structure", "no text/plain part"))
    return text, html


def _content(part, label: str, out: list[Failure]) -> str | None:
    if part is None:
        return None
    try:
        return part.get_content()
    except (LookupError, UnicodeError, ValueError) as exc:
        out.append(Failure("encoding", f"the {label} part cannot be decoded: {exc}"))
        return None


def _check_text(text: str, settings: Settings, unsubscribe: str | None, titles: Sequence[str],
                urls: Sequence[str], out: list[Failure]) -> None:
    flat = collapse(text)
    missing = [t for t in titles if collapse(t) not in flat]
    if missing:
        out.append(Failure("text-articles", f"the text part lacks {len(missing)} article title(s), e.g. "
                                            f"{short(collapse(missing[0]))!r}"))
    missing = [u for u in urls if u.strip() and u.strip() not in text]
    if missing:
        out.append(Failure("text-articles", f"the text part lacks {len(missing)} article link(s), e.g. "
                                            f"{short(missing[0])!r}"))
    if unsubscribe is not None and unsubscribe not in text:
        out.append(Failure("text-unsubscribe", "the text part lacks the unsubscribe link of List-Unsubscribe"))
    elif unsubscribe is None and "/unsubscribe" not in text:
        out.append(Failure("text-unsubscribe", "the text part has no unsubscribe link"))
    address = collapse(settings.address)
    if address and address not in flat:
        out.append(Failure("postal-address", f"the text part lacks the postal address {short(address)!r}"))


def _check_dkim(raw: bytes, msg, settings: Settings, out: list[Failure]) -> None:
    if "DKIM-Signature" not in msg:
        out.append(Failure("dkim", "no DKIM-Signature, but DKIM signing is configured"))
        return
    try:
        record = dkim_record(settings)
    except ConfigError as exc:
        out.append(Failure("dkim", f"cannot read the DKIM key: {exc}"))
        return
    if not verify(raw, record):
        out.append(Failure("dkim", f"the DKIM signature does not verify against the record of "
                                   f"{settings.dkim.selector}._domainkey.{settings.dkim.domain}"))
        return
    import dkim.util  # dkimpy's tag parser; only needed when a signature is there

    tags = dkim.util.parse_tag_value(msg["DKIM-Signature"].encode("ascii", "replace"))
    signed = {h.strip().lower() for h in tags.get(b"h", b"").decode("ascii", "replace").split(":")}
    unsigned = [h for h in ("list-unsubscribe", "list-unsubscribe-post") if h in {k.lower() for k in msg.keys()}
                and h not in signed]
    if unsigned:
        out.append(Failure("dkim", f"the DKIM signature does not cover {', '.join(unsigned)} (Gmail requires it "
                                   "for one-click unsubscribe)"))

"""What a message that came back to digest is: pure, bytes in, a Report out.

Reports come back to the envelope sender (VERP: bounces+TOKEN@domain) or to
the List-Unsubscribe mailto. One message is one of:

    bounce       a delivery failed for good (RFC 3464 DSN with Action: failed,
                 or a relay's own wording: Exchange/Outlook NDRs, Gmail's plain
                 text, qmail, Postfix without the DSN part)
    delay        a relay is still trying (Action: delayed, 4.x.x)
    delivered    a DSN saying delivered/relayed/expanded (nothing to do)
    complaint    an ARF feedback report (RFC 5965), feedback-type abuse/fraud
    unsubscribe  a member's mail to the List-Unsubscribe mailto
    auto-reply   out of office / vacation (RFC 3834 Auto-Submitted and kin): ignored
    unknown      garbled, or nothing we recognise: quarantined, never guessed at

parse_report() never raises for bad input: garbage is an "unknown" Report with
the reason. It does not decide who the report is about beyond collecting the
evidence (VERP tokens, signed unsubscribe tokens, addresses); attributing it
to a delivery needs the secret key and the database (digest.bounces.process).
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr

from ..models import ENHANCED_STATUS

KINDS = ("bounce", "delay", "delivered", "complaint", "unsubscribe", "auto-reply", "unknown")

_SMTP_CODE = re.compile(r"(?<!\d)([45]\d\d)(?:[ -]|$)")
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\.[A-Za-z]{2,}")
_MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s]+>")
MAX_BYTES = 10 * 1024 * 1024  # a report is small; anything bigger is not one

# Who sends non-standard bounces, and what they call them.
_DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|bounce[s]?|nobody)\b", re.I)
_DAEMON_NAME = re.compile(r"mail delivery (subsystem|system)|mailer-daemon|postmaster|microsoft outlook", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery status notification|returned mail|delivery failure|failure notice"
    r"|mail delivery failed|delivery has failed|non.?delivery|could not be delivered|not delivered"
    r"|unzustellbar|rejected|message not delivered", re.I)
# Phrases that say a failure is permanent or temporary, in the wording relays use.
_PERMANENT = re.compile(
    r"failed permanently|permanent (error|failure|fatal)|this is a permanent error|i've given up"
    r"|could not be delivered|couldn't be delivered|wasn't delivered|delivery has failed|does not exist"
    r"|doesn't exist|user unknown|no such (user|mailbox|recipient)|recipient not found|address not found"
    r"|mailbox unavailable|account (has been )?disabled|recipientnotfound|undeliverable", re.I)
_TEMPORARY = re.compile(
    r"temporar(y|ily)|will (retry|keep trying|try again)|delivery (is )?delayed|still trying|not yet been delivered"
    r"|has not been delivered yet|warning: message", re.I)
# Out of office, vacation, "I have moved": subjects and headers auto-responders use.
_AUTO_SUBJECT = re.compile(r"^\s*(automatic reply|auto(matic)?[- ]?(reply|response)|out of (the )?office"
                           r"|abwesenheitsnotiz|r[ée]ponse automatique|absence|on vacation|away from)", re.I)
_UNSUBSCRIBE_SUBJECT = re.compile(r"^\s*(unsubscribe|remove me|stop)\b", re.I)
# The signed unsubscribe token the List-Unsubscribe mailto puts at the end of its subject (id.version.signature).
_SUBJECT_TOKEN = re.compile(r"(?<![\w.-])([0-9]{1,18}\.[0-9]{1,9}\.[A-Za-z0-9_-]{43})(?![\w-])")


@dataclass(frozen=True)
class Report:
    """What one returned message says. Fields are None/empty when it does not say."""

    kind: str
    shape: str  # how it was read: dsn, arf, exchange, gmail, qmail, postfix, text, auto-reply, mail, garbled
    message_id: str | None = None  # the report's own Message-ID (idempotency key)
    recipient: str | None = None  # the address that failed / complained / asked to leave
    status: str | None = None  # enhanced status code, "5.1.1"
    diagnostic: str | None = None  # Diagnostic-Code or the relay's sentence, one line
    feedback_type: str | None = None  # ARF: abuse, fraud, ...
    reason: str = ""  # why it is unknown, or what was ignored
    verp_tokens: tuple[str, ...] = ()  # the TOKEN of bounces+TOKEN@domain, wherever it occurs
    unsubscribe_tokens: tuple[str, ...] = ()  # signed tokens: the mailto's subject, /unsubscribe/TOKEN links quoted
    original_message_ids: tuple[str, ...] = ()  # Message-IDs of the message it is about
    sender: str | None = None  # From: address of the report (for unsubscribe by mail)
    subject: str = ""
    date: str | None = None  # the report's Date: header, as written

    @property
    def permanent(self) -> bool:
        return self.kind == "bounce" and (self.status or "5").startswith("5")

    @property
    def actionable(self) -> bool:
        """Whether this kind can change a member (the others are filed away as they are)."""
        return self.kind in ("bounce", "delay", "complaint", "unsubscribe")


@dataclass(frozen=True)
class Addresses:
    """The addresses reports come back to, from the config."""

    bounce: str  # "bounces@news.example.org": VERP makes bounces+TOKEN@news.example.org
    unsubscribe: str = ""  # the List-Unsubscribe mailto address, if any
    base_url: str = ""  # where /unsubscribe/TOKEN links point

    @property
    def verp_pattern(self) -> re.Pattern:
        local, _, domain = self.bounce.partition("@")
        return re.compile(re.escape(local) + r"\+([A-Za-z0-9][A-Za-z0-9_-]{2,60})@" + re.escape(domain), re.I)

    @property
    def unsubscribe_pattern(self) -> re.Pattern:
        base = re.escape(self.base_url.rstrip("/")) if self.base_url else r"https?://[^/\s\"'<>]+"
        # Quoted-printable soft breaks (=\r\n) may cut a link in a quoted original.
        return re.compile(base + r"/unsubscribe/([0-9.A-Za-z_=-]{20,140})")


# ---------------------------------------------------------------- entry point


def parse_report(raw: bytes, addresses: Addresses) -> Report:
    """Classify one message that came back. Never raises for bad input."""
    if not isinstance(raw, (bytes, bytearray)) or not raw.strip():
        return Report("unknown", "garbled", reason="empty message")
    if len(raw) > MAX_BYTES:
        return Report("unknown", "garbled", reason=f"{len(raw)} bytes: too large to be a report")
    head = raw[:4096]
    if not re.search(rb"^[A-Za-z0-9-]{1,76}:", head, re.M) or b"\x00" in head:
        return Report("unknown", "garbled", reason="no mail headers at the start")
    try:
        msg = email.message_from_bytes(bytes(raw), policy=email.policy.compat32)
    except Exception as exc:  # the parser is tolerant; this is belt and braces
        return Report("unknown", "garbled", reason=f"unreadable MIME: {type(exc).__name__}")
    if not any(msg.get(h) for h in ("From", "Subject", "Date", "Message-ID", "Content-Type")):
        return Report("unknown", "garbled", reason="no From, Subject, Date or Message-ID header")

    subject = _header_text(msg.get("Subject"))
    common = dict(
        message_id=_message_id(msg.get("Message-ID")),
        sender=_address(msg.get("From")),
        subject=subject,
        date=_one_line(msg.get("Date") or "") or None,
        verp_tokens=_verp_tokens(raw, addresses),
        unsubscribe_tokens=_unsubscribe_tokens(raw, addresses, subject),
    )
    try:
        return (_arf(msg, common) or _dsn(msg, common) or _nonstandard(msg, common)
                or _unsubscribe(msg, common, addresses) or _auto_reply(msg, common)
                or Report("unknown", "mail", reason="not a report digest recognises", **common))
    except Exception as exc:  # a malformed part in a place we did not foresee
        return Report("unknown", "garbled", reason=f"unreadable report: {type(exc).__name__}: {exc}"[:200], **common)


# ---------------------------------------------------------------- helpers


def _one_line(s: str) -> str:
    return " ".join(str(s).split())


def _header_text(value) -> str:
    if value is None:
        return ""
    try:
        return _one_line(str(make_header(decode_header(str(value)))))
    except Exception:
        return _one_line(str(value))


def _message_id(value) -> str | None:
    if not value:
        return None
    m = _MESSAGE_ID.search(str(value))
    return m.group(0) if m else (_one_line(str(value))[:300] or None)


def _address(value) -> str | None:
    if not value:
        return None
    addr = parseaddr(str(value))[1]
    return addr.strip().lower() or None


def _unfold_qp(raw: bytes) -> str:
    text = raw.decode("latin-1")
    return re.sub(r"=\r?\n", "", text)  # quoted-printable soft breaks, so quoted links read whole


def _verp_tokens(raw: bytes, addresses: Addresses) -> tuple[str, ...]:
    found = dict.fromkeys(m.group(1) for m in addresses.verp_pattern.finditer(_unfold_qp(raw)))
    return tuple(found)


def _unsubscribe_tokens(raw: bytes, addresses: Addresses, subject: str) -> tuple[str, ...]:
    """Signed unsubscribe tokens: the one the mailto puts in the subject, then links quoted anywhere."""
    found = dict.fromkeys(_SUBJECT_TOKEN.findall(subject))
    found.update(dict.fromkeys(m.group(1).rstrip("=")
                               for m in addresses.unsubscribe_pattern.finditer(_unfold_qp(raw))))
    return tuple(found)


def _text_of(part: Message) -> str:
    """A text part decoded to str (transfer encoding and charset), whatever it claims."""
    payload = part.get_payload(decode=True)
    if payload is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _html_to_text(html: str) -> str:
    html = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", html)
    html = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>", "\n", html)
    text = re.sub(r"<[^>]+>", " ", html)
    import html as html_lib

    return html_lib.unescape(text)


def _body_text(msg: Message) -> str:
    """The human-readable text of a report: its text parts, not the quoted original."""
    texts: list[str] = []
    for part in _walk_shallow(msg):
        ctype = part.get_content_type()
        if ctype == "text/plain":
            texts.append(_text_of(part))
        elif ctype == "text/html" and not texts:
            texts.append(_html_to_text(_text_of(part)))
    return "\n".join(texts)


def _walk_shallow(msg: Message):
    """Parts of a message without descending into attached messages (the quoted original)."""
    if msg.is_multipart():
        for sub in msg.get_payload():
            if isinstance(sub, Message) and sub.get_content_type() not in ("message/rfc822", "text/rfc822-headers"):
                yield from _walk_shallow(sub)
    else:
        yield msg


def _original_ids(msg: Message) -> tuple[str, ...]:
    """Message-IDs from the attached original (message/rfc822 or text/rfc822-headers)."""
    ids: list[str] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message):
                mid = _message_id(inner.get("Message-ID"))
                if mid:
                    ids.append(mid)
        elif ctype == "text/rfc822-headers":
            m = re.search(r"(?im)^message-id:\s*(<[^>]+>)", _text_of(part))
            if m:
                ids.append(m.group(1))
    return tuple(dict.fromkeys(ids))


def status_code(text: str | None) -> str | None:
    """The first enhanced status code (5.1.1) in a reply or a report's text, or None."""
    m = ENHANCED_STATUS.search(text or "")
    return ".".join(m.groups()) if m else None


def _recipient_of(value: str | None) -> str | None:
    """'rfc822; ada@example.net' -> 'ada@example.net'."""
    if not value:
        return None
    _, _, addr = str(value).partition(";")
    addr = (addr or str(value)).strip().strip("<>").strip()
    return addr.lower() or None


# ---------------------------------------------------------------- ARF (RFC 5965)


def _arf(msg: Message, common: dict) -> Report | None:
    ctype = msg.get_content_type()
    report_type = (msg.get_param("report-type") or "").lower() if ctype == "multipart/report" else ""
    feedback = None
    for part in msg.walk():
        if part.get_content_type() == "message/feedback-report":
            feedback = part
            break
    if feedback is None and report_type != "feedback-report":
        return None
    fields = _fields_of(feedback) if feedback is not None else {}
    ftype = (fields.get("feedback-type") or "").strip().lower()
    recipient = _recipient_of(fields.get("original-rcpt-to"))
    original = _original_ids(msg)
    if not recipient:
        for part in msg.walk():
            if part.get_content_type() == "message/rfc822":
                inner = part.get_payload()
                inner = inner[0] if isinstance(inner, list) and inner else inner
                if isinstance(inner, Message):
                    recipient = _address(inner.get("To"))
                    break
    base = dict(common, recipient=recipient, feedback_type=ftype or None, original_message_ids=original)
    if ftype in ("abuse", "fraud", "virus"):
        return Report("complaint", "arf", **base)
    if ftype == "not-spam":
        return Report("auto-reply", "arf", reason="feedback-type not-spam: nothing to do", **base)
    return Report("unknown", "arf", reason=f"feedback report of type {ftype or '(none)'!r}", **base)


def _fields_of(part: Message) -> dict[str, str]:
    """Header-style fields of a message/feedback-report or a delivery-status block, lower-case names."""
    payload = part.get_payload()
    blocks = payload if isinstance(payload, list) else []
    fields: dict[str, str] = {}
    if blocks:
        for block in blocks:
            if isinstance(block, Message):
                for k, v in block.items():
                    fields.setdefault(k.lower(), _one_line(str(v)))
    else:
        text = payload if isinstance(payload, str) else _text_of(part)
        for k, v in re.findall(r"(?m)^([A-Za-z][A-Za-z0-9-]*):[ \t]*(.*(?:\r?\n[ \t].*)*)", text):
            fields.setdefault(k.lower(), _one_line(v))
    return fields


# ---------------------------------------------------------------- DSN (RFC 3464)

_SEVERITY = {"failed": 3, "delayed": 2, "delivered": 1, "relayed": 1, "expanded": 1}


def _dsn_blocks(part: Message) -> list[dict[str, str]]:
    """The per-recipient blocks of a message/delivery-status part, as dicts."""
    payload = part.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                blocks.append({k.lower(): _one_line(str(v)) for k, v in block.items()})
    else:  # some relays base64 the part, or the parser gave text
        text = _text_of(part) if not isinstance(payload, str) else payload
        for chunk in re.split(r"\r?\n\s*\r?\n", text):
            fields = dict((k.lower(), _one_line(v)) for k, v in
                          re.findall(r"(?m)^([A-Za-z][A-Za-z0-9-]*):[ \t]*(.*(?:\r?\n[ \t].*)*)", chunk))
            if fields:
                blocks.append(fields)
    return [b for b in blocks if "action" in b or "final-recipient" in b or "status" in b]


def _dsn(msg: Message, common: dict) -> Report | None:
    status_part = None
    for part in msg.walk():
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
            status_part = part
            break
    if status_part is None:
        return None
    blocks = _dsn_blocks(status_part)
    if not blocks:
        return None  # a delivery-status part with nothing in it: let the wording decide
    worst = max(blocks, key=lambda b: _SEVERITY.get(b.get("action", "").lower().split()[0] if b.get("action") else "", 0))
    action = (worst.get("action") or "").lower().split()[0] if worst.get("action") else ""
    status = status_code(worst.get("status", "")) or status_code(worst.get("diagnostic-code", ""))
    diagnostic = worst.get("diagnostic-code") or None
    if diagnostic:
        diagnostic = re.sub(r"^smtp;\s*", "", diagnostic, flags=re.I)[:300]
    recipient = _recipient_of(worst.get("final-recipient")) or _recipient_of(worst.get("original-recipient"))
    shape = _shape(msg, common)
    base = dict(common, recipient=recipient, status=status, diagnostic=diagnostic,
                original_message_ids=_original_ids(msg))
    if action == "failed" or (not action and status and status.startswith("5")):
        return Report("bounce", shape, **dict(base, status=status or "5.0.0"))
    if action == "delayed" or (not action and status and status.startswith("4")):
        return Report("delay", shape, **dict(base, status=status or "4.0.0"))
    if action in ("delivered", "relayed", "expanded"):
        return Report("delivered", shape, reason=f"Action: {action}", **base)
    return Report("unknown", "dsn", reason=f"delivery status with Action {action or '(none)'!r}", **base)


def _shape(msg: Message, common: dict) -> str:
    """Who wrote a bounce, for the record (nothing depends on it).

    Read from the report's own headers and the first lines of its text, not
    from the addresses in it: a Postfix DSN about a gmail.com member is Postfix's.
    """
    headers = " ".join(k.lower() for k in msg.keys())
    sender = (str(msg.get("From") or "") + " " + str(msg.get("Message-ID") or "")).lower()
    intro = _body_text(msg)[:600].lower()
    if "x-ms-exchange" in headers or "microsoft" in sender or "delivery has failed to these recipients" in intro \
            or "couldn't be delivered" in intro:
        return "exchange"
    if "this is the mail system at host" in intro or "x-postfix" in headers:
        return "postfix"
    if "googlemail" in sender or "google tried to deliver" in intro:
        return "gmail"
    if "qmail" in intro or "qmail" in sender:
        return "qmail"
    return "dsn"


# ---------------------------------------------------------------- bounces in relays' own words


def _looks_like_bounce(msg: Message, common: dict) -> bool:
    name, addr = parseaddr(str(msg.get("From") or ""))
    if _DAEMON.match(addr or "") or _DAEMON_NAME.search(name or ""):
        return True
    if not msg.get("From") and not msg.get("Return-Path", "").strip("<> "):
        return False
    return bool(_BOUNCE_SUBJECT.search(common["subject"])) and (msg.get("Return-Path", "").strip() in ("<>", "")
                                                               or _PERMANENT.search(_body_text(msg) or "") is not None)


def _nonstandard(msg: Message, common: dict) -> Report | None:
    if not _looks_like_bounce(msg, common):
        return None
    text = _body_text(msg)
    if not text.strip():
        return Report("unknown", "text", reason="a bounce without readable text", **common)
    shape = _shape(msg, common)
    recipient = _failed_address(text, common)
    diagnostic = _diagnostic_line(text)
    status = status_code(diagnostic or "") or status_code(text)
    code = None
    if diagnostic:
        m = _SMTP_CODE.search(diagnostic)
        code = m.group(1) if m else None
    permanent = _PERMANENT.search(text) is not None
    temporary = _TEMPORARY.search(text) is not None
    base = dict(common, recipient=recipient, diagnostic=diagnostic, original_message_ids=_original_ids(msg))
    if status is None and code:
        status = f"{code[0]}.0.0"
    if status is None:
        if permanent and not temporary:
            status = "5.0.0"
        elif temporary:
            status = "4.0.0"
        else:
            return Report("unknown", shape, reason="looks like a bounce but says neither a status nor a failure",
                          **base)
    if status.startswith("5") or (permanent and not temporary and not status.startswith("4")):
        return Report("bounce", shape, status=status, **base)
    if status.startswith("4"):
        return Report("delay", shape, status=status, **base)
    return Report("unknown", shape, status=status, reason=f"status {status} in a bounce's text", **base)


_RECIPIENT_CUES = (
    # Gmail's plain text: "Delivery to the following recipient failed permanently:\n\n  ada@..."
    re.compile(r"following (?:recipient|address)(?:es)?(?: failed[^:\n]*)?:\s*<?(" + _ADDRESS.pattern + r")", re.I),
    # Exchange / Outlook: "Delivery has failed to these recipients or groups:\n\nAda (ada@...)" or "ada@..."
    re.compile(r"(?:recipients or groups|wasn't delivered to|couldn't be delivered to)[^@]{0,80}?<?\(?(?:mailto:)?("
               + _ADDRESS.pattern + r")", re.I),
    re.compile(r"Your message to <?(" + _ADDRESS.pattern + r")>? (?:couldn't|could not|wasn't) be delivered", re.I),
    # qmail: "<ada@example.net>:\n..." at the start of a line
    re.compile(r"(?m)^<(" + _ADDRESS.pattern + r")>:\s*$"),
    # Postfix text without its DSN part: "<ada@example.net>: host mx... said: 550 ..."
    re.compile(r"(?m)^<(" + _ADDRESS.pattern + r")>:"),
    re.compile(r"(?im)^\s*(?:final-recipient|original-recipient):\s*rfc822;\s*<?(" + _ADDRESS.pattern + r")"),
)


def _failed_address(text: str, common: dict) -> str | None:
    for cue in _RECIPIENT_CUES:
        m = cue.search(text)
        if m:
            return m.group(1).lower()
    return None


_DIAGNOSTIC_CUES = (
    re.compile(r"Remote Server returned '([^']+)'", re.I),  # Exchange
    re.compile(r"(?m)^\s*(?:Diagnostic-Code|Remote server returned):?\s*(.+)$", re.I),
    re.compile(r"(?:said|replied|responded|returned):\s*([45]\d\d[ -].+)", re.I),  # Postfix text, qmail
    re.compile(r"(?m)^\s*The error that the other server returned was:\s*\n?\s*(.+)$", re.I),  # Gmail
    re.compile(r"(?m)^.*?\b([45]\d\d[ -]" + ENHANCED_STATUS.pattern + r".*)$"),  # any reply with an enhanced code
    re.compile(r"(?m)^.*?\b([45]\d\d (?:#|\w).*)$"),  # any SMTP reply
)


def _diagnostic_line(text: str) -> str | None:
    for cue in _DIAGNOSTIC_CUES:
        m = cue.search(text)
        if m:
            return _one_line(m.group(1))[:300]
    return None


# ---------------------------------------------------------------- unsubscribe by mail, auto-replies


def _auto_submitted(msg: Message) -> str | None:
    """Why a message is an automatic one (RFC 3834 and the headers older responders use), or None."""
    value = (msg.get("Auto-Submitted") or "").strip().lower()
    if value and value != "no":
        return f"Auto-Submitted: {value}"
    for header in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress-Reply", "X-Autoresponder"):
        if msg.get(header):
            return f"{header}: {_one_line(str(msg.get(header)))}"
    precedence = (msg.get("Precedence") or "").strip().lower()
    if precedence in ("auto_reply", "auto-reply"):
        return f"Precedence: {precedence}"
    if (msg.get("X-MS-Exchange-Inbox-Rules-Loop") or msg.get("X-MS-Has-Attach") is not None) and \
            _AUTO_SUBJECT.search(_header_text(msg.get("Subject"))):
        return "Outlook automatic reply"
    return None


def _auto_reply(msg: Message, common: dict) -> Report | None:
    why = _auto_submitted(msg)
    if why is None and _AUTO_SUBJECT.search(common["subject"]):
        why = f"subject {common['subject'][:60]!r}"
    if why is None:
        return None
    return Report("auto-reply", "auto-reply", reason=f"automatic reply ({why}): ignored",
                  original_message_ids=_in_reply_to(msg), **common)


def _in_reply_to(msg: Message) -> tuple[str, ...]:
    ids = _MESSAGE_ID.findall(" ".join(str(msg.get(h) or "") for h in ("In-Reply-To", "References")))
    return tuple(dict.fromkeys(ids))


def _unsubscribe(msg: Message, common: dict, addresses: Addresses) -> Report | None:
    if _auto_submitted(msg):
        return None
    target = (addresses.unsubscribe or "").lower()
    recipients = [a.lower() for _, a in getaddresses([str(msg.get(h) or "") for h in
                                                      ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")])]
    to_mailto = bool(target) and target in recipients
    asks = _UNSUBSCRIBE_SUBJECT.search(common["subject"]) is not None
    asks = asks or (to_mailto and _SUBJECT_TOKEN.search(common["subject"]) is not None)  # the mailto's own subject
    if not asks and to_mailto:
        body = _body_text(msg).strip().lower()
        asks = body.startswith("unsubscribe") or not body
    if not (asks and (to_mailto or common["unsubscribe_tokens"] or common["verp_tokens"])):
        return None
    return Report("unsubscribe", "mail", recipient=common["sender"], original_message_ids=_in_reply_to(msg),
                  **common)

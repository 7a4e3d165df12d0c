"""SendGrid's signed Event Webhook: ECDSA (P-256, SHA-256) over timestamp + body, then a batch of events.

    X-Twilio-Email-Event-Webhook-Signature: base64 DER ECDSA signature
    X-Twilio-Email-Event-Webhook-Timestamp: 1700000000
    [{"email": "...", "event": "bounce", "sg_event_id": "...", "smtp-id": "<...>", "type": "bounce",
      "status": "5.1.1", "reason": "...", "digest": "TOKEN"}, ...]

The verification key is the one SendGrid shows when signing is switched on
(base64 of the DER public key; its PEM form is taken too). Our unique_args
(X-SMTPAPI on the message) come back as fields of each event.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

from ...errors import ConfigError, WebhookError
from . import ProviderEvent, Skipped, angle, one_line, status_in, text_field

PROVIDER = "sendgrid"
WINDOW = 600  # seconds either side of now a signature's timestamp may be
SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
# dropped: SendGrid did not send, because the address is on one of its lists
# (or is not an address); these reasons name the suppression lists.
_SUPPRESSION = ("bounced address", "spam reporting address", "unsubscribed address", "invalid")


def load_public_key(text: str, source: str = "") -> ec.EllipticCurvePublicKey:
    """The configured verification key; ConfigError naming [providers.sendgrid] if it is not a P-256 key."""
    try:
        if "BEGIN PUBLIC KEY" in text:
            key = load_pem_public_key(text.encode())
        else:
            key = load_der_public_key(base64.b64decode("".join(text.split()), validate=True))
    except ValueError:
        raise ConfigError(source, "providers.sendgrid.public_key", "is not a public key (base64 DER or PEM)") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ConfigError(source, "providers.sendgrid.public_key", "must be an ECDSA P-256 key")
    return key


def verify_sendgrid(body: bytes, signature: str | None, timestamp: str | None, key: ec.EllipticCurvePublicKey,
                    *, now: datetime) -> None:
    """WebhookError unless the signature over timestamp + body is good and the timestamp fresh."""
    if not signature or not timestamp:
        raise WebhookError(PROVIDER, f"no {SIGNATURE} / {TIMESTAMP} headers", 401)
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (ValueError, InvalidSignature):
        raise WebhookError(PROVIDER, "bad signature (is public_key the Event Webhook's verification key?)") from None
    try:
        age = now.timestamp() - int(timestamp)
    except ValueError:
        raise WebhookError(PROVIDER, f"timestamp {timestamp[:20]!r} is not a number") from None
    if abs(age) > WINDOW:
        raise WebhookError(PROVIDER, f"timestamp {int(age)} seconds away from now (more than {WINDOW})")


def parse_sendgrid(body: bytes) -> tuple[list[ProviderEvent], list[Skipped]]:
    """The events of a verified batch, and those that could not be read (skipped, reported)."""
    try:
        batch = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError(PROVIDER, "body is not JSON", 400) from None
    if not isinstance(batch, list):
        raise WebhookError(PROVIDER, "body is not a list of events", 400)
    events, skipped = [], []
    for n, e in enumerate(batch, 1):
        event_id = text_field(e, "sg_event_id", 200) if isinstance(e, dict) else None
        if not event_id or not isinstance(e.get("event"), str):
            skipped.append(Skipped(n, "not an event (no sg_event_id or event)"))
            continue
        events.append(_event(e, event_id))
    return events, skipped


def _event(e: dict, event_id: str) -> ProviderEvent:
    name, bounce_type = e["event"][:40], text_field(e, "type", 20) or ""
    reason = text_field(e, "reason") or text_field(e, "response")
    if name == "bounce":
        kind = "delay" if bounce_type == "blocked" else "bounce"
    elif name == "dropped":
        kind = "suppressed" if (reason or "").lower().startswith(_SUPPRESSION) else "other"
    else:
        kind = {"deferred": "delay", "spamreport": "complaint", "unsubscribe": "unsubscribe",
                "group_unsubscribe": "unsubscribe", "delivered": "delivered"}.get(name, "other")
    return ProviderEvent(
        provider=PROVIDER, event_id=event_id, kind=kind, what="/".join(x for x in (name, bounce_type) if x),
        recipient=text_field(e, "email"), tag=text_field(e, "digest", 100), message_id=angle(text_field(e, "smtp-id")),
        status=status_in(e.get("status"), reason) if kind in ("bounce", "delay") else None,
        diagnostic=one_line(reason))

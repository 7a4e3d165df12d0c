"""Mailgun webhooks: HMAC-SHA256 of timestamp and token with the signing key, then one event per request.

    {"signature": {"timestamp": "1700000000", "token": "50 random characters", "signature": "hex"},
     "event-data": {"event": "failed", "severity": "permanent", "id": "...", "recipient": "...",
                    "user-variables": {"digest": "TOKEN"}, "message": {"headers": {"message-id": "..."}},
                    "delivery-status": {"code": 550, "message": "...", "description": "..."}}}

The timestamp must be within WINDOW seconds of now, and each token is
accepted once (the caller records it: digest.db.providers.use_token), so a
signed request seen in transit cannot be played again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

from ...errors import WebhookError
from . import ProviderEvent, angle, one_line, status_in, text_field

PROVIDER = "mailgun"
WINDOW = 600  # seconds either side of now a signature's timestamp may be


def verify_mailgun(body: bytes, signing_key: str, *, now: datetime) -> tuple[dict, str]:
    """(the event-data, the token to record as used) once the signature is good and fresh; else WebhookError."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError(PROVIDER, "body is not JSON", 400) from None
    sig = payload.get("signature") if isinstance(payload, dict) else None
    if not isinstance(sig, dict) or not all(isinstance(sig.get(k), str) for k in ("timestamp", "token", "signature")):
        raise WebhookError(PROVIDER, "no signature (timestamp, token, signature) in the body", 401)
    expected = hmac.new(signing_key.encode(), (sig["timestamp"] + sig["token"]).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, sig["signature"].lower()):
        raise WebhookError(PROVIDER, "bad signature (is signing_key the HTTP webhook signing key?)")
    try:
        age = now.timestamp() - int(sig["timestamp"])
    except ValueError:
        raise WebhookError(PROVIDER, f"timestamp {sig['timestamp'][:20]!r} is not a number") from None
    if abs(age) > WINDOW:
        raise WebhookError(PROVIDER, f"timestamp {int(age)} seconds away from now (more than {WINDOW})")
    event = payload.get("event-data")
    if not isinstance(event, dict):
        raise WebhookError(PROVIDER, "no event-data in the body", 400)
    return event, sig["token"][:200]


def parse_mailgun(e: dict) -> list[ProviderEvent]:
    """The one event of a verified Mailgun webhook."""
    name = text_field(e, "event", 40) or ""
    event_id = text_field(e, "id", 200)
    if not event_id:
        raise WebhookError(PROVIDER, "event without an id", 400)
    variables = e.get("user-variables") if isinstance(e.get("user-variables"), dict) else {}
    message = e.get("message") if isinstance(e.get("message"), dict) else {}
    headers = message.get("headers") if isinstance(message.get("headers"), dict) else {}
    status = e.get("delivery-status") if isinstance(e.get("delivery-status"), dict) else {}
    severity = text_field(e, "severity", 20) or ""
    reason = text_field(e, "reason", 40) or ""
    if name == "failed":
        if reason.startswith("suppress-"):
            kind = "suppressed"
        else:
            kind = "bounce" if severity == "permanent" else "delay"
    else:
        kind = {"complained": "complaint", "unsubscribed": "unsubscribe", "delivered": "delivered"}.get(name, "other")
    code = status.get("code")
    return [ProviderEvent(
        provider=PROVIDER, event_id=event_id, kind=kind, what="/".join(x for x in (name, severity, reason) if x),
        recipient=text_field(e, "recipient"),
        tag=variables.get("digest") if isinstance(variables.get("digest"), str) else None,
        message_id=angle(text_field(headers, "message-id")),
        status=status_in(status.get("enhanced-code"), status.get("message"), status.get("description"),
                         code if isinstance(code, int) else None) if kind in ("bounce", "delay") else None,
        diagnostic=one_line(status.get("message") or status.get("description")))]

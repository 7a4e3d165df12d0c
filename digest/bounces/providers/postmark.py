"""Postmark webhooks: basic authentication and/or a secret path, then one event per request.

Postmark signs nothing; what it supports is credentials in the webhook URL
(https://user:password@host/hooks/postmark, sent as HTTP basic
authentication) and any path we choose. Both are compared in constant time.
The event names the message by Postmark's own MessageID; ours comes back in
Metadata (X-PM-Metadata-digest on the message).
"""

from __future__ import annotations

import base64
import hmac
import json

from ...config import PostmarkSettings
from ...errors import WebhookError
from . import ProviderEvent, one_line, status_in, text_field

PROVIDER = "postmark"
# Bounce Types that mean the address is gone or the message refused for good
# (Postmark's own list; the rest are transient or not about the address).
HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated", "Unsubscribe", "AddressChange"}
TRANSIENT = {"SoftBounce", "Transient", "DnsError", "Blocked", "ContentRelated", "MailFrontier",
             "ChallengeVerification", "SMTPApiError", "InboundError", "DMARCPolicy", "TemplateRenderingFailed",
             "Undeliverable", "Unknown", "VirusNotification", "SpamNotification"}


def verify_postmark(authorization: str | None, path_secret: str | None, settings: PostmarkSettings) -> None:
    """WebhookError(401) unless the request carries what is configured (basic auth, secret path, or both)."""
    if settings.secret_path and not hmac.compare_digest((path_secret or "").encode(), settings.secret_path.encode()):
        raise WebhookError(PROVIDER, "wrong or missing secret path", 401)
    if settings.username:
        expected = base64.b64encode(f"{settings.username}:{settings.password}".encode()).decode()
        given = (authorization or "").removeprefix("Basic ").strip()
        if not (authorization or "").startswith("Basic ") or not hmac.compare_digest(given.encode(),
                                                                                      expected.encode()):
            raise WebhookError(PROVIDER, "wrong or missing basic authentication", 401)


def parse_postmark(body: bytes) -> list[ProviderEvent]:
    """The one event of a verified Postmark webhook."""
    try:
        e = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError(PROVIDER, "body is not JSON", 400) from None
    if not isinstance(e, dict) or not isinstance(e.get("RecordType"), str):
        raise WebhookError(PROVIDER, "body is not a Postmark event (no RecordType)", 400)
    record = e["RecordType"]
    metadata = e.get("Metadata") if isinstance(e.get("Metadata"), dict) else {}
    tag = metadata.get("digest") if isinstance(metadata.get("digest"), str) else None
    pm_id = text_field(e, "MessageID", 100) or ""
    recipient = text_field(e, "Email") or text_field(e, "Recipient")
    base = dict(provider=PROVIDER, tag=tag, recipient=recipient, detail={"postmark_message": pm_id} if pm_id else {})
    if record in ("Bounce", "SpamComplaint"):
        kind_name = text_field(e, "Type", 60) or ""
        if record == "SpamComplaint" or kind_name == "SpamComplaint":
            kind = "complaint"
        else:
            kind = "bounce" if kind_name in HARD else "delay" if kind_name in TRANSIENT else "other"
        return [ProviderEvent(event_id=f"{record}:{e.get('ID')}", kind=kind, what=f"{record}/{kind_name}",
                              status=status_in(e.get("Details"), e.get("Description")) if kind != "complaint"
                              else None, diagnostic=one_line(e.get("Details") or e.get("Description")), **base)]
    if record == "SubscriptionChange":
        reason = text_field(e, "SuppressionReason", 60) or ""
        if e.get("SuppressSending") is True:
            kind = "unsubscribe" if reason == "ManualSuppression" else "suppressed"
        else:
            kind = "other"  # reactivated at Postmark: a member who left does not come back by this
        event_id = f"SubscriptionChange:{pm_id}:{recipient}:{e.get('ChangedAt')}:{e.get('SuppressSending')}"
        return [ProviderEvent(event_id=event_id, kind=kind, what=f"SubscriptionChange/{reason or 'reactivated'}",
                              **base)]
    if record == "Delivery":
        return [ProviderEvent(event_id=f"Delivery:{pm_id}:{recipient}", kind="delivered", what="Delivery",
                              diagnostic=one_line(e.get("Details")), **base)]
    return [ProviderEvent(event_id=f"{record}:{pm_id}:{recipient}:{e.get('ReceivedAt') or e.get('ID')}",
                          kind="other", what=record[:60], **base)]

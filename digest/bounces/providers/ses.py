"""Amazon SES events through an SNS topic: the SNS signature verified, then the SES event read.

An SNS message is JSON whose fields, in a fixed order, make the string that
SNS signs with the private key of a certificate it publishes at
SigningCertURL (SignatureVersion 1: RSA with SHA-1; 2: RSA with SHA-256).
The URL is taken only when it is https on an sns.REGION.amazonaws.com host
(anyone can put any URL in a message; only Amazon can serve that host over
https); each certificate is fetched once and kept. Only messages from the
configured topic are read, and only its SubscriptionConfirmation is
confirmed. A Notification's Message is the SES event (a configuration set's
event publishing: eventType; an identity's notifications: notificationType).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from typing import Callable
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ...errors import WebhookError
from . import ProviderEvent, angle, one_line, status_in, text_field

PROVIDER = "ses"
_CERT_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
MAX_CERTIFICATE = 64 * 1024
MAX_KEPT = 16  # certificates kept (SNS uses one per region at a time)


def check_cert_url(url: str) -> str:
    """The URL when SNS could have published a signing certificate there; else WebhookError."""
    parts = urlsplit(url if isinstance(url, str) else "")
    if parts.scheme != "https":
        raise WebhookError(PROVIDER, f"SigningCertURL {url!r} is not https")
    if parts.username or parts.password or parts.port not in (None, 443) or not parts.hostname \
            or not _CERT_HOST.fullmatch(parts.hostname) or parts.netloc.lower() != parts.hostname:
        raise WebhookError(PROVIDER, f"SigningCertURL {url!r} is not on an sns.<region>.amazonaws.com host")
    if not parts.path.endswith(".pem") or parts.query or parts.fragment:
        raise WebhookError(PROVIDER, f"SigningCertURL {url!r} is not a .pem certificate")
    return url


class CertificateCache:
    """SNS signing certificates by URL: each fetched once (through `fetch`) and kept for the process."""

    def __init__(self, fetch: Callable[[str], bytes]):
        self._fetch = fetch  # url -> PEM bytes; raises on failure (digest.outbound in the app)
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._lock = threading.Lock()

    def seed(self, url: str, pem: bytes) -> None:
        """Keep a certificate for a URL without fetching it (tests; a certificate fetched elsewhere)."""
        self._keys[url] = _public_key(url, pem)

    def key(self, url: str) -> rsa.RSAPublicKey:
        check_cert_url(url)
        with self._lock:
            if url in self._keys:
                return self._keys[url]
        # Fetched outside the lock: a slow or failing URL must not hold up messages signed with a kept one.
        try:
            pem = self._fetch(url)
        except Exception as exc:  # the fetcher's own error, in one line
            raise WebhookError(PROVIDER, f"cannot fetch the signing certificate {url}: {exc}") from None
        key = _public_key(url, pem)
        with self._lock:
            if len(self._keys) >= MAX_KEPT:  # SNS rotates its certificate rarely: the oldest goes
                self._keys.pop(next(iter(self._keys)))
            self._keys[url] = key
        return key


def _public_key(url: str, pem: bytes) -> rsa.RSAPublicKey:
    try:
        key = x509.load_pem_x509_certificate(pem[:MAX_CERTIFICATE]).public_key()
    except ValueError:
        raise WebhookError(PROVIDER, f"{url} is not a PEM certificate") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise WebhookError(PROVIDER, f"{url} is not an RSA certificate")
    return key


def string_to_sign(message: dict) -> bytes:
    """The bytes SNS signed: 'Name\\nvalue\\n' for each signed field present, in SNS's order."""
    fields = _SIGNED_FIELDS.get(message.get("Type"))
    if fields is None:
        raise WebhookError(PROVIDER, f"unknown SNS message Type {message.get('Type')!r}", 400)
    out = []
    for name in fields:
        value = message.get(name)
        if value is None and name == "Subject":
            continue
        if not isinstance(value, str):
            raise WebhookError(PROVIDER, f"SNS message without {name}", 400)
        out.append(f"{name}\n{value}\n")
    return "".join(out).encode("utf-8")


def verify_sns(body: bytes, *, topic_arn: str, certificates: CertificateCache) -> dict:
    """The SNS message, once its signature is good and it is from our topic; else WebhookError."""
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError(PROVIDER, "body is not JSON", 400) from None
    if not isinstance(message, dict):
        raise WebhookError(PROVIDER, "body is not an SNS message", 400)
    if message.get("TopicArn") != topic_arn:
        raise WebhookError(PROVIDER, f"message from topic {str(message.get('TopicArn'))[:200]!r}, "
                                     f"not the configured {topic_arn}")
    algorithm = _HASHES.get(str(message.get("SignatureVersion")))
    if algorithm is None:
        raise WebhookError(PROVIDER, f"unknown SignatureVersion {message.get('SignatureVersion')!r}")
    try:
        signature = base64.b64decode(str(message.get("Signature") or ""), validate=True)
    except ValueError:
        raise WebhookError(PROVIDER, "Signature is not base64") from None
    data = string_to_sign(message)
    key = certificates.key(message.get("SigningCertURL"))
    try:
        key.verify(signature, data, padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise WebhookError(PROVIDER, f"bad signature on SNS message {str(message.get('MessageId'))[:80]}") from None
    return message


def subscribe_url(message: dict) -> str:
    """Where to confirm a verified SubscriptionConfirmation: an https URL on the SNS host of its region."""
    url = message.get("SubscribeURL")
    parts = urlsplit(url if isinstance(url, str) else "")
    if parts.scheme != "https" or not parts.hostname or not _CERT_HOST.fullmatch(parts.hostname) \
            or parts.username or parts.port not in (None, 443):
        raise WebhookError(PROVIDER, f"SubscribeURL {str(url)[:200]!r} is not on an sns.<region>.amazonaws.com host")
    return url


# ---------------------------------------------------------------- the SES event inside


def parse_ses(message: dict) -> list[ProviderEvent]:
    """The events of a verified SNS Notification carrying an SES event (one per recipient named)."""
    try:
        event = json.loads(message["Message"])
    except (ValueError, TypeError):
        raise WebhookError(PROVIDER, "the SNS Message is not an SES event (not JSON)", 400) from None
    if not isinstance(event, dict):
        raise WebhookError(PROVIDER, "the SNS Message is not an SES event", 400)
    kind_name = event.get("eventType") or event.get("notificationType")
    mail = event.get("mail") if isinstance(event.get("mail"), dict) else {}
    tags = mail.get("tags") if isinstance(mail.get("tags"), dict) else {}
    tag_values = tags.get("digest")
    common = mail.get("commonHeaders") if isinstance(mail.get("commonHeaders"), dict) else {}
    base = dict(provider=PROVIDER, tag=tag_values[0] if isinstance(tag_values, list) and tag_values
                and isinstance(tag_values[0], str) else None,
                message_id=angle(text_field(common, "messageId")))
    sns_id = str(message.get("MessageId"))[:200]
    recipients = _recipients(kind_name, event)
    out = []
    for n, (kind, what, r) in enumerate(recipients):
        out.append(ProviderEvent(event_id=sns_id if len(recipients) == 1 else f"{sns_id}:{n}", kind=kind, what=what,
                                 recipient=text_field(r, "emailAddress") if isinstance(r, dict) else
                                 (r if isinstance(r, str) else None),
                                 status=status_in(r.get("status"), r.get("diagnosticCode"))
                                 if isinstance(r, dict) else None,
                                 diagnostic=one_line(r.get("diagnosticCode")) if isinstance(r, dict) else None,
                                 **base))
    if not out:
        out.append(ProviderEvent(event_id=sns_id, kind="other", what=str(kind_name)[:60], **base))
    return out


def _recipients(kind_name, event: dict) -> list[tuple[str, str, object]]:
    """(kind, what, recipient object or address) for each recipient the SES event names."""
    def listed(obj, key):
        value = obj.get(key) if isinstance(obj, dict) else None
        return value if isinstance(value, list) else []

    if kind_name == "Bounce":
        b = event.get("bounce") if isinstance(event.get("bounce"), dict) else {}
        what = f"Bounce/{b.get('bounceType')}/{b.get('bounceSubType')}"
        if b.get("bounceSubType") in ("Suppressed", "OnAccountSuppressionList"):
            kind = "suppressed"
        else:
            kind = "bounce" if b.get("bounceType") == "Permanent" else "delay"
        return [(kind, what, r) for r in listed(b, "bouncedRecipients")]
    if kind_name == "Complaint":
        c = event.get("complaint") if isinstance(event.get("complaint"), dict) else {}
        suppressed = c.get("complaintSubType") == "OnAccountSuppressionList"
        what = f"Complaint/{c.get('complaintFeedbackType') or c.get('complaintSubType') or 'abuse'}"
        return [("suppressed" if suppressed else "complaint", what, r) for r in listed(c, "complainedRecipients")]
    if kind_name == "Delivery":
        return [("delivered", "Delivery", r) for r in listed(event.get("delivery"), "recipients")]
    if kind_name == "Subscription":  # SES list management: the recipient left by SES's own unsubscribe link
        prefs = (event.get("subscription") or {}).get("newTopicPreferences") \
            if isinstance(event.get("subscription"), dict) else None
        if isinstance(prefs, dict) and prefs.get("unsubscribeAll") is True:
            return [("unsubscribe", "Subscription/unsubscribeAll", r) for r in listed(event.get("mail"), "destination")]
        return []
    if kind_name == "DeliveryDelay":
        d = event.get("deliveryDelay") if isinstance(event.get("deliveryDelay"), dict) else {}
        return [("delay", f"DeliveryDelay/{d.get('delayType')}", r) for r in listed(d, "delayedRecipients")]
    return []

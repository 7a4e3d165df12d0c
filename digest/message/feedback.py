"""What a mail provider needs on each message so its webhooks come back attributed to a delivery.

A provider that sends for us (SES, Postmark, Mailgun, SendGrid) keeps the
bounces and complaints itself and tells us by webhook. The webhook names the
message by what we put on it: each provider echoes back a value we give it
(SES message tags, Postmark metadata, Mailgun variables, SendGrid unique
args), and we give it the delivery's signed token, the same token VERP puts
in the envelope sender (digest.message.verp): the delivery id and an HMAC of
it, so a webhook can only name a delivery we made. The provider strips these
headers before the message leaves it; none of them is DKIM-signed.

    X-SES-CONFIGURATION-SET: digest            X-SES-MESSAGE-TAGS: digest=7ps-k4mq2x9dnb3c7vha
    X-PM-Message-Stream: broadcast             X-PM-Metadata-digest: 7ps-k4mq2x9dnb3c7vha
    X-Mailgun-Tag: digest                      X-Mailgun-Variables: {"digest": "7ps-k4mq2x9dnb3c7vha"}
    X-SMTPAPI: {"unique_args": {"digest": "7ps-k4mq2x9dnb3c7vha"}}

With no [providers.*] section nothing is added: the bytes are what they were.
"""

from __future__ import annotations

from email.parser import BytesHeaderParser

from ..config import ProviderSettings, Settings
from .verp import ReturnPath

TAG = "digest"  # the name of the value each provider echoes back

# The header that carries the token, per provider (what `digest check` looks for).
TOKEN_HEADERS = {
    "ses": "X-SES-MESSAGE-TAGS",
    "postmark": "X-PM-Metadata-" + TAG,
    "mailgun": "X-Mailgun-Variables",
    "sendgrid": "X-SMTPAPI",
}


class DeliveryTag:
    """The signed delivery token a provider echoes back, and reading it again."""

    def __init__(self, secret_key: str):
        # The VERP token's signer; the address part of ReturnPath is not used here.
        self._signer = ReturnPath(secret_key, "feedback@digest.invalid")

    def token(self, delivery_id: int) -> str:
        return self._signer.token(delivery_id)

    def read(self, token: str) -> int:
        """The delivery id; TokenError when the token is not one we made."""
        return self._signer.read(token)


class FeedbackHeaders:
    """The header lines each message gets for the configured providers."""

    def __init__(self, providers: ProviderSettings, secret_key: str):
        self.tag = DeliveryTag(secret_key)
        fixed, token_lines = [], []
        if providers.ses is not None:
            if providers.ses.configuration_set:
                fixed.append(f"X-SES-CONFIGURATION-SET: {providers.ses.configuration_set}")
            token_lines.append(f"X-SES-MESSAGE-TAGS: {TAG}=%s")
        if providers.postmark is not None:
            if providers.postmark.message_stream:
                fixed.append(f"X-PM-Message-Stream: {providers.postmark.message_stream}")
            token_lines.append(f"X-PM-Metadata-{TAG}: %s")
        if providers.mailgun is not None:
            fixed.append(f"X-Mailgun-Tag: {providers.mailgun.tag}")
            token_lines.append(f'X-Mailgun-Variables: {{"{TAG}": "%s"}}')
        if providers.sendgrid is not None:
            token_lines.append(f'X-SMTPAPI: {{"unique_args": {{"{TAG}": "%s"}}}}')
        self._fixed = "".join(line + "\r\n" for line in fixed).encode("ascii")
        self._per_message = "".join(line + "\r\n" for line in token_lines)

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedbackHeaders | None:
        """None when no provider is configured (nothing is added to any message)."""
        if not settings.providers.configured:
            return None
        return cls(settings.providers, settings.secret_key)

    def lines(self, delivery_id: int) -> bytes:
        """The header lines (CRLF-ended) to put in front of one delivery's message."""
        token = self.tag.token(delivery_id)
        return self._fixed + (self._per_message % ((token,) * self._per_message.count("%s"))).encode("ascii")


def missing_headers(message: bytes, settings: Settings) -> list[str]:
    """One warning per configured provider whose header is not on the message (for `digest check`)."""
    headers = BytesHeaderParser().parsebytes(message)
    return [f"[providers.{name}] is configured but the message has no {TOKEN_HEADERS[name]} header: "
            f"{name}'s webhooks about it cannot be attributed to its member"
            for name in settings.providers.configured if headers.get(TOKEN_HEADERS[name]) is None]


def settings_warnings(settings: Settings) -> list[str]:
    """What a configured provider lacks for its events to come back attributed (for `digest check`)."""
    out = []
    if settings.providers.ses is not None and not settings.providers.ses.configuration_set:
        out.append("[providers.ses] has no configuration_set: SES publishes events with our message tag "
                   "only through a configuration set (X-SES-CONFIGURATION-SET)")
    return out

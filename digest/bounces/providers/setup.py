"""What the operator sets up on each provider's side for its webhook (for `digest providers check`), pure."""

from __future__ import annotations

from ...config import Settings
from ...message.feedback import TOKEN_HEADERS


def setup_steps(settings: Settings) -> dict[str, list[str]]:
    """{provider: [one line per thing to do or know]} for each configured provider."""
    base = settings.base_url
    p = settings.providers
    out: dict[str, list[str]] = {}
    if p.ses is not None:
        out["ses"] = [
            f"SNS: subscribe {base}/hooks/ses (protocol HTTPS) to the topic {p.ses.topic_arn}; "
            "digest confirms the subscription itself",
            "SES: in the configuration set"
            + (f" {p.ses.configuration_set!r}" if p.ses.configuration_set else " (set configuration_set here)")
            + ", add an SNS event destination for that topic with the events Bounce, Complaint, Delivery, "
              "Delivery delay (and Subscription, with SES list management)",
            f"each message carries {TOKEN_HEADERS['ses']}: digest=TOKEN (and X-SES-CONFIGURATION-SET)",
            "test: send to bounce@simulator.amazonses.com through the configuration set",
        ]
    if p.postmark is not None:
        path = f"/hooks/postmark/{p.postmark.secret_path}" if p.postmark.secret_path else "/hooks/postmark"
        scheme, _, host = base.partition("://")
        url = f"{scheme}://{p.postmark.username}:PASSWORD@{host}{path}" if p.postmark.username else f"{base}{path}"
        out["postmark"] = [
            f"Postmark: in the message stream{' ' + repr(p.postmark.message_stream) if p.postmark.message_stream else ''}"
            f", add a webhook to {url}",
            "tick Bounce, Spam Complaint, Subscription Change and Delivery",
            f"each message carries {TOKEN_HEADERS['postmark']}: TOKEN"
            + (f" and X-PM-Message-Stream: {p.postmark.message_stream}" if p.postmark.message_stream else ""),
            "test: the webhook's Send test button",
        ]
    if p.mailgun is not None:
        out["mailgun"] = [
            f"Mailgun: Sending > Webhooks: add {base}/hooks/mailgun for Permanent failure, Temporary failure, "
            "Spam complaints, Unsubscribes and Delivered",
            "signing_key is the HTTP webhook signing key shown on that page",
            f"each message carries {TOKEN_HEADERS['mailgun']}: {{\"digest\": \"TOKEN\"}} and "
            f"X-Mailgun-Tag: {p.mailgun.tag}",
            "test: the webhook's Test button",
        ]
    if p.sendgrid is not None:
        out["sendgrid"] = [
            f"SendGrid: Settings > Mail Settings > Event Webhook: HTTP POST URL {base}/hooks/sendgrid; tick "
            "Bounced, Dropped, Deferred, Delivered, Spam Reports, Unsubscribes, Group Unsubscribes",
            "switch on Signed Event Webhook; public_key is the verification key it shows",
            f"each message carries {TOKEN_HEADERS['sendgrid']}: {{\"unique_args\": {{\"digest\": \"TOKEN\"}}}}",
            "test: the Test Your Integration button",
        ]
    return out

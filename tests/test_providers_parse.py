"""Each provider's event read into a ProviderEvent (pure: no database, no app), and the bounce table's kind."""

from __future__ import annotations

import json

import pytest

import provider_samples as p
from digest.bounces.feedback import table_kind
from digest.bounces.providers import ProviderEvent, status_in
from digest.bounces.providers.mailgun import parse_mailgun, verify_mailgun
from digest.bounces.providers.postmark import parse_postmark
from digest.bounces.providers.sendgrid import parse_sendgrid
from digest.bounces.providers.ses import CertificateCache, parse_ses, string_to_sign, verify_sns
from digest.config import BounceSettings
from digest.errors import WebhookError

TO = "ada@example.net"


def one(events) -> ProviderEvent:
    assert len(events) == 1
    return events[0]


@pytest.mark.parametrize("event, kind, status", [
    (p.ses_event("Bounce/Permanent", TO, status="5.1.1"), "bounce", "5.1.1"),
    (p.ses_event("Bounce/Transient", TO, status="4.2.2", sub_type="MailboxFull"), "delay", "4.2.2"),
    (p.ses_event("Bounce/Permanent", TO, sub_type="Suppressed"), "suppressed", "5.1.1"),
    (p.ses_event("Complaint", TO), "complaint", None),
    (p.ses_event("Delivery", TO), "delivered", None),
    (p.ses_event("DeliveryDelay", TO), "delay", "4.2.2"),
    (p.ses_event("Subscription", TO), "unsubscribe", None),
    ({"eventType": "Open", "mail": p.ses_mail(to=TO)}, "other", None),
])
def test_ses(event, kind, status):
    e = one(parse_ses(p.sns_notification(event, message_id="m-1")))
    assert (e.kind, e.status, e.event_id) == (kind, status, "m-1")


def test_ses_reads_our_tag_and_message_id():
    e = one(parse_ses(p.sns_notification(p.ses_event("Complaint", TO, tag="7-abc", message_id="<edition.x.7@o.org>"))))
    assert (e.tag, e.message_id, e.recipient) == ("7-abc", "<edition.x.7@o.org>", TO)


@pytest.mark.parametrize("body, kind", [
    (p.postmark("Bounce", TO, type_="HardBounce"), "bounce"),
    (p.postmark("Bounce", TO, type_="SoftBounce"), "delay"),
    (p.postmark("Bounce", TO, type_="AutoResponder"), "other"),
    (p.postmark("SpamComplaint", TO, type_="SpamComplaint"), "complaint"),
    (p.postmark("SubscriptionChange", TO, reason="HardBounce"), "suppressed"),
    (p.postmark("SubscriptionChange", TO, reason="SpamComplaint"), "suppressed"),
    (p.postmark("SubscriptionChange", TO, reason="ManualSuppression"), "unsubscribe"),
    (p.postmark("SubscriptionChange", TO, suppress=False), "other"),  # reactivated: nobody comes back by it
    (p.postmark("Delivery", TO), "delivered"),
])
def test_postmark(body, kind):
    assert one(parse_postmark(body)).kind == kind


def test_postmark_finds_the_status_code_in_its_details():
    e = one(parse_postmark(p.postmark("Bounce", TO, details="smtp;550 5.1.1 The email account does not exist")))
    assert e.status == "5.1.1"


@pytest.mark.parametrize("kw, kind, status", [
    (dict(event="failed", severity="permanent"), "bounce", "5.1.1"),
    (dict(event="failed", severity="permanent", message="no such user", code=550), "bounce", "5.0.0"),
    (dict(event="failed", severity="temporary", code=452, message="mailbox full"), "delay", "4.0.0"),
    (dict(event="failed", severity="permanent", reason="suppress-bounce"), "suppressed", None),
    (dict(event="complained"), "complaint", None),
    (dict(event="unsubscribed"), "unsubscribe", None),
    (dict(event="delivered"), "delivered", None),
    (dict(event="opened"), "other", None),
])
def test_mailgun(kw, kind, status):
    body = json.loads(p.mailgun(to=TO, **kw))
    e = one(parse_mailgun(body["event-data"]))
    assert (e.kind, e.status) == (kind, status)


@pytest.mark.parametrize("event, kind", [
    (p.sendgrid_event("bounce", TO, type="bounce", status="5.1.1"), "bounce"),
    (p.sendgrid_event("bounce", TO, type="blocked", status="4.7.1"), "delay"),
    (p.sendgrid_event("deferred", TO), "delay"),
    (p.sendgrid_event("dropped", TO, reason="Spam Reporting Address"), "suppressed"),
    (p.sendgrid_event("dropped", TO, reason="Unsubscribed Address"), "suppressed"),
    (p.sendgrid_event("dropped", TO, reason="Exceeded Maximum Message Size"), "other"),
    (p.sendgrid_event("spamreport", TO), "complaint"),
    (p.sendgrid_event("group_unsubscribe", TO), "unsubscribe"),
    (p.sendgrid_event("delivered", TO), "delivered"),
    (p.sendgrid_event("open", TO), "other"),
])
def test_sendgrid(event, kind):
    events, skipped = parse_sendgrid(json.dumps([event]).encode())
    assert one(events).kind == kind and skipped == []


@pytest.mark.parametrize("kind, status, table", [
    ("bounce", "5.1.1", "permanent"), ("bounce", "5.7.1", "transient"), ("bounce", None, "transient"),
    ("delay", "4.2.2", "delayed"), ("complaint", None, "complaint"), ("suppressed", None, "suppressed"),
    ("unsubscribe", None, "unsubscribe"), ("delivered", None, "delivered"), ("other", None, None),
])
def test_the_bounce_tables_kind(kind, status, table):
    event = ProviderEvent(provider="ses", event_id="1", kind=kind, what="x", status=status)
    assert table_kind(event, BounceSettings()) == table


def test_status_codes_from_a_providers_words():
    assert status_in("smtp; 550 5.1.1 user unknown") == "5.1.1"
    assert status_in(None, "421 try later") == "4.0.0"
    assert status_in("version 1.2.3.4 of the server") is None


def test_sns_string_to_sign_and_the_checks_before_the_certificate():
    message = {"Type": "Notification", "Message": "m", "MessageId": "i", "Timestamp": "t", "TopicArn": p.TOPIC}
    assert string_to_sign(message) == b"Message\nm\nMessageId\ni\nTimestamp\nt\nTopicArn\n" + \
        p.TOPIC.encode() + b"\nType\nNotification\n"

    def never(url):
        raise AssertionError("no certificate is fetched for a message refused before")

    certs = CertificateCache(never)
    for body, reason in ((b"not json", "not JSON"), (b"[]", "not an SNS message"),
                         (json.dumps({**message, "TopicArn": p.OTHER_TOPIC}).encode(), "not the configured"),
                         (json.dumps({**message, "SignatureVersion": "3"}).encode(), "SignatureVersion")):
        with pytest.raises(WebhookError, match=reason):
            verify_sns(body, topic_arn=p.TOPIC, certificates=certs)


def test_mailgun_verification_needs_its_signature_fields():
    from datetime import datetime, timezone

    with pytest.raises(WebhookError) as err:
        verify_mailgun(b'{"event-data": {}}', p.MAILGUN_KEY, now=datetime.now(timezone.utc))
    assert err.value.status == 401

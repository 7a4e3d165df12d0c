"""Mail providers' webhooks (/hooks/*): verified, attributed by what digest signed, applied once.

An edition is really sent (file transport) to a few members with all four
providers configured; each provider's webhook then tells the app about those
messages, with payloads shaped as the provider documents them and signed with
keys the test makes (tests/provider_samples.py).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

import provider_samples as p
from digest.bounces.providers.ses import check_cert_url
from digest.db.schema import deliveries, events, inbound_reports, provider_events, provider_tokens, subscribers
from digest.errors import WebhookError
from digest.message.feedback import DeliveryTag
from digest.web import create_app

MEMBERS = ["ada", "bob", "cy", "dee", "eve", "fay", "gil", "hal"]
SNS = p.SnsKeys()
SENDGRID = p.SendgridKeys()


def ok(result):
    assert result.exit_code == 0, result.output
    return result


def config_text(sendgrid_public: str = SENDGRID.public) -> str:
    return f"""
[providers.ses]
topic_arn = "{p.TOPIC}"
configuration_set = "digest"

[providers.postmark]
username = "{p.POSTMARK_USER}"
password = "{p.POSTMARK_PASSWORD}"
message_stream = "broadcast"

[providers.mailgun]
signing_key = "{p.MAILGUN_KEY}"

[providers.sendgrid]
public_key = "{sendgrid_public}"
"""


@pytest.fixture
def env(env, tmp_path):
    config = tmp_path / "digest.toml"
    config.write_text(config_text())
    return {**env, "DIGEST_CONFIG": str(config)}


@pytest.fixture
def sent(run_cli, seed_path, tmp_path, db, settings):
    """Week 2017-W25 sent to the members (file transport): per member its address, tag, Message-ID, bytes."""
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    csv = tmp_path / "members.csv"
    csv.write_text("email,name,topics,frequency\n" + "".join(f"{m}@example.net,{m.title()},,weekly\n" for m in MEMBERS))
    ok(run_cli("subscribers", "import", csv))
    ok(run_cli("weekly", "--week", "2017-W25", "--transport", "file"))
    tag = DeliveryTag(settings.secret_key)
    with db.connect() as conn:
        rows = conn.execute(select(subscribers.c.email, deliveries.c.id).join(
            deliveries, deliveries.c.subscriber_id == subscribers.c.id)).all()
    out = {}
    for email, did in rows:
        eml = next((tmp_path / "outbox").glob(f"edition.2017-W25.{did}@*.eml")).read_bytes()
        out[email.split("@")[0]] = {"email": email, "tag": tag.token(did), "eml": eml,
                                    "message_id": f"<edition.2017-W25.{did}@example.org>"}
    return out


class Fetcher:
    """The app's outbound GET, recorded: the SNS certificate (served once) and subscription confirmations."""

    def __init__(self):
        self.urls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.urls.append(url)
        if url == p.CERT_URL:
            return SNS.pem
        return b"<ConfirmSubscriptionResponse/>"


@pytest.fixture
def fetcher():
    return Fetcher()


@pytest.fixture
def client(settings, db, fetcher):
    return create_app(settings, db, hooks_fetch=fetcher).test_client()


def statuses(db) -> dict[str, str]:
    with db.connect() as conn:
        return {e.split("@")[0]: st for e, st in conn.execute(select(subscribers.c.email, subscribers.c.status))}


def counts(db) -> tuple[int, ...]:
    """(events recorded, reports recorded, member events, tokens used): what any change would touch."""
    with db.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar() for t in
                     (provider_events, inbound_reports, events, provider_tokens))


def settle(client) -> None:
    """Until the app's worker has acted on every event recorded so far."""
    assert client.application.extensions["digest-hooks"].worker.wait_idle(30)


def last_outcomes(db, n: int) -> list[str]:
    """What the last n events taken did, oldest first."""
    with db.connect() as conn:
        rows = conn.execute(select(inbound_reports.c.outcome).order_by(inbound_reports.c.id.desc()).limit(n)).all()
    return [r.outcome for r in reversed(rows)]


def taken(client, db, resp, n: int = 1) -> list[str]:
    """The answer must say n events were recorded; what they did once the worker took them."""
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["recorded"] == n, resp.get_json()
    settle(client)
    return last_outcomes(db, n)


def post_ses(client, ses_event, *, version="1", **kw):
    return client.post("/hooks/ses", data=json.dumps(SNS.sign(p.sns_notification(ses_event, **kw), version)),
                       content_type="text/plain; charset=UTF-8")


def post_each(client, db, path, cases, headers=None):
    """POST each (name, body, outcome) case's body; each must be taken with that outcome."""
    for name, body, outcome in cases:
        resp = client.post(path, data=body, headers=headers or {}, content_type="application/json")
        assert taken(client, db, resp) == [outcome], name


def post_sendgrid(client, batch):
    body = json.dumps(batch).encode()
    return client.post("/hooks/sendgrid", data=body, headers=SENDGRID.headers(body))


# ---------------------------------------------------------------- every event kind, per provider


def test_ses_events_change_the_right_member(sent, client, db, fetcher):
    m = sent
    cases = [
        ("ada", p.ses_event("Bounce/Permanent", m["ada"]["email"], tag=m["ada"]["tag"]), "bounced"),
        ("bob", p.ses_event("Bounce/Transient", m["bob"]["email"], tag=m["bob"]["tag"], status="4.2.2",
                            sub_type="MailboxFull"), "counted"),
        ("cy", p.ses_event("Complaint", m["cy"]["email"], tag=m["cy"]["tag"]), "complained"),
        ("dee", p.ses_event("Bounce/Permanent", m["dee"]["email"], tag=m["dee"]["tag"], status="5.0.0",
                            sub_type="OnAccountSuppressionList"), "bounced"),
        ("eve", p.ses_event("Delivery", m["eve"]["email"], tag=m["eve"]["tag"]), "ignored"),
        ("fay", p.ses_event("DeliveryDelay", m["fay"]["email"], tag=m["fay"]["tag"]), "counted"),
        ("hal", p.ses_event("Subscription", m["hal"]["email"], tag=m["hal"]["tag"]), "unsubscribed"),
        # An identity notification without tags: our Message-ID, with the member's address, is enough.
        ("gil", {**p.ses_event("Bounce/Permanent", m["gil"]["email"], message_id=m["gil"]["message_id"]),
                 "notificationType": "Bounce"}, "bounced"),
    ]
    for name, event, outcome in cases:
        resp = post_ses(client, event, version="2" if name == "cy" else "1")
        assert taken(client, db, resp) == [outcome], name
    assert statuses(db) == {"ada": "bounced", "bob": "active", "cy": "complained", "dee": "bounced", "eve": "active",
                            "fay": "active", "gil": "bounced", "hal": "unsubscribed"}
    assert fetcher.urls == [p.CERT_URL]  # fetched once, then kept


def test_postmark_events_change_the_right_member(sent, client, db):
    m = sent
    cases = [
        ("ada", p.postmark("Bounce", m["ada"]["email"], tag=m["ada"]["tag"], event_id=1,
                           details="smtp;550 5.1.1 The email account that you tried to reach does not exist"),
         "bounced"),
        ("bob", p.postmark("Bounce", m["bob"]["email"], tag=m["bob"]["tag"], type_="SoftBounce", event_id=2,
                           details="smtp;452 4.2.2 mailbox full"), "counted"),
        ("cy", p.postmark("SpamComplaint", m["cy"]["email"], tag=m["cy"]["tag"], type_="SpamComplaint",
                          event_id=3), "complained"),
        ("dee", p.postmark("SubscriptionChange", m["dee"]["email"], tag=m["dee"]["tag"], reason="HardBounce"),
         "bounced"),
        ("eve", p.postmark("SubscriptionChange", m["eve"]["email"], tag=m["eve"]["tag"],
                           reason="ManualSuppression"), "unsubscribed"),
        ("fay", p.postmark("Delivery", m["fay"]["email"], tag=m["fay"]["tag"]), "ignored"),
    ]
    post_each(client, db, "/hooks/postmark", cases, headers=p.basic())
    assert statuses(db) == {"ada": "bounced", "bob": "active", "cy": "complained", "dee": "bounced",
                            "eve": "unsubscribed", "fay": "active", "gil": "active", "hal": "active"}


def test_mailgun_events_change_the_right_member(sent, client, db):
    m = sent
    cases = [
        ("ada", p.mailgun("failed", m["ada"]["email"], tag=m["ada"]["tag"], severity="permanent"), "bounced"),
        ("bob", p.mailgun("failed", m["bob"]["email"], tag=m["bob"]["tag"], severity="temporary", code=452,
                          message="4.2.2 mailbox full"), "counted"),
        ("cy", p.mailgun("complained", m["cy"]["email"], tag=m["cy"]["tag"]), "complained"),
        ("dee", p.mailgun("unsubscribed", m["dee"]["email"], tag=m["dee"]["tag"]), "unsubscribed"),
        ("eve", p.mailgun("failed", m["eve"]["email"], tag=m["eve"]["tag"], severity="permanent",
                          reason="suppress-bounce", code=605, message="Not delivering to previously bounced address"),
         "bounced"),
        ("fay", p.mailgun("delivered", m["fay"]["email"], tag=m["fay"]["tag"]), "ignored"),
        ("gil", p.mailgun("failed", m["gil"]["email"], message_id=m["gil"]["message_id"], severity="permanent"),
         "bounced"),
    ]
    post_each(client, db, "/hooks/mailgun", cases)
    assert statuses(db) == {"ada": "bounced", "bob": "active", "cy": "complained", "dee": "unsubscribed",
                            "eve": "bounced", "fay": "active", "gil": "bounced", "hal": "active"}


def test_sendgrid_batch_changes_the_right_members_one_event_at_a_time(sent, client, db):
    m = sent
    batch = [
        p.sendgrid_event("bounce", m["ada"]["email"], tag=m["ada"]["tag"], type="bounce", status="5.1.1",
                         reason="550 5.1.1 The email account does not exist"),
        p.sendgrid_event("bounce", m["bob"]["email"], tag=m["bob"]["tag"], type="blocked", status="4.7.0",
                         reason="421 4.7.0 try again later"),
        p.sendgrid_event("spamreport", m["cy"]["email"], tag=m["cy"]["tag"]),
        p.sendgrid_event("unsubscribe", m["dee"]["email"], tag=m["dee"]["tag"]),
        {"event": "bounce", "email": m["hal"]["email"]},  # no sg_event_id: skipped and reported
        "not an event at all",
        p.sendgrid_event("dropped", m["eve"]["email"], tag=m["eve"]["tag"], reason="Bounced Address"),
        p.sendgrid_event("deferred", m["fay"]["email"], tag=m["fay"]["tag"], response="451 4.4.1 try later"),
        p.sendgrid_event("delivered", m["gil"]["email"], message_id=m["gil"]["message_id"]),
    ]
    resp = post_sendgrid(client, batch)
    assert [s["position"] for s in resp.get_json()["skipped"]] == [5, 6]
    assert taken(client, db, resp, 7) == ["bounced", "counted", "complained", "unsubscribed", "bounced", "counted",
                                          "ignored"]
    assert statuses(db) == {"ada": "bounced", "bob": "active", "cy": "complained", "dee": "unsubscribed",
                            "eve": "bounced", "fay": "active", "gil": "active", "hal": "active"}
    with db.connect() as conn:  # once taken, the recorded event keeps no address (it is in the report)
        kept = conn.execute(select(provider_events.c.event)).scalars().all()
    assert len(kept) == 7 and not any("@" in e for e in kept)


# ---------------------------------------------------------------- refused, and nothing changes


def test_refused_requests_change_nothing(sent, client, db, fetcher, caplog):
    caplog.set_level("WARNING", logger="digest.web.hooks")
    m = sent
    before = (statuses(db), counts(db))
    ada = m["ada"]

    signed = SNS.sign(p.sns_notification(p.ses_event("Bounce/Permanent", ada["email"], tag=ada["tag"])))
    tampered = {**signed, "Message": signed["Message"].replace("Permanent", "Transient")}
    other_key = p.SnsKeys().sign(p.sns_notification(p.ses_event("Bounce/Permanent", ada["email"], tag=ada["tag"])))
    for body in (tampered, other_key):
        assert client.post("/hooks/ses", data=json.dumps(body)).status_code == 403

    good = p.postmark("Bounce", ada["email"], tag=ada["tag"], details="5.1.1")
    assert client.post("/hooks/postmark", data=good).status_code == 401
    assert client.post("/hooks/postmark", data=good, headers=p.basic(password="wrong")).status_code == 401

    body = p.mailgun("failed", ada["email"], tag=ada["tag"], severity="permanent")
    assert client.post("/hooks/mailgun", data=body.replace(b'"signature": "', b'"signature": "0')).status_code == 403
    assert client.post("/hooks/mailgun", data=p.mailgun("failed", ada["email"], tag=ada["tag"], severity="permanent",
                                                        key="key-not-ours")).status_code == 403
    old = int(__import__("time").time()) - 3600
    assert client.post("/hooks/mailgun", data=p.mailgun("failed", ada["email"], tag=ada["tag"], severity="permanent",
                                                        timestamp=old)).status_code == 403

    batch = json.dumps([p.sendgrid_event("bounce", ada["email"], tag=ada["tag"], status="5.1.1")]).encode()
    headers = SENDGRID.headers(batch)
    assert client.post("/hooks/sendgrid", data=batch.replace(b"5.1.1", b"5.1.2"), headers=headers).status_code == 403
    assert client.post("/hooks/sendgrid", data=batch, headers=p.SendgridKeys().headers(batch)).status_code == 403
    assert client.post("/hooks/sendgrid", data=batch, headers=SENDGRID.headers(batch, old)).status_code == 403
    assert client.post("/hooks/sendgrid", data=batch).status_code == 401

    assert (statuses(db), counts(db)) == before
    refusals = [r.getMessage() for r in caplog.records if r.name == "digest.web.hooks"]
    assert len(refusals) == 11 and all("refused" in line and "\n" not in line for line in refusals)


def test_a_replayed_mailgun_token_is_refused(sent, client, db):
    ada, bob = sent["ada"], sent["bob"]
    first = p.mailgun("failed", ada["email"], tag=ada["tag"], severity="temporary", code=452, message="4.2.2 full",
                      token="a" * 50)
    assert taken(client, db, client.post("/hooks/mailgun", data=first)) == ["counted"]
    before = (statuses(db), counts(db))
    # The signature covers the timestamp and token only: the same pair with another event is a forgery.
    forged = p.mailgun("failed", bob["email"], tag=bob["tag"], severity="permanent", token="a" * 50)
    resp = client.post("/hooks/mailgun", data=forged)
    assert resp.status_code == 403 and "used before" in resp.get_json()["error"]
    # The very same request again (a retry) is answered as before and changes nothing.
    again = client.post("/hooks/mailgun", data=first)
    assert again.status_code == 200 and again.get_json()["sent_before"] == 1
    settle(client)
    assert (statuses(db), counts(db)) == before


def test_sns_certificate_url_must_be_https_on_an_sns_host():
    assert check_cert_url(p.CERT_URL) == p.CERT_URL
    assert check_cert_url("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem")
    for url in ("http://sns.eu-west-2.amazonaws.com/SimpleNotificationService-1.pem",
                "https://sns.eu-west-2.amazonaws.com.attacker.example/x.pem",
                "https://attacker.example/sns.eu-west-2.amazonaws.com/x.pem",
                "https://s3.eu-west-2.amazonaws.com/x.pem",
                "https://sns.eu-west-2.amazonaws.com@attacker.example/x.pem",
                "https://sns.eu-west-2.amazonaws.com:8443/x.pem",
                "https://sns.eu-west-2.amazonaws.com/x.pem?u=https://attacker.example/",
                "https://sns.eu-west-2.amazonaws.com/x.txt", "", None):
        with pytest.raises(WebhookError):
            check_cert_url(url)


def test_an_sns_message_with_its_certificate_elsewhere_is_refused_and_not_fetched(sent, client, db, fetcher):
    ada = sent["ada"]
    before = (statuses(db), counts(db))
    message = p.sns_notification(p.ses_event("Bounce/Permanent", ada["email"], tag=ada["tag"]))
    for url in ("https://attacker.example/SimpleNotificationService-1.pem",
                "http://sns.eu-west-2.amazonaws.com/SimpleNotificationService-1.pem"):
        resp = client.post("/hooks/ses", data=json.dumps(SNS.sign({**message, "SigningCertURL": url})))
        assert resp.status_code == 403 and "SigningCertURL" in resp.get_json()["error"]
    assert fetcher.urls == [] and (statuses(db), counts(db)) == before


def test_sns_subscription_is_confirmed_for_our_topic_only(client, fetcher, db):
    resp = client.post("/hooks/ses", data=json.dumps(SNS.sign(p.sns_subscription(topic=p.OTHER_TOPIC))))
    assert resp.status_code == 403 and fetcher.urls == []
    evil = p.sns_subscription(subscribe_url="https://attacker.example/?Action=ConfirmSubscription")
    assert client.post("/hooks/ses", data=json.dumps(SNS.sign(evil))).status_code == 403
    assert fetcher.urls == [p.CERT_URL]  # the signature was good; the URL to call was not
    ours = p.sns_subscription()
    resp = client.post("/hooks/ses", data=json.dumps(SNS.sign(ours)))
    assert resp.status_code == 200 and resp.get_json() == {"confirmed": p.TOPIC}
    assert fetcher.urls == [p.CERT_URL, ours["SubscribeURL"]]


# ---------------------------------------------------------------- once, in order, attributed


def test_the_same_event_twice_changes_nothing_twice(sent, client, db):
    bob = sent["bob"]
    soft = p.ses_event("Bounce/Transient", bob["email"], tag=bob["tag"], status="4.2.2")
    body = json.dumps(SNS.sign(p.sns_notification(soft, message_id="sns-1")))
    assert taken(client, db, client.post("/hooks/ses", data=body)) == ["counted"]
    before = counts(db)
    assert client.post("/hooks/ses", data=body).get_json()["sent_before"] == 1
    settle(client)
    assert counts(db) == before
    batch = [p.sendgrid_event("bounce", bob["email"], tag=bob["tag"], type="blocked", status="4.7.0")]
    assert taken(client, db, post_sendgrid(client, batch)) == ["counted"]
    before = counts(db)
    assert post_sendgrid(client, batch).get_json()["sent_before"] == 1
    settle(client)
    assert counts(db) == before and statuses(db)["bob"] == "active"


def test_an_sns_subject_is_part_of_what_is_signed(sent, client, db):
    ada = sent["ada"]
    message = {**p.sns_notification(p.ses_event("Complaint", ada["email"], tag=ada["tag"])),
               "Subject": "Amazon SES Email Event Notification"}
    forged = {**SNS.sign(message), "Subject": "Something else"}
    assert client.post("/hooks/ses", data=json.dumps(forged)).status_code == 403
    assert taken(client, db, client.post("/hooks/ses", data=json.dumps(SNS.sign(message)))) == ["complained"]
    assert statuses(db)["ada"] == "complained"


def test_a_delivery_after_the_bounce_does_not_undo_it(sent, client, db):
    ada = sent["ada"]
    assert taken(client, db, post_ses(client, p.ses_event("Bounce/Permanent", ada["email"], tag=ada["tag"]))) \
        == ["bounced"]
    assert taken(client, db, post_ses(client, p.ses_event("Delivery", ada["email"], tag=ada["tag"]))) == ["ignored"]
    assert statuses(db)["ada"] == "bounced"


def test_only_what_digest_signed_attributes_an_event(sent, client, db):
    m = sent
    forged_tag = m["ada"]["tag"].rsplit("-", 1)[0] + "-aaaaaaaaaaaaaaaa"
    cases = [
        p.ses_event("Complaint", m["ada"]["email"]),  # an address alone
        p.ses_event("Complaint", m["ada"]["email"], tag=forged_tag),  # a tag we did not sign
        p.ses_event("Complaint", m["bob"]["email"], message_id=m["ada"]["message_id"]),  # ada's message, bob's address
        # ada's delivery id and address, in a Message-ID of another edition or another domain
        p.ses_event("Complaint", m["ada"]["email"], message_id=m["ada"]["message_id"].replace("2017-W25", "2017-W24")),
        p.ses_event("Complaint", m["ada"]["email"], message_id=m["ada"]["message_id"].replace("example.org",
                                                                                            "example.com")),
    ]
    for event in cases:
        assert taken(client, db, post_ses(client, event)) == ["quarantined"]
    assert set(statuses(db).values()) == {"active"}


def test_a_provider_not_configured_answers_404(settings, db, tmp_path, monkeypatch):
    from digest.config import load_settings

    config = tmp_path / "only-mailgun.toml"
    config.write_text(f'[providers.mailgun]\nsigning_key = "{p.MAILGUN_KEY}"\n')
    app = create_app(load_settings(config, environ={"DIGEST_DATABASE_URL": settings.database_url}), db)
    c = app.test_client()
    for hook in ("ses", "postmark", "sendgrid"):
        assert c.post(f"/hooks/{hook}", data=b"{}").status_code == 404
    assert c.post("/hooks/mailgun", data=b"{}").status_code == 401


def test_the_certificate_is_fetched_through_the_one_outbound_client(settings, db):
    from digest.outbound import OutboundError

    fetch = create_app(settings, db).extensions["digest-hooks"].fetch
    with pytest.raises(OutboundError, match="link-local"):  # the cloud's metadata address
        fetch("https://169.254.169.254/SimpleNotificationService-1.pem")
    with pytest.raises(OutboundError):
        fetch("http://sns.eu-west-2.amazonaws.com/SimpleNotificationService-1.pem")  # https only


def test_a_certificate_that_cannot_be_fetched_refuses_the_message(sent, settings, db):
    def down(url):
        raise OSError("connection refused")

    client = create_app(settings, db, hooks_fetch=down).test_client()
    ada = sent["ada"]
    before = (statuses(db), counts(db))
    resp = post_ses(client, p.ses_event("Bounce/Permanent", ada["email"], tag=ada["tag"]))
    assert resp.status_code == 403 and "cannot fetch the signing certificate" in resp.get_json()["error"]
    assert (statuses(db), counts(db)) == before


def test_events_a_stopped_server_left_are_taken_by_the_next(sent, settings, db, fetcher):
    from datetime import datetime, timezone

    from digest.bounces.feedback import Feedback
    from digest.bounces.providers.mailgun import parse_mailgun

    ada = sent["ada"]
    body = json.loads(p.mailgun("failed", ada["email"], tag=ada["tag"], severity="permanent"))
    # Recorded and answered; the server stopped before its worker acted.
    Feedback(db, settings, clock=lambda: datetime.now(timezone.utc)).record("mailgun",
                                                                            parse_mailgun(body["event-data"]))
    assert statuses(db)["ada"] == "active"
    client = create_app(settings, db, hooks_fetch=fetcher).test_client()
    settle(client)  # what `digest serve` does at start: notify the worker
    assert statuses(db)["ada"] == "bounced" and last_outcomes(db, 1) == ["bounced"]


def test_an_event_that_cannot_be_taken_is_set_aside_and_the_next_is_taken(sent, settings, db, fetcher, caplog):
    from datetime import datetime, timezone

    from digest.db import providers as providers_db

    bob = sent["bob"]
    now = datetime.now(timezone.utc)
    with db.begin() as conn:  # a row no ProviderEvent can be made from (written by an older digest, say)
        providers_db.record_event(conn, "mailgun", "broken-1", {"provider": "mailgun", "colour": "red"}, now)
    client = create_app(settings, db, hooks_fetch=fetcher).test_client()
    resp = client.post("/hooks/mailgun", data=p.mailgun("complained", bob["email"], tag=bob["tag"]))
    assert taken(client, db, resp) == ["complained"]
    assert statuses(db)["ada"] == "active" and "provider event #" in caplog.text
    with db.connect() as conn:
        assert providers_db.pending_count(conn) == 0


def test_a_seeded_certificate_is_used_without_fetching(sent, settings, db):
    def offline(url):
        raise OSError("no network in this test")

    app = create_app(settings, db, hooks_fetch=offline)
    app.extensions["digest-hooks"].certificates.seed(p.CERT_URL, SNS.pem)
    client = app.test_client()
    ada = sent["ada"]
    assert taken(client, db, post_ses(client, p.ses_event("Complaint", ada["email"], tag=ada["tag"]))) == ["complained"]

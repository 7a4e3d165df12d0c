"""Sending with a provider's settings, and the whole loop: SMTP send, the provider's webhook, the next weekly.

Also what the operator sees: `digest report` counting provider events,
`digest providers check`, `digest check` warnings, and configuration errors.
"""

from __future__ import annotations

import email
import email.policy
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

import provider_samples as p
from digest.config import load_settings
from digest.db import Database
from digest.db.schema import deliveries, editions, subscribers
from digest.errors import ConfigError
from digest.message.dkim import dkim_record, verify
from digest.message.feedback import DeliveryTag
from digest.sending.transports import MemoryTransport
from digest.sending.worker import SendOptions, send_queue
from digest.web import create_app
from test_providers import SENDGRID, SNS, Fetcher, config_text, ok, statuses, taken

WEEK26_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Network news</title><link>https://www.example.org/</link>
<description>News</description>
<item><title>Councils publish their cyber security plans</title>
<link>https://www.example.org/2017/06/28/cyber-plans/</link>
<guid>https://www.example.org/?p=9001</guid>
<pubDate>Wed, 28 Jun 2017 10:00:00 +0100</pubDate>
<category>Cyber security</category>
<description>Three councils set out how they will answer ransomware and phishing this year.</description>
</item></channel></rss>
"""


@pytest.fixture
def env(env, tmp_path):
    config = tmp_path / "digest.toml"
    config.write_text(config_text())
    return {**env, "DIGEST_CONFIG": str(config)}


def test_each_message_carries_every_configured_providers_header(settings, queue_members, tmp_path, monkeypatch):
    key = tmp_path / "dkim.pem"
    key.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    for name, value in {"DIGEST_DKIM_DOMAIN": "example.org", "DIGEST_DKIM_SELECTOR": "digest1",
                        "DIGEST_DKIM_KEY_FILE": str(key)}.items():
        monkeypatch.setenv(name, value)
    signed = load_settings()
    queue_members(2)
    memory = MemoryTransport()
    assert send_queue(Database(signed.database_url), signed, lambda: memory, SendOptions()).sent == 2
    tag = DeliveryTag(signed.secret_key)
    for _, raw in memory.sent:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        delivery = int(msg["Message-ID"].split(".")[2].split("@")[0])
        token = tag.token(delivery)
        assert msg["X-SES-CONFIGURATION-SET"] == "digest" and msg["X-SES-MESSAGE-TAGS"] == f"digest={token}"
        assert msg["X-PM-Message-Stream"] == "broadcast" and msg["X-PM-Metadata-digest"] == token
        assert msg["X-Mailgun-Tag"] == "digest"
        assert json.loads(msg["X-Mailgun-Variables"]) == {"digest": token}
        assert json.loads(msg["X-SMTPAPI"]) == {"unique_args": {"digest": token}}
        # DKIM still holds when the provider strips its headers on the way out.
        record = dkim_record(signed)
        assert verify(raw, record)
        stripped = b"".join(line for line in raw.splitlines(keepends=True)
                            if not line.startswith((b"X-SES-", b"X-PM-", b"X-Mailgun-", b"X-SMTPAPI")))
        assert stripped != raw and verify(stripped, record)


def test_the_whole_loop_ses_over_smtp(run_cli, seed_path, tmp_path, db, settings, smtp_sink, monkeypatch):
    """weekly over SMTP with SES's headers; SES says one bounced; the next weekly does not queue them."""
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    for m in ("ada", "bob"):
        ok(run_cli("subscribers", "add", f"{m}@example.net", "--name", m.title()))
    ok(run_cli("providers", "check"))
    assert "no event received yet" in run_cli("providers", "check").output
    ok(run_cli("weekly", "--week", "2017-W25", "--transport", "smtp"))
    sent = {msg.rcpt_tos[0]: msg.message for msg in smtp_sink.wait_for(2)}
    ada = sent["ada@example.net"]
    tag = ada["X-SES-MESSAGE-TAGS"].removeprefix("digest=")  # as SES reads it off the message it relays

    app = create_app(settings, db, hooks_fetch=Fetcher())
    event = p.ses_event("Bounce/Permanent", "ada@example.net", tag=tag, message_id=ada["Message-ID"])
    client = app.test_client()
    resp = client.post("/hooks/ses", data=json.dumps(SNS.sign(p.sns_notification(event))))
    assert taken(client, db, resp) == ["bounced"]
    assert statuses(db) == {"ada": "bounced", "bob": "active"}

    report = json.loads(ok(run_cli("report", "2017-W25", "--json")).output)
    assert report["bounced_afterwards"] == 1 and report["delivered"] == 1
    assert "events received: 1" in ok(run_cli("providers", "check")).output
    seen = json.loads(ok(run_cli("providers", "check", "--json")).output)
    assert (seen["ses"]["events"], seen["ses"]["last_outcome"], seen["mailgun"]["events"]) == (1, "bounced", 0)
    assert any("/hooks/ses" in step for step in seen["ses"]["steps"])

    feed = tmp_path / "week26.xml"
    feed.write_text(WEEK26_FEED)
    ok(run_cli("ingest", feed))
    ok(run_cli("weekly", "--week", "2017-W26", "--transport", "smtp"))
    with db.connect() as conn:
        w26 = conn.execute(select(subscribers.c.email)
                           .join(deliveries, deliveries.c.subscriber_id == subscribers.c.id)
                           .join(editions, editions.c.id == deliveries.c.edition_id)
                           .where(editions.c.key == "2017-W26")).scalars().all()
    assert w26 == ["bob@example.net"]  # the bounced member is not queued for the next edition
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages) == ["ada@example.net", "bob@example.net",
                                                                 "bob@example.net"]


def test_report_counts_provider_complaints_and_suppressions(run_cli, queue_members, db, settings):
    queue_members(3)
    ok(run_cli("send", "--transport", "file"))
    with db.connect() as conn:
        rows = dict(conn.execute(select(subscribers.c.email, deliveries.c.id).join(
            deliveries, deliveries.c.subscriber_id == subscribers.c.id)).all())
    tag = DeliveryTag(settings.secret_key)
    batch = [p.sendgrid_event("spamreport", "member000@example.org", tag=tag.token(rows["member000@example.org"])),
             p.sendgrid_event("dropped", "member001@example.org", tag=tag.token(rows["member001@example.org"]),
                              reason="Bounced Address")]
    body = json.dumps(batch).encode()
    client = create_app(settings, db).test_client()
    assert taken(client, db, client.post("/hooks/sendgrid", data=body, headers=SENDGRID.headers(body)), 2) \
        == ["complained", "bounced"]
    report = json.loads(ok(run_cli("report", "2017-W25", "--json")).output)
    assert (report["complaints"], report["bounced_afterwards"], report["delivered"]) == (1, 1, 2)


def test_check_warns_when_a_message_lacks_the_providers_header(run_cli, tmp_path, env):
    eml = tmp_path / "old.eml"
    eml.write_bytes(b"From: news@example.org\r\nTo: ada@example.net\r\nSubject: x\r\n\r\nhello\r\n")
    out = run_cli("check", eml)
    assert "[providers.mailgun] is configured but the message has no X-Mailgun-Variables header" in out.output
    config = tmp_path / "ses.toml"
    config.write_text(f'[providers.ses]\ntopic_arn = "{p.TOPIC}"\n')
    out = run_cli("--config", config, "check", eml)
    assert "[providers.ses] has no configuration_set" in out.output


def test_providers_check_without_providers_is_one_line(run_cli, tmp_path):
    empty = tmp_path / "none.toml"
    empty.write_text("")
    out = run_cli("--config", empty, "providers", "check")
    assert out.exit_code == 1 and out.output.strip().startswith("Error: no [providers.NAME] section")


@pytest.mark.parametrize("text, key", [
    ('[providers.sparkpost]\nx = "1"\n', "providers.sparkpost"),
    ('[providers.ses]\nconfiguration_set = "digest"\n', "providers.ses.topic_arn"),
    ('[providers.ses]\ntopic_arn = "arn:aws:sqs:eu-west-2:123456789012:x"\n', "providers.ses.topic_arn"),
    ('[providers.postmark]\nmessage_stream = "broadcast"\n', "providers.postmark"),
    ('[providers.postmark]\nsecret_path = "short"\n', "providers.postmark.secret_path"),
    ('[providers.postmark]\nusername = "a:b"\npassword = "p"\n', "providers.postmark.username"),
    ('[providers.mailgun]\nsigning_key = "k"\ncolour = "red"\n', "providers.mailgun.colour"),
    ('[providers.sendgrid]\npublic_key = "not a key"\n', "providers.sendgrid.public_key"),
])
def test_bad_provider_settings_name_the_key(tmp_path, text, key):
    config = tmp_path / "digest.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(config, environ={})
    assert err.value.key == key


def test_a_sendgrid_key_that_is_not_p256_is_refused_when_the_app_starts(tmp_path, settings, db, run_cli):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    config = tmp_path / "rsa.toml"
    config.write_text(f'[providers.sendgrid]\npublic_key = """{other}"""\n')
    with pytest.raises(ConfigError, match="providers.sendgrid.public_key: must be an ECDSA P-256 key"):
        create_app(load_settings(config, environ={"DIGEST_DATABASE_URL": settings.database_url}), db)
    out = run_cli("--config", config, "providers", "check")
    assert out.exit_code == 2 and "providers.sendgrid.public_key: must be an ECDSA P-256 key" in out.output


def test_postmark_secret_path(tmp_path, settings, db, run_cli):
    config = tmp_path / "pm.toml"
    config.write_text(f'[providers.postmark]\nsecret_path = "{p.POSTMARK_SECRET}"\n')
    app = create_app(load_settings(config, environ={"DIGEST_DATABASE_URL": settings.database_url}), db)
    c = app.test_client()
    body = p.postmark("Delivery", "ada@example.net")
    assert c.post("/hooks/postmark", data=body).status_code == 401
    assert c.post(f"/hooks/postmark/{p.POSTMARK_SECRET[:-1]}x", data=body).status_code == 401
    resp = c.post(f"/hooks/postmark/{p.POSTMARK_SECRET}", data=body)
    assert taken(c, db, resp) == ["ignored"]  # not ours: nothing


def test_a_large_sendgrid_batch_is_taken(settings, db):
    batch = [p.sendgrid_event("processed", f"m{i}@example.net") for i in range(800)]
    body = json.dumps(batch).encode()
    assert len(body) > 64 * 1024
    client = create_app(settings, db).test_client()
    resp = client.post("/hooks/sendgrid", data=body, headers=SENDGRID.headers(body))
    assert resp.status_code == 200 and resp.get_json()["recorded"] == 800


def test_served_by_waitress_hooks_take_a_large_batch_and_forms_stay_at_64_kib(settings, db):
    import http.client

    from test_web_hardening import served

    from digest.web.hooks import server_options

    batch = [p.sendgrid_event("processed", f"m{i}@example.net") for i in range(600)]
    body = json.dumps(batch).encode()
    app = create_app(settings, db)
    with served(app, **server_options(settings)) as (host, port):
        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.request("POST", "/hooks/sendgrid", body=body, headers=SENDGRID.headers(body))
        answer = conn.getresponse()
        assert answer.status == 200 and json.loads(answer.read())["recorded"] == 600
        conn.close()
        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.request("POST", "/subscribe", body=b"email=" + b"x" * (len(body) - 6),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert conn.getresponse().status == 413
        conn.close()
    assert len(body) > 64 * 1024

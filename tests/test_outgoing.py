"""Every kind of message digest sends comes from message.outgoing and is DKIM-signed when configured.

Each message is taken where it leaves digest (a transport), not from the
maker, and verified with dkimpy against the published record.
"""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from digest.config import load_settings
from digest.db import Database
from digest.editorial.sendtest import send_test
from digest.message.dkim import dkim_record, verify
from digest.message.outgoing import Outgoing
from digest.sending.transports import MemoryTransport
from digest.sending.worker import SendOptions, send_queue
from digest.web import create_app

NOW = datetime(2017, 6, 26, 7, tzinfo=timezone.utc)


@pytest.fixture
def signed(env, tmp_path, monkeypatch):
    """Settings with DKIM configured (a fresh RSA key), and the DNS record that publishes it."""
    key = tmp_path / "dkim.pem"
    key.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    for name, value in {**env, "DIGEST_DKIM_DOMAIN": "example.org", "DIGEST_DKIM_SELECTOR": "digest1",
                        "DIGEST_DKIM_KEY_FILE": str(key)}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    return settings, dkim_record(settings)


def assert_signed(raw: bytes, record: str) -> email.message.EmailMessage:
    assert raw.startswith(b"DKIM-Signature: v=1; a=rsa-sha256;"), raw[:80]
    assert verify(raw, record)
    assert not verify(raw.replace(b"Subject: ", b"Subject: Re: ", 1), record)  # the check can fail
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Date"] and msg["Message-ID"]
    return msg


def test_the_digest_each_member_gets_is_signed(signed, queue_members):
    settings, record = signed
    queue_members(3)
    memory = MemoryTransport()
    stats = send_queue(Database(settings.database_url), settings, lambda: memory, SendOptions())
    assert stats.sent == 3 and len(memory.sent) == 3
    for envelope, raw in memory.sent:
        msg = assert_signed(raw, record)
        assert msg["To"].addresses[0].addr_spec == envelope.recipients[0]
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_send_test_is_signed(signed, run_cli, seed_path):
    settings, record = signed
    assert run_cli("ingest", seed_path, "--published", "2017-06-21").exit_code == 0
    memory = MemoryTransport()
    to, result = send_test(Database(settings.database_url), settings, "2017-W25", "Editor@Example.org", "*:html",
                           memory, now=NOW)
    assert result.ok and to == "Editor@example.org"
    [(envelope, raw)] = memory.sent
    assert envelope.recipients == ("Editor@example.org",)
    assert_signed(raw, record)


def test_the_double_opt_in_confirmation_is_signed(signed):
    settings, record = signed
    memory = MemoryTransport()
    app = create_app(settings, Database(settings.database_url), transport_factory=lambda: memory)
    response = app.test_client().post("/subscribe", data={
        "email": "new.member@example.net", "name": "New Member", "topics": ["data-protection"],
        "frequency": "weekly", "format": "html"}, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert response.status_code == 200
    assert app.extensions["digest"].mailer.wait_idle(timeout=30)  # sent by the app's mail worker
    [(envelope, raw)] = memory.sent
    assert envelope.recipients == ("new.member@example.net",)
    msg = assert_signed(raw, record)
    assert msg["Auto-Submitted"] == "auto-generated"
    assert "/confirm/" in msg.get_body(("plain",)).get_content()


def test_a_notice_is_signed_and_unsigned_without_dkim(signed, settings):
    with_dkim, record = signed
    raw = Outgoing(with_dkim).notice("editor@example.org", "Edition held", "Nothing was sent.", date=NOW)
    msg = assert_signed(raw, record)
    assert msg["Subject"] == "Edition held" and msg.get_body(("plain",)).get_content().strip() == "Nothing was sent."
    plain = Outgoing(settings).notice("editor@example.org", "Edition held", "Nothing was sent.", date=NOW)
    assert not plain.startswith(b"DKIM-Signature")

"""What any transport must do when the relay cannot be used, tested through `digest send` / `weekly`
against the real SMTP test server (tests/smtp_server.py).

A malformed DIGEST_SMTP_URL is a configuration error found before anything is
claimed (exit 2, no delivery touched). A relay that refuses the connection or
fails the TLS handshake stops the run at once: every claimed delivery back to
queued, attempts unchanged, exit 1. Only a reply about one recipient counts
against that recipient.
"""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import select

from digest.db.schema import deliveries, subscribers
from conftest import ok



@pytest.fixture
def queued(run_cli, seed_path):
    """Three weekly members queued for 2017-W25 (from the seed listing)."""
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    for address in ("ann@example.org", "bob@example.org", "gone@example.org"):
        ok(run_cli("subscribers", "add", address, "--frequency", "weekly"))
    ok(run_cli("edition", "build", "--week", "2017-W25"))
    assert "queued 3 delivery(ies)" in ok(run_cli("queue", "2017-W25")).output
    return run_cli


def states(db) -> dict[str, tuple]:
    with db.connect() as conn:
        q = (select(subscribers.c.email, deliveries.c.status, deliveries.c.attempts, deliveries.c.lease_until,
                    deliveries.c.not_before)
             .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id))
        return {r.email: (r.status, r.attempts, r.lease_until, r.not_before) for r in conn.execute(q)}


QUEUED_UNTOUCHED = (0, 0, None, None)


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1:25", "scheme must be smtp://, smtp+starttls:// or smtps://, not http://"),
    ("127.0.0.1:25", "scheme must be smtp://, smtp+starttls:// or smtps://"),
    ("smtp://:25", "no host"),
    ("smtp://127.0.0.1:99999", "port must be a number from 1 to 65535"),
    ("smtp://127.0.0.1:smtp", "port must be a number from 1 to 65535"),
    ("smtps://user:secret@127.0.0.1:0", "port must be a number from 1 to 65535"),
])
@pytest.mark.parametrize("command", [("send",), ("weekly", "--week", "2017-W25")])
def test_a_malformed_smtp_url_is_exit_2_naming_the_variable_and_touches_no_delivery(queued, db, monkeypatch,
                                                                                     url, reason, command):
    monkeypatch.setenv("DIGEST_SMTP_URL", url)
    before = states(db)
    result = queued(*command, "--transport", "smtp")
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: DIGEST_SMTP_URL: SMTP URL ") and reason in line
    assert "secret" not in line
    assert states(db) == before and set(before.values()) == {QUEUED_UNTOUCHED}


def test_a_relay_that_refuses_the_connection_stops_the_run_and_gives_every_claim_back(queued, db, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("DIGEST_SMTP_URL", f"smtp://127.0.0.1:{port}")
    result = queued("send", "--transport", "smtp", "--connections", "2")
    assert result.exit_code == 1
    assert f"Error: stopped sending: connect to smtp://127.0.0.1:{port}: [Errno 111] Connection refused" \
        in result.output
    assert set(states(db).values()) == {(0, 0, None, None)}  # queued, no attempt spent, no lease, no backoff


def test_a_tls_handshake_that_fails_stops_the_run_and_gives_every_claim_back(queued, db, monkeypatch, smtp_sink):
    # smtps:// (TLS from the first byte) to a relay that speaks plain SMTP: the handshake fails.
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url.replace("smtp://", "smtps://"))
    result = queued("weekly", "--week", "2017-W25", "--transport", "smtp")
    assert result.exit_code == 1
    assert "Error: stopped sending: TLS handshake with smtps://127.0.0.1:" in result.output
    assert set(states(db).values()) == {(0, 0, None, None)}
    assert smtp_sink.messages == []


def test_an_untrusted_certificate_stops_the_run_too(queued, db, monkeypatch):
    from smtp_server import SmtpSink

    with SmtpSink(tls="starttls") as sink:  # self-signed: not in the system trust store
        monkeypatch.setenv("DIGEST_SMTP_URL", sink.url)
        result = queued("send", "--transport", "smtp")
        assert result.exit_code == 1 and "certificate" in result.output
        assert sink.messages == []
        assert sink.connections == 1  # stopped at once: the relay was not tried again for the other two
    assert set(states(db).values()) == {(0, 0, None, None)}


def test_a_550_for_one_recipient_fails_only_that_recipient(queued, db, monkeypatch, smtp_sink):
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    smtp_sink.reply_for["gone@example.org"] = "550 5.1.1 No such user"
    result = queued("send", "--transport", "smtp")
    assert result.exit_code == 1  # some deliveries failed
    assert "sent 2, retry later 0, failed 1" in result.output
    got = states(db)
    assert got["gone@example.org"][:2] == (3, 1)  # failed, one attempt
    assert got["ann@example.org"][:2] == got["bob@example.org"][:2] == (2, 1)  # sent
    assert sorted(r for m in smtp_sink.messages for r in m.rcpt_tos) == ["ann@example.org", "bob@example.org"]


def test_a_451_for_one_recipient_is_retried_later_and_the_run_says_so(queued, db, monkeypatch, smtp_sink):
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    smtp_sink.fail_first("gone@example.org", 1, "451 4.3.0 Try again later")
    result = queued("send", "--transport", "smtp")
    assert result.exit_code == 1
    status, attempts, _, not_before = states(db)["gone@example.org"]
    assert (status, attempts) == (0, 1) and not_before is not None

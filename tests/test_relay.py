"""Sending to a real relay (aiosmtpd on 127.0.0.1): pipelining, many connections, manners.

The pipelined client (SmtpRelay) on its own first, then the send worker
with it: a relay without PIPELINING, a rejected RCPT inside a pipelined
group, 421 "too many connections" lowering the concurrency without spending
attempts, max_per_connection, a relay that refuses us outright, and
`digest send --processes 2` on one queue (both databases: set
DIGEST_TEST_DATABASE_URL for PostgreSQL).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter

import pytest
from sqlalchemy import select

from digest.db.schema import FAILED, QUEUED, SENT, deliveries, subscribers
from digest.sending.transports import Envelope
from digest.errors import DeliveryError
from digest.sending.worker import SendOptions, send_queue
from digest.sending.transports.pipelined import RelayUnusable, SmtpRelay
from smtp_server import SmtpSink

USER, PASSWORD = "digest@example.org", "p:w@/ d%"


def message(n: int = 1) -> bytes:
    return (f"From: news@example.org\r\nTo: someone@example.org\r\nSubject: test {n}\r\n"
            f"Message-ID: <m{n}@example.org>\r\n\r\nHello {n}.\r\n.leading dot\r\n").encode()


def send_all(relay: SmtpRelay, items: list[tuple[Envelope, bytes]]):
    async def go():
        conn = await relay.connect()
        try:
            return [await conn.send(e, m) for e, m in items], conn.pipelining
        finally:
            await conn.quit()

    return asyncio.run(go())


# -- the client ---------------------------------------------------------------------


@pytest.mark.parametrize("pipelining", [True, False])
def test_client_sends_with_and_without_pipelining(pipelining):
    with SmtpSink(pipelining=pipelining) as sink:
        items = [(Envelope("news@example.org", (f"r{n}@example.org",)), message(n)) for n in range(3)]
        results, used = send_all(SmtpRelay.from_url(sink.url), items)
        assert used is pipelining
        assert [r.ok for r in results] == [True] * 3
        assert [m.data for m in sink.messages] == [message(n) for n in range(3)]  # dot-stuffing undone by the server
        assert {m.connection for m in sink.messages} == {1}
        assert sink.pipelined_groups == (3 if pipelining else 0)


def test_client_refused_recipient_in_a_pipelined_group_fails_that_recipient_only():
    with SmtpSink(pipelining=True) as sink:
        sink.reply_for["gone@example.org"] = "550 5.1.1 No such user"
        items = [
            (Envelope("news@example.org", ("gone@example.org",)), message(1)),
            (Envelope("news@example.org", ("a@example.org", "gone@example.org", "b@example.org")), message(2)),
            (Envelope("news@example.org", ("c@example.org",)), message(3)),
        ]
        (one, two, three), _ = send_all(SmtpRelay.from_url(sink.url), items)
        assert (one.ok, one.permanent, one.code) == (False, True, 550)
        assert "RCPT TO <gone@example.org>" in one.message
        assert two.code == 550 and "accepted for 2 other(s)" in two.message  # the others did get it
        assert three.ok
        assert [m.rcpt_tos for m in sink.messages] == [("a@example.org", "b@example.org"), ("c@example.org",)]
        assert sink.connections == 1  # the connection went on


def test_client_starttls_and_auth():
    with SmtpSink(tls="starttls", auth=(USER, PASSWORD), pipelining=True) as sink:
        relay = SmtpRelay.from_url(sink.url_for(USER, PASSWORD), ssl_context=sink.client_context())
        results, _ = send_all(relay, [(Envelope("news@example.org", ("x@example.org",)), message())])
        assert results[0].ok
        assert [(m.tls, m.auth_user) for m in sink.messages] == [(True, USER)]


@pytest.mark.parametrize("problem", ["wrong password", "untrusted certificate", "refused", "no starttls"])
def test_client_relay_unusable(problem, smtp_sink):
    if problem == "refused":
        smtp_sink.stop()
        url = smtp_sink.url
    elif problem == "no starttls":
        url = smtp_sink.url.replace("smtp://", "smtp+starttls://")
    else:
        sink = SmtpSink(auth=(USER, PASSWORD), tls="starttls").start()
        url = sink.url_for(USER, "wrong" if problem == "wrong password" else PASSWORD)
    relay = SmtpRelay.from_url(url, ssl_context=sink.client_context() if problem == "wrong password" else None)
    with pytest.raises(RelayUnusable) as caught:
        asyncio.run(relay.connect())
    assert caught.value.result.fatal and "wrong" not in str(caught.value)
    if problem in ("wrong password", "untrusted certificate"):
        sink.stop()


# -- the worker with the client -----------------------------------------------------


def states(db) -> dict[str, tuple[int, int, str | None]]:
    """email -> (status, attempts, last_error)."""
    with db.connect() as conn:
        rows = conn.execute(select(subscribers.c.email, deliveries.c.status, deliveries.c.attempts,
                                   deliveries.c.last_error)
                            .join(deliveries, deliveries.c.subscriber_id == subscribers.c.id))
        return {r.email: (r.status, r.attempts, r.last_error) for r in rows}


def received(sink) -> Counter:
    return Counter(r for m in sink.messages for r in m.rcpt_tos)


def test_relay_without_pipelining_still_works(queue_members, db, settings, smtp_sink):
    queue_members(12)
    stats = send_queue(db, settings, SmtpRelay.from_url(smtp_sink.url), SendOptions(connections=3))
    assert stats.sent == 12
    assert set(received(smtp_sink).values()) == {1} and len(received(smtp_sink)) == 12
    assert smtp_sink.pipelined_groups == 0
    assert {s for s, _, _ in states(db).values()} == {SENT}


def test_pipelined_batch_with_a_rejected_rcpt_fails_only_that_recipient(queue_members, db, settings):
    queue_members(20)
    with SmtpSink(pipelining=True) as sink:
        sink.reply_for["member005@example.org"] = "550 5.1.1 No such user"
        sink.reply_for["member011@example.org"] = "452 4.2.2 Mailbox full"
        stats = send_queue(db, settings, SmtpRelay.from_url(sink.url), SendOptions(connections=1))
        got = received(sink)
        assert sink.connections == 1 and sink.pipelined_groups == 20  # one connection, every message pipelined
    assert (stats.sent, stats.failed, stats.retried) == (18, 1, 1)
    assert set(got) == {f"member{n:03d}@example.org" for n in range(20)} - {"member005@example.org",
                                                                              "member011@example.org"}
    st = states(db)
    assert st["member005@example.org"][:2] == (FAILED, 1) and "550 5.1.1 No such user" in st["member005@example.org"][2]
    assert st["member011@example.org"][:2] == (QUEUED, 1)  # retried later, with backoff
    assert st["member012@example.org"] == (SENT, 1, None)


def test_too_many_connections_lowers_concurrency_and_spends_no_attempt(queue_members, db, settings):
    queue_members(80)
    with SmtpSink(pipelining=True, max_connections=2) as sink:
        sink.busy_at_mail(30)  # and one 421 in the middle of the run, on a connection that was fine
        stats = send_queue(db, settings, SmtpRelay.from_url(sink.url), SendOptions(connections=6))
        got, peak, busy = received(sink), sink.peak_connections, sink.busy_replies
    assert stats.sent == 80 and len(got) == 80 and set(got.values()) == {1}
    assert busy >= 2 and stats.busy >= 2 and stats.requeued >= 2  # the relay said so, and we listened
    assert stats.lowest_concurrency <= 3 and peak <= 2
    assert {(s, a) for s, a, _ in states(db).values()} == {(SENT, 1)}  # nobody spent an attempt on a 421


def test_max_per_connection_quits_and_reconnects(queue_members, db, settings):
    queue_members(23)
    with SmtpSink(pipelining=True) as sink:
        stats = send_queue(db, settings, SmtpRelay.from_url(sink.url),
                           SendOptions(connections=1, max_per_connection=5))
        per_session = Counter(m.connection for m in sink.messages)
        quits = sink.quits
    assert stats.sent == 23 and stats.sessions == 5
    assert sorted(per_session.values()) == [3, 5, 5, 5, 5]
    assert quits == 5  # each session ended politely


def test_a_relay_that_refuses_us_stops_the_run_and_spends_no_attempt(queue_members, db, settings, smtp_sink):
    queue_members(10)
    smtp_sink.stop()
    with pytest.raises(DeliveryError, match="stopped sending: connect to"):
        send_queue(db, settings, SmtpRelay.from_url(smtp_sink.url), SendOptions(connections=4))
    assert {(s, a) for s, a, _ in states(db).values()} == {(QUEUED, 0)}


def test_two_processes_send_every_delivery_exactly_once(queue_members, env, db):
    queue_members(300)
    with SmtpSink(pipelining=True) as sink:
        cmd = [sys.executable, "-m", "digest", "send", "--transport", "smtp", "--processes", "2",
               "--connections", "4", "--batch", "20"]
        done = subprocess.run(cmd, env={**os.environ, **env, "DIGEST_SMTP_URL": sink.url}, capture_output=True,
                              text=True, timeout=300)
        got = received(sink)
        peers = {m.peer[1] for m in sink.messages}
    assert done.returncode == 0, done.stderr
    assert "sent 300, retry later 0, failed 0, skipped 0 (via smtp, 2 processes)" in done.stdout
    assert len(got) == 300 and set(got.values()) == {1}
    assert len(peers) >= 4  # four connections or more (two a process), each from its own port
    assert {(s, a) for s, a, _ in states(db).values()} == {(SENT, 1)}


def test_the_operator_sees_why_a_relay_slowed_down(queue_members, env, db):
    queue_members(60)
    with SmtpSink(pipelining=True, max_connections=2) as sink:
        cmd = [sys.executable, "-m", "digest", "send", "--transport", "smtp", "--connections", "6",
               "--processes", "1"]
        done = subprocess.run(cmd, env={**os.environ, **env, "DIGEST_SMTP_URL": sink.url}, capture_output=True,
                              text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "sent 60, retry later 0, failed 0, skipped 0 (via smtp)" in done.stdout
    # The progress line (a log line when stderr is not a terminal): rate, connections in use, retries...
    assert "/s, " in done.stderr and " connection(s)" in done.stderr and " retries" in done.stderr
    # ...and the summary says what the relay did and what it cost: nobody's attempt.
    assert "the relay said it had too many connections" in done.stderr and "no attempt spent" in done.stderr
    assert {(s, a) for s, a, _ in states(db).values()} == {(SENT, 1)}

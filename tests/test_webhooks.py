"""Webhooks out: a receiver on 127.0.0.1 verifies every delivery with standardwebhooks; retries in order;
a worker killed with SIGKILL between the commit and the delivery loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from digest.db import members as member_db
from digest.db import schema
from digest.membership.webhooks import deliver_due
from webhook_receiver import Receiver

ALL = "member.subscribed,member.unsubscribed,member.bounced,member.complained,member.preferences_changed," \
      "member.lapsed,edition.sent"


@pytest.fixture
def receiver(run_cli):
    with Receiver() as rx:
        def add(events: str = ALL):
            r = run_cli("webhooks", "add", rx.url, "--events", events)
            assert r.exit_code == 0, r.output
            rx.webhook = Webhook(r.stdout.strip())
            return rx
        yield add


def outbox(db):
    with db.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(
            schema.webhook_outbox.c.event, schema.webhook_outbox.c.status, schema.webhook_outbox.c.attempts)
            .order_by(schema.webhook_outbox.c.id))]


def test_every_change_from_every_door_is_delivered_signed_and_in_order(run_cli, receiver, db, tmp_path):
    rx = receiver()
    assert run_cli("members", "add", "ana@example.org").exit_code == 0
    assert run_cli("members", "set", "ana@example.org", "--frequency", "daily").exit_code == 0
    assert run_cli("members", "set", "ana@example.org", "--status", "bounced").exit_code == 0
    assert run_cli("members", "add", "bob@example.org", "--pending").exit_code == 0  # pending: not yet subscribed
    assert run_cli("members", "set", "bob@example.org", "--status", "active").exit_code == 0  # confirmed
    assert run_cli("members", "unsubscribe", "bob@example.org").exit_code == 0
    crm = tmp_path / "crm.csv"
    crm.write_text("email\ncarl@example.org\n", encoding="utf-8")
    assert run_cli("members", "sync", crm).exit_code == 0
    crm.write_text("email\ndan@example.org\n", encoding="utf-8")
    assert run_cli("members", "sync", crm, "--complete", "--force").exit_code == 0  # carl lapses
    imported = tmp_path / "members.csv"
    imported.write_text("email,name\neve@example.org,Eve\n", encoding="utf-8")
    assert run_cli("members", "import", imported).exit_code == 0
    r = run_cli("webhooks", "deliver")
    assert r.exit_code == 0 and r.output == "delivered 9, will retry 0, failed 0\n", r.output
    per_member: dict[str, list[str]] = {}
    for _, kind, email, status in rx.received:  # each one verified by standardwebhooks in the receiver
        per_member.setdefault(email, []).append(kind)
    assert per_member == {
        "ana@example.org": ["member.subscribed", "member.preferences_changed", "member.bounced"],
        "bob@example.org": ["member.subscribed", "member.unsubscribed"],
        "carl@example.org": ["member.subscribed", "member.lapsed"],
        "dan@example.org": ["member.subscribed"],
        "eve@example.org": ["member.subscribed"],
    }
    assert len({msg for msg, *_ in rx.received}) == 9
    assert "delivered 9, waiting 0, failed 0" in run_cli("webhooks", "list").output
    assert run_cli("webhooks", "deliver").output == "delivered 0, will retry 0, failed 0\n"


def test_a_rolled_back_change_sends_nothing(receiver, db):
    receiver()
    now = datetime.now(timezone.utc)
    with pytest.raises(RuntimeError):
        with db.begin() as conn:
            member_db.add(conn, "ana@example.org", now=now)
            raise RuntimeError("the request failed after the change")
    assert outbox(db) == []


def test_500_three_times_then_delivered_on_the_fourth_and_the_next_waits_its_turn(receiver, db, settings):
    rx = receiver("member.subscribed,member.preferences_changed")
    rx.answers = [500, 500, 500]
    t0 = datetime.now(timezone.utc)
    with db.begin() as conn:
        sub = member_db.add(conn, "ana@example.org", now=t0)
        member_db.update_preferences(conn, sub.id, frequency="daily", source="cli", now=t0)
    for seconds in (0, 6, 40, 200):
        deliver_due(db, settings, now=t0 + timedelta(seconds=seconds))
    assert [(t, status) for _, t, _, status in rx.received] == [
        ("member.subscribed", 500), ("member.subscribed", 500), ("member.subscribed", 500),
        ("member.subscribed", 200), ("member.preferences_changed", 200)]
    assert len({msg for msg, t, *_ in rx.received if t == "member.subscribed"}) == 1  # one id on every try
    assert outbox(db) == [("member.subscribed", "delivered", 4), ("member.preferences_changed", "delivered", 1)]


def test_retried_for_more_than_a_day_then_failed_and_listed(run_cli, receiver, db, settings):
    rx = receiver("member.subscribed")
    rx.answers = [503] * 100
    t0 = datetime.now(timezone.utc)
    with db.begin() as conn:
        member_db.add(conn, "ana@example.org", now=t0)
    t = t0
    while outbox(db)[0][1] == "pending":
        deliver_due(db, settings, now=t)
        t += timedelta(hours=1)
    assert t - t0 > timedelta(hours=24)
    [(event, status, attempts)] = outbox(db)
    assert (event, status) == ("member.subscribed", "failed") and attempts >= 10
    listed = run_cli("webhooks", "list").output
    assert "delivered 0, waiting 0, failed 1; last error: answered 503" in listed
    assert f"failed member.subscribed msg_" in listed


def test_a_redirect_to_an_internal_address_is_not_followed(receiver, db, settings):
    rx = receiver("member.subscribed")
    rx.answers = [302]
    with db.begin() as conn:
        member_db.add(conn, "ana@example.org", now=datetime.now(timezone.utc))
    stats = deliver_due(db, settings, now=datetime.now(timezone.utc))
    assert stats.retried == 1 and "answered 302 (redirects are not followed)" in stats.errors[0]
    assert len(rx.received) == 1  # nothing went to 10.0.0.1


def test_an_internal_receiver_is_refused_at_connect_time(run_cli, db, settings, monkeypatch):
    r = run_cli("webhooks", "add", "https://10.1.2.3/hook", "--events", "member.subscribed")
    assert r.exit_code == 0
    with db.begin() as conn:
        member_db.add(conn, "ana@example.org", now=datetime.now(timezone.utc))
    stats = deliver_due(db, settings, now=datetime.now(timezone.utc))
    assert stats.retried == 1 and "a private address" in stats.errors[0]
    bad = run_cli("webhooks", "add", "http://crm.example.org/hook", "--events", "member.subscribed")
    assert bad.exit_code == 2 and "must be https://" in bad.output
    bad = run_cli("webhooks", "add", "https://crm.example.org/hook", "--events", "member.left")
    assert bad.exit_code == 2 and "unknown event 'member.left'" in bad.output


def test_a_worker_killed_between_commit_and_delivery_loses_nothing(run_cli, receiver, db, env, tmp_path):
    rx = receiver("member.subscribed")
    rx.hold = threading.Event()  # the first delivery hangs until the worker is dead
    assert run_cli("members", "add", "ana@example.org").exit_code == 0  # committed, with its event
    worker = subprocess.Popen([sys.executable, "-m", "digest", "webhooks", "deliver", "--lease-seconds", "2"],
                              env={**os.environ, **env}, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    assert rx.arrived.wait(30), worker.communicate(timeout=5)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    assert outbox(db) == [("member.subscribed", "pending", 0)]  # claimed, never recorded: still there
    time.sleep(2.1)  # the dead worker's lease runs out
    r = run_cli("webhooks", "deliver")
    assert r.exit_code == 0 and "delivered 1" in r.output, r.output
    ids = [msg for msg, *_ in rx.received]
    assert len(set(ids)) == 1  # the same webhook-id again: a receiver that saw it can tell
    assert outbox(db) == [("member.subscribed", "delivered", 1)]


def test_webhooks_test_and_remove(run_cli, receiver, db):
    rx = receiver("member.subscribed")
    r = run_cli("webhooks", "test", "1")
    assert r.exit_code == 0 and r.output == "delivered 1, will retry 0, failed 0\n"
    assert rx.received[0][1] == "webhook.test"
    assert run_cli("webhooks", "test", "9").exit_code == 1
    assert run_cli("webhooks", "remove", "1").output == "removed webhook 1\n"
    assert "no webhooks" in run_cli("webhooks", "list").output


def test_run_sends_the_edition_then_tells_the_receiver_edition_sent(run_cli, receiver, db, seed_path):
    rx = receiver("edition.sent")
    assert run_cli("ingest", seed_path, "--published", "2017-06-21").exit_code == 0
    assert run_cli("members", "add", "ana@example.org").exit_code == 0
    r = run_cli("run", "--week", "2017-W25", "--transport", "file")
    assert r.exit_code == 0, r.output
    assert "delivered 1 webhook event(s)" in r.output
    [(_, kind, _, _)] = rx.received
    assert kind == "edition.sent"
    [event] = rx.events
    assert event["data"]["edition"]["key"] == "2017-W25" and event["data"]["edition"]["kind"] == "edition"
    assert run_cli("webhooks", "deliver").output == "delivered 0, will retry 0, failed 0\n"  # once only


def test_edition_sent_says_an_announcement_is_one_and_of_which_kind(run_cli, receiver, db, tmp_path):
    rx = receiver("edition.sent")
    assert run_cli("members", "add", "ana@example.org").exit_code == 0
    body = tmp_path / "agm.md"
    body.write_text("The annual general meeting is on 3 March.\n", encoding="utf-8")
    assert run_cli("announcement", "create", "--subject", "AGM notice", "--body-file", body, "--audience", "all",
                   "--kind", "statutory").exit_code == 0
    assert run_cli("announcement", "approve", "1").exit_code == 0
    assert "queued 1 delivery(ies)" in run_cli("announcement", "queue", "1").output
    assert run_cli("send", "--transport", "file").exit_code == 0
    assert run_cli("webhooks", "deliver").output == "delivered 1, will retry 0, failed 0\n"
    [event] = rx.events
    assert event["type"] == "edition.sent"
    assert event["data"]["edition"]["key"] == "announcement-1" and event["data"]["edition"]["kind"] == "statutory"


def test_the_serve_worker_delivers_on_its_own(receiver, db, settings):
    from digest.membership.webhooks import Worker

    rx = receiver("member.subscribed")
    with db.begin() as conn:
        member_db.add(conn, "ana@example.org", now=datetime.now(timezone.utc))
    worker = Worker(db, settings, every=0.2).start()
    try:
        deadline = time.monotonic() + 10
        while not rx.received and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.stop()
    assert [kind for _, kind, _, _ in rx.received] == ["member.subscribed"]


def test_a_receiver_that_hangs_is_cut_off_by_the_deadline(receiver, db, settings):
    rx = receiver("member.subscribed")
    rx.hold = threading.Event()  # never set while the worker waits
    with db.begin() as conn:
        member_db.add(conn, "ana@example.org", now=datetime.now(timezone.utc))
    started = time.monotonic()
    stats = deliver_due(db, settings, now=datetime.now(timezone.utc), deadline=1.0)
    assert time.monotonic() - started < 5
    assert stats.retried == 1 and "ana" not in stats.errors[0] and "member.subscribed" in stats.errors[0]
    assert outbox(db) == [("member.subscribed", "pending", 1)]


def test_forgetting_a_member_scrubs_their_delivered_events(run_cli, receiver, db):
    receiver("member.subscribed")
    assert run_cli("members", "add", "ana@example.org").exit_code == 0
    assert "delivered 1" in run_cli("webhooks", "deliver").output
    assert run_cli("members", "forget", "ana@example.org", "--yes").exit_code == 0
    with db.connect() as conn:
        assert "ana@example.org" not in str(conn.execute(sa.select(schema.webhook_outbox)).all())

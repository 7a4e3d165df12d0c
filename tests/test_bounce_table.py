"""The bounce table (digest/bounces/policy.py): one test per row, through each door that brings it.

A real SQLite (or PostgreSQL) database; the doors are the real functions the
sender (record_refusals), the report processor (apply via REPORT) and a
provider's webhook (apply_event) call.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from digest.bounces import policy as table
from digest.bounces.apply import apply, apply_event
from digest.bounces.parse import Report
from digest.config import BounceSettings
from digest.db import members as member_db

NOW = datetime(2017, 6, 26, 7, 0, tzinfo=timezone.utc)
POLICY = BounceSettings()


def test_the_table_is_what_the_docs_say():
    assert table.ACTIONS == {
        "permanent": "bounce", "transient": "count", "delayed": "count", "gave-up": "none",
        "complaint": "complain", "suppressed": "bounce", "unsubscribe": "unsubscribe", "delivered": "none"}


def member(db, email="ada@example.net", status="active"):
    with db.begin() as conn:
        sub = member_db.add(conn, email, now=NOW)
        if status != "active":
            member_db.set_status(conn, sub.id, status, source="cli", now=NOW)
    return sub.id


def status_of(db, sub_id):
    with db.connect() as conn:
        return member_db.get_by_id(conn, sub_id).status


def event(db, sub_id, key, kind, *, at=NOW, code=None):
    with db.begin() as conn:
        return apply_event(conn, key=key, kind=kind, member_id=sub_id, when=at, source="webhook test",
                           policy=POLICY, code=code)


# One test per row: what one event does to an active member, then what repeats do.
@pytest.mark.parametrize("kind, first, outcome, after_three", [
    ("permanent", "bounced", "bounced", "bounced"),
    ("transient", "active", "counted", "bounced"),
    ("delayed", "active", "counted", "bounced"),
    ("gave-up", "active", "ignored", "active"),
    ("complaint", "complained", "complained", "complained"),
    ("suppressed", "bounced", "bounced", "bounced"),
    ("unsubscribe", "unsubscribed", "unsubscribed", "unsubscribed"),
    ("delivered", "active", "ignored", "active"),
])
def test_each_row_of_the_table(db, kind, first, outcome, after_three):
    sub_id = member(db)
    assert event(db, sub_id, "evt-1", kind).outcome == outcome
    assert status_of(db, sub_id) == first
    assert event(db, sub_id, "evt-1", kind) is None  # the same event again: nothing
    for i in (2, 3):
        event(db, sub_id, f"evt-{i}", kind, at=NOW + timedelta(days=i))
    assert status_of(db, sub_id) == after_three
    with db.connect() as conn:
        trail = [e for e in member_db.list_events(conn, sub_id) if e["source"] == "webhook"]
    if table.ACTIONS[kind] == "none":
        assert trail == []
    else:
        assert trail[0]["detail"]["event"] == "evt-1" and trail[0]["detail"]["reason"]


def test_counted_failures_outside_the_window_do_not_add_up(db):
    sub_id = member(db)
    for i, days in enumerate((0, 31, 62)):
        event(db, sub_id, f"evt-{i}", "transient", at=NOW + timedelta(days=days))
    assert status_of(db, sub_id) == "active"


def test_a_member_who_left_is_not_changed_but_a_complaint_outranks_an_unsubscribe(db):
    sub_id = member(db, status="unsubscribed")
    for i, kind in enumerate(("permanent", "transient", "suppressed", "unsubscribe")):
        assert event(db, sub_id, f"evt-{i}", kind).new_status is None
    assert status_of(db, sub_id) == "unsubscribed"
    assert event(db, sub_id, "evt-c", "complaint").new_status == "complained"
    assert event(db, sub_id, "evt-c2", "complaint").outcome == "unchanged"


def test_an_event_for_nobody_is_recorded_and_changes_nothing(db):
    with db.begin() as conn:
        d = apply_event(conn, key="evt-x", kind="complaint", member_id=999, when=NOW, source="webhook test",
                        policy=POLICY)
    assert (d.outcome, d.new_status) == ("ignored", None)


def test_unknown_kinds_and_doors_are_refused(db):
    sub_id = member(db)
    with db.begin() as conn:
        with pytest.raises(ValueError, match="unknown kind"):
            apply(conn, "hard", sub_id, when=NOW, via=table.WEBHOOK, policy=POLICY)
        with pytest.raises(ValueError, match="unknown kind"):
            apply(conn, "permanent", sub_id, when=NOW, via="carrier pigeon", policy=POLICY)


# The doors: which kind each one's evidence is.

@pytest.mark.parametrize("error, kind", [
    ("550 5.1.1 <ada@example.net>: Recipient address rejected", "permanent"),
    ("550 5.1.10 RecipientNotFound", "permanent"),
    ("552 5.2.2 Mailbox full", "transient"),
    ("550 5.7.1 Message rejected as spam", "transient"),
    ("550 No such user", "transient"),
    ("550 15.1.1 not a status code", "transient"),
    (None, "transient"),
    ("gave up after 8 attempts: 451 4.3.0 Try again", "gave-up"),
])
def test_the_send_door_reads_a_refusal(error, kind):
    assert table.refusal_kind(error, POLICY) == kind


@pytest.mark.parametrize("report, kind", [
    (Report("bounce", "dsn", status="5.1.1"), "permanent"),
    (Report("bounce", "dsn", status="5.2.2"), "transient"),
    (Report("bounce", "dsn"), "transient"),  # 5.0.0: not a known dead address
    (Report("delay", "dsn", status="4.4.1"), "delayed"),
    (Report("complaint", "arf", feedback_type="abuse"), "complaint"),
    (Report("unsubscribe", "mail"), "unsubscribe"),
    (Report("delivered", "dsn"), "delivered"),
    (Report("auto-reply", "auto-reply"), None),
    (Report("unknown", "garbled"), None),
])
def test_the_report_door_reads_a_report(report, kind):
    assert table.report_kind(report, POLICY) == kind


def test_the_send_door_counts_refusals_on_the_member_and_bounces_at_the_threshold(db):
    from digest.bounces.apply import record_refusals
    from digest.db.schema import subscribers
    from sqlalchemy import select

    sub_id = member(db)
    kinds = []
    for _ in range(3):
        with db.begin() as conn:
            d = apply(conn, "transient", sub_id, when=NOW, via=table.SMTP, policy=POLICY)
        kinds.append(d.outcome)
    assert kinds == ["counted", "counted", "bounced"] and status_of(db, sub_id) == "bounced"
    other = member(db, "bob@example.net")
    with db.begin() as conn:
        apply(conn, "gave-up", other, when=NOW, via=table.SMTP, policy=POLICY)
        record_refusals(conn, {}, now=NOW, policy=POLICY)
    with db.connect() as conn:
        refusals = conn.execute(select(subscribers.c.hard_bounces).where(subscribers.c.id == other)).scalar()
        assert (member_db.list_events(conn, other)[-1]["action"], refusals) == ("subscribe", 0)


def test_the_threshold_is_the_configs_for_every_door(db):
    one = BounceSettings(threshold=1)
    a, b = member(db), member(db, "bob@example.net")
    with db.begin() as conn:
        assert apply(conn, "transient", a, when=NOW, via=table.SMTP, policy=one).new_status == "bounced"
        assert apply(conn, "delayed", b, when=NOW, via=table.REPORT, policy=one).new_status == "bounced"
    assert table.refusal_kind("550 5.1.1 No such user", BounceSettings(permanent=())) == "transient"

"""The bounce table (digest/bounces/policy.py): one test per row, through each door that brings it.

A real SQLite (or PostgreSQL) database; the doors are the real functions the
sender (record_refusals), the report processor (apply via REPORT) and a
provider's webhook (apply_event) call.
"""

from __future__ import annotations

import json
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


# What the audit trail says: the decision's one line, per row and per member status.

@pytest.mark.parametrize("kind, status, before, code, note, expected", [
    ("permanent", "active", 0, "5.1.1", "", ("bounced", "bounced", "permanent bounce 5.1.1")),
    ("permanent", "pending", 0, None, "", ("bounced", "bounced", "permanent bounce 5.0.0")),
    ("permanent", "bounced", 0, "5.1.1", "", ("unchanged", None, "5.1.1; member already bounced")),
    ("suppressed", "active", 0, None, "", ("bounced", "bounced", "suppressed by the provider")),
    ("suppressed", "active", 0, "5.1.1", "", ("bounced", "bounced", "suppressed by the provider (5.1.1)")),
    ("transient", "active", 0, "5.2.2", "", ("counted", None, "bounce 5.2.2: 1 of 3 within 30 days")),
    ("transient", "active", 1, None, "", ("counted", None, "bounce 5.0.0: 2 of 3 within 30 days")),
    ("transient", "active", 2, "5.7.1", "", ("bounced", "bounced", "3 failed deliveries within 30 days (last 5.7.1)")),
    ("transient", "active", 5, "5.7.1", "", ("bounced", "bounced", "6 failed deliveries within 30 days (last 5.7.1)")),
    ("transient", "unsubscribed", 2, "5.2.2", "", ("counted", None, "5.2.2; member already unsubscribed")),
    ("transient", "complained", 2, "5.2.2", "", ("counted", None, "5.2.2; member already complained")),
    ("delayed", "active", 0, None, "", ("counted", None, "soft bounce 4.0.0: 1 of 3 within 30 days")),
    ("delayed", "active", 2, "4.4.1", "", ("bounced", "bounced", "3 failed deliveries within 30 days (last 4.4.1)")),
    ("complaint", "active", 0, None, "", ("complained", "complained", "complaint (feedback-type abuse)")),
    ("complaint", "bounced", 0, None, "fraud", ("complained", "complained", "complaint (feedback-type fraud)")),
    ("complaint", "complained", 0, None, "", ("unchanged", None, "already complained")),
    ("unsubscribe", "active", 0, None, "by a provider", ("unsubscribed", "unsubscribed", "by a provider")),
    ("unsubscribe", "pending", 0, None, "", ("unsubscribed", "unsubscribed", "asked to leave")),
    ("unsubscribe", "bounced", 0, None, "", ("unchanged", None, "already bounced")),
    ("unsubscribe", "complained", 0, None, "", ("unchanged", None, "already complained")),
    ("gave-up", "active", 9, None, "", ("ignored", None, "gave-up")),
    ("delivered", "active", 0, None, "opened", ("ignored", None, "opened")),
])
def test_what_the_table_decides_and_says(kind, status, before, code, note, expected):
    d = table.decide_kind(kind, member_status=status, failures_before=before, policy=POLICY, code=code, note=note)
    assert (d.outcome, d.new_status, d.why) == expected
    assert d.action == table.ACTIONS[kind]


def test_the_threshold_and_window_in_the_words_come_from_the_config():
    policy = BounceSettings(threshold=5, window_days=7)
    d = table.decide_kind("transient", member_status="active", failures_before=3, policy=policy, code="5.2.2")
    assert (d.new_status, d.why) == (None, "bounce 5.2.2: 4 of 5 within 7 days")
    d = table.decide_kind("transient", member_status="active", failures_before=4, policy=policy, code="5.2.2")
    assert (d.new_status, d.why) == ("bounced", "5 failed deliveries within 7 days (last 5.2.2)")


@pytest.mark.parametrize("report, expected", [
    (Report("complaint", "arf", feedback_type="fraud"), ("complained", "complaint (feedback-type fraud)")),
    (Report("complaint", "arf"), ("complained", "complaint (feedback-type abuse)")),
    (Report("unsubscribe", "mail"), ("unsubscribed", "asked by mail to the List-Unsubscribe address")),
    (Report("bounce", "dsn", status="5.1.1"), ("bounced", "permanent bounce 5.1.1")),
    (Report("bounce", "dsn", status="5.2.2"), ("counted", "bounce 5.2.2: 1 of 3 within 30 days")),
    (Report("delay", "dsn"), ("counted", "soft bounce 4.0.0: 1 of 3 within 30 days")),
    (Report("delivered", "dsn", reason="Action: relayed"), ("ignored", "Action: relayed")),
    (Report("delivered", "dsn"), ("ignored", "delivered")),
    (Report("auto-reply", "auto-reply", reason="automatic reply"), ("ignored", "automatic reply")),
    (Report("unknown", "garbled"), ("ignored", "unknown")),
])
def test_a_returned_report_through_the_table(report, expected):
    d = table.decide(report, member_status="active", failures_before=0, policy=POLICY)
    assert (d.outcome, d.why) == expected
    kind = table.report_kind(report, POLICY)
    assert table.report_note(report, kind) == {"complaint": report.feedback_type or "",
                                               "unsubscribe": expected[1]}.get(kind, "")


# The webhook door with the delivery an event is about (a provider's copy of our tag or Message-ID).

def delivery(db, sub_id, key="2017-W25"):
    from sqlalchemy import insert, select

    from digest.db.schema import deliveries, editions

    with db.begin() as conn:
        ed = conn.execute(select(editions.c.id).where(editions.c.key == key)).scalar()
        if ed is None:
            ed = conn.execute(insert(editions).values(
                key=key, frequency="weekly", window_start=NOW, window_end=NOW, subject="s",
                built_at=NOW)).inserted_primary_key[0]
        return conn.execute(insert(deliveries).values(edition_id=ed, subscriber_id=sub_id, variant_id=1,
                                                      status=2)).inserted_primary_key[0]


def reports(db):
    from sqlalchemy import select

    from digest.db.schema import inbound_reports

    with db.connect() as conn:
        return [r._asdict() for r in conn.execute(select(inbound_reports).order_by(inbound_reports.c.id))]


def test_an_event_about_a_delivery_is_its_members_and_counts_once_per_delivery(db):
    ada, bob = member(db), member(db, "bob@example.net")
    first, second = delivery(db, ada), delivery(db, ada, "2017-W26")
    with db.begin() as conn:  # member_id is the delivery's member's, whatever was passed
        d1 = apply_event(conn, key="e1", kind="transient", delivery_id=first, member_id=bob, when=NOW,
                         source="ses", policy=POLICY, code="5.2.2", detail={"what": "Bounce"})
        d2 = apply_event(conn, key="e2", kind="delayed", delivery_id=first, when=NOW, source="ses", policy=POLICY)
        d3 = apply_event(conn, key="e3", kind="transient", delivery_id=second, when=NOW, source="ses", policy=POLICY)
    assert [d.why for d in (d1, d2, d3)] == ["bounce 5.2.2: 1 of 3 within 30 days",
                                             "soft bounce 4.0.0: 1 of 3 within 30 days",
                                             "bounce 5.0.0: 2 of 3 within 30 days"]
    rows = reports(db)
    assert [(r["report_key"], r["kind"], r["shape"], r["source"], r["status"], r["delivery_id"], r["subscriber_id"],
             r["outcome"], r["folder"]) for r in rows] == [
        ("e1", "transient", "ses", "ses", "5.2.2", first, ada, "counted", "processed"),
        ("e2", "delayed", "ses", "ses", None, first, ada, "counted", "processed"),
        ("e3", "transient", "ses", "ses", None, second, ada, "counted", "processed")]
    assert rows[0]["edition_id"] is not None
    assert json.loads(rows[0]["detail"]) == {"what": "Bounce", "decision": "bounce 5.2.2: 1 of 3 within 30 days"}
    with db.connect() as conn:
        trail = [e["detail"] for e in member_db.list_events(conn, ada) if e["source"] == "webhook"]
        assert member_db.list_events(conn, bob)[-1]["action"] == "subscribe"
    assert trail[0] == {"event": "e1", "edition": "2017-W25", "what": "Bounce",
                        "reason": "bounce 5.2.2: 1 of 3 within 30 days"}
    assert trail[2]["edition"] == "2017-W26"


def test_an_event_passes_its_note_and_code_to_the_table(db):
    ada, bob = member(db), member(db, "bob@example.net")
    with db.begin() as conn:
        c = apply_event(conn, key="c", kind="complaint", member_id=ada, when=NOW, source="sendgrid", policy=POLICY,
                        note="fraud")
        s = apply_event(conn, key="s", kind="suppressed", member_id=bob, when=NOW, source="sendgrid", policy=POLICY,
                        code="5.1.1")
    assert (c.why, s.why) == ("complaint (feedback-type fraud)", "suppressed by the provider (5.1.1)")


def test_an_event_for_an_unknown_delivery_falls_back_to_the_member_given_and_for_nobody_is_filed(db):
    ada = member(db)
    with db.begin() as conn:
        d = apply_event(conn, key="u", kind="permanent", delivery_id=424242, member_id=ada, when=NOW,
                        source="ses", policy=POLICY)
        nobody = apply_event(conn, key="n", kind="permanent", delivery_id=424243, when=NOW, source="ses",
                             policy=POLICY, detail={"what": "x"})
    assert d.new_status == "bounced" and status_of(db, ada) == "bounced"
    assert (nobody.outcome, nobody.new_status, nobody.why) == ("ignored", None, "no member to apply it to")
    rows = reports(db)
    assert [(r["delivery_id"], r["subscriber_id"], r["outcome"]) for r in rows] == [
        (None, ada, "bounced"), (None, None, "ignored")]
    assert json.loads(rows[1]["detail"]) == {"what": "x"}


def test_a_bounce_without_a_status_is_5_0_0_for_the_permanent_list():
    assert table.report_kind(Report("bounce", "text"), BounceSettings(permanent=("5.0.0",))) == "permanent"
    assert table.report_kind(Report("bounce", "text", status="5.0.0"), POLICY) == "transient"

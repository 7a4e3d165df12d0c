"""db.deliveries exactly, on rows made by hand (no CLI, no sender): who is due, what queueing adds, what a claim
hands the sender, and what each outcome leaves in the row. Fast enough for scripts/mutants lease."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select, update

from digest.db import deliveries as delivery_db
from digest.db.deliveries import Claimed, Outcome
from digest.db.schema import FAILED, QUEUED, SENDING, SENT, SKIPPED, decode_topics, deliveries, editions, subscribers

T0 = datetime(2017, 6, 26, 9, 0, tzinfo=timezone.utc)
ALL, NEWS = decode_topics(""), decode_topics("news")
A, B = "a" * 32, "b" * 32


def _edition(conn, key="2017-W25", frequency="weekly", kind="edition") -> int:
    return conn.execute(insert(editions).values(key=key, frequency=frequency, window_start=T0, window_end=T0,
                                                subject="s", built_at=T0, kind=kind)).inserted_primary_key[0]


def _member(conn, email, **values) -> int:
    row = dict(email=email, email_key=email.lower(), name=email.split("@")[0].title(), status="active", topics="",
               frequency="weekly", format="html", paused=False, created_at=T0, updated_at=T0, language="")
    row.update(values)
    return conn.execute(insert(subscribers).values(**row)).inserted_primary_key[0]


def _delivery(conn, edition_id, subscriber_id, **values) -> int:
    row = dict(edition_id=edition_id, subscriber_id=subscriber_id, variant_id=1, status=QUEUED, attempts=0)
    row.update(values)
    return conn.execute(insert(deliveries).values(**row)).inserted_primary_key[0]


def _row(db, delivery_id):
    with db.connect() as conn:
        return conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).one()._asdict()


def _people(conn) -> dict[str, int]:
    """Made out of order (a member of the later combination first), with those who are not due."""
    return {
        "cy": _member(conn, "cy@example.org", topics="news", format="text", language="cy"),
        "ada": _member(conn, "ada@example.org"),
        "bob": _member(conn, "bob@example.org"),
        "cyall": _member(conn, "cyall@example.org", language="cy"),  # the same topics and format, another language
        "paused": _member(conn, "paused@example.org", paused=True),
        "left": _member(conn, "left@example.org", status="unsubscribed"),
        "monthly": _member(conn, "monthly@example.org", frequency="monthly"),
        "sport": _member(conn, "sport@example.org", topics="sport"),
    }


def test_the_due_combinations_are_active_unpaused_members_of_the_frequency_counted_in_order(db):
    with db.begin() as conn:
        _people(conn)
    with db.connect() as conn:
        assert delivery_db.due_combinations(conn, "weekly") == [
            (ALL, "html", 3), (NEWS, "text", 1), (decode_topics("sport"), "html", 1)]
        assert delivery_db.due_combinations(conn, "weekly", by_language=True) == [
            (ALL, "html", "", 2), (ALL, "html", "cy", 1), (NEWS, "text", "cy", 1), (decode_topics("sport"), "html", "", 1)]
        assert delivery_db.due_combinations(conn, "monthly") == [(ALL, "html", 1)]
        assert delivery_db.due_combinations(conn, "daily") == []


def test_queueing_adds_each_due_member_of_a_mapped_combination_once_in_variant_order(db):
    with db.begin() as conn:
        people = _people(conn)
        ed, other = _edition(conn), _edition(conn, "2017-W24")
        _delivery(conn, other, people["ada"], status=SENT)  # another edition's delivery does not count
        _delivery(conn, ed, people["bob"], variant_id=99, status=SENT)  # already queued: left alone
        variant_of = {(ALL, "html", ""): 7, (NEWS, "text", "cy"): 3}
        assert delivery_db.queue_members(conn, ed, "weekly", variant_of) == 2
        assert delivery_db.queue_members(conn, ed, "weekly", variant_of) == 0  # again: nobody twice
        assert delivery_db.queue_members(conn, ed, "weekly", {}) == 0
    with db.connect() as conn:
        rows = conn.execute(select(deliveries.c.subscriber_id, deliveries.c.variant_id, deliveries.c.status,
                                   deliveries.c.attempts).where(deliveries.c.edition_id == ed)
                            .order_by(deliveries.c.id)).all()
    # Variant 3 before variant 7 (a claim in id order needs one variant at a time), members in id order in each.
    assert rows == [(people["bob"], 99, SENT, 0), (people["cy"], 3, QUEUED, 0), (people["ada"], 7, QUEUED, 0)]


def test_queueing_a_monthly_edition_takes_only_monthly_members(db):
    with db.begin() as conn:
        people = _people(conn)
        ed = _edition(conn, "2017-06", "monthly")
        assert delivery_db.queue_members(conn, ed, "monthly", {(ALL, "html", ""): 5}) == 1
        assert conn.execute(select(deliveries.c.subscriber_id, deliveries.c.variant_id)).all() == [
            (people["monthly"], 5)]


def test_a_claim_hands_the_sender_the_delivery_its_member_and_its_edition(db):
    with db.begin() as conn:
        people = _people(conn)
        ed = _edition(conn, "2017-W25-news", kind="news")
        conn.execute(update(subscribers).where(subscribers.c.id == people["cy"]).values(
            token_version=4, news_announcements=False))
        d1 = _delivery(conn, ed, people["cy"], variant_id=3, attempts=2)
        d2 = _delivery(conn, ed, None, variant_id=3)  # the member was forgotten
        got = delivery_db.claim(conn, now=T0, lease_seconds=90, limit=5, claimant=A)
    assert got == [
        Claimed(d1, ed, "2017-W25-news", "weekly", 3, 2, people["cy"], "cy@example.org", "Cy", "active", False,
                "weekly", NEWS, "text", 4, "cy", A, edition_kind="news", news_announcements=False),
        Claimed(d2, ed, "2017-W25-news", "weekly", 3, 0, None, None, None, None, False, None, ALL, None, 1, "", A,
                edition_kind="news", news_announcements=True)]
    for d in (d1, d2):
        row = _row(db, d)
        assert (row["status"], row["claimed_by"], row["lease_until"]) == (SENDING, A, T0 + timedelta(seconds=90))


def test_a_lease_ending_exactly_now_has_not_run_out(db):
    with db.begin() as conn:
        ed = _edition(conn)
        d = _delivery(conn, ed, _member(conn, "ada@example.org"), status=SENDING, claimed_by=A, lease_until=T0)
        assert delivery_db.claim(conn, now=T0, lease_seconds=60, limit=5, claimant=B) == []
        assert [c.id for c in delivery_db.claim(conn, now=T0 + timedelta(microseconds=1), lease_seconds=60,
                                                limit=5, claimant=B)] == [d]


def _claimed(db, n):
    with db.begin() as conn:
        ed = _edition(conn)
        for i in range(n):
            _delivery(conn, ed, _member(conn, f"m{i}@example.org"), last_error="451 from before", attempts=1)
        return delivery_db.claim(conn, now=T0, lease_seconds=60, limit=n, claimant=A)


def test_a_sent_delivery_records_when_clears_its_error_and_keeps_a_reply_only_when_given(db):
    one, two = _claimed(db, 2)
    now = T0 + timedelta(seconds=5)
    with db.begin() as conn:
        done = [Outcome(one.id, SENT, claim=A, reply="250 2.0.0 " + "q" * 600), Outcome(two.id, SENT, claim=A)]
        assert delivery_db.finish(conn, done, now=now) == done
    r1, r2 = _row(db, one.id), _row(db, two.id)
    assert (r1["status"], r1["sent_at"], r1["lease_until"], r1["attempts"], r1["last_error"]) == (
        SENT, now, None, 2, None)
    assert r1["relay_reply"] == ("250 2.0.0 " + "q" * 600)[:500] and r2["relay_reply"] is None
    with db.begin() as conn:  # recorded once: finishing it again changes nothing
        assert delivery_db.finish(conn, [Outcome(one.id, SENT, claim=A)], now=now + timedelta(seconds=1)) == []
        assert delivery_db.finish(conn, [Outcome(one.id, FAILED, "550 late", claim=A)], now=now) == []
    assert _row(db, one.id)["attempts"] == 2 and _row(db, one.id)["status"] == SENT


def test_each_outcome_leaves_its_state_attempts_retry_time_and_error(db):
    retry, given_back, failed, skipped = _claimed(db, 4)
    later = T0 + timedelta(minutes=10)
    long_error = "451 4.7.1 " + "x" * 600
    with db.begin() as conn:
        outcomes = [Outcome(retry.id, QUEUED, long_error, retry_at=later, claim=A),
                    Outcome(given_back.id, QUEUED, claim=A),  # a timeout: back to the queue, no attempt spent
                    Outcome(failed.id, FAILED, "550 5.1.1 no such user", claim=A),
                    Outcome(skipped.id, SKIPPED, claim=A)]
        assert delivery_db.finish(conn, outcomes, now=T0) == outcomes
    got = {d.id: _row(db, d.id) for d in (retry, given_back, failed, skipped)}
    pick = ("status", "attempts", "not_before", "last_error", "lease_until")
    assert [tuple(got[d.id][k] for k in pick) for d in (retry, given_back, failed, skipped)] == [
        (QUEUED, 2, later, long_error[:500], None),
        (QUEUED, 1, None, None, None),
        (FAILED, 2, None, "550 5.1.1 no such user", None),
        (SKIPPED, 1, None, None, None)]


def test_a_new_variant_is_recorded_only_for_its_own_delivery_and_only_if_still_held(db):
    one, two, three = _claimed(db, 3)
    with db.begin() as conn:  # three was taken over by another run meanwhile
        conn.execute(update(deliveries).where(deliveries.c.id == three.id).values(claimed_by=B))
        recorded = delivery_db.finish(conn, [Outcome(one.id, SENT, claim=A, variant_id=8),
                                             Outcome(three.id, SKIPPED, claim=A, variant_id=9),
                                             Outcome(two.id, QUEUED, claim=A)], now=T0)
    assert [o.delivery_id for o in recorded] == [one.id, two.id]
    assert [_row(db, d.id)["variant_id"] for d in (one, two, three)] == [8, 1, 1]
    assert _row(db, three.id)["status"] == SENDING


@pytest.mark.parametrize("state", [SENT, FAILED])
def test_an_outcome_for_a_delivery_no_longer_sending_is_not_recorded(db, state):
    [one] = _claimed(db, 1)
    with db.begin() as conn:  # given back by --reclaim (queued, still marked with our token)
        conn.execute(update(deliveries).where(deliveries.c.id == one.id).values(status=QUEUED))
        assert delivery_db.finish(conn, [Outcome(one.id, state, "550 x", claim=A)], now=T0) == []
    assert _row(db, one.id)["status"] == QUEUED and _row(db, one.id)["attempts"] == 1

"""The lease on its own: fenced claims in the database (both databases), and the run's renewals.

Quick tests, without a sender process (tests/test_lease.py has those):
what scripts/mutants runs against sending/lease.py and db/deliveries.py.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select, update

from digest.db import deliveries as delivery_db
from digest.db.schema import FAILED, QUEUED, SENDING, SENT, deliveries, edition_totals, editions
from digest.errors import DatabaseBusyError
from digest.sending.lease import Lease, LeaseExpired


def test_an_outcome_is_recorded_only_under_the_claim_that_still_holds(queue_members, db):
    queue_members(3)
    t0 = datetime(2017, 6, 26, 9, 0, tzinfo=timezone.utc)
    with db.begin() as conn:
        mine = delivery_db.claim(conn, now=t0, lease_seconds=60, limit=3, claimant="a" * 32)
    assert [c.claim for c in mine] == ["a" * 32] * 3
    with db.begin() as conn:  # renewed at 50 s: at 90 s the lease still holds, nobody takes it over
        assert delivery_db.renew(conn, claimant="a" * 32, now=t0 + timedelta(seconds=50),
                                 lease_seconds=60) == {c.id for c in mine}
        assert delivery_db.claim(conn, now=t0 + timedelta(seconds=90), lease_seconds=60, limit=3,
                                 claimant="b" * 32) == []
    with db.begin() as conn:  # then A stalls past its lease: B takes the deliveries over
        theirs = delivery_db.claim(conn, now=t0 + timedelta(seconds=200), lease_seconds=60, limit=3,
                                   claimant="b" * 32)
    assert {c.id for c in theirs} == {c.id for c in mine}
    late = [delivery_db.Outcome(c.id, SENT, claim=c.claim) for c in mine[:2]]
    late.append(delivery_db.Outcome(mine[2].id, QUEUED, "451 later", claim=mine[2].claim))
    with db.begin() as conn:  # A's late outcomes change nothing, and A learns it holds nothing
        assert delivery_db.finish(conn, late, now=t0 + timedelta(seconds=201)) == []
        assert delivery_db.renew(conn, claimant="a" * 32, now=t0 + timedelta(seconds=201), lease_seconds=60) == set()
    with db.connect() as conn:
        rows = conn.execute(select(deliveries.c.status, deliveries.c.claimed_by, deliveries.c.attempts)).all()
    assert rows == [(SENDING, "b" * 32, 0)] * 3
    with db.begin() as conn:  # B's outcome is recorded
        done = [delivery_db.Outcome(c.id, SENT, claim=c.claim) for c in theirs]
        assert delivery_db.finish(conn, done, now=t0 + timedelta(seconds=202)) == done
    with db.connect() as conn:
        assert conn.execute(select(func.count()).where(deliveries.c.status == SENT)).scalar() == 3


def test_a_run_that_cannot_renew_starts_no_message_once_its_lease_runs_low():
    now = [0.0]
    answers: list = [{1, 2}, DatabaseBusyError("database is busy")]

    async def renew():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def scenario():
        lease = Lease(30, renew, clock=lambda: now[0])
        lease.claimed({1, 2, 3})
        assert lease.room(None, 4) == 4 - 3  # the minimum (two per connection) before a rate is known
        assert lease.room(10.0, 4) == 150 - 3  # half a lease at 10 a second
        assert lease.room(0.1, 4) == 4 - 3  # never below the minimum
        assert Lease(30, renew).room(None, 0) == 0  # no rate known and no minimum: nothing more
        now[0] = 19.0  # under two thirds of the lease: no renewal needed yet
        assert await lease.holds(1)
        now[0] = 21.0  # renewed first: 3 was taken over meanwhile
        assert await lease.holds(1) and not await lease.holds(3)
        assert lease.renewed_at == 21.0
        now[0] = 41.0  # the next renewal fails: nothing may start
        with pytest.raises(LeaseExpired, match="database is busy"):
            await lease.holds(1)

    asyncio.run(scenario())


def test_renewals_asked_at_once_are_one_and_a_claim_under_way_counts_from_its_start():
    now = [100.0]
    calls = []

    async def renew():
        calls.append(now[0])
        await asyncio.sleep(0.01)
        return {7}

    async def scenario():
        lease = Lease(9, renew, clock=lambda: now[0])
        lease.claimed({7, 8})
        lease.claiming = 95.0  # a claim took its time at 95 and has not committed yet
        assert await asyncio.gather(lease.renew(), lease.renew()) == [True, True]
        assert calls == [100.0]  # one renewal for both callers
        assert lease.renewed_at == 95.0  # what that claim takes may end 9 s after 95, not after 100
        assert lease.lost == {8}
        lease.done({8})
        assert lease.held == {7} and lease.lost == set()
        lease.claiming = None
        now[0] = 101.0
        assert await lease.renew() and lease.renewed_at == 101.0 and len(calls) == 2
        now[0] = 106.9  # just under two thirds of the lease since
        assert lease.fresh()
        now[0] = 107.0
        assert not lease.fresh()

    asyncio.run(scenario())


def test_the_heartbeat_renews_every_third_of_the_lease():
    renewed = []

    async def renew():
        renewed.append(asyncio.get_running_loop().time())
        return set()

    async def scenario():
        lease = Lease(0.3, renew)
        started = asyncio.get_running_loop().time()
        keeper = asyncio.get_running_loop().create_task(lease.keep())
        await asyncio.sleep(0.36)
        keeper.cancel()
        with pytest.raises(asyncio.CancelledError):
            await keeper
        assert 2 <= len(renewed) <= 3 and lease.renewals == len(renewed)  # at 0.1, 0.2 and 0.3 s
        gaps = [b - a for a, b in zip([started, *renewed], renewed)]
        assert min(gaps) >= 0.095

    asyncio.run(scenario())


def test_a_failed_renewal_answers_false_and_changes_nothing_it_knew():
    async def renew():
        raise DatabaseBusyError("database is busy")

    async def scenario():
        lease = Lease(30, renew, clock=lambda: 5.0)
        lease.claimed({1})
        assert lease.error is None  # nothing has failed yet
        assert await lease.renew() is False
        assert (lease.error, lease.renewed_at, lease.renewals, lease.lost) == ("database is busy", 5.0, 0, set())

    asyncio.run(scenario())


def test_a_renewal_that_takes_too_long_stops_the_run_saying_how_long_it_took():
    now = [0.0]

    async def renew():
        now[0] += 25.0  # the database answered, 25 s later: the lease is renewed as of the start, 20 s ago
        return {1}

    async def scenario():
        lease = Lease(30, renew, clock=lambda: now[0])
        lease.claimed({1})
        now[0] = 20.0
        with pytest.raises(LeaseExpired) as e:
            await lease.holds(1)
        assert str(e.value) == ("could not renew the lease of the claimed deliveries in time: "
                                "a renewal took 25.00 s of a 30 s lease")

    asyncio.run(scenario())


def test_a_claim_made_during_a_renewal_is_not_lost_and_what_was_lost_stays_lost():
    answers = [{7}, {7, 8, 9}]

    leases = []

    async def renew():
        leases[0].claimed({9})  # a claim commits while the renewal is under way: the renewal did not see it
        return answers.pop(0)

    async def scenario():
        lease = Lease(30, renew, clock=lambda: 0.0)
        leases.append(lease)
        lease.claimed({7, 8})
        assert await lease.renew()
        assert lease.lost == {8} and lease.held == {7, 8, 9}
        # 8 was taken over: never to be sent by this run, whatever a later renewal says
        assert await lease.renew() and lease.lost == {8}
        assert await lease.holds(7) and await lease.holds(9) and not await lease.holds(8)

    asyncio.run(scenario())


def test_a_caller_given_up_during_a_renewal_does_not_start_a_second_one():
    calls = []
    gate = None

    async def renew():
        calls.append(1)
        await gate.wait()
        return set()

    async def scenario():
        nonlocal gate
        gate = asyncio.Event()
        lease = Lease(30, renew)
        first = asyncio.ensure_future(lease.renew())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        first.cancel()  # a connection stopping while it waited for the renewal
        with pytest.raises(asyncio.CancelledError):
            await first
        second = asyncio.ensure_future(lease.renew())  # joins the renewal still under way
        await asyncio.sleep(0)
        gate.set()
        assert await second is True
        assert calls == [1] and lease.renewals == 1

    asyncio.run(scenario())


def test_the_queue_counts_retries_reclaims_and_members_of_deliveries(queue_members, db):
    queue_members(4)
    t0 = datetime(2017, 6, 26, 9, 0, tzinfo=timezone.utc)
    later = t0 + timedelta(minutes=10)
    with db.begin() as conn:
        one, two, three = delivery_db.claim(conn, now=t0, lease_seconds=60, limit=3, claimant="a" * 32)
        edition_id = one.edition_id
        delivery_db.finish(conn, [delivery_db.Outcome(one.id, SENT, claim=one.claim),
                                  delivery_db.Outcome(two.id, QUEUED, "451 4.7.1 try later", retry_at=later,
                                                      claim=two.claim),
                                  delivery_db.Outcome(three.id, FAILED, "550 5.1.1 no such user",
                                                      claim=three.claim)], now=t0)
        # a pruned earlier part of this edition: 5 sent, folded into its totals
        conn.execute(insert(edition_totals).values(edition_id=edition_id, variant="v", measure="sent", value=5))
        conn.execute(insert(edition_totals).values(edition_id=edition_id + 1, variant="v", measure="failed",
                                                   value=2))
    with db.connect() as conn:
        assert delivery_db.counts(conn, edition_id) == {"queued": 2, "sending": 0, "sent": 6, "failed": 1,
                                                        "skipped": 0}
        assert delivery_db.counts(conn) == {"queued": 2, "sending": 0, "sent": 6, "failed": 3, "skipped": 0}
        assert delivery_db.counts(conn, edition_id + 1) == {"queued": 0, "sending": 0, "sent": 0, "failed": 2,
                                                            "skipped": 0}
        assert delivery_db.pending_count(conn) == 2
        assert delivery_db.retry_summary(conn) == [(two.id, 1, "451 4.7.1 try later", later)]
    with db.begin() as conn:  # what a run finished is no longer its to renew, whatever it did
        assert delivery_db.renew(conn, claimant="a" * 32, now=later, lease_seconds=60) == set()
    with db.connect() as conn:
        assert conn.execute(select(deliveries.c.lease_until).where(deliveries.c.id.in_(
            [one.id, two.id, three.id]))).scalars().all() == [None] * 3
    with db.begin() as conn:  # --reclaim after a crash: what was sending is queued again, its lease gone
        held = delivery_db.claim(conn, now=later, lease_seconds=60, limit=5, claimant="b" * 32)
        assert len(held) == 2
        assert delivery_db.release_all_sending(conn) == 2
    with db.connect() as conn:
        rows = conn.execute(select(deliveries.c.status, deliveries.c.lease_until)
                            .where(deliveries.c.id.in_([c.id for c in held]))).all()
        assert rows == [(QUEUED, None)] * 2
        assert delivery_db.pending_count(conn) == 2
    with db.begin() as conn:  # a forgotten member's delivery keeps no member
        conn.execute(update(deliveries).where(deliveries.c.id == two.id).values(subscriber_id=None))
    with db.connect() as conn:
        assert delivery_db.subscribers_of(conn, [one.id, two.id]) == [one.subscriber_id]
        assert sorted(delivery_db.subscribers_of(conn, [one.id, three.id])) == sorted(
            [one.subscriber_id, three.subscriber_id])


def test_only_fifty_retries_are_listed_in_id_order(queue_members, db):
    queue_members(52)
    with db.begin() as conn:
        conn.execute(update(deliveries).values(attempts=2, last_error="451 later"))
        conn.execute(update(deliveries).where(deliveries.c.id == select(func.min(deliveries.c.id))
                                              .scalar_subquery()).values(attempts=0))
    with db.connect() as conn:
        listed = delivery_db.retry_summary(conn)
        ids = list(conn.execute(select(deliveries.c.id).order_by(deliveries.c.id)).scalars())
    assert [r[0] for r in listed] == ids[1:51] and {r[1:3] for r in listed} == {(2, "451 later")}


def test_the_editions_with_deliveries_still_to_send_are_listed_by_key(db):
    t0 = datetime(2017, 6, 26, 9, 0, tzinfo=timezone.utc)
    with db.begin() as conn:  # made out of key order: the answer is in key order all the same
        for key, states in (("2017-W26", [SENT, QUEUED]), ("2017-W23", [SENT, FAILED]), ("2017-W24", [SENDING]),
                            ("2017-W25", [])):
            ed = conn.execute(insert(editions).values(key=key, frequency="weekly", window_start=t0, window_end=t0,
                                                      subject="s", built_at=t0)).inserted_primary_key[0]
            for state in states:
                conn.execute(insert(deliveries).values(edition_id=ed, subscriber_id=None, variant_id=1,
                                                       status=state, attempts=0))
    with db.connect() as conn:
        assert delivery_db.editions_with_pending(conn) == ["2017-W24", "2017-W26"]


def test_each_run_claims_under_a_token_of_its_own():
    async def renew():
        return set()

    a, b = Lease(30, renew), Lease(30, renew)
    assert a.claimant != b.claimant and len(a.claimant) == 32 and int(a.claimant, 16) >= 0  # claimed_by: 32 hex


def test_a_run_never_takes_back_its_own_lapsed_claims_and_nothing_sent_is_claimed_again(queue_members, db):
    queue_members(3)
    t0 = datetime(2017, 6, 26, 9, 0, tzinfo=timezone.utc)
    with db.begin() as conn:
        first, second = delivery_db.claim(conn, now=t0, lease_seconds=60, limit=2, claimant="a" * 32)
        # sent, with a lease time left behind (an older version, or a hand edit): never claimed again
        conn.execute(update(deliveries).where(deliveries.c.id == second.id).values(status=SENT))
    later = t0 + timedelta(seconds=200)
    with db.begin() as conn:  # A's own lapsed claim may still be in flight in A: A takes only the queued one
        again = delivery_db.claim(conn, now=later, lease_seconds=60, limit=3, claimant="a" * 32)
    assert [c.id for c in again] == [second.id + 1]
    with db.begin() as conn:  # another sender takes A's lapsed claim over, and nothing sent
        assert [c.id for c in delivery_db.claim(conn, now=later, lease_seconds=60, limit=3,
                                                claimant="b" * 32)] == [first.id]


def test_a_claim_takes_lapsed_then_due_deliveries_up_to_its_limit_of_one_edition(queue_members, db):
    queue_members(6)
    t0 = datetime(2017, 6, 26, 9, 0, tzinfo=timezone.utc)
    later = t0 + timedelta(seconds=200)
    with db.begin() as conn:
        ids = list(conn.execute(select(deliveries.c.id).order_by(deliveries.c.id)).scalars())
        a = delivery_db.claim(conn, now=t0, lease_seconds=60, limit=2, claimant="a" * 32)
        edition_id = a[0].edition_id
        assert conn.execute(select(deliveries.c.lease_until).where(deliveries.c.id == a[0].id)).scalar() == \
            t0 + timedelta(seconds=60)
        # one claimed before claims were fenced (no claimant), lapsed: anyone may take it over
        conn.execute(update(deliveries).where(deliveries.c.id == ids[4]).values(
            status=SENDING, claimed_by=None, lease_until=t0))
        # one waiting for a retry until `later`, to the second
        conn.execute(update(deliveries).where(deliveries.c.id == ids[2]).values(not_before=later))
    with db.begin() as conn:
        assert delivery_db.claim(conn, now=later, lease_seconds=60, limit=3, claimant="b" * 32,
                                 edition_id=edition_id + 1) == []
        b = delivery_db.claim(conn, now=later - timedelta(seconds=1), lease_seconds=60, limit=4,
                              claimant="b" * 32, edition_id=edition_id)
    assert sorted(c.id for c in b) == [ids[0], ids[1], ids[3], ids[4]]  # not ids[2]: not due for a second yet
    with db.begin() as conn:
        c = delivery_db.claim(conn, now=later, lease_seconds=60, limit=1, claimant="c" * 32)
    assert [x.id for x in c] == [ids[2]]  # due at its time exactly

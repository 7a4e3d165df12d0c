"""The lease on its own: fenced claims in the database (both databases), and the run's renewals.

Quick tests, without a sender process (tests/test_lease.py has those):
what scripts/mutants runs against sending/lease.py and db/deliveries.py.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from digest.db import deliveries as delivery_db
from digest.db.schema import QUEUED, SENDING, SENT, deliveries
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

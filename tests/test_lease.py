"""A lease is a promise: a live sender keeps what it claimed, however slow the relay.

The relay here takes 0.2 s to accept each message (a throttled or tarpitting
relay), so a batch takes far longer to send than its lease lasts. The live
sender renews its leases (heartbeat) and claims only what it can send within
one; a sender that takes over expired leases finds none; and an outcome is
recorded only for a claim still held. Counted at the SMTP server: every
member exactly once. Both databases (DIGEST_TEST_DATABASE_URL for PostgreSQL).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter

from sqlalchemy import func, select

from digest.db.schema import SENT, deliveries
from smtp_server import SmtpSink


def _send(env, url: str, *args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "digest", "send", "--transport", "smtp", *args]
    return subprocess.Popen(cmd, env={**os.environ, **env, "DIGEST_SMTP_URL": url}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(*procs: subprocess.Popen) -> list[str]:
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outputs.append(out)
    return outputs


def _check_once(sink: SmtpSink, db, members: int) -> None:
    received = Counter(r for m in sink.messages for r in m.rcpt_tos)
    copies = sum(received.values())
    print(f"{copies} messages for {len(received)} members")  # the figures, with pytest -s
    assert len(received) == members  # nobody lost
    assert copies == members, [r for r, n in received.items() if n > 1]  # nobody twice
    with db.connect() as conn:
        assert conn.execute(select(func.count()).where(deliveries.c.status == SENT)).scalar() == members


def test_two_processes_of_a_slow_relay_keep_their_claims(queue_members, env, db):
    members = 80
    queue_members(members)
    with SmtpSink(data_delay=0.2) as sink:
        _finish(_send(env, sink.url, "--connections", "2", "--processes", "2", "--lease", "3", "--batch", "40"))
        _check_once(sink, db, members)


def test_a_second_run_does_not_take_over_a_live_runs_claims(queue_members, env, db):
    members = 60
    queue_members(members)
    with SmtpSink(data_delay=0.2) as sink:
        first = _send(env, sink.url, "--lease", "2", "--batch", "50")
        time.sleep(1.5)
        second = _send(env, sink.url, "--lease", "2", "--batch", "50")
        _finish(first, second)
        _check_once(sink, db, members)


def test_an_outcome_is_recorded_only_under_the_claim_that_still_holds(queue_members, db):
    from datetime import datetime, timedelta, timezone

    from digest.db import deliveries as delivery_db
    from digest.db.schema import QUEUED, SENDING

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
    import asyncio

    import pytest

    from digest.errors import DatabaseBusyError
    from digest.sending.lease import Lease, LeaseExpired

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
        assert lease.room(None, 2) == 4 - 3  # two per connection before a rate is known
        assert lease.room(10.0, 2) == 150 - 3  # half a lease at 10 a second
        now[0] = 19.0  # under two thirds of the lease: no renewal needed yet
        assert await lease.holds(1)
        now[0] = 21.0  # renewed first: 3 was taken over meanwhile
        assert await lease.holds(1) and not await lease.holds(3)
        assert lease.renewed_at == 21.0
        now[0] = 41.0  # the next renewal fails: nothing may start
        with pytest.raises(LeaseExpired, match="database is busy"):
            await lease.holds(1)

    asyncio.run(scenario())

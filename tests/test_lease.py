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



def test_claims_taken_over_from_a_live_run_are_neither_sent_nor_recorded_by_it(queue_members, db, settings):
    import threading
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import update

    from digest.db.schema import SENDING
    from digest.sending.transports.pipelined import SmtpRelay
    from digest.sending.worker import SendOptions, send_queue

    members = 20
    queue_members(members)
    with SmtpSink(data_delay=0.1) as sink:
        result = {}
        run = threading.Thread(target=lambda: result.update(stats=send_queue(
            db, settings, SmtpRelay.from_url(sink.url), SendOptions(connections=1, lease_seconds=0.9))))
        run.start()
        sink.wait_for(5, timeout=60)
        with db.begin() as conn:  # as if the run had stalled and another (live) sender took over what it holds
            stolen = conn.execute(update(deliveries).where(deliveries.c.status == SENDING).values(
                claimed_by="x" * 32, lease_until=datetime.now(timezone.utc) + timedelta(hours=1),
            ).returning(deliveries.c.id)).scalars().all()
        run.join(timeout=60)
        received = Counter(r for m in sink.messages for r in m.rcpt_tos)
    stats = result["stats"]
    assert stolen and stats.lost == len(stolen)  # noticed: by the heartbeat, or by the fenced commit
    assert stats.sent == members - len(stolen) and set(received.values()) == {1}
    assert len(received) <= members  # at most the one in flight went; the rest were left to the new holder
    with db.connect() as conn:
        left = conn.execute(select(deliveries.c.id).where(deliveries.c.status == SENDING,
                                                          deliveries.c.claimed_by == "x" * 32)).scalars().all()
    assert sorted(left) == sorted(stolen)  # the late outcome did not overwrite the new holder's claim

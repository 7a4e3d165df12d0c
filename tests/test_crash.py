"""A sender killed with SIGKILL mid-way: a later `digest send` finishes the job.

Nobody is lost, and only messages that were in flight (accepted by the SMTP
server but not yet recorded when the process died) may go twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from digest.db.schema import QUEUED, SENDING, deliveries, subscribers

MEMBERS = 40


@pytest.fixture
def queued(queue_members):
    queue_members(MEMBERS)


def digest_send(env, smtp_url, *args, wait=True):
    cmd = [sys.executable, "-m", "digest", "send", "--transport", "smtp", *args]
    full_env = {**os.environ, **env, "DIGEST_SMTP_URL": smtp_url}
    if wait:
        return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=120)
    return subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("resume", ["reclaim", "lease-expiry"])
def test_sigkill_mid_send_then_resume(queued, env, db, smtp_sink, resume):
    # 30 of the 40 are claimed in the first batch, under a lease far longer than the test: the
    # lease's end is moved into the past below rather than waited for (no race with a slow machine).
    proc = digest_send(env, smtp_sink.url, "--rate", "10", "--lease", "300", "--batch", "30", wait=False)
    try:
        smtp_sink.wait_for(12, timeout=60)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    received_before = Counter(r for m in smtp_sink.messages for r in m.rcpt_tos)
    assert 12 <= sum(received_before.values()) < MEMBERS

    with db.connect() as conn:
        left_sending = set(conn.execute(
            select(subscribers.c.email).join(deliveries, deliveries.c.subscriber_id == subscribers.c.id)
            .where(deliveries.c.status == SENDING)).scalars())
    assert left_sending, "the killed process should have left claimed deliveries behind"
    in_flight = left_sending & set(received_before)

    if resume == "reclaim":
        done = digest_send(env, smtp_sink.url, "--reclaim")
    else:
        # Before the lease ends, another sender takes only what was never claimed...
        with db.connect() as conn:
            unclaimed = conn.execute(select(func.count()).where(deliveries.c.status == QUEUED)).scalar()
        early = digest_send(env, smtp_sink.url)
        assert early.returncode == 0, early.stderr
        assert f"sent {unclaimed}," in early.stdout
        received_early = Counter(r for m in smtp_sink.messages for r in m.rcpt_tos)
        assert all(received_early[r] == received_before[r] for r in left_sending)
        with db.begin() as conn:  # the lease ends (as if 300 s had passed)...
            conn.execute(update(deliveries).where(deliveries.c.status == SENDING)
                         .values(lease_until=datetime.now(timezone.utc) - timedelta(seconds=1)))
        done = digest_send(env, smtp_sink.url)  # ...and a later sender takes them over.
    assert done.returncode == 0, done.stderr

    received = Counter(r for m in smtp_sink.messages for r in m.rcpt_tos)
    everyone = {f"member{n:03d}@example.org" for n in range(MEMBERS)}
    assert set(received) == everyone  # nobody lost
    twice = {r for r, n in received.items() if n > 1}
    assert twice <= in_flight  # only what was in flight went twice
    assert max(received.values()) <= 2
    with db.connect() as conn:
        states = Counter(conn.execute(select(deliveries.c.status)).scalars())
    assert states == {2: MEMBERS}

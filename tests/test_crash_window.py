"""kill -9 at three arbitrary points of a 3,000-member send: nobody lost, at most one duplicate per connection.

Each connection holds the final "." of a message until the outcome of its
previous message is committed, so when a sender dies the relay can hold at
most one message per connection that the database does not know was sent;
the next `digest send --reclaim` sends those again, and nothing else twice.
Counted at the SMTP server. With 8 connections the send runs in the
default number of processes (the cores), so the children die with the
parent too. Both databases: set DIGEST_TEST_DATABASE_URL for PostgreSQL.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from digest.db.schema import SENT, deliveries
from smtp_server import SmtpSink

MEMBERS = 3000


def settle(sink: SmtpSink, timeout: float = 20) -> None:
    """Wait until the server has seen every connection close and nothing more arrives."""
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline:
        if sink.open_connections == 0 and len(sink.messages) == seen:
            return
        seen = len(sink.messages)
        time.sleep(0.2)
    raise TimeoutError("the SMTP server did not settle")


@pytest.mark.parametrize("connections", [1, 8])
def test_kill_9_three_times_costs_at_most_one_duplicate_per_connection(queue_members, env, db, connections):
    queue_members(MEMBERS)
    points = sorted(random.Random(connections).sample(range(200, MEMBERS - 300), 3))  # arbitrary, reproducible
    full_env = {**os.environ, **env}
    with SmtpSink(pipelining=True) as sink:
        full_env["DIGEST_SMTP_URL"] = sink.url
        cmd = [sys.executable, "-m", "digest", "send", "--transport", "smtp", "--connections", str(connections)]

        def received() -> Counter:
            return Counter(r for m in sink.messages for r in m.rcpt_tos)

        first_run: dict[str, int] = {}  # recipient -> the run that delivered their first copy

        def note(run: int) -> None:
            for r in received():
                first_run.setdefault(r, run)

        for i, point in enumerate(points):
            proc = subprocess.Popen(cmd + (["--reclaim"] if i else []), env=full_env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
            try:
                sink.wait_for(point, timeout=180)
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
            assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
            settle(sink)  # what the killed sender had written is counted before the next one starts
            note(i)
        done = subprocess.run(cmd + ["--reclaim"], env=full_env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        after = received()

    # A kill's duplicates: members whose first copy came from the killed run and who got more later
    # (sent again by whichever run took their delivery over: the next, or a later one).
    duplicates = [sum(n - 1 for r, n in after.items() if first_run.get(r) == i) for i in range(len(points))]
    assert len(after) == MEMBERS  # nobody lost
    assert sum(after.values()) == MEMBERS + sum(duplicates)  # every extra copy is one counted above
    assert all(d <= connections for d in duplicates), (points, duplicates)
    with db.connect() as conn:
        assert conn.execute(select(func.count()).where(deliveries.c.status == SENT)).scalar() == MEMBERS

"""Four `digest send` processes share one queue and a real SMTP server: nothing goes twice.

On PostgreSQL (DIGEST_TEST_DATABASE_URL) the claims use FOR UPDATE SKIP LOCKED;
on SQLite they are serialised by BEGIN IMMEDIATE. The test holds for both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

from sqlalchemy import func, select

from digest.db.schema import SENT, deliveries

MEMBERS = 240


def test_four_senders_share_one_queue_without_sending_twice(queue_members, env, db, smtp_sink):
    queue_members(MEMBERS)

    full_env = {**os.environ, **env, "DIGEST_SMTP_URL": smtp_sink.url}
    cmd = [sys.executable, "-m", "digest", "send", "--transport", "smtp", "--connections", "2", "--batch", "10"]
    procs = [subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    outputs = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err

    received = Counter(r for m in smtp_sink.messages for r in m.rcpt_tos)
    assert len(received) == MEMBERS
    assert max(received.values()) == 1, [r for r, n in received.items() if n > 1]
    sent_by = [int(out.split("sent ")[1].split(",")[0]) for out, _ in outputs]
    assert sum(sent_by) == MEMBERS
    assert sum(1 for n in sent_by if n > 0) >= 2  # the work really was shared
    with db.connect() as conn:
        assert conn.execute(select(func.count()).where(deliveries.c.status == SENT)).scalar() == MEMBERS

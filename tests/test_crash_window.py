"""kill -9 at three arbitrary points of a 3,000-member send: nobody lost, at most one duplicate per connection.

Each connection holds the final "." of a message until the outcome of its
previous message is committed, so when a sender dies the relay can hold at
most one message per connection that the database does not know was sent;
the next `digest send --reclaim` sends those again, and nothing else twice.
Counted at the SMTP server. With 8 connections the send runs in the
default number of processes (the cores), so the children die with the
parent too. Both databases: set DIGEST_TEST_DATABASE_URL for PostgreSQL.

A kill's duplicates are the copies sent again because the killed run had
sent the copy before them: a member can be in two kills' counts (a run
killed before the resends it took over were recorded sends them again, and
the next run sends them a third time: one for each kill).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from digest.db.schema import SENT, deliveries
from smtp_server import SmtpSink

MEMBERS = 3000


def duplicates_per_kill(runs: dict[str, list[int]], kills: int) -> tuple[list[int], list[str]]:
    """Each kill's duplicates, and the members sent a copy twice by one run (no kill explains those).

    `runs`: for each member, the run (0, 1, ...) that sent each copy, in the order they arrived.
    A copy after the first is charged to the run that sent the copy before it: that run was
    killed with the message taken by the relay and not recorded, and a later run sent it again.
    """
    per_kill, unexplained = [0] * kills, []
    for member, order in runs.items():
        for before, after in zip(order, order[1:]):
            if before == after:
                unexplained.append(member)
            else:
                per_kill[before] += 1
    return per_kill, unexplained


def copies_by_run(sink: SmtpSink, ends: list[int]) -> dict[str, list[int]]:
    """Member -> the run of each copy; run i sent the messages that arrived before ends[i] (and after ends[i-1])."""
    out: dict[str, list[int]] = {}
    for k, message in enumerate(sink.messages):
        run = next((i for i, end in enumerate(ends) if k < end), len(ends))
        for r in message.rcpt_tos:
            out.setdefault(r, []).append(run)
    return out


def test_a_member_in_two_kills_counts_once_in_each():
    # Killed in run 0 and again in run 1 before run 1's resend was recorded: run 2 sends a third copy.
    assert duplicates_per_kill({"a": [0, 1, 2], "b": [0, 2], "c": [1], "d": [1, 1]}, 2) == ([2, 1], ["d"])


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

        ends: list[int] = []  # run i's messages arrived before ends[i]
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
            ends.append(len(sink.messages))
        done = subprocess.run(cmd + ["--reclaim"], env=full_env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        runs = copies_by_run(sink, ends)

    duplicates, unexplained = duplicates_per_kill(runs, len(points))
    assert len(runs) == MEMBERS  # nobody lost
    assert sum(map(len, runs.values())) == MEMBERS + sum(duplicates) + len(unexplained)
    assert not unexplained  # nothing sent twice by one run
    assert all(d <= connections for d in duplicates), (points, duplicates)
    with db.connect() as conn:
        assert conn.execute(select(func.count()).where(deliveries.c.status == SENT)).scalar() == MEMBERS


@pytest.mark.parametrize("round_trips", ["1", "2"])
def test_two_kills_before_the_resends_are_recorded_cost_one_duplicate_per_connection_each(
        queue_members, env, db, round_trips):
    """Back to back: the second run is killed with the first one's resends taken by the relay, unrecorded.

    The relay records each message at its final "." and answers late, so every
    connection of a run has exactly one message the relay took and the run does
    not know about when it is killed (the worst a kill can cost). The resends
    of the first kill go a third time: one duplicate charged to each kill.
    """
    connections, members = 3, 40
    queue_members(members)
    full_env = {**os.environ, **env, "DIGEST_SMTP_ROUND_TRIPS": round_trips}
    with SmtpSink(pipelining=True) as sink:
        full_env["DIGEST_SMTP_URL"] = sink.url
        cmd = [sys.executable, "-m", "digest", "send", "--transport", "smtp", "--connections", str(connections),
               "--processes", "1"]
        sink.answer_delay = 60  # longer than the runs live: no outcome of theirs is ever recorded
        ends: list[int] = []
        for i in range(2):
            proc = subprocess.Popen(cmd + (["--reclaim"] if i else []), env=full_env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
            try:
                sink.wait_for(len(sink.messages) + connections, timeout=60)  # one taken on each connection
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
            assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
            settle(sink)
            ends.append(len(sink.messages))
        sink.answer_delay = 0
        done = subprocess.run(cmd + ["--reclaim"], env=full_env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        runs = copies_by_run(sink, ends)

    assert ends == [connections, 2 * connections]  # each run died with one message a connection unanswered
    assert sorted(n for n in map(len, runs.values()) if n > 1) == [3] * connections  # the same members, twice
    assert duplicates_per_kill(runs, 2) == ([connections, connections], [])
    assert len(runs) == members
    with db.connect() as conn:
        assert conn.execute(select(func.count()).where(deliveries.c.status == SENT)).scalar() == members

"""One round trip a message: a message's final "." travels with the next message's MAIL FROM, RCPT TO, DATA.

The client (SmtpRelay.send_next / finish) against a hand-written relay that
logs what arrived in each round trip (tests/scripted_relay.py): the exact
bytes of each write, the "." held until the previous commit, each reply case
(the "." refused, RCPT or DATA refused, 421, the last message), and a relay
answering out of step (the connection falls back to two round trips). Then
the send worker on a real database (both: set DIGEST_TEST_DATABASE_URL for
PostgreSQL) with that relay and with aiosmtpd: what is committed when a "."
arrives, and every member once.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter

import pytest
from sqlalchemy import func, select

from digest.config import SmtpSettings
from digest.db.schema import FAILED, QUEUED, SENT, deliveries
from digest.errors import ConfigError
from digest.config import load_settings
from digest.sending.transports import Dropped, Envelope
from digest.sending.transports.pipelined import SmtpRelay
from digest.sending.worker import SendOptions, send_queue
from scripted_relay import ScriptedRelay
from test_relay import states
from smtp_server import SmtpSink

FROM = "news@example.org"


def message(n: int) -> bytes:
    return (f"From: {FROM}\r\nTo: r{n}@example.org\r\nSubject: test {n}\r\n\r\nHello {n}.\r\n.dot\r\n").encode()


def envelope(n: int) -> Envelope:
    return Envelope(FROM, (f"r{n}@example.org",))


def commands(n: int) -> bytes:
    """What one message's MAIL FROM, RCPT TO and DATA look like on the wire."""
    return (f"MAIL FROM:<{FROM}> SIZE={len(message(n))}\r\nRCPT TO:<r{n}@example.org>\r\nDATA\r\n").encode()


def body(n: int) -> bytes:
    return message(n).replace(b"\r\n.", b"\r\n..")  # dot-stuffed


def run(coro):
    return asyncio.run(coro)


def rounds(relay: ScriptedRelay, connection: int = 1) -> list[bytes]:
    return [bytes(r) for r in relay.rounds[connection]]


# -- the client, on the wire ------------------------------------------------------------


def test_each_write_carries_the_held_dot_and_the_next_commands():
    with ScriptedRelay() as relay:
        async def go():
            conn = await SmtpRelay.from_url(relay.url).connect()
            assert conn.one_trip and not conn.holding
            out = [await conn.send_next(envelope(n), message(n)) for n in (1, 2, 3)]
            assert conn.holding and conn.messages == 3
            out.append(await conn.finish(quit=True))
            assert conn.closed
            return conn.relay.local_hostname, out

        host, (first, second, third, last) = run(go())
        got = rounds(relay)
    assert first == (None, None)  # nothing held before; its "." is held now
    assert second[0].ok and second[0].code == 250 and second[1] is None
    assert third[0].ok and third[1] is None
    assert last.ok and last.message == "250 2.0.0 queued"
    assert got == [
        f"EHLO {host}\r\n".encode(),
        commands(1),
        body(1) + b".\r\n" + commands(2),  # one round trip: the "." of 1 and the commands of 2 in one write
        body(2) + b".\r\n" + commands(3),
        body(3) + b".\r\nQUIT\r\n",  # the last "." goes with QUIT
    ]
    assert [m for _, _, m in relay.messages] == [message(1), message(2), message(3)]


def test_the_last_dot_can_go_alone_and_a_held_message_is_not_completed_by_quit():
    with ScriptedRelay() as relay:
        async def go():
            conn = await SmtpRelay.from_url(relay.url).connect()
            await conn.send_next(envelope(1), message(1))
            alone = await conn.finish()
            assert not conn.closed and not conn.holding
            await conn.send_next(envelope(2), message(2))
            await conn.quit()  # QUIT inside DATA would be its text: the connection is closed instead
            return alone

        alone = run(go())
        got = rounds(relay)
    assert alone.ok
    assert got[2] == body(1) + b".\r\n"
    assert got[3] == commands(2)  # the "." was answered: the next group has no "." in front
    assert got[4:] in ([body(2)], [])  # the body of 2 may have arrived, never its "."
    assert relay.received() == ["r1@example.org"]


def test_the_dot_waits_for_the_previous_commit():
    with ScriptedRelay() as relay:
        async def go():
            conn = await SmtpRelay.from_url(relay.url).connect()
            await conn.send_next(envelope(1), message(1))
            commit = asyncio.get_running_loop().create_future()
            sending = asyncio.create_task(conn.send_next(envelope(2), message(2), hold=commit))
            await asyncio.sleep(0.3)
            assert not sending.done() and relay.received() == []  # body 1 is there, its "." is not
            commit.set_result(None)
            before, _ = await sending
            failed = asyncio.get_running_loop().create_future()
            failed.set_exception(RuntimeError("the commit failed"))
            with pytest.raises(RuntimeError, match="the commit failed"):
                await conn.send_next(envelope(3), message(3), hold=failed)
            assert conn.closed
            return before

        before = run(go())
    assert before.ok
    assert relay.received() == ["r1@example.org"]  # 2 never got its ".": a failed commit stops it


def test_a_refused_dot_with_the_next_envelope_accepted():
    with ScriptedRelay(on_dot=lambda conn, rcpt: "550 5.7.1 Spam" if rcpt == "r1@example.org" else None) as relay:
        async def go():
            conn = await SmtpRelay.from_url(relay.url).connect()
            await conn.send_next(envelope(1), message(1))
            before, now = await conn.send_next(envelope(2), message(2))
            return before, now, await conn.finish(quit=True)

        before, now, last = run(go())
        got = rounds(relay)
    assert (before.ok, before.permanent, before.code) == (False, True, 550) and "DATA: 550 5.7.1 Spam" in before.message
    assert now is None and last.ok
    assert got[3] == body(2) + b".\r\nQUIT\r\n" and relay.connections == 1
    assert relay.received() == ["r2@example.org"]


@pytest.mark.parametrize("refused", ["rcpt", "data"])
def test_a_refused_rcpt_or_data_sends_rset_in_front_of_the_next_group(refused):
    with ScriptedRelay() as relay:
        if refused == "rcpt":
            relay.rcpt_reply["r2@example.org"] = b"550 5.1.1 No such user\r\n"
        else:
            relay.data_reply["r2@example.org"] = b"451 4.3.0 Not now\r\n"

        async def go():
            conn = await SmtpRelay.from_url(relay.url).connect()
            await conn.send_next(envelope(1), message(1))
            before, now = await conn.send_next(envelope(2), message(2))
            assert not conn.holding
            third = await conn.send_next(envelope(3), message(3))
            return before, now, third, await conn.finish(quit=True)

        before, now, third, last = run(go())
        got = rounds(relay)
    assert before.ok and third == (None, None) and last.ok
    if refused == "rcpt":
        assert (now.code, now.permanent) == (550, True) and now.message.startswith("RCPT TO <r2@example.org>: 550")
    else:
        assert (now.code, now.permanent) == (451, False) and now.message.startswith("DATA: 451")
    assert got[2] == body(1) + b".\r\n" + commands(2)
    assert got[3] == b"RSET\r\n" + commands(3)  # nothing held: no "."; the failed transaction reset
    assert relay.received() == ["r1@example.org", "r3@example.org"]


def second_send_drops(relay: ScriptedRelay) -> Dropped:
    async def go():
        conn = await SmtpRelay.from_url(relay.url).connect()
        await conn.send_next(envelope(1), message(1))
        with pytest.raises(Dropped) as caught:
            await conn.send_next(envelope(2), message(2))
        assert conn.closed
        return caught.value

    return run(go())


def test_421_in_the_middle_says_what_became_of_the_held_message():
    with ScriptedRelay() as relay:
        relay.rcpt_reply["r2@example.org"] = b"421 4.7.0 Closing\r\n"
        after_rcpt = second_send_drops(relay)
    assert after_rcpt.busy and after_rcpt.previous.ok  # the "." of 1 was answered before the 421: 1 went
    with ScriptedRelay(on_dot=lambda conn, rcpt: "421 4.7.0 Closing" if rcpt == "r1@example.org" else None) as relay:
        at_dot = second_send_drops(relay)
    assert at_dot.busy and at_dot.previous is None  # the "." itself got 421: 1 did not go either
    assert relay.received() == []


@pytest.mark.parametrize("mode, previous", [("reorder", "unsure"), ("drop", "known"), ("extra", "none")])
def test_a_relay_out_of_step_drops_the_connection_with_out_of_step(mode, previous):
    with ScriptedRelay(after_dot=mode) as relay:
        async def go():
            conn = await SmtpRelay.from_url(relay.url, timeouts=SmtpSettings(command_timeout=0.5)).connect()
            await conn.send_next(envelope(1), message(1))
            with pytest.raises(Dropped) as caught:
                await conn.send_next(envelope(2), message(2))
                await conn.send_next(envelope(3), message(3))  # "extra": seen before this write
            assert conn.closed
            return caught.value

        exc = run(go())
    assert exc.out_of_step and not exc.busy and "out of step" in exc.reason
    if previous == "unsure":  # the "." went out and its reply cannot be trusted: try again later
        assert (exc.previous.ok, exc.previous.permanent) == (False, False) and "may have" in exc.previous.message
    elif previous == "known":  # the "." was answered, the commands behind it never were
        assert exc.previous.ok
    else:  # a reply nobody asked for, seen before the held "." went: 2 did not go
        assert exc.previous is None
        assert relay.received() == ["r1@example.org"]


# -- the worker -------------------------------------------------------------------------


def sent_in(db) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).where(deliveries.c.status == SENT)).scalar()


@pytest.mark.parametrize("connections", [1, 3])
def test_when_a_dot_arrives_every_message_before_it_but_one_per_connection_is_committed(
        queue_members, db, settings, connections):
    queue_members(30)
    seen: list[tuple[int, int]] = []  # (messages the relay had accepted, SENT in the database), at each "."

    def on_dot(conn, rcpt):
        seen.append((len(relay.messages), sent_in(db)))

    with ScriptedRelay(on_dot=on_dot) as relay:
        stats = send_queue(db, settings, SmtpRelay.from_url(relay.url), SendOptions(connections=connections))
        per_connection = {c: len(r) for c, r in relay.rounds.items()}
        got = Counter(relay.received())
    assert stats.sent == 30 and len(got) == 30 and set(got.values()) == {1}
    assert len(seen) == 30
    if connections == 1:
        assert seen == [(k, k) for k in range(30)]  # the k-th "." only once the k before it are committed
    assert all(accepted - committed <= connections for accepted, committed in seen)
    assert seen[-1][1] >= 30 - connections
    # One round trip a message: EHLO, the first group, a "."+group per message, the last ".", QUIT.
    assert sum(per_connection.values()) <= 30 + 4 * connections


def test_two_round_trips_when_the_config_says_so(queue_members, db, settings, env):
    queue_members(10)
    two = load_settings(None, environ={**env, "DIGEST_SMTP_ROUND_TRIPS": "2"})
    assert two.smtp.round_trips == 2 and settings.smtp.round_trips == 1
    with ScriptedRelay() as relay:
        stats = send_queue(db, two, SmtpRelay.from_url(relay.url, timeouts=two.smtp), SendOptions(connections=1))
        got = rounds(relay)
    assert stats.sent == 10
    assert len(got) == 1 + 2 * 10 + 1  # EHLO, two round trips a message, QUIT
    assert not any(r.startswith(b".\r\nMAIL") or b"\r\n.\r\nMAIL" in r for r in got)
    with pytest.raises(ConfigError, match="smtp.round_trips"):
        load_settings(None, environ={**env, "DIGEST_SMTP_ROUND_TRIPS": "3"})


def test_reply_cases_with_aiosmtpd(queue_members, db, settings):
    queue_members(40)
    with SmtpSink(pipelining=True) as sink:
        sink.data_reply_for["member003@example.org"] = "550 5.7.1 Refused at the end of data"
        sink.reply_for["member007@example.org"] = "550 5.1.1 No such user"
        sink.fail_first("member011@example.org", 1)
        sink.busy_at_mail(20)  # 421 to a MAIL FROM that came behind a held "."
        stats = send_queue(db, settings, SmtpRelay.from_url(sink.url), SendOptions(connections=1))
        got = Counter(r for m in sink.messages for r in m.rcpt_tos)
        groups = sink.pipelined_groups
    st = states(db)
    assert st["member003@example.org"][0] == FAILED and "550 5.7.1" in st["member003@example.org"][2]
    assert st["member007@example.org"][0] == FAILED and "RCPT TO <member007@example.org>: 550" in st[
        "member007@example.org"][2]
    assert st["member011@example.org"][:2] == (QUEUED, 1)  # 451: later, with backoff
    others = {e: s for e, s in st.items() if e not in {f"member{n:03d}@example.org" for n in (3, 7, 11)}}
    assert {(s, a) for s, a, _ in others.values()} == {(SENT, 1)}  # the 421 cost nobody an attempt
    assert set(got.values()) == {1} and len(got) == 37
    assert stats.busy == 1 and stats.requeued >= 1 and stats.fallbacks == 0
    assert groups >= 38  # MAIL FROM arrived with RCPT TO and DATA behind it, every time


def test_a_421_to_the_dot_sends_both_again_spending_no_attempt(queue_members, db, settings):
    queue_members(12)
    said = []

    def on_dot(conn, rcpt):
        if rcpt == "member004@example.org" and not said:
            said.append(rcpt)
            return "421 4.7.0 Closing"
        return None

    with ScriptedRelay(on_dot=on_dot) as relay:
        stats = send_queue(db, settings, SmtpRelay.from_url(relay.url), SendOptions(connections=1))
        got = Counter(relay.received())
    assert stats.sent == 12 and stats.busy == 1 and stats.requeued == 2 and relay.connections == 2
    assert len(got) == 12 and set(got.values()) == {1}
    assert {(s, a) for s, a, _ in states(db).values()} == {(SENT, 1)}


@pytest.mark.parametrize("mode", ["reorder", "drop", "extra"])
def test_a_relay_out_of_step_makes_the_connection_fall_back_to_two_round_trips(queue_members, db, settings, mode):
    queue_members(20)
    with ScriptedRelay(after_dot=mode) as relay:
        relay_client = SmtpRelay.from_url(relay.url, timeouts=SmtpSettings(command_timeout=0.5))
        stats = send_queue(db, settings, relay_client, SendOptions(connections=1))
        later = [bytes(r) for c in sorted(relay.rounds)[1:] for r in relay.rounds[c]]
        got = Counter(relay.received())
    assert stats.fallbacks == 1 and relay.connections == 2
    assert not any(b"\r\n.\r\nMAIL" in r or r.startswith(b".\r\nMAIL") for r in later)  # two round trips since
    assert len(got) == 20 and set(got.values()) == {1}  # everyone once
    st = states(db)
    if mode == "reorder":  # the held message's reply was not to be trusted: it goes again later
        unsure = [e for e, (s, _, err) in st.items() if s == QUEUED]
        assert len(unsure) == 1 and "out of step" in st[unsure[0]][2]
        assert sum(1 for s, _, _ in st.values() if s == SENT) == 19
    else:
        assert {(s, a) for s, a, _ in st.values()} == {(SENT, 1)}


def test_the_progress_line_says_a_connection_fell_back(queue_members, env, db):
    queue_members(15)
    with ScriptedRelay(after_dot="extra") as relay:
        cmd = [sys.executable, "-m", "digest", "send", "--transport", "smtp", "--connections", "1",
               "--processes", "1"]
        done = subprocess.run(cmd, env={**os.environ, **env, "DIGEST_SMTP_URL": relay.url}, capture_output=True,
                              text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "sent 15, retry later 0, failed 0" in done.stdout
    assert "1 connection(s) fell back to two round trips" in done.stderr

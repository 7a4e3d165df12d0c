"""A send time the editor sets: resolved across clock changes, refused in the past, kept by `digest run`."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from conftest import ok
from digest.db import editors as editor_db
from digest.db.schema import deliveries
from digest.edition.sendtime import resolve_send_time
from digest.editorial.mailing import Mailing, due_windows, run_mailing
from digest.editorial.schedule import due_sends, schedule_send, send_time_of, withdraw_send
from digest.errors import EditionError
from digest.sending.worker import SendOptions

UTC = timezone.utc
LONDON = ZoneInfo("Europe/London")
WINTER = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
SUMMER = datetime(2027, 7, 1, 12, 0, tzinfo=UTC)
BEFORE_W25_ENDS = datetime(2017, 6, 20, 9, 0, tzinfo=UTC)  # when the editor schedules 2017-W25
MEMBERS = ["ann@example.org", "bob@example.org", "cai@example.org"]


# ---------------------------------------------------------------- the wall time and its instant (pure)

def test_a_summer_time_chosen_in_winter_keeps_its_wall_time():
    send = resolve_send_time("2027-W25", "2027-06-28 07:00", "Europe/London", now=WINTER)
    assert send.at == datetime(2027, 6, 28, 6, 0, tzinfo=UTC)  # British Summer Time: UTC+1
    assert send.at.astimezone(LONDON).strftime("%H:%M") == "07:00"


def test_a_winter_time_chosen_in_summer_keeps_its_wall_time():
    send = resolve_send_time("2027-W49", "2027-12-06 07:00", "Europe/London", now=SUMMER)
    assert send.at == datetime(2027, 12, 6, 7, 0, tzinfo=UTC)  # Greenwich Mean Time: UTC+0
    assert (send.local_text, send.zone) == ("2027-12-06 07:00", "Europe/London")


def test_a_time_the_clocks_skip_is_refused_in_one_line():
    with pytest.raises(EditionError) as refused:
        resolve_send_time("2027-W12", "2027-03-28 01:30", "Europe/London", now=WINTER)
    assert str(refused.value) == ("edition 2027-W12: 2027-03-28 01:30 does not exist in Europe/London: the clocks "
                                  "go forward then; choose a time outside the gap")


def test_a_time_the_clocks_pass_twice_is_the_first_of_the_two():
    send = resolve_send_time("2027-W43", "2027-10-31 01:30", "Europe/London", now=SUMMER)
    assert send.at == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # still summer time (the second is 01:30 UTC)


@pytest.mark.parametrize("text, zone, says", [
    ("2017-06-26 07:00", "Europe/London", "2017-06-26 07:00 Europe/London is in the past (it is now "
                                          "2027-01-10 12:00 there): choose a later time"),
    ("28/06/2027 7am", "Europe/London", "'28/06/2027 7am' is not a send time: write YYYY-MM-DD HH:MM"),
    ("2027-02-30 07:00", "Europe/London", "'2027-02-30 07:00' is not a send time"),
    ("2027-06-28 07:00", "Europe/Lundon", "'Europe/Lundon' is not a time zone: give an IANA name"),
    ("2027-06-28 07:00", "../../etc/passwd", "'../../etc/passwd' is not a time zone"),
])
def test_a_bad_send_time_is_one_line_naming_the_edition(text, zone, says):
    with pytest.raises(EditionError) as refused:
        resolve_send_time("2027-W26", text, zone, now=WINTER)
    assert str(refused.value).startswith("edition 2027-W26: ") and says in str(refused.value)
    assert "\n" not in str(refused.value)


# ---------------------------------------------------------------- the command line

@pytest.fixture
def weekly(run_cli, seed_path):
    """The seed in 2017-W25, three weekly members (no other frequency: nothing else is due), W25 built."""
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    for address in MEMBERS:
        ok(run_cli("subscribers", "add", address, "--frequency", "weekly"))
    ok(run_cli("edition", "build", "--week", "2017-W25"))
    return run_cli


def test_cli_refuses_a_time_in_the_past_with_one_line_and_status_1(weekly, db):
    refused = weekly("edition", "schedule", "2017-W25", "--at", "2017-06-26 07:00")
    assert refused.exit_code == 1
    assert refused.output.startswith("Error: edition 2017-W25: 2017-06-26 07:00 Europe/London is in the past")
    assert len(refused.output.splitlines()) == 1
    assert send_time_of(db, "2017-W25") is None


def test_cli_schedules_changes_shows_and_withdraws_with_an_audit_trail(weekly, db):
    first = ok(weekly("edition", "schedule", "2017-W25", "--at", "2099-06-29 07:00"))
    assert "2017-W25: scheduled for 2099-06-29 07:00 Europe/London (+01:00), 2099-06-29 06:00 UTC" in first.output
    ok(weekly("edition", "schedule", "2017-W25", "--at", "2099-12-07 07:30", "--zone", "Europe/Paris"))
    shown = ok(weekly("edition", "show", "2017-W25")).output
    assert "send at:   2099-12-07 07:30 Europe/Paris (+01:00) (set by " in shown
    listed = ok(weekly("edition", "list", "--json")).output
    assert '"zone": "Europe/Paris"' in listed and '"utc": "2099-12-07T06:30:00+00:00"' in listed
    withdrawn = ok(weekly("edition", "schedule", "2017-W25", "--withdraw"))
    assert "withdrew the send time 2099-12-07 07:30 Europe/Paris" in withdrawn.output
    assert "(when its period is due)" in ok(weekly("edition", "show", "2017-W25")).output
    again = weekly("edition", "schedule", "2017-W25", "--withdraw")
    assert again.exit_code == 1 and "has no send time to withdraw" in again.output
    with db.connect() as conn:
        trail = [(r["action"], r["target"], r["detail"].get("zone")) for r in editor_db.list_audit(conn)][::-1]
    assert trail == [("schedule", "2017-W25", "Europe/London"), ("schedule-change", "2017-W25", "Europe/Paris"),
                     ("schedule-withdraw", "2017-W25", None)]


def test_cli_needs_a_built_edition_and_one_of_at_or_withdraw(weekly):
    unbuilt = weekly("edition", "schedule", "2017-W30", "--at", "2099-06-29 07:00")
    assert unbuilt.exit_code == 1 and "edition 2017-W30: is not built" in unbuilt.output
    assert weekly("edition", "schedule", "2017-W25").exit_code == 2
    assert weekly("edition", "schedule", "2017-W25", "--at", "2099-06-29 07:00", "--withdraw").exit_code == 2


def test_a_scheduled_edition_cannot_be_queued_by_hand_before_its_time(weekly):
    ok(weekly("edition", "schedule", "2017-W25", "--at", "2099-06-29 07:00"))
    refused = weekly("queue", "2017-W25")
    assert refused.exit_code == 1
    assert "is scheduled for 2099-06-29 07:00 Europe/London: withdraw the send time" in refused.output


# ---------------------------------------------------------------- `digest run` with the clock injected

def at(text: str) -> datetime:
    """A London wall time as the UTC instant a test's clock says."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=LONDON).astimezone(UTC)


def cron(db, settings, now: datetime):
    """What one `digest run` (no arguments) does at `now`: the windows due, gated, queued, sent to files."""
    windows = due_windows(db, settings, now=now)
    return run_mailing(db, settings, Mailing(windows, send=SendOptions(processes=1), transport="file",
                                             command="digest run"), clock=lambda: now)


def queued(db) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(deliveries)).scalar()


def outbox(tmp_path):
    return sorted((tmp_path / "outbox").glob("*.eml"))


def test_not_sent_before_its_time_and_sent_by_the_first_run_after(weekly, db, settings, tmp_path):
    # Chosen in June (summer time) for 07:00 London: 06:00 UTC. A run at 06:59 London sends nothing.
    schedule_send(db, settings, "2017-W25", "2017-06-26 07:00", by="cli", now=BEFORE_W25_ENDS)
    early = cron(db, settings, at("2017-06-26 06:59"))
    [report] = early.editions
    assert report.key == "2017-W25" and str(report.waiting) == "2017-06-26 07:00 Europe/London"
    assert queued(db) == 0 and outbox(tmp_path) == []
    later = cron(db, settings, at("2017-06-26 07:04"))  # the first run after it (cron every 5 minutes)
    assert later.editions[0].queued.queued == 3 and later.sent.sent == 3
    assert len(outbox(tmp_path)) == 3
    again = cron(db, settings, at("2017-06-26 07:09"))  # the next run: nothing twice
    assert again.sent.sent == 0 and queued(db) == 3 and len(outbox(tmp_path)) == 3
    assert due_windows(db, settings, now=at("2017-06-26 07:14")) == []


def test_a_send_time_before_the_period_ends_is_found_whatever_the_period(weekly, db, settings, tmp_path):
    schedule_send(db, settings, "2017-W25", "2017-06-23 17:00", by="cli", now=BEFORE_W25_ENDS)
    assert [w.key for w in due_windows(db, settings, now=at("2017-06-23 16:59"))] == ["2017-W24"]
    windows = due_windows(db, settings, now=at("2017-06-23 17:00"))
    assert [w.key for w in windows] == ["2017-W24", "2017-W25"]
    assert [d.key for d in due_sends(db, now=at("2017-06-23 17:00"))] == ["2017-W25"]


def test_a_withdrawn_send_time_is_not_sent_at_that_time(weekly, db, settings, tmp_path):
    schedule_send(db, settings, "2017-W25", "2017-06-23 17:00", by="cli", now=BEFORE_W25_ENDS)
    withdraw_send(db, "2017-W25", by="cli", now=BEFORE_W25_ENDS)
    assert due_sends(db, now=at("2017-06-23 17:05")) == []
    result = run_mailing(db, settings, Mailing(due_windows(db, settings, now=at("2017-06-23 17:05"))[1:],
                                               send=SendOptions(processes=1), transport="file"),
                         clock=lambda: at("2017-06-23 17:05"))
    assert result.editions == [] and queued(db) == 0 and outbox(tmp_path) == []


def test_the_gate_holds_a_scheduled_edition_at_its_time_and_tells_the_editors(weekly, db, settings, tmp_path):
    schedule_send(db, settings, "2017-W25", "2017-06-26 07:00", by="cli", now=BEFORE_W25_ENDS)
    strict = dataclasses.replace(settings, min_articles=10, editors=("eda@example.org",))  # 5 articles: too few
    result = cron(db, strict, at("2017-06-26 07:01"))
    [report] = result.editions
    assert report.held == ["edition 2017-W25 would have 5 article(s), fewer than min_articles = 10"]
    assert report.told is not None and report.told.ok and report.editors == ("eda@example.org",)
    assert queued(db) == 0
    [notice] = outbox(tmp_path)
    message = email.message_from_bytes(notice.read_bytes(), policy=email.policy.default)
    assert message["To"] == "eda@example.org" and "2017-W25" in message["Subject"]
    assert "digest run 2017-W25 --force" in message.get_body(preferencelist=("plain",)).get_content()


def test_a_run_every_few_minutes_tells_the_editors_of_the_same_hold_twice_a_day_at_most(weekly, db, settings,
                                                                                          tmp_path):
    schedule_send(db, settings, "2017-W25", "2017-06-26 07:00", by="cli", now=BEFORE_W25_ENDS)
    strict = dataclasses.replace(settings, min_articles=10, editors=("eda@example.org",))
    first = cron(db, strict, at("2017-06-26 07:01")).editions[0]
    assert first.told.ok and len(outbox(tmp_path)) == 1
    again = cron(db, strict, at("2017-06-26 07:06")).editions[0]  # the next cron line: held as before
    assert again.held == first.held and again.told is None and again.told_before == at("2017-06-26 07:01")
    assert len(outbox(tmp_path)) == 1
    other = dataclasses.replace(strict, min_articles=20)  # other reasons are told at once
    assert cron(db, other, at("2017-06-26 07:11")).editions[0].told.ok and len(outbox(tmp_path)) == 2
    assert cron(db, other, at("2017-06-26 19:12")).editions[0].told.ok and len(outbox(tmp_path)) == 3  # 12 h on
    with db.connect() as conn:
        assert [r["action"] for r in editor_db.list_audit(conn)].count("held-notice") == 3


def test_two_overlapping_runs_queue_and_send_each_member_once(weekly, db, settings, env, tmp_path):
    """Two real `digest run` processes at once on an edition whose time has come: one delivery a member."""
    schedule_send(db, settings, "2017-W25", "2017-06-26 07:00", by="cli", now=BEFORE_W25_ENDS)
    run_env = {**os.environ, **env, "DIGEST_BUSY_TIMEOUT": "30"}
    runs = [subprocess.Popen([sys.executable, "-m", "digest", "run", "2017-W25", "--transport", "file",
                              "--processes", "1"], cwd=tmp_path, env=run_env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [(p.wait(timeout=120), p.stdout.read()) for p in runs]
    assert [code for code, _ in outputs] == [0, 0], outputs
    with db.connect() as conn:
        per_member = conn.execute(select(deliveries.c.subscriber_id, func.count())
                                  .group_by(deliveries.c.subscriber_id)).all()
    assert sorted(n for _, n in per_member) == [1, 1, 1]
    assert len(outbox(tmp_path)) == 3
    assert sum("queued 3 delivery(ies)" in out for _, out in outputs) == 1, outputs


def test_an_edition_queued_cannot_get_a_send_time_afterwards(weekly, db, settings):
    ok(weekly("queue", "2017-W25"))
    with pytest.raises(EditionError, match="is queued already"):
        schedule_send(db, settings, "2017-W25", "2099-06-29 07:00", by="cli", now=BEFORE_W25_ENDS)
    with pytest.raises(EditionError, match="has no send time"):
        withdraw_send(db, "2017-W25", by="cli", now=BEFORE_W25_ENDS + timedelta(days=1))


def test_a_second_queue_waits_for_the_first_and_adds_only_who_is_left(weekly, db, settings):
    """The race two overlapping runs can meet: one is inside its queueing transaction when the other queues.
    The edition's row is locked, so the second waits, then finds those queued (PostgreSQL would otherwise
    stop it with a duplicate key; SQLite has one writer anyway)."""
    import threading

    from digest.db.editions import load_edition, lock_edition
    from digest.editorial.build import queue_edition

    ok(weekly("queue", "2017-W25"))  # renders the variants; then start again from an empty queue
    with db.begin() as conn:
        first = dict(conn.execute(select(deliveries).order_by(deliveries.c.subscriber_id)).mappings().first())
        conn.execute(deliveries.delete())
        edition = load_edition(conn, "2017-W25")
    outcome: list = []
    with db.begin() as conn:  # the first run, mid-transaction: the edition locked, one member queued
        lock_edition(conn, edition.id)
        conn.execute(deliveries.insert().values(**first))
        second = threading.Thread(target=lambda: outcome.append(_queue_or_error(queue_edition, db, settings)))
        second.start()
        second.join(timeout=1.5)
        assert second.is_alive(), outcome  # it waits for the first run's transaction
    second.join(timeout=60)
    assert [o if isinstance(o, Exception) else o.queued for o in outcome] == [2]
    assert queued(db) == 3


def _queue_or_error(queue_edition, db, settings):
    try:
        return queue_edition(db, settings, "2017-W25", now=datetime(2017, 6, 26, 7, 0, tzinfo=UTC))
    except Exception as exc:  # shown in the assertion, not lost in the thread
        return exc


def test_a_later_time_set_while_a_run_queues_wins_over_the_run(weekly, db, settings):
    """The run looked (the time had come), then the editor moved it later: under the edition's lock the
    queueing sees the new time and stops; nothing is queued."""
    from digest.sending.queue import load_built, queue_deliveries

    schedule_send(db, settings, "2017-W25", "2017-06-26 07:00", by="cli", now=BEFORE_W25_ENDS)
    seen_by_the_run = load_built(db, "2017-W25")
    schedule_send(db, settings, "2017-W25", "2017-06-26 09:00", by="cli", now=at("2017-06-26 07:00"))
    with pytest.raises(EditionError, match="was given a later send time .2017-06-26 08:00 UTC. while this run"):
        queue_deliveries(db, seen_by_the_run, {}, now=at("2017-06-26 07:01"))
    assert queued(db) == 0 and load_built(db, "2017-W25").queued_at is None

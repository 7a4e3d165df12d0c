"""An approved announcement's send time: kept on it, never sent before it, queued and sent once by `digest run`.

Real SQLite file (or PostgreSQL with DIGEST_TEST_DATABASE_URL), the file
transport writing real messages, the clock injected (no sleeping).
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from conftest import ok
from digest.db import editors as editor_db
from digest.db.schema import deliveries
from digest.editorial import announcements as lib
from digest.editorial.mailing import Mailing, Steps, run_mailing
from digest.errors import AnnouncementError
from digest.models import Announcement
from digest.sending.worker import SendOptions
from test_announcements import BODY, add_member

UTC = timezone.utc
LONDON = ZoneInfo("Europe/London")
CHOSEN = datetime(2027, 6, 20, 9, 0, tzinfo=UTC)  # when the editor sets the time


def at(text: str) -> datetime:
    """A London wall time as the UTC instant a test's clock says."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=LONDON).astimezone(UTC)


def cron(db, settings, now: datetime, steps: Steps | None = None):
    """What `digest run` does about announcements at `now`: queue those due, then send to files."""
    return run_mailing(db, settings, Mailing([], send=SendOptions(processes=1), transport="file",
                                             command="digest run", fetch=False, tell=False, announcements=True),
                       steps, clock=lambda: now)


class Said(Steps):
    """What a run says (the command prints each): the announcements queued, and when nothing was due."""

    def __init__(self):
        self.lines: list[str] = []

    def announcement(self, report) -> None:
        self.lines.append(f"queued {report.key}")

    def nothing_due(self) -> None:
        self.lines.append("no edition is due now")


def queued(db) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(deliveries)).scalar()


def outbox(tmp_path):
    return sorted((tmp_path / "outbox").glob("*.eml"))


@pytest.fixture
def approved(db, settings):
    """An approved announcement to every active member: three of the five members."""
    for address in ("ann@example.org", "bob@example.org", "cai@example.org"):
        add_member(db, address)
    add_member(db, "gone@example.org", status="unsubscribed")
    add_member(db, "quiet@example.org", news=False)
    a = lib.create_announcement(db, settings, Announcement(subject="The AGM is on 3 March", body=BODY,
                                                           audience="all"), by="editor@example.org", now=CHOSEN)
    return lib.approve_announcement(db, a.id, by="editor@example.org", now=CHOSEN)


def test_not_sent_before_its_time_then_sent_once_by_the_first_run_after(approved, db, settings, tmp_path):
    send = lib.schedule_announcement(db, settings, approved.id, "2027-06-28 07:00", zone="Europe/London",
                                     by="editor@example.org", now=CHOSEN)
    assert send.at == datetime(2027, 6, 28, 6, 0, tzinfo=UTC)  # summer time
    assert lib.audience_count(db, settings, approved.audience, approved.kind) == 3
    early = cron(db, settings, at("2027-06-28 06:59"))
    assert early.announcements == [] and queued(db) == 0 and outbox(tmp_path) == []
    assert lib.get_announcement(db, approved.id).state == "approved"
    later = cron(db, settings, at("2027-06-28 07:04"))
    [report] = later.announcements
    assert (report.key, report.counted, report.queued) == (approved.key, 3, 3)
    assert later.sent.sent == 3 and len(outbox(tmp_path)) == 3
    assert lib.get_announcement(db, approved.id).state == "queued"
    again = cron(db, settings, at("2027-06-28 07:09"))
    assert again.announcements == [] and again.sent.sent == 0 and queued(db) == 3 and len(outbox(tmp_path)) == 3


def test_a_run_says_no_edition_is_due_only_when_no_announcement_was_due_either(approved, db, settings, tmp_path):
    lib.schedule_announcement(db, settings, approved.id, "2027-06-28 07:00", zone="Europe/London",
                              by="editor@example.org", now=CHOSEN)
    said = [Said() for _ in range(3)]
    for steps, when in zip(said, ("2027-06-28 06:59", "2027-06-28 07:04", "2027-06-28 07:09")):
        cron(db, settings, at(when), steps)
    assert [s.lines for s in said] == [["no edition is due now"], [f"queued {approved.key}"],
                                       ["no edition is due now"]]


def test_a_withdrawn_send_time_is_never_sent(approved, db, settings, tmp_path):
    lib.schedule_announcement(db, settings, approved.id, "2027-06-28 07:00", by="cli", now=CHOSEN)
    assert lib.unschedule_announcement(db, approved.id, by="cli", now=CHOSEN).local_text == "2027-06-28 07:00"
    result = cron(db, settings, at("2027-06-28 07:05"))
    assert result.announcements == [] and queued(db) == 0 and outbox(tmp_path) == []
    assert lib.get_announcement(db, approved.id).state == "approved"
    with pytest.raises(AnnouncementError, match="has no send time to withdraw"):
        lib.unschedule_announcement(db, approved.id, by="cli", now=CHOSEN)
    with db.connect() as conn:
        actions = [e["action"] for e in editor_db.list_audit(conn, limit=20)]
    assert actions.count("schedule") == 1 and actions.count("schedule-withdraw") == 1


def test_editing_an_approved_announcement_clears_its_send_time(approved, db, settings, tmp_path):
    lib.schedule_announcement(db, settings, approved.id, "2027-06-28 07:00", by="cli", now=CHOSEN)
    edited = lib.edit_announcement(db, settings, approved.id, {"subject": "The AGM moves to 4 March"}, by="cli",
                                   now=CHOSEN)
    assert edited.state == "draft" and edited.send_time is None
    lib.approve_announcement(db, approved.id, by="cli", now=CHOSEN)
    assert cron(db, settings, at("2027-06-28 07:05")).announcements == [] and queued(db) == 0


def test_only_an_approved_announcement_gets_a_time_and_a_skipped_time_is_refused(approved, db, settings):
    lib.withdraw_announcement(db, approved.id, by="cli", now=CHOSEN)
    with pytest.raises(AnnouncementError, match="is a draft: approve it first"):
        lib.schedule_announcement(db, settings, approved.id, "2027-06-28 07:00", by="cli", now=CHOSEN)
    lib.approve_announcement(db, approved.id, by="cli", now=CHOSEN)
    with pytest.raises(AnnouncementError) as skipped:
        lib.schedule_announcement(db, settings, approved.id, "2028-03-26 01:30", zone="Europe/London", by="cli",
                                  now=CHOSEN)
    assert str(skipped.value) == (f"announcement {approved.id}: 2028-03-26 01:30 does not exist in Europe/London: "
                                  "the clocks go forward then; choose a time outside the gap")


def test_the_command_line_sets_shows_refuses_and_withdraws(approved, run_cli):
    past = run_cli("announcement", "schedule", approved.id, "--at", "2000-01-03 07:00", "--zone", "Europe/London")
    assert past.exit_code == 1 and past.output.count("\n") == 1, past.output
    assert past.output.startswith(f"Error: announcement {approved.id}: 2000-01-03 07:00 Europe/London is in the past")
    done = ok(run_cli("announcement", "schedule", approved.id, "--at", "2099-06-29 07:00", "--zone", "Europe/London"))
    assert "scheduled for 2099-06-29 07:00 Europe/London (+01:00), 2099-06-29 06:00 UTC" in done.output
    assert "2099-06-29 07:00 Europe/London (+01:00)" in ok(run_cli("announcement", "show", approved.id)).output
    gone = ok(run_cli("announcement", "schedule", approved.id, "--withdraw"))
    assert "withdrew the send time 2099-06-29 07:00 Europe/London" in gone.output
    assert run_cli("announcement", "schedule", approved.id).exit_code == 2  # neither --at nor --withdraw

"""The desk's send-time control: schedule, change, withdraw (with CSRF and the audit trail), past refused."""

from __future__ import annotations

from digest.db import editors as editor_db
from digest.editorial.schedule import send_time_of
from desk_fixtures import (  # noqa: F401  (fixtures)
    EMAIL, app, csrf_of, desk, editor, outbox, week25,
)


def post(client, csrf, **fields):
    return client.post("/desk/edition/schedule", data={"csrf": csrf, "period": "2017-W25", **fields})


def test_the_editor_schedules_changes_and_withdraws_a_send_time(desk, week25, db):
    client, csrf = desk
    assert client.post("/desk/edition/build", data={"csrf": csrf, "period": "2017-W25"}).status_code == 303
    page = client.get("/desk/?period=2017-W25").text
    assert "Not scheduled: it goes when its period is due." in page and 'value="Europe/London"' in page
    assert "Queue it for members" in page

    done = post(client, csrf, date="2099-06-29", time="07:00", zone="Europe/London")
    assert done.status_code == 303 and done.headers["Location"].endswith("/desk/?period=2017-W25#schedule")
    page = client.get("/desk/?period=2017-W25").text
    assert "2017-W25 will be queued and sent at 29 June 2099, 07:00 Europe/London" in page
    assert "Scheduled for 29 June 2099, 07:00 (Europe/London)." in page
    assert 'name="date" required value="2099-06-29"' in page and 'value="07:00"' in page
    assert "Queue it for members" not in page  # `digest run` queues it at its time
    assert str(send_time_of(db, "2017-W25")) == "2099-06-29 07:00 Europe/London"

    post(client, csrf, date="2099-12-07", time="06:30", zone="Europe/Paris")
    assert str(send_time_of(db, "2017-W25")) == "2099-12-07 06:30 Europe/Paris"
    post(client, csrf, withdraw="1")
    page = client.get("/desk/?period=2017-W25").text
    assert "Withdrew the send time of 2017-W25 (7 December 2099, 06:30 Europe/Paris)" in page
    assert send_time_of(db, "2017-W25") is None and "Queue it for members" in page
    with db.connect() as conn:
        trail = [(r["editor"], r["action"], r["detail"].get("at")) for r in editor_db.list_audit(conn)
                 if r["action"].startswith("schedule")][::-1]
    assert trail == [(EMAIL, "schedule", "2099-06-29 07:00"), (EMAIL, "schedule-change", "2099-12-07 06:30"),
                     (EMAIL, "schedule-withdraw", None)]


def test_a_past_time_or_a_wrong_zone_is_one_line_on_the_page_and_nothing_changes(desk, week25, db):
    client, csrf = desk
    client.post("/desk/edition/build", data={"csrf": csrf, "period": "2017-W25"})
    post(client, csrf, date="2017-06-26", time="07:00", zone="Europe/London")
    page = client.get("/desk/?period=2017-W25").text
    assert "Not scheduled: edition 2017-W25: 2017-06-26 07:00 Europe/London is in the past" in page
    post(client, csrf, date="2099-06-29", time="07:00", zone="Mars/Olympus")
    page = client.get("/desk/?period=2017-W25").text
    assert "Not scheduled: edition 2017-W25: &#39;Mars/Olympus&#39; is not a time zone" in page
    assert send_time_of(db, "2017-W25") is None


def test_no_schedule_without_the_csrf_token(desk, week25, db):
    client, csrf = desk
    client.post("/desk/edition/build", data={"csrf": csrf, "period": "2017-W25"})
    refused = post(client, "not-the-token", date="2099-06-29", time="07:00", zone="Europe/London")
    assert refused.status_code in (400, 403)
    assert send_time_of(db, "2017-W25") is None


def test_an_unbuilt_edition_has_no_send_time_control(desk, week25):
    client, _ = desk
    assert 'action="/desk/edition/schedule"' not in client.get("/desk/?period=2017-W25").text

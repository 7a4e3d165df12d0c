"""/desk/members: search and filters, a member's page (history, deliveries), changes with a reason, forget, CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest

from desk_fixtures import app, desk, editor, outbox  # noqa: F401  (fixtures)
from digest.db import editors as editor_db
from digest.db import members as member_db

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def people(db):
    with db.begin() as conn:
        ana = member_db.add(conn, "ana.lopez@example.org", "Ana López", ("cyber-security",), now=NOW)
        member_db.add(conn, "bob@example.net", "Bob Smith", ("data-protection",), frequency="daily", now=NOW)
        gone = member_db.add(conn, "carl@example.org", None, now=NOW)
        member_db.unsubscribe(conn, gone.id, source="web", now=NOW)
        member_db.update_preferences(conn, ana.id, attributes={"region": "Wales"}, source="sync", now=NOW)
    return ana


def test_search_by_address_or_name_and_filter_by_status_and_topic(desk, people):  # noqa: F811
    client, _ = desk
    page = client.get("/desk/members").text
    assert "ana.lopez@example.org" in page and "bob@example.net" in page and "carl@example.org" in page
    assert "bob@example.net" not in client.get("/desk/members?q=L%C3%B3PEZ").text
    assert "ana.lopez@example.org" in client.get("/desk/members?q=l%C3%B3pez").text
    assert "ana.lopez" not in client.get("/desk/members?q=example.net").text
    unsub = client.get("/desk/members?status=unsubscribed").text
    assert "carl@example.org" in unsub and "bob@example.net" not in unsub
    topic = client.get("/desk/members?topic=data-protection").text
    assert "bob@example.net" in topic and "carl@example.org" in topic and "ana.lopez" not in topic  # carl: all topics
    assert "No member matches." in client.get("/desk/members?q=%25").text  # a % is a character, not a wildcard


def test_a_members_page_shows_attributes_history_and_deliveries(desk, people):  # noqa: F811
    client, _ = desk
    page = client.get(f"/desk/members/{people.id}").text
    assert "Wales" in page and "region" in page
    assert "sync" in page and "preferences" in page and "subscribe" in page
    assert "Nothing sent to them yet." in page
    assert client.get("/desk/members/999999").status_code == 404


def test_changes_need_a_reason_and_are_in_the_history_with_the_editor(desk, people, db):  # noqa: F811
    client, csrf = desk
    url = f"/desk/members/{people.id}/change"
    form = {"csrf": csrf, "topics": ["cyber-security", "data-protection"], "frequency": "monthly",
            "format": "text", "status": "active"}
    assert client.post(url, data=form).status_code == 303
    assert "say why in the reason field" in client.get(f"/desk/members/{people.id}").text
    with db.connect() as conn:
        assert member_db.get_by_id(conn, people.id).frequency == "weekly"  # nothing changed without a reason
    client.post(url, data={**form, "reason": "asked by phone, 7 Dec"})
    with db.connect() as conn:
        sub = member_db.get_by_id(conn, people.id)
        last = member_db.list_events(conn, sub.id)[-1]
    assert (sub.frequency, sub.format, sub.topics) == ("monthly", "text", ("data-protection", "cyber-security"))
    assert last["source"] == "desk" and last["detail"]["reason"] == "asked by phone, 7 Dec"
    assert last["detail"]["editor"] == "eda@example.org"
    assert client.post(url, data=form, headers={}).status_code == 303
    other = client.post(url, data={**form, "csrf": "forged", "reason": "x"})
    assert other.status_code == 400  # the desk's CSRF rule holds here too


def test_forget_erases_and_is_in_the_desks_audit_log(desk, people, db):  # noqa: F811
    client, csrf = desk
    url = f"/desk/members/{people.id}/forget"
    client.post(url, data={"csrf": csrf, "reason": "erasure request of 6 Dec"})  # the box not ticked
    with db.connect() as conn:
        assert member_db.get_by_id(conn, people.id) is not None
    resp = client.post(url, data={"csrf": csrf, "reason": "erasure request of 6 Dec", "confirm": "yes"})
    assert resp.status_code == 303 and resp.headers["Location"] == "/desk/members"
    with db.connect() as conn:
        assert member_db.get_by_id(conn, people.id) is None
        assert member_db.is_suppressed(conn, "ana.lopez@example.org")
        [entry] = [e for e in editor_db.list_audit(conn) if e["action"] == "member-forget"]
    assert entry["editor"] == "eda@example.org" and entry["detail"] == {"reason": "erasure request of 6 Dec"}
    assert "ana.lopez@example.org" not in str(entry)


def test_csv_export_of_the_filtered_list(desk, people):  # noqa: F811
    client, _ = desk
    resp = client.get("/desk/members.csv?status=active")
    assert resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert [r["email"] for r in rows] == ["ana.lopez@example.org", "bob@example.net"]
    assert rows[0]["attributes"] == "region=Wales" and rows[1]["topics"] == "data-protection"


def test_csv_export_reads_the_members_a_page_at_a_time(desk, people, monkeypatch):  # noqa: F811
    from digest.web.desk import members as desk_members

    whole = desk[0].get("/desk/members.csv").text
    monkeypatch.setattr(desk_members, "CSV_BATCH", 1)  # one member a page: the same download
    assert desk[0].get("/desk/members.csv").text == whole and whole.count("\r\n") > 2


def test_nothing_without_a_session(app, people):  # noqa: F811
    client = app.test_client()
    assert client.get("/desk/members").status_code == 303
    assert client.get("/desk/members.csv").status_code == 303
    assert client.post(f"/desk/members/{people.id}/forget", data={"confirm": "yes"}).status_code in (400, 401)


def test_membership_staff_see_members_but_not_the_edition_controls(app, db, people, run_cli):  # noqa: F811
    from desk_fixtures import csrf_of, sign_in
    from digest.editorial.editors import hash_password

    r = run_cli("editors", "add", "mo@example.org", "--role", "membership", "--print-link")
    assert r.exit_code == 0, r.output
    with db.begin() as conn:
        staff = editor_db.get_by_email(conn, "mo@example.org")
        editor_db.set_password(conn, staff.id, hash_password("membership staff passphrase"))
    assert staff.role == "membership"
    client = app.test_client()
    assert sign_in(client, "mo@example.org", "membership staff passphrase").status_code == 303
    for url in ("/desk/", "/desk/preview", "/desk/audit"):
        resp = client.get(url)
        assert resp.status_code == 303 and resp.headers["Location"] == "/desk/members", url
    page = client.get("/desk/members")
    assert page.status_code == 200 and ">Week<" not in page.text and ">Audit log<" not in page.text
    csrf = csrf_of(page.text)
    denied = client.post("/desk/edition/build", data={"csrf": csrf, "period": "2017-W25"})
    assert denied.status_code == 403 and "Not for your role" in denied.text
    changed = client.post(f"/desk/members/{people.id}/change", data={
        "csrf": csrf, "topics": ["cyber-security"], "frequency": "daily", "format": "html", "status": "active",
        "reason": "phoned in"})
    assert changed.status_code == 303
    with db.connect() as conn:
        assert member_db.get_by_id(conn, people.id).frequency == "daily"


def test_failed_webhooks_are_shown_to_the_membership_team(desk, people, db):  # noqa: F811
    import sqlalchemy as sa

    from digest.db import schema
    from digest.db import webhooks as webhook_db

    client, _ = desk
    assert "could not be delivered" not in client.get("/desk/members").text
    with db.begin() as conn:
        webhook_db.add_endpoint(conn, "https://crm.example.org/hooks", ("member.subscribed",), "whsec_eA==", now=NOW)
        member_db.add(conn, "dan@example.org", now=NOW)
        conn.execute(sa.update(schema.webhook_outbox).values(status="failed", last_error="answered 503"))
    page = client.get("/desk/members").text
    assert "Webhook to https://crm.example.org/hooks: 1 event(s) could not be delivered" in page
    assert "answered 503" in page

""""Email me my preferences link": the same answer for members and strangers, only members get a link,
at most one per resend_minutes, rate-limited per client; also through the API."""

from __future__ import annotations

from datetime import datetime, timezone

from digest.db import members as member_db
from digest.membership.tokens import issue
from digest.sending.transports import MemoryTransport
from digest.web import create_app

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


def make(settings, db):
    box = MemoryTransport()
    return create_app(settings, db, transport_factory=lambda: box), box


def test_members_get_their_link_strangers_get_the_same_page_and_nothing(settings, db):
    app, box = make(settings, db)
    with db.begin() as conn:
        member_db.add(conn, "ana@example.org", "Ana", now=NOW)
        bob = member_db.add(conn, "bob@example.org", now=NOW)
        member_db.set_status(conn, bob.id, "bounced", source="system", now=NOW)
    client = app.test_client()
    assert client.get("/preferences-link").status_code == 200
    pages = [client.post("/preferences-link", data={"email": e}, environ_base={"REMOTE_ADDR": f"10.0.0.{i}"})
             for i, e in enumerate(["ana@example.org", "stranger@example.org", "bob@example.org"])]
    bodies = {p.get_data(as_text=True).replace(e, "X") for p, e in
              zip(pages, ["ana@example.org", "stranger@example.org", "bob@example.org"])}
    assert {p.status_code for p in pages} == {200} and len(bodies) == 1
    app.extensions["digest"].mailer.wait_idle()
    [(envelope, message)] = box.sent
    assert envelope.recipients == ("ana@example.org",)
    text = message.decode()
    assert "Your link to your" in text and "/preferences/" in text
    # Asked again at once: no second email.
    client.post("/preferences-link", data={"email": "ana@example.org"}, environ_base={"REMOTE_ADDR": "10.0.1.1"})
    app.extensions["digest"].mailer.wait_idle()
    assert len(box.sent) == 1
    bad = client.post("/preferences-link", data={"email": "nope"}, environ_base={"REMOTE_ADDR": "10.0.1.2"})
    assert bad.status_code == 400 and "Enter an email address" in bad.get_data(as_text=True)


def test_the_form_is_rate_limited_per_client(settings, db):
    app, _ = make(settings, db)
    client = app.test_client()
    codes = [client.post("/preferences-link", data={"email": f"x{i}@example.org"}).status_code for i in range(7)]
    assert codes[-1] == 429 and 200 in codes


def test_the_api_asks_for_the_same_link(settings, db):
    app, box = make(settings, db)
    with db.begin() as conn:
        member_db.add(conn, "ana@example.org", now=NOW)
    h = {"Authorization": "Bearer " + issue(db, "website", ("subscribe",), now=NOW)}
    client = app.test_client()
    answers = {client.post("/api/v1/preferences-link", headers=h, json={"email": e}).get_data()
               for e in ("ana@example.org", "stranger@example.org")}
    assert len(answers) == 1
    app.extensions["digest"].mailer.wait_idle()
    assert [envelope.recipients for envelope, _ in box.sent] == [("ana@example.org",)]

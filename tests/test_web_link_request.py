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


def test_a_welcome_email_when_configured_after_confirming_or_an_api_add_never_for_a_sync(settings, db, tmp_path,
                                                                                         run_cli):
    import dataclasses
    import re
    from email import message_from_bytes
    from email.policy import default

    quiet, box0 = make(settings, db)  # off by default: confirming sends nothing more
    welcoming = dataclasses.replace(settings, member_welcome=True)
    app, box = make(welcoming, db)
    client = app.test_client()
    client.post("/subscribe", data={"email": "new@example.org", "topics": list(settings.topic_slugs),
                                    "frequency": "weekly", "format": "html"})
    app.extensions["digest"].mailer.wait_idle()
    [(_, confirm_mail)] = box.sent
    text = message_from_bytes(confirm_mail, policy=default).get_body(("plain",)).get_content()
    token = re.search(r"/confirm/([A-Za-z0-9._-]+)", text).group(1)
    for _ in range(2):  # twice: welcomed once
        resp = client.post(f"/confirm/{token}")
        assert resp.status_code == 200
        resp.close()  # as the server does once the answer is sent
    subjects = [message_from_bytes(m, policy=default)["Subject"] for _, m in box.sent]
    assert [s.startswith("Welcome to the") for s in subjects] == [False, True]
    h = {"Authorization": "Bearer " + issue(db, "crm", ("members:write",), now=NOW)}
    assert client.put("/api/v1/members/api@example.org", headers=h, json={}).status_code == 201
    assert box.sent[-1][0].recipients == ("api@example.org",)
    assert message_from_bytes(box.sent[-1][1], policy=default)["Subject"].startswith("Welcome to the")
    crm = tmp_path / "crm.csv"
    crm.write_text("email\nsynced@example.org\n", encoding="utf-8")
    assert run_cli("members", "sync", crm).exit_code == 0
    assert len(box.sent) == 3 and box0.sent == []

"""/desk/announcements without a browser: the form's messages, the audience count, bad ids, CSRF, the audit log.

The pages call digest.editorial.announcements (as `digest announcement ...` does); these tests check what
the desk adds: one message per field, the count the editor sees before queueing is who is queued,
404/400 for what does not exist or is malformed, and approve/queue/schedule/test each in the audit log.
"""

from __future__ import annotations

import re

from desk_fixtures import EMAIL, NOW, app, desk, editor, outbox  # noqa: F401  (fixtures)
from digest.db import editors as editor_db
from digest.db import members as member_db
from digest.editorial import announcements as lib
from digest.web.desk.announcing import as_dark

BODY = "## The annual general meeting\n\nIt is on 3 March at the Guildhall.\n\n- Accounts\n- Elections"


def members(db, people):
    """people: (address, status, attributes) of each member to create."""
    with db.begin() as conn:
        for address, status, attributes in people:
            member_db.create(conn, address, None, (), "weekly", "html", status=status, source="test", now=NOW,
                             attributes=attributes)


def compose(client, token, **fields):
    data = {"csrf": token, "subject": "AGM notice", "preheader": "", "body": BODY, "kind": "news",
            "audience": "all", **fields}
    return client.post("/desk/announcements/new", data=data)


def created_id(resp) -> int:
    assert resp.status_code == 303, resp.text[:500]
    return int(re.search(r"/desk/announcements/(\d+)$", resp.headers["Location"]).group(1))


def test_the_list_and_the_compose_page_open_from_the_nav(desk):
    client, _ = desk
    assert 'href="/desk/announcements"' in client.get("/desk/").text
    page = client.get("/desk/announcements")
    assert page.status_code == 200 and "Write an announcement" in page.text
    new = client.get("/desk/announcements/new")
    assert new.status_code == 200
    for name in ("subject", "preheader", "body", "cta_label", "cta_url", "picture_url", "picture_alt", "public"):
        assert f'name="{name}"' in new.text


def test_each_wrong_field_gets_one_message_and_nothing_is_saved(desk, db):
    client, token = desk
    resp = compose(client, token, subject="", body="", cta_label="Book", cta_url="", picture_url="https://x.org/a.png",
                   audience="topics")
    assert resp.status_code == 400
    messages = re.findall(r'<p class="error-message" id="([\w-]+)-error">', resp.text)
    assert sorted(messages) == ["audience", "body", "cta_url", "picture_alt", "subject"]
    assert "There is a problem" in resp.text
    assert "No announcement has been written yet." in client.get("/desk/announcements").text


def test_the_library_refusal_lands_on_its_field(desk):
    client, token = desk
    resp = compose(client, token, cta_label="Book", cta_url="javascript:alert(1)")
    assert resp.status_code == 400
    assert re.findall(r'id="([\w-]+)-error"', resp.text) == ["cta_url"]


def test_the_count_shown_is_the_attribute_audience(desk, db):
    client, token = desk
    members(db, [("a@example.org", "active", {"region": "Wales"}), ("b@example.org", "active", {"region": "Wales"}),
                 ("c@example.org", "active", {"region": "Kent"}), ("d@example.org", "unsubscribed", {"region": "Wales"}),
                 ("e@example.org", "bounced", {"region": "Wales"})])
    resp = compose(client, token, audience="attr", attributes="region=Wales", count="1")
    assert resp.status_code == 200
    assert "It would go to 2 members now." in resp.text
    assert "No announcement has been written yet." in client.get("/desk/announcements").text  # counting saves nothing
    key = created_id(compose(client, token, audience="attr", attributes="region=Wales"))
    page = client.get(f"/desk/announcements/{key}")
    assert "It would go to 2 members now." in page.text


def test_bad_ids_are_404_not_500(desk):
    client, token = desk
    for url in ("/desk/announcements/999", "/desk/announcements/abc", f"/desk/announcements/{2**40}",
                "/desk/announcements/999/preview", "/desk/announcements/999/frame", "/desk/announcements/999/text"):
        assert client.get(url).status_code == 404, url
    for step in ("", "/test", "/approve", "/queue", "/schedule", "/withdraw"):
        assert client.post(f"/desk/announcements/999{step}", data={"csrf": token}).status_code == 404, step


def test_every_post_needs_the_csrf_token(desk):
    client, token = desk
    key = created_id(compose(client, token))
    for step in ("", "/test", "/approve", "/queue", "/schedule", "/withdraw"):
        assert client.post(f"/desk/announcements/{key}{step}", data={"csrf": "forged"}).status_code == 400, step
    assert compose(client, "forged").status_code == 400


def test_test_approve_queue_are_audited_and_the_queue_is_the_count(desk, db, outbox):
    client, token = desk
    members(db, [("a@example.org", "active", {}), ("b@example.org", "active", {}),
                 ("gone@example.org", "unsubscribed", {})])
    key = created_id(compose(client, token))
    assert client.post(f"/desk/announcements/{key}/queue", data={"csrf": token}).status_code == 303
    assert "Not queued" in client.get(f"/desk/announcements/{key}").text  # a draft is approved first
    client.post(f"/desk/announcements/{key}/test", data={"csrf": token})
    [(envelope, message)] = outbox.sent
    assert list(envelope.recipients) == [EMAIL] and b"Subject: AGM notice" in message
    client.post(f"/desk/announcements/{key}/approve", data={"csrf": token})
    page = client.get(f"/desk/announcements/{key}").text
    assert "Approved." in page and "2 members, counted now." in page
    client.post(f"/desk/announcements/{key}/queue", data={"csrf": token})
    assert "Queued for 2 members." in client.get(f"/desk/announcements/{key}").text
    with db.connect() as conn:
        actions = [e["action"] for e in editor_db.list_audit(conn, limit=20)]
    for action in ("announcement-create", "announcement-test", "announcement-approve", "announcement-queue"):
        assert actions.count(action) == 1, (action, actions)


def test_a_send_time_needs_an_approved_announcement_and_a_whole_date_and_time(desk):
    client, token = desk
    key = created_id(compose(client, token))
    client.post(f"/desk/announcements/{key}/schedule", data={"csrf": token, "day": "2027-06-28", "time": "07:00"})
    assert "Not scheduled: approve it first." in client.get(f"/desk/announcements/{key}").text
    client.post(f"/desk/announcements/{key}/approve", data={"csrf": token})
    for day, time in (("", "07:00"), ("2027-06-28", ""), ("28/06/2027", "07:00"), ("2027-06-28", "7am")):
        client.post(f"/desk/announcements/{key}/schedule", data={"csrf": token, "day": day, "time": time})
        assert "Not scheduled: give a date and a time" in client.get(f"/desk/announcements/{key}").text, (day, time)


def test_a_queued_announcement_cannot_be_changed(desk, db):
    client, token = desk
    members(db, [("a@example.org", "active", {})])
    key = created_id(compose(client, token))
    client.post(f"/desk/announcements/{key}/approve", data={"csrf": token})
    client.post(f"/desk/announcements/{key}/queue", data={"csrf": token})
    page = client.get(f"/desk/announcements/{key}").text
    assert "Nothing on this page can change what was sent." in page and "Save the draft" not in page
    assert "Its deliveries, by state" in page and "It would go to" not in page
    assert re.search(r"<td>Queued</td><td>1</td>", page)
    client.post(f"/desk/announcements/{key}", data={"csrf": token, "subject": "Changed", "body": "x",
                                                    "kind": "news", "audience": "all"})
    assert "Changed" not in client.get(f"/desk/announcements/{key}").text


def test_the_dark_preview_applies_the_emails_dark_rules():
    html = "<style>a{color:red}@media (prefers-color-scheme: dark) { a { color: white } }</style>"
    assert as_dark(html) == "<style>a{color:red}@media screen { a { color: white } }</style>"
    assert as_dark("<p>no dark rules</p>") == "<p>no dark rules</p>"


def test_an_approved_announcement_is_given_a_send_time_and_it_is_taken_back(desk, db):
    client, token = desk
    key = created_id(compose(client, token))
    client.post(f"/desk/announcements/{key}/approve", data={"csrf": token})
    client.post(f"/desk/announcements/{key}/schedule", data={"csrf": token, "day": "2000-01-03", "time": "07:00"})
    assert "is in the past" in client.get(f"/desk/announcements/{key}").text
    client.post(f"/desk/announcements/{key}/schedule", data={"csrf": token, "day": "2099-06-29", "time": "07:00"})
    assert "it goes out at 2099-06-29 07:00" in client.get(f"/desk/announcements/{key}").text
    assert lib.get_announcement(db, int(key)).send_time.local_text == "2099-06-29 07:00"
    client.post(f"/desk/announcements/{key}/withdraw", data={"csrf": token})
    assert "withdrawn" in client.get(f"/desk/announcements/{key}").text
    assert lib.get_announcement(db, int(key)).send_time is None


def test_an_audience_saved_once_is_offered_and_counted_again(desk, db):
    client, token = desk
    members(db, [("a@example.org", "active", {"region": "Wales"}), ("c@example.org", "active", {"region": "Kent"})])
    bad = compose(client, token, audience="attr", attributes="region=Wales", save_as="Members in Wales")
    assert bad.status_code == 400 and re.findall(r'id="([\w-]+)-error"', bad.text) == ["save_as"]
    created_id(compose(client, token, audience="attr", attributes="region=Wales", save_as="wales"))
    page = client.get("/desk/announcements/new").text
    assert '<option value="wales">wales (attr:region=Wales)</option>' in page
    counted = compose(client, token, audience="saved", saved="wales", count="1")
    assert "It would go to 1 member now." in counted.text

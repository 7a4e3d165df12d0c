"""The desk's guard, exactly and fast (scripts/mutants desk-auth): what a sign-in leaves behind, whose tries the
throttle counts together, and when a session stops opening the desk."""

from __future__ import annotations

import hashlib
import html
import json
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from desk_fixtures import EMAIL, PASSWORD, app, csrf_of, editor, outbox, sign_in  # noqa: F401

from digest.db import editors as editor_db
from digest.db.schema import desk_sessions, editor_events
from digest.web.common import RateLimiter

WRONG = "wrong password, guessed"


def _session(client) -> dict:
    with client.session_transaction("/desk/") as s:
        return dict(s)


def _client_at(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _events(db, action):
    with db.connect() as conn:
        rows = conn.execute(select(editor_events).where(editor_events.c.action == action)).all()
    return [(r.editor_id, r.editor, r.target, json.loads(r.detail)) for r in rows]


def test_signing_in_makes_a_new_session_id_and_csrf_token_and_keeps_only_the_ids_hash(app, db, editor):
    client = app.test_client()
    before = csrf_of(client.get("/desk/sign-in").text)
    started = int(time.time())
    assert sign_in(client).status_code == 303
    s = _session(client)
    assert isinstance(s["csrf"], str) and len(s["csrf"]) == 43 and s["csrf"] != before  # 32 random bytes, new
    assert isinstance(s["s"], str) and len(s["s"]) == 43
    assert started <= s["t"] <= int(time.time())
    with db.connect() as conn:
        stored = [r.id_hash for r in conn.execute(select(desk_sessions)).all()]
    assert stored == [hashlib.sha256(s["s"].encode()).hexdigest()]
    # The page after the sign-in carries the session's token: a form posted with it is taken.
    page = client.get("/desk/?period=2017-W25")
    assert csrf_of(page.text) == s["csrf"]


def test_a_sign_in_is_recorded_on_the_editor_and_in_the_audit_log(app, db, editor):
    assert editor.last_sign_in_at is None
    assert sign_in(app.test_client()).status_code == 303
    with db.connect() as conn:
        seen = editor_db.get(conn, editor.id).last_sign_in_at
    assert seen is not None and abs(seen - datetime.now(timezone.utc)) < timedelta(minutes=5)
    assert _events(db, "sign-in") == [(editor.id, EMAIL, EMAIL, {"with": "password"})]


def test_a_wrong_password_is_recorded_against_the_address_tried(app, db, editor):
    assert sign_in(app.test_client(), password=WRONG).status_code == 400
    assert sign_in(app.test_client(), email="nobody@example.org", password=WRONG).status_code == 400
    assert _events(db, "sign-in-failed") == [(editor.id, EMAIL, EMAIL, {}),
                                             (None, "unknown", "nobody@example.org", {})]


def test_a_sign_in_link_is_recorded_as_a_sign_in_with_the_link(app, db, settings, editor):
    from digest.editorial.editors import EditorLinks

    links = EditorLinks(settings.secret_key, settings.base_url)
    url, nonce_hash = links.make("sign-in", editor.id)
    with db.begin() as conn:
        editor_db.set_link(conn, editor.id, "sign-in", nonce_hash)
    client = app.test_client()
    path = url[url.index("/desk/"):]
    page = client.get(path)
    assert page.status_code == 200
    resp = client.post(path, data={"csrf": csrf_of(page.text)})
    assert resp.status_code == 303 and resp.headers["Location"] == "/desk/"
    assert _events(db, "sign-in") == [(editor.id, EMAIL, EMAIL, {"with": "link"})]
    assert client.get("/desk/?period=2017-W25").status_code == 200


def _small_throttle(app, *, client=3, address=3):
    d = app.extensions["digest.desk"]
    d.per_pair, d.links_per_address = RateLimiter(10, 600), RateLimiter(10, 600)
    d.per_client, d.per_address = RateLimiter(client, 600), RateLimiter(address, 600)
    return d


def test_each_client_has_its_own_count_of_password_tries(app, editor):
    _small_throttle(app, client=3, address=100)
    busy = _client_at(app, "203.0.113.20")
    for i in range(3):
        assert sign_in(busy, email=f"guess{i}@example.org", password=WRONG).status_code == 400
    assert sign_in(busy, email="guess9@example.org", password=WRONG).status_code == 429
    assert sign_in(_client_at(app, "203.0.113.21"), email="guess8@example.org", password=WRONG).status_code == 400


def test_each_client_has_its_own_count_of_link_requests(app, editor):
    _small_throttle(app, client=3, address=100)

    def ask(client, email):
        return client.post("/desk/sign-in/link", data={"csrf": csrf_of(client.get("/desk/sign-in").text),
                                                        "email": email})

    busy = _client_at(app, "203.0.113.30")
    for i in range(3):
        assert ask(busy, f"guess{i}@example.org").status_code == 200
    assert ask(busy, "guess9@example.org").status_code == 429
    assert ask(_client_at(app, "203.0.113.31"), "guess8@example.org").status_code == 200


def test_each_address_has_its_own_count_of_tries_from_everywhere(app, editor):
    _small_throttle(app, client=100, address=3)
    for i in range(3):
        assert sign_in(_client_at(app, f"192.0.2.{i}"), password=WRONG).status_code == 400
    assert sign_in(_client_at(app, "192.0.2.50"), password=WRONG).status_code == 429  # the address is locked
    assert sign_in(_client_at(app, "192.0.2.51"), email="other@example.org", password=WRONG).status_code == 400


def _signed_in(app):
    client = app.test_client()
    assert sign_in(client).status_code == 303
    assert client.get("/desk/?period=2017-W25").status_code == 200
    return client


def _edit(client, **changes):
    with client.session_transaction("/desk/") as s:
        for key, value in changes.items():
            if value is None:
                s.pop(key, None)
            else:
                s[key] = value


def test_a_session_needs_both_its_id_and_its_start_time(app, editor):
    for changes in ({"s": None}, {"t": None}, {"t": str(int(time.time()))}, {"s": 12345}):
        client = _signed_in(app)
        _edit(client, **changes)
        resp = client.get("/desk/?period=2017-W25")
        assert resp.status_code == 303 and resp.headers["Location"].startswith("/desk/sign-in"), changes


def test_a_session_lasts_exactly_desk_session_hours_from_signing_in(app, editor):
    hours = app.permanent_session_lifetime.total_seconds()
    client = _signed_in(app)
    _edit(client, t=int(time.time() - hours + 30))  # 30 s before the end: still open
    assert client.get("/desk/?period=2017-W25").status_code == 200
    _edit(client, t=int(time.time() - hours - 2))
    resp = client.get("/desk/?period=2017-W25")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/desk/sign-in")
    assert "s" not in _session(client) and "csrf" not in _session(client)  # the whole session is dropped


def test_an_unknown_session_id_is_forgotten_and_sent_to_sign_in(app, editor):
    client = _signed_in(app)
    csrf = _session(client)["csrf"]
    _edit(client, s="not-a-session-anyone-has")
    resp = client.get("/desk/?period=2017-W25")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/desk/sign-in")
    s = _session(client)
    assert "s" not in s and s["csrf"] == csrf  # only the dead id goes: the form token stays
    assert client.post("/desk/articles/1/pin", data={"csrf": csrf}).status_code == 401


def test_the_session_opens_the_desk_as_its_own_editor(app, db, editor):
    with db.begin() as conn:
        other = editor_db.add(conn, "ben@example.org", "Ben Editor", now=datetime.now(timezone.utc))
    client = _signed_in(app)
    page = client.get("/desk/?period=2017-W25")
    assert EMAIL in page.text or "Eda Editor" in page.text
    assert "ben@example.org" not in page.text and other.id != editor.id


def test_a_page_without_a_token_yet_makes_one_of_32_random_bytes(app, editor):
    client = app.test_client()
    token = csrf_of(client.get("/desk/sign-in").text)
    assert len(token) == 43 and _session(client)["csrf"] == token
    assert csrf_of(client.get("/desk/sign-in").text) == token  # the same for the session's next page


REFUSALS = [("short", "short"), ("x" * 201, "x" * 201), ("New@Example.org ", "New@Example.org "),
            ("a long enough passphrase", "a long enough passphrase!")]


@pytest.mark.parametrize("language, said", [
    ("", ["A password needs at least 12 characters.", "A password can have at most 200 characters.",
          "The password cannot be the email address.", "The two passwords are not the same."]),
    ("cy", ["Mae angen o leiaf 12 nod mewn cyfrinair.", "Gall cyfrinair gynnwys 200 nod ar y mwyaf.",
            "Ni all y cyfrinair fod yr un fath â’r cyfeiriad e-bost.", "Nid yw’r ddau gyfrinair yr un fath."]),
])
def test_each_refused_new_password_is_said_in_the_editors_language(db, settings, outbox, language, said):
    from digest.editorial.editors import EditorLinks
    from digest.web import create_app

    app = create_app(replace(settings, editors_language=language), db, transport_factory=lambda: outbox)
    with db.begin() as conn:
        e = editor_db.add(conn, "new@example.org", None, now=datetime.now(timezone.utc))
    url, hashed = EditorLinks(settings.secret_key, settings.base_url).make("set-password", e.id)
    with db.begin() as conn:
        editor_db.set_link(conn, e.id, "set-password", hashed)
    path = url[url.index("/desk/"):]
    client = app.test_client()
    csrf = csrf_of(client.get(path).text)
    for (password, again), words in zip(REFUSALS, said):
        resp = client.post(path, data={"csrf": csrf, "password": password, "again": again})
        assert resp.status_code == 400 and html.escape(words, quote=False) in resp.text, words


def test_a_refusal_the_form_has_no_words_for_is_shown_as_a_sentence(app):
    from digest.web.desk.auth import password_problem

    with app.test_request_context("/desk/"):
        assert password_problem("the vault is closed") == "The vault is closed."

"""The desk's guard, through Flask's test client on a real database.

No session -> sign-in (GET) or 401 (POST) on every desk URL; posts without
the session's CSRF token are refused; a member's link opens nothing on the
desk; sign-in is throttled; one-time links work once and expire; sessions
end; the preview frame is sandboxed and carries the sanitised article text.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

from digest.db import articles as article_db
from digest.db import editors as editor_db
from digest.editorial.editors import EditorLinks, hash_password
from digest.sending.transports import MemoryTransport
from desk_fixtures import (  # noqa: F401  (fixtures)
    EMAIL, NOW, PASSWORD, app, csrf_of, desk, desk_rules, editor, outbox, sign_in, week25,
)

PUBLIC = {"/desk/sign-in", "/desk/sign-in/link", "/desk/assets/desk.css", "/desk/assets/desk.js"}


def test_without_a_session_every_desk_page_sends_you_to_sign_in_and_every_post_gets_401(app, editor, week25):
    client = app.test_client()
    seen = 0
    for url, methods in desk_rules(app):
        if url in PUBLIC or url.startswith("/desk/link/"):
            continue
        if "GET" in methods:
            resp = client.get(url + "?period=2017-W25")
            assert resp.status_code == 303, url
            assert resp.headers["Location"].startswith("/desk/sign-in?next=/desk/"), url
            seen += 1
        if "POST" in methods:
            resp = client.post(url, data={"period": "2017-W25"})
            assert resp.status_code == 401, url
            assert "Sign in to use the desk" in resp.text
            seen += 1
    # 15 pages (3 of them the members', 1 the send's progress, 6 the announcements'), 17 kinds of post (2 the
    # members', 1 the send time, 7 the announcements')
    assert seen == 32
    # and nothing happened
    with app.extensions["digest"].db.connect() as conn:
        assert not any(a.pinned for a in article_db.list_articles(conn))
        assert [r["action"] for r in editor_db.list_audit(conn)] == []


def test_the_session_cookie_is_httponly_lax_scoped_to_the_desk_and_secure_over_https(app, editor):
    client = app.test_client()
    resp = sign_in(client)
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/desk" in cookie and "Expires=" in cookie
    assert "Secure" in cookie  # the settings' base URL is https
    from digest.web import create_app
    from digest.config import load_settings

    app.extensions["digest"]  # the same db, an http base URL: Secure only when the request is https
    plain = load_settings(None, environ={**_env(app), "DIGEST_BASE_URL": "http://127.0.0.1:8000"})
    app2 = create_app(plain, app.extensions["digest"].db, transport_factory=MemoryTransport)
    assert "Secure" not in sign_in(app2.test_client()).headers["Set-Cookie"]
    c = app2.test_client()
    page = c.get("/desk/sign-in", base_url="https://desk.example.org")
    resp = c.post("/desk/sign-in", base_url="https://desk.example.org",
                  data={"csrf": csrf_of(page.text), "email": EMAIL, "password": PASSWORD})
    assert "Secure" in resp.headers["Set-Cookie"]


def _env(app):
    s = app.extensions["digest"].settings
    return {"DIGEST_DATABASE_URL": s.database_url, "DIGEST_SECRET_KEY": s.secret_key, "DIGEST_CONFIG": ""}


def test_posts_without_the_sessions_csrf_token_are_refused_and_change_nothing(desk, db, week25):
    client, csrf = desk
    for data in ({}, {"csrf": ""}, {"csrf": "forged"}, {"csrf": csrf[:-2] + "xx"}):
        resp = client.post("/desk/articles/1/pin", data={"period": "2017-W25", **data})
        assert resp.status_code == 400 and "This form has expired" in resp.text
    resp = client.post("/desk/edition/build", data={"period": "2017-W25"})
    assert resp.status_code == 400
    with db.connect() as conn:
        assert not article_db.list_articles(conn, ids=[1])[0].pinned
        assert [r["action"] for r in editor_db.list_audit(conn)] == ["sign-in"]
    # The token of another session does not do either.
    other = desk[0].application.test_client()
    sign_in(other)
    resp = other.post("/desk/articles/1/pin", data={"period": "2017-W25", "csrf": csrf})
    assert resp.status_code == 400
    assert client.post("/desk/articles/1/pin", data={"period": "2017-W25", "csrf": csrf}).status_code == 303


def test_a_members_preference_link_gives_no_access_to_the_desk(app, db, editor, settings):
    from digest.db import members as member_db
    from digest.message.links import Links

    with db.begin() as conn:
        sub = member_db.add(conn, "member@example.org", "M", (), "weekly", "html", now=NOW)
    links = Links(settings.secret_key, settings.base_url)
    token = links.token("preferences", sub.id, sub.token_version)
    client = app.test_client()
    assert client.get(f"/preferences/{token}").status_code == 200  # the member's own page works
    assert client.get("/desk/").status_code == 303  # and opened no desk session
    for purpose in ("preferences", "unsubscribe", "confirm"):
        t = links.token(purpose, sub.id, sub.token_version)
        resp = client.get(f"/desk/link/{t}")
        assert resp.status_code == 400 and "This link does not work" in resp.text
    client.set_cookie("digest_desk", token, path="/desk")
    assert client.get("/desk/").status_code == 303
    assert client.post("/desk/articles/1/pin", data={"csrf": "x"}).status_code == 401


def test_sign_in_is_throttled_per_address(app, db, editor):
    client = app.test_client()
    for _ in range(5):
        resp = sign_in(client, password="wrong password, guessed")
        assert resp.status_code == 400 and "not right" in resp.text
    resp = sign_in(client)  # the right password, too late
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert client.get("/desk/").status_code == 303
    with db.connect() as conn:
        assert [r["action"] for r in editor_db.list_audit(conn)] == ["sign-in-failed"] * 5
    # An unknown address gets the same answer as a wrong password, and counts the same.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    resp = sign_in(other, email="nobody@example.org")
    assert resp.status_code == 400 and "not right" in resp.text


def _link(db, settings, editor_id, purpose, *, clock=time.time):
    url, hashed = EditorLinks(settings.secret_key, settings.base_url, clock=clock).make(purpose, editor_id)
    with db.begin() as conn:
        editor_db.set_link(conn, editor_id, purpose, hashed)
    return urlsplit(url).path


def test_a_set_password_link_works_once(app, db, settings):
    with db.begin() as conn:
        e = editor_db.add(conn, "new@example.org", None, now=NOW)
    path = _link(db, settings, e.id, "set-password")
    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200 and "Set your password" in page.text
    assert client.get(path).status_code == 200  # opening it (a mail scanner) does not use it up
    resp = client.post(path, data={"csrf": csrf_of(page.text), "password": "short", "again": "short"})
    assert resp.status_code == 400 and "at least 12 characters" in resp.text
    resp = client.post(path, data={"csrf": csrf_of(page.text), "password": PASSWORD, "again": PASSWORD + "!"})
    assert resp.status_code == 400 and "not the same" in resp.text
    resp = client.post(path, data={"csrf": csrf_of(page.text), "password": PASSWORD, "again": PASSWORD})
    assert resp.status_code == 303 and resp.headers["Location"] == "/desk/"
    assert client.get("/desk/").status_code == 200  # signed in
    again = app.test_client()
    assert again.get(path).status_code == 400
    page = again.get("/desk/sign-in")
    resp = again.post(path, data={"csrf": csrf_of(page.text), "password": "another long password", "again":
                                  "another long password"})
    assert resp.status_code == 400 and "This link does not work" in resp.text
    assert sign_in(again, "new@example.org").status_code == 303  # the first password stands


def test_a_sign_in_link_expires_and_a_newer_one_replaces_it(app, db, settings, editor):
    client = app.test_client()
    old = _link(db, settings, editor.id, "sign-in", clock=lambda: time.time() - 2 * 3600)  # 60 minutes is the limit
    assert client.get(old).status_code == 400
    first = _link(db, settings, editor.id, "sign-in")
    second = _link(db, settings, editor.id, "sign-in")
    assert client.get(first).status_code == 400  # replaced
    page = client.get(second)
    assert "Sign in to the edition desk as eda@example.org" in page.text
    assert client.post(second, data={"csrf": csrf_of(page.text)}).status_code == 303
    assert client.get("/desk/").status_code == 200
    assert client.post(second, data={"csrf": csrf_of(client.get("/desk/").text)}).status_code == 400


def test_email_me_a_link_gives_the_same_page_for_anyone_and_mails_only_editors(app, editor, outbox):
    client = app.test_client()
    csrf = csrf_of(client.get("/desk/sign-in").text)
    pages = [client.post("/desk/sign-in/link", data={"csrf": csrf, "email": e}) for e in (EMAIL, "who@example.org")]
    assert [p.status_code for p in pages] == [200, 200]
    assert all("Check your inbox" in p.text for p in pages)
    [(envelope, message)] = outbox.sent
    assert envelope.recipients == (EMAIL,)
    url = re.search(rb"https?://\S+/desk/link/\S+", message.replace(b"=\r\n", b"")).group(0).decode()
    page = client.get(urlsplit(url).path)
    assert page.status_code == 200
    assert client.post(urlsplit(url).path, data={"csrf": csrf_of(page.text)}).status_code == 303


def test_removing_an_editor_or_a_new_password_ends_their_sessions(desk, db, editor):
    client, csrf = desk
    with db.begin() as conn:
        editor_db.set_password(conn, editor.id, hash_password("a different passphrase"))
    assert client.get("/desk/").status_code == 303
    sign_in(client, password="a different passphrase")
    assert client.get("/desk/").status_code == 200
    with db.begin() as conn:
        editor_db.remove(conn, editor.id)
    assert client.get("/desk/").status_code == 303


def test_the_preview_frame_is_sandboxed_and_shows_the_sanitised_article(desk, db, settings, tmp_path):
    from digest.ingest.store import ingest_sources

    feed = tmp_path / "hostile.xml"
    feed.write_text("""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://www.example.org/</link>
<item><title>Data protection &lt;script&gt;alert(1)&lt;/script&gt; update</title><link>https://www.example.org/dp/</link>
<guid>dp-1</guid><pubDate>Wed, 21 Jun 2017 09:00:00 +0000</pubDate><category>GDPR</category>
<description><![CDATA[<p>The regulator <img src=x onerror="alert(2)"> writes <script>alert(3)</script> about GDPR
and <a href="javascript:alert(4)">consent</a> this week.</p>]]></description></item></channel></rss>""")
    ingest_sources(db, settings, [str(feed)], now=NOW)
    client, _ = desk
    page = client.get("/desk/preview?period=2017-W25")
    frames = re.findall(r"<iframe[^>]*>", page.text)
    assert len(frames) == 2
    for tag in frames:
        assert ' sandbox=""' in tag and "allow-" not in tag and " title=" in tag
    assert re.findall(r'width="(\d+)"', " ".join(frames)) == ["375", "600"]
    src = re.search(r'src="([^"]+)"', frames[0]).group(1).replace("&amp;", "&")
    frame = client.get(src)
    assert frame.status_code == 200
    csp = frame.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox;") and "script-src" not in csp and "default-src 'none'" in csp
    assert frame.headers["X-Frame-Options"] == "SAMEORIGIN"
    html = frame.text
    assert "The regulator writes about GDPR and consent this week." in html
    assert "Data protection &lt;script&gt;alert(1)&lt;/script&gt; update" in html
    for bad in ("<script", "onerror", "javascript:", "alert(2)", "alert(3)"):
        assert bad not in html
    assert "frame-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"


def test_a_session_ends_after_desk_session_hours_however_busy(desk):
    client, _ = desk
    assert client.get("/desk/audit").status_code == 200
    with client.session_transaction(path="/desk/") as sess:
        sess["t"] -= 11 * 3600  # signed in 11 hours ago: still in (12 hours by default)
    assert client.get("/desk/audit").status_code == 200
    with client.session_transaction(path="/desk/") as sess:
        sess["t"] -= 2 * 3600
    resp = client.get("/desk/audit")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/desk/sign-in")

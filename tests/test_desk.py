"""The edition desk's guard and controls, through Flask's test client on a real database.

Security: no session -> sign-in (GET) or 401 (POST) on every desk URL; posts
without the session's CSRF token are refused; a member's link opens nothing
on the desk; sign-in is throttled; one-time links work once and expire; the
preview frame is sandboxed and carries the sanitised article text. And one
code path: the desk's preview bytes are `digest preview`'s.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from digest.db import articles as article_db
from digest.db import editors as editor_db
from digest.sending.transports import MemoryTransport
from digest.editorial.editors import EditorLinks, hash_password

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "news.xml"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
PASSWORD = "a long enough passphrase"
EMAIL = "eda@example.org"
PUBLIC = {"/desk/sign-in", "/desk/sign-in/link", "/desk/assets/desk.css"}


@pytest.fixture
def outbox():
    return MemoryTransport()


@pytest.fixture
def app(settings, db, outbox):
    from digest.web import create_app

    return create_app(settings, db, transport_factory=lambda: outbox)


@pytest.fixture
def editor(db):
    with db.begin() as conn:
        e = editor_db.add(conn, EMAIL, "Eda Editor", now=NOW)
        editor_db.set_password(conn, e.id, hash_password(PASSWORD))
        return editor_db.get(conn, e.id)


@pytest.fixture
def week25(db, settings):
    from digest.ingest.store import ingest_sources

    ingest_sources(db, settings, [str(SAMPLES)], now=NOW)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client, email=EMAIL, password=PASSWORD):
    page = client.get("/desk/sign-in")
    return client.post("/desk/sign-in", data={"csrf": csrf_of(page.text), "email": email, "password": password})


@pytest.fixture
def desk(app, editor):
    """A signed-in test client and its CSRF token."""
    client = app.test_client()
    resp = sign_in(client)
    assert resp.status_code == 303 and resp.headers["Location"] == "/desk/"
    return client, csrf_of(client.get("/desk/?period=2017-W25").text)


def desk_rules(app):
    """Every desk URL (with sample values for its arguments) and its methods."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/desk"):
            continue
        url = rule.rule.replace("<int:article_id>", "1").replace("<action>", "pin").replace("<token>", "x")
        yield url, rule.methods - {"HEAD", "OPTIONS"}


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
    assert seen == 11  # 5 pages, 6 kinds of post
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
    from digest.db import members as subscriber_db
    from digest.message.links import Links

    with db.begin() as conn:
        sub = subscriber_db.add(conn, "member@example.org", "M", (), "weekly", "html", now=NOW)
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


@pytest.mark.parametrize("variant", [("data-protection", "html"), ("", "html"), ("cyber-security", "text")])
def test_the_desks_preview_is_byte_for_byte_digest_preview(desk, run_cli, tmp_path, week25, variant):
    topics, fmt = variant
    client, _ = desk
    args = ["preview", "--week", "2017-W25", "--out", tmp_path / "cli.out"]
    query = f"period=2017-W25&format={fmt}"
    if topics:
        args += ["--topics", topics]
        query += f"&topics={topics}"
    if fmt == "text":
        args.append("--text")
    assert run_cli(*args).exit_code == 0
    desk_bytes = client.get(f"/desk/preview/{'text' if fmt == 'text' else 'frame'}?{query}").data
    assert desk_bytes == (tmp_path / "cli.out").read_bytes()
    assert len(desk_bytes) > 1000


def test_pin_exclude_move_summary_and_topics_change_what_preview_shows(desk, db, settings, week25):
    client, csrf = desk
    post = lambda a, action, **data: client.post(f"/desk/articles/{a}/{action}",  # noqa: E731
                                                 data={"csrf": csrf, "period": "2017-W25", **data})
    from digest.editorial.preview import PreviewRequest, make_preview

    def order():
        return [i.article_id for i in make_preview(db, settings, PreviewRequest(week="2017-W25"), now=NOW).items]

    before = order()
    assert post(8, "pin").status_code == 303
    assert order()[0] == 8
    assert post(before[1], "exclude").status_code == 303
    assert before[1] not in order()
    third = order()[2]
    assert post(third, "up").status_code == 303
    assert order().index(third) == 1
    resp = post(8, "down")  # the only pinned article: nowhere to go within its group
    assert order()[0] == 8 and "cannot move down any further" in client.get(resp.headers["Location"]).text
    assert post(6, "summary", summary="  A   summary\nby hand. ").status_code == 303
    with db.connect() as conn:
        [a6] = article_db.list_articles(conn, ids=[6])
    assert a6.summary_override == "A summary by hand."
    assert post(6, "topics", topics=["member-news", "nonsense"]).status_code == 303
    with db.connect() as conn:
        [a6] = article_db.list_articles(conn, ids=[6])
        reasons = article_db.topic_reasons(conn, [6])[6]
    assert a6.topics == ["member-news"] and a6.topics_by_hand
    assert reasons[0].reason == f"set by hand by {EMAIL}"
    # Re-ingesting keeps topics set by hand.
    from digest.ingest.store import ingest_sources

    ingest_sources(db, settings, [str(SAMPLES)], now=NOW)
    with db.connect() as conn:
        assert article_db.list_articles(conn, ids=[6])[0].topics == ["member-news"]
    assert post(6, "topics", automatic="1").status_code == 303
    with db.connect() as conn:
        assert article_db.list_articles(conn, ids=[6])[0].topics == ["cyber-security"]
        trail = [(r["editor"], r["action"], r["target"]) for r in reversed(editor_db.list_audit(conn))]
    assert trail == [(EMAIL, "sign-in", EMAIL), (EMAIL, "pin", "8"), (EMAIL, "exclude", str(before[1])),
                     (EMAIL, "up", str(third)), (EMAIL, "summary", "6"),
                     (EMAIL, "topics", "6"), (EMAIL, "topics", "6")]
    page = client.get("/desk/?period=2017-W25").text
    assert "Pinned “Preparing for GDPR" not in page  # notes are shown once, then gone
    assert page.count("In the edition, place") == 10 and "Excluded</li>" in page


def test_the_week_page_shows_why_and_the_summary_warnings(desk, db, week25):
    client, csrf = desk
    client.post("/desk/articles/6/summary", data={"csrf": csrf, "period": "2017-W25",
                                                  "summary": "WannaCry one month on: lessons for local public "
                                                             "services, and " + "more words " * 30 + "and so…"})
    page = client.get("/desk/?period=2017-W25").text
    card = page[page.index('id="a-6"'):]
    card = card[:card.find('<li class="article')]
    assert "Over the budget: 72 words, the budget is 50." in card
    assert "Cut off mid-thought" in card and "Repeats the title." in card
    assert "category &#39;Cyber security&#39; is the slug of cyber-security" in card
    assert "72 of 50 words" in card


def test_send_me_a_test_build_and_queue_from_the_desk(desk, db, settings, outbox, week25):
    from digest.db import members as subscriber_db

    with db.begin() as conn:
        subscriber_db.add(conn, "m@example.org", "M", ("data-protection",), "weekly", "html", now=NOW)
    client, csrf = desk
    page = client.get("/desk/preview?period=2017-W25&topics=data-protection&format=html").text
    assert "Members who get this variant:</strong> 1" in page
    resp = client.post("/desk/preview/test", data={"csrf": csrf, "period": "2017-W25", "topics": "data-protection",
                                                  "format": "html"})
    assert resp.status_code == 303
    [(envelope, message)] = outbox.sent
    assert envelope.recipients == (EMAIL,) and b"Preparing for GDPR" in message
    assert "Sent a test of 2017-W25 (data-protection:html) to eda@example.org." in client.get(resp.headers["Location"]).text
    assert client.post("/desk/edition/build", data={"csrf": csrf, "period": "2017-W25"}).status_code == 303
    assert client.post("/desk/edition/queue", data={"csrf": csrf, "period": "2017-W25"}).status_code == 303
    page = client.get("/desk/?period=2017-W25").text
    assert "<td>Queued</td><td>1</td>" in page and "it is frozen" in page
    with db.connect() as conn:
        actions = [r["action"] for r in editor_db.list_audit(conn)]
    assert actions[:3] == ["queue", "build", "send-test"]


def test_a_bad_period_is_one_line_and_a_400(desk):
    client, _ = desk
    resp = client.get("/desk/?period=2017-W99")
    assert resp.status_code == 400 and "That period does not work" in resp.text


def test_editors_cli_add_list_remove_and_the_printed_link(run_cli, db, settings):
    out = run_cli("editors", "add", "Ed@Example.org", "--name", "Ed", "--print-link").output
    assert "added editor Ed@example.org (Ed)" in out
    assert re.search(r"link for Ed@example.org \(works once\): https://news.example.org/desk/link/\S+", out)
    result = run_cli("editors", "add", "ed@example.org")
    assert result.exit_code == 1 and "is already an editor" in result.output
    assert run_cli("editors", "add", "not an address").exit_code == 1
    listed = run_cli("editors", "list", "--json").output
    assert '"email": "Ed@example.org"' in listed and '"password": false' in listed
    # No mail server: the link is printed, with a warning.
    result = run_cli("editors", "link", "ed@example.org")
    assert result.exit_code == 0 and "could not be sent" in result.output and "/desk/link/" in result.output
    assert run_cli("editors", "remove", "ed@example.org").exit_code == 0
    assert run_cli("editors", "remove", "ed@example.org").exit_code == 1
    with db.connect() as conn:
        trail = [r["action"] for r in reversed(editor_db.list_audit(conn))]
    assert trail == ["editor-add", "editor-link", "editor-remove"]


def test_editors_add_emails_the_link_through_the_smtp_server(run_cli, smtp_sink, monkeypatch):
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    out = run_cli("editors", "add", "eda@example.org").output
    assert "emailed a set-password link to eda@example.org via smtp" in out
    [msg] = smtp_sink.wait_for(1)
    assert msg.rcpt_tos == ("eda@example.org",)
    assert "/desk/link/" in msg.message.get_content()


def test_the_editions_words_are_saved_shown_and_frozen_once_queued(desk, db, settings, week25):
    from digest.editorial.text import edition_text

    client, csrf = desk
    page = client.get("/desk/?period=2017-W25").text
    assert "Leave it empty for “Public Digital Leaders Network: week of 19 June 2017”." in page
    data = {"csrf": csrf, "period": "2017-W25", "subject": "  A  subject ", "preheader": "",
            "note": "<b>Hello</b> members.\r\n\r\n\r\nSee [the report](https://example.org/r)."}
    resp = client.post("/desk/edition/text", data=data)
    assert resp.status_code == 303
    saved = edition_text(db, "2017-W25")
    assert (saved.subject, saved.preheader, saved.updated_by) == ("A subject", "", EMAIL)
    assert saved.note == "<b>Hello</b> members.\n\nSee [the report](https://example.org/r)."
    page = client.get(resp.headers["Location"]).text
    assert "&lt;b&gt;Hello&lt;/b&gt; members." in page and "<b>Hello</b>" not in page
    frame = client.get("/desk/preview/frame?period=2017-W25&format=html").text
    assert "&lt;b&gt;Hello&lt;/b&gt; members." in frame and '<a href="https://example.org/r"' in frame
    resp = client.post("/desk/edition/text", data={**data, "subject": "x" * 151})
    assert "Not saved: edition 2017-W25: the subject is 151 characters; at most 150" in \
        client.get(resp.headers["Location"]).text
    resp = client.post("/desk/edition/text", data={**data, "note": "[bad](javascript:alert(1))"})
    assert "only http(s) addresses can be linked" in client.get(resp.headers["Location"]).text
    assert edition_text(db, "2017-W25").subject == "A subject"
    client.post("/desk/edition/build", data={"csrf": csrf, "period": "2017-W25"})
    client.post("/desk/edition/queue", data={"csrf": csrf, "period": "2017-W25"})
    page = client.get("/desk/?period=2017-W25").text
    assert 'action="/desk/edition/text"' not in page and "<dd>A subject</dd>" in page
    resp = client.post("/desk/edition/text", data={**data, "subject": "Too late"})
    assert "its words are frozen with it" in client.get(resp.headers["Location"]).text
    with db.connect() as conn:
        assert [r["action"] for r in editor_db.list_audit(conn)].count("edition-text") == 1


def test_a_members_preview_is_what_they_are_sent(run_cli, tmp_path, db):
    """The preview of a member (desk or `digest preview --subscriber`) is their variant as queued:
    a pinned article goes only to members of its topics, and the text part is the sent one, byte for byte."""
    from email import message_from_bytes
    from email import policy as email_policy

    assert run_cli("ingest", SAMPLES).exit_code == 0
    for email, topics in (("c@example.org", "cyber-security"), ("d@example.org", "data-protection,cyber-security")):
        assert run_cli("subscribers", "add", email, "--name", "Ann Member", "--topics", topics).exit_code == 0
    assert run_cli("article", "pin", "8").exit_code == 0  # Preparing for GDPR: data protection
    previews = {}
    for email in ("c@example.org", "d@example.org"):
        out = tmp_path / f"{email}.txt"
        assert run_cli("preview", "--week", "2017-W25", "--subscriber", email, "--text", "--out", out).exit_code == 0
        previews[email] = out.read_text(encoding="utf-8")
    assert "Preparing for GDPR" not in previews["c@example.org"]
    assert "Preparing for GDPR" in previews["d@example.org"]
    assert run_cli("weekly", "--week", "2017-W25", "--transport", "file").exit_code == 0
    for eml in (tmp_path / "outbox").glob("*.eml"):
        msg = message_from_bytes(eml.read_bytes(), policy=email_policy.default)
        sent = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")  # the wire has CRLF
        assert sent == previews[msg["To"].addresses[0].addr_spec]


def test_previewing_a_members_copy_and_an_unknown_address(desk, db, week25):
    from digest.db import members as member_db

    with db.begin() as conn:
        member_db.add(conn, "text@example.org", "Tex", ("cyber-security",), "weekly", "text", now=NOW)
    client, _ = desk
    page = client.get("/desk/preview?period=2017-W25&member=text@example.org").text
    assert "What text@example.org gets" in page and "Members who get this variant" not in page
    assert "<iframe" not in page and "Plain-text members get the text part only." in page
    assert "Cyber essentials for schools" in page and "Preparing for GDPR" not in page
    resp = client.get("/desk/preview?period=2017-W25&member=nobody@example.org")
    assert resp.status_code == 400 and "nobody@example.org: no such subscriber" in resp.text
    resp = client.get("/desk/preview?period=2017-W99")
    assert resp.status_code == 400 and "2017-W99" in resp.text


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

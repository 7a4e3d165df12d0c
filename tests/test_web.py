"""The web app through Flask's test client: the protocol details of every page.

One-click unsubscribe in both body encodings, no redirect, idempotence, a
GET that changes nothing, one page for every bad link, the CSRF guard, double
opt-in without address enumeration, rate limits, headers, the audit trail,
and a change of preferences reaching deliveries already queued.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from digest.db import members as member_db
from digest.sending.transports import MemoryTransport
from digest.message.links import Links
from digest.web import create_app
from digest.web.common import CSRF_SALT

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "news.xml"
START = datetime(2017, 6, 26, 8, 0, tzinfo=timezone.utc)
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


class Clock:
    def __init__(self, now: datetime = START):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def outbox():
    return MemoryTransport()


@pytest.fixture
def app(settings, db, outbox, clock):
    return create_app(settings, db, transport_factory=lambda: outbox, clock=clock)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def links(settings):
    return Links(settings.secret_key, settings.base_url)


def add_member(db, email="sian@example.org", topics=("data-protection",), **kw):
    with db.begin() as conn:
        return member_db.add(conn, email, kw.pop("name", "Siân"), topics, now=START, **kw)


def member(db, sub_id):
    with db.connect() as conn:
        return member_db.get_by_id(conn, sub_id)


def events(db, sub_id):
    with db.connect() as conn:
        return member_db.list_events(conn, sub_id)


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def prefs_form(client, token, **fields):
    """A preferences POST as the page's form sends it (csrf from the page, hidden paused=0 first)."""
    page = client.get(f"/preferences/{token}").get_data(as_text=True)
    data = {"csrf": csrf_from(page), "paused": ["0"] + (["1"] if fields.pop("paused", False) else []),
            "action": "save", "frequency": "weekly", "format": "html", "name": "Siân"}
    data.update(fields)
    return client.post(f"/preferences/{token}", data=data)


# ---------------------------------------------------------------- preferences


def test_preferences_page_shows_the_members_choices_with_labels(client, db, links, settings):
    sub = add_member(db)
    resp = client.get(path_of(links.preferences_url(sub.id, sub.token_version)))
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert '<html lang="en">' in html and "<h1>" in html and settings.organisation in html
    for t in settings.topics:  # every topic has a checkbox with its own label
        assert f'<label for="topic-{t.slug}">{t.label}</label>' in html
    assert re.search(r'id="topic-data-protection"[^>]*checked', html)
    assert not re.search(r'id="topic-cyber-security"[^>]*checked', html)
    assert re.search(r'type="radio" id="frequency-weekly"[^>]*checked', html)
    assert re.search(r'type="radio" id="format-html"[^>]*checked', html)
    assert "sian@example.org" not in html and "s•••@example.org" in html
    assert f'action="/unsubscribe/{links.token("unsubscribe", sub.id, 1)}"' in html
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert "Set-Cookie" not in resp.headers


def test_saving_preferences_changes_the_row_and_records_what_changed(client, db, links):
    sub = add_member(db)
    token = links.token("preferences", sub.id, sub.token_version)
    resp = prefs_form(client, token, topics=["cyber-security", "smart-places"], frequency="monthly", format="text")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Preferences saved" in html
    assert "Cyber security, Smart places" in html and "Monthly" in html and "Plain text" in html
    now = member(db, sub.id)
    assert (now.topics, now.frequency, now.format, now.paused) == (
        ("cyber-security", "smart-places"), "monthly", "text", False)
    last = events(db, sub.id)[-1]
    assert (last["source"], last["action"]) == ("web", "preferences")
    assert last["detail"] == {"topics": [["data-protection"], ["cyber-security", "smart-places"]],
                              "frequency": ["weekly", "monthly"], "format": ["html", "text"]}
    # The same form again changes nothing and writes no event.
    again = prefs_form(client, token, topics=["cyber-security", "smart-places"], frequency="monthly", format="text")
    assert "Nothing changed" in again.get_data(as_text=True)
    assert len(events(db, sub.id)) == 2


def test_every_topic_ticked_means_all_topics_and_none_ticked_is_refused(client, db, links, settings):
    sub = add_member(db)
    token = links.token("preferences", sub.id, 1)
    assert prefs_form(client, token, topics=list(settings.topic_slugs)).status_code == 200
    assert member(db, sub.id).topics == ()
    refused = prefs_form(client, token, topics=[], frequency="daily")
    assert refused.status_code == 400
    assert "Choose at least one topic" in refused.get_data(as_text=True)
    assert member(db, sub.id).frequency == "weekly"  # nothing of a refused form is kept
    assert prefs_form(client, token, topics=["no-such-topic"]).status_code == 400


def test_every_topic_means_all_topics_from_every_door(client, db, links, settings, run_cli, tmp_path):
    """One rule (members.parse_topics): the web form, `subscribers add/set` and a CSV import store the same."""
    every = list(settings.topic_slugs)
    web = add_member(db, "web@example.org")
    assert prefs_form(client, links.token("preferences", web.id, 1), topics=every).status_code == 200
    assert run_cli("subscribers", "add", "add@example.org", "--topics", ",".join(every)).exit_code == 0
    add_member(db, "set@example.org")
    assert run_cli("subscribers", "set", "set@example.org", "--topics", ",".join(reversed(every))).exit_code == 0
    (tmp_path / "m.csv").write_text("email,topics\nimport@example.org," + ";".join(every) + "\n")
    assert run_cli("subscribers", "import", str(tmp_path / "m.csv")).exit_code == 0
    with db.connect() as conn:
        stored = {a: member_db.get_by_email(conn, a).topics
                  for a in ("web@example.org", "add@example.org", "set@example.org", "import@example.org")}
    assert stored == dict.fromkeys(stored, ())  # all topics, so a topic added later reaches them too
    # Fewer than all is the explicit list, in taxonomy order, from the web as from the command line.
    assert run_cli("subscribers", "set", "set@example.org", "--topics", ",".join(reversed(every[:2]))).exit_code == 0
    assert prefs_form(client, links.token("preferences", web.id, 1), topics=every[1::-1]).status_code == 200
    with db.connect() as conn:
        assert member_db.get_by_email(conn, "set@example.org").topics == tuple(every[:2])
        assert member_db.get_by_email(conn, "web@example.org").topics == tuple(every[:2])


def test_pause_and_resume(client, db, links):
    sub = add_member(db)
    token = links.token("preferences", sub.id, 1)
    prefs_form(client, token, topics=["data-protection"], paused=True)
    assert member(db, sub.id).paused is True
    assert "Your emails are paused" in client.get(f"/preferences/{token}").get_data(as_text=True)
    prefs_form(client, token, topics=["data-protection"])
    assert member(db, sub.id).paused is False
    assert [e["detail"].get("paused") for e in events(db, sub.id)[1:]] == [[False, True], [True, False]]


def test_a_post_without_a_valid_csrf_value_changes_nothing(client, db, links, settings):
    sub = add_member(db)
    other = add_member(db, "other@example.org")
    token = links.token("preferences", sub.id, 1)
    form = {"topics": ["cyber-security"], "frequency": "daily", "paused": "0"}
    old = URLSafeTimedSerializer(settings.secret_key, salt=CSRF_SALT, signer=_PastSigner)
    other_page = client.get(f"/preferences/{links.token('preferences', other.id, 1)}").get_data(as_text=True)
    fresh = csrf_from(client.get(f"/preferences/{token}").get_data(as_text=True))
    for csrf in (None, "", "forged", csrf_from(other_page), old.dumps(fresh.split(".")[0])):
        data = dict(form, **({"csrf": csrf} if csrf is not None else {}))
        resp = client.post(f"/preferences/{token}", data=data)
        assert resp.status_code == 400 and "This form has expired" in resp.get_data(as_text=True)
    assert member(db, sub.id).frequency == "weekly" and len(events(db, sub.id)) == 1


class _PastSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 2 * 86400


def test_resubscribe_from_the_preferences_link(client, db, links):
    sub = add_member(db)
    client.post(path_of(links.unsubscribe_url(sub.id, 1)), data=ONE_CLICK)
    token = links.token("preferences", sub.id, 1)
    html = client.get(f"/preferences/{token}").get_data(as_text=True)
    assert "You are unsubscribed" in html and "Subscribe again" in html
    resp = client.post(f"/preferences/{token}", data={"csrf": csrf_from(html), "action": "resubscribe"})
    assert resp.status_code == 200 and "Welcome back" in resp.get_data(as_text=True)
    assert member(db, sub.id).status == "active"
    assert [(e["source"], e["action"]) for e in events(db, sub.id)][-2:] == [("one-click", "unsubscribe"),
                                                                             ("web", "resubscribe")]


# ---------------------------------------------------------------- unsubscribe


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_unsubscribe_answers_200_once_and_records_one_event(client, db, links, encoding):
    sub = add_member(db)
    url = path_of(links.unsubscribe_url(sub.id, sub.token_version))
    kwargs = {"content_type": "multipart/form-data"} if encoding == "multipart" else {}
    for _ in range(2):
        resp = client.post(url, data=ONE_CLICK, **kwargs)
        assert resp.status_code == 200 and "Location" not in resp.headers and "Set-Cookie" not in resp.headers
        assert "You are unsubscribed" in resp.get_data(as_text=True)
    assert member(db, sub.id).status == "unsubscribed"
    leaving = [e for e in events(db, sub.id) if e["action"] == "unsubscribe"]
    assert [(e["source"], e["detail"]) for e in leaving] == [("one-click", {"status": ["active", "unsubscribed"]})]


def test_get_of_the_unsubscribe_link_changes_nothing_and_the_button_does(client, db, links):
    sub = add_member(db)
    url = path_of(links.unsubscribe_url(sub.id, 1))
    for _ in range(3):  # a scanner, a preview, the member
        resp = client.get(url)
        assert resp.status_code == 200
        assert client.head(url).status_code == 200
    html = resp.get_data(as_text=True)
    assert f'<form method="post" action="{url}">' in html and 'name="via" value="page"' in html
    assert member(db, sub.id).status == "active" and len(events(db, sub.id)) == 1
    resp = client.post(url, data={"via": "page"})
    assert resp.status_code == 200 and member(db, sub.id).status == "unsubscribed"
    assert events(db, sub.id)[-1]["source"] == "web"
    # The page after leaving links back to the preferences (to resubscribe).
    assert f'href="/preferences/{links.token("preferences", sub.id, 1)}"' in resp.get_data(as_text=True)


def test_every_bad_link_gets_the_same_page_and_changes_nothing(client, db, links, settings):
    sub = add_member(db)
    good = links.token("unsubscribe", sub.id, 1)
    revoked_prefs = links.token("preferences", sub.id, 1)
    with db.begin() as conn:
        member_db.revoke_links(conn, sub.id, source="cli", now=START)
    bad = {
        "forged": good[:-6] + ("AAAAAA" if not good.endswith("AAAAAA") else "BBBBBA"),
        "revoked": good,
        "unknown member": links.token("unsubscribe", 999, 1),
        "other key": Links("another-secret-key-123456", settings.base_url).token("unsubscribe", sub.id, 2),
        "garbage": "not-a-token",
    }
    bodies = set()
    for token in bad.values():
        for method, path in (("get", f"/unsubscribe/{token}"), ("post", f"/unsubscribe/{token}"),
                             ("get", f"/preferences/{token}"), ("get", f"/confirm/{token}"),
                             ("post", f"/confirm/{token}")):
            resp = getattr(client, method)(path, data=ONE_CLICK if method == "post" else None)
            assert resp.status_code == 400, (token, path)
            assert resp.headers["Cache-Control"] == "no-store"
            bodies.add(resp.get_data(as_text=True))
    current = {p: links.token(p, sub.id, 2) for p in ("preferences", "unsubscribe", "confirm")}
    for path, token in (("unsubscribe", current["preferences"]), ("preferences", current["unsubscribe"]),
                        ("confirm", current["preferences"]), ("preferences", current["confirm"])):
        resp = client.get(f"/{path}/{token}")  # a good link made for another page
        assert resp.status_code == 400
        bodies.add(resp.get_data(as_text=True))
    assert len(bodies) == 1  # nothing tells a forged link from a revoked one or a stranger's
    assert "This link does not work" in bodies.pop()
    assert client.get(f"/preferences/{revoked_prefs}").status_code == 400
    assert member(db, sub.id).status == "active"
    assert client.get(f"/preferences/{links.token('preferences', sub.id, 2)}").status_code == 200


# ---------------------------------------------------------------- subscribe and confirm


def _subscribe(client, email, **extra):
    ip = extra.pop("ip", "192.0.2.1")
    data = {"email": email, "topics": ["data-protection", "cyber-security"], "frequency": "weekly",
            "format": "html", "name": ""}
    data.update(extra)
    resp = client.post("/subscribe", data=data, environ_base={"REMOTE_ADDR": ip})
    # The email goes out from the app's mail worker, after the answer: wait for it.
    assert client.application.extensions["digest"].mailer.wait_idle(timeout=30)
    return resp


def _link_in(message: bytes) -> str:
    msg = message_from_bytes(message, policy=email_policy.default)
    text = msg.get_body(("plain",)).get_content()
    return re.search(r"https?://\S+", text).group(0)


def test_double_opt_in_sends_a_confirmation_and_the_link_activates(client, db, outbox, settings):
    resp = _subscribe(client, "new.member@example.org", name="New Member")
    assert resp.status_code == 200 and "Check your inbox" in resp.get_data(as_text=True)
    with db.connect() as conn:
        sub = member_db.get_by_email(conn, "new.member@example.org")
    assert (sub.status, sub.topics, sub.name) == ("pending", ("data-protection", "cyber-security"), "New Member")
    [(envelope, message)] = outbox.sent
    assert envelope.recipients == ("new.member@example.org",)
    msg = message_from_bytes(message, policy=email_policy.default)
    assert msg["Subject"] == f"Confirm your subscription to {settings.organisation}"
    url = _link_in(message)
    assert url.startswith(settings.base_url + "/confirm/")
    assert url in msg.get_body(("html",)).get_content()
    # Following the link (as a mail scanner does) shows a button and changes nothing.
    for _ in range(2):
        resp = client.get(path_of(url))
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200 and "Confirm my subscription</button>" in html
        assert f'<form method="post" action="{path_of(url)}">' in html
    assert member(db, sub.id).status == "pending"
    for _ in range(2):  # the button confirms; idempotent
        resp = client.post(path_of(url))
        assert resp.status_code == 200 and "You are subscribed" in resp.get_data(as_text=True)
    assert member(db, sub.id).status == "active"
    assert "You are subscribed" in client.get(path_of(url)).get_data(as_text=True)
    assert 'press "Confirm my subscription"' in msg.get_body(("plain",)).get_content()
    assert [(e["source"], e["action"]) for e in events(db, sub.id)] == [("web", "subscribe"), ("web", "confirm")]


def test_the_answer_is_the_same_whoever_the_address_belongs_to(client, db, outbox, clock):
    add_member(db, "active@example.org")
    left = add_member(db, "left@example.org")
    forgotten = add_member(db, "gone@example.org")
    with db.begin() as conn:
        member_db.unsubscribe(conn, left.id, source="cli", now=START)
        member_db.forget(conn, forgotten.id, now=START)
    clock.now += timedelta(hours=1)
    pages = {}
    for n, email in enumerate(["stranger@example.org", "active@example.org", "left@example.org",
                               "gone@example.org", "stranger@example.org"]):
        resp = _subscribe(client, email, ip=f"192.0.2.{n}")
        assert resp.status_code == 200
        pages[email] = resp.get_data(as_text=True).replace(email, "ADDRESS")
    assert len(set(pages.values())) == 1
    sent = [(env.recipients[0], _link_in(m).split("/")[3]) for env, m in outbox.sent]
    # New: confirm link. Left: their preferences link (to come back). Active, forgotten, repeat: nothing.
    assert sent == [("stranger@example.org", "confirm"), ("left@example.org", "preferences")]
    clock.now += timedelta(minutes=11)
    _subscribe(client, "stranger@example.org", ip="192.0.2.9")  # the pending one may ask again later
    assert [env.recipients[0] for env, _ in outbox.sent][2:] == ["stranger@example.org"]
    assert member(db, left.id).status == "unsubscribed"


def test_a_broken_transport_gives_the_same_page(settings, db, clock):
    def broken():
        raise OSError("no route to the mail server")

    client = create_app(settings, db, transport_factory=broken, clock=clock).test_client()
    resp = _subscribe(client, "someone@example.org")
    assert resp.status_code == 200 and "Check your inbox" in resp.get_data(as_text=True)


def test_subscribe_form_errors_and_rate_limit(client, db, outbox):
    resp = _subscribe(client, "not an address")
    assert resp.status_code == 400 and 'href="#email"' in resp.get_data(as_text=True)
    resp = _subscribe(client, "x@example.org", topics=[])
    assert resp.status_code == 400 and "Choose at least one topic" in resp.get_data(as_text=True)
    for n in range(3):
        assert _subscribe(client, f"p{n}@example.org").status_code == 200
    resp = _subscribe(client, "late@example.org")  # sixth from 192.0.2.1 within the minute
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
    assert "Too many requests" in resp.get_data(as_text=True)
    assert _subscribe(client, "late@example.org", ip="198.51.100.7").status_code == 200
    assert len(outbox.sent) == 4


def test_an_expired_confirmation_link_is_refused(client, db, settings):
    with db.begin() as conn:
        sub = member_db.create_pending(conn, "slow@example.org", None, (), "weekly", "html", "web", START)
    old = Links(settings.secret_key, settings.base_url, clock=lambda: time.time() - 8 * 86400)
    assert client.get(path_of(old.confirm_url(sub.id, 1))).status_code == 400
    assert member(db, sub.id).status == "pending"


# ---------------------------------------------------------------- other pages, headers


def test_unknown_pages_and_methods_get_friendly_pages(client):
    resp = client.get("/no/such/page")
    assert resp.status_code == 404 and "Page not found" in resp.get_data(as_text=True)
    resp = client.put("/subscribe")
    assert resp.status_code == 405 and "POST" in resp.headers["Allow"]
    assert "<h1>" in resp.get_data(as_text=True)
    css = client.get("/assets/site.css")
    assert css.status_code == 200 and css.mimetype == "text/css" and "#1d4f91" in css.get_data(as_text=True)


@pytest.fixture
def week25(settings, db):
    from digest.editorial.build import build_edition
    from digest.editorial.build import queue_edition
    from digest.edition.periods import parse_period
    from digest.ingest.store import ingest_sources

    ingest_sources(db, settings, [str(SAMPLES)], now=START)
    edition = build_edition(db, settings, parse_period("2017-W25", settings.timezone), now=START)
    return edition, lambda: queue_edition(db, settings, edition.key, now=START)


def test_the_web_version_of_a_queued_edition(client, db, week25):
    edition, queue = week25
    assert client.get("/editions/2017-W25").status_code == 404  # built, not queued: a draft
    add_member(db)
    queue()
    resp = client.get("/editions/2017-W25")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert all(item.title.replace("’", "&#8217;") in html or item.title in html for item in edition.items)
    assert "digest.invalid" not in html and "[[digest:" not in html
    # it belongs to nobody: no greeting, no member links, no "view in browser"; a way to subscribe instead
    for absent in ("/preferences/", "/unsubscribe/", "View in your browser", "Hello", "You are receiving this"):
        assert absent not in html, absent
    assert 'href="https://news.example.org/subscribe"' in html
    assert 'href="https://news.example.org/editions/"' in html
    assert "style-src 'unsafe-inline'" in resp.headers["Content-Security-Policy"]
    assert client.get("/editions/2017-W99").status_code == 404
    assert client.get("/editions/..%2Fetc").status_code == 404


def test_a_change_reaches_deliveries_already_queued(client, db, links, settings, week25):
    from digest.sending.worker import send_queue

    _, queue = week25
    sub = add_member(db)
    paused = add_member(db, "paused@example.org")
    assert queue().queued == 2
    prefs_form(client, links.token("preferences", sub.id, 1), topics=["cyber-security"], format="text")
    prefs_form(client, links.token("preferences", paused.id, 1), topics=["data-protection"], paused=True)
    transport = MemoryTransport()
    stats = send_queue(db, settings, lambda: transport)
    assert (stats.sent, stats.skipped) == (1, 1)
    [(envelope, message)] = transport.sent
    msg = message_from_bytes(message, policy=email_policy.default)
    assert envelope.recipients == ("sian@example.org",) and msg.get_content_type() == "text/plain"
    text = msg.get_content()
    assert "Cyber essentials for schools" in text and "GDPR" not in text


def test_export_includes_the_web_audit_trail(client, db, links, run_cli):
    sub = add_member(db)
    prefs_form(client, links.token("preferences", sub.id, 1), topics=["smart-places"])
    client.post(path_of(links.unsubscribe_url(sub.id, 1)), data=ONE_CLICK)
    result = run_cli("subscribers", "export", "sian@example.org")
    assert result.exit_code == 0, result.output
    trail = [(e["source"], e["action"]) for e in json.loads(result.output)["events"]]
    assert trail == [("cli", "subscribe"), ("web", "preferences"), ("one-click", "unsubscribe")]


# ---------------------------------------------------------------- digest serve


def test_serve_refuses_a_missing_or_demo_key(run_cli, monkeypatch):
    for key in ("", "insecure-demo-key-change-me", "short"):
        monkeypatch.setenv("DIGEST_SECRET_KEY", key)
        result = run_cli("serve", "--port", "0")
        assert result.exit_code == 1
        assert result.output.count("\n") == 1 and "DIGEST_SECRET_KEY" in result.output


@pytest.mark.parametrize("demo", [False, True])
def test_serve_answers_over_http(env, tmp_path, demo):
    args = ["--port", "0", "--trusted-proxy", "127.0.0.1"] + (["--insecure-demo"] if demo else [])
    environ = {**env, "PATH": "/usr/bin:/bin"} | ({"DIGEST_SECRET_KEY": ""} if demo else {})
    proc = subprocess.Popen([sys.executable, "-m", "digest", "serve", *args], cwd=tmp_path, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if demo:
            assert "insecure demo mode" in proc.stderr.readline()
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        with urllib.request.urlopen(url + "/subscribe", timeout=10) as resp:
            assert resp.status == 200 and resp.headers["Server"] == "digest"
            assert b"<h1>Get the" in resp.read()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_demo_opens_the_links_in_the_demos_own_emails(env, tmp_path, queue_members):
    """scripts/demo signs links with the demo key and points them at :8000; `serve --demo` opens them."""
    demo_env = {**env, "PATH": "/usr/bin:/bin", "DIGEST_SECRET_KEY": "", "DIGEST_BASE_URL": ""}
    queue_members(1)  # queued with the test key: re-sign nothing, just send with the demo's settings
    sent = subprocess.run([sys.executable, "-m", "digest", "send", "--transport", "file"], cwd=tmp_path,
                          env=demo_env, capture_output=True, text=True, timeout=120)
    assert sent.returncode == 0, sent.stderr
    [eml] = (tmp_path / "outbox").glob("*.eml")
    text = message_from_bytes(eml.read_bytes(), policy=email_policy.default).get_body(("plain",)).get_content()
    link = re.search(r"Manage your preferences: (http://127\.0\.0\.1:8000/preferences/\S+)", text).group(1)
    proc = subprocess.Popen([sys.executable, "-m", "digest", "serve", "--demo", "--port", "0"], cwd=tmp_path,
                            env=demo_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "insecure demo mode" in proc.stderr.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline()).group(0)
        with urllib.request.urlopen(link.replace("http://127.0.0.1:8000", url), timeout=10) as resp:
            page = resp.read().decode()
            assert resp.status == 200 and "<h1>Your email preferences</h1>" in page and "For m•••@example.org." in page
    finally:
        proc.terminate()
        proc.wait(timeout=10)

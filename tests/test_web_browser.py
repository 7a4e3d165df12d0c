"""End to end in real headless Chromium: from a sent .eml to the pages, and back to the next edition.

The app is served for real (werkzeug's server in a thread, on 127.0.0.1 and a
free port) and the pipeline runs through the CLI, so the links Chromium
opens are the ones in the message. Screenshots of every page at 375 and 600 px
go to tmp_path (or DIGEST_SCREENSHOTS, to look at them); each page is checked
for sideways scrolling and, when tests/js has axe-core, for accessibility.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from contextlib import contextmanager
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import pytest
import sqlalchemy as sa

from digest.db import schema
from digest.db import members as member_db
from digest.editorial.screenshot import CHROMIUM, LAUNCH_ARGS
from conftest import ok

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "news.xml"
AXE = Path(__file__).resolve().parent / "js" / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (375, 600)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="digest-chromium-") as home:
        env = {**os.environ, "HOME": home, "XDG_CONFIG_HOME": home, "XDG_CACHE_HOME": home}
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, env=env)
            yield b
            b.close()


@contextmanager
def serving():
    """A live server whose app is set after the port is known (links in emails must name it)."""
    from werkzeug.serving import make_server

    holder = {}

    def wsgi(environ, start_response):
        return holder["app"](environ, start_response)

    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", holder
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def site(env, run_cli, monkeypatch, tmp_path):
    """(base URL, settings, db): the app served live; DIGEST_BASE_URL points at it for the CLI too."""
    from digest.config import load_settings
    from digest.db import Database
    from digest.sending.transports import make_transport
    from digest.web import create_app

    with serving() as (url, holder):
        monkeypatch.setenv("DIGEST_BASE_URL", url)
        settings = load_settings(None, environ={**env, "DIGEST_BASE_URL": url})
        db = Database(settings.database_url)
        holder["app"] = create_app(settings, db, transport_factory=lambda: make_transport("file", settings))
        yield url, settings, db
        db.dispose()


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("DIGEST_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_eml(path: Path):
    return message_from_bytes(path.read_bytes(), policy=email_policy.default)


def mail_week25(run_cli, tmp_path):
    """Ingest, two members, build, queue and send W25 into the outbox; {address: message}."""
    ok(run_cli("ingest", SAMPLES))
    ok(run_cli("subscribers", "add", "sian@example.org", "--name", "Siân Jones", "--topics", "data-protection"))
    ok(run_cli("subscribers", "add", "ben@example.org", "--topics", "data-protection,cyber-security"))
    ok(run_cli("edition", "build", "--week", "2017-W25"))
    assert "queued 2 " in ok(run_cli("queue", "2017-W25")).output
    assert "sent 2," in ok(run_cli("send", "--transport", "file")).output
    messages = [read_eml(p) for p in sorted((tmp_path / "outbox").glob("*.eml"))]
    return {m["To"].addresses[0].addr_spec: m for m in messages}


def links_in(msg) -> dict[str, str]:
    """The personal links of a message, checked to be the same in the text and HTML parts."""
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    found = {}
    for what in ("preferences", "unsubscribe"):
        [url] = set(re.findall(rf"https?://\S+/{what}/[\w.-]+", text))
        assert f'href="{url}"' in html
        found[what] = url
    header = re.fullmatch(r"<([^>]+)>.*", str(msg["List-Unsubscribe"]))
    assert header and header.group(1) == found["unsubscribe"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return found


DARK_PAGE = "rgb(15, 20, 24)"  # edition.textformat.DARK_PAGE, as the browser computes it


def look(page, shots: Path, name: str, *, axe: bool = True) -> None:
    """Full-page screenshots at phone and desktop widths, light and dark; no sideways scrolling;
    axe finds nothing in either scheme; in dark mode the page is dark (the members' pages follow
    the device's setting, as the email does)."""
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        suffix = "" if scheme == "light" else "-dark"
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert scroll <= inner, f"{name} scrolls sideways at {width}px ({scroll} > {inner})"
            page.screenshot(path=str(shots / f"{name}-{width}{suffix}.png"), full_page=True)
        if not axe:
            continue
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert (background == DARK_PAGE) == (scheme == "dark"), f"{name} in {scheme} mode: body {background}"
        if AXE.exists():
            page.evaluate(AXE.read_text())  # evaluated from outside, so the page's CSP (no scripts) stays on
            result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
            problems = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
            assert not problems, f"{name} ({scheme}): {problems}"
    page.emulate_media(color_scheme="light")


def keyboard_reaches_the_form(page, shots: Path) -> None:
    """Tab shows the skip link first, then every control gets a visible focus outline."""
    page.keyboard.press("Tab")
    skip = page.evaluate("(() => { const a = document.activeElement, r = a.getBoundingClientRect();"
                         " return [a.textContent, r.left >= 0 && r.top >= 0]; })()")
    assert skip == ["Skip to main content", True]
    page.keyboard.press("Enter")  # to <main>; the next Tab is the first control of the form
    page.keyboard.press("Tab")
    focused = page.evaluate("(() => { const a = document.activeElement, s = getComputedStyle(a);"
                            " return [a.id, s.outlineStyle, parseFloat(s.outlineWidth)]; })()")
    assert focused[0] == "topic-data-protection" and focused[1] == "solid" and focused[2] >= 2, focused
    page.screenshot(path=str(shots / "preferences-focus.png"))


def member(db, email):
    with db.connect() as conn:
        return member_db.get_by_email(conn, email)


def queued_variants(db, email, key):
    """The variant topics each of the member's deliveries of edition KEY carries."""
    with db.connect() as conn:
        q = (sa.select(schema.variants.c.topics, schema.variants.c.format)
             .select_from(schema.deliveries
                          .join(schema.variants, schema.variants.c.id == schema.deliveries.c.variant_id)
                          .join(schema.subscribers, schema.subscribers.c.id == schema.deliveries.c.subscriber_id)
                          .join(schema.editions, schema.editions.c.id == schema.deliveries.c.edition_id))
             .where(schema.subscribers.c.email == email, schema.editions.c.key == key))
        return [tuple(r) for r in conn.execute(q)]


def test_preferences_link_from_a_sent_email_changes_the_next_edition(browser, site, run_cli, tmp_path, shots):
    url, settings, db = site
    sent = mail_week25(run_cli, tmp_path)
    links = links_in(sent["sian@example.org"])
    assert links["preferences"].startswith(url + "/preferences/")

    page = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
    resp = page.goto(links["preferences"])
    assert resp.status == 200 and resp.headers["cache-control"] == "no-store"
    assert page.get_by_label("Data protection").is_checked()
    assert page.get_by_label("Weekly").is_checked()
    look(page, shots, "preferences")
    keyboard_reaches_the_form(page, shots)

    page.get_by_label("Data protection").uncheck()
    page.get_by_label("Smart places").check()
    page.get_by_label("Emerging technology").check()
    page.get_by_label("Monthly").check()
    page.get_by_role("button", name="Save preferences").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Preferences saved"
    rows = page.locator("table.changes tbody tr").all_inner_texts()
    assert [" ".join(r.split()) for r in rows] == [
        "Topics Data protection Smart places, Emerging technology",
        "How often Weekly Monthly",
    ]
    look(page, shots, "saved")

    sian = member(db, "sian@example.org")
    assert (sian.topics, sian.frequency) == (("smart-places", "emerging-technology"), "monthly")
    with db.connect() as conn:
        last = member_db.list_events(conn, sian.id)[-1]
    assert (last["source"], last["action"]) == ("web", "preferences")

    # The next weekly edition leaves her out; the monthly one carries her new topics.
    ok(run_cli("edition", "build", "--week", "2017-W26"))
    ok(run_cli("queue", "2017-W26"))
    assert queued_variants(db, "sian@example.org", "2017-W26") == []
    assert queued_variants(db, "ben@example.org", "2017-W26") == []  # W26 has nothing on his topics
    ok(run_cli("edition", "build", "--month", "2017-06"))
    ok(run_cli("queue", "2017-06"))
    assert queued_variants(db, "sian@example.org", "2017-06") == [("smart-places,emerging-technology", "html")]

    # The "view in your browser" link of the email she got.
    text = sent["sian@example.org"].get_body(("plain",)).get_content()
    web = re.search(r"https?://\S+/editions/2017-W25", text).group(0)
    assert page.goto(web).status == 200
    assert page.get_by_text("Preparing for GDPR").count() >= 1
    look(page, shots, "edition", axe=False)  # the email's own markup, checked by the render tests


def test_unsubscribe_scanner_get_button_and_one_click(browser, site, run_cli, tmp_path, shots):
    url, settings, db = site
    sent = mail_week25(run_cli, tmp_path)
    ben = links_in(sent["ben@example.org"])
    sian = links_in(sent["sian@example.org"])
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()

    # A link scanner (or a curious click) fetches the URL: nothing happens.
    for _ in range(2):
        resp = page.goto(ben["unsubscribe"])
        assert resp.status == 200
    assert member(db, "ben@example.org").status == "active"
    look(page, shots, "unsubscribe")

    page.get_by_role("button", name="Yes, unsubscribe").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "You are unsubscribed"
    assert member(db, "ben@example.org").status == "unsubscribed"
    look(page, shots, "unsubscribed")
    page.get_by_role("link", name="Subscribe again").click()  # the way back
    assert "You are unsubscribed." in page.locator("main").inner_text()

    # The mail client's RFC 8058 POST to the List-Unsubscribe URL: 200, no redirect, idempotent.
    for encoding in ("form", "multipart"):
        resp = page.request.post(sian["unsubscribe"], max_redirects=0,
                                 **{encoding: {"List-Unsubscribe": "One-Click"}})
        assert resp.status == 200 and "location" not in resp.headers
    sub = member(db, "sian@example.org")
    with db.connect() as conn:
        trail = [(e["source"], e["action"]) for e in member_db.list_events(conn, sub.id)]
    assert sub.status == "unsubscribed" and trail == [("cli", "subscribe"), ("one-click", "unsubscribe")]
    assert context.cookies() == []


def test_subscribe_confirm_and_the_other_pages(browser, site, tmp_path, shots):
    url, settings, db = site
    page = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
    page.goto(url + "/subscribe")
    look(page, shots, "subscribe")

    page.get_by_label("Email address").fill("nia@example.org")
    for topic in settings.topics:
        page.get_by_label(topic.label).uncheck()
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_load_state()
    summary = page.get_by_role("alert")
    assert "There is a problem" in summary.inner_text() and "Choose at least one topic" in summary.inner_text()
    assert page.get_by_label("Email address").input_value() == "nia@example.org"  # kept for the retry
    look(page, shots, "subscribe-error")

    page.get_by_label("Cyber security").check()
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Check your inbox"
    look(page, shots, "check-inbox")

    for _ in range(300):  # the app's mail worker sends it just after the answer
        if list((tmp_path / "outbox").glob("*.eml")):
            break
        time.sleep(0.1)
    [eml] = (tmp_path / "outbox").glob("*.eml")
    text = read_eml(eml).get_body(("plain",)).get_content()
    confirm = re.search(r"https?://\S+/confirm/\S+", text).group(0)
    assert member(db, "nia@example.org").status == "pending"
    page.goto(confirm)  # a page with a button: following the link alone changes nothing
    assert page.get_by_role("heading", level=1).inner_text() == "Confirm your subscription"
    assert member(db, "nia@example.org").status == "pending"
    look(page, shots, "confirm")
    page.get_by_role("button", name="Confirm my subscription").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "You are subscribed"
    assert member(db, "nia@example.org").status == "active"
    look(page, shots, "confirmed")

    resp = page.goto(url + "/preferences/1.1.forged")
    assert resp.status == 400
    look(page, shots, "bad-link")
    resp = page.goto(url + "/nowhere")
    assert resp.status == 404
    look(page, shots, "not-found")


@pytest.fixture
def welsh(env, tmp_path):
    """[organisation] languages = ["en-GB", "cy"] for the site and the CLI (request it before `site`)."""
    config = tmp_path / "digest.toml"
    config.write_text('[organisation]\nlanguages = ["en-GB", "cy"]\n', encoding="utf-8")
    env["DIGEST_CONFIG"] = str(config)
    return config


def test_a_welsh_members_email_and_pages(browser, welsh, site, run_cli, tmp_path, shots):
    """The Welsh email (its own lang), the preferences and unsubscribe pages in Welsh: looked at, axe-clean."""
    url, settings, db = site
    assert settings.languages == ("en-GB", "cy")
    ok(run_cli("ingest", SAMPLES))
    ok(run_cli("subscribers", "add", "sian@example.org", "--name", "Siân Jones", "--topics", "data-protection"))
    ok(run_cli("subscribers", "set", "sian@example.org", "--language", "cy"))
    ok(run_cli("edition", "build", "--week", "2017-W25"))
    assert "queued 1 " in ok(run_cli("queue", "2017-W25")).output
    assert "sent 1," in ok(run_cli("send", "--transport", "file")).output
    [msg] = [read_eml(p) for p in (tmp_path / "outbox").glob("*.eml")]
    assert "wythnos yn dechrau 19 Mehefin 2017" in str(msg["Subject"])
    links = links_in(msg)
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.set_content(msg.get_body(("html",)).get_content())
    assert page.evaluate("document.documentElement.lang") == "cy"
    look(page, shots, "email-cy", axe=False)  # the email's own markup, checked by the render tests
    page.goto(links["preferences"])
    assert page.evaluate("document.documentElement.lang") == "cy"
    assert page.get_by_role("heading", level=1).inner_text() == "Eich dewisiadau e-bost"
    assert page.get_by_role("radio", name="Cymraeg").is_checked()
    look(page, shots, "preferences-cy")
    page.goto(links["unsubscribe"])
    look(page, shots, "unsubscribe-cy")
    page.get_by_role("button", name="Ie, dad-danysgrifio").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Rydych wedi dad-danysgrifio"
    look(page, shots, "unsubscribed-cy")

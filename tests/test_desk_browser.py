"""An editor's whole week on the desk, in real headless Chromium, on the demo data.

Sign in through the emailed link, see the week's candidates, edit a summary,
pin one article and exclude another, preview a variant at both widths, send a
test to the SMTP test server, build, queue, run the mailing with `digest send`,
and find the edited summary and the pinned order in a sent .eml. Every desk
page is screenshotted at 375 and 1280 px (DIGEST_SCREENSHOTS to keep them),
checked for sideways scrolling, and run through axe-core.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from digest.editorial.screenshot import CHROMIUM
from test_web_browser import AXE, browser, ok, read_eml, serving, shots  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
    # Every desk page is checked with axe-core: without it these tests would check less than they say.
    pytest.mark.skipif(not AXE.exists(), reason=f"{AXE} is missing: run `cd tests/js && npm install`"),
]

ROOT = Path(__file__).resolve().parent.parent
WIDTHS = (375, 1280)
EDITED = "An editor's summary: schools and libraries can meet Cyber Essentials in a term. Here is how."
PINNED = "Preparing for GDPR: a twelve-month checklist for councils"
EXCLUDED = "Socitm’s David Hopkins becomes Milton Keynes mayor"
WANNACRY = "WannaCry one month on: lessons for local public services"
ESSENTIALS = "Cyber essentials for schools and libraries: a practical guide"
SUBJECT = "GDPR first: the week of 19 June"
NOTE = "Welcome to the week's news, chosen by hand.\n\nThe GDPR checklist comes first this time."


def look(page, shots: Path, name: str) -> None:
    """Screenshots at 375 and 1280 px; no sideways scrolling; axe-core finds no violation."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"{name} scrolls sideways at {width}px ({scroll} > {inner})"
        # The sandboxed frames each get a shot of their own too; taking it also makes Chromium paint
        # them before the full-page shot (which otherwise may catch them blank).
        for i in range(page.locator(".frames figure").count()):
            page.locator(".frames figure").nth(i).screenshot(path=str(shots / f"desk-{name}-{width}-frame{i}.png"))
        page.screenshot(path=str(shots / f"desk-{name}-{width}.png"), full_page=True)
        page.evaluate(AXE.read_text())  # from outside: the page's CSP allows only its own script
        result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        problems = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
        assert not problems, f"{name} at {width}px: {problems}"
    page.set_viewport_size({"width": 1280, "height": 900})


# What Tab must reach (a radio group is one stop: its checked radio).
FOCUSABLE = "a[href], button, input:not([type=hidden]):not([type=radio]), input[type=radio]:checked, textarea, " \
            "select, summary, [tabindex='0']"


def keyboard_reaches_everything(page) -> int:
    """Tab through the page: every visible control gets focus, each with a visible outline. Returns the count."""
    total = page.evaluate(f"""[...document.querySelectorAll("{FOCUSABLE}")]
                              .filter(e => e.checkVisibility()).length""")
    page.locator("body").focus()
    for _ in range(total * 2 + 200):  # date fields and frames add stops; stop when focus comes round again
        page.keyboard.press("Tab")
        seen, tag, style, width = page.evaluate("""(() => { const a = document.activeElement, s = getComputedStyle(a);
            const seen = a.dataset.tabbed === '1'; a.dataset.tabbed = '1';
            return [seen, a.tagName, s.outlineStyle, parseFloat(s.outlineWidth)]; })()""")
        if seen and tag == "A" and total:  # the skip link again: round the whole page
            break
        if tag not in ("BODY", "IFRAME"):  # in a frame, focus is on the email's own links
            assert style != "none" and width >= 2, (tag, style, width)
    missed = page.evaluate(f"""[...document.querySelectorAll("{FOCUSABLE}")]
        .filter(e => e.checkVisibility() && !e.dataset.tabbed).map(e => e.outerHTML.slice(0, 80))""")
    assert missed == []
    return total


def quick(page, button, message: str) -> None:
    """An action desk.js saves without leaving the page: no page load, the new <main> in place, and focus
    back in the same article (or on the message, for the edition's words)."""
    started = "performance.getEntriesByType('navigation')[0].startTime"
    before = page.evaluate(started)
    article = button.evaluate("b => (b.closest('li.article') || {}).id || null")
    button.click()
    page.get_by_role("status").get_by_text(message).wait_for()
    assert page.evaluate(started) == before
    where = page.evaluate("(document.activeElement.closest('li.article') || document.activeElement).id || "
                          "document.activeElement.className")
    assert where == (article or "notes"), where


def flat(text: str) -> str:
    """Text with line wrapping undone (the text part wraps at 72 characters)."""
    return " ".join(text.split())


def card(page, title: str):
    return page.locator("li.article", has=page.get_by_role("heading", level=3, name=title))


@pytest.fixture
def desk_site(env, run_cli, monkeypatch, smtp_sink):
    """(base URL, settings, db): the app served live, mail going to the SMTP test server."""
    from digest.config import load_settings
    from digest.db import Database
    from digest.sending.transports import make_transport
    from digest.web import create_app

    with serving() as (url, holder):
        extra = {"DIGEST_BASE_URL": url, "DIGEST_SMTP_URL": smtp_sink.url}
        for k, v in extra.items():
            monkeypatch.setenv(k, v)
        settings = load_settings(None, environ={**env, **extra})
        db = Database(settings.database_url)
        holder["app"] = create_app(settings, db, transport_factory=lambda: make_transport("smtp", settings))
        yield url, settings, db
        db.dispose()


def test_the_editors_week(browser, desk_site, run_cli, smtp_sink, tmp_path, shots):  # noqa: F811
    url, settings, db = desk_site
    ok(run_cli("ingest", ROOT / "samples" / "news.xml"))
    ok(run_cli("subscribers", "import", ROOT / "samples" / "members.csv"))
    assert "emailed a set-password link" in ok(run_cli("editors", "add", "eda@example.org", "--name", "Eda Editor")).output
    [invite] = smtp_sink.wait_for(1)
    link = re.search(r"https?://\S+/desk/link/\S+", invite.message.get_content()).group(0)
    smtp_sink.clear()

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(url + "/desk/")
    assert urlsplit(page.url).path == "/desk/sign-in"
    look(page, shots, "sign-in")

    # The emailed link: choose a password, and be signed in.
    page.goto(link)
    assert page.get_by_role("heading", level=1).inner_text() == "Set your password"
    look(page, shots, "set-password")
    page.get_by_label("New password").fill("short")
    page.get_by_label("The same password again").fill("short")
    page.get_by_role("button", name="Set password and sign in").click()
    # the browser's own check (minlength) keeps the form from going
    assert page.get_by_role("heading", level=1).inner_text() == "Set your password"
    page.get_by_label("New password").fill("the week in a browser")
    page.get_by_label("The same password again").fill("the week in a browser")
    with page.expect_navigation():
        page.get_by_role("button", name="Set password and sign in").click()
    assert "Your password is set. You are signed in." in page.get_by_role("status").inner_text()
    cookie = [c for c in context.cookies() if c["name"] == "digest_desk"][0]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/desk"

    # Sign out, and in again with the password, keyboard only.
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("Sign out")).click()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "email"
    page.keyboard.type("eda@example.org")
    page.keyboard.press("Tab")
    page.keyboard.type("the week in a browser")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert urlsplit(page.url).path == "/desk/", page.locator("main").inner_text()

    # The week: pick it with the week picker.
    page.get_by_label("Week", exact=True).fill("2017-W25")
    with page.expect_navigation():
        page.get_by_role("button", name="Show week").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Week 2017-W25: 19–25 June 2017"
    assert page.locator("li.article").count() == 12
    assert page.get_by_text(re.compile(r"^In the edition, place \d+$")).count() == 10
    wannacry = card(page, WANNACRY)
    assert "cyber-security: " not in wannacry.inner_text()  # reasons are in words, behind "Why these topics"
    wannacry.get_by_text("Why these topics").click()
    assert "Cyber security: category 'Cyber security' is the slug of cyber-security" in wannacry.inner_text()
    look(page, shots, "week")

    # Edit a summary (inline, a plain form), pin one article, exclude another.
    essentials = card(page, ESSENTIALS)
    essentials.get_by_text("Edit summary").click()
    essentials.get_by_label(f"Summary of “{ESSENTIALS}”").fill(EDITED)
    quick(page, essentials.get_by_role("button", name="Save summary"), f"Saved the summary of “{ESSENTIALS}”.")
    assert EDITED in card(page, ESSENTIALS).inner_text()
    assert f"{len(EDITED.split())} of 50 words" in card(page, ESSENTIALS).inner_text()
    quick(page, card(page, PINNED).get_by_role("button", name=f"Pin {PINNED}"), f"Pinned “{PINNED}”")
    quick(page, card(page, EXCLUDED).get_by_role("button", name=f"Exclude {EXCLUDED}"), f"Excluded “{EXCLUDED}”")
    assert "In the edition, place 1" in card(page, PINNED).inner_text()
    assert "Excluded" in card(page, EXCLUDED).inner_text()
    look(page, shots, "week-edited")
    assert keyboard_reaches_everything(page) > 60  # 12 articles with their controls, the pickers, the forms

    # The edition's words: subject and an editor's note (the preheader stays made from the titles).
    page.get_by_label("Subject").fill(SUBJECT)
    page.get_by_label("Editor's note").fill(NOTE)
    quick(page, page.get_by_role("button", name="Save the edition's words"), "Saved the words of 2017-W25.")
    assert page.get_by_label("Subject").input_value() == SUBJECT

    # Preview Siân's variant (data protection + cyber security) at both widths.
    with page.expect_navigation():
        page.get_by_role("link", name="Preview this edition").click()
    page.get_by_label("Data protection").check()
    page.get_by_label("Cyber security").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Show this variant").click()
    frames = page.locator("iframe")
    assert frames.count() == 2
    widths = [frames.nth(i).bounding_box()["width"] for i in range(2)]
    assert widths == [375, 600]
    for i in range(2):
        assert frames.nth(i).get_attribute("sandbox") == ""
    for i in range(2):  # each frame shows the email, the pinned article first
        email = page.frame_locator("iframe").nth(i)
        email.get_by_role("heading", name=PINNED).wait_for()
        body = flat(email.locator("body").inner_text())
        assert body.index(PINNED) < body.index(ESSENTIALS) < body.index(WANNACRY) and EDITED in body
    assert "Members who get this variant: 1" in page.locator("main").inner_text()  # Siân
    assert EDITED in flat(page.locator("pre.text-part").inner_text())
    assert "Every check of digest check passes" in page.locator("main").inner_text()
    assert f"Subject: {SUBJECT}" in page.locator("main").inner_text()
    assert "chosen by hand. The GDPR checklist comes first" in flat(page.locator("pre.text-part").inner_text())
    look(page, shots, "preview")
    keyboard_reaches_everything(page)

    with page.expect_navigation():
        page.get_by_role("button", name="Send me a test").press("Enter")  # keyboard only, as elsewhere
    assert "Sent a test of 2017-W25 (data-protection,cyber-security:html) to eda@example.org" in \
        page.get_by_role("status").inner_text()
    [test] = smtp_sink.wait_for(1)
    assert test.rcpt_tos == ("eda@example.org",)
    assert EDITED in flat(test.message.get_body(("plain",)).get_content())

    # A text-only variant shows the text part, no frames.
    page.get_by_label("Plain text").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Show this variant").click()
    assert page.locator("iframe").count() == 0 and EDITED in flat(page.locator("pre.text-part").inner_text())
    look(page, shots, "preview-text")

    # Approve: build, queue; then run the mailing as cron would.
    with page.expect_navigation():
        page.get_by_role("link", name="Week").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Build this edition").click()
    assert "Built 2017-W25: 10 article(s)" in page.get_by_role("status").inner_text()
    with page.expect_navigation():
        page.get_by_role("button", name="Queue it for members").click()
    queued = page.locator("table.progress").inner_text()
    assert re.search(r"Queued\s+7", queued), queued
    look(page, shots, "week-queued")
    assert "sent 7," in ok(run_cli("send", "--transport", "file")).output
    with page.expect_navigation():
        page.get_by_role("button", name="Refresh the counts").click()
    assert re.search(r"Sent\s+7", page.locator("table.progress").first.inner_text())
    after = page.locator("table.progress").nth(1).inner_text()  # the edition's report, once sent
    assert re.search(r"Delivered \(sent, no bounce came back\)\s+7", after), after
    look(page, shots, "week-sent")

    sent = {m["To"].addresses[0].addr_spec: m for m in map(read_eml, (tmp_path / "outbox").glob("*.eml"))}
    sian = sent["sian.jones@example.org"]
    text = flat(sian.get_body(("plain",)).get_content())
    html = flat(sian.get_body(("html",)).get_content()).replace("&#39;", "'").replace("&#x27;", "'")
    assert EDITED in text and EDITED in html
    assert sian["Subject"] == SUBJECT
    for part, heading in ((text, PINNED), (html, f">{PINNED}<")):  # the note comes above the articles
        assert "Welcome to the week's news, chosen by hand." in part
        assert part.index("The GDPR checklist comes first this time.") < part.index(heading)
    # Siân's variant: the pinned article first, though it is the oldest of hers.
    assert text.index(PINNED) < text.index(ESSENTIALS) < text.index(WANNACRY)
    everyone = flat(sent["gareth.llewellyn@example.net"].get_body(("plain",)).get_content())  # all topics, text only
    assert EXCLUDED not in everyone and EDITED in everyone
    assert everyone.index(PINNED) < everyone.index(ESSENTIALS)

    with page.expect_navigation():
        page.get_by_role("link", name="Audit log").click()
    log = page.locator("table.audit").inner_text()
    for action in ("sign-in", "summary", "pin", "exclude", "edition-text", "send-test", "build", "queue",
                   "password-set"):
        assert re.search(rf"eda@example.org\s+{action}\b", log), action
    look(page, shots, "audit")

    page.goto(url + "/desk/link/not-a-link")
    look(page, shots, "bad-link")

    # Another browser signs in with an emailed one-time link instead of the password.
    smtp_sink.clear()
    other = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    other.goto(url + "/desk/sign-in")
    other.get_by_label("Email address").nth(1).fill("eda@example.org")
    with other.expect_navigation():
        other.get_by_role("button", name="Email me a sign-in link").click()
    assert other.get_by_role("heading", level=1).inner_text() == "Check your inbox"
    look(other, shots, "check-inbox")
    [mail] = smtp_sink.wait_for(1)
    signin = re.search(r"https?://\S+/desk/link/\S+", mail.message.get_content()).group(0)
    other.goto(signin)
    look(other, shots, "sign-in-link")
    with other.expect_navigation():
        other.get_by_role("button", name="Sign in").click()
    assert urlsplit(other.url).path == "/desk/"
    other.goto(signin)  # once only
    assert other.get_by_role("heading", level=1).inner_text() == "This link does not work"


def test_every_action_works_without_javascript(browser, desk_site, run_cli):  # noqa: F811
    """desk.js only makes the actions quicker: with JavaScript off, each is a plain form and a page load."""
    from datetime import datetime, timezone

    from digest.db import articles as article_db
    from digest.db import editors as editor_db
    from digest.editorial.editors import hash_password
    from digest.editorial.text import edition_text

    url, settings, db = desk_site
    ok(run_cli("ingest", ROOT / "samples" / "news.xml"))
    with db.begin() as conn:
        e = editor_db.add(conn, "eda@example.org", None, now=datetime.now(timezone.utc))
        editor_db.set_password(conn, e.id, hash_password("the week in a browser"))
    page = browser.new_context(viewport={"width": 375, "height": 900}, java_script_enabled=False).new_page()
    page.goto(url + "/desk/?period=2017-W25")
    page.get_by_label("Email address").first.fill("eda@example.org")
    page.get_by_label("Password").fill("the week in a browser")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in", exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Week 2017-W25")

    def plain(button, message):
        with page.expect_navigation():
            button.click()
        assert message in page.get_by_role("status").inner_text()

    plain(card(page, PINNED).get_by_role("button", name=f"Pin {PINNED}"), "Pinned")
    essentials = card(page, ESSENTIALS)
    essentials.get_by_text("Edit summary").click()  # <details> opens without JavaScript
    essentials.get_by_label(f"Summary of “{ESSENTIALS}”").fill(EDITED)
    plain(essentials.get_by_role("button", name="Save summary"), "Saved the summary")
    plain(card(page, WANNACRY).get_by_role("button", name=re.compile(r"^Move up\W+" + re.escape(WANNACRY))),
          "Moved")
    wannacry = card(page, WANNACRY)
    wannacry.get_by_text("Set topics").click()
    wannacry.get_by_label("Data protection").check()
    plain(wannacry.get_by_role("button", name="Save topics"), "Set the topics")
    page.get_by_label("Editor's note").fill(NOTE)
    plain(page.get_by_role("button", name="Save the edition's words"), "Saved the words of 2017-W25.")
    with db.connect() as conn:
        by_id = {a.title: a for a in article_db.list_articles(conn)}
    assert by_id[PINNED].pinned and by_id[ESSENTIALS].summary_override == EDITED
    assert by_id[WANNACRY].rank is not None and by_id[WANNACRY].topics == ["data-protection", "cyber-security"]
    assert edition_text(db, "2017-W25").note == NOTE

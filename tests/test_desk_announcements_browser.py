"""An announcement on the desk, in real headless Chromium: compose (keyboard only), count, preview, test, approve,
schedule, withdraw, queue, and `digest send` to a real SMTP server on 127.0.0.1.

Each page is screenshotted at 375 and 1280 px, light and dark (DIGEST_SCREENSHOTS to keep them), checked for
sideways scrolling and run through axe-core (no violation but `region`, which the desk's layout passes anyway).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from desk_fixtures import PASSWORD
from digest.editorial.screenshot import CHROMIUM
from test_desk_browser import desk_site, keyboard_reaches_everything, look  # noqa: F401  (fixtures)
from test_web_browser import AXE, browser, ok, shots  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
    pytest.mark.skipif(not AXE.exists(), reason=f"{AXE} is missing: run `cd tests/js && npm install`"),
]

ROOT = Path(__file__).resolve().parent.parent
EDITOR = "eda@example.org"
SUBJECT = "Notice of the annual general meeting"
BODY = ("## Wednesday 3 March, 18:00\n\nThe meeting is at the Guildhall and online.\n\n- The accounts\n"
        "- Electing the council\n\nRead [the papers](https://example.org/agm) before you come.")
WALES = ("ann@example.org", "bryn@example.org", "cai@example.org")
OTHERS = ("dee@example.org",)
NEVER = (("gone@example.org", "unsubscribed"), ("bounce@example.org", "bounced"), ("lapsed@example.org", "lapsed"))


def seed(db, run_cli):
    """Articles to pick from, an editor with a password, members in and out of the audience."""
    from digest.db import editors as editor_db
    from digest.db import members as member_db
    from digest.editorial.editors import hash_password

    ok(run_cli("ingest", ROOT / "samples" / "news.xml"))
    now = datetime.now(timezone.utc)
    with db.begin() as conn:
        e = editor_db.add(conn, EDITOR, "Eda Editor", now=now)
        editor_db.set_password(conn, e.id, hash_password(PASSWORD))
        for address in WALES:
            member_db.create(conn, address, None, (), "weekly", "html", status="active", source="test", now=now,
                             attributes={"region": "Wales"})
        for address in OTHERS:
            member_db.create(conn, address, None, (), "weekly", "html", status="active", source="test", now=now,
                             attributes={"region": "Kent"})
        for address, status in NEVER:
            member_db.create(conn, address, None, (), "weekly", "html", status=status, source="test", now=now,
                             attributes={"region": "Wales"})


def tab_to(page, selector: str, most: int = 120) -> None:
    """Press Tab until the element matching `selector` has focus (keyboard only: no click, no focus())."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"Tab never reached {selector}")


def sign_in(page, url: str) -> None:
    page.goto(url + "/desk/sign-in")
    tab_to(page, "#email")
    page.keyboard.type(EDITOR)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert urlsplit(page.url).path == "/desk/"


def look_dark(page, shots: Path, name: str) -> None:
    """test_desk_browser's `look` (no sideways scrolling, screenshots, axe-core), light and then dark."""
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        look(page, shots, name + ("-dark" if scheme == "dark" else ""))
    page.emulate_media(color_scheme="light")
    shoot_frames(page, shots, name)


def shoot_frames(page, shots: Path, name: str) -> None:
    """Each preview frame's email opened on its own at the frame's width (headless Chromium paints sandboxed
    frames in a page's screenshot unreliably): what the editor sees in each frame, to look at."""
    frames = page.locator(".ann-frames iframe").evaluate_all("fs => fs.map(f => [f.src, f.width])")
    for src, width in frames:
        alone = page.context.new_page()
        alone.set_viewport_size({"width": int(width), "height": 900})
        alone.goto(src)
        scheme = "dark" if "scheme=dark" in src else "light"
        alone.screenshot(path=str(shots / f"desk-{name}-frame-{width}-{scheme}.png"), full_page=True)
        alone.close()


def compose_by_keyboard(page) -> None:
    tab_to(page, "#subject")
    page.keyboard.type(SUBJECT)
    tab_to(page, "#body")
    page.keyboard.type(BODY)
    tab_to(page, "#cta_label")
    page.keyboard.type("Book your place")
    page.keyboard.press("Tab")
    page.keyboard.type("https://example.org/agm/book")
    tab_to(page, "#articles summary")
    page.keyboard.press("Enter")  # open the article picker
    tab_to(page, "#articles input[type=checkbox]")
    page.keyboard.press("Space")  # the newest stored article
    tab_to(page, "input[name=kind]:checked")
    page.keyboard.press("ArrowDown")  # statutory
    tab_to(page, "input[name=audience]:checked")
    page.keyboard.press("ArrowDown")  # topics
    page.keyboard.press("ArrowDown")  # attributes
    tab_to(page, "#attributes")
    page.keyboard.type("region=Wales")


def test_an_announcement_from_compose_to_the_members(browser, desk_site, run_cli, smtp_sink, shots):  # noqa: F811
    url, settings, db = desk_site
    seed(db, run_cli)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, url)

    # From the nav to the compose form.
    tab_to(page, "a[href='/desk/announcements']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    look_dark(page, shots, "announcements-empty")
    tab_to(page, "a[href='/desk/announcements/new']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", level=1).inner_text() == "New announcement"
    assert keyboard_reaches_everything(page) > 20

    # Saving an empty form: one message per field, listed above the form.
    with page.expect_navigation():
        page.get_by_role("button", name="Save the draft").click()
    assert page.get_by_role("alert").get_by_role("link").all_inner_texts() == [
        "Write a subject: it is the first thing members see.", "Write the message itself."]
    look_dark(page, shots, "announcement-errors")

    compose_by_keyboard(page)
    tab_to(page, "button[name=count]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("status").get_by_text("It would go to 3 members now.").count() == 1
    assert page.locator("#attributes").input_value() == "region=Wales"  # the form is kept as typed
    tab_to(page, "button.button[type=submit]:not([name])")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert re.search(r"/desk/announcements/\d+$", urlsplit(page.url).path), page.url
    assert "Saved as a draft." in page.get_by_role("status").first.inner_text()
    look_dark(page, shots, "announcement-compose")

    # Preview: every variant, phone and desktop, light and dark.
    page.get_by_role("link", name="Preview every variant").click()
    page.wait_for_load_state()
    assert page.locator(".ann-frames iframe").count() == 4
    look_dark(page, shots, "announcement-preview")
    frames = {f.url.rsplit("scheme=", 1)[-1]: f for f in page.frames if "/frame?" in f.url}
    light, dark = (frames[s].evaluate("getComputedStyle(document.body).backgroundColor") for s in ("light", "dark"))
    assert light != dark
    assert SUBJECT in frames["light"].content() or "annual general meeting" in frames["light"].content()

    # A test of this variant, to the signed-in editor only.
    smtp_sink.clear()
    tab_to(page, "form[action$='/test'] button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    [test] = smtp_sink.wait_for(1)
    assert test.rcpt_tos == (EDITOR,) and SUBJECT in test.message["Subject"]

    # Approve, then queue now (keyboard).
    tab_to(page, "form[action$='/approve'] button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Approved." in page.get_by_role("status").first.inner_text()
    assert "3 members, counted now." in page.locator("form[action$='/queue']").inner_text()
    look_dark(page, shots, "announcement-approved")
    tab_to(page, "form[action$='/queue'] button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Queued for 3 members." in page.get_by_role("status").first.inner_text()
    look_dark(page, shots, "announcement-queued")

    page.goto(url + "/desk/announcements")
    assert SUBJECT in page.locator("table").inner_text() and "Queued on" in page.locator("table").inner_text()
    look_dark(page, shots, "announcements")

    # The count shown is who gets it.
    smtp_sink.clear()
    ok(run_cli("send", "--transport", "smtp"))
    got = sorted(r for m in smtp_sink.wait_for(3) for r in m.rcpt_tos)
    assert got == sorted(WALES)
    context.close()


def compose_and_approve(page, url: str) -> None:
    """Sign in, save an announcement to the Welsh members and approve it (the plain way: clicks)."""
    sign_in(page, url)
    page.goto(url + "/desk/announcements/new")
    page.get_by_label("Subject").fill(SUBJECT)
    page.get_by_label("Message").fill(BODY)
    page.get_by_label("Members matching attributes").check()
    page.get_by_label("Attributes, one a line").fill("region=Wales")
    with page.expect_navigation():
        page.get_by_role("button", name="Save the draft").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Approve it").click()


def test_an_approved_announcement_gets_a_send_time_and_loses_it(browser, desk_site, run_cli, shots):  # noqa: F811
    url, settings, db = desk_site
    seed(db, run_cli)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    compose_and_approve(page, url)
    day = (datetime.now(timezone.utc) + timedelta(days=2)).strftime("%Y-%m-%d")
    page.locator("#day").fill(day)  # ISO, whatever order the browser's locale shows a date field's parts in
    page.locator("#time").fill("07:00")
    tab_to(page, "form[action$='/schedule'] button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert f"it goes out at {day} 07:00" in page.get_by_role("status").first.inner_text()
    look_dark(page, shots, "announcement-scheduled")
    tab_to(page, "form[action$='/withdraw'] button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "withdrawn" in page.get_by_role("status").first.inner_text()
    context.close()

"""/desk/members in real headless Chromium, keyboard only: find a member, open their page, change their
frequency with a reason, see it in their history; every page through axe-core at 375 and 1280 px."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from digest.db import editors as editor_db
from digest.db import members as member_db
from digest.editorial.editors import hash_password
from digest.editorial.screenshot import CHROMIUM
from test_desk_browser import desk_site, keyboard_reaches_everything, look  # noqa: F401  (fixtures)
from test_web_browser import AXE, browser, ok, serving, shots  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
    pytest.mark.skipif(not AXE.exists(), reason=f"{AXE} is missing: run `cd tests/js && npm install`"),
]

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "members in a browser"


def test_the_membership_team_finds_and_changes_a_member_by_keyboard(browser, desk_site, run_cli, shots):  # noqa: F811
    url, settings, db = desk_site
    ok(run_cli("members", "import", ROOT / "samples" / "members.csv"))
    ok(run_cli("--config", ROOT / "samples" / "digest.toml", "members", "sync", ROOT / "samples" / "crm-export.csv"))
    from datetime import datetime, timezone

    with db.begin() as conn:
        e = editor_db.add(conn, "mia@example.org", "Mia Members", now=datetime.now(timezone.utc))
        editor_db.set_password(conn, e.id, hash_password(PASSWORD))

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(url + "/desk/sign-in")
    page.locator("#email").fill("mia@example.org")
    page.locator("#password").fill(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")

    page.goto(url + "/desk/members")
    look(page, shots, "members")
    keyboard_reaches_everything(page)
    # Search, keyboard only: the field, type, Enter.
    page.get_by_label("Address or name").focus()
    page.keyboard.type("evans")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    rows = page.locator("table.members tbody tr")
    assert rows.count() == 1 and "tomos.evans@example.org" in rows.inner_text()
    page.get_by_role("link", name="tomos.evans@example.org").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert urlsplit(page.url).path.startswith("/desk/members/")
    assert page.get_by_role("heading", level=1).inner_text() == "Tomos Evans"
    assert "Wales" in page.locator("dl.member-facts").inner_text()
    look(page, shots, "member")
    keyboard_reaches_everything(page)

    page.get_by_label("How often").select_option("monthly")
    page.get_by_label("Reason (goes into their history)").fill("asked at the branch meeting")
    with page.expect_navigation():
        page.get_by_label("Reason (goes into their history)").press("Enter")
    assert "Saved: frequency." in page.get_by_role("status").inner_text()
    history = page.get_by_role("region", name="Member history").inner_text()
    assert "desk" in history and "asked at the branch meeting" in history and "mia@example.org" in history
    with db.connect() as conn:
        assert member_db.get_by_email(conn, "tomos.evans@example.org").frequency == "monthly"
    context.close()


def test_email_me_my_preferences_link_by_keyboard(browser, desk_site, run_cli, smtp_sink, shots):  # noqa: F811
    url, settings, db = desk_site
    ok(run_cli("members", "add", "ana@example.org", "--name", "Ana"))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(url + "/subscribe")
    page.get_by_role("link", name="email me my preferences link").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", level=1).inner_text() == "Email me my preferences link"
    look(page, shots, "preferences-link")
    page.get_by_label("Email address").fill("not an address")
    page.evaluate("document.querySelector('form').noValidate = true")  # the server's own check
    with page.expect_navigation():
        page.get_by_label("Email address").press("Enter")
    assert "Enter an email address like name@example.org." in page.get_by_role("alert").inner_text()
    look(page, shots, "preferences-link-error")
    page.get_by_label("Email address").fill("ana@example.org")
    with page.expect_navigation():
        page.get_by_label("Email address").press("Enter")
    assert "If ana@example.org gets our digest" in page.locator("main").inner_text()
    look(page, shots, "preferences-link-sent")
    [mail] = smtp_sink.wait_for(1)
    assert mail.rcpt_tos == ("ana@example.org",) and "/preferences/" in mail.message.get_body(("plain",)).get_content()
    context.close()

"""The desk's send-time control in real headless Chromium: keyboard only, axe-core, phone and desktop."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.db import editors as editor_db
from digest.editorial.editors import hash_password
from digest.editorial.schedule import send_time_of
from digest.editorial.screenshot import CHROMIUM
from desk_fixtures import NOW
from test_desk_browser import desk_site, keyboard_reaches_everything, look  # noqa: F401  (fixtures)
from test_web_browser import AXE, browser, ok, shots  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
    pytest.mark.skipif(not AXE.exists(), reason=f"{AXE} is missing: run `cd tests/js && npm install`"),
]

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a send time by keyboard"


def tab_to(page, element_id: str, most: int = 12) -> None:
    """Press Tab until the element has focus (from where the page's fragment left the focus)."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab did not reach #{element_id}; focus is on {page.evaluate('document.activeElement.outerHTML')[:80]}")


def test_the_editor_schedules_and_withdraws_by_keyboard(browser, desk_site, run_cli, shots):  # noqa: F811
    url, settings, db = desk_site
    ok(run_cli("ingest", ROOT / "samples" / "news.xml"))
    ok(run_cli("subscribers", "import", ROOT / "samples" / "members.csv"))
    ok(run_cli("edition", "build", "--week", "2017-W25"))
    with db.begin() as conn:
        editor = editor_db.add(conn, "eda@example.org", "Eda Editor", now=NOW)
        editor_db.set_password(conn, editor.id, hash_password(PASSWORD))
    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB").new_page()
    page.goto(url + "/desk/sign-in")
    page.locator("#email").fill("eda@example.org")
    page.locator("#password").fill(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")

    page.goto(url + "/desk/?period=2017-W25#schedule")
    assert page.get_by_role("heading", name="Send time").is_visible()
    look(page, shots, "schedule-none")
    tab_to(page, "send-date")
    # Chromium's date and time fields take keys in the browser's own order (en-US here, whatever the page's
    # locale): month, day, year; hours, minutes, AM/PM. The value sent is ISO either way.
    page.keyboard.type("06292099")
    tab_to(page, "send-time-of-day", 4)
    page.keyboard.type("0700A")
    tab_to(page, "send-zone", 4)
    assert page.evaluate("document.activeElement.value") == "Europe/London"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Schedule it"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "will be queued and sent at 29 June 2099, 07:00 Europe/London" in page.get_by_role("status").inner_text()
    assert str(send_time_of(db, "2017-W25")) == "2099-06-29 07:00 Europe/London"
    assert page.get_by_label("Date").input_value() == "2099-06-29"
    assert page.get_by_role("button", name="Queue it for members").count() == 0
    look(page, shots, "schedule-set")
    keyboard_reaches_everything(page)

    page.goto(url + "/desk/?period=2017-W25#schedule")
    tab_to(page, "send-date")
    tab_to(page, "send-time-of-day", 4)
    page.keyboard.type("0930A")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # Enter in a field sends its form, as the button does
    assert str(send_time_of(db, "2017-W25")) == "2099-06-29 09:30 Europe/London"
    for _ in range(15):  # the date and time fields take a Tab per part
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Withdraw the send time":
            break
    else:
        raise AssertionError("Tab did not reach the withdraw button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Withdrew the send time of 2017-W25" in page.get_by_role("status").inner_text()
    assert send_time_of(db, "2017-W25") is None
    with db.connect() as conn:
        actions = [r["action"] for r in editor_db.list_audit(conn) if r["action"].startswith("schedule")]
    assert actions == ["schedule-withdraw", "schedule-change", "schedule"]

"""The Welsh email with a translated article and English-only ones, in real headless Chromium: 375 px,
light and dark, axe-core finds nothing but `region`, and the "Saesneg yn unig" label shows.

DIGEST_SHOTS=DIR keeps the screenshots there (to look at them); else they go to the test's folder.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from digest.edition.render import fill_slots, render_variant
from digest.editorial.preview import generic_slots
from digest.editorial.screenshot import CHROMIUM, LAUNCH_ARGS
from test_accessibility import AXE, serious
from test_desk_browser import desk_site, look  # noqa: F401  (the fixture)
from test_translations import config, cy_settings, welsh_week  # noqa: F401  (the fixtures)
from test_web_browser import browser, shots  # noqa: F401  (the fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
    pytest.mark.skipif(not AXE.exists(), reason=f"{AXE} is missing: run `cd tests/js && npm install`"),
]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_welsh_email_with_english_only_articles_at_375(cy_settings, tmp_path, scheme):  # noqa: F811
    from playwright.sync_api import sync_playwright

    html = fill_slots(render_variant(welsh_week(), cy_settings, lang="cy").html, generic_slots(cy_settings), html=True)
    shots = Path(os.environ.get("DIGEST_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    home = tmp_path / "home"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS,
                                    env={**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home),
                                         "XDG_CACHE_HOME": str(home)})
        try:
            page = browser.new_context(viewport={"width": 375, "height": 800}, color_scheme=scheme).new_page()
            page.set_content(html, wait_until="load")
            page.screenshot(path=str(shots / f"2017-W25-cy-translated-375-{scheme}.png"), full_page=True)
            assert page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]") == [375, 375]
            labels = page.locator("span.only-in")
            assert labels.count() == 4 and labels.first.is_visible()
            assert labels.first.inner_text() == "Saesneg yn unig"
            assert page.locator("h2.headline[lang=en]").count() == 4
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("o => axe.run(document, o)", {"resultTypes": ["violations"]})
        finally:
            browser.close()
    found = [(v["id"], v["help"], v["nodes"][0]["html"][:200]) for v in result["violations"]]
    assert serious(found) == []


def test_the_desk_shows_each_languages_words_side_by_side(config, browser, desk_site, run_cli, shots):  # noqa: F811
    from desk_fixtures import PASSWORD, SAMPLES
    from digest.db import editors as editor_db
    from digest.editorial.editors import hash_password

    url, settings, db = desk_site
    assert settings.languages == ("en-GB", "cy")
    run_cli("ingest", SAMPLES)
    with db.begin() as conn:
        e = editor_db.add(conn, "eda@example.org", "Eda Editor", now=datetime(2026, 11, 30, tzinfo=timezone.utc))
        editor_db.set_password(conn, e.id, hash_password(PASSWORD))
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(url + "/desk/sign-in")
    page.locator("#email").fill("eda@example.org")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(url + "/desk/?period=2017-W25")
    page.get_by_label("Subject", exact=True).fill("GDPR in a year")
    page.get_by_label("Subject in Welsh").fill("GDPR mewn blwyddyn")
    page.get_by_role("button", name="Save the edition's words").click()
    page.wait_for_load_state()
    english, welsh = page.locator("#subject").bounding_box(), page.locator("#subject-cy").bounding_box()
    assert welsh["x"] > english["x"] + english["width"] and abs(welsh["y"] - english["y"]) < 80  # side by side
    assert page.locator("#subject-cy").input_value() == "GDPR mewn blwyddyn"
    look(page, shots, "words-cy")  # 375 and 1280 px, no sideways scrolling, axe clean
    page.set_viewport_size({"width": 375, "height": 900})
    english, welsh = page.locator("#subject").bounding_box(), page.locator("#subject-cy").bounding_box()
    assert welsh["y"] > english["y"]  # stacked on a phone

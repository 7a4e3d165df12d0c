"""An announcement's HTML in real headless Chromium: axe-core finds nothing, no sideways scroll,
and screenshots at phone and desktop widths in light and dark (written to DIGEST_SHOTS, default a tmp dir).

`region` is allowed as for the digest: the mail client's page supplies the landmarks around an email.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from digest.edition.announcement import render_announcement
from digest.edition.render import fill_slots
from digest.editorial.preview import generic_slots
from digest.editorial.screenshot import CHROMIUM, LAUNCH_ARGS
from digest.models import Announcement

from test_accessibility import AXE, serious
from test_render import seed_items

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)
BODY = ("## Annual general meeting\n\nThe AGM is on 3 March at our office in Cardiff. Read the papers before you "
        "come: [the agenda](https://example.org/agenda).\n\n- The accounts for 2026\n- Elections to the board\n\n"
        "## Before the meeting\n\n1. Read the papers\n2. Send your proxy form by 1 March")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
    pytest.mark.skipif(not AXE.exists(), reason=f"{AXE} is missing: run `cd tests/js && npm install`"),
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("chromium-home")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS,
                              env={**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home),
                                   "XDG_CACHE_HOME": str(home)})
        yield b
        b.close()


def announcement(kind: str) -> Announcement:
    return Announcement(subject="The AGM is on 3 March", body=BODY, audience="all", kind=kind,
                        cta_label="Read the papers", cta_url="https://example.org/agm")


@pytest.mark.parametrize("kind", ["news", "statutory"])
@pytest.mark.parametrize("width", [375, 600])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_announcement_has_no_violations_and_fits(browser, settings, tmp_path, kind, width, scheme):
    items = seed_items()[:2] if kind == "news" else []
    html = fill_slots(render_announcement(announcement(kind), settings, items=items, now=NOW).html,
                      generic_slots(settings), html=True)
    context = browser.new_context(viewport={"width": width, "height": 800}, color_scheme=scheme)
    try:
        page = context.new_page()
        page.set_content(html, wait_until="load")
        shots = Path(os.environ.get("DIGEST_SHOTS", tmp_path))
        page.screenshot(path=str(shots / f"announcement-{kind}-{width}-{scheme}.png"), full_page=True)
        assert page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]") == [width, width]
        button = page.locator("a.cta-link")
        assert button.count() == 1 and button.inner_text() == "Read the papers"
        box = button.bounding_box()
        assert box["height"] >= 44  # a finger-sized target
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("o => axe.run(document, o)", {"resultTypes": ["violations"]})
    finally:
        context.close()
    violations = [(v["id"], v["help"], v["nodes"][0]["html"][:200]) for v in result["violations"]]
    assert serious(violations) == []


@pytest.mark.parametrize("width", [375, 1024])
def test_the_public_web_version_has_no_violations(browser, settings, width):
    html = render_announcement(announcement("news"), settings, now=NOW, web=True).html
    context = browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        page.set_content(html, wait_until="load")
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("o => axe.run(document, o)", {"resultTypes": ["violations"]})
    finally:
        context.close()
    assert [(v["id"], v["nodes"][0]["html"][:200]) for v in result["violations"]] == []

"""Accessibility of the email in real headless Chromium with axe-core: no violations but `region`.

`region` (all content inside landmarks) is allowed: an email is shown inside
the mail client's own page, which supplies the landmarks around it.
"""

from __future__ import annotations

import email
import email.policy
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from digest.editorial.preview import generic_slots
from digest.edition.render import fill_slots, render_variant
from digest.editorial.screenshot import CHROMIUM, LAUNCH_ARGS

from test_render import seed_items, week25

AXE = Path(__file__).parent / "js" / "node_modules" / "axe-core" / "axe.min.js"
ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2017, 6, 26, 9, 0, tzinfo=timezone.utc)
ALLOWED = {"region"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
    pytest.mark.skipif(not AXE.exists(), reason=f"{AXE} is missing: run `cd tests/js && npm install`"),
]


@pytest.fixture(scope="module")
def axe(tmp_path_factory):
    """axe(html, width) -> the violations axe-core finds in the page, as [(id, help, first node)]."""
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("chromium-home")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS,
                                    env={**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home),
                                         "XDG_CACHE_HOME": str(home)})

        def run(html: str, width: int = 600, scheme: str = "light") -> list[tuple[str, str, str]]:
            context = browser.new_context(viewport={"width": width, "height": 800}, color_scheme=scheme)
            try:
                page = context.new_page()
                page.set_content(html, wait_until="load")
                page.add_script_tag(path=str(AXE))
                result = page.evaluate("o => axe.run(document, o)", {"resultTypes": ["violations"]})
            finally:
                context.close()
            return [(v["id"], v["help"], v["nodes"][0]["html"][:200]) for v in result["violations"]]

        yield run
        browser.close()


def serious(violations):
    return [v for v in violations if v[0] not in ALLOWED]


@pytest.mark.parametrize("width", [375, 600])
def test_the_digest_has_no_violations(axe, settings, width):
    """Five seed articles and one with hostile characters, all topics."""
    html = fill_slots(render_variant(week25(), settings).html, generic_slots(settings), html=True)
    assert serious(axe(html, width)) == []


@pytest.mark.parametrize("case", ["member topics", "one article", "no articles"])
def test_other_shapes_have_no_violations(axe, settings, case):
    edition = week25(seed_items()[:1] if case == "one article" else [] if case == "no articles" else None)
    topics = ("cyber-security",) if case == "member topics" else ()
    items = [i for i in edition.items if "cyber-security" in i.topics] if topics else None
    html = render_variant(edition, settings, items=items, member_topics=topics).html
    assert serious(axe(fill_slots(html, generic_slots(settings), html=True))) == []


def test_every_html_variant_of_the_demo_edition_as_sent(axe, db, settings):
    """The HTML part of each message a member would get (real links, greeting with a name)."""
    from digest.editorial.preview import samples_for_key
    from digest.db import members as member_db
    from digest.ingest.store import ingest_sources

    ingest_sources(db, settings, [str(ROOT / "samples" / "news.xml")], now=NOW)
    with db.begin() as conn:
        for n, topics in enumerate([("data-protection", "cyber-security"), ("smart-places",), ("member-news",)]):
            member_db.add(conn, f"m{n}@example.org", f"Member {n}", topics, "weekly", "html", now=NOW)
    samples = {k: s for k, s in samples_for_key(db, settings, "2017-W25", now=NOW).items() if k.endswith(":html")}
    assert len(samples) == 4
    for name, sample in samples.items():
        msg = email.message_from_bytes(sample.message, policy=email.policy.default)
        html = msg.get_body(("html",)).get_content()
        assert serious(axe(html)) == [], name


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("case", ["pictures, logo, by topic", "web version"])
def test_the_new_shapes_in_both_schemes(axe, settings, scheme, case):
    """Pictures (lead and thumbnails, one with empty alt), a logo, topic groups; the public web version."""
    from dataclasses import replace

    from digest.models import ArticleImage, ImageSource

    pixel = "data:image/gif;base64,R0lGODlhAQABAAAAACw="
    items = [replace(it, image=ArticleImage(alt="" if n % 2 else f"Picture {n}",
                                            sources=(ImageSource(f"https://img.example.org/{n}.png", 1200, 675),)))
             for n, it in enumerate(week25().items)]
    s = replace(settings, images="all", layout="by-topic", logo_url="https://img.example.org/logo.png",
                logo_width=160, logo_height=40)
    web = {"subscribe_url": "https://news.example.org/subscribe", "archive_url": "https://news.example.org/editions/",
           "previous_url": "https://news.example.org/editions/2017-W24", "next_url": ""}
    edition = replace(week25(items), note="Welcome.\n\nRead [the annual report](https://www.example.org/r).")
    html = render_variant(edition, s, web=web if case == "web version" else None).html
    html = fill_slots(html, generic_slots(settings), html=True).replace("https://img.example.org/", pixel + "#")
    assert serious(axe(html, 375, scheme)) == []


def test_axe_reports_what_it_should(axe):
    """The harness sees violations (so the tests above can fail): an image without alt, an empty link."""
    page = ('<!DOCTYPE html><html lang="en"><head><title>t</title></head><body><main><h1>Hi</h1>'
            '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><a href="https://example.org/"></a></main>'
            '</body></html>')
    assert {v[0] for v in axe(page)} >= {"image-alt", "link-name"}

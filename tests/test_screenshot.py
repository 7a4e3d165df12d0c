"""Screenshots of the rendered digest in real headless Chromium: no sideways scrolling."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.edition.render import render_variant
from digest.editorial.screenshot import CHROMIUM, SidewaysScrollError, screenshot_html

from test_render import hostile_item, seed_items, week25

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_digest_fits_a_phone_and_a_desktop(settings, tmp_path):
    from dataclasses import replace

    # A title that is one very long word must wrap, not widen the page.
    long_word = replace(hostile_item(7), title="Supercalifragilistic" * 8, url="https://www.example.org/" + "x" * 200)
    html = render_variant(week25(seed_items() + [hostile_item(), long_word]), settings).html
    shots = screenshot_html(html, tmp_path, widths=(375, 600), name="digest", check=True)
    assert [s.path.name for s in shots] == ["digest-375.png", "digest-600.png"]
    for shot in shots:
        assert shot.scroll_width == shot.inner_width == shot.width
        data = shot.path.read_bytes()
        assert data.startswith(PNG_MAGIC)
        height = int.from_bytes(data[20:24], "big")  # IHDR: a full page, not one screen
        assert height > 1200


def test_sideways_scrolling_is_reported(tmp_path):
    wide = '<!DOCTYPE html><html lang="en"><body><div style="width:900px">wide</div></body></html>'
    shots = screenshot_html(wide, tmp_path, widths=(375,))
    assert shots[0].scrolls_sideways and shots[0].scroll_width >= 900
    with pytest.raises(SidewaysScrollError, match="375px"):
        screenshot_html(wide, tmp_path, widths=(375,), check=True)

"""The email's two palettes: every text/background pair at WCAG AA (4.5:1) in light and dark mode,
computed from the palettes and measured on the page Chromium draws with each colour scheme."""

from __future__ import annotations

import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from digest.edition.render import render_variant
from digest.edition.textformat import contrast, dark_palette, palette, palettes

sys.path.insert(0, str(Path(__file__).parent))
from test_render import week25  # noqa: E402

BRANDS = [("#1d4f91", "#f2f5fa"), ("#ffcc00", "#fff8e1"), ("#7fb3e0", "#222831"), ("#e4002b", "#ffffff"),
          ("#000000", "#eeeeee"), ("#00843d", "#f0f7f2")]


@pytest.mark.parametrize("brand,accent", BRANDS)
@pytest.mark.parametrize("make", [palette, dark_palette], ids=["light", "dark"])
def test_every_pair_reaches_aa(brand, accent, make):
    p = make(brand, accent)
    pairs = p.text_pairs()
    assert len(pairs) == 10
    low = [(name, fg, bg, round(contrast(fg, bg), 2)) for name, fg, bg in pairs if contrast(fg, bg) < 4.5]
    assert low == []


@pytest.mark.parametrize("brand,accent", BRANDS)
def test_label_headline_and_link_are_three_colours(brand, accent):
    for p in (palette(brand, accent), dark_palette(brand, accent)):
        assert len({p.label, p.heading, p.link}) == 3, p


def test_dark_is_dark_and_light_is_light():
    both = palettes("#1d4f91", "#f2f5fa")
    assert contrast(both.dark.surface, "#000000") < 2 and contrast(both.light.surface, "#ffffff") == 1
    assert contrast(both.dark.text, "#ffffff") < 1.5


def test_html_ships_the_dark_palette_and_no_light_only(settings):
    html = render_variant(week25(), settings).html
    assert "light only" not in html
    assert '<meta name="color-scheme" content="light dark">' in html
    d = dark_palette(settings.brand_colour, settings.accent_colour)
    assert "@media (prefers-color-scheme: dark)" in html
    for hook in ("[data-ogsc] .dm-surface p", "[data-ogsb] .dm-surface"):
        assert hook in html
    for colour in (d.page, d.surface, d.text, d.heading, d.link, d.label, d.muted, d.footer_text, d.footer_link):
        assert colour in html


CONTRASTS_JS = """
() => {
  const rgb = s => { const m = s.match(/[\\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const lum = ([r, g, b]) => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bgOf = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
                                                           if (c[3] > 0) return c; } return [255, 255, 255, 1]; };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n; (n = walker.nextNode());) {
    const el = n.parentElement, text = n.textContent.trim();
    if (!text || !el.offsetWidth || !el.offsetHeight) continue;
    const fg = rgb(getComputedStyle(el).color), bg = bgOf(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    out.push([(a + 0.05) / (b + 0.05), text.slice(0, 40)]);
  }
  return out;
}
"""


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium")
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("brand,accent", [("#1d4f91", "#f2f5fa"), ("#ffcc00", "#fff8e1")])
def test_what_chromium_draws_reaches_aa(settings, scheme, brand, accent, tmp_path):
    """Every visible piece of text against the background drawn behind it, with the scheme emulated."""
    from playwright.sync_api import sync_playwright

    from digest.editorial.screenshot import CHROMIUM, LAUNCH_ARGS

    edition = replace(week25(), note="A word from the editor.\n\nRead [the annual report](https://www.example.org/r).")
    html = render_variant(edition, replace(settings, brand_colour=brand, accent_colour=accent)).html
    assert "the annual report" in html
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS,
                                    env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
        try:
            page = browser.new_context(viewport={"width": 375, "height": 800}, color_scheme=scheme).new_page()
            page.set_content(html)
            found = page.evaluate(CONTRASTS_JS)
            body_bg = page.evaluate("getComputedStyle(document.querySelector('.dm-surface')).backgroundColor")
        finally:
            browser.close()
    assert len(found) > 30
    low = [(round(c, 2), t) for c, t in found if c < 4.5]
    assert low == []
    dark = dark_palette(brand, accent).surface
    expected = tuple(int(dark[i:i + 2], 16) for i in (1, 3, 5)) if scheme == "dark" else (255, 255, 255)
    assert body_bg == "rgb({}, {}, {})".format(*expected)

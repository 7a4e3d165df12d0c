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


LINK_LINES_JS = """() => [...document.querySelectorAll('.linkrow a')].map(a => [a.textContent, a.getClientRects().length])"""


def test_every_view_fits_a_phone_and_the_footer_links_never_break(settings, tmp_path):
    """Light, dark, images blocked, and every <style> removed (Gmail's apps with other accounts):
    no sideways scrolling at 375 px, and each footer link on one line."""
    from dataclasses import replace

    from playwright.sync_api import sync_playwright

    from digest.models import ArticleImage, ImageSource
    from digest.editorial.screenshot import LAUNCH_ARGS, VIEWS, screenshot_views, without_style

    wide = ArticleImage(alt="A wide picture", sources=(ImageSource("https://img.example.org/wide.png", 1600, 400),))
    items = [replace(it, image=wide) for it in seed_items()]
    s = replace(settings, images="all")
    html = render_variant(week25(items), s, member_topics=("data-protection", "cyber-security")).html
    views = screenshot_views(html, tmp_path, widths=(375,), name="w")
    assert (tmp_path / "w-nostyle.html").exists()
    assert [(suffix, shot.path.name) for suffix, shot in views] == [
        (v[0], f"w-375{v[0]}.png") for v in VIEWS]
    assert [suffix for suffix, shot in views if shot.scrolls_sideways] == []
    stripped = without_style(html)
    assert "<style" not in stripped and "<style" in html
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS,
                                    env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
        try:
            for page_html in (html, stripped):
                page = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
                page.set_content(page_html)
                rows = page.evaluate(LINK_LINES_JS)
                assert [text for text, _ in rows] == ["Manage your preferences", "Unsubscribe"]
                assert all(lines == 1 for _, lines in rows), rows
                lead = page.evaluate("(() => { const r = document.querySelector('img.lead-img').getBoundingClientRect();"
                                     " return [r.left, r.right]; })()")
                assert 0 <= lead[0] and lead[1] <= 375  # across the column, never past the screen
        finally:
            browser.close()


def test_preview_screenshot_writes_every_view_and_warns_on_sideways_scroll(run_cli, seed_path, tmp_path, monkeypatch):
    """`digest preview --screenshot`: ten PNGs (two widths x light, dark, images off both ways, no <style>);
    a template that makes the email too wide gets a warning for each view, the style-less one named."""
    assert run_cli("ingest", seed_path, "--published", "2017-06-21").exit_code == 0
    shots = tmp_path / "shots"
    result = run_cli("preview", "--week", "2017-W25", "--screenshot", shots)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in shots.iterdir())
    assert names == sorted([f"2017-W25-{w}{v}.png" for w in (375, 600)
                            for v in ("", "-dark", "-noimages", "-dark-noimages", "-nostyle")]
                           + ["2017-W25-nostyle.html"])
    stripped = (shots / "2017-W25-nostyle.html").read_text()
    assert "<style" not in stripped and "Unsubscribe" in stripped
    assert "scroll sideways" not in result.output

    branding = tmp_path / "branding" / "partials"
    branding.mkdir(parents=True)
    (branding / "footer.mjml.j2").write_text(
        '<mj-section><mj-column><mj-text><p>{{ address }} <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
        '<table role="presentation" width="900" style="width:900px"><tr><td>A table too wide for a phone</td></tr>'
        "</table></mj-text></mj-column></mj-section>\n")
    (tmp_path / "digest.toml").write_text('[digest]\ntemplates_dir = "branding"\n')
    monkeypatch.setenv("DIGEST_CONFIG", str(tmp_path / "digest.toml"))
    result = run_cli("preview", "--week", "2017-W25", "--screenshot", shots)
    warnings = [line for line in result.output.splitlines() if "scroll sideways" in line]
    assert any("at 375 px the email without its <style>" in w for w in warnings), result.output
    assert any(w.startswith("warning: at 375 px the email is") for w in warnings)


def test_screenshots_without_playwright_are_one_line(tmp_path, monkeypatch):
    """Playwright is optional (the test extra): without it, --screenshot says so in one line, no traceback."""
    import sys

    from digest.errors import RenderError

    monkeypatch.setitem(sys.modules, "playwright", None)
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    with pytest.raises(RenderError, match="^cannot take screenshots: Playwright is not installed"):
        screenshot_html("<p>hi</p>", tmp_path)

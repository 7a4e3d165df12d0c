"""Screenshots of rendered HTML in headless Chromium, and a check for sideways scrolling.

Uses Debian's /usr/bin/chromium through Playwright (never `playwright install`).
Chromium gets a throw-away HOME and a resolver rule that stops it reaching any
host but this one, so a screenshot fetches nothing from outside.

    shots = screenshot_html(rendered.html, Path("shots"), widths=(375, 600))
    for shot in shots: print(shot.path, shot.scroll_width, shot.inner_width)
"""

from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..errors import RenderError

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--disable-gpu",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
VIEWPORT_HEIGHT = 800


@dataclass(frozen=True)
class Screenshot:
    """One full-page PNG and the page's widths when it was taken."""

    path: Path
    width: int  # the viewport width asked for
    scroll_width: int  # document.documentElement.scrollWidth
    inner_width: int  # window.innerWidth

    @property
    def scrolls_sideways(self) -> bool:
        return self.scroll_width > self.inner_width


class SidewaysScrollError(RenderError):
    """The page is wider than the viewport at some width."""

    def __init__(self, shots: list[Screenshot]):
        self.shots = shots
        bad = ", ".join(f"{s.width}px (content {s.scroll_width}px wide)" for s in shots if s.scrolls_sideways)
        super().__init__(f"the email scrolls sideways at {bad}")


def screenshot_html(
    html: str,
    out_dir: Path,
    *,
    widths: Iterable[int] = (375, 600),
    name: str = "email",
    executable: str = CHROMIUM,
    check: bool = False,
    scheme: str = "light",
    images: bool = True,
    image_dir: Path | None = None,
    suffix: str = "",
    height: int = VIEWPORT_HEIGHT,
) -> list[Screenshot]:
    """Write `{name}-{width}{suffix}.png` (full page) for each width into out_dir.

    scheme "dark" emulates prefers-color-scheme: dark; images=False blocks
    every image (as Outlook does by default); image_dir answers image requests
    from files of the same name there (pictures of a demo or a test, with no
    network). Returns one Screenshot per width with its scroll and inner
    widths; with check=True raises SidewaysScrollError if the page scrolls
    sideways at any. height is the viewport's: a full-page shot is at least this tall.
    """
    with _browser(executable) as browser:
        shots = _shoot(browser, html, Path(out_dir), widths, name, scheme, images, image_dir, suffix, height)
    if check and any(s.scrolls_sideways for s in shots):
        raise SidewaysScrollError(shots)
    return shots


@contextmanager
def _browser(executable: str):
    try:  # optional (the [test] extra installs it): imported here so digest runs without it
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise RenderError("cannot take screenshots: Playwright is not installed "
                          "(pip install playwright; it drives Debian's chromium, no browser download)") from None

    if not Path(executable).exists():
        raise RenderError(f"cannot take screenshots: {executable} does not exist")
    with tempfile.TemporaryDirectory(prefix="digest-chromium-") as home:
        env = {**os.environ, "HOME": home, "XDG_CONFIG_HOME": home, "XDG_CACHE_HOME": home}
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=executable, args=LAUNCH_ARGS, env=env)
                try:
                    yield browser
                finally:
                    browser.close()
        except PlaywrightError as exc:
            raise RenderError(f"Chromium screenshot failed: {exc}") from None


def _shoot(browser, html: str, out_dir: Path, widths: Iterable[int], name: str, scheme: str, images: bool,
           image_dir: Path | None, suffix: str, height: int = VIEWPORT_HEIGHT) -> list[Screenshot]:
    out_dir.mkdir(parents=True, exist_ok=True)
    shots = []
    for width in widths:
        context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
        if not images or image_dir is not None:
            context.route("**/*", _image_router(images, image_dir))
        page = context.new_page()
        page.set_content(html, wait_until="load")
        scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        path = out_dir / f"{name}-{width}{suffix}.png"
        page.screenshot(path=str(path), full_page=True)
        context.close()
        shots.append(Screenshot(path, width, int(scroll_width), int(inner_width)))
    return shots


def _image_router(images: bool, image_dir: Path | None):
    """A Playwright route handler: block images, or serve them from image_dir by file name."""

    def route(r) -> None:
        if r.request.resource_type != "image":
            r.continue_()
            return
        if not images:
            r.abort("blockedbyclient")
            return
        local = Path(image_dir) / Path(r.request.url.split("?", 1)[0]).name
        if local.is_file():
            r.fulfill(path=str(local))
        else:
            r.continue_()

    return route


_STYLE = re.compile(r"<style\b[^>]*>.*?</style>", re.I | re.S)


def without_style(html: str) -> str:
    """The email as Gmail's apps show it with a non-Google account: every <style> block gone,
    only the inlined styles left (Outlook's conditional comments stay: they are comments)."""
    return _STYLE.sub("", html)


# (file suffix, scheme, images, strip <style>): what `digest preview --screenshot` writes per width.
VIEWS = (
    ("", "light", True, False),
    ("-dark", "dark", True, False),
    ("-noimages", "light", False, False),
    ("-dark-noimages", "dark", False, False),
    ("-nostyle", "light", True, True),
)


def screenshot_views(html: str, out_dir: Path, *, widths: Iterable[int] = (375, 600), name: str = "email",
                     image_dir: Path | None = None, executable: str = CHROMIUM) -> list[tuple[str, Screenshot]]:
    """Every view of VIEWS at every width: (view suffix, Screenshot). The style-less
    email is also written as `{name}-nostyle.html`, to open in a browser."""
    out = []
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / f"{name}-nostyle.html").write_text(without_style(html), encoding="utf-8")
    with _browser(executable) as browser:
        for suffix, scheme, images, strip in VIEWS:
            page = without_style(html) if strip else html
            for shot in _shoot(browser, page, Path(out_dir), widths, name, scheme, images, image_dir, suffix):
                out.append((suffix, shot))
    return out

"""Screenshots of rendered HTML in headless Chromium, and a check for sideways scrolling.

Uses Debian's /usr/bin/chromium through Playwright (never `playwright install`).
Chromium gets a throw-away HOME and a resolver rule that stops it reaching any
host but this one, so a screenshot fetches nothing from outside.

    shots = screenshot_html(rendered.html, Path("shots"), widths=(375, 600))
    for shot in shots: print(shot.path, shot.scroll_width, shot.inner_width)
"""

from __future__ import annotations

import os
import tempfile
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
    height: int = VIEWPORT_HEIGHT,
) -> list[Screenshot]:
    """Write `{name}-{width}.png` (full page) for each width into out_dir.

    height: the viewport's; a full-page shot is at least this tall.
    Returns one Screenshot per width with its scroll and inner widths; with
    check=True raises SidewaysScrollError if the page scrolls sideways at any.
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    if not Path(executable).exists():
        raise RenderError(f"cannot take screenshots: {executable} does not exist")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shots: list[Screenshot] = []
    with tempfile.TemporaryDirectory(prefix="digest-chromium-") as home:
        env = {**os.environ, "HOME": home, "XDG_CONFIG_HOME": home, "XDG_CACHE_HOME": home}
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=executable, args=LAUNCH_ARGS, env=env)
                try:
                    for width in widths:
                        context = browser.new_context(viewport={"width": width, "height": height})
                        page = context.new_page()
                        page.set_content(html, wait_until="load")
                        scroll_width, inner_width = page.evaluate(
                            "[document.documentElement.scrollWidth, window.innerWidth]"
                        )
                        path = out_dir / f"{name}-{width}.png"
                        page.screenshot(path=str(path), full_page=True)
                        context.close()
                        shots.append(Screenshot(path, width, int(scroll_width), int(inner_width)))
                finally:
                    browser.close()
        except PlaywrightError as exc:
            raise RenderError(f"Chromium screenshot failed: {exc}") from None
    if check and any(s.scrolls_sideways for s in shots):
        raise SidewaysScrollError(shots)
    return shots

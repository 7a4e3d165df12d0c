"""Words, dates and colours for the rendered email (pure helpers for render.py).

Dates are shown in the organisation's time zone; month names are spelled out
here rather than taken from the C library so the locale cannot change them.
Colours: every text colour is checked (and if need be darkened or lightened)
against the background it sits on, so any brand colour gives readable text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ..models import Window

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
MIN_CONTRAST = 4.5  # WCAG 2 AA for normal-size text
WHITE = "#ffffff"


# ---- dates -------------------------------------------------------------------


def local_date(moment: datetime, timezone: str) -> date:
    """The calendar date of an aware datetime in the given time zone."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def long_date(day: date) -> str:
    """'21 June 2017'."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def month_year(day: date) -> str:
    """'June 2017'."""
    return f"{MONTHS[day.month - 1]} {day.year}"


def window_days(window: Window, timezone: str) -> tuple[date, date]:
    """First and last local day of a window (its end is exclusive)."""
    first = local_date(window.start, timezone)
    last = local_date(window.end - timedelta(microseconds=1), timezone)
    return first, max(first, last)


def date_range(first: date, last: date) -> str:
    """'19–25 June 2017', '29 May – 4 June 2017', '29 December 2017 – 4 January 2018'."""
    if first == last:
        return long_date(first)
    if first.year != last.year:
        return f"{long_date(first)} – {long_date(last)}"
    if first.month != last.month:
        return f"{first.day} {MONTHS[first.month - 1]} – {long_date(last)}"
    return f"{first.day}–{long_date(last)}"


def window_dates(window: Window, frequency: str, timezone: str) -> str:
    """The edition's dates as the header shows them."""
    first, last = window_days(window, timezone)
    if frequency == "monthly" and first.day == 1 and (last + timedelta(days=1)).day == 1:
        return month_year(first)
    return date_range(first, last)


def period(window: Window, frequency: str, timezone: str) -> str:
    """The subject's {period}: 'week of 19 June 2017', '21 June 2017', 'June 2017'."""
    first, last = window_days(window, timezone)
    if frequency == "weekly":
        return f"week of {long_date(first)}"
    if frequency == "daily":
        return long_date(first)
    if frequency == "monthly":
        return month_year(first)
    return date_range(first, last)


def plural(n: int, one: str, many: str | None = None) -> str:
    """'1 article', '5 articles'."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


# ---- colours -----------------------------------------------------------------


def _rgb(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(v))):02x}" for v in rgb)


def luminance(colour: str) -> float:
    """WCAG relative luminance of '#rrggbb'."""

    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio between two colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable(fg: str, *backgrounds: str, minimum: float = MIN_CONTRAST) -> str:
    """fg itself if it reaches `minimum` on every background, else fg mixed
    towards black or white (whichever the backgrounds need) until it does."""
    if all(contrast(fg, bg) >= minimum for bg in backgrounds):
        return fg.lower()
    darkest_bg = min(luminance(bg) for bg in backgrounds)
    # Light backgrounds want darker text; dark ones want lighter text.
    target = (0, 0, 0) if darkest_bg > 0.18 else (255, 255, 255)
    start = _rgb(fg)
    for step in range(1, 21):
        t = step / 20
        mixed = _hex(tuple(s + (e - s) * t for s, e in zip(start, target)))
        if all(contrast(mixed, bg) >= minimum for bg in backgrounds):
            return mixed
    return _hex(target)


@dataclass(frozen=True)
class Palette:
    """Every colour the email uses; each text colour is named after its background."""

    page: str  # page background (the accent colour)
    brand: str  # header background
    on_brand: str  # header text
    surface: str  # article card background
    text: str  # body text on the card
    muted: str  # bylines, dates on the card
    heading: str  # article titles on the card
    link: str  # links on the card
    label: str  # topic labels on the card
    rule: str  # lines between articles (decorative, no text)
    footer_text: str  # footer text on the page background
    footer_link: str  # footer links on the page background

    def text_pairs(self) -> list[tuple[str, str, str]]:
        """(name, foreground, background) for every text colour, for checks."""
        return [
            ("on_brand", self.on_brand, self.brand),
            ("text", self.text, self.surface),
            ("muted", self.muted, self.surface),
            ("heading", self.heading, self.surface),
            ("link", self.link, self.surface),
            ("label", self.label, self.surface),
            ("footer_text", self.footer_text, self.page),
            ("footer_link", self.footer_link, self.page),
        ]


def palette(brand_colour: str, accent_colour: str) -> Palette:
    """Colours derived from the organisation's brand and accent colours."""
    brand, page, surface = brand_colour.lower(), accent_colour.lower(), WHITE
    on_brand = WHITE if contrast(WHITE, brand) >= MIN_CONTRAST else readable("#111111", brand)
    return Palette(
        page=page,
        brand=brand,
        on_brand=on_brand,
        surface=surface,
        text=readable("#1f2933", surface),
        muted=readable("#52606d", surface),
        heading=readable(brand, surface),
        link=readable(brand, surface),
        label=readable(brand, surface),
        rule="#dde3ea",
        footer_text=readable("#52606d", page),
        footer_link=readable(brand, page),
    )

"""Dates and colours for the rendered email (pure helpers for render.py).

Dates are shown in the organisation's time zone and spelled by Babel from
CLDR in the member's language (digest/i18n.py), never by the C library's
locale. Colours: every text colour is checked (and if need be darkened or
lightened) against the background it sits on, so any brand colour gives
readable text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ..i18n import Language
from ..models import Window

MIN_CONTRAST = 4.5  # WCAG 2 AA for normal-size text
WHITE = "#ffffff"


# ---- dates -------------------------------------------------------------------


def local_date(moment: datetime, timezone: str) -> date:
    """The calendar date of an aware datetime in the given time zone."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def window_days(window: Window, timezone: str) -> tuple[date, date]:
    """First and last local day of a window (its end is exclusive)."""
    first = local_date(window.start, timezone)
    last = local_date(window.end - timedelta(microseconds=1), timezone)
    return first, max(first, last)


def window_dates(window: Window, frequency: str, timezone: str, lang: Language) -> str:
    """The edition's dates as the header shows them: '19–25 June 2017', 'June 2017'."""
    first, last = window_days(window, timezone)
    if frequency == "monthly" and first.day == 1 and (last + timedelta(days=1)).day == 1:
        return lang.month_year(first)
    return lang.date_range(first, last)


def period(window: Window, frequency: str, timezone: str, lang: Language) -> str:
    """The subject's {period}: 'week of 19 June 2017', '21 June 2017', 'June 2017'."""
    first, last = window_days(window, timezone)
    if frequency == "weekly":
        return lang.gettext("week of %(date)s") % {"date": lang.long_date(first)}
    if frequency == "daily":
        return lang.long_date(first)
    if frequency == "monthly":
        return lang.month_year(first)
    return lang.date_range(first, last)


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


def _hue_turn(colour: str, turn: float) -> str:
    """colour with its hue turned by `turn` (0..1) and its lightness and saturation kept."""
    import colorsys

    r, g, b = (v / 255 for v in _rgb(colour))
    h, lum, sat = colorsys.rgb_to_hls(r, g, b)
    if sat < 0.08:  # a grey brand has no hue to turn: labels take a warm amber
        return "#b45309"
    r, g, b = colorsys.hls_to_rgb((h + turn) % 1.0, lum, max(sat, 0.45))
    return _hex((r * 255, g * 255, b * 255))


def mix(a: str, b: str, t: float) -> str:
    """a moved a fraction t of the way to b."""
    return _hex(tuple(x + (y - x) * t for x, y in zip(_rgb(a), _rgb(b))))


@dataclass(frozen=True)
class Palette:
    """Every colour the email uses; each text colour is named after its background.

    Label, headline and link are three different colours on purpose: a reader
    tells "what topic", "what story" and "where to click" apart at a glance.
    """

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
    note_bg: str = ""  # the editor's note panel (on the card)
    note_text: str = ""  # text of the editor's note on its panel
    note_link: str = ""  # links in the editor's note on its panel

    def text_pairs(self) -> list[tuple[str, str, str]]:
        """(name, foreground, background) for every text colour, for checks."""
        pairs = [
            ("on_brand", self.on_brand, self.brand),
            ("text", self.text, self.surface),
            ("muted", self.muted, self.surface),
            ("heading", self.heading, self.surface),
            ("link", self.link, self.surface),
            ("label", self.label, self.surface),
            ("footer_text", self.footer_text, self.page),
            ("footer_link", self.footer_link, self.page),
        ]
        if self.note_bg:
            pairs += [("note_text", self.note_text, self.note_bg), ("note_link", self.note_link, self.note_bg)]
        return pairs


@dataclass(frozen=True)
class Palettes:
    """The light palette (inlined, what every client shows first) and the dark one
    (in <style>: prefers-color-scheme: dark, and Outlook's [data-ogsc]/[data-ogsb])."""

    light: Palette
    dark: Palette

    def __getattr__(self, name: str):  # templates written for one palette read the light one
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.light, name)


DARK_PAGE, DARK_SURFACE = "#0f1418", "#1b2229"


def palette(brand_colour: str, accent_colour: str) -> Palette:
    """Colours derived from the organisation's brand and accent colours (light mode)."""
    brand, page, surface = brand_colour.lower(), accent_colour.lower(), WHITE
    on_brand = WHITE if contrast(WHITE, brand) >= MIN_CONTRAST else readable("#111111", brand)
    note_bg = mix(page, brand, 0.06)
    return Palette(
        page=page,
        brand=brand,
        on_brand=on_brand,
        surface=surface,
        text=readable("#1f2933", surface),
        muted=readable("#52606d", surface),
        heading=readable("#14202e", surface),
        link=readable(brand, surface),
        label=readable(_hue_turn(brand, 0.45), surface, minimum=MIN_CONTRAST + 0.3),
        rule="#dde3ea",
        footer_text=readable("#52606d", page),
        footer_link=readable(brand, page),
        note_bg=note_bg,
        note_text=readable("#1f2933", note_bg),
        note_link=readable(brand, note_bg),
    )


def dark_palette(brand_colour: str, accent_colour: str) -> Palette:
    """The dark-mode palette: dark page and card, light text, the brand kept in the
    header (darkened, so a white logo and white masthead text still read on it)."""
    brand = brand_colour.lower()
    page, surface = DARK_PAGE, DARK_SURFACE
    header = mix(brand, "#000000", 0.35)
    on_brand = WHITE if contrast(WHITE, header) >= MIN_CONTRAST else readable("#f5f7fa", header)
    note_bg = mix(surface, brand, 0.18)
    return Palette(
        page=page,
        brand=header,
        on_brand=on_brand,
        surface=surface,
        text=readable("#e3e8ee", surface),
        muted=readable("#a9b4c0", surface),
        heading=readable("#f5f7fa", surface),
        link=readable(mix(brand, WHITE, 0.55), surface),
        label=readable(mix(_hue_turn(brand, 0.45), WHITE, 0.35), surface, minimum=MIN_CONTRAST + 0.3),
        rule="#323c46",
        footer_text=readable("#a9b4c0", page),
        footer_link=readable(mix(brand, WHITE, 0.55), page),
        note_bg=note_bg,
        note_text=readable("#e3e8ee", note_bg),
        note_link=readable(mix(brand, WHITE, 0.6), note_bg),
    )


def palettes(brand_colour: str, accent_colour: str) -> Palettes:
    return Palettes(palette(brand_colour, accent_colour), dark_palette(brand_colour, accent_colour))

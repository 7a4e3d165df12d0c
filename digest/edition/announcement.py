"""Render an announcement into an email: the same Jinja2 -> MJML -> premailer pipeline as a digest.

Its own templates (announcement.mjml.j2, announcement.txt.j2) share the
digest's masthead, footer, article block, palettes and dark mode, so an
organisation's branding applies to both. Per-member parts stay slot markers
(message/assemble.py fills them by a join), so one render serves every member
of a variant (format x language).

    rendered = render_announcement(announcement, settings, items=items, fmt="html", lang="cy", now=now)
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from ..config import Settings
from ..errors import RenderError
from ..i18n import language
from ..models import FORMATS, SLOT_MARKERS, Announcement, EditionItem, Rendered
from . import textformat as fmt_
from .body import body_as_text, parse_body
from .render import (
    COLUMN_WIDTH,
    FONT_STACK,
    PREHEADER_MAX,
    PREHEADER_MIN,
    RENDER_STATS,
    _article,
    _label,
    _oneline,
    _render_html,
    _render_template,
    _truncate,
    logo_of,
)

HTML_TEMPLATE = "announcement.mjml.j2"
TEXT_TEMPLATE = "announcement.txt.j2"
CSS_TEMPLATE = "partials/announcement.css.j2"


def render_announcement(announcement: Announcement, settings: Settings, *, items: Sequence[EditionItem] = (),
                        fmt: str = "html", lang: str = "", now: datetime, web: bool = False,
                        topics: Sequence[str] = ()) -> Rendered:
    """Render one variant of an announcement (a format and a language); per-member parts stay slot markers.

    items: the stored articles it shows after its body. now: the date it
    carries (when it was queued). web: the public web version (no member, no
    member links). lang: a language tag (default: the organisation's first).
    """
    if fmt not in FORMATS:
        raise RenderError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    words = language(lang or settings.language)
    context = announcement_context(announcement, settings, items, words, now=now, web=web, topics=topics)
    text = _render_template(TEXT_TEMPLATE, context, settings.templates_dir, words.tag)
    RENDER_STATS.count(text_renders=1)
    html = "" if fmt == "text" else _render_html(context, settings, words.tag, template=HTML_TEMPLATE,
                                                 css_template=CSS_TEMPLATE)
    return Rendered(subject=context["subject"], preheader=context["preheader"], html=html, text=text)


def announcement_preheader(announcement: Announcement) -> str:
    """The editor's preheader, else the body's first paragraph, cut to fit an inbox preview."""
    if announcement.preheader.strip():
        return _truncate(_oneline(announcement.preheader), PREHEADER_MAX)
    said = _oneline(" ".join(t for b, t in zip(parse_body(announcement.body), body_as_text(announcement.body))
                             if b.kind != "heading"))
    if len(said) < PREHEADER_MIN:  # a short body: the subject leads, so the preview is not cut to a few words
        said = f"{_oneline(announcement.subject)}: {said}"
    return _truncate(said, PREHEADER_MAX)


def _picture(announcement: Announcement, settings: Settings) -> dict | None:
    url = announcement.picture_url.strip()
    if not (url.startswith("https://") or (settings.http_images and url.startswith("http://"))):
        return None
    picture = {"src": url, "width": COLUMN_WIDTH, "height": None, "alt": _oneline(announcement.picture_alt)}
    if announcement.picture_width and announcement.picture_height:  # measured: Outlook needs both
        picture["width"] = min(COLUMN_WIDTH, announcement.picture_width)
        picture["height"] = max(1, round(picture["width"] * announcement.picture_height / announcement.picture_width))
    return picture


def _why(announcement: Announcement, settings: Settings, words, topics: Sequence[str] = ()) -> str:
    """The footer's "why you get this": a statutory notice says it reaches every member; a news announcement
    to members of some topics names them (every member it reaches has one of them, or all topics)."""
    values = {"organisation": settings.organisation}
    if announcement.kind == "statutory":
        return words.gettext("%(organisation)s must send this notice to every member, so it reaches you even if "
                             "you turned announcements off.") % values
    if topics:
        values["topics"] = ", ".join(_label(settings, t, words) for t in topics)
        return words.ngettext(
            "You are receiving this announcement because you are a member of %(organisation)s and your topics "
            "include %(topics)s. You can turn announcements off on your preferences page.",
            "You are receiving this announcement because you are a member of %(organisation)s and your topics "
            "include one of %(topics)s. You can turn announcements off on your preferences page.",
            len(topics)) % values
    return words.gettext("You are receiving this announcement because you are a member of %(organisation)s. "
                         "You can turn announcements off on your preferences page.") % values


def announcement_context(announcement: Announcement, settings: Settings, items: Sequence[EditionItem], words, *,
                         now: datetime, web: bool = False, topics: Sequence[str] = ()) -> dict:
    """What the announcement templates are given (a branding folder's own templates may use any of it)."""
    tz = settings.timezone
    statutory = announcement.kind == "statutory"
    ordered = list(items)
    articles = [dict(_article(n, it, settings, words, tz, len(ordered)), lead=False, lead_image=None,
                     first_in_list=n == 0) for n, it in enumerate(ordered)]
    return {
        "lang": words.html_tag,
        "content_lang": "" if words.html_tag == settings.language else settings.language,
        "organisation": settings.organisation,
        "address": _oneline(settings.address),
        "website": settings.website,
        "subject": _oneline(announcement.subject),
        "preheader": announcement_preheader(announcement),
        "frequency": "",
        "statutory": statutory,
        "frequency_label": words.gettext("Statutory notice") if statutory else words.gettext("Announcement"),
        "dates": words.join([p.long_date(fmt_.local_date(now, tz)) for p in words.parts]),
        "body_blocks": parse_body(announcement.body),
        "body_text": body_as_text(announcement.body),
        "cta": ({"label": _oneline(announcement.cta_label), "url": announcement.cta_url.strip()}
                if announcement.cta_label.strip() and announcement.cta_url.strip() else None),
        "picture": _picture(announcement, settings),
        "articles": articles,
        "why": _why(announcement, settings, words, topics),
        "preferences_url": SLOT_MARKERS["preferences_url"],
        "unsubscribe_url": SLOT_MARKERS["unsubscribe_url"],
        "name_slot": SLOT_MARKERS["name"],
        "colours": fmt_.palettes(settings.brand_colour, settings.accent_colour),
        "font_stack": FONT_STACK,
        "logo": logo_of(settings),
        "web": web,
        "subscribe_url": f"{settings.base_url}/subscribe" if web else "",
        "previous_url": "", "next_url": "", "archive_url": f"{settings.base_url}/editions" if web else "",
        "share_image": None,
        "browser_url": f"{settings.base_url}/editions/{announcement.key}",  # the web version, when public
    }

"""Render an edition variant into an email: HTML (Jinja2 -> MJML -> premailer) and text.

One call renders one variant (a set of articles for one choice of topics);
per-member parts stay as SLOT_MARKERS for message/assemble.py to fill by a join, so a
send of many members costs one MJML compile per variant, not per member.

    render_variant(edition, settings, items=..., member_topics=..., fmt="html")
    fill_slots(rendered.html, {"name": " Jane", ...}, html=True)
"""

from __future__ import annotations

import html as html_lib
import logging
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

import jinja2

from ..config import Settings, templates_dir
from ..errors import RenderError
from ..models import FORMATS, SLOT_MARKERS, Edition, EditionItem, Rendered
from . import textformat as fmt_
from .clicks import article_urls
from .note import note_as_text, parse_note
from .variants import VariantPlan

TEMPLATES_DIR = templates_dir()
HTML_TEMPLATE = "digest.mjml.j2"
TEXT_TEMPLATE = "digest.txt.j2"
CSS_TEMPLATE = "partials/digest.css.j2"
# No web fonts: system fonts only, so nothing is fetched and nothing is imported.
FONT_STACK = "-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
PREHEADER_MIN, PREHEADER_MAX = 40, 130


@dataclass
class RenderStats:
    """How much rendering work was done (the benchmark checks compiles == variants)."""

    compiles: int = 0  # MJML compiles (HTML renders)
    text_renders: int = 0  # text parts rendered
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def renders(self) -> int:
        """Alias of compiles: the number of HTML variants rendered."""
        return self.compiles

    def count(self, *, compiles: int = 0, text_renders: int = 0) -> None:
        with self._lock:
            self.compiles += compiles
            self.text_renders += text_renders

    def reset(self) -> None:
        with self._lock:
            self.compiles = self.text_renders = 0


RENDER_STATS = RenderStats()


# ---- public API --------------------------------------------------------------


def render_variant(
    edition: Edition,
    settings: Settings,
    *,
    items: Sequence[EditionItem] | None = None,
    member_topics: tuple[str, ...] = (),
    fmt: str = "html",
    track_clicks: bool = False,
) -> Rendered:
    """Render one variant of an edition; per-member parts stay as SLOT_MARKERS.

    items: the articles this variant carries (default: all of edition.items).
    member_topics: the topics the member chose (empty: all topics).
    fmt "text": no HTML at all (Rendered.html == "", no MJML compile).
    """
    if fmt not in FORMATS:
        raise RenderError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    chosen = list(edition.items if items is None else items)
    chosen.sort(key=lambda it: it.position)
    context = _context(edition, settings, chosen, member_topics)
    if track_clicks:  # article links through /r/ when counting is on; the web version stays direct
        for article, url in zip(context["articles"], article_urls(settings, edition, chosen, member_topics, fmt)):
            article["url"] = url
    text = _render_template(TEXT_TEMPLATE, context)
    RENDER_STATS.count(text_renders=1)
    html = "" if fmt == "text" else _render_html(context, settings)
    return Rendered(subject=context["subject"], preheader=context["preheader"], html=html, text=text)


def render_plan(edition: Edition, settings: Settings, plan: VariantPlan) -> Rendered:
    """Render one planned variant of an edition (see variants.plan_variant)."""
    return render_variant(edition, settings, items=list(plan.items), member_topics=plan.member_topics,
                          fmt=plan.fmt, track_clicks=True)


def fill_slots(s: str, values: Mapping[str, str], *, html: bool) -> str:
    """Replace the markers of the given slots by their values (HTML-escaped when html).

    Slots not in `values` are left as they are; an unknown slot name is an error.
    """
    for name, value in values.items():
        if name not in SLOT_MARKERS:
            raise RenderError(f"unknown slot {name!r}: use one of {', '.join(SLOT_MARKERS)}")
        s = s.replace(SLOT_MARKERS[name], html_lib.escape(value, quote=True) if html else value)
    return s


def preheader_for(edition: Edition, items: Sequence[EditionItem]) -> str:
    """Inbox preview text (40 to 130 characters): the editor's, else what this edition carries."""
    if edition.preheader.strip():
        return _truncate(_oneline(edition.preheader), PREHEADER_MAX)
    titles = [_oneline(it.title) for it in sorted(items, key=lambda it: it.position)]
    lead = {"daily": "Today", "weekly": "This week", "monthly": "This month"}.get(edition.frequency, "In this edition")
    if not titles:
        text = f"{lead}: no new articles on your topics. Your preferences and past editions are online."
    else:
        text = f"{lead}: " + "; ".join(titles[:3])
        if len(titles) > 3:
            text += f"; and {len(titles) - 3} more"
        if len(text) < PREHEADER_MIN:
            text += f" ({fmt_.plural(len(titles), 'article')} in this digest)"
        if len(text) < PREHEADER_MIN:
            text += ". Read the summaries and follow the links to the full stories."
    return _truncate(text, PREHEADER_MAX)


def subject_for(edition: Edition, settings: Settings) -> str:
    """edition.subject if set, else settings.subject filled with organisation and period."""
    if edition.subject.strip():
        return _oneline(edition.subject)
    values = {
        "organisation": settings.organisation,
        "period": fmt_.period(edition.window, edition.frequency, settings.timezone),
        "key": edition.key,
        "frequency": edition.frequency,
        "count": len(edition.items),
    }
    try:
        return _oneline(settings.subject.format_map(values))
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        names = ", ".join("{" + k + "}" for k in values)
        raise RenderError(f"digest.subject {settings.subject!r}: cannot fill it ({exc!r}); it may use {names}") from None


def browser_url(edition: Edition, settings: Settings) -> str:
    """The web version of an edition (the same for every member)."""
    return f"{settings.base_url}/editions/{edition.key}"


# ---- context -----------------------------------------------------------------


def _label(settings: Settings, slug: str) -> str:
    # A topic dropped from the taxonomy after the edition was built must not
    # stop a send: show its slug in words instead.
    try:
        return settings.topic(slug).label
    except KeyError:
        return slug.replace("-", " ").capitalize()


def _byline(item: EditionItem) -> str:
    author = _oneline(item.author or "")
    role = _oneline(item.author_role or "")
    if not author:
        return ""
    return f"By {author}, {role}" if role else f"By {author}"


def _context(edition: Edition, settings: Settings, items: list[EditionItem], member_topics: tuple[str, ...]) -> dict:
    tz = settings.timezone
    frequency = edition.frequency or edition.window.frequency
    articles = [
        {
            "title": _oneline(it.title),
            "url": it.url.strip(),
            "byline": _byline(it),
            "date": fmt_.long_date(fmt_.local_date(it.published_at, tz)),
            "topics": [_label(settings, s) for s in it.topics],
            "paragraphs": [_oneline(p) for p in re.split(r"\n\s*\n", it.summary or "") if p.strip()],
        }
        for it in items
    ]
    chosen = [_label(settings, s) for s in member_topics]
    return {
        "organisation": settings.organisation,
        "address": _oneline(settings.address),
        "website": settings.website,
        "subject": subject_for(edition, settings),
        "preheader": preheader_for(edition, items),
        "frequency_label": {"daily": "Daily digest", "weekly": "Weekly digest",
                            "monthly": "Monthly digest"}.get(frequency, "Digest"),
        "dates": fmt_.window_dates(edition.window, frequency, tz),
        "articles": articles,
        "note": parse_note(edition.note),
        "note_text": note_as_text(edition.note),
        "count": fmt_.plural(len(articles), "article"),
        "member_topics": chosen,
        "chose": ", ".join(chosen) if chosen else "all topics",
        "browser_url": browser_url(edition, settings),
        "preferences_url": SLOT_MARKERS["preferences_url"],
        "unsubscribe_url": SLOT_MARKERS["unsubscribe_url"],
        "name_slot": SLOT_MARKERS["name"],
        "colours": fmt_.palette(settings.brand_colour, settings.accent_colour),
        "font_stack": FONT_STACK,
    }


def _oneline(s: str) -> str:
    return " ".join(s.split())


def _truncate(s: str, limit: int) -> str:
    if len(s) <= limit:
        return s
    cut = s[: limit - 1].rsplit(" ", 1)[0].rstrip(" ;,:.")
    return cut + "…"


# ---- templates, MJML, premailer ----------------------------------------------


@lru_cache(maxsize=4)
def _environment(templates_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        # HTML and MJML are escaped; the plain-text part must not be.
        autoescape=lambda name: not (name or "").endswith(".txt.j2"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _render_template(name: str, context: Mapping) -> str:
    try:
        return _environment(TEMPLATES_DIR).get_template(name).render(**context)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"template {exc.name} not found in {TEMPLATES_DIR}") from None
    except jinja2.TemplateError as exc:
        where = f"{getattr(exc, 'name', None) or name}:{getattr(exc, 'lineno', '?')}"
        raise RenderError(f"template {where}: {exc.message or exc}") from None


_STYLE_BLOCK = re.compile(r"(<style\b[^>]*>)(.*?)(</style>)", re.I | re.S)
_IMPORT = re.compile(r"@import\b[^;]*;", re.I)
_FONT_LINK = re.compile(r"<link\b[^>]*fonts\.googleapis[^>]*>", re.I)
_STYLE_OPEN = re.compile(r"<style\b(?![^>]*data-premailer)", re.I)
_TABLE_OPEN = re.compile(r"<table\b(?![^>]*\brole=)", re.I)
_PREVIEW_WHITE = "display:none;font-size:1px;color:#ffffff;"  # mj-preview's div, as mjml-python writes it


def _render_html(context: Mapping, settings: Settings) -> str:
    from mjml import mjml2html  # the compiled extension: load it only when HTML is wanted

    source = _render_template(HTML_TEMPLATE, context)
    try:
        compiled = mjml2html(source, disable_comments=True, fonts={})
    except ValueError as exc:
        raise RenderError(f"MJML ({HTML_TEMPLATE}): {exc}") from None
    RENDER_STATS.count(compiles=1)
    # MJML paints the hidden preheader white; on a tinted page spam filters read
    # that as text hidden by colour (SpamAssassin's HTML_FONT_LOW_CONTRAST).
    compiled = compiled.replace(_PREVIEW_WHITE, _PREVIEW_WHITE.replace("#ffffff", context["colours"].footer_text), 1)
    css = _render_template(CSS_TEMPLATE, context)
    return _inline(compiled, css, settings.base_url)


_PREMAILER_CLASS = None


def _caching_premailer():
    """Premailer that parses a stylesheet once per process, not once per render.

    premailer re-parses our CSS and re-serialises every property with cssutils
    on each transform: about 10 of the 16 ms a variant costs. Every variant of
    every edition inlines the same few stylesheets, so the parsed rules are
    kept (a handful of entries: one per palette).
    """
    global _PREMAILER_CLASS
    if _PREMAILER_CLASS is None:
        from premailer import Premailer

        class CachingPremailer(Premailer):
            _rules: dict = {}

            def _parse_style_rules(self, css_body, ruleset_index):
                key = (css_body, ruleset_index, self.strip_important, self.disable_validation)
                hit = self._rules.get(key)
                if hit is None:
                    hit = super()._parse_style_rules(css_body, ruleset_index)
                    if len(self._rules) < 32:
                        self._rules[key] = hit
                return list(hit[0]), list(hit[1])

        _PREMAILER_CLASS = CachingPremailer
    return _PREMAILER_CLASS


def _inline(compiled: str, css: str, base_url: str) -> str:
    """premailer pass: inline our CSS; leave MJML's own <style> blocks verbatim."""
    import cssutils

    # Only tags and <style> bodies are touched: article text is escaped, so
    # "<style" or "<table" cannot come from it, but "@import" could.
    doc = _STYLE_BLOCK.sub(lambda m: m.group(1) + _IMPORT.sub("", m.group(2)) + m.group(3), compiled)
    doc = _FONT_LINK.sub("", doc)
    # premailer keeps a doctype only if it reads exactly "<!DOCTYPE html>".
    doc = re.sub(r"^\s*<!doctype html>", "<!DOCTYPE html>", doc, count=1, flags=re.I)
    # MJML's reset and responsive styles stay as they are in <style> (inlining
    # the reset into every table cell would double the size for nothing).
    doc = _STYLE_OPEN.sub('<style data-premailer="ignore"', doc)
    doc = _TABLE_OPEN.sub('<table role="presentation"', doc)
    # cssutils logs to its own logger (stderr by default) whatever level premailer sets.
    cssutils.log.setLevel(logging.CRITICAL)
    try:
        out = _caching_premailer()(
            doc,
            base_url=base_url,
            css_text=css,
            strip_important=False,
            allow_network=False,
            disable_validation=True,
            cssutils_logging_level=logging.CRITICAL,
            cssutils_logging_handler=logging.NullHandler(),
        ).transform()
    except Exception as exc:  # premailer raises bare lxml/cssutils errors
        raise RenderError(f"premailer: {exc}") from None
    # Style blocks inside Outlook's conditional comments are invisible to premailer.
    out = out.replace('<style data-premailer="ignore"', "<style")
    if not out.startswith("<!DOCTYPE html>"):
        raise RenderError("premailer dropped the doctype")
    return out

"""Render an edition variant into an email: HTML (Jinja2 -> MJML -> premailer) and text.

One call renders one variant (a set of articles for one choice of topics);
per-member parts stay as SLOT_MARKERS for message/assemble.py to fill by a join, so a
send of many members costs one MJML compile per variant, not per member.

    render_variant(edition, settings, items=..., member_topics=..., fmt="html")
    fill_slots(rendered.html, {"name": " Jane", ...}, html=True)
"""

from __future__ import annotations

import html as html_lib
import re
import sys
import threading
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping, Sequence

import jinja2
from markupsafe import Markup

from ..config import Settings, templates_dir
from ..errors import RenderError
from ..i18n import DEFAULT_LANGUAGE as DEFAULT_TAG, N_, Bilingual, Language, PerLanguage, language
from ..models import FORMATS, SLOT_MARKERS, Edition, EditionItem, Rendered
from . import diskcache
from . import textformat as fmt_
from .inline import inline_css
from .clicks import article_urls
from .variants import VariantPlan
from .wording import in_language, notes, shown, shown_items

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
    web: Mapping | None = None,
    track_clicks: bool = False,
    lang: str = "",
    reuse: bool = False,
) -> Rendered:
    """Render one variant of an edition; per-member parts stay as SLOT_MARKERS.

    items: the articles this variant carries (default: all of edition.items).
    member_topics: the topics the member chose (empty: all topics).
    fmt "text": no HTML at all (Rendered.html == "", no MJML compile).
    web: render the public web version instead (no greeting, no member links):
    {"subscribe_url", "previous_url", "next_url", "archive_url"} (each may be "").
    lang: the language tag (default: the organisation's first language).
    reuse: keep the inlined HTML on disk and take it from there for the same input (inline.inline_css).
    """
    if fmt not in FORMATS:
        raise RenderError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    chosen = list(edition.items if items is None else items)
    chosen.sort(key=lambda it: it.position)
    words = language(lang or settings.language)
    context = _context(edition, settings, chosen, member_topics, web, words)
    if track_clicks and web is None:  # article links through /r/ when counting is on; the web version stays direct
        own = shown_items(chosen, words, settings.language)  # a translation's own link, where it is shown
        for article, url in zip(context["articles"], article_urls(settings, edition, own, member_topics, fmt)):
            article["url"] = url
    text = _render_template(TEXT_TEMPLATE, context, settings.templates_dir, words.tag)
    RENDER_STATS.count(text_renders=1)
    html = "" if fmt == "text" else _render_html(context, settings, words.tag, reuse=reuse)
    return Rendered(subject=context["subject"], preheader=context["preheader"], html=html, text=text)


def render_plan(edition: Edition, settings: Settings, plan: VariantPlan) -> Rendered:
    """Render one planned variant of an edition (see variants.plan_variant)."""
    return render_variant(edition, settings, items=list(plan.items), member_topics=plan.member_topics,
                          fmt=plan.fmt, track_clicks=True, lang=plan.lang)


def fill_slots(s: str, values: Mapping[str, str], *, html: bool) -> str:
    """Replace the markers of the given slots by their values (HTML-escaped when html).

    Slots not in `values` are left as they are; an unknown slot name is an error.
    """
    for name, value in values.items():
        if name not in SLOT_MARKERS:
            raise RenderError(f"unknown slot {name!r}: use one of {', '.join(SLOT_MARKERS)}")
        s = s.replace(SLOT_MARKERS[name], html_lib.escape(value, quote=True) if html else value)
    return s


def preheader_for(edition: Edition, items: Sequence[EditionItem], lang: Language | None = None) -> str:
    """Inbox preview text (40 to 130 characters): the editor's, else what this edition carries."""
    if edition.preheader.strip():
        return _truncate(_oneline(edition.preheader), PREHEADER_MAX)
    lang = lang or language()
    _ = lang.parts[0].gettext  # the titles are said once: a bilingual preheader's own words are the first's
    ngettext = lang.parts[0].ngettext
    titles = [_oneline(it.title) for it in sorted(items, key=lambda it: it.position)]
    leads = {"daily": N_("Today"), "weekly": N_("This week"), "monthly": N_("This month"), "": N_("In this edition")}
    lead = lang.gettext(leads.get(edition.frequency, leads[""]))  # bilingual: "Yr wythnos hon / This week"
    if not titles:
        text = _("%(lead)s: no new articles on your topics. Your preferences and past editions are online.") % {
            "lead": lead}
    else:
        text = _("%(lead)s: %(titles)s") % {"lead": lead, "titles": "; ".join(titles[:3])}
        if len(titles) > 3:
            text += ngettext("; and %(num)d more", "; and %(num)d more", len(titles) - 3) % {"num": len(titles) - 3}
        if len(text) < PREHEADER_MIN:
            text += ngettext(" (%(num)d article in this digest)", " (%(num)d articles in this digest)",
                             len(titles)) % {"num": len(titles)}
        if len(text) < PREHEADER_MIN:
            text += _(". Read the summaries and follow the links to the full stories.")
    return _truncate(text, PREHEADER_MAX)


def subject_for(edition: Edition, settings: Settings, lang: Language | None = None,
                items: Sequence[EditionItem] | None = None) -> str:
    """The editor's subject (edition.subject) if they wrote one, else the subject pattern ([digest] subject,
    else the catalogue's "{lead}{and_more}") filled for `items`, in the language.

    The pattern may use {organisation}, {period}, {key}, {frequency}, {count},
    {lead} (the first story's title), {more} (how many others) and {and_more}
    (", and 9 more", or nothing when the lead is alone). A build stores the
    subject made for the whole edition in the first language; each variant's
    subject is made again for the stories it carries (a member who gets three
    stories is not told of nine more) and in its language, unless the editor
    wrote one (it has no translation yet).
    """
    lang = lang or language(settings.language)
    chosen = edition.items if items is None else items
    if written_subject(edition, settings):
        return _oneline(edition.subject)
    return _made_subject(edition, settings, lang, chosen)


def written_subject(edition: Edition, settings: Settings) -> bool:
    """The edition's subject is the editor's (not the one a build made from the articles)."""
    return bool(edition.subject.strip()) and _oneline(edition.subject) != _made_subject(
        edition, settings, language(settings.language), edition.items)


def _own_words(edition: Edition, settings: Settings, lang: Language, items: Sequence[EditionItem]) -> tuple[str, str]:
    """(subject, preheader) of an email in `lang`: each language's own words (the editor's for it, else
    made in it); a bilingual email says each language's, in order, when the editor wrote any."""
    first = settings.language
    if len(lang.parts) == 1:
        own = in_language(edition, lang.tag, first)
        return subject_for(own, settings, lang, items), preheader_for(own, items, lang)
    each = [in_language(edition, p.tag, first) for p in lang.parts]
    subject = (lang.join([subject_for(e, settings, p, items) for e, p in zip(each, lang.parts)])
               if any(written_subject(e, settings) for e in each) else subject_for(edition, settings, lang, items))
    preheader = (_truncate(lang.join([preheader_for(e, items, p) for e, p in zip(each, lang.parts)]), PREHEADER_MAX)
                 if any(e.preheader.strip() for e in each) else preheader_for(edition, items, lang))
    return subject, preheader


def _made_subject(edition: Edition, settings: Settings, lang: Language, items: Sequence[EditionItem]) -> str:
    """The subject pattern filled with what these stories are (see subject_for)."""
    first = lang.parts[0]  # a bilingual subject: the first language's pattern, its period in each
    # TRANSLATORS: the default subject line: the first story's title and ", and 9 more"; keep {lead}{and_more}.
    pattern = settings.subject or first.gettext("{lead}{and_more}")
    period = lang.join([fmt_.period(edition.window, edition.frequency, settings.timezone, p) for p in lang.parts])
    ordered = sorted(items, key=lambda it: it.position)
    more = max(0, len(ordered) - 1)
    values = {
        "organisation": settings.organisation,
        "period": period,
        "key": edition.key,
        "frequency": edition.frequency,
        "count": len(ordered),
        # An edition with no story is never sent; its subject (a preview) names the period instead.
        # TRANSLATORS: a subject line; {organisation} and {period} are filled in, keep them.
        "lead": _oneline(ordered[0].title) if ordered else first.gettext("{organisation}: {period}").format(
            organisation=settings.organisation, period=period),
        "more": more,
        "and_more": first.ngettext(", and %(num)d more", ", and %(num)d more", more) % {"num": more} if more else "",
    }
    try:
        return _oneline(pattern.format_map(values))
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        names = ", ".join("{" + k + "}" for k in values)
        raise RenderError(f"digest.subject {pattern!r}: cannot fill it ({exc!r}); it may use {names}") from None


def browser_url(edition: Edition, settings: Settings) -> str:
    """The web version of an edition (the same for every member)."""
    return f"{settings.base_url}/editions/{edition.key}"


# ---- context -----------------------------------------------------------------


def _label(settings: Settings, slug: str, lang: Language) -> str:
    # A topic dropped from the taxonomy after the edition was built must not
    # stop a send: show its slug in words instead.
    try:
        topic = settings.topic(slug)
        return lang.join([topic.label_in(p.tag) for p in lang.parts])
    except KeyError:
        return slug.replace("-", " ").capitalize()


def _byline(item: EditionItem, lang: Language) -> str:
    author = _oneline(item.author or "")
    role = _oneline(item.author_role or "")
    if not author:
        return ""
    first = lang.parts[0]  # the name is said once, so "By" in the first language
    if role:
        return first.gettext("By %(author)s, %(role)s") % {"author": author, "role": role}
    return first.gettext("By %(author)s") % {"author": author}


COLUMN_WIDTH = 536  # 600 px email less two 32 px gutters: the lead picture's shown width
THUMB_WIDTH = 96
TOC_AFTER = 4  # "In this issue" when an edition has more articles than this


def _image(image, shown_width: int, settings: Settings) -> dict | None:
    """src/width/height/alt of a picture shown `shown_width` px wide, or None when it cannot be shown."""
    if image is None or not image.usable:
        return None
    source = image.pick(shown_width)
    if source is None or not (source.url.startswith("https://") or
                              (settings.http_images and source.url.startswith("http://"))):
        return None
    width = min(shown_width, source.width)
    height = max(1, round(width * source.height / source.width))
    return {"src": source.url, "width": width, "height": height, "alt": _oneline(image.alt)}


def _groups(articles: list[dict], items: list[EditionItem], settings: Settings,
            member_topics: tuple[str, ...], lang: Language) -> list[dict]:
    """The articles as the layout orders them: one untitled group (newest), or the
    lead story then one group per topic in taxonomy order (by-topic)."""
    if settings.layout != "by-topic" or len(articles) < 2:
        return [{"heading": "", "articles": articles}]
    order = [t.slug for t in settings.topics]
    chosen = set(member_topics) or set(order)
    groups: dict[str, list[dict]] = {}
    for a, it in zip(articles[1:], items[1:]):
        mine = [t for t in it.topics if t in chosen] or list(it.topics)
        slug = min(mine, key=lambda t: order.index(t) if t in order else len(order)) if mine else ""
        groups.setdefault(slug, []).append(a)
    out = [{"heading": "", "articles": articles[:1]}]
    for slug in sorted(groups, key=lambda t: (t == "", order.index(t) if t in order else len(order))):
        heading = _label(settings, slug, lang) if slug else lang.gettext("Other news")
        # Under its topic's heading an article's label names only its other topics.
        out.append({"heading": heading,
                    "articles": [dict(a, topics=[t for t in a["topics"] if t != heading]) for a in groups[slug]]})
    for g in out:
        for n, a in enumerate(g["articles"]):
            a["first_in_list"] = n == 0 and (g is out[0] or bool(g["heading"]))
    return out


def _context(edition: Edition, settings: Settings, items: list[EditionItem], member_topics: tuple[str, ...],
             web: Mapping | None, lang: Language) -> dict:
    tz = settings.timezone
    frequency = edition.frequency or edition.window.frequency
    articles = [_article(n, it, settings, lang, tz, len(items)) for n, it in enumerate(items)]
    subject, preheader = _own_words(edition, settings, lang, items)
    edition_notes = notes(edition, lang, settings.language)
    chosen = [_label(settings, s, lang) for s in member_topics]
    each_dates = [fmt_.window_dates(edition.window, frequency, tz, p) for p in lang.parts]
    dates = PerLanguage(each_dates) if len(lang.parts) > 1 else each_dates[0]
    intro = lang.join([_intro(len(articles), d, web is not None, bool(member_topics), p)
                       for d, p in zip(each_dates, lang.parts)])
    logo = logo_of(settings)
    web = dict(web or {})
    groups = _groups(articles, items, settings, member_topics, lang)
    return {
        "lang": lang.html_tag,
        # Each article says its own language (a.lang); this is kept for branding templates made before that.
        "content_lang": "" if lang.html_tag == settings.language else settings.language,
        "organisation": settings.organisation,
        "address": _oneline(settings.address),
        "website": settings.website,
        "subject": subject,
        "preheader": preheader,
        "frequency": frequency,
        "frequency_label": frequency_label(frequency, lang),
        "dates": dates,
        "articles": articles,
        # Each language's note ({"lang", "paras", "text"}); note/note_text: the first's, for branding templates.
        "notes": edition_notes,
        "note": edition_notes[0]["paras"] if edition_notes else [],
        "note_text": edition_notes[0]["text"] if edition_notes else [],
        "groups": groups,
        # "In this issue" in the order the articles follow (by-topic moves them)
        "toc": [a for g in groups for a in g["articles"]] if len(articles) > TOC_AFTER else [],
        "intro": intro,
        "count": len(articles),
        "member_topics": chosen,
        "chose": _chose(settings, member_topics, lang),  # as before, for branding templates that use it
        "asked_for": _asked_for(settings, member_topics, lang),
        "browser_url": browser_url(edition, settings),
        "preferences_url": SLOT_MARKERS["preferences_url"],
        "unsubscribe_url": SLOT_MARKERS["unsubscribe_url"],
        "name_slot": SLOT_MARKERS["name"],
        "colours": fmt_.palettes(settings.brand_colour, settings.accent_colour),
        "font_stack": FONT_STACK,
        "logo": logo,
        "web": bool(web),
        "subscribe_url": web.get("subscribe_url", ""),
        "previous_url": web.get("previous_url", ""),
        "next_url": web.get("next_url", ""),
        "archive_url": web.get("archive_url", ""),
        # The web version's preview card: the lead picture, else the logo.
        "share_image": next((a["lead_image"] or a["thumb"] for a in articles[:1] if a["lead_image"] or a["thumb"]),
                            logo if logo and logo["width"] else None),
    }


def logo_of(settings: Settings) -> dict | None:
    """The masthead's logo (src, width, height, alt), or None without [branding] logo_url."""
    if not settings.logo_url:
        return None
    return {"src": settings.logo_url, "width": settings.logo_width, "height": settings.logo_height,
            "alt": settings.logo_alt or settings.organisation}


def _article(n: int, it: EditionItem, settings: Settings, lang: Language, tz, count: int) -> dict:
    """One article as the templates show it; the first has the lead picture, the others thumbnails (images = all)."""
    lead = n == 0 and settings.images != "none"
    thumb = n > 0 and settings.images == "all"
    own = shown(it, lang, settings.language)  # in the member's language where there is a version in it
    return {
        "title": _oneline(own.title),
        "url": own.url.strip(),
        "lang": own.lang,  # its words' lang attribute when they are not in the email's language
        "only_in": own.only_in,  # "Saesneg yn unig"
        # A stand-in link goes to the website, not the story: the headline is no link, one "on our website" link is.
        "stand_in": it.stand_in_link,
        "byline": _byline(it, lang),
        "date": lang.long_date(fmt_.local_date(it.published_at, tz)),
        "topics": [_label(settings, s, lang) for s in it.topics],
        "paragraphs": [_oneline(p) for p in re.split(r"\n\s*\n", own.summary or "") if p.strip()],
        "lead_image": _image(it.image, COLUMN_WIDTH, settings) if lead else None,
        "thumb": _image(it.image, THUMB_WIDTH, settings) if thumb else None,
        "first_in_list": n == 0,
        "lead": n == 0 and count > 1,  # the lead story looks like one, with or without a picture
    }


def _chose(settings: Settings, member_topics: tuple[str, ...], lang: Language) -> str:
    """The member's topics as the footer names them ("all topics"), per language in a bilingual email."""
    each = [", ".join(_label(settings, s, p) for s in member_topics) if member_topics else p.gettext("all topics")
            for p in lang.parts]
    return PerLanguage(each) if len(each) > 1 else each[0]


def _asked_for(settings: Settings, member_topics: tuple[str, ...], lang: Language) -> str:
    """What the member asked for, as a person says it ("news on every topic", "news on A, B and C"),
    per language in a bilingual email."""
    each = []
    for p in lang.parts:
        labels = [_label(settings, s, p) for s in member_topics]
        if not labels:
            each.append(p.gettext("news on every topic"))
            continue
        # TRANSLATORS: the last two topics of a list ("Data protection, Cyber security and Schools").
        listed = labels[0] if len(labels) == 1 else p.gettext("%(first)s and %(last)s") % {
            "first": ", ".join(labels[:-1]), "last": labels[-1]}
        each.append(p.ngettext("news on %(topics)s", "news on %(topics)s", len(labels)) % {"topics": listed})
    return PerLanguage(each) if len(each) > 1 else each[0]


def _intro(n: int, dates: str, web: bool, chose_topics: bool, lang: Language) -> str:
    """The sentence above the articles: how many, from when (and, for a member, on their topics)."""
    values = {"num": n, "dates": dates}
    if web:
        return lang.ngettext("%(num)d article from %(dates)s.", "%(num)d articles from %(dates)s.", n) % values
    if chose_topics:
        return lang.ngettext("Here is %(num)d article from %(dates)s on the topics you chose.",
                             "Here are %(num)d articles from %(dates)s on the topics you chose.", n) % values
    return lang.ngettext("Here is %(num)d article from %(dates)s.", "Here are %(num)d articles from %(dates)s.",
                         n) % values


def frequency_label(frequency: str, lang: Language) -> str:
    """'Weekly digest' in the language."""
    labels = {"daily": lang.gettext("Daily digest"), "weekly": lang.gettext("Weekly digest"),
              "monthly": lang.gettext("Monthly digest")}
    return labels.get(frequency) or lang.gettext("Digest")


def _oneline(s: str) -> str:
    return " ".join(s.split())


def _truncate(s: str, limit: int) -> str:
    if len(s) <= limit:
        return s
    cut = s[: limit - 1].rsplit(" ", 1)[0].rstrip(" ;,:.")
    return cut + "…"


# ---- templates, MJML, premailer ----------------------------------------------


@lru_cache(maxsize=16)
def _environment(own_dir: str = "", tag: str = "") -> jinja2.Environment:
    """Templates from the organisation's folder ([digest] templates_dir) first, the shipped ones second;
    one environment per language, its catalogue installed for {% trans %} and _()."""
    loaders = [jinja2.FileSystemLoader(own_dir)] if own_dir else []
    loaders.append(jinja2.FileSystemLoader(str(TEMPLATES_DIR)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        # HTML and MJML are escaped; the plain-text part must not be.
        autoescape=lambda name: not (name or "").endswith(".txt.j2"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
        bytecode_cache=diskcache.templates(),  # a new process loads the compiled templates, not their source
    )
    words = language(tag or DEFAULT_TAG)
    env.install_gettext_translations(words.translations, newstyle=True)
    if isinstance(words, Bilingual):  # each language's sentence with its own dates and words, joined
        env.globals.update(gettext=_bilingual_gettext, _=_bilingual_gettext, ngettext=_bilingual_ngettext)
        env.globals["bilingual"] = words
    return env


@jinja2.pass_context
def _bilingual_gettext(context, message: str, **values) -> str:
    wrap = Markup if context.eval_ctx.autoescape else str
    return context["bilingual"].each(lambda p: p.gettext(message), values, wrap)


@jinja2.pass_context
def _bilingual_ngettext(context, singular: str, plural: str, num: int, **values) -> str:
    wrap = Markup if context.eval_ctx.autoescape else str
    return context["bilingual"].each(lambda p: p.ngettext(singular, plural, num), {"num": num, **values}, wrap)


def _render_template(name: str, context: Mapping, own_dir: str = "", tag: str = "") -> str:
    try:
        return _environment(own_dir, tag).get_template(name).render(**context)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"template {exc.name} not found in {TEMPLATES_DIR}") from None
    except jinja2.TemplateError as exc:
        where = f"{getattr(exc, 'name', None) or name}:{getattr(exc, 'lineno', '?')}"
        raise RenderError(f"template {where}: {exc.message or exc}") from None
    except RecursionError:  # a macro or include that calls itself: name where, without the thousand frames
        raise RenderError(f"template {_template_line(sys.exc_info()[2], name)}: calls itself without end "
                          "(a macro or include that never stops)") from None
    except Exception as exc:  # an organisation's template may raise anything (1/0, a method of None): one line
        raise RenderError(f"template {_template_line(exc.__traceback__, name)}: "
                          f"{type(exc).__name__}: {exc}") from None


def _template_line(tb, name: str) -> str:
    """`file:line` of the innermost template frame of a traceback (Jinja2 maps its frames to template lines)."""
    where = f"{name}:?"
    for frame, lineno in traceback.walk_tb(tb):
        filename = frame.f_code.co_filename
        if filename.endswith((".j2", ".html", ".xml", ".txt", ".css", ".js")):
            where = f"{filename}:{lineno}"
    return where


_PREVIEW_WHITE = "display:none;font-size:1px;color:#ffffff;"  # mj-preview's div, as mjml-python writes it


def _render_html(context: Mapping, settings: Settings, tag: str, *, template: str = HTML_TEMPLATE,
                 css_template: str = CSS_TEMPLATE, reuse: bool = False) -> str:
    """Jinja2 -> MJML -> premailer; an announcement passes its own templates (edition/announcement.py)."""
    from mjml import mjml2html  # the compiled extension: load it only when HTML is wanted

    source = _render_template(template, context, settings.templates_dir, tag)
    try:
        compiled = mjml2html(source, disable_comments=True, fonts={})
    except ValueError as exc:
        raise RenderError(f"MJML ({template}): {exc}") from None
    RENDER_STATS.count(compiles=1)
    # MJML paints the hidden preheader white; on a tinted page spam filters read
    # that as text hidden by colour (SpamAssassin's HTML_FONT_LOW_CONTRAST).
    compiled = compiled.replace(_PREVIEW_WHITE, _PREVIEW_WHITE.replace("#ffffff", context["colours"].light.footer_text), 1)
    if context["web"]:
        # A web page, not an email: MJML's "email" article named by the subject would sit outside every
        # landmark (axe: region); the page's own header, main and footer say what it is.
        compiled = _EMAIL_WRAPPER.sub(r"\1\2", compiled, count=1)
    css = _render_template(css_template, context, settings.templates_dir, tag)
    return inline_css(compiled, css, settings.base_url, reuse=reuse)


_EMAIL_WRAPPER = re.compile(r'(<div) aria-label="[^"]*" aria-roledescription="email"( class="dm-page") role="article"')

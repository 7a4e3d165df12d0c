"""The gate before an edition is built: a mailing that will not go out wrong.

An edition is held (nothing built, queued or sent) when any configured
source failed in this run, when a source has nothing newer than its
max_age_days before the edition's END (so re-running an old week judges it
as it stood then), when the edition would have fewer than min_articles, or
([organisation] require_every_language) when the editor's words are missing
in a configured language.
`hold_reasons` is pure; `gate_problems` reads what it needs from the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Mapping, Sequence
from zoneinfo import ZoneInfo

from ..config import Settings, SourceSettings
from ..db import Database
from ..db import articles as article_db
from ..db import editions as edition_db
from ..i18n import Language, language
from ..models import Window
from .text import missing_lines, missing_words


def hold_reasons(
    window: Window,
    sources: Sequence[SourceSettings],
    failed: Mapping[str, str],
    newest: Mapping[str, datetime | None],
    articles: int,
    min_articles: int,
    *,
    tz: str = "UTC",
    lang: Language | None = None,
) -> list[str]:
    """One line per reason to hold the edition of `window`; [] when it may go.

    failed: source name -> its error in this run; newest: source name -> its
    newest article published before the window's end (None: none at all). In the editors' language
    (lang, else English); a source's own error stays as the fetch gave it.
    """
    zone, words = ZoneInfo(tz), lang or language()
    _ = words.gettext
    out = []
    for src in sources:
        if src.name in failed:
            out.append(_("source %(source)s failed: %(error)s") % {"source": src.name, "error": failed[src.name]})
            continue
        limit = window.end - timedelta(days=src.max_age_days)
        last = newest.get(src.name)
        names = {"source": src.name, "edition": window.key, "days": src.max_age_days}
        if last is None:
            out.append(_("source %(source)s is stale: it has no article published before the end of %(edition)s")
                       % names)
        elif last < limit:
            out.append(_("source %(source)s is stale: its newest article before the end of %(edition)s is from "
                         "%(day)s, more than %(days)d days before it (max_age_days = %(days)d)")
                       % {**names, "day": f"{last.astimezone(zone):%Y-%m-%d}"})
    if articles < min_articles:
        out.append(words.ngettext("edition %(edition)s would have %(num)d article(s), fewer than min_articles = %(min)d",
                                  "edition %(edition)s would have %(num)d article(s), fewer than min_articles = %(min)d",
                                  articles) % {"edition": window.key, "num": articles, "min": min_articles})
    return out


def gate_problems(db: Database, settings: Settings, window: Window, failed: Mapping[str, str],
                  articles: int) -> list[str]:
    """hold_reasons with each configured source's newest article before the window's end."""
    with db.connect() as conn:
        newest = {src.name: article_db.newest_published(conn, src.name, before=window.end)
                  for src in settings.sources}
        text = edition_db.load_text(conn, window.key) if settings.require_every_language else None
    lang = language(settings.editor_language)
    held = hold_reasons(window, settings.sources, failed, newest, articles, settings.min_articles,
                        tz=settings.timezone, lang=lang)
    if text is not None:  # the organisation sends every language at once: one missing holds the edition
        first = text.in_language(settings.language, settings.language)
        held += missing_lines(window.key, missing_words(first, text.words, settings.languages), lang)
    return held

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
) -> list[str]:
    """One line per reason to hold the edition of `window`; [] when it may go.

    failed: source name -> its error in this run; newest: source name -> its
    newest article published before the window's end (None: none at all).
    """
    zone = ZoneInfo(tz)
    out = []
    for src in sources:
        if src.name in failed:
            out.append(f"source {src.name} failed: {failed[src.name]}")
            continue
        limit = window.end - timedelta(days=src.max_age_days)
        last = newest.get(src.name)
        if last is None:
            out.append(f"source {src.name} is stale: it has no article published before the end of {window.key}")
        elif last < limit:
            out.append(f"source {src.name} is stale: its newest article before the end of {window.key} is from "
                       f"{last.astimezone(zone):%Y-%m-%d}, more than {src.max_age_days} days before it "
                       f"(max_age_days = {src.max_age_days})")
    if articles < min_articles:
        out.append(f"edition {window.key} would have {articles} article(s), fewer than min_articles = {min_articles}")
    return out


def gate_problems(db: Database, settings: Settings, window: Window, failed: Mapping[str, str],
                  articles: int) -> list[str]:
    """hold_reasons with each configured source's newest article before the window's end."""
    with db.connect() as conn:
        newest = {src.name: article_db.newest_published(conn, src.name, before=window.end)
                  for src in settings.sources}
        text = edition_db.load_text(conn, window.key) if settings.require_every_language else None
    held = hold_reasons(window, settings.sources, failed, newest, articles, settings.min_articles,
                        tz=settings.timezone)
    if text is not None:  # the organisation sends every language at once: one missing holds the edition
        first = text.in_language(settings.language, settings.language)
        held += missing_lines(window.key, missing_words(first, text.words, settings.languages))
    return held

"""Wiring of the stages: ingest sources into the database, plan an edition.

The stages themselves are pure (topics, selection, summarise, render); this
module reads and writes the database around them, one transaction per unit of
work (a source, an edition).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Collection, Sequence

from .config import Settings
from .db import Database
from .db import articles as article_db
from .errors import IngestError
from .models import Article, Edition, EditionItem, Window


@dataclass
class SourceReport:
    source: str
    kind: str = ""
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)
    error: str | None = None  # the whole source failed; nothing was written


def ingest_sources(
    db: Database,
    settings: Settings,
    sources: Sequence[str],
    *,
    published: datetime | None = None,
    now: datetime,
) -> list[SourceReport]:
    """Read, parse, tag and store each source in a transaction of its own.

    A source that fails leaves the database as it was and does not stop the
    others; its report carries the one-line error.
    """
    from .ingest import load_source
    from .topics import classify

    reports = []
    with db.begin() as conn:
        article_db.sync_topics(conn, settings.topics)
    for source in sources:
        report = SourceReport(source)
        reports.append(report)
        try:
            parsed = load_source(source, site_url=settings.website)
        except IngestError as exc:
            report.error = str(exc)
            continue
        report.kind = parsed.kind
        report.problems = list(parsed.problems)
        with db.begin() as conn:
            for article in parsed.articles:
                if article.published_at is None and published is not None:
                    article.published_at = published
                reasons = classify(article, settings.topics)
                result = article_db.upsert_article(conn, article, reasons, now=now)
                if result.created:
                    report.new += 1
                elif result.changed:
                    report.updated += 1
                else:
                    report.unchanged += 1
    return reports


def plan_edition(
    db: Database,
    settings: Settings,
    window: Window,
    *,
    topics: Collection[str] | None = None,
) -> Edition:
    """Choose and summarise the articles of a window: an edition not yet saved."""
    from .selection import select
    from .summarise import summarise

    with db.connect() as conn:
        candidates = article_db.list_articles(conn, since=window.start, until=window.end)
    chosen = select(candidates, window, topics=topics, size=settings.edition_size)
    items = [edition_item(a, pos, summarise(a, settings.summary_words)) for pos, a in enumerate(chosen)]
    edition = Edition(key=window.key, frequency=window.frequency, window=window, items=items)
    edition.warnings = edition_warnings(chosen, candidates, window)
    return edition


def edition_item(article: Article, position: int, summary: str) -> EditionItem:
    assert article.id is not None and article.published_at is not None
    return EditionItem(
        article_id=article.id,
        position=position,
        title=article.title,
        url=article.url or "",
        author=article.author,
        author_role=article.author_role,
        published_at=article.published_at,
        topics=tuple(article.topics),
        summary=summary,
        pinned=article.pinned,
    )


def edition_warnings(chosen: Sequence[Article], candidates: Sequence[Article], window: Window) -> list[str]:
    warnings = []
    if not chosen:
        warnings.append(f"no articles in {window.key}: nothing would be sent")
    for a in chosen:
        if not (a.teaser or "").strip() and not a.summary_override:
            warnings.append(f"article {a.id} “{a.title}” has no teaser: its summary comes from the body")
        if not a.url:
            warnings.append(f"article {a.id} “{a.title}” has no link")
        if not a.topics:
            warnings.append(f"article {a.id} “{a.title}” has no topic: only members who chose all topics get it")
    left_out = len([a for a in candidates if not a.excluded]) - len(chosen)
    if left_out > 0 and chosen:
        warnings.append(f"{left_out} more article(s) in {window.key} did not fit the edition size")
    return warnings

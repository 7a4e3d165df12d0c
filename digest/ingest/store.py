"""Ingest sources into the database: read, parse, tag, store, one transaction per source."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from datetime import datetime
from typing import Sequence

from ..config import Settings
from ..db import Database
from ..db import articles as article_db
from ..edition.topics import classify
from ..errors import IngestError
from . import load_source
from ..outbound import for_settings
from .images import fetch_size, measure, no_picture_fetch


def tally(report, title: str, result: article_db.Upserted) -> None:
    """Count one stored article in a SourceReport (or a refresh's SourceRun): new, updated,
    unchanged, or kept once (already in from another source, with a line saying so)."""
    if result.twin_of is not None:
        report.problems.append(f"“{title}” is already in from {result.twin_of} (article {result.id}): kept once")
        report.kept_once += 1
    elif result.created:
        report.new += 1
    elif result.changed:
        report.updated += 1
    else:
        report.unchanged += 1


@dataclass
class SourceReport:
    source: str
    kind: str = ""
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_once: int = 0  # stories already in from another source (a feed and a listing export)
    problems: list[str] = field(default_factory=list)
    error: str | None = None  # the whole source failed; nothing was written

    def counts(self) -> str:
        """'3 new, 1 updated, 0 unchanged' (', 5 already in from another source' when there are such)."""
        return (f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged"
                + (f", {self.kept_once} already in from another source" if self.kept_once else ""))


def ingest_sources(
    db: Database,
    settings: Settings,
    sources: Sequence[str],
    *,
    published: datetime | None = None,
    now: datetime,
    fetch_image=None,
) -> list[SourceReport]:
    """Read, parse, tag and store each source in a transaction of its own.

    A source that fails leaves the database as it was and does not stop the
    others; its report carries the one-line error. Each article's picture is
    measured once (fetch_image(url) -> (width, height, bytes); default: fetch
    it, bounded in size and time), before the source's transaction.
    """
    reports = []
    client = for_settings(settings)
    if fetch_image is None and settings.fetch_images:
        fetch_image = partial(fetch_size, client=client, https_only=not settings.http_images)
    with db.begin() as conn:
        article_db.sync_topics(conn, settings.topics)
    for source in sources:
        report = SourceReport(source)
        reports.append(report)
        try:
            parsed = load_source(source, site_url=settings.website, client=client)
        except IngestError as exc:
            report.error = str(exc)
            continue
        report.kind = parsed.kind
        report.problems = list(parsed.problems)
        if fetch_image is None and not settings.fetch_images:
            fetch_image = no_picture_fetch
        with db.connect() as conn:
            known = article_db.known_images(conn, [a.dedupe_key for a in parsed.articles])
        for article, image in zip(parsed.articles, measure([a.image for a in parsed.articles],
                                                           fetch=fetch_image, known=known)):
            article.image = image
        with db.begin() as conn:
            for article in parsed.articles:
                if article.published_at is None and published is not None:
                    article.published_at = published
                reasons = classify(article, settings.topics)
                result = article_db.upsert_article(conn, article, reasons, now=now)
                if article.date_unreadable and article.published_at is None and \
                        article_db.undated_ids(conn, [result.id]):
                    report.problems.append(
                        f"article {result.id} “{article.title}” has no date and is in no edition: "
                        f"give it one with `digest article date {result.id} YYYY-MM-DD`")
                tally(report, article.title, result)
    return reports

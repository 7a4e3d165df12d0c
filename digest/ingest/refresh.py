"""Fetch the configured [[sources]] into the database, one transaction per source.

    runs = refresh_sources(db, settings, now=now)            # all of them
    runs = refresh_sources(db, settings, ["news"], now=now)  # by name
    [r.line() for r in runs if r.error]                      # "news: https://...: HTTP 404 Not Found"

Each source is read politely (digest.ingest.fetch: the ETag / Last-Modified
of its last download, so an unchanged feed costs a 304), parsed, tagged and
stored in a transaction of its own together with its health row (last
fetched, last success, items seen, newest item, validators, a permanent
redirect). A source that fails records its error in its own transaction and
leaves its articles as they were; the others still land.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from ..config import Settings, SourceSettings
from ..db import Database
from ..db import articles as article_db
from ..db import sources as source_db
from ..edition.topics import classify
from ..errors import IngestError
from ..models import Article, TopicReason
from . import ParsedSource, more_pages, parse_source
from ..outbound import Deadline, for_settings
from .fetch import FetchLimits, Fetched, fetch_url, read_path
from .listing import fill_link_template
from .store import tally


@dataclass
class SourceRun:
    """What one source did in this run."""

    name: str
    location: str
    kind: str = ""
    not_modified: bool = False  # a 304: nothing downloaded
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_once: int = 0  # stories already in from another source
    items: int = 0
    moved_to: str | None = None
    problems: list[str] = field(default_factory=list)
    error: str | None = None  # the whole source failed; nothing of it was written

    def line(self) -> str:
        """One line for the terminal or the editors' email."""
        if self.error:
            return f"source {self.name}: {self.error}"
        if self.not_modified:
            return f"source {self.name}: not modified since the last fetch"
        return (f"source {self.name}: {self.kind}, {self.items} item(s): {self.new} new, {self.updated} updated, "
                f"{self.unchanged} unchanged"
                + (f", {self.kept_once} already in from another source" if self.kept_once else ""))


def refresh_sources(db: Database, settings: Settings, names: list[str] | tuple[str, ...] | None = None, *,
                    now: datetime, undated_at: datetime | None = None) -> list[SourceRun]:
    """Fetch the named configured sources (all when None) in configuration order.

    undated_at: the date a new article without one of its own is given (default
    now); the mailing gives the end of the week it is about to build.
    """
    wanted = settings.sources if names is None else [settings.source_named(n) for n in names]
    with db.begin() as conn:
        article_db.sync_topics(conn, settings.topics)
    return [_refresh(db, settings, src, now=now, undated_at=undated_at) for src in wanted]


def _refresh(db: Database, settings: Settings, src: SourceSettings, *, now: datetime,
             undated_at: datetime | None = None) -> SourceRun:
    run = SourceRun(src.name, src.location)
    with db.connect() as conn:
        health = source_db.load(conn, src.name) or source_db.SourceHealth(src.name, src.location)
    if health.location != src.location:  # the configuration moved it: the old validators mean nothing
        health = source_db.SourceHealth(src.name, src.location)
    health.last_fetched_at = now
    try:
        parsed, got = _read(settings, src, health)
    except IngestError as exc:
        run.error = str(exc)
        health.last_error = str(exc)
        with db.begin() as conn:
            source_db.save(conn, health)
        return run
    health.last_error = None
    health.last_success_at = now
    if got is not None:
        health.etag, health.last_modified = got.etag, got.last_modified
        health.moved_to = run.moved_to = got.moved_to
    if parsed is None:  # 304
        run.not_modified = True
        run.kind = health.kind or ""
        with db.begin() as conn:
            source_db.save(conn, health)
        return run
    run.kind = health.kind = parsed.kind
    run.problems = list(parsed.problems)
    run.items = health.items_last_seen = len(parsed.articles)
    with db.begin() as conn:
        for article in parsed.articles:
            _prepare(conn, settings, src, parsed.kind, article, now=now)
            reasons = ([TopicReason(t, f"every article of source {src.name}") for t in src.topics]
                       if src.topics else classify(article, settings.topics))
            result = article_db.upsert_article(conn, article, reasons, now=now, undated_at=undated_at)
            tally(run, article.title, result)
        dates = [a.published_at for a in parsed.articles if a.published_at is not None]
        health.newest_item_at = max(dates) if dates else (now if parsed.articles else health.newest_item_at)
        source_db.save(conn, health)
    return run


def _read(settings: Settings, src: SourceSettings,
          health: source_db.SourceHealth) -> tuple[ParsedSource | None, Fetched | None]:
    """(parsed source, the HTTP answer) of a URL or path; (None, answer) when it was not modified."""
    site = src.website or settings.website
    if not src.is_url:
        data = read_path(src.location)
        return parse_source(data, src.location, site_url=site, kind=src.kind), None
    limits = FetchLimits(read_timeout=settings.fetch_timeout, deadline=settings.fetch_deadline)
    client, deadline = for_settings(settings), Deadline(settings.fetch_deadline)  # one deadline for every page
    got = fetch_url(src.location, etag=health.etag, last_modified=health.last_modified, limits=limits,
                    client=client, deadline=deadline)
    if got.not_modified:
        return None, got
    parsed = parse_source(got.body or b"", src.location, content_type=got.content_type, site_url=site, kind=src.kind)
    parsed = more_pages(parsed, got, lambda url: fetch_url(url, limits=limits, client=client, deadline=deadline),
                        site_url=site)
    return parsed, got


def _prepare(conn, settings: Settings, src: SourceSettings, kind: str, article: Article, *, now: datetime) -> None:
    """Name the source on the article; give a listing export's article its templated link."""
    article.source = src.name
    if kind == "listing" and src.link_template:
        # The date a listing article was first seen is its date: keep it, so its link stays the same.
        when = article.published_at or article_db.first_published(conn, article.dedupe_key) or now
        article.url = fill_link_template(src.link_template, article.title, when.astimezone(ZoneInfo(settings.timezone)))
        article.link_origin = "template"

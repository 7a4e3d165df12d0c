"""Sources into the database, one transaction per source: the one path for every door.

    reports = ingest_sources(db, settings, ["news.xml", "https://..."], now=now)   # digest ingest
    reports = refresh_sources(db, settings, now=now)                               # the configured [[sources]]
    [r.line() for r in reports]      "source news: rss, 2 item(s): 2 new, 0 updated, 0 unchanged"

Each source is read (politely: a configured source's last validators make an
unchanged feed cost a 304), parsed, its pictures measured, tagged and stored
in a transaction of its own; a configured source's health row (last fetched,
last success, items seen, newest item, validators, a permanent redirect) goes
in the same transaction. Any failure while reading or parsing one source -
an unreachable server, a refused address, a parser bomb (RecursionError), a
parser's own bug - is that source's failure: reported by name in one line,
recorded in its health, nothing of it written; the other sources still land
and the gate holds the edition as for a 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Sequence
from zoneinfo import ZoneInfo

from ..config import Settings, SourceSettings
from ..db import Database
from ..db import articles as article_db
from ..db import sources as source_db
from ..edition.topics import classify
from ..errors import DatabaseError, IngestError
from ..i18n import locale_of
from ..models import Article, TopicReason, same_language
from ..outbound import Deadline, Outbound, for_settings, redact
from .detect import ParsedSource, parse_source
from .fetch import FetchLimits, Fetched, fetch_url, is_url, read_path
from .images import fetch_size, measure, no_picture_fetch
from .items import MAX_LINK
from .listing import fill_link_template
from .load import more_pages
from .resolve import LinkResolver

MAX_PAGE = 10 * 2**20  # a page or a sitemap read to resolve links (a sitemap holds at most 50,000 URLs)

__all__ = ["SourceReport", "ingest_sources", "refresh_sources", "ingest_source", "failure", "tally"]


@dataclass
class SourceReport:
    """What one source did in this run (a configured one is named; a one-off by its path or URL)."""

    name: str
    location: str
    configured: bool = True
    kind: str = ""
    not_modified: bool = False  # a 304: nothing downloaded
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_once: int = 0  # stories already in from another source (a feed and a listing export)
    items: int = 0
    moved_to: str | None = None
    problems: list[str] = field(default_factory=list)
    error: str | None = None  # the whole source failed; nothing of it was written

    def counts(self) -> str:
        """'3 new, 1 updated, 0 unchanged' (', 5 already in from another source' when there are such)."""
        return (f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged"
                + (f", {self.kept_once} already in from another source" if self.kept_once else ""))

    def line(self) -> str:
        """One line for the terminal, the desk or the editors' email."""
        if not self.configured:
            return self.error or f"{redact(self.location)}: {self.kind}, {self.counts()}"
        if self.error:
            return f"source {self.name}: {self.error}"
        if self.not_modified:
            return f"source {self.name}: not modified since the last fetch"
        return f"source {self.name}: {self.kind}, {self.items} item(s): {self.counts()}"


def tally(report: SourceReport, title: str, result: article_db.Upserted) -> None:
    """Count one stored article: new, updated, unchanged, or kept once (with a line saying so)."""
    if result.twin_of is not None:
        report.problems.append(f"“{title}” is already in from {result.twin_of} (article {result.id}): kept once")
        report.kept_once += 1
    elif result.created:
        report.new += 1
    elif result.changed:
        report.updated += 1
    else:
        report.unchanged += 1


def failure(exc: BaseException, location: str) -> str:
    """One line for any failure of one source: an IngestError says it; anything else is named for what it is."""
    if isinstance(exc, IngestError):
        return str(exc)
    if isinstance(exc, RecursionError):
        reason = "nested too deeply to read (a parser bomb?): refused"
    elif isinstance(exc, MemoryError):
        reason = "too big to read in memory: refused"
    else:
        detail = " ".join(str(exc).split())[:200]
        reason = f"could not be read: {type(exc).__name__}" + (f" ({detail})" if detail else "")
    return str(IngestError(redact(location), reason))


def ingest_sources(db: Database, settings: Settings, sources: Sequence[str], *, published: datetime | None = None,
                   now: datetime, fetch_image=None) -> list[SourceReport]:
    """`digest ingest`: paths and URLs, each read, parsed and stored like a configured source.

    published: the date of articles whose source gives none (a listing export).
    fetch_image(url) -> (width, height, bytes): how pictures are measured
    (default: fetched through the outbound client, when [digest] fetch_images).
    """
    one_off = [SourceSettings(name=redact(s), location=s) for s in sources]  # named without a password
    return _ingest_all(db, settings, one_off, configured=False, now=now, published=published,
                       fetch_image=fetch_image)


def refresh_sources(db: Database, settings: Settings, names: Sequence[str] | None = None, *, now: datetime,
                    undated_at: datetime | None = None, fetch_image=None) -> list[SourceReport]:
    """The named configured sources (all when None), in configuration order, each with its health.

    undated_at: the date a new article without one of its own is given (default
    now); the mailing gives the end of the week it is about to build.
    """
    wanted = settings.sources if names is None else [settings.source_named(n) for n in names]
    return _ingest_all(db, settings, wanted, configured=True, now=now, undated_at=undated_at,
                       fetch_image=fetch_image)


def _ingest_all(db: Database, settings: Settings, sources: Sequence[SourceSettings], *, configured: bool,
                now: datetime, **options) -> list[SourceReport]:
    with db.begin() as conn:
        article_db.sync_topics(conn, settings.topics)
    client = for_settings(settings)
    if options.get("fetch_image") is None:
        options["fetch_image"] = (partial(fetch_size, client=client, https_only=not settings.http_images)
                                  if settings.fetch_images else no_picture_fetch)
    resolvers: dict[str, LinkResolver] = {}  # one per sitemap for the run: each sitemap is read once
    return [ingest_source(db, settings, src, configured=configured, now=now, client=client, resolvers=resolvers,
                          **options) for src in sources]


def ingest_source(db: Database, settings: Settings, src: SourceSettings, *, configured: bool, now: datetime,
                  client: Outbound, fetch_image, published: datetime | None = None,
                  undated_at: datetime | None = None, resolvers: dict | None = None) -> SourceReport:
    """Read, parse, measure, tag and store one source; its report (with .error when it failed)."""
    report = SourceReport(src.name, src.location, configured=configured)
    health = _health(db, src, now) if configured else None
    try:
        parsed, got = _read(settings, src, health, client)
        if parsed is not None:
            _measure(db, parsed.articles, fetch_image)
            if src.resolve_links:
                _resolve(db, settings, src, parsed, client, resolvers)
            _store(db, settings, src, parsed, report, health, got, now=now, published=published,
                   undated_at=undated_at)
        elif health is not None:  # 304
            _succeeded(health, got, now)
            report.not_modified, report.kind = True, health.kind or ""
            with db.begin() as conn:
                source_db.save(conn, health)
    except DatabaseError:
        raise  # the database, not this source: every source would fail the same
    except Exception as exc:  # noqa: BLE001 - any failure of one source is that source's failure
        return _failed(db, src, report, exc, now=now)
    report.moved_to = health.moved_to if health is not None else (got.moved_to if got is not None else None)
    return report


def _failed(db: Database, src: SourceSettings, report: SourceReport, exc: BaseException, *,
            now: datetime) -> SourceReport:
    """The source's one-line failure, in its report and its health; nothing else of it written."""
    report.error = failure(exc, report.location)
    report.kind, report.problems = "", []
    report.new = report.updated = report.unchanged = report.kept_once = report.items = 0
    if report.configured:
        health = _health(db, src, now)  # as stored: nothing of this run's success is kept
        health.last_error = report.error
        with db.begin() as conn:
            source_db.save(conn, health)
    return report


def _health(db: Database, src: SourceSettings, now: datetime) -> source_db.SourceHealth:
    with db.connect() as conn:
        health = source_db.load(conn, src.name) or source_db.SourceHealth(src.name, src.location)
    if health.location != src.location:  # the configuration moved it: the old validators mean nothing
        health = source_db.SourceHealth(src.name, src.location)
    health.last_fetched_at = now
    return health


def _succeeded(health: source_db.SourceHealth, got: Fetched | None, now: datetime) -> None:
    health.last_error = None
    health.last_success_at = now
    if got is not None:
        health.etag = got.etag  # a 304 without an ETag of its own gives back ours (fetch_url)
        health.last_modified = got.last_modified
        health.moved_to = got.moved_to or health.moved_to  # fetched where it moved to: still moved


def _read(settings: Settings, src: SourceSettings, health: source_db.SourceHealth | None,
          client: Outbound) -> tuple[ParsedSource | None, Fetched | None]:
    """(parsed source, the HTTP answer) of a URL or path; (None, answer) when it was not modified.

    One deadline for the whole source: its first page and every further page."""
    site = src.website or settings.website
    label = redact(src.location)  # how its errors and problems name it: never with a password
    if not is_url(src.location):
        data = read_path(src.location)
        return parse_source(data, label, site_url=site, kind=src.kind), None
    limits = FetchLimits(read_timeout=settings.fetch_timeout, deadline=settings.fetch_deadline)
    deadline = Deadline(settings.fetch_deadline)
    # A source that moved permanently (301/308) is fetched where it went, until the configuration follows.
    where = health.moved_to if health is not None and health.moved_to else src.location
    got = fetch_url(where, etag=health.etag if health else None,
                    last_modified=health.last_modified if health else None,
                    limits=limits, client=client, deadline=deadline)
    if got.not_modified:
        return None, got
    parsed = parse_source(got.body or b"", label, content_type=got.content_type, site_url=site, kind=src.kind)
    parsed = more_pages(parsed, got, lambda url: fetch_url(url, limits=limits, client=client, deadline=deadline),
                        site_url=site)
    return parsed, got


def _resolve(db: Database, settings: Settings, src: SourceSettings, parsed: ParsedSource, client: Outbound,
             resolvers: dict | None) -> None:
    """Real links for a listing's articles from the site's sitemap (or WordPress search); found once, kept."""
    todo = [a for a in parsed.articles if a.link_origin != "source"]
    with db.connect() as conn:
        known = article_db.resolved_links(conn, [a.dedupe_key for a in todo])
    deadline = Deadline(settings.fetch_deadline)  # the resolving of one source, all its pages
    limits = FetchLimits(read_timeout=settings.fetch_timeout, deadline=settings.fetch_deadline, max_bytes=MAX_PAGE)
    site = src.website or settings.website
    key = f"{src.resolve_links} {site}"
    resolvers = {} if resolvers is None else resolvers
    resolver = resolvers.setdefault(key, LinkResolver(None, src.resolve_links, site=site))
    resolver.fetch = lambda url: fetch_url(url, limits=limits, client=client, deadline=deadline).body or b""
    found = 0
    for article in todo:
        url = known.get(article.dedupe_key) or resolver.resolve(article.title)
        if url:
            article.url, article.link_origin, found = url, "resolved", found + 1
    where = "the site's WordPress search" if src.resolve_links == "wordpress" else redact(src.resolve_links)
    parsed.problems += [f"{redact(src.location)}: {p}" for p in dict.fromkeys(resolver.problems)]
    resolver.problems.clear()
    if found < len(todo):
        parsed.problems.append(f"{redact(src.location)}: {len(todo) - found} of {len(todo)} article(s) not found "
                               f"through {where}: they keep their stand-in link")


def _measure(db: Database, items: list[Article], fetch_image) -> None:
    """Each article's picture with its real size (once: what was measured before is reused)."""
    with db.connect() as conn:
        known = article_db.known_images(conn, [a.dedupe_key for a in items])
    for article, image in zip(items, measure([a.image for a in items], fetch=fetch_image, known=known)):
        article.image = image


def _store(db: Database, settings: Settings, src: SourceSettings, parsed: ParsedSource, report: SourceReport,
           health: source_db.SourceHealth | None, got: Fetched | None, *, now: datetime, published: datetime | None,
           undated_at: datetime | None) -> None:
    report.kind = parsed.kind
    report.problems = list(parsed.problems)
    report.items = len(parsed.articles)
    if health is not None:
        _succeeded(health, got, now)
    with db.begin() as conn:
        for article in parsed.articles:
            _prepare(conn, settings, src, parsed.kind, article, now=now, published=published)
            reasons = ([TopicReason(t, f"every article of source {src.name}") for t in src.topics]
                       if src.topics else classify(article, settings.topics))
            result = article_db.upsert_article(conn, article, reasons, now=now, undated_at=undated_at)
            if result.created and len(settings.languages) > 1:
                _link_translation(conn, settings, article, result.id)
            if article.date_unreadable and article.published_at is None and \
                    article_db.undated_ids(conn, [result.id]):
                report.problems.append(
                    f"article {result.id} “{article.title}” has no date and is in no edition: "
                    f"give it one with `digest article date {result.id} YYYY-MM-DD`")
            tally(report, article.title, result)
        if health is not None:
            health.kind, health.items_last_seen = parsed.kind, len(parsed.articles)
            dates = [a.published_at for a in parsed.articles if a.published_at is not None]
            health.newest_item_at = max(dates) if dates else (now if parsed.articles else health.newest_item_at)
            source_db.save(conn, health)


def _link_translation(conn, settings: Settings, article: Article, article_id: int) -> None:
    """A new article and its translation, when both are in: as its source names it (WPML, Polylang),
    else the same link with a language's path segment (/cy/)."""
    if article_db.link_by_refs(conn, article_id, article.translation_refs) is None:
        segments = [tag.split("-")[0].lower() for tag in settings.languages[1:]]
        article_db.link_by_path(conn, article_id, article.url, segments)


def article_language(tag: str, languages: Sequence[str]) -> str:
    """An article's language as stored: "" for the organisation's first, a configured tag for one of the
    others ("cy-GB" is "cy" when "cy" is configured), else the tag as the source gave it, if CLDR knows it."""
    tag = tag.strip().replace("_", "-")
    for n, known in enumerate(languages):
        if tag and same_language(tag, known):
            return "" if n == 0 else known
    try:
        locale_of(tag[:35])
    except ValueError:  # a feed's <language> CLDR does not know ("x-pig-latin"): taken as the first language
        return ""
    return tag[:35]


def _prepare(conn, settings: Settings, src: SourceSettings, kind: str, article: Article, *, now: datetime,
             published: datetime | None) -> None:
    """Name the source on the article and its language; date it if asked; give a listing article its
    templated link."""
    article.source = src.name
    article.language = article_language(src.language or article.language, settings.languages)
    if article.published_at is None and published is not None:
        article.published_at = published
    if kind == "listing" and src.link_template and article.link_origin != "resolved":
        # The date a listing article was first seen is its date: keep it, so its link stays the same.
        when = article.published_at or article_db.first_published(conn, article.dedupe_key) or now
        url = fill_link_template(src.link_template, article.title, when.astimezone(ZoneInfo(settings.timezone)))
        if len(url) <= MAX_LINK:  # else the stand-in link stays (a title of thousands of characters)
            article.url, article.link_origin = url, "template"

"""Ingestion: read a source (a path or an http(s) URL) and parse it into Articles.

    load_source("https://www.example.org/feed/")          RSS 0.9x/1.0/2.0 or Atom
    load_source("posts.json", site_url="https://...")     WordPress REST JSON
    load_source("news.txt", site_url="https://...")       plain-text listing export
    load_source("https://micro.example.org/feed.json")    JSON Feed 1.0 / 1.1

The format is detected from the bytes. Reading (politely, within limits) is
digest.ingest.fetch; parsing is pure; storing is digest.ingest.store's job.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from digest.errors import IngestError
from digest.ingest.clean import decode_bytes
from digest.ingest.feeds import FEED_ROOTS, parse_feed, sniff_text, xml_root
from digest.ingest.fetch import FetchLimits, Fetched, fetch_url, is_url, read_path
from digest.ingest.jsonfeed import is_jsonfeed, parse_jsonfeed
from digest.ingest.listing import parse_listing
from digest.ingest.wordpress import is_wordpress, parse_wordpress, wordpress_error
from digest.models import Article
from digest.outbound import Deadline, Outbound

__all__ = ["ParsedSource", "read_source", "parse_source", "load_source", "KINDS"]

NOT_RECOGNISED = "not a feed, JSON Feed, WordPress JSON or listing export"
# What [[sources]] kind = ... may say; "feed" is RSS or Atom.
KINDS = ("feed", "jsonfeed", "wordpress", "listing")
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass
class ParsedSource:
    source: str  # as the user named it
    kind: str  # "rss", "atom", "jsonfeed", "wordpress", "listing"
    articles: list[Article]
    problems: list[str] = field(default_factory=list)  # skipped or repaired items, one line each


_is_url = is_url


def read_source(source: str, *, timeout: float = 30, client: Outbound | None = None) -> tuple[bytes, str | None]:
    """Return (bytes, content type) of a path or http(s) URL (see digest.ingest.fetch).

    IngestError when the file is missing, unreadable or not a regular file,
    the server answers an error or cannot be reached, the download is cut
    short, or the body (decompressed) passes the size cap.
    """
    if _is_url(source):
        got = _download(source, timeout, client=client)
        return got.body or b"", got.content_type
    return read_path(source), None


def _download(url: str, timeout: float, *, client: Outbound | None = None, deadline: Deadline | None = None
              ) -> Fetched:
    limits = FetchLimits(read_timeout=timeout, deadline=max(timeout * 4, 60))
    return fetch_url(url, limits=limits, client=client, deadline=deadline)


def parse_source(
    data: bytes, source: str, *, content_type: str | None = None, site_url: str | None = None,
    kind: str | None = None,
) -> ParsedSource:
    """Detect the format of `data` (or take `kind`, one of KINDS) and parse it.

    site_url is the website: a listing export's articles link to it (a
    listing carries no links of its own), and feeds and JSON fall back on it
    for relative links.
    IngestError(source, reason) when the whole source is unusable.
    """
    if site_url and not (_is_url(site_url) and urlsplit(site_url).netloc):
        raise IngestError(source, f"site URL {site_url!r} is not an absolute http(s) URL")
    if kind is not None and kind not in KINDS:
        raise IngestError(source, f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    base_url = site_url or (source if _is_url(source) else None)
    text = sniff_text(data)
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped.strip():
        raise IngestError(source, "empty: nothing to ingest")

    json_error = None
    if kind in (None, "jsonfeed", "wordpress") and (stripped[0] in "[{" or kind):
        try:
            payload = json.loads(decode_bytes(data)[0])
        except ValueError as exc:
            json_error = f"not valid JSON ({exc.args[0] if exc.args else exc}): cut off?"
            if kind:
                raise IngestError(source, json_error) from None
        else:
            if kind == "jsonfeed" or (kind is None and is_jsonfeed(payload)):
                articles, problems = parse_jsonfeed(payload, source, base_url=base_url)
                return ParsedSource(source, "jsonfeed", articles, problems)
            if not is_wordpress(payload):
                reason = wordpress_error(payload) or f"{NOT_RECOGNISED} (JSON, but not WordPress posts)"
                raise IngestError(source, reason)
            articles, problems = parse_wordpress(payload, source, base_url=base_url)
            return ParsedSource(source, "wordpress", articles, problems)
        if "json" in (content_type or "").lower():
            raise IngestError(source, json_error)

    if kind == "feed" or (kind is None and stripped.startswith("<")):
        root = xml_root(stripped)
        if root and root.split(":")[-1].lower() in FEED_ROOTS:
            found, articles, problems = parse_feed(data, source, base_url=base_url)
            return ParsedSource(source, found, articles, problems)
        # Markup that is no feed (an HTML page, say) is never a listing either.
        what = "not a feed" if kind else NOT_RECOGNISED
        raise IngestError(source, f"{what} (a document whose root is <{root}>)" if root else what)

    decoded, _ = decode_bytes(data) if not data.startswith(_WIDE_BOMS) else (text, False)
    listing = parse_listing(decoded, source, site_url=site_url)
    if listing is None:
        raise IngestError(source, json_error or ("not a listing export" if kind else NOT_RECOGNISED))
    articles, problems = listing
    return ParsedSource(source, "listing", articles, problems)


def load_source(source: str, *, site_url: str | None = None, timeout: float = 30,
                client: Outbound | None = None) -> ParsedSource:
    """Read a path or URL and parse it: read_source + parse_source (+ WordPress pages, all
    within one deadline)."""
    if not _is_url(source):
        data, content_type = read_source(source, timeout=timeout)
        return parse_source(data, source, content_type=content_type, site_url=site_url)
    deadline = Deadline(max(timeout * 4, 60))
    got = _download(source, timeout, client=client, deadline=deadline)
    parsed = parse_source(got.body or b"", source, content_type=got.content_type, site_url=site_url)
    return more_pages(parsed, got, lambda url: _download(url, timeout, client=client, deadline=deadline),
                      site_url=site_url)


def more_pages(parsed: ParsedSource, first: Fetched, fetch, *, site_url: str | None = None) -> ParsedSource:
    """The rest of a WordPress REST source, page by page (?page=2, ... up to
    MAX_WP_PAGES), when its X-WP-TotalPages says there are more; any page
    failing fails the whole source. `fetch(url)` returns a Fetched."""
    pages = ((first.headers.get("X-WP-TotalPages") if first.headers else None) or "").strip()
    total = int(pages) if pages.isdigit() else 1
    if parsed.kind == "wordpress" and total > 1:
        for page in range(2, min(total, MAX_WP_PAGES) + 1):
            url = _with_page(parsed.source if _is_url(parsed.source) else first.url, page)
            more_got = fetch(url)
            more = parse_source(more_got.body or b"", url, content_type=more_got.content_type, site_url=site_url,
                                kind="wordpress")
            parsed.articles += more.articles
            parsed.problems += more.problems
        if total > MAX_WP_PAGES:
            parsed.problems.append(f"{parsed.source}: read the first {MAX_WP_PAGES} of {total} pages of posts")
    return parsed


MAX_WP_PAGES = 20


def _with_page(url: str, page: int) -> str:
    """url with its page= query parameter set to `page`."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    return urlunsplit(parts._replace(query=urlencode(query + [("page", str(page))])))

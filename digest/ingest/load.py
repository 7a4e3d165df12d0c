"""Reading a source by its path or URL, and parsing what came: one call for a one-off ingest.

    parsed = load_source("https://www.example.org/feed/", site_url=..., client=client)
    data, content_type = read_source("news.txt")

A WordPress REST source is read page by page (X-WP-TotalPages), every page
within one deadline. Reading is digest.ingest.fetch (through the one
outbound client); parsing is digest.ingest.detect.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from digest.ingest.detect import ParsedSource, parse_source
from digest.ingest.fetch import FetchLimits, Fetched, fetch_url, is_url, read_path
from digest.outbound import Deadline, Outbound

__all__ = ["read_source", "load_source", "more_pages", "MAX_WP_PAGES"]

MAX_WP_PAGES = 20

def read_source(source: str, *, timeout: float = 30, client: Outbound | None = None) -> tuple[bytes, str | None]:
    """Return (bytes, content type) of a path or http(s) URL (see digest.ingest.fetch).

    IngestError when the file is missing, unreadable or not a regular file,
    the server answers an error or cannot be reached, the download is cut
    short, or the body (decompressed) passes the size cap.
    """
    if is_url(source):
        got = _download(source, timeout, client=client)
        return got.body or b"", got.content_type
    return read_path(source), None


def _download(url: str, timeout: float, *, client: Outbound | None = None, deadline: Deadline | None = None
              ) -> Fetched:
    limits = FetchLimits(read_timeout=timeout, deadline=max(timeout * 4, 60))
    return fetch_url(url, limits=limits, client=client, deadline=deadline)


def load_source(source: str, *, site_url: str | None = None, timeout: float = 30,
                client: Outbound | None = None) -> ParsedSource:
    """Read a path or URL and parse it: read_source + parse_source (+ WordPress pages, all
    within one deadline)."""
    if not is_url(source):
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
            url = _with_page(parsed.source if is_url(parsed.source) else first.url, page)
            more_got = fetch(url)
            more = parse_source(more_got.body or b"", url, content_type=more_got.content_type, site_url=site_url,
                                kind="wordpress")
            parsed.articles += more.articles
            parsed.problems += more.problems
        if total > MAX_WP_PAGES:
            parsed.problems.append(f"{parsed.source}: read the first {MAX_WP_PAGES} of {total} pages of posts")
    return parsed


def _with_page(url: str, page: int) -> str:
    """url with its page= query parameter set to `page`."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    return urlunsplit(parts._replace(query=urlencode(query + [("page", str(page))])))

"""Ingestion: read a source (a path or an http(s) URL) and parse it into Articles.

    load_source("https://www.example.org/feed/")          RSS 0.9x/1.0/2.0 or Atom
    load_source("posts.json", site_url="https://...")     WordPress REST JSON
    load_source("news.txt", site_url="https://...")       plain-text listing export

The format is detected from the bytes. Parsing is pure; storing the articles
is the database layer's job.
"""

from __future__ import annotations

import codecs
import gzip
import http.client
import json
import socket
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from digest.errors import IngestError
from digest.ingest.clean import decode_bytes
from digest.ingest.feeds import FEED_ROOTS, parse_feed, sniff_text, xml_root
from digest.ingest.listing import parse_listing
from digest.ingest.wordpress import is_wordpress, parse_wordpress, wordpress_error
from digest.models import Article

__all__ = ["ParsedSource", "read_source", "parse_source", "load_source"]

MAX_BYTES = 50 * 1024 * 1024  # a news feed is kilobytes; anything this big is a mistake
USER_AGENT = "digest/0.1 (email news digest)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/json, "
    "application/xml;q=0.9, text/xml;q=0.9, text/plain;q=0.8, */*;q=0.5"
)
NOT_RECOGNISED = "not a feed, WordPress JSON or listing export"
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass
class ParsedSource:
    source: str  # as the user named it
    kind: str  # "rss", "atom", "wordpress", "listing"
    articles: list[Article]
    problems: list[str] = field(default_factory=list)  # skipped or repaired items, one line each


def _is_url(source: str) -> bool:
    return urlsplit(source).scheme.lower() in ("http", "https")


def read_source(source: str, *, timeout: float = 30) -> tuple[bytes, str | None]:
    """Return (bytes, content type) of a path or http(s) URL.

    IngestError when the file is missing or unreadable, the server answers an
    error or cannot be reached, or the download is shorter than its Content-Length.
    """
    if _is_url(source):
        return _download(source, timeout)
    path = Path(source[len("file://") :] if source.startswith("file://") else source).expanduser()
    try:
        if path.stat().st_size > MAX_BYTES:
            raise IngestError(source, f"larger than {MAX_BYTES // 2**20} MB: not a news source")
        return path.read_bytes(), None
    except FileNotFoundError:
        raise IngestError(source, "no such file") from None
    except IsADirectoryError:
        raise IngestError(source, "is a directory, not a file") from None
    except PermissionError:
        raise IngestError(source, "permission denied") from None
    except OSError as exc:
        raise IngestError(source, f"cannot read: {exc.strerror or exc}") from None


def _download(url: str, timeout: float, meta: dict | None = None) -> tuple[bytes, str | None]:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": ACCEPT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            expected = response.headers.get("Content-Length")
            chunks, size = [], 0
            # read(amt) never raises on a short body, so compare with Content-Length below.
            while chunk := response.read(65536):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BYTES:
                    raise IngestError(url, f"larger than {MAX_BYTES // 2**20} MB: not a news source")
            data = b"".join(chunks)
            content_type = response.headers.get("Content-Type")
            if meta is not None:  # WordPress says how many pages of posts there are
                pages = (response.headers.get("X-WP-TotalPages") or "").strip()
                meta["total_pages"] = int(pages) if pages.isdigit() else 1
            encoding = (response.headers.get("Content-Encoding") or "").lower()
    except urllib.error.HTTPError as exc:
        raise IngestError(url, f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise IngestError(url, f"timed out after {timeout:g} s") from None
        raise IngestError(url, f"cannot connect: {reason}") from None
    except http.client.IncompleteRead as exc:
        raise IngestError(url, f"download cut short: got {len(exc.partial)} bytes, more were due") from None
    except (socket.timeout, TimeoutError):
        raise IngestError(url, f"timed out after {timeout:g} s") from None
    except (http.client.HTTPException, OSError) as exc:
        raise IngestError(url, f"download failed: {exc}") from None
    if expected and expected.isdigit() and len(data) < int(expected):
        raise IngestError(url, f"download cut short: got {len(data)} of {expected} bytes")
    try:
        # We ask for no compression, but some servers send it anyway.
        if encoding == "gzip":
            data = gzip.decompress(data)
        elif encoding == "deflate":
            data = zlib.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(url, f"cannot decompress {encoding} body: {exc}") from None
    return data, content_type


def parse_source(
    data: bytes, source: str, *, content_type: str | None = None, site_url: str | None = None
) -> ParsedSource:
    """Detect the format of `data` and parse it.

    site_url is the organisation's website: listing exports build their links
    from it, and feeds and JSON fall back on it for relative links.
    IngestError(source, reason) when the whole source is unusable.
    """
    if site_url and not (_is_url(site_url) and urlsplit(site_url).netloc):
        raise IngestError(source, f"site URL {site_url!r} is not an absolute http(s) URL")
    base_url = site_url or (source if _is_url(source) else None)
    text = sniff_text(data)
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped.strip():
        raise IngestError(source, "empty: nothing to ingest")

    json_error = None
    if stripped[0] in "[{":
        try:
            payload = json.loads(decode_bytes(data)[0])
        except ValueError as exc:
            json_error = f"not valid JSON ({exc.args[0] if exc.args else exc}): cut off?"
        else:
            if not is_wordpress(payload):
                reason = wordpress_error(payload) or f"{NOT_RECOGNISED} (JSON, but not WordPress posts)"
                raise IngestError(source, reason)
            articles, problems = parse_wordpress(payload, source, base_url=base_url)
            return ParsedSource(source, "wordpress", articles, problems)
        if "json" in (content_type or "").lower():
            raise IngestError(source, json_error)

    if stripped.startswith("<"):
        root = xml_root(stripped)
        if root and root.split(":")[-1].lower() in FEED_ROOTS:
            kind, articles, problems = parse_feed(data, source, base_url=base_url)
            return ParsedSource(source, kind, articles, problems)
        # Markup that is no feed (an HTML page, say) is never a listing either.
        raise IngestError(source, f"{NOT_RECOGNISED} (a document whose root is <{root}>)" if root else NOT_RECOGNISED)

    decoded, _ = decode_bytes(data) if not data.startswith(_WIDE_BOMS) else (text, False)
    listing = parse_listing(decoded, source, site_url=site_url)
    if listing is None:
        raise IngestError(source, json_error or NOT_RECOGNISED)
    articles, problems = listing
    return ParsedSource(source, "listing", articles, problems)


def load_source(source: str, *, site_url: str | None = None, timeout: float = 30) -> ParsedSource:
    """Read a path or URL and parse it: read_source + parse_source.

    A WordPress REST URL is read page by page (?page=2, ... up to
    MAX_WP_PAGES) when the server's X-WP-TotalPages says there are more;
    any page failing fails the whole source.
    """
    if not _is_url(source):
        data, content_type = read_source(source, timeout=timeout)
        return parse_source(data, source, content_type=content_type, site_url=site_url)
    meta: dict = {}
    data, content_type = _download(source, timeout, meta)
    parsed = parse_source(data, source, content_type=content_type, site_url=site_url)
    total = meta.get("total_pages", 1)
    if parsed.kind == "wordpress" and total > 1:
        for page in range(2, min(total, MAX_WP_PAGES) + 1):
            url = _with_page(source, page)
            more_data, more_type = _download(url, timeout)
            more = parse_source(more_data, url, content_type=more_type, site_url=site_url)
            parsed.articles += more.articles
            parsed.problems += more.problems
        if total > MAX_WP_PAGES:
            parsed.problems.append(f"{source}: read the first {MAX_WP_PAGES} of {total} pages of posts")
    return parsed


MAX_WP_PAGES = 20


def _with_page(url: str, page: int) -> str:
    """url with its page= query parameter set to `page`."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    return urlunsplit(parts._replace(query=urlencode(query + [("page", str(page))])))

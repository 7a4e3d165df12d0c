"""Which format a source is, from its bytes (or the kind it is configured as), and its parse.

    parsed = parse_source(data, "https://www.example.org/feed/", content_type="application/rss+xml")
    parsed.kind       "rss", "atom", "jsonfeed", "wordpress" or "listing"
    parsed.articles   Articles, each checked and tidied (digest.ingest.items)
    parsed.problems   skipped or repaired items, one line each

The ladder: JSON (a JSON Feed, else WordPress REST posts), then markup (RSS,
Atom, RDF; any other document is refused by its root element), then a
plain-text listing export. Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from digest.config import SOURCE_KINDS as KINDS
from digest.errors import IngestError
from digest.ingest.clean import WIDE_BOMS, decode_bytes
from digest.ingest.feeds import FEED_ROOTS, parse_feed, sniff_text, xml_root
from digest.ingest.fetch import is_url
from digest.ingest.items import tidy
from digest.ingest.jsonfeed import is_jsonfeed, parse_jsonfeed
from digest.ingest.listing import parse_listing
from digest.ingest.wordpress import is_wordpress, parse_wordpress, wordpress_error
from digest.models import Article

__all__ = ["ParsedSource", "parse_source", "KINDS", "NOT_RECOGNISED"]

NOT_RECOGNISED = "not a feed, JSON Feed, WordPress JSON or listing export"


@dataclass
class ParsedSource:
    source: str  # as the user named it
    kind: str  # "rss", "atom", "jsonfeed", "wordpress", "listing"
    articles: list[Article]
    problems: list[str] = field(default_factory=list)  # skipped or repaired items, one line each


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
    if site_url and not (is_url(site_url) and urlsplit(site_url).netloc):
        raise IngestError(source, f"site URL {site_url!r} is not an absolute http(s) URL")
    if kind is not None and kind not in KINDS:
        raise IngestError(source, f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    base_url = site_url or (_without_userinfo(source) if is_url(source) else None)
    text = sniff_text(data)
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped.strip():
        raise IngestError(source, "empty: nothing to ingest")
    found, articles, problems = _ladder(data, text, stripped, source, content_type, site_url, base_url, kind)
    return ParsedSource(source, found, [tidy(a) for a in articles], problems)


def _without_userinfo(url: str) -> str:
    """A URL without its user:password@ (relative links made absolute against it must not carry them)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _ladder(data: bytes, text: str, stripped: str, source: str, content_type: str | None, site_url: str | None,
            base_url: str | None, kind: str | None) -> tuple[str, list[Article], list[str]]:
    """(kind found, articles, problems): JSON, else markup, else a listing export."""
    json_error = None
    if kind in (None, "jsonfeed", "wordpress") and (stripped[0] in "[{" or kind):
        try:
            payload = json.loads(decode_bytes(data)[0])
        except ValueError as exc:
            json_error = f"not valid JSON ({exc.args[0] if exc.args else exc}): cut off?"
            if kind or "json" in (content_type or "").lower():
                raise IngestError(source, json_error) from None
        else:
            return _json(payload, source, base_url, kind)
    if kind == "feed" or (kind is None and stripped.startswith("<")):
        root = xml_root(stripped)
        if root and root.split(":")[-1].lower() in FEED_ROOTS:
            return parse_feed(data, source, base_url=base_url)
        # Markup that is no feed (an HTML page, say) is never a listing either.
        what = "not a feed" if kind else NOT_RECOGNISED
        if root is None and "<!doctype" in stripped[:65536].lower():
            raise IngestError(source, f"{what}: a DOCTYPE fills the first 64 KB, so no root element was found "
                                      "(a feed's DOCTYPE is a line, not a book of entity declarations)")
        raise IngestError(source, f"{what} (a document whose root is <{root}>)" if root else what)
    decoded, _ = decode_bytes(data) if not data.startswith(WIDE_BOMS) else (text, False)
    listing = parse_listing(decoded, source, site_url=site_url)
    if listing is None:
        raise IngestError(source, json_error or ("not a listing export" if kind else NOT_RECOGNISED))
    return "listing", *listing


def _json(payload: object, source: str, base_url: str | None, kind: str | None) -> tuple[str, list[Article], list[str]]:
    if kind == "jsonfeed" or (kind is None and is_jsonfeed(payload)):
        return "jsonfeed", *parse_jsonfeed(payload, source, base_url=base_url)
    if not is_wordpress(payload):
        raise IngestError(source, wordpress_error(payload) or f"{NOT_RECOGNISED} (JSON, but not WordPress posts)")
    return "wordpress", *parse_wordpress(payload, source, base_url=base_url)

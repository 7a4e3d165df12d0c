"""RSS 0.9x/1.0/2.0 and Atom feeds, via feedparser, into Articles.

The whole feed is refused (IngestError) when it is empty, cut off or not a
feed; a bad item is skipped or repaired and reported, so one sloppy post does
not cost the rest.
"""

from __future__ import annotations

import codecs
import re
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

import feedparser

from digest.errors import IngestError
from digest.ingest.clean import (
    decode_bytes,
    html_to_text,
    normalise_text,
    plain_paragraphs,
    sanitise_html,
    shorten,
    text_to_html,
)
from digest.ingest.images import from_feed_entry, from_html
from digest.models import Article

FEED_ROOTS = frozenset({"rss", "feed", "rdf"})
_HTML_TYPES = ("text/html", "application/xhtml+xml")

_LEADING_JUNK = re.compile(r"(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[.*?\])*>)", re.S | re.I)
_ROOT = re.compile(r"<([A-Za-z_][\w.:-]*)")
_DECLARED = re.compile(rb"\A\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
_CDATA = re.compile(rb"<!\[CDATA\[.*?\]\]>", re.S)
_RAW_AMP = re.compile(rb"&(?!(?:[A-Za-z_][\w.-]*|#[0-9]+|#x[0-9A-Fa-f]+);)")
_CDATA_TEXT = re.compile(r"<!\[CDATA\[.*?\]\]>", re.S)
_ITEM_TAG = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]")
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def sniff_text(data: bytes) -> str:
    """Enough of `data` as text to look at its markup: UTF-16/32 honoured, any
    other encoding read byte for byte (tag names are ASCII in all of them)."""
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    if data[:2] == b"<\x00":
        return data.decode("utf-16-le", errors="replace")
    if data[:2] == b"\x00<":
        return data.decode("utf-16-be", errors="replace")
    if data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    return data.decode("latin-1")


def xml_root(text: str) -> str | None:
    """The qualified name of the first element ("rss", "rdf:RDF", "html"), or
    None when the text does not start with markup."""
    head = text[:65536]
    pos = 0
    while match := _LEADING_JUNK.match(head, pos):
        if match.end() == pos:
            break
        pos = match.end()
    root = _ROOT.match(head, pos)
    return root.group(1) if root else None


def _fix_encoding(data: bytes) -> tuple[bytes, str | None]:
    """Repair the two commonest lies about encoding before feedparser sees the
    bytes. Returns (bytes, what was repaired or None)."""
    if data.startswith(_WIDE_BOMS) or data[:2] in (b"<\x00", b"\x00<"):
        return data, None  # UTF-16/32: feedparser reads those itself
    body = data[3:] if data.startswith(codecs.BOM_UTF8) else data
    declared = _DECLARED.match(body)
    name = declared.group(1).decode("ascii").lower().replace("_", "-") if declared else "utf-8"
    if name in ("utf-8", "utf8"):
        text, repaired = decode_bytes(data)
        if repaired:
            return text.encode("utf-8"), "not valid UTF-8: read the odd bytes as Windows-1252"
        return data, None
    if name in ("iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252", "us-ascii", "ascii") and declared:
        if not body.isascii():
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                return data, None
            # Real Latin-1 text almost never forms valid UTF-8 sequences: the declaration is wrong.
            start, end = declared.span(1)
            return body[:start] + b"utf-8" + body[end:], f"declared {name} but is UTF-8: read as UTF-8"
    return data, None


def _escape_raw_ampersands(data: bytes) -> bytes:
    """Escape a bare "&" (as in "AT&T") outside CDATA, which makes XML not well-formed."""
    parts, pos = [], 0
    for match in _CDATA.finditer(data):
        parts += [_RAW_AMP.sub(b"&amp;", data[pos : match.start()]), match.group()]
        pos = match.end()
    parts.append(_RAW_AMP.sub(b"&amp;", data[pos:]))
    return b"".join(parts)


def _not_well_formed(parsed) -> bool:
    exc = parsed.get("bozo_exception")
    return bool(parsed.bozo) and not isinstance(exc, feedparser.CharacterEncodingOverride)


def _describe(exc: BaseException) -> str:
    line = getattr(exc, "getLineNumber", lambda: None)()
    message = getattr(exc, "getMessage", lambda: str(exc))()
    return f"{message} at line {line}" if line else str(message)


def parse_feed(data: bytes, source: str, *, base_url: str | None = None) -> tuple[str, list[Article], list[str]]:
    """Parse RSS or Atom bytes. Returns (kind, articles, problems).

    base_url is the last resort for relative links when the feed gives no link
    or xml:base of its own (the site URL, or the URL the feed came from).
    """
    problems: list[str] = []
    if data[:1].isspace() or (data.startswith(codecs.BOM_UTF8) and data[3:4].isspace()):
        # Blank lines before "<?xml" (a common plugin fault) make the XML not well-formed.
        data = data.removeprefix(codecs.BOM_UTF8).lstrip(b" \t\r\n")
    data, repaired = _fix_encoding(data)
    if repaired:
        problems.append(f"{source}: {repaired}")
    text = sniff_text(data)
    root = xml_root(text)
    if root is None or root.split(":")[-1].lower() not in FEED_ROOTS:
        raise IngestError(source, f"not a feed: the document is <{root}>" if root else "not a feed")
    if not re.search(rf"</\s*{re.escape(root)}\s*>", text):
        raise IngestError(source, f"cut off: the feed has no closing </{root}> (truncated download?)")

    parsed = feedparser.parse(data)
    if _not_well_formed(parsed):
        exc = parsed.bozo_exception
        if "no element found" in str(exc):
            raise IngestError(source, f"cut off: {_describe(exc)} (truncated download?)")
        wide = data.startswith(_WIDE_BOMS) or data[:2] in (b"<\x00", b"\x00<")
        fixed = data if wide else _escape_raw_ampersands(data)
        reparsed = feedparser.parse(fixed) if fixed != data else None
        if reparsed is not None and not _not_well_formed(reparsed):
            parsed = reparsed
            problems.append(f"{source}: not well-formed XML ({_describe(exc)}): escaped a bare '&'")
        else:
            problems.append(f"{source}: not well-formed XML ({_describe(exc)}): read leniently")
            # The lenient parser can swallow items after a broken tag: say so rather than lose them quietly.
            expected = len(_ITEM_TAG.findall(_CDATA_TEXT.sub("", text)))
            if expected > len(parsed.entries):
                problems.append(
                    f"{source}: only {len(parsed.entries)} of {expected} items could be read "
                    "(the broken XML hides the rest)"
                )
    version = parsed.get("version") or ""
    if not version and not parsed.entries:
        raise IngestError(source, "not a feed: no RSS or Atom content found")
    kind = "atom" if version.startswith("atom") else "rss"

    feed_link = parsed.feed.get("link") or ""
    feed_base = urljoin(base_url or "", feed_link) if feed_link else base_url
    articles: list[Article] = []
    for index, entry in enumerate(parsed.entries, 1):
        article = _article(entry, index, source, feed_base, problems)
        if article is not None:
            articles.append(article)
    return kind, dedupe(articles, source, problems), problems


def _label(index: int, title: str | None, link: str | None) -> str:
    if title:
        return f"item {index} (“{shorten(title)}”)"
    return f"item {index} ({link})" if link else f"item {index}"


def _is_absolute(url: str | None) -> bool:
    return bool(url) and urlsplit(url).scheme in ("http", "https") and bool(urlsplit(url).netloc)


def _article(entry, index: int, source: str, feed_base: str | None, problems: list[str]) -> Article | None:
    detail = entry.get("title_detail") or {}
    raw_title = entry.get("title") or ""
    title = html_to_text(raw_title) if detail.get("type") in _HTML_TYPES else normalise_text(raw_title)
    title = normalise_text(title)  # a title is one line even when its HTML had paragraphs
    link = (entry.get("link") or "").strip() or None
    if link and not _is_absolute(link):
        link = urljoin(feed_base, link) if feed_base else link
    label = _label(index, title, link)
    if not title:
        problems.append(f"{source}: {label}: skipped: no title")
        return None
    if link and not _is_absolute(link):
        problems.append(f"{source}: {label}: link {link!r} is not an absolute http(s) URL: dropped")
        link = None

    author_detail = entry.get("author_detail") or {}
    # "jane@example.org (Jane Doe)" gives the name; an address alone is no name.
    fallback = "" if author_detail.get("email") else entry.get("author") or ""
    author = normalise_text(author_detail.get("name") or fallback)
    categories: list[str] = []
    for tag in entry.get("tags") or []:
        name = normalise_text(tag.get("label") or tag.get("term") or "")
        if name and name not in categories:
            categories.append(name)

    teaser = None
    summary = entry.get("summary_detail")  # absent when feedparser copied the content into summary
    if summary and summary.get("value"):
        base = summary.get("base") or feed_base
        if summary.get("type") in _HTML_TYPES:
            teaser = sanitise_html(summary["value"], base_url=base) or None
        else:
            teaser = plain_paragraphs(summary["value"]) or None
    body = None
    contents = entry.get("content") or []
    content = next((c for c in contents if c.get("type") in _HTML_TYPES), contents[0] if contents else None)
    if content and content.get("value"):
        base = content.get("base") or feed_base
        if content.get("type") in _HTML_TYPES:
            body = sanitise_html(content["value"], base_url=base) or None
        else:
            body = text_to_html(content["value"]) or None

    return Article(
        title=title,
        url=link,
        guid=(entry.get("id") or "").strip() or None,
        author=author or None,
        published_at=_published(entry, source, label, problems),
        categories=categories,
        teaser=teaser,
        body=body,
        source=source,
        image=from_feed_entry(entry, link or feed_base) or from_html(teaser, body, base=link or feed_base),
    )


def _published(entry, source: str, label: str, problems: list[str]) -> datetime | None:
    """published, else updated, as an aware UTC datetime; an impossible date is dropped and reported."""
    bad = []
    for key in ("published", "updated"):
        # dict.get: FeedParserDict.get("updated") falls back to "published" with a DeprecationWarning.
        raw, parsed = dict.get(entry, key), dict.get(entry, f"{key}_parsed")
        if not raw:
            continue
        if parsed:
            try:
                return datetime(*parsed[:6], tzinfo=timezone.utc)
            except (ValueError, TypeError):
                pass
        if raw not in bad:
            bad.append(raw)
    if bad:
        problems.append(f"{source}: {label}: impossible date {bad[0]!r}: date dropped")
    return None


def dedupe(articles: list[Article], source: str, problems: list[str]) -> list[Article]:
    """Keep the last of articles that are the same (same guid, else URL), in the kept ones' order."""
    last = {article.dedupe_key: i for i, article in enumerate(articles)}
    kept = []
    for i, article in enumerate(articles):
        if last[article.dedupe_key] == i:
            kept.append(article)
        else:
            later = articles[last[article.dedupe_key]]
            problems.append(
                f"{source}: “{shorten(article.title)}”: same {article.dedupe_key.split(':', 1)[0]} as "
                f"“{shorten(later.title)}” further on: kept the later one"
            )
    return kept

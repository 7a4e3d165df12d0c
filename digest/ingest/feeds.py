"""RSS 0.9x/1.0/2.0 and Atom feeds, via feedparser, into Articles.

The whole feed is refused (IngestError) when it is empty, cut off or not a
feed; a bad item is skipped or repaired and reported, so one sloppy post does
not cost the rest.
"""

from __future__ import annotations

import codecs
import html as htmllib
import re
from datetime import datetime, timezone
from urllib.parse import urljoin

import feedparser

from digest.errors import IngestError
from digest.ingest.clean import (
    WIDE_BOMS,
    decode_bytes,
    html_to_text,
    nesting_depth,
    normalise_text,
    plain_paragraphs,
    sanitise_html,
    text_to_html,
)
from digest.ingest.images import from_feed_entry, from_html
from digest.ingest.items import checked_link, dedupe, item_label, joined, no_title
from digest.models import Article

FEED_ROOTS = frozenset({"rss", "feed", "rdf"})
MAX_FEED_NESTING = 1000
_ENTITY_REF = re.compile(r"&[A-Za-z_][\w.-]*;")  # left in a title only when the parser could not resolve it
_HTML_TYPES = ("text/html", "application/xhtml+xml")

_LEADING_JUNK = re.compile(r"(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[.*?\])*>)", re.S | re.I)
_ROOT = re.compile(r"<([A-Za-z_][\w.:-]*)")
_DECLARED = re.compile(rb"\A\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
_CDATA = re.compile(rb"<!\[CDATA\[.*?\]\]>", re.S)
_RAW_AMP = re.compile(rb"&(?!(?:[A-Za-z_][\w.-]*|#[0-9]+|#x[0-9A-Fa-f]+);)")
_UPPER_HEX_REF = re.compile(rb"&#X([0-9A-Fa-f]+;)")
_CDATA_TEXT = re.compile(r"<!\[CDATA\[.*?\]\]>", re.S)
_ITEM_TAG = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]")
_BASE64_MODE = re.compile(r"""\bmode\s*=\s*["']base64["']""")
# An HTML element of the kinds feeds carry, opening or closing: "<b>", "</p>", "<a href=...>".
_MARKUP = re.compile(r"</?(?:a|b|i|u|em|strong|p|br|div|span|img|ul|ol|li|h[1-6]|blockquote|pre|code|table|tr|td"
                     r"|script|style|iframe|object|embed|form|font|small|big|sub|sup|hr)\b[^<>]*>", re.I)
_UTF32_NO_BOM = {b"<\x00\x00\x00": "utf-32-le", b"\x00\x00\x00<": "utf-32-be"}


def sniff_text(data: bytes) -> str:
    """Enough of `data` as text to look at its markup: UTF-16/32 honoured, any
    other encoding read byte for byte (tag names are ASCII in all of them)."""
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    for start, codec in _UTF32_NO_BOM.items():  # before UTF-16: "<\0\0\0" also starts like "<\0"
        if data.startswith(start):
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


# Encodings a detector may name for an undeclared, non-UTF-8 feed that we believe: the
# legacy encodings of scripts other than Latin. For Latin text, detectors guess between
# close cousins (cp1250, cp1252, mac_roman) on little evidence; Windows-1252 is the
# likelier truth there, and it is what a byte that is not UTF-8 is read as anyway.
_DETECTABLE = re.compile(
    r"^(koi8|cp1251|cp866|iso8859_5|mac_cyrillic|cp1253|iso8859_7|cp1255|iso8859_8|cp1256|iso8859_6|cp874|tis_620"
    r"|euc_j|shift_jis|cp932|iso2022_jp|euc_kr|cp949|johab|iso2022_kr|gb2312|gbk|gb18030|hz|big5|cp950)")


def detect_encoding(data: bytes) -> str | None:
    """The legacy encoding of a non-Latin feed that does not say (KOI8-R, EUC-JP, Shift_JIS,
    EUC-KR, GB2312, ...), as charset-normalizer detects it; None when it finds nothing we trust."""
    from charset_normalizer import from_bytes

    best = from_bytes(data[:262144]).best()
    if best is None or not _DETECTABLE.match(best.encoding):
        return None
    return best.encoding


def _codec_label(name: str) -> str:
    return {"koi8_r": "KOI8-R", "koi8_u": "KOI8-U", "euc_jp": "EUC-JP", "euc_jis_2004": "EUC-JP",
            "euc_jisx0213": "EUC-JP", "shift_jis": "Shift_JIS", "cp932": "Shift_JIS (cp932)",
            "euc_kr": "EUC-KR", "cp949": "EUC-KR (cp949)", "gb2312": "GB2312", "gbk": "GBK",
            "gb18030": "GB18030 (GB2312)", "big5": "Big5", "cp1251": "Windows-1251"}.get(name, name)


def _as_utf8(text: str) -> bytes:
    """Text of a feed re-encoded as UTF-8, its XML declaration saying so."""
    text = text.removeprefix("\ufeff")
    data = text.encode("utf-8")
    declared = _DECLARED.match(data)
    if declared:
        start, end = declared.span(1)
        data = data[:start] + b"utf-8" + data[end:]
    return data


def _fix_encoding(data: bytes) -> tuple[bytes, str | None]:
    """Repair the commonest lies and silences about encoding before feedparser
    sees the bytes. Returns (bytes, what was repaired or None)."""
    for start, codec in _UTF32_NO_BOM.items():
        if data.startswith(start):  # XML's own rule for UTF-32 without a byte-order mark
            try:
                return _as_utf8(data.decode(codec)), "UTF-32 without a byte-order mark: read as UTF-32"
            except UnicodeDecodeError:
                return data, None
    if data.startswith(WIDE_BOMS) or data[:2] in (b"<\x00", b"\x00<"):
        return data, None  # UTF-16/32: feedparser reads those itself
    body = data[3:] if data.startswith(codecs.BOM_UTF8) else data
    declared = _DECLARED.match(body)
    name = declared.group(1).decode("ascii").lower().replace("_", "-") if declared else "utf-8"
    if name in ("utf-8", "utf8"):
        text, repaired = decode_bytes(data)
        if repaired:
            detected = None if declared else detect_encoding(body)
            if detected:
                label = _codec_label(detected)
                return (_as_utf8(body.decode(detected, errors="replace")),
                        f"no encoding declared and not UTF-8: read as {label} (detected)")
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


_MRSS_PREFIX = re.compile(rb"""xmlns:([A-Za-z_][\w.-]*)\s*=\s*["']http://search\.yahoo\.com/mrss/?["']""")


def _media_captions_apart(data: bytes) -> bytes:
    """Media RSS <media:description> renamed so feedparser keeps it apart (entry["media_caption"]).

    feedparser reads it as the entry's summary, so a picture's caption ("a map
    of the buildings") would become the article's teaser, or push the item's
    own description into its content. It is the picture's alt text instead."""
    found = _MRSS_PREFIX.search(data[:65536])
    if not found:
        return data
    prefix = re.escape(found.group(1))
    data = re.sub(rb"<" + prefix + rb":description\b[^>]*?/>", b"", data)
    data = re.sub(rb"<" + prefix + rb":description\b[^>]*>", b"<" + found.group(1) + b":caption>", data)
    return re.sub(rb"</" + prefix + rb":description\s*>", b"</" + found.group(1) + b":caption>", data)


def _escape_raw_ampersands(data: bytes) -> bytes:
    """Escape a bare "&" (as in "AT&T") outside CDATA, which makes XML not well-formed; read "&#X41;" as "&#x41;"."""
    def repair(text: bytes) -> bytes:
        # "&#X41;" is an HTML character reference XML spells "&#x41;": it means "A", not "&#X41;" in full.
        return _RAW_AMP.sub(b"&amp;", _UPPER_HEX_REF.sub(rb"&#x\1", text))

    parts, pos = [], 0
    for match in _CDATA.finditer(data):
        parts += [repair(data[pos : match.start()]), match.group()]
        pos = match.end()
    parts.append(repair(data[pos:]))
    return b"".join(parts)


def _not_well_formed(parsed) -> bool:
    exc = parsed.get("bozo_exception")
    return bool(parsed.bozo) and not isinstance(exc, feedparser.CharacterEncodingOverride)


def _describe(exc: BaseException) -> str:
    line = getattr(exc, "getLineNumber", lambda: None)()
    message = getattr(exc, "getMessage", lambda: str(exc))()
    return f"{message} at line {line}" if line else str(message)


def _refuse_deep(text: str, source: str) -> None:
    """IngestError for markup nested absurdly deep: feedparser's and the sanitiser's time grows with
    the square of the depth, so it is refused before parsing."""
    depth = nesting_depth(text.replace("&lt;", "<").replace("&gt;", ">"))  # escaped HTML is parsed too
    if depth > MAX_FEED_NESTING:
        raise IngestError(source, f"markup nested {depth} levels deep (a feed nests a few dozen): "
                                  "a parser bomb? refused")


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
    _refuse_deep(text, source)

    parsed = feedparser.parse(_media_captions_apart(data))
    if _not_well_formed(parsed):
        exc = parsed.bozo_exception
        if "no element found" in str(exc):
            raise IngestError(source, f"cut off: {_describe(exc)} (truncated download?)")
        wide = data.startswith(WIDE_BOMS) or data[:2] in (b"<\x00", b"\x00<")
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

    # Atom 0.3 base64 content says only "text/plain" or "application/octet-stream" after decoding:
    # when what it decodes to is markup, it is treated as the HTML it is.
    base64_used = bool(_BASE64_MODE.search(text))
    feed_link = parsed.feed.get("link") or ""
    feed_base = urljoin(base_url or "", feed_link) if feed_link else base_url
    articles: list[Article] = []
    positions: list[int] = []
    for index, entry in enumerate(parsed.entries, 1):
        article = _article(entry, index, source, feed_base, problems, base64_used, parsed.feed.get("language"))
        if article is not None:
            articles.append(article)
            positions.append(index)
    return kind, dedupe(articles, source, problems, positions), problems


def _is_html(detail, base64_used: bool) -> bool:
    """Is this title/summary/content HTML? Its type says so, or (base64 or octet-stream) it is markup."""
    kind = detail.get("type")
    if kind in _HTML_TYPES:
        return True
    if kind == "application/octet-stream" or (base64_used and kind == "text/plain"):
        return bool(_MARKUP.search(detail.get("value") or ""))
    return False


def _article(entry, index: int, source: str, feed_base: str | None, problems: list[str],
             base64_used: bool = False, feed_language: str | None = None) -> Article | None:
    detail = entry.get("title_detail") or {}
    raw_title = entry.get("title") or ""
    title = html_to_text(raw_title) if _is_html(detail, base64_used) else normalise_text(raw_title)
    title = normalise_text(title)  # a title is one line even when its HTML had paragraphs
    link = (entry.get("link") or "").strip() or None
    link = joined(feed_base, link)
    label = item_label(index, title, link)
    title = _without_entity_refs(title, f"{source}: {label}", problems)
    if no_title(title, source, label, problems):
        return None
    link = checked_link(link, source, label, problems)

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
        if _is_html(summary, base64_used):
            teaser = sanitise_html(summary["value"], base_url=base) or None
        else:
            teaser = plain_paragraphs(summary["value"]) or None
    body = None
    contents = entry.get("content") or []
    content = next((c for c in contents if c.get("type") in _HTML_TYPES), contents[0] if contents else None)
    if content and content.get("value"):
        base = content.get("base") or feed_base
        if _is_html(content, base64_used):
            body = sanitise_html(content["value"], base_url=base) or None
        else:
            body = text_to_html(content["value"]) or None

    published, unreadable = _published(entry, source, label, problems)
    return Article(
        title=title,
        url=link,
        guid=(entry.get("id") or "").strip() or None,
        author=author or None,
        published_at=published,
        categories=categories,
        teaser=teaser,
        body=body,
        source=source,
        image=from_feed_entry(entry, link or feed_base) or from_html(teaser, body, base=link or feed_base),
        date_unreadable=unreadable,
        # An entry's own xml:lang (its title carries it) before the feed's (RSS <language>, Atom xml:lang).
        language=str(detail.get("language") or feed_language or "").strip()[:35],
    )


def _without_entity_refs(title: str, where: str, problems: list[str]) -> str:
    """An HTML entity a lenient parse left (&eacute;) is the character; any other reference was declared in
    the feed's DTD (never expanded: that is how entity bombs work) or never declared: it is dropped, and said."""
    title = _ENTITY_REF.sub(lambda m: htmllib.unescape(m.group()), title)
    refs = sorted(set(_ENTITY_REF.findall(title)))
    if refs:
        title = normalise_text(_ENTITY_REF.sub("", title))
        problems.append(f"{where}: entity reference{'s' if len(refs) > 1 else ''} {', '.join(refs)} "
                        "that the feed never defines in XML: dropped from the title")
    return title


def _published(entry, source: str, label: str, problems: list[str]) -> tuple[datetime | None, bool]:
    """(published, else updated, as an aware UTC datetime; whether a date was given but could not be read).

    An impossible date is dropped and reported: the article is stored without
    a date (not selected) until the editor gives it one.
    """
    bad = []
    for key in ("published", "updated"):
        # dict.get: FeedParserDict.get("updated") falls back to "published" with a DeprecationWarning.
        raw, parsed = dict.get(entry, key), dict.get(entry, f"{key}_parsed")
        if not raw:
            continue
        if parsed:
            try:
                return datetime(*parsed[:6], tzinfo=timezone.utc), False
            except (ValueError, TypeError):
                pass
        if raw not in bad:
            bad.append(raw)
    if bad:
        problems.append(f"{source}: {label}: impossible date {bad[0]!r}: stored without a date")
        return None, True
    return None, False

"""Make untrusted markup and text from a source safe and tidy.

sanitise_html keeps ordinary article markup and nothing that can run, track or
restyle; html_to_text and normalise_text give plain text for titles, names and
text emails. Also the byte decoding every parser shares.
"""

from __future__ import annotations

import codecs
import html as htmllib
import re
import unicodedata
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import nh3

ALLOWED_TAGS = frozenset(
    {"p", "br", "a", "em", "strong", "b", "i", "u", "s", "sub", "sup", "code", "pre", "q", "cite",
     "ul", "ol", "li", "blockquote", "h2", "h3", "h4", "img", "figure", "figcaption", "hr"}
)
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Removed together with everything inside them, not just unwrapped.
DROP_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math",
     "form", "button", "select", "textarea", "head", "title", "audio", "video", "canvas"}
)
# Block elements the sanitiser unwraps: a space keeps their words apart
# ("<td>a</td><td>b</td>" must not become "ab").
_BLOCK_UNWRAPPED = re.compile(
    r"(?=</?(?:div|section|article|header|footer|nav|aside|main|table|thead|tbody|tfoot|tr|td|th"
    r"|caption|dl|dt|dd|address|details|summary|center)\b)",
    re.IGNORECASE,
)
_HEADING_UP = re.compile(r"<(/?)h1\b", re.IGNORECASE)
_HEADING_DOWN = re.compile(r"<(/?)h[56]\b", re.IGNORECASE)
_IMG_WITHOUT_SRC = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")
_EMPTY_LINK = re.compile(r"<a\b[^>]*></a>")


def _url_filter(base_url: str | None):
    def rewrite(tag: str, attr: str, value: str) -> str | None:
        if attr not in ("href", "src"):
            return value
        value = value.strip()
        if not value:
            return None  # an emptied link (feedparser blanks unsafe ones) must not become the base URL
        if not urlsplit(value).scheme:
            if not base_url:
                return None  # a relative link in an email goes nowhere
            value = urljoin(base_url, value)
        # nh3 checks schemes before this filter runs; check again after joining anyway.
        return value if urlsplit(value).scheme.lower() in URL_SCHEMES else None

    return rewrite


MAX_NESTING = 200  # elements open inside each other: real articles stay under 30
_TAG = re.compile(r"<(/?)([A-Za-z][\w:-]*)[^<>]*?(/?)>")
_VOID = frozenset({"br", "img", "hr", "input", "meta", "link", "wbr", "source", "area", "base", "col", "embed",
                   "param", "track"})


def nesting_depth(markup: str) -> int:
    """How deep elements nest in `markup` (a linear scan of its tags; a guard, not a parser)."""
    depth = deepest = 0
    for closing, name, self_closing in _TAG.findall(markup):
        if closing:
            depth = max(0, depth - 1)
        elif not self_closing and name.lower() not in _VOID:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def sanitise_html(html: str, *, base_url: str | None = None) -> str:
    """Return `html` with only safe article markup, URLs absolute against base_url.

    Scripts, styles, iframes, forms, event handlers, inline styles, classes,
    javascript: and data: URLs go; broken markup is repaired (html5ever parses it
    the way a browser would). Relative URLs are dropped when there is no base.
    """
    if not html or not html.strip():
        return ""
    if nesting_depth(html) > MAX_NESTING:
        # html5ever takes quadratic time over deep nesting (100,000 <div>s: minutes): no article
        # nests like that, so it is read as the text it holds.
        return text_to_html(html_to_text(html))
    html = _BLOCK_UNWRAPPED.sub(" ", html)
    html = _HEADING_DOWN.sub(r"<\1h4", _HEADING_UP.sub(r"<\1h2", html))
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        attribute_filter=_url_filter(base_url),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    cleaned = _IMG_WITHOUT_SRC.sub("", cleaned)  # an image whose source was unsafe shows nothing
    cleaned = _EMPTY_LINK.sub("", cleaned)
    return cleaned.strip()


# Characters that are not whitespace but should not survive into a title or name.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad\u180e"), None)


def _repair_c1(char: str) -> str:
    """A C1 control (0x80-0x9F) in text is almost always a Windows-1252 byte
    decoded as Latin-1: give back the character it meant, or nothing."""
    try:
        return bytes([ord(char)]).decode("cp1252")
    except UnicodeDecodeError:
        return ""


def normalise_text(text: str) -> str:
    """Return `text` as one tidy line: NFC, every kind of space (no-break,
    thin, tabs, newlines) a plain space, runs collapsed, ends stripped, control
    and zero-width characters removed (stray C1 controls read as Windows-1252)."""
    if not text:
        return ""
    out = []
    for char in text.translate(_INVISIBLE):
        if char.isspace():
            out.append(" ")
        elif "\x80" <= char <= "\x9f":
            out.append(_repair_c1(char))
        elif unicodedata.category(char) == "Cc":
            continue
        else:
            out.append(char)
    return " ".join(unicodedata.normalize("NFC", "".join(out)).split())


_BLOCK_TAGS = frozenset(
    {"p", "div", "section", "article", "header", "footer", "aside", "main", "nav", "blockquote",
     "ul", "ol", "li", "dl", "dt", "dd", "table", "tr", "pre", "figure", "figcaption", "hr",
     "h1", "h2", "h3", "h4", "h5", "h6", "address", "details", "summary"}
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript", "svg", "math"})


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[list[str]] = [[""]]  # paragraphs of lines
        self.skipping = 0

    def _break(self) -> None:
        if any(line.strip() for line in self.paragraphs[-1]):
            self.paragraphs.append([""])

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP_TAGS:
            self.skipping += 1
        elif tag == "br":
            self.paragraphs[-1].append("")
        elif tag in _BLOCK_TAGS:
            self._break()
            if tag == "li":
                self.paragraphs[-1][-1] += "- "
        elif tag in ("td", "th"):
            self.paragraphs[-1][-1] += " "

    def handle_startendtag(self, tag, attrs):
        if tag in _SKIP_TAGS:
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag in _SKIP_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK_TAGS:
            self._break()

    def handle_data(self, data):
        if not self.skipping:
            self.paragraphs[-1][-1] += data


def html_to_text(html: str) -> str:
    """Return the text of an HTML fragment: paragraphs separated by a blank
    line, <br> as a line break, list items as "- item", entities decoded,
    whitespace normalised. Script and style contents are dropped."""
    if not html:
        return ""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    paragraphs = []
    for lines in collector.paragraphs:
        kept = [normalise_text(line) for line in lines]
        kept = [line for line in kept if line and line != "-"]
        if kept:
            paragraphs.append("\n".join(kept))
    return "\n\n".join(paragraphs)


def shorten(text: str, width: int = 60) -> str:
    """`text` cut to about `width` characters at a word, with "…" when cut (for messages)."""
    if len(text) <= width:
        return text
    return text[:width].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def text_to_html(text: str) -> str:
    """Plain text to <p> paragraphs (split on blank lines), escaped."""
    paragraphs = [normalise_text(p) for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n"))]
    return "\n".join(f"<p>{htmllib.escape(p, quote=False)}</p>" for p in paragraphs if p)


def plain_paragraphs(text: str) -> str:
    """Plain text tidied paragraph by paragraph, paragraphs separated by a blank line."""
    paragraphs = [normalise_text(p) for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n"))]
    return "\n\n".join(p for p in paragraphs if p)


def _cp1252_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    bad = error.object[error.start : error.end]
    # cp1252 leaves five bytes undefined; Latin-1 maps them to C1 controls,
    # which normalise_text later drops.
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in bad), error.end


codecs.register_error("digest-cp1252", _cp1252_fallback)


# Byte-order marks of the encodings whose every character is two or four bytes (their text is not
# ASCII-compatible: sniffing and decoding read them apart).
WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_bytes(data: bytes) -> tuple[str, bool]:
    """Decode text the way a sloppy publisher meant it: UTF-8 (a BOM is
    dropped), and any byte that is not UTF-8 read as Windows-1252 (which covers
    Latin-1). Returns (text, repaired) where repaired says a fallback was used."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="digest-cp1252"), True

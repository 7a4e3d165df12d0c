"""Plain-text listing exports (a news page copied as text) into Articles.

The shape, as exports of such pages come:

    Title of the article
    By Jane Smith, Head of Research          (optional byline; or "Jane Smith, Role, Org")
    First paragraph. Read more.
    Further paragraphs...
    Continue reading “Title of the article”  (optional marker)
    Title of the article                      (the title again closes the article)

Blank lines separate paragraphs and are otherwise ignored. The export has no
dates and no links, and digest does not invent them: an article links to the
site URL given (the source's website or listing page, link_origin "website")
unless the source's link_template says how its links are made (see
fill_link_template, applied when the source is stored).
"""

from __future__ import annotations

import html as htmllib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

from digest.errors import IngestError
from digest.ingest.clean import normalise_text, shorten
from digest.ingest.items import dedupe
from digest.models import Article

# "Read more." closing a paragraph (after a sentence ends), not "you can read more".
_READ_MORE = re.compile(r"(?:^|(?<=[.!?…”\"’)]))\s*Read more(?:\s*(?:\.\.\.|[.…»→]))?\s*$")
_CONTINUE = re.compile(r"^Continue reading\b(?P<rest>.*)$", re.I)
_QUOTES_AND_ARROWS = "“”\"'‘’«»→…. "
_NAME_PARTICLES = frozenset({"de", "van", "von", "der", "den", "da", "di", "du", "la", "le", "bin", "al", "and"})


@dataclass
class _Block:
    title: str
    line: int
    paragraphs: list[str] = field(default_factory=list)


def _looks_like_name(name: str, *, min_words: int) -> bool:
    words = name.split()
    if not (min_words <= len(words) <= 6) or any(ch.isdigit() for ch in name):
        return False
    if not (words[0][0].isupper() and words[-1][0].isupper()):
        return False
    for word in words:
        if word in _NAME_PARTICLES:
            continue
        if not (word[0].isupper() and all(ch.isalpha() or ch in "’'.-" for ch in word)):
            return False
    return True


def parse_byline(line: str) -> tuple[str, str | None] | None:
    """(author, role) from "By NAME[, ROLE]" or "NAME, ROLE[, ORG]", else None.

    >>> parse_byline("Martin Ferguson, Director of Policy and Research, Socitm")
    ('Martin Ferguson', 'Director of Policy and Research, Socitm')
    """
    if len(line) > 160:
        return None
    by = re.match(r"^By\s+(.+)$", line)
    if by:
        name, _, role = by.group(1).partition(",")
        name = name.strip()
        return (name, role.strip() or None) if _looks_like_name(name, min_words=1) else None
    # Without "By" a byline must not read like a sentence: a name, then roles, no full stop.
    parts = [part.strip() for part in line.split(",")]
    if len(parts) < 2 or line.rstrip().endswith((".", "!", "?", ":", ";")):
        return None
    if not _looks_like_name(parts[0], min_words=2):
        return None
    if not all(part and part[0].isupper() for part in parts[1:]):
        return None
    return parts[0], ", ".join(parts[1:])


def slugify(title: str) -> str:
    """A WordPress-like slug: "Queen’s speech: what’s missing" -> "queens-speech-whats-missing"."""
    text = unicodedata.normalize("NFKD", normalise_text(title))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"[’‘'`]", "", text)
    text = re.sub(r"[\W_]+", "-", text).strip("-")
    return quote(text[:200].rstrip("-"))


def _blocks(text: str, source: str) -> list[_Block] | None:
    """Split the text into closed articles; None when nothing closes (not a listing)."""
    closed: list[_Block] = []
    current: _Block | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = normalise_text(raw)
        if not line:
            continue
        if current is None:
            current = _Block(line, number)
        elif line == current.title:
            closed.append(current)
            current = None
        else:
            current.paragraphs.append(line)
    if not closed:
        return None
    if current is not None:
        raise IngestError(
            source,
            f"article “{shorten(current.title)}” starts here and is never closed "
            "(its title is not repeated): export cut off?",
            line=current.line,
        )
    return closed


def parse_listing(
    text: str, source: str, *, site_url: str | None = None
) -> tuple[list[Article], list[str]] | None:
    """Parse a listing export. Returns (articles, problems), or None when the
    text is not a listing at all. IngestError when its last article never closes."""
    if "\x00" in text:
        return None
    blocks = _blocks(text, source)
    if blocks is None:
        return None
    problems: list[str] = []
    if not site_url:
        problems.append(f"{source}: no site URL given: the articles have no links")
    articles = []
    for block in blocks:
        article = _article(block, source, site_url, problems)
        if article is not None:
            articles.append(article)
    return dedupe(articles, source, problems), problems


def _is_continue_marker(paragraph: str, title: str) -> bool:
    match = _CONTINUE.match(paragraph)
    if not match:
        return False
    rest = match.group("rest").strip(_QUOTES_AND_ARROWS)
    return rest == "" or rest == title.strip(_QUOTES_AND_ARROWS)


def _article(block: _Block, source: str, site_url: str | None, problems: list[str]) -> Article | None:
    where = f"{source}:{block.line}: “{shorten(block.title)}”"
    paragraphs = list(block.paragraphs)
    byline = parse_byline(paragraphs[0]) if paragraphs else None
    if byline:
        paragraphs.pop(0)
    body: list[str] = []
    teaser_end: int | None = None  # paragraphs of the body before the first marker
    for paragraph in paragraphs:
        if _is_continue_marker(paragraph, block.title):
            teaser_end = len(body) if teaser_end is None else teaser_end
            continue
        trimmed = _READ_MORE.sub("", paragraph)
        if trimmed != paragraph:
            if trimmed:
                body.append(trimmed)
            teaser_end = len(body) if teaser_end is None else teaser_end
            continue
        body.append(paragraph)
    if not body:
        problems.append(f"{where}: skipped: no text")
        return None
    teaser = "\n\n".join(body[:teaser_end]) if teaser_end else None
    return Article(
        title=block.title,
        url=site_url or None,  # a stand-in, never a guess: see the module docstring
        link_origin="website",
        guid=None,
        author=byline[0] if byline else None,
        author_role=byline[1] if byline else None,
        published_at=None,
        teaser=teaser,
        body="\n".join(f"<p>{htmllib.escape(p, quote=False)}</p>" for p in body),
        source=source,
    )


def fill_link_template(template: str, title: str, published: datetime) -> str:
    """The link of a listing article: "https://www.example.org/{date:%Y/%m}/{slug}/" ->
    "https://www.example.org/2017/06/queens-speech-whats-missing/"."""
    return template.format(slug=slugify(title), date=published)

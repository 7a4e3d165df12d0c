"""What every parser does to its items alike: the per-item checks, one article per story, the boundary tidy.

    label = item_label(index, title, link)          "item 3 (“Ransomware hits...”)"
    link = checked_link(link, source, label, problems)   None (and a line) when not absolute http(s)
    articles = dedupe(articles, source, problems)   one per guid, else URL: the most complete
    tidy(article)                                   no control characters left in anything stored

RSS/Atom, JSON Feed, WordPress and listing exports each call these, so a
rule about items is written once.
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urljoin, urlsplit

from digest.ingest.clean import shorten
from digest.models import Article

# C0 controls but tab, newline and carriage return; DEL; C1 controls (a terminal reads ESC [ and CSI as
# commands, a BEL rings): nothing from a source keeps them.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
MAX_LINK = 2048  # characters: a longer link is no article's address (and mail clients cut them)


def item_label(index: int, title: str | None, link: str | None = None) -> str:
    """How a problem names an item: by its position and title, else its link."""
    if title:
        return f"item {index} (“{shorten(title)}”)"
    return f"item {index} ({link})" if link else f"item {index}"


def is_absolute(url: str | None) -> bool:
    try:
        parts = urlsplit(url or "")
    except ValueError:  # "http://[::1" is no URL
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def joined(base: str | None, link: str | None) -> str | None:
    """link made absolute against base (when it is relative and there is a base); as it was when it is no URL."""
    if not link or not base or is_absolute(link):
        return link
    try:
        return urljoin(base, link)
    except ValueError:  # "http://[::1" is no URL: checked_link drops it
        return link


def checked_link(link: str | None, source: str, label: str, problems: list[str]) -> str | None:
    """The item's link when it is an absolute http(s) URL of sane length; else None and a line saying so."""
    if link and not is_absolute(link):
        problems.append(f"{source}: {label}: link {shorten(link, 100)!r} is not an absolute http(s) URL: dropped")
        return None
    if link and len(link) > MAX_LINK:
        problems.append(f"{source}: {label}: link of {len(link)} characters (over {MAX_LINK}): dropped")
        return None
    return link


def no_title(title: str, source: str, label: str, problems: list[str], what: str = "no title") -> bool:
    """True (and a line) when the item has no title: it is skipped."""
    if not title:
        problems.append(f"{source}: {label}: skipped: {what}")
        return True
    return False


def strip_controls(text: str | None) -> str | None:
    return _CONTROLS.sub("", text) if text else text


def tidy(article: Article) -> Article:
    """The article with every control character gone from what is stored and shown."""
    s = strip_controls
    image = article.image
    if image is not None:
        image = replace(image, alt=s(image.alt) or "",
                        sources=tuple(replace(src, url=s(src.url) or "") for src in image.sources))
    return replace(article, title=s(article.title) or "", url=s(article.url), guid=s(article.guid),
                   author=s(article.author), teaser=s(article.teaser), body=s(article.body),
                   categories=[c for c in (s(c) for c in article.categories) if c], image=image)


def _completeness(article: Article) -> tuple[bool, int]:
    """How much of an article an item carries: a body first, then the longer teaser."""
    return bool((article.body or "").strip()), len((article.teaser or "").strip())


def dedupe(articles: list[Article], source: str, problems: list[str],
           positions: list[int] | None = None) -> list[Article]:
    """One article per key (same guid, else URL): the most complete item, the later one when equal.

    A stub that repeats a GUID ("duplicate of the item above") never replaces
    the real article. Each dropped item is reported by its title, and by its
    position in the source when `positions` (parallel to articles) is given.
    """
    def label(i: int) -> str:
        title = f"“{shorten(articles[i].title)}”"
        return f"item {positions[i]} ({title})" if positions else title

    best: dict[str, int] = {}
    for i, article in enumerate(articles):
        j = best.get(article.dedupe_key)
        if j is None or _completeness(article) >= _completeness(articles[j]):
            best[article.dedupe_key] = i
    kept = []
    for i, article in enumerate(articles):
        j = best[article.dedupe_key]
        if i == j:
            kept.append(article)
            continue
        where, which = ("further on", "later") if j > i else ("above", "earlier")
        why = ""
        if j < i:  # kept despite coming first: say why
            why = " (it has the body)" if articles[j].body and not article.body else " (it has the longer teaser)"
        problems.append(
            f"{source}: {label(i)}: same {article.dedupe_key.split(':', 1)[0]} as "
            f"{label(j)} {where}: kept the {which} one{why}"
        )
    return kept

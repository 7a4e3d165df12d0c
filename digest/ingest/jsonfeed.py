"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) into Articles.

Small sites and micro-blogs publish it. An item may have no title (a
micro-blog post is its text): its first words become the title. `author`
(1.0) and `authors` (1.1) are both read; `tags` are the categories.
A bad item is skipped or repaired and reported, as for RSS and Atom.
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urljoin

from digest.errors import IngestError
from digest.ingest.clean import html_to_text, normalise_text, plain_paragraphs, sanitise_html, shorten, text_to_html
from digest.ingest.items import checked_link, dedupe, item_label, joined, no_title
from digest.models import Article

VERSIONS = ("https://jsonfeed.org/version/1", "https://jsonfeed.org/version/1.1")
TITLE_WORDS = 80  # characters of a micro-blog post's text that make its title


def is_jsonfeed(payload: object) -> bool:
    """True for an object whose version is a JSON Feed version URL."""
    return isinstance(payload, dict) and str(payload.get("version", "")).rstrip("/").startswith(
        "https://jsonfeed.org/version/")


def parse_jsonfeed(payload: object, source: str, *, base_url: str | None = None) -> tuple[list[Article], list[str]]:
    """Parse a decoded JSON Feed. Returns (articles, problems); IngestError when it is no JSON Feed."""
    if not is_jsonfeed(payload):
        raise IngestError(source, "not a JSON Feed: no version https://jsonfeed.org/version/1[.1]")
    assert isinstance(payload, dict)
    problems: list[str] = []
    version = str(payload["version"]).rstrip("/")
    if version not in VERSIONS:
        problems.append(f"{source}: JSON Feed version {version!r} is newer than 1.1: read as 1.1")
    items = payload.get("items")
    if not isinstance(items, list):
        raise IngestError(source, "JSON Feed without an items list")
    home = payload.get("home_page_url") if isinstance(payload.get("home_page_url"), str) else None
    base = urljoin(base_url or "", home) if home else base_url
    feed_authors = _authors(payload)
    feed_language = _text(payload, "language")  # JSON Feed 1.1: the feed's, an item's own before it
    articles = []
    for index, item in enumerate(items, 1):
        article = _article(item, index, source, base, feed_authors, problems)
        if article is not None:
            article.language = (_text(item, "language") or feed_language)[:35]
            articles.append(article)
    return dedupe(articles, source, problems), problems


def _text(item: dict, key: str) -> str:
    value = item.get(key)
    return value.strip() if isinstance(value, str) else ""


def _authors(obj: dict) -> list[str]:
    found = obj.get("authors") if isinstance(obj.get("authors"), list) else [obj.get("author")]
    names = []
    for a in found:
        if isinstance(a, dict) and isinstance(a.get("name"), str) and normalise_text(a["name"]):
            names.append(normalise_text(a["name"]))
    return names


def _article(item: object, index: int, source: str, base: str | None, feed_authors: list[str],
             problems: list[str]) -> Article | None:
    if not isinstance(item, dict):
        problems.append(f"{source}: item {index}: skipped: not an object")
        return None
    link = _text(item, "url") or _text(item, "external_url") or None
    link = joined(base, link)
    html, text = _text(item, "content_html"), _text(item, "content_text")
    title = normalise_text(html_to_text(_text(item, "title")))
    plain = normalise_text(text or html_to_text(html) or _text(item, "summary"))
    if not title:
        title = shorten(plain, TITLE_WORDS) if plain else ""
    label = item_label(index, title, link or str(item.get("id") or "") or None)
    if no_title(title, source, label, problems, "no title and no text"):
        return None
    link = checked_link(link, source, label, problems)
    raw_id = item.get("id")
    guid = str(raw_id).strip() if isinstance(raw_id, (str, int)) and str(raw_id).strip() else None
    if guid is None:
        problems.append(f"{source}: {label}: no id: matched by its link instead")
    body = (sanitise_html(html, base_url=link or base) if html else text_to_html(text) if text else "") or None
    summary = _text(item, "summary")
    tags = item.get("tags") if isinstance(item.get("tags"), list) else []
    categories: list[str] = []
    for tag in tags:
        name = normalise_text(tag) if isinstance(tag, str) else ""
        if name and name not in categories:
            categories.append(name)
    authors = _authors(item) or feed_authors
    return Article(
        title=title,
        url=link,
        guid=guid,
        author=authors[0] if authors else None,
        published_at=_published(item, source, label, problems),
        categories=categories,
        teaser=plain_paragraphs(summary) or None,
        body=body,
        source=source,
    )


def _published(item: dict, source: str, label: str, problems: list[str]) -> datetime | None:
    """date_published, else date_modified (RFC 3339), as aware UTC; an impossible date is reported."""
    for key in ("date_published", "date_modified"):
        raw = _text(item, key)
        if not raw:
            continue
        try:
            parsed = datetime.fromisoformat(raw.replace("z", "Z"))
            if parsed.tzinfo is None:  # RFC 3339 requires an offset; UTC is the least surprising guess
                parsed = parsed.replace(tzinfo=timezone.utc)
            return parsed.astimezone(timezone.utc)
        except (ValueError, OverflowError):  # OverflowError: 9999-12-31 at -23:59 is past datetime's end
            problems.append(f"{source}: {label}: impossible date {raw!r}: date dropped")
            return None
    return None

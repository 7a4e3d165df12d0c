"""WordPress REST API posts (/wp-json/wp/v2/posts?_embed) into Articles."""

from __future__ import annotations

import html as htmllib
import re
from datetime import datetime, timezone

from digest.errors import IngestError
from digest.ingest.clean import html_to_text, normalise_text, sanitise_html
from digest.ingest.items import checked_link, dedupe, item_label, joined, no_title
from digest.ingest.images import from_html, from_wordpress
from digest.models import Article

# Themes append a "Continue reading" link to excerpts: it is navigation, not text.
_LINK_MORE = re.compile(r"<p\b[^>]*class=[\"'][^\"']*\blink-more\b[^>]*>.*?</p>", re.S | re.I)
_MORE_LINK = re.compile(r"<a\b[^>]*class=[\"'][^\"']*\bmore-link\b[^>]*>.*?</a>", re.S | re.I)
# The excerpt's "[…]" says the text was cut: an ellipsis says the same.
_BRACKETED_ELLIPSIS = re.compile(r"\s*\[\s*(?:&hellip;|&#8230;|…|\.\.\.)\s*\]")


def is_wordpress(payload: object) -> bool:
    """True for a list of post objects (or one post object) with title.rendered."""
    posts = payload if isinstance(payload, list) else [payload]
    return bool(posts) and any(
        isinstance(post, dict) and isinstance(post.get("title"), dict) and "rendered" in post["title"]
        for post in posts
    )


def wordpress_error(payload: object) -> str | None:
    """The message of a WordPress REST error object ({"code", "message"}), if it is one."""
    if isinstance(payload, dict) and "code" in payload and "message" in payload:
        return f"WordPress API error {payload['code']}: {normalise_text(html_to_text(str(payload['message'])))}"
    return None


def parse_wordpress(payload: object, source: str, *, base_url: str | None = None) -> tuple[list[Article], list[str]]:
    """Parse decoded REST JSON. Returns (articles, problems).

    base_url makes relative links absolute (the site URL, or where the JSON came from).
    """
    if not is_wordpress(payload):
        raise IngestError(source, wordpress_error(payload) or "JSON but not WordPress posts")
    posts = payload if isinstance(payload, list) else [payload]
    problems: list[str] = []
    articles = []
    others = [not_an_article(post) for post in posts]
    if posts and all(others):
        raise IngestError(source, f"WordPress {others[0]}, not posts: use /wp-json/wp/v2/posts?_embed")
    for index, (post, other) in enumerate(zip(posts, others), 1):
        if other:
            problems.append(f"{source}: item {index}: skipped: a WordPress {other.rstrip('s')}, not a post")
            continue
        article = _article(post, index, source, base_url, problems)
        if article is not None:
            articles.append(article)
    return dedupe(articles, source, problems), problems


_GUID_POST = re.compile(r"(?<=[?&])p=\d+")


def not_an_article(post: object) -> str | None:
    """What a REST object is when it is no post or page: "media attachments", "revisions", ...; else None.

    A revision carries no type and no link, but the post it revises (parent)."""
    if not isinstance(post, dict):
        return None
    kind = post.get("type")
    if kind == "attachment":
        return "media attachments"
    if kind is None and "parent" in post and not post.get("link"):
        return "revisions"
    if isinstance(kind, str) and (kind.startswith("wp_") or kind == "nav_menu_item"):
        return f"{kind} items"
    return None


def _rendered(post: dict, key: str) -> str:
    value = post.get(key)
    if isinstance(value, dict):
        value = value.get("rendered")
    return value if isinstance(value, str) else ""


def _article(post: object, index: int, source: str, base_url: str | None, problems: list[str]) -> Article | None:
    if not isinstance(post, dict):
        problems.append(f"{source}: item {index}: skipped: not a post object")
        return None
    title = normalise_text(html_to_text(_rendered(post, "title")))
    link = joined(base_url, _rendered(post, "link").strip() or None)
    label = item_label(index, title, link or str(post.get("id") or "") or None)
    if no_title(title, source, label, problems):
        return None
    link = checked_link(link, source, label, problems)
    base = link or base_url

    excerpt = _BRACKETED_ELLIPSIS.sub("…", _MORE_LINK.sub("", _LINK_MORE.sub("", _rendered(post, "excerpt"))))
    teaser = sanitise_html(excerpt, base_url=base) or None
    body = sanitise_html(_LINK_MORE.sub("", _rendered(post, "content")), base_url=base) or None
    content = post.get("content")
    if isinstance(content, dict) and content.get("protected"):
        problems.append(f"{source}: {label}: password-protected: body left out")
        body = None

    embedded = post.get("_embedded") if isinstance(post.get("_embedded"), dict) else {}
    author = None
    authors = embedded.get("author")
    if isinstance(authors, list) and authors and isinstance(authors[0], dict):
        author = normalise_text(htmllib.unescape(str(authors[0].get("name") or ""))) or None
    categories: list[str] = []
    for group in embedded.get("wp:term") or []:
        for term in group if isinstance(group, list) else []:
            if isinstance(term, dict) and term.get("taxonomy") in ("category", "post_tag"):
                name = normalise_text(htmllib.unescape(str(term.get("name") or "")))
                if name and name not in categories:
                    categories.append(name)

    guid = htmllib.unescape(_rendered(post, "guid")).strip() or None
    return Article(
        title=title,
        url=link,
        guid=guid,
        author=author,
        published_at=(published := _published(post, source, label, problems)),
        date_unreadable=published is None and bool(post.get("date_gmt")),
        categories=categories,
        teaser=teaser,
        body=body,
        source=source,
        image=from_wordpress(post, base) or from_html(teaser, body, base=base),
        language=_language(post),
        translation_refs=_translation_refs(post, guid),
    )


def _language(post: dict) -> str:
    """The post's language as Polylang ("lang": "cy") or WPML ("wpml_current_locale": "cy_GB") says; else ""."""
    for key in ("lang", "wpml_current_locale"):
        value = post.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().replace("_", "-")[:35]
    return ""


def _translation_refs(post: dict, guid: str | None) -> tuple[str, ...]:
    """Where the post's translations are: WPML's wpml_translations (each with its href), Polylang's
    translations ({"cy": 57}: the guid of post 57, as WordPress writes guids: ...?p=57)."""
    refs: list[str] = []
    wpml = post.get("wpml_translations")
    for t in wpml if isinstance(wpml, list) else []:
        if isinstance(t, dict) and isinstance(t.get("href"), str) and t["href"].strip():
            refs.append(t["href"].strip())
    polylang = post.get("translations")
    if isinstance(polylang, dict) and guid and _GUID_POST.search(guid):
        own = post.get("id")
        for other in polylang.values():
            if isinstance(other, int) and not isinstance(other, bool) and other != own:
                refs.append(_GUID_POST.sub(f"p={other}", guid))
    return tuple(refs)


def _published(post: dict, source: str, label: str, problems: list[str]) -> datetime | None:
    """date_gmt is UTC without an offset; `date` is site-local time of unknown zone, so unusable."""
    raw = post.get("date_gmt")
    if not raw:
        problems.append(f"{source}: {label}: no date_gmt: date left empty")
        return None
    try:
        parsed = datetime.fromisoformat(str(raw))
        return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01 at +01:00 is before datetime's start
        problems.append(f"{source}: {label}: impossible date {raw!r}: stored without a date")
        return None

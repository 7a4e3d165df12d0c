"""Articles, topics and their links: the SQL behind ingest, `digest articles` and selection."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Sequence

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from ..models import Article, ArticleImage, Topic, TopicReason
from .schema import article_topics, articles, topics


@dataclass(frozen=True)
class Upserted:
    id: int
    created: bool
    changed: bool
    twin_of: str | None = None  # the same story was already in from this other source: kept once


# A story read from a listing export (no guid, no link of its own: known by its
# title) and the same story from a feed are one article when their titles have
# the same words and their dates are this close.
TWIN_WINDOW = timedelta(days=3)


def title_words(title: str) -> str:
    """A title as a comparable string: case, accents' encoding, quotes and punctuation set aside."""
    return " ".join(re.findall(r"\w+", unicodedata.normalize("NFKC", title).casefold()))


def _twin(conn: Connection, article: Article, key: str, first_date: datetime):
    """The row of the same story stored from another source, when one of the two is known by its title only."""
    words = title_words(article.title)
    when = article.published_at or first_date
    if not words:
        return None
    candidates = conn.execute(
        select(articles).where(articles.c.source != article.source, articles.c.duplicate_of.is_(None),
                               articles.c.published_at.between(when - TWIN_WINDOW, when + TWIN_WINDOW))
        .order_by(articles.c.id))
    for row in candidates:
        if (key.startswith("title:") or row.dedupe_key.startswith("title:")) and title_words(row.title) == words:
            return row
    return None


def sync_topics(conn: Connection, taxonomy: Sequence[Topic]) -> None:
    """Make the topics table match the configured taxonomy (labels and order)."""
    existing = {r.slug: r for r in conn.execute(select(topics))}
    for pos, t in enumerate(taxonomy):
        row = existing.pop(t.slug, None)
        if row is None:
            conn.execute(insert(topics).values(slug=t.slug, label=t.label, position=pos))
        elif (row.label, row.position) != (t.label, pos):
            conn.execute(update(topics).where(topics.c.slug == t.slug).values(label=t.label, position=pos))
    # Topics dropped from the taxonomy lose their links (article_topics cascades).
    if existing:
        conn.execute(delete(topics).where(topics.c.slug.in_(list(existing))))


_CONTENT = ("guid", "url", "title", "author", "author_role", "teaser", "body", "source", "link_origin", "language")


def upsert_article(
    conn: Connection, article: Article, reasons: Sequence[TopicReason], *, now: datetime,
    undated_at: datetime | None = None,
) -> Upserted:
    """Insert a new article or update the one with the same dedupe key.

    A story already stored from another source is not stored twice: when one
    of the two copies comes from a listing export (known by its title only),
    the same title within TWIN_WINDOW is the same article, and the feed's copy
    (its guid, link and text) is the one kept. Editors' choices (pinned,
    excluded, summary override, a date they set) survive re-ingest; an article
    without a date of its own keeps the date it was first given: `undated_at`,
    else `now`.
    """
    key = article.dedupe_key
    values = {c: getattr(article, c) for c in _CONTENT}
    values["categories"] = json.dumps(article.categories, ensure_ascii=False)
    values["image"] = article.image.to_json() if article.image is not None else None
    row = conn.execute(select(articles).where(articles.c.dedupe_key == key)).first()
    first_date = undated_at or now
    twin = _twin(conn, article, key, first_date) if row is None else None
    if row is None:
        values.update(
            dedupe_key=key,
            # No date: the time it is first seen, unless the source gave one that could not be
            # read; then none at all (not selected) until `digest article date` places it.
            published_at=article.published_at or (None if article.date_unreadable else first_date),
            first_seen_at=now,
            updated_at=now,
            pinned=False,
            excluded=False,
        )
        if twin is not None and key.startswith("title:"):  # a listing's copy of a story a feed gave
            values["duplicate_of"] = twin.id
        art_id = conn.execute(insert(articles).values(**values)).inserted_primary_key[0]
        _set_topics(conn, art_id, reasons)
        if twin is None:
            return Upserted(art_id, True, True)
        if values.get("duplicate_of") is None:  # a feed's copy of a story first read from a listing
            _take_over(conn, twin, art_id)
            return Upserted(art_id, True, True, twin.source)
        return Upserted(twin.id, False, False, twin.source)
    if article.published_at is not None:
        values["published_at"] = article.published_at
    changed = any(getattr(row, k) != v for k, v in values.items())
    old_topics = {r.topic_slug for r in conn.execute(
        select(article_topics.c.topic_slug).where(article_topics.c.article_id == row.id))}
    by_hand = bool(row.topics_by_hand)  # an editor chose them on the desk: re-ingest keeps them
    changed = changed or (not by_hand and old_topics != {r.slug for r in reasons})
    if changed:
        values["updated_at"] = now
        conn.execute(update(articles).where(articles.c.id == row.id).values(**values))
        if not by_hand:
            _set_topics(conn, row.id, reasons)
    return Upserted(row.duplicate_of or row.id, False, changed)  # a known duplicate: reported when first seen


def _take_over(conn: Connection, listed, art_id: int) -> None:
    """The listing's copy `listed` becomes a duplicate of article art_id, which keeps the editor's choices."""
    carried = {c: getattr(listed, c) for c in ("pinned", "excluded", "summary_override", "rank")
               if getattr(listed, c) not in (None, False)}
    if carried:
        conn.execute(update(articles).where(articles.c.id == art_id).values(**carried))
    conn.execute(update(articles).where(articles.c.duplicate_of == listed.id).values(duplicate_of=art_id))
    conn.execute(update(articles).where(articles.c.id == listed.id).values(duplicate_of=art_id))


def _set_topics(conn: Connection, article_id: int, reasons: Sequence[TopicReason]) -> None:
    conn.execute(delete(article_topics).where(article_topics.c.article_id == article_id))
    if reasons:
        conn.execute(insert(article_topics), [
            {"article_id": article_id, "topic_slug": r.slug, "reason": r.reason[:500]} for r in reasons
        ])


def list_articles(
    conn: Connection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    topic: str | None = None,
    ids: Iterable[int] | None = None,
    include_excluded: bool = True,
) -> list[Article]:
    """Articles published in [since, until), newest first, with their topics (duplicates only by id)."""
    q = select(articles).order_by(articles.c.published_at.desc(), articles.c.id.desc())
    if since is not None:
        q = q.where(articles.c.published_at >= since)
    if until is not None:
        q = q.where(articles.c.published_at < until)
    if topic is not None:
        q = q.where(articles.c.id.in_(
            select(article_topics.c.article_id).where(article_topics.c.topic_slug == topic)))
    if ids is not None:
        q = q.where(articles.c.id.in_(list(ids)))
    else:  # the other copy of a story from two sources is kept for its source's health only
        q = q.where(articles.c.duplicate_of.is_(None))
    if not include_excluded:
        q = q.where(articles.c.excluded.is_(False))
    rows = conn.execute(q).all()
    links = topic_reasons(conn, [r.id for r in rows])
    return [_article(r, [t.slug for t in links.get(r.id, [])]) for r in rows]


def topic_reasons(conn: Connection, article_ids: Sequence[int]) -> dict[int, list[TopicReason]]:
    """Each article's topics, in taxonomy order, with the reason it got them."""
    out: dict[int, list[TopicReason]] = defaultdict(list)
    if not article_ids:
        return out
    q = (
        select(article_topics.c.article_id, article_topics.c.topic_slug, article_topics.c.reason)
        .join(topics, topics.c.slug == article_topics.c.topic_slug)
        .order_by(topics.c.position)
    )
    # Chunked: SQLite caps the number of bound parameters.
    for i in range(0, len(article_ids), 500):
        chunk = list(article_ids[i:i + 500])
        for r in conn.execute(q.where(article_topics.c.article_id.in_(chunk))):
            out[r.article_id].append(TopicReason(r.topic_slug, r.reason))
    return out


def set_editorial(conn: Connection, article_id: int, *, now: datetime, **changes) -> bool:
    """Pin/unpin, exclude/include, or override the summary (None clears it)."""
    allowed = {"pinned", "excluded", "summary_override", "rank"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot set {sorted(unknown)}")
    result = conn.execute(
        update(articles).where(articles.c.id == article_id).values(updated_at=now, **changes))
    return result.rowcount == 1


def set_published(conn: Connection, article_id: int, published_at: datetime, *, now: datetime) -> bool:
    """The editor dates an article (one whose feed gave an impossible date, or a wrong one)."""
    result = conn.execute(
        update(articles).where(articles.c.id == article_id).values(published_at=published_at, updated_at=now))
    return result.rowcount == 1


def undated_ids(conn: Connection, article_ids: Sequence[int]) -> list[int]:
    """Those of the articles that have no date."""
    if not article_ids:
        return []
    q = select(articles.c.id).where(articles.c.id.in_(list(article_ids)), articles.c.published_at.is_(None))
    return [r.id for r in conn.execute(q)]


def _article(r, topic_slugs: list[str]) -> Article:
    return Article(
        id=r.id,
        title=r.title,
        url=r.url,
        guid=r.guid,
        author=r.author,
        author_role=r.author_role,
        published_at=r.published_at,
        categories=json.loads(r.categories or "[]"),
        teaser=r.teaser,
        body=r.body,
        source=r.source,
        link_origin=r.link_origin or "source",
        topics=topic_slugs,
        summary_override=r.summary_override,
        pinned=bool(r.pinned),
        excluded=bool(r.excluded),
        first_seen_at=r.first_seen_at,
        image=ArticleImage.from_json(r.image),
        rank=r.rank,
        topics_by_hand=bool(r.topics_by_hand),
        language=r.language or "",
        translation_id=r.translation_id,
    )


def first_published(conn: Connection, dedupe_key: str) -> datetime | None:
    """The date an article was first given (listing articles keep theirs), or None if it is new."""
    return conn.execute(select(articles.c.published_at).where(articles.c.dedupe_key == dedupe_key)).scalar()


def newest_published(conn: Connection, source: str, *, before: datetime) -> datetime | None:
    """The newest publication date of a source's articles before `before` (an edition's end)."""
    q = select(func.max(articles.c.published_at)).where(articles.c.source == source,
                                                         articles.c.published_at < before)
    value = conn.execute(q).scalar()
    if isinstance(value, str):  # SQLite's max() returns the stored text
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def link_origins(conn: Connection, article_ids: Sequence[int]) -> dict[int, str]:
    """article id -> where its link came from ("source", "template", "website")."""
    ids = [i for i in article_ids if i is not None]
    if not ids:
        return {}
    q = select(articles.c.id, articles.c.link_origin).where(articles.c.id.in_(ids))
    return {r.id: r.link_origin or "source" for r in conn.execute(q)}


def resolved_links(conn: Connection, dedupe_keys: Sequence[str]) -> dict[str, str]:
    """The links found for these articles before (link_origin "resolved"), by dedupe key: found once, kept."""
    out: dict[str, str] = {}
    for i in range(0, len(dedupe_keys), 500):
        chunk = list(dedupe_keys[i:i + 500])
        for r in conn.execute(select(articles.c.dedupe_key, articles.c.url).where(
                articles.c.dedupe_key.in_(chunk), articles.c.link_origin == "resolved")):
            out[r.dedupe_key] = r.url
    return out


def known_images(conn: Connection, dedupe_keys: Sequence[str]) -> dict[str, ArticleImage]:
    """Pictures already stored for these articles, by their first URL (so re-ingest fetches nothing twice)."""
    out: dict[str, ArticleImage] = {}
    for i in range(0, len(dedupe_keys), 500):
        chunk = list(dedupe_keys[i:i + 500])
        for r in conn.execute(select(articles.c.image).where(articles.c.dedupe_key.in_(chunk),
                                                             articles.c.image.is_not(None))):
            image = ArticleImage.from_json(r.image)
            if image is not None and image.sources:
                out[image.sources[0].url] = image
    return out


def set_ranks(conn: Connection, ranks: dict[int, int], *, now: datetime) -> None:
    """The editor's order: article id -> rank (the desk's move up/down)."""
    for article_id, rank in ranks.items():
        conn.execute(update(articles).where(articles.c.id == article_id).values(rank=rank, updated_at=now))


def set_topics(conn: Connection, article_id: int, reasons: Sequence[TopicReason], *, by_hand: bool,
               now: datetime) -> bool:
    """An article's topics with their reasons; by_hand (an editor chose them) keeps re-ingest from replacing them."""
    result = conn.execute(update(articles).where(articles.c.id == article_id)
                          .values(topics_by_hand=by_hand, updated_at=now))
    if result.rowcount != 1:
        return False
    _set_topics(conn, article_id, reasons)
    return True


# ---- translations: the same article in another language ---------------------------------------------------


def link_translations(conn: Connection, one: int, other: int) -> None:
    """Articles `one` and `other` are each other's translation (any earlier link of either is undone)."""
    conn.execute(update(articles).where(articles.c.translation_id.in_([one, other])).values(translation_id=None))
    conn.execute(update(articles).where(articles.c.id == one).values(translation_id=other))
    conn.execute(update(articles).where(articles.c.id == other).values(translation_id=one))


def link_by_refs(conn: Connection, article_id: int, refs: Sequence[str]) -> int | None:
    """Link an article to the one its source names as its translation (a guid or link), if it is in
    and not linked already; the other's id, or None."""
    if not refs:
        return None
    q = (select(articles.c.id).where((articles.c.guid.in_(list(refs))) | (articles.c.url.in_(list(refs))),
                                     articles.c.id != article_id, articles.c.translation_id.is_(None))
         .order_by(articles.c.id))
    other = conn.execute(q).scalar()
    if other is not None:
        link_translations(conn, article_id, other)
    return other


def link_by_path(conn: Connection, article_id: int, url: str | None, segments: Sequence[str]) -> int | None:
    """Link an article to the one at the same link with (or without) a language's path segment
    ("https://example.org/cy/news/x" and "https://example.org/news/x"), when both are unlinked."""
    if not url or not segments:
        return None
    candidates = []
    for seg in segments:
        marker = f"/{seg}/"
        scheme, sep, rest = url.partition("://")
        host, slash, path = rest.partition("/")
        if ("/" + path).startswith(marker):  # this one is the translation: find the page without it
            candidates.append(f"{scheme}{sep}{host}/{path[len(marker) - 1:]}")
        else:
            candidates.append(f"{scheme}{sep}{host}{marker[:-1]}/{path}")
    q = (select(articles.c.id).where(articles.c.url.in_(candidates), articles.c.id != article_id,
                                     articles.c.translation_id.is_(None), articles.c.duplicate_of.is_(None))
         .order_by(articles.c.id))
    other = conn.execute(q).scalar()
    if other is not None and conn.execute(select(articles.c.translation_id).where(
            articles.c.id == article_id)).scalar() is None:
        link_translations(conn, article_id, other)
        return other
    return None


def languages_of(conn: Connection, article_ids: Sequence[int]) -> dict[int, str]:
    """Each existing article's language ("": the organisation's first), by id."""
    q = select(articles.c.id, articles.c.language).where(articles.c.id.in_(list(article_ids)))
    return {r.id: r.language or "" for r in conn.execute(q)}


def unlink_translation(conn: Connection, article_id: int) -> bool:
    """Undo an article's translation link (both ends); False when it had none."""
    other = conn.execute(select(articles.c.translation_id).where(articles.c.id == article_id)).scalar()
    if other is None:
        return False
    conn.execute(update(articles).where(articles.c.id.in_([article_id, other])).values(translation_id=None))
    return True

"""Which articles go into an edition, and which items each member's variant keeps.

Pure: takes articles and a window, returns articles. The order is pinned
first, then newest first, then title, then id, so the same input always gives
the same edition. A balancing pass keeps one busy topic from taking more than
half of the edition while articles of other topics wait.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Collection, Sequence

from ..errors import SelectionError
from ..models import Article, EditionItem, Window

NO_TOPIC = ""  # the group of articles without a topic, for the balancing pass


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; the schema stores UTC, so naive means UTC.
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def order_key(article: Article) -> tuple:
    """Pinned first, then in the editor's order (rank, set on the desk; unranked after ranked),
    then newest first; ties keep the source's order (the order they were stored in).

    A listing export's articles all carry the date given at ingest, so without
    this its first post could come anywhere. Articles not yet stored (no id)
    come after stored ones, by title.
    """
    published = _utc(article.published_at).timestamp() if article.published_at else float("-inf")
    return (
        not article.pinned,
        article.rank is None,
        article.rank or 0,
        -published,
        article.id is None,
        article.id or 0,
        article.title,
    )


def in_window(article: Article, window: Window) -> bool:
    """window.start <= published_at < window.end (an undated article is in no window)."""
    if article.published_at is None:
        return False
    return _utc(window.start) <= _utc(article.published_at) < _utc(window.end)


def candidates(articles: Sequence[Article], window: Window, topics: Collection[str] | None = None) -> list[Article]:
    """The articles an edition for `window` may use, in edition order (no cap)."""
    wanted = None if topics is None else set(topics)
    keep = [
        a
        for a in articles
        if in_window(a, window) and not a.excluded and (wanted is None or wanted.intersection(a.topics))
    ]
    return sorted(keep, key=order_key)


def select(
    articles: Sequence[Article],
    window: Window,
    *,
    topics: Collection[str] | None = None,
    size: int = 10,
) -> list[Article]:
    """The articles of an edition: in the window, not excluded, of `topics` if given.

    At most `size`, except that pinned articles are always in, even beyond
    `size` and the topic cap. No topic takes more than half of the slots
    (at least one) while articles of other topics wait: an article whose every
    topic is already at that cap is deferred, and deferred articles fill the
    slots left over, in order. Articles without a topic are a group of their
    own. The result is in edition order (pinned, newest, title, id).
    """
    if size < 0:
        raise SelectionError(f"edition size must be 0 or more, not {size}")
    ordered = candidates(articles, window, topics)
    cap = max(1, size // 2)
    counts: dict[str, int] = {}
    chosen: list[Article] = []
    deferred: list[Article] = []

    def take(article: Article) -> None:
        chosen.append(article)
        for group in article.topics or [NO_TOPIC]:
            counts[group] = counts.get(group, 0) + 1

    for article in ordered:
        if article.pinned:
            take(article)
        elif len(chosen) >= size:
            continue
        elif all(counts.get(group, 0) >= cap for group in article.topics or [NO_TOPIC]):
            deferred.append(article)
        else:
            take(article)
    for article in deferred:
        if len(chosen) >= size:
            break
        chosen.append(article)
    return sorted(chosen, key=order_key)


def items_for_topics(items: Sequence[EditionItem], member_topics: Collection[str]) -> list[EditionItem]:
    """The items of a member's variant: those sharing a topic with the member's
    choice, plus pinned items, which every member gets. No choice means all."""
    if not member_topics:
        return list(items)
    wanted = set(member_topics)
    return [item for item in items if item.pinned or wanted.intersection(item.topics)]

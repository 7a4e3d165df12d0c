"""Selection: the window, exclusions, topics, order, the cap and the topic balance."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from digest.errors import SelectionError
from digest.models import Article, EditionItem, Window
from digest.edition.selection import items_for_topics, select

UTC = timezone.utc
WEEK = Window(datetime(2017, 6, 18, 23, tzinfo=UTC), datetime(2017, 6, 25, 23, tzinfo=UTC), "2017-W25", "weekly")


def art(n: int, hours: float, topics=(), **kw) -> Article:
    """Article `n` published `hours` after the window opens."""
    return Article(
        title=kw.pop("title", f"Article {n:02d}"),
        id=n,
        published_at=WEEK.start + timedelta(hours=hours),
        topics=list(topics),
        **kw,
    )


def ids(articles) -> list[int]:
    return [a.id for a in articles]


def test_window_is_half_open_and_undated_articles_stay_out():
    articles = [
        art(1, 0),  # exactly the start: in
        art(2, 7 * 24),  # exactly the end: out
        art(3, -0.001),
        art(4, 7 * 24 - 0.001),
        Article(title="undated", id=5),
    ]
    assert ids(select(articles, WEEK)) == [4, 1]


def test_naive_datetimes_are_utc():
    a = Article(title="naive", id=1, published_at=datetime(2017, 6, 18, 23, 30))
    b = Article(title="naive early", id=2, published_at=datetime(2017, 6, 18, 22, 30))
    assert ids(select([a, b], WEEK)) == [1]


def test_excluded_articles_stay_out_even_when_pinned():
    assert ids(select([art(1, 1, excluded=True), art(2, 2, excluded=True, pinned=True), art(3, 3)], WEEK)) == [3]


def test_topic_filter():
    articles = [art(1, 1, ["cyber"]), art(2, 2, ["gdpr", "cyber"]), art(3, 3, ["health"]), art(4, 4)]
    assert ids(select(articles, WEEK, topics={"cyber"})) == [2, 1]
    assert ids(select(articles, WEEK, topics=["gdpr", "health"])) == [3, 2]
    assert ids(select(articles, WEEK, topics=[])) == []  # an empty filter matches nothing
    assert ids(select(articles, WEEK, topics=None)) == [4, 3, 2, 1]


def test_order_pinned_then_newest_then_the_sources_order():
    same = WEEK.start + timedelta(hours=5)
    articles = [
        art(1, 1),
        art(2, 9),
        art(3, 2, pinned=True),
        Article(title="B same time", id=4, published_at=same),
        Article(title="A same time", id=6, published_at=same),
        Article(title="A same time", id=5, published_at=same),
        art(7, 0.5, pinned=True),
    ]
    # 4, 5, 6 share a time (a listing export's articles share the date given at ingest): they
    # keep the order they were stored in, which is the source's, whatever their titles.
    assert ids(select(articles, WEEK)) == [3, 7, 2, 4, 5, 6, 1]
    assert ids(select(list(reversed(articles)), WEEK)) == [3, 7, 2, 4, 5, 6, 1]
    unsaved = [Article(title="B", published_at=same), Article(title="A", published_at=same), art(8, 5)]
    assert [a.title for a in select(unsaved, WEEK)] == ["Article 08", "A", "B"]  # stored first, then by title


def test_size_caps_newest_first():
    articles = [art(n, n) for n in range(1, 15)]
    assert ids(select(articles, WEEK, size=3)) == [14, 13, 12]
    assert ids(select(articles, WEEK, size=0)) == []
    with pytest.raises(SelectionError, match="-1"):
        select(articles, WEEK, size=-1)


def test_one_topic_takes_at_most_half_while_others_wait():
    # Eight newest articles on one topic, then four on others.
    articles = [art(n, 100 + n, ["cyber"]) for n in range(1, 9)]
    articles += [art(20 + n, n, [t]) for n, t in enumerate(["gdpr", "health", "gdpr", "skills"], 1)]
    got = select(articles, WEEK, size=6)
    assert sum("cyber" in a.topics for a in got) == 3
    assert ids(got) == [8, 7, 6, 24, 23, 22]  # edition order: newest first


def test_deferred_articles_fill_the_slots_nobody_else_wants():
    articles = [art(n, 100 + n, ["cyber"]) for n in range(1, 9)] + [art(21, 1, ["gdpr"])]
    got = select(articles, WEEK, size=6)
    # Only one other article waits, so cyber gets the other five slots: the newest ones.
    assert ids(got) == [8, 7, 6, 5, 4, 21]


def test_articles_without_topic_are_a_group_of_their_own():
    articles = [art(n, 100 + n) for n in range(1, 6)] + [art(21, 1, ["gdpr"]), art(22, 2, ["health"])]
    assert ids(select(articles, WEEK, size=4)) == [5, 4, 22, 21]


def test_an_article_with_one_topic_under_the_cap_is_taken():
    articles = [art(1, 10, ["cyber"]), art(2, 9, ["cyber"]), art(3, 8, ["cyber", "gdpr"]), art(4, 1, ["health"]), art(5, 0, ["skills"])]
    # cap 2: 3 is cyber (full) but also gdpr (empty), so it is taken; 4 fills the last slot.
    assert ids(select(articles, WEEK, size=4)) == [1, 2, 3, 4]


def test_pinned_articles_are_always_in():
    articles = [art(n, 100 + n, ["cyber"], pinned=True) for n in range(1, 5)] + [art(21, 1, ["gdpr"]), art(22, 2, ["cyber"])]
    got = select(articles, WEEK, size=4)
    assert ids(got) == [4, 3, 2, 1]  # over the topic cap of 2, and the slots are full
    got = select(articles, WEEK, size=3)
    assert ids(got) == [4, 3, 2, 1]  # even beyond the size
    got = select(articles, WEEK, size=6)
    assert ids(got) == [4, 3, 2, 1, 22, 21]


def test_small_editions_still_get_one_per_topic():
    articles = [art(1, 3, ["cyber"]), art(2, 2, ["cyber"]), art(3, 1, ["gdpr"])]
    assert ids(select(articles, WEEK, size=1)) == [1]
    assert ids(select(articles, WEEK, size=2)) == [1, 3]
    assert ids(select(articles, WEEK, size=3)) == [1, 2, 3]


def test_input_is_not_changed():
    articles = [art(2, 1), art(1, 2)]
    before = list(articles)
    select(articles, WEEK, size=1)
    assert articles == before


def item(n: int, topics=(), pinned=False) -> EditionItem:
    return EditionItem(n, n, f"Item {n}", f"https://example.org/{n}", None, None, WEEK.start, tuple(topics), "Summary.", pinned)


def test_items_for_topics():
    items = [item(1, ["cyber"]), item(2, ["gdpr", "health"]), item(3), item(4, ["skills"], pinned=True), item(5, ["health"])]
    assert [i.article_id for i in items_for_topics(items, [])] == [1, 2, 3, 4, 5]
    assert [i.article_id for i in items_for_topics(items, ())] == [1, 2, 3, 4, 5]
    assert [i.article_id for i in items_for_topics(items, ["health"])] == [2, 4, 5]
    assert [i.article_id for i in items_for_topics(items, {"cyber", "gdpr"})] == [1, 2, 4]
    assert [i.article_id for i in items_for_topics(items, ["nothing-here"])] == [4]

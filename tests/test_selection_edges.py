"""Selection at its edges: time zones, undated and id-less articles, the default size, the topic cap of odd sizes.

Written against what mutation testing (scripts/mutants selection) found unguarded.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from test_selection import WEEK, art, ids

from digest.edition.selection import order_key, select
from digest.models import Article

UTC = timezone.utc


def test_newest_first_compares_instants_not_clock_faces():
    paris = timezone(timedelta(hours=2))
    early = Article(title="A", id=1, published_at=datetime(2017, 6, 21, 10, 0, tzinfo=paris))  # 08:00 UTC
    later = Article(title="B", id=2, published_at=datetime(2017, 6, 21, 9, 0, tzinfo=UTC))
    naive = Article(title="C", id=3, published_at=datetime(2017, 6, 21, 8, 30))  # SQLite: naive is UTC
    assert [a.id for a in sorted([early, later, naive], key=order_key)] == [2, 3, 1]


def test_undated_and_id_less_articles_sort_last():
    dated = Article(title="Same", id=5, published_at=datetime(2017, 6, 21, tzinfo=UTC))
    no_id = Article(title="Same", id=None, published_at=datetime(2017, 6, 21, tzinfo=UTC))
    undated = Article(title="Aardvark", id=1)
    assert sorted([undated, no_id, dated], key=order_key) == [dated, no_id, undated]


def test_an_edition_holds_ten_articles_unless_told_otherwise():
    articles = [art(n, n) for n in range(1, 13)]
    assert len(select(articles, WEEK)) == 10


def test_the_topic_cap_of_an_odd_size_rounds_down():
    # size 5: no topic takes more than 2 while others wait.
    articles = ([art(n, 100 - n, ("a",)) for n in range(1, 5)] + [art(10, 50, ("b",))]
                + [art(n, 40 - n, ("c",)) for n in range(20, 23)])
    assert ids(select(articles, WEEK, size=5)) == [1, 2, 10, 20, 21]

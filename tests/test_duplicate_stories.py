"""One story from two sources (a feed and a listing export of the same site) is one article.

The listing export has no guid and no link of its own, so it is known by its
title: the same words in the title within three days of each other make the
same story, whichever source is read first. Members get the feed's copy (its
link, text and picture); the listing's copy stays for its source's health.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path

from digest.config import SourceSettings
from digest.db import articles as article_db
from digest.editorial.gate import gate_problems
from digest.edition.periods import parse_period
from digest.ingest.store import ingest_sources

ROOT = Path(__file__).resolve().parent.parent
FEED = str(ROOT / "samples" / "news.xml")
NOW = datetime(2017, 6, 23, 9, 0, tzinfo=timezone.utc)
PUBLISHED = datetime(2017, 6, 21, 12, 0, tzinfo=timezone.utc)  # what the editor gives the undated export


def _week(db):
    window = parse_period("2017-W25", "Europe/London")
    with db.connect() as conn:
        return article_db.list_articles(conn, since=window.start, until=window.end)


def _by_title(found):
    out: dict[str, list] = {}
    for a in found:
        out.setdefault(a.title, []).append(a)
    return out


def test_the_feed_first_then_the_listing_each_story_once_with_the_feeds_link(db, settings, seed_path):
    [feed] = ingest_sources(db, settings, [FEED], now=NOW)
    before = _by_title(_week(db))
    [listing] = ingest_sources(db, settings, [str(seed_path)], published=PUBLISHED, now=NOW)

    after = _by_title(_week(db))
    assert set(after) == set(before)  # nothing new for members
    assert all(len(copies) == 1 for copies in after.values())
    queen = after["Queen’s speech: what to watch for and what’s missing"][0]
    assert queen.url == "https://www.example.org/2017/06/21/queens-speech-what-to-watch-for-and-whats-missing/"
    twins = [p for p in listing.problems if "is already in from" in p]
    assert len(twins) == 5 and all(FEED in p and "kept once" in p for p in twins)
    assert "“Queen’s speech: what to watch for and what’s missing” is already in from " + FEED + \
        f" (article {queen.id}): kept once" in twins
    assert (listing.new, listing.unchanged, listing.kept_once) == (0, 0, 5) and feed.new == 16
    assert listing.counts() == "0 new, 0 updated, 0 unchanged, 5 already in from another source"

    # Read again next week: no new article, no second report.
    [again] = ingest_sources(db, settings, [str(seed_path)], published=PUBLISHED, now=NOW)
    assert not [p for p in again.problems if "is already in from" in p]
    assert (again.new, again.unchanged) == (0, 5)
    assert _by_title(_week(db)).keys() == after.keys()


def test_the_listing_first_then_the_feed_the_feeds_copy_takes_over_with_the_editors_pin(db, settings, seed_path):
    ingest_sources(db, settings, [str(seed_path)], published=PUBLISHED, now=NOW)
    listed = _by_title(_week(db))["Queen’s speech: what to watch for and what’s missing"][0]
    assert listed.guid is None and listed.link_origin != "source"
    with db.begin() as conn:
        article_db.set_editorial(conn, listed.id, now=NOW, pinned=True, summary_override="The editor's words.")

    [feed] = ingest_sources(db, settings, [FEED], now=NOW)

    found = _by_title(_week(db))
    assert all(len(copies) == 1 for copies in found.values()), {t: len(c) for t, c in found.items() if len(c) > 1}
    queen = found["Queen’s speech: what to watch for and what’s missing"][0]
    assert queen.id != listed.id and queen.guid == "https://www.example.org/?p=1001"
    assert queen.url.startswith("https://www.example.org/2017/06/21/queens-speech")
    assert queen.pinned and queen.summary_override == "The editor's words."
    assert len([p for p in feed.problems if "is already in from" in p]) == 5
    assert (feed.new, feed.kept_once) == (11, 5)  # the other 11 stories of the feed are new
    # The listing's copy is still there, by id, pointing at the feed's.
    with db.connect() as conn:
        [kept] = article_db.list_articles(conn, ids=[listed.id])
    assert kept.title == listed.title


def test_a_listing_whose_stories_all_came_from_the_feed_is_not_stale(db, settings, seed_path):
    ingest_sources(db, settings, [FEED], now=NOW)
    ingest_sources(db, settings, [str(seed_path)], published=PUBLISHED, now=NOW)
    sources = (SourceSettings(FEED, FEED), SourceSettings(str(seed_path), str(seed_path), kind="listing"))
    settings = dataclasses.replace(settings, sources=sources, min_articles=1)
    window = parse_period("2017-W25", "Europe/London")
    assert gate_problems(db, settings, window, {}, len(_week(db))) == []


def test_the_same_title_weeks_apart_is_another_story(db, settings, seed_path):
    ingest_sources(db, settings, [FEED], now=NOW)
    later = datetime(2017, 7, 12, 12, 0, tzinfo=timezone.utc)  # a monthly column that reuses its title
    [listing] = ingest_sources(db, settings, [str(seed_path)], published=later, now=later)
    assert listing.new == 5 and not [p for p in listing.problems if "is already in from" in p]
    july = parse_period("2017-07", "Europe/London")
    with db.connect() as conn:
        assert len(article_db.list_articles(conn, since=july.start, until=july.end)) == 5


def test_title_words_set_aside_case_quotes_and_punctuation():
    words = article_db.title_words
    assert words("Queen’s speech: what to watch for") == words("QUEEN'S SPEECH — What to watch for?")
    assert words("Ｆｕｌｌ width") == words("full width")  # NFKC
    assert words("GDPR: one year on") != words("GDPR: two years on")
    assert words("…") == ""

"""Tests written from the mutants that survived tests/ alone (scripts/mutants)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

from digest.config import SourceSettings
from digest.edition.periods import parse_period
from digest.editorial.gate import gate_problems, hold_reasons
from digest.ingest.store import ingest_sources

FEED = str(Path(__file__).resolve().parent.parent / "samples" / "news.xml")
W25 = parse_period("2017-W25", "Europe/London")


def test_a_failed_source_does_not_stop_the_gate_judging_the_sources_after_it():
    sources = [SourceSettings("news", "https://e.org/feed"), SourceSettings("events", "/srv/e.xml")]
    reasons = hold_reasons(W25, sources, {"news": "HTTP 404"}, {"events": None}, 5, 1)
    assert reasons == ["source news failed: HTTP 404",
                       "source events is stale: it has no article published before the end of 2017-W25"]


def test_as_many_articles_as_min_articles_is_enough():
    newest = {"news": W25.end - timedelta(days=1)}
    assert hold_reasons(W25, [SourceSettings("news", "/n.xml")], {}, newest, 2, 2) == []
    assert hold_reasons(W25, [SourceSettings("news", "/n.xml")], {}, newest, 1, 2) == [
        "edition 2017-W25 would have 1 article(s), fewer than min_articles = 2"]


def test_the_gate_reads_each_sources_newest_article_before_the_editions_end(db, settings):
    """The stored feed's newest article before 2017-W27's end is 29 June 14:30 UTC (30 June in Auckland)."""
    ingest_sources(db, settings, [FEED], now=datetime(2017, 7, 1, tzinfo=timezone.utc))
    sources = (SourceSettings(FEED, FEED, max_age_days=7), SourceSettings("quiet", "/srv/quiet.xml"),
               SourceSettings("broken", "/srv/broken.xml"))
    settings = dataclasses.replace(settings, sources=sources, min_articles=3, timezone="Pacific/Auckland")
    w27 = parse_period("2017-W27", "Europe/London")
    assert gate_problems(db, settings, w27, {"broken": "HTTP 500"}, 2) == [
        f"source {FEED} is stale: its newest article before the end of 2017-W27 is from 2017-06-30, "
        "more than 7 days before it (max_age_days = 7)",
        "source quiet is stale: it has no article published before the end of 2017-W27",
        "source broken failed: HTTP 500",
        "edition 2017-W27 would have 2 article(s), fewer than min_articles = 3",
    ]
    # In the week the feed was fresh (articles after that week's end are not counted), only the others hold it.
    assert gate_problems(db, settings, W25, {}, 3) == [
        "source quiet is stale: it has no article published before the end of 2017-W25",
        "source broken is stale: it has no article published before the end of 2017-W25"]

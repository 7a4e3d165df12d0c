"""The gate's reasons, as a pure function: failed and stale sources, too few articles."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from digest.config import SourceSettings
from digest.edition.periods import parse_period
from digest.editorial.gate import hold_reasons

W25 = parse_period("2017-W25", "Europe/London")  # ends Monday 26 June 2017 00:00 London = 25 June 23:00 UTC
NEWS, EVENTS = SourceSettings("news", "https://e.org/feed"), SourceSettings("events", "/srv/e.xml", max_age_days=7)


def test_fresh_sources_and_enough_articles_let_it_go():
    newest = {"news": W25.end - timedelta(days=14), "events": W25.end - timedelta(seconds=1)}
    assert hold_reasons(W25, [NEWS, EVENTS], {}, newest, 3, 1) == []  # exactly max_age_days before the end: fresh


def test_every_reason_is_one_line():
    newest = {"news": W25.end - timedelta(days=14, seconds=1), "events": None}
    assert hold_reasons(W25, [NEWS, EVENTS], {}, newest, 0, 1, tz="Europe/London") == [
        "source news is stale: its newest article before the end of 2017-W25 is from 2017-06-11, "
        "more than 14 days before it (max_age_days = 14)",
        "source events is stale: it has no article published before the end of 2017-W25",
        "edition 2017-W25 would have 0 article(s), fewer than min_articles = 1",
    ]


def test_a_failed_source_is_named_with_its_error_and_not_also_called_stale():
    reasons = hold_reasons(W25, [NEWS], {"news": "https://e.org/feed: HTTP 404 Not Found"}, {"news": None}, 5, 1)
    assert reasons == ["source news failed: https://e.org/feed: HTTP 404 Not Found"]


def test_min_articles_zero_never_holds_for_size():
    assert hold_reasons(W25, [], {}, {}, 0, 0) == []
    assert datetime(2017, 6, 25, 23, 0, tzinfo=timezone.utc) == W25.end

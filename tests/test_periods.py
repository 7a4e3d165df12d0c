"""Edition windows: keys, local midnights, DST, labels, the period before now."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from digest.errors import SelectionError
from digest.edition.periods import parse_period, period_label, previous_period, window_between

LONDON = "Europe/London"
UTC = timezone.utc
HOUR = timedelta(hours=1)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_iso_week_is_monday_to_monday_local_time():
    w = parse_period("2017-W25", LONDON)
    # British Summer Time: local midnight is 23:00 UTC the day before.
    assert (w.start, w.end) == (utc(2017, 6, 18, 23), utc(2017, 6, 25, 23))
    assert (w.key, w.frequency) == ("2017-W25", "weekly")
    assert w.start.tzinfo is not None and w.start.utcoffset() == timedelta(0)


def test_day_and_month():
    day = parse_period("2017-06-21", LONDON)
    assert (day.start, day.end, day.key, day.frequency) == (utc(2017, 6, 20, 23), utc(2017, 6, 21, 23), "2017-06-21", "daily")
    month = parse_period("2017-06", LONDON)
    assert (month.start, month.end, month.key, month.frequency) == (utc(2017, 5, 31, 23), utc(2017, 6, 30, 23), "2017-06", "monthly")
    winter = parse_period("2017-01", LONDON)
    assert (winter.start, winter.end) == (utc(2017, 1, 1), utc(2017, 2, 1))
    december = parse_period("2017-12", LONDON)
    assert december.end == utc(2018, 1, 1)


def test_other_time_zones():
    w = parse_period("2017-W25", "America/New_York")
    assert w.start == utc(2017, 6, 19, 4)
    assert parse_period("2017-06-21", "UTC").start == utc(2017, 6, 21)


def test_week_with_the_spring_change_is_167_hours():
    # The last Sunday of March 2017 was the 26th, in ISO week 12.
    w = parse_period("2017-W12", LONDON)
    assert w.end - w.start == 167 * HOUR
    assert (w.start, w.end) == (utc(2017, 3, 20, 0), utc(2017, 3, 26, 23))
    assert parse_period("2017-W13", LONDON).start == w.end  # adjacent weeks meet
    day = parse_period("2017-03-26", LONDON)
    assert day.end - day.start == 23 * HOUR


def test_week_with_the_autumn_change_is_169_hours():
    w = parse_period("2017-W43", LONDON)  # contains Sunday 29 October 2017
    assert w.end - w.start == 169 * HOUR
    assert parse_period("2017-10-29", LONDON).end - parse_period("2017-10-29", LONDON).start == 25 * HOUR
    assert parse_period("2017-10", LONDON).end - parse_period("2017-10", LONDON).start == (31 * 24 + 1) * HOUR


def test_week_53_and_year_boundaries():
    w = parse_period("2020-W53", LONDON)
    assert (w.start, w.end) == (utc(2020, 12, 28), utc(2021, 1, 4))
    assert parse_period("2021-W01", LONDON).start == w.end
    # ISO week 1 of 2019 starts in 2018.
    assert parse_period("2019-W01", LONDON).start == utc(2018, 12, 31)


@pytest.mark.parametrize(
    "key", ["2017-W54", "2017-W53", "2017-W00", "2017-13", "2017-00", "2017-02-30", "2017-02-29", "W25", "", "2017", "2017-6", "2017-W5", "0000-06", "9999-12", "june", "2017-06-25..2017-06-19"]
)
def test_bad_keys_are_refused_naming_the_key(key):
    with pytest.raises(SelectionError) as info:
        parse_period(key, LONDON)
    assert repr(key) in str(info.value)


def test_unknown_time_zone():
    with pytest.raises(SelectionError, match="Mars/Olympus"):
        parse_period("2017-W25", "Mars/Olympus")


def test_window_between_dates_includes_the_last_day():
    w = window_between("2017-06-19", "2017-06-25", LONDON)
    week = parse_period("2017-W25", LONDON)
    assert (w.start, w.end) == (week.start, week.end) == (utc(2017, 6, 18, 23), utc(2017, 6, 25, 23))
    assert (w.key, w.frequency) == ("2017-06-19..2017-06-25", "custom")
    assert window_between(date(2017, 6, 19), date(2017, 6, 25), LONDON) == w
    # A datetime end is exclusive: the same week written differently.
    assert window_between("2017-06-19", datetime(2017, 6, 26), LONDON) == w
    assert window_between("2017-06-19", "2017-06-26T00:00", LONDON) == w


def test_window_between_one_day_and_times():
    one = window_between("2017-06-21", "2017-06-21", LONDON)
    assert (one.start, one.end) == (parse_period("2017-06-21", LONDON).start, parse_period("2017-06-21", LONDON).end)
    assert one.key == "2017-06-21..2017-06-21"
    w = window_between(datetime(2017, 6, 19, 10), "2017-06-20T10:30", LONDON)
    assert (w.start, w.end) == (utc(2017, 6, 19, 9), utc(2017, 6, 20, 9, 30))
    assert w.key == "2017-06-19T10:00..2017-06-20T10:30"
    aware = window_between(utc(2017, 6, 19, 9), utc(2017, 6, 19, 10), LONDON)
    assert (aware.start, aware.end) == (utc(2017, 6, 19, 9), utc(2017, 6, 19, 10))


def test_window_between_refuses_empty_and_reversed():
    with pytest.raises(SelectionError, match="empty"):
        window_between("2017-06-25", "2017-06-19", LONDON)
    with pytest.raises(SelectionError):
        window_between(datetime(2017, 6, 19, 10), datetime(2017, 6, 19, 10), LONDON)
    with pytest.raises(SelectionError, match="19/06/2017"):
        window_between("19/06/2017", "2017-06-25", LONDON)


@pytest.mark.parametrize(
    "since, until", [("2017-06-19", "2017-06-25"), ("2017-03-20", "2017-04-02"), ("2017-06-19T10:00", "2017-06-20T10:30")]
)
def test_custom_keys_read_back(since, until):
    w = window_between(since, until, LONDON)
    assert parse_period(w.key, LONDON) == w


@pytest.mark.parametrize("key", ["2017-W25", "2017-06-21", "2017-06", "2017-W12", "2017-03"])
def test_keys_read_back(key):
    assert parse_period(key, LONDON).key == key


def test_previous_week_for_cron():
    # Monday 26 June 2017, 07:00 local: the week just ended is W25.
    assert previous_period("weekly", utc(2017, 6, 26, 6), LONDON).key == "2017-W25"
    # Mid-week still gives the last complete week.
    assert previous_period("weekly", utc(2017, 6, 28, 12), LONDON).key == "2017-W25"
    # Sunday 23:30 local is still inside W25, so W24 is the last complete one.
    assert previous_period("weekly", utc(2017, 6, 25, 22, 30), LONDON).key == "2017-W24"
    # Exactly local Monday 00:00 (23:00 UTC Sunday): W25 has just ended.
    assert previous_period("weekly", utc(2017, 6, 25, 23), LONDON).key == "2017-W25"
    assert previous_period("weekly", utc(2018, 1, 2, 9), LONDON).key == "2017-W52"


def test_previous_day_and_month():
    assert previous_period("daily", utc(2017, 6, 22, 5), LONDON).key == "2017-06-21"
    assert previous_period("daily", utc(2017, 6, 21, 23, 30), LONDON).key == "2017-06-21"  # 00:30 BST on the 22nd
    assert previous_period("daily", utc(2017, 1, 1, 8), LONDON).key == "2016-12-31"
    assert previous_period("monthly", utc(2017, 7, 1, 8), LONDON).key == "2017-06"
    assert previous_period("monthly", utc(2017, 1, 15), LONDON).key == "2016-12"
    # A non-UTC `now` means the same instant.
    assert previous_period("daily", datetime.fromisoformat("2017-06-22T00:30+01:00"), LONDON).key == "2017-06-21"


def test_previous_period_refuses_bad_input():
    with pytest.raises(SelectionError, match="fortnightly"):
        previous_period("fortnightly", utc(2017, 6, 26), LONDON)
    with pytest.raises(SelectionError, match="aware"):
        previous_period("weekly", datetime(2017, 6, 26), LONDON)


@pytest.mark.parametrize(
    "key, label",
    [
        ("2017-W25", "19\u201325 June 2017"),
        ("2017-06-21", "21 June 2017"),
        ("2017-06", "June 2017"),
        ("2017-W22", "29 May \u2013 4 June 2017"),
        ("2017-W12", "20\u201326 March 2017"),
        ("2020-W53", "28 December 2020 \u2013 3 January 2021"),
        ("2017-06-19..2017-06-25", "19\u201325 June 2017"),
        ("2017-06-21..2017-06-21", "21 June 2017"),
        ("2017-06-19T10:00..2017-06-20T10:30", "19\u201320 June 2017"),
    ],
)
def test_labels(key, label):
    assert period_label(parse_period(key, LONDON), LONDON) == label

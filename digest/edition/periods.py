"""Edition windows: ISO weeks, days, months and custom ranges in the local time zone.

Every window is half-open, [start, end), with both ends timezone-aware UTC, and
its boundaries are local midnights in the configured zone, so a week that
contains a DST change is 167 or 169 hours long. Nothing here reads the clock:
`previous_period` takes `now` as an argument.

Keys (what an edition is called, and what `parse_period` reads back):

    2017-W25                ISO week 25 of 2017, Monday 00:00 to next Monday 00:00
    2017-06-21              one day
    2017-06                 one calendar month
    2017-06-19..2017-06-25  a custom range of whole days, both days included
    2017-06-19T10:00..2017-06-20T10:30
                            a custom range of local times, the end excluded
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from ..errors import SelectionError
from ..models import Window

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
DASH = "\u2013"  # en dash, for ranges in labels

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# Editions are of this world: outside these years the date arithmetic around a
# window (look-backs, previous periods) overflows, so a key there is refused.
FIRST_YEAR, LAST_YEAR = 1900, 9998


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except Exception:
        raise SelectionError(f"unknown time zone {tz!r}") from None


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant of local midnight starting `day`.

    A midnight that a DST jump skips resolves (fold=0) to the instant of the
    jump, and a repeated one to its first occurrence; adjacent windows use the
    same rule, so they still meet without gap or overlap.
    """
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc)


def _first_of_next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def week_window(monday: date, tz: str) -> Window:
    """The ISO week starting on `monday` (which must be a Monday)."""
    zone = _zone(tz)
    year, week, _ = monday.isocalendar()
    return Window(_midnight(monday, zone), _midnight(monday + timedelta(days=7), zone), f"{year}-W{week:02d}", "weekly")


def day_window(day: date, tz: str) -> Window:
    zone = _zone(tz)
    return Window(_midnight(day, zone), _midnight(day + timedelta(days=1), zone), day.isoformat(), "daily")


def month_window(year: int, month: int, tz: str) -> Window:
    zone = _zone(tz)
    first = date(year, month, 1)
    return Window(_midnight(first, zone), _midnight(_first_of_next_month(first), zone), f"{year}-{month:02d}", "monthly")


def parse_period(key: str, tz: str) -> Window:
    """Read an edition key (see _parse_period), refusing one outside FIRST_YEAR..LAST_YEAR."""
    return _in_range(_parse_period(key, tz), key, tz)


def _in_range(window: Window, raw, tz: str) -> Window:
    zone = _zone(tz)
    first, last = window.start.astimezone(zone).year, (window.end - timedelta(microseconds=1)).astimezone(zone).year
    if first < FIRST_YEAR or last > LAST_YEAR:
        raise SelectionError(f"period {raw!r}: out of range (editions are from {FIRST_YEAR} to {LAST_YEAR})")
    return window


def _parse_period(key: str, tz: str) -> Window:
    """Read an edition key ("2017-W25", "2017-06-21", "2017-06", "A..B") as a Window.

    Raises SelectionError naming the key for anything else, including weeks,
    months and days that do not exist ("2017-W54", "2017-13", "2017-02-30").
    """
    raw = key
    key = (key or "").strip()
    _zone(tz)
    try:
        if m := _WEEK.match(key):
            year, week = int(m[1]), int(m[2])
            try:
                monday = date.fromisocalendar(year, week, 1)
            except ValueError:
                raise SelectionError(f"period {raw!r}: {year} has no ISO week {week}") from None
            return week_window(monday, tz)
        if m := _DAY.match(key):
            try:
                day = date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError as exc:
                raise SelectionError(f"period {raw!r}: not a date ({exc})") from None
            return day_window(day, tz)
        if m := _MONTH.match(key):
            year, month = int(m[1]), int(m[2])
            if not 1 <= month <= 12:
                raise SelectionError(f"period {raw!r}: there is no month {month}")
            return month_window(year, month, tz)
        if key.count("..") == 1:
            since, until = key.split("..")
            return window_between(since, until, tz)
    except (ValueError, OverflowError) as exc:  # year 0, year 10000 and the like
        raise SelectionError(f"period {raw!r}: out of range ({exc})") from None
    except SelectionError as exc:
        if repr(raw) in str(exc):
            raise
        raise SelectionError(f"period {raw!r}: {exc}") from None
    raise SelectionError(
        f"period {raw!r}: expected an ISO week (2017-W25), a day (2017-06-21), "
        "a month (2017-06) or a range (2017-06-19..2017-06-25)"
    )


def _boundary(value: str | date | datetime, zone: ZoneInfo, *, inclusive_day: bool) -> datetime:
    """A window boundary as UTC: a plain date is a local midnight (the next one
    when `inclusive_day`), a naive datetime is local time, an aware one is kept."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise SelectionError(f"{value!r} is neither a date (2017-06-19) nor a date and time (2017-06-19T10:00)") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        return value.astimezone(timezone.utc)
    if isinstance(value, date):
        return _midnight(value + timedelta(days=1) if inclusive_day else value, zone)
    raise SelectionError(f"{value!r} is not a date")


def _key_part(instant: datetime, zone: ZoneInfo, *, end: bool) -> str:
    local = instant.astimezone(zone)
    if _midnight(local.date(), zone) == instant:  # a whole-day boundary: write the date
        return (local.date() - timedelta(days=1) if end else local.date()).isoformat()
    return local.replace(tzinfo=None).isoformat(timespec="seconds" if local.second else "minutes")


def window_between(since: str | date | datetime, until: str | date | datetime, tz: str) -> Window:
    """A custom window from `since` to `until`.

    Plain dates (or "2017-06-19" strings) are local midnights; `until` as a
    plain date includes that whole day, while as a datetime it is the exclusive
    end. So ("2017-06-19", "2017-06-25") and ("2017-06-19", "2017-06-26T00:00")
    are the same week. A single day (since == until, both dates) is allowed.
    Naive datetimes are local time. Raises SelectionError when the window is
    empty or reversed. The key is "2017-06-19..2017-06-25" (whole days, last
    included) or local times with the end excluded.
    """
    zone = _zone(tz)
    try:
        start = _boundary(since, zone, inclusive_day=False)
        end = _boundary(until, zone, inclusive_day=True)
    except OverflowError:  # 0001-01-01 in a zone east of UTC, 9999-12-31 as an inclusive end
        raise SelectionError(f"the window from {since} to {until} is out of range "
                             f"(editions are from {FIRST_YEAR} to {LAST_YEAR})") from None
    if end <= start:
        raise SelectionError(f"the window from {since} to {until} is empty: the end must come after the start")
    key = f"{_key_part(start, zone, end=False)}..{_key_part(end, zone, end=True)}"
    return _in_range(Window(start, end, key, "custom"), key, tz)


def previous_period(frequency: str, now: datetime, tz: str) -> Window:
    """The period of `frequency` that ended most recently at or before `now`.

    weekly: the last complete ISO week; daily: yesterday; monthly: last month
    (all in local time). At exactly local Monday 00:00 the week just ended is
    the one returned.
    """
    zone = _zone(tz)
    if now.tzinfo is None:
        raise SelectionError("previous_period needs a timezone-aware `now`")
    today = now.astimezone(zone).date()
    if frequency == "daily":
        return day_window(today - timedelta(days=1), tz)
    if frequency == "weekly":
        return week_window(today - timedelta(days=today.weekday() + 7), tz)
    if frequency == "monthly":
        last = today.replace(day=1) - timedelta(days=1)
        return month_window(last.year, last.month, tz)
    raise SelectionError(f"unknown frequency {frequency!r}: expected daily, weekly or monthly")


def _day_month(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]}"


def period_label(window: Window, tz: str) -> str:
    """How people say the window: "19–25 June 2017", "21 June 2017", "June 2017",
    "29 May – 4 June 2017", "25 December 2017 – 7 January 2018"."""
    zone = _zone(tz)
    first = window.start.astimezone(zone).date()
    if window.frequency == "monthly":
        return f"{MONTHS[first.month - 1]} {first.year}"
    end_local = window.end.astimezone(zone)
    last = end_local.date()
    if _midnight(last, zone) == window.end.astimezone(timezone.utc):
        last -= timedelta(days=1)  # an exclusive midnight: the day before is the last one
    last = max(last, first)
    if first == last:
        return f"{_day_month(first)} {first.year}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}{DASH}{_day_month(last)} {last.year}"
    if first.year == last.year:
        return f"{_day_month(first)} {DASH} {_day_month(last)} {last.year}"
    return f"{_day_month(first)} {first.year} {DASH} {_day_month(last)} {last.year}"

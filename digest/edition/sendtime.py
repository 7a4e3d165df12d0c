"""A send time the editor chose, as a wall time in a time zone, resolved to the UTC instant it means (pure).

    send = resolve_send_time("2027-W25", "2027-06-28 07:00", "Europe/London", now=now_utc)
    send.at            # 2027-06-28 06:00 UTC (London is on summer time then)
    due(send, now)     # True from that instant on

The wall time is what the editor means and what is stored; the UTC instant is
worked out from the zone's rules for that date (zoneinfo), so a time chosen in
winter for a summer date gets the summer offset: a clock change between the
choosing and the sending does not move it.

Two wall times need a rule, once a year each:
- a time the clocks skip (01:30 on the last Sunday of March in London) does
  not exist: refused, with one line saying so;
- a time the clocks pass twice (01:30 on the last Sunday of October) is the
  first of the two (still summer time), and the shown time carries the offset.
A time not after `now` is refused. Every refusal is an EditionError naming the
edition's key: one line for the command line and the desk.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import EditionError
from ..models import SendTime

# "2027-06-28 07:00", or "2027-06-28T07:00" (what the desk's date and time fields make together).
_WALL_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})")
ZONE_MAX = 64  # characters: the longest IANA name is about 32


def zone_of(key: str, name: str) -> ZoneInfo:
    """The IANA time zone `name`, or an EditionError saying it is not one."""
    name = (name or "").strip()
    try:
        if not name or len(name) > ZONE_MAX:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise EditionError(key, f"{name!r} is not a time zone: give an IANA name such as Europe/London") from None


def parse_wall_time(key: str, text: str) -> datetime:
    """"YYYY-MM-DD HH:MM" -> a naive datetime (a wall time, no zone yet), or an EditionError."""
    m = _WALL_TIME.fullmatch((text or "").strip())
    try:
        if m is None:
            raise ValueError(text)
        return datetime(*(int(g) for g in m.groups()))
    except ValueError:
        raise EditionError(key, f"{(text or '').strip()!r} is not a send time: write YYYY-MM-DD HH:MM, "
                                "e.g. 2027-06-28 07:00") from None


def wall_to_utc(key: str, local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall time in `zone`: a skipped time is refused, a repeated one is the first."""
    first = local.replace(tzinfo=zone, fold=0)
    at = first.astimezone(timezone.utc)
    if at.astimezone(zone).replace(tzinfo=None) != local:  # the round trip lands elsewhere: the clocks skip it
        raise EditionError(key, f"{local:%Y-%m-%d %H:%M} does not exist in {zone.key}: the clocks go forward "
                                "then; choose a time outside the gap")
    return at


def resolve_send_time(key: str, text: str, zone: str, *, now: datetime, by: str = "") -> SendTime:
    """The send time an editor asked for, checked: a real wall time in a real zone, after `now`."""
    tz = zone_of(key, zone)
    local = parse_wall_time(key, text)
    at = wall_to_utc(key, local, tz)
    if at <= now:
        raise EditionError(key, f"{local:%Y-%m-%d %H:%M} {tz.key} is in the past (it is now "
                                f"{now.astimezone(tz):%Y-%m-%d %H:%M} there): choose a later time")
    return SendTime(local=local, zone=tz.key, at=at, by=by)


def due(send: SendTime | None, now: datetime) -> bool:
    """True when there is no send time (an edition goes when its period is due), or it has come."""
    return send is None or send.at <= now


def offset_text(send: SendTime) -> str:
    """"+01:00": the zone's offset at the send time, so a repeated hour is not ambiguous when shown."""
    text = send.at.astimezone(ZoneInfo(send.zone)).strftime("%z")
    return f"{text[:3]}:{text[3:]}"

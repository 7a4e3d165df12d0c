"""Small parsing helpers shared by commands (dates, topic lists, output)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

import click


def parse_when(value: str, tz: str, *, option: str) -> datetime:
    """A date (local midnight) or an ISO datetime (local if naive) -> aware UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2017-06-21 or 2017-06-21T09:30",
                                 param_hint=option) from None
    if len(value.strip()) <= 10:  # a plain date
        parsed = datetime.combine(parsed.date(), time(0))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return parsed.astimezone(timezone.utc)


def parse_topics(value: str | None, known: tuple[str, ...], *, option: str = "--topics") -> tuple[str, ...] | None:
    """'a,b' -> ('a', 'b') in taxonomy order; None when not given; unknown slugs are an error."""
    if value is None:
        return None
    wanted = [t.strip() for t in value.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise click.BadParameter(f"unknown topic {unknown[0]!r}; known: {', '.join(known)}", param_hint=option)
    return tuple(t for t in known if t in wanted)


class TransportChoice(click.Choice):
    """--transport: the kinds registered in digest.sending.transports, read when first needed.

    (Not at import: `digest --help` stays fast.)
    """

    def __init__(self) -> None:
        super().__init__([])

    @property
    def choices(self):
        from ..sending.transports import choices

        return choices()

    @choices.setter
    def choices(self, value) -> None:  # click.Choice.__init__ sets it: the table is the one source
        pass


def echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=not sys.stdout.isatty())


def now_utc() -> datetime:
    return datetime.now(timezone.utc)

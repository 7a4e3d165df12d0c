"""The mailing run (`digest weekly`, `digest run`): fetch the sources, gate, build or reuse, queue, send.

    failed = fetch_sources(db, settings, now=now, on_run=print_line)     # {name: error}
    report = prepare_edition(db, settings, window, failed, now=now)      # gate, build once, queue
    report.held                                                           # why the gate held it ([]: it went)
    stats = send_queue(db, settings, make_transport, options)

The gate (digest/editorial/gate.py) holds an edition that would go out wrong:
nothing is built, queued or sent, and the editors get one short notice
(`held_notice`). `force_reason` sends it anyway and records who and why on
the edition. Safe to run twice: an edition is built once (a built one is used
as it is), each member is queued once, and nothing is sent twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Mapping, Sequence

from ..config import Settings
from ..db import Database
from ..db import deliveries as delivery_db
from ..db import editions as edition_db
from ..edition.periods import previous_period
from ..ingest.refresh import SourceRun, refresh_sources
from ..message.outgoing import Outgoing
from ..models import FREQUENCIES, Edition, Window
from ..sending.queue import QueueReport, queue_edition
from ..sending.transports import Envelope, SendResult, Transport
from .build import build_edition
from .candidates import plan_edition
from .gate import gate_problems


@dataclass
class MailingReport:
    key: str
    built: Edition | None = None  # None: held, or built before and used as it was
    queued: QueueReport | None = None  # None: held, or queued by an earlier run
    held: list[str] = field(default_factory=list)  # why the gate held it, one line each; []: not held
    forced: list[str] = field(default_factory=list)  # what --force sent it past
    already_queued: bool = False


def fetch_sources(db: Database, settings: Settings, *, now: datetime, windows: Sequence[Window] = (),
                  on_run: Callable[[SourceRun], None] | None = None) -> dict[str, str]:
    """Fetch every configured source (a transaction each); {name: error} of those that failed.

    windows: the editions about to be built; new articles without a date of
    their own are dated into the one that just ended (undated_at).
    """
    if not settings.sources:
        return {}
    runs = refresh_sources(db, settings, now=now, undated_at=undated_at(windows, now))
    for r in runs:
        if on_run:
            on_run(r)
    return {r.name: r.error for r in runs if r.error}


def undated_at(windows: Sequence[Window], now: datetime) -> datetime | None:
    """The date for new undated articles (a listing export) seen by the run about to build `windows`.

    The mailing runs just after a week ends (Monday morning for the week to
    Sunday): an article it sees for the first time was there during that
    week, so it is dated one second before the week's end and goes into that
    edition, not the next one a week late. Only for a window that ended in
    the last 7 days (re-running an old week dates nothing into the past);
    None (the time it is seen) otherwise.
    """
    recent = [w.end for w in windows if w.end <= now < w.end + timedelta(days=7)]
    return min(recent) - timedelta(seconds=1) if recent else None


def prepare_edition(db: Database, settings: Settings, window: Window, failed: Mapping[str, str], *, now: datetime,
                    force_reason: str | None = None, forced_by: str = "", held_by: Sequence[str] = ()) -> MailingReport:
    """Gate, then build (once) and queue the edition of a window.

    An edition already queued is left as it is (its sending goes on). Before
    that, the gate: failed or stale sources, too few articles -> held
    (report.held), unless force_reason is given: then it is built and queued
    and who / why are recorded on it.
    """
    report = MailingReport(window.key)
    with db.connect() as conn:
        existing = edition_db.load_edition(conn, window.key)
    if existing is not None and existing.queued_at is not None:
        report.already_queued = True
        return report
    count = len(existing.items) if existing is not None else len(plan_edition(db, settings, window).items)
    problems = [*held_by, *gate_problems(db, settings, window, failed, count)]  # held_by: the members sync
    if problems and not force_reason:
        report.held = problems
        return report
    report.forced = problems
    edition = existing
    if existing is None:
        edition = report.built = build_edition(db, settings, window, now=now)
    if problems:
        assert edition is not None and edition.id is not None
        with db.begin() as conn:
            edition_db.mark_forced(conn, edition.id, by=forced_by or "unknown", reason=force_reason or "", now=now)
    report.queued = queue_edition(db, settings, window.key, now=now)
    return report


def held_notice(settings: Settings, key: str, problems: list[str], *, force_command: str,
                now: datetime) -> tuple[Envelope, bytes]:
    """The one short email that tells the editors an edition is held, and why (DKIM-signed like every message)."""
    text = "\n".join([
        f"The {key} edition of {settings.organisation} is held: nothing was built, queued or sent.",
        "",
        *[f"- {p}" for p in problems],
        "",
        "Fix the sources and run it again, or send it as it is:",
        f"  {force_command}",
    ]) + "\n"
    message = Outgoing(settings).notice(", ".join(settings.editors),
                                        f"Held: {settings.organisation} edition {key} was not sent", text,
                                        kind="held", date=now)
    return Envelope(settings.sender_address, tuple(settings.editors)), message


def tell_editors(settings: Settings, key: str, problems: list[str], make_transport: Callable[[], Transport], *,
                 force_command: str, now: datetime) -> SendResult | None:
    """Send held_notice to [organisation] editors; None when none are configured."""
    if not settings.editors:
        return None
    envelope, message = held_notice(settings, key, problems, force_command=force_command, now=now)
    transport = make_transport()
    try:
        return transport.send(envelope, message)
    finally:
        transport.close()


def due_windows(db: Database, settings: Settings, *, now: datetime) -> list[Window]:
    """`digest run` without --frequency: for each frequency some active member has, the period
    that just ended, when its edition is not queued yet."""
    out = []
    with db.connect() as conn:
        for frequency in FREQUENCIES:
            if not delivery_db.due_combinations(conn, frequency):
                continue
            window = previous_period(frequency, now, settings.timezone)
            existing = edition_db.load_edition(conn, window.key)
            if existing is None or existing.queued_at is None:
                out.append(window)
    return out

"""The mailing run (`digest weekly`, `digest run`, the desk's Queue): one library call for the whole Monday.

    steps = Steps()                                   # what the run says as it goes (a command prints it)
    result = run_mailing(db, settings, Mailing([window], send=SendOptions()), steps, clock=now_utc)
    result.held                                       # keys the gate held ([]: every edition went)
    result.sent                                       # SendStats, or None when the run only queued

In order: read what came back (bounced members are not queued), sync the
members from the membership system ([members.sync] before_run: a failed or
braked sync holds every edition like a failed source), fetch the sources,
then for each window the gate, build (once), queue, and - when the gate
holds it - one short notice to the editors; last, send what is due and
deliver the webhooks out that are due.
The desk's Queue is the same call without fetching, notices or sending
(`Mailing(..., fetch=False, tell=False)`): it gates on the last fetch.

The gate (digest/editorial/gate.py) holds an edition that would go out wrong:
nothing is built, queued or sent. `force_reason` sends it anyway and records
who and why on the edition. Safe to run twice: an edition is built once (a
built one is used as it is), each member is queued once, and nothing is sent
twice.

An edition with a send time (editorial/schedule.py) is not gated, queued or
sent before that time (report.waiting); the first run after it queues it,
through the gate as ever, and due_windows finds it whatever its period.
`digest run` (Mailing.announcements) also queues, before sending, every
approved announcement whose send time has come (editorial/announcements.py).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Callable, ContextManager, Mapping, Sequence

from ..bounces.process import Processor
from ..bounces.sources import FetchResult, fetch_imap, mask
from ..config import Settings
from ..db import Database
from ..db import deliveries as delivery_db
from ..db import editions as edition_db
from ..db import editors as editor_db
from ..edition.periods import parse_period, previous_period
from ..errors import ConfigError, DeliveryError, DigestError
from ..i18n import language
from ..ingest.store import SourceReport, refresh_sources
from ..membership.sync import sync_before_run
from ..membership.webhooks import DeliveryStats, deliver_due
from ..models import FREQUENCIES, Edition, SendTime, Window
from ..sending.processes import send_all, transports_for
from ..sending.transports import SendResult, Transport, kind_of, make_transport
from ..sending.worker import SendOptions, SendStats
from .announcements import QueueReport as AnnouncementQueued
from .announcements import queue_due_announcements
from .build import QueueReport, build_edition, queue_edition
from .candidates import plan_edition
from .editors import tell_editors
from .gate import gate_problems
from .schedule import due, due_sends
from .week import failed_sources

Progress = Callable[[SendStats, int], None]
HELD_NOTICE_AGAIN = timedelta(hours=12)  # the same held reasons are told again after this (a daily run: daily)


@dataclass
class Mailing:
    """What one run is asked to do."""

    windows: Sequence[Window]
    force_reason: str | None = None  # send an edition the gate holds, for this reason (recorded)
    forced_by: str = ""  # who forced it: user@host, or the editor's address
    command: str = "digest weekly"  # what the held notice tells the editors to run with --force
    fetch: bool = True  # read bounces and fetch the sources first (the desk gates on the last fetch)
    tell: bool = True  # email the editors when an edition is held
    send: SendOptions | None = None  # None: queue only
    transport: str | None = None  # default: settings.transport
    announcements: bool = False  # also queue the approved announcements whose send time has come (`digest run`)


@dataclass
class MailingReport:
    key: str
    built: Edition | None = None  # None: held, or built before and used as it was
    queued: QueueReport | None = None  # None: held, or queued by an earlier run
    held: list[str] = field(default_factory=list)  # why the gate held it, one line each; []: not held
    forced: list[str] = field(default_factory=list)  # what --force sent it past
    already_queued: bool = False
    told: SendResult | None = None  # the held notice's outcome; None: not held, or nobody to tell
    waiting: SendTime | None = None  # scheduled for later: not gated, queued or sent before then
    editors: tuple[str, ...] = ()  # who the held notice went to
    told_before: datetime | None = None  # held as at this earlier notice, within HELD_NOTICE_AGAIN: not told again


@dataclass
class MailingResult:
    editions: list[MailingReport] = field(default_factory=list)
    sent: SendStats | None = None
    webhooks: DeliveryStats | None = None  # webhooks out delivered after the send; None: the run only queued
    announcements: list[AnnouncementQueued] = field(default_factory=list)  # queued by this run, their time come

    @property
    def held(self) -> list[str]:
        return [r.key for r in self.editions if r.held]


class Steps:
    """What a run says as it goes. Every method does nothing here; a command prints, the desk reads the result."""

    def bounces(self, results: list[tuple[str, FetchResult]]) -> None:
        """What the configured bounce mailbox held: (where, FetchResult) per source read."""

    def bounces_failed(self, error: DigestError) -> None:
        """The bounce mailbox could not be read; the mailing goes on."""

    def source(self, run: SourceReport) -> None:
        """One configured source fetched (or failed)."""

    def edition(self, report: MailingReport) -> None:
        """One window gated, built, queued (or held and the editors told)."""

    def sending(self, kind: str, limit: int | None) -> tuple[ContextManager, Progress | None]:
        """Before the send: (a context the send runs in, a progress callback)."""
        return contextlib.nullcontext(), None

    def announcement(self, report: AnnouncementQueued) -> None:
        """An announcement whose send time had come was queued."""

    def nothing_due(self) -> None:
        """`digest run` found no edition due, and no announcement whose send time had come."""

    def webhooks(self, stats: DeliveryStats) -> None:
        """Webhooks out delivered after the send (and those that must wait for a retry)."""


def run_mailing(db: Database, settings: Settings, mailing: Mailing, steps: Steps | None = None, *,
                clock: Callable[[], datetime]) -> MailingResult:
    """Bounces, sources, the gate, build, queue, the editors' notice, send: the whole run, one window after another."""
    steps = steps or Steps()
    kind = mailing.transport or settings.transport
    if mailing.send is not None or mailing.tell:
        check_transport(kind, settings)  # a transport that cannot work at all fails before anything is done
    held_by: list[str] = []
    if mailing.fetch:
        read_bounces(db, settings, steps, clock=clock)
        held_by = sync_before_run(db, settings, now=clock())  # [members.sync] before_run; a failed sync holds
        failed = fetch_sources(db, settings, now=clock(), windows=mailing.windows, on_run=steps.source)
    else:
        failed = failed_sources(db, settings)
    result = MailingResult()
    for window in mailing.windows:
        report = prepare_edition(db, settings, window, failed, now=clock(), force_reason=mailing.force_reason,
                                 forced_by=mailing.forced_by, held_by=held_by)
        if report.held and mailing.tell:
            tell_held(db, settings, report, mailing.command, lambda: make_transport(kind, settings), now=clock())
        result.editions.append(report)
        steps.edition(report)
    if mailing.announcements:  # never before its time: only those whose send time has come, each once
        result.announcements = queue_due_announcements(db, settings, now=clock())
        for queued in result.announcements:
            steps.announcement(queued)
    if not mailing.windows and not result.announcements:  # said after the announcements, so it is true
        steps.nothing_due()
    if mailing.send is not None:
        result.sent = send_due(db, settings, kind, mailing.send, steps)
        # Webhooks out that are due (edition.sent, member events), for installs without `digest serve`;
        # a receiver that is down is retried later, never a failed mailing.
        result.webhooks = deliver_due(db, settings, now=clock())
        steps.webhooks(result.webhooks)
    return result


def tell_held(db: Database, settings: Settings, report: MailingReport, command: str,
              transport: Callable[[], Transport], *, now: datetime) -> None:
    """The held notice to the editors, once for the same reasons within HELD_NOTICE_AGAIN.

    A run every few minutes (for send times) must not mail the editors each
    time an edition stays held: a notice told is kept in the audit trail
    ("held-notice"), and the same reasons are told again only after
    HELD_NOTICE_AGAIN (a daily run tells daily, as before); other reasons at once.
    """
    with db.connect() as conn:
        last = editor_db.last_event(conn, "held-notice", report.key)
    if last and last["detail"].get("problems") == report.held and now - last["at"] < HELD_NOTICE_AGAIN:
        report.told_before = last["at"]
        return
    why = language(settings.editor_language).gettext("why it may go as it is")
    report.editors, report.told = tell_editors(
        db, settings, report.key, report.held, transport, now=now,
        force_command=f'{command} {report.key} --force --reason "{why}"')
    if report.told is not None and report.told.ok:
        with db.begin() as conn:
            editor_db.audit(conn, "digest", "held-notice", report.key,
                            {"problems": report.held, "to": list(report.editors)}, now=now)


def read_bounces(db: Database, settings: Settings, steps: Steps, *, clock: Callable[[], datetime]) -> None:
    """Read the configured bounce mailbox first, so members who bounced are not queued; an outage is a warning."""
    url = settings.bounces.imap_url
    if not url:
        return
    try:
        results = [(mask(url), fetch_imap(url, Processor(db, settings, clock=clock)))]
    except DigestError as exc:  # a mailbox outage must not stop the mailing
        steps.bounces_failed(exc)
        return
    steps.bounces(results)


def send_due(db: Database, settings: Settings, kind: str, options: SendOptions, steps: Steps | None = None
             ) -> SendStats:
    """Send every queued delivery that is due (`digest send`), in options.processes processes."""
    check_transport(kind, settings)
    if options.processes < 1:
        options = replace(options, processes=os.cpu_count() or 1)
    shown, on_progress = (steps or Steps()).sending(kind, options.limit)
    with shown:  # smtp: the pipelined relay client, one event loop a process
        return send_all(db, settings, transports_for(kind, settings), options, on_progress=on_progress)


def check_transport(kind: str, settings: Settings) -> None:
    """A transport that cannot work at all is a configuration error (exit 2), found before anything is claimed."""
    try:
        transport = make_transport(kind, settings)
    except DeliveryError as exc:
        variable, key = kind_of(kind, settings).setting
        if os.environ.get(variable):
            raise ConfigError("", variable, str(exc)) from None
        raise ConfigError(settings.source, key, str(exc)) from None
    transport.close()


def fetch_sources(db: Database, settings: Settings, *, now: datetime, windows: Sequence[Window] = (),
                  on_run: Callable[[SourceReport], None] | None = None) -> dict[str, str]:
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
    and who / why are recorded on it. The candidates are read and chosen
    once: the plan the gate counted is the one built.
    """
    report = MailingReport(window.key)
    with db.connect() as conn:
        existing = edition_db.load_edition(conn, window.key)
    if existing is not None and existing.queued_at is not None:
        report.already_queued = True
        return report
    if existing is not None and not due(existing.send_time, now):  # approved for a later time
        report.waiting = existing.send_time
        return report
    planned = plan_edition(db, settings, window) if existing is None else None
    count = len((existing or planned).items)
    problems = [*held_by, *gate_problems(db, settings, window, failed, count)]  # held_by: the members sync
    if problems and not force_reason:
        report.held = problems
        return report
    report.forced = problems
    edition = existing
    if existing is None:
        edition = report.built = build_edition(db, settings, window, now=now, planned=planned)
    if problems:
        assert edition is not None and edition.id is not None
        with db.begin() as conn:
            edition_db.mark_forced(conn, edition.id, by=forced_by or "unknown", reason=force_reason or "", now=now)
    report.queued = queue_edition(db, settings, window.key, now=now)
    return report


def due_windows(db: Database, settings: Settings, *, now: datetime) -> list[Window]:
    """`digest run` without --frequency: for each frequency some active member has, the period
    that just ended, when its edition is not queued yet; then every edition whose send time has come.

    A period's edition with a later send time is among them too: the run says it waits (report.waiting).
    """
    out = []
    with db.connect() as conn:
        for frequency in FREQUENCIES:
            if not delivery_db.due_combinations(conn, frequency):
                continue
            window = previous_period(frequency, now, settings.timezone)
            existing = edition_db.load_edition(conn, window.key)
            if existing is None or existing.queued_at is None:
                out.append(window)
    keys = {w.key for w in out}
    for send in due_sends(db, now=now):
        if send.frequency in FREQUENCIES and send.key not in keys:  # other kinds of edition row queue elsewhere
            out.append(parse_period(send.key, settings.timezone))
            keys.add(send.key)
    return out

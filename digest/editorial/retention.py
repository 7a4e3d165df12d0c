"""`digest prune`: keep the database the size of its retention periods, not of its years.

    report = prune(db, settings, now=now_utc())            # or dry_run=True: count, change nothing
    report.removed  # {"deliveries": 1200000, "clicks": ..., "members": 12, ...}

Order matters: an edition's report figures that need its rows (what came
back, unsubscribes by its links) are stored first, one edition per
transaction; then its delivery rows are counted into per-variant totals and
deleted, a batch per transaction; then old clicks are counted into the same
totals; then reports, events and the editors' trail go; last, members who left
long ago are forgotten as `digest subscribers forget` does. Every step is a
short transaction of at most [retention] batch rows, so a send and the web
pages carry on beside it, and a prune stopped half-way leaves totals and rows
that still add up (`digest report` reads both). Running it again removes
nothing new.
"""

from __future__ import annotations

import time
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from ..config import Settings
from ..db import Database
from ..db import members as member_db
from ..db import reports as reports_db
from ..db import retention as retention_db

# What a prune removes, in the order it runs; the labels of its table.
KINDS = {
    "deliveries": "delivery rows (folded into edition totals)",
    "clicks": "clicks (folded into edition totals)",
    "reports": "processed bounce/complaint messages",
    "quarantine": "quarantined messages",
    "events": "member events (not consent)",
    "editor_events": "editors' trail",
    "members": "members who left (kept as a hash)",
}
EVERY = timedelta(days=6)  # `digest run` prunes when the last prune is older: weekly, whatever day cron runs


def months_before(now: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the month's last day if shorter)."""
    year, month = divmod(now.year * 12 + now.month - 1 - months, 12)
    month += 1
    return now.replace(year=year, month=month, day=min(now.day, monthrange(year, month)[1]))


@dataclass
class PruneReport:
    dry_run: bool
    removed: dict[str, int] = field(default_factory=dict)  # kind -> rows removed (or that would be)
    editions: list[str] = field(default_factory=list)  # editions folded now (or that would be)
    size_before: int = 0
    size_after: int = 0
    free_before: int | None = None  # SQLite: bytes free inside the file for reuse
    free_after: int | None = None
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.removed.values())


def cutoffs(settings: Settings, now: datetime) -> dict[str, datetime]:
    r = settings.retention
    months = {"deliveries": r.deliveries_months, "clicks": r.clicks_months, "reports": r.reports_months,
              "quarantine": r.quarantine_months, "events": r.audit_months, "editor_events": r.audit_months,
              "members": r.members_months}
    return {kind: months_before(now, n) for kind, n in months.items()}


def prune(db: Database, settings: Settings, *, now: datetime, dry_run: bool = False,
          on_step: Callable[[str, int], None] | None = None) -> PruneReport:
    """Fold and delete what is past its period; with dry_run, only count it."""
    started = time.monotonic()
    before = cutoffs(settings, now)
    report = PruneReport(dry_run=dry_run)
    with db.connect() as conn:
        report.size_before, report.free_before = retention_db.size(conn)
        unfolded = retention_db.unfolded_editions(conn, before["deliveries"])
        report.editions = [key for _, key in unfolded]
        if dry_run:
            report.removed = _counts(conn, before, [i for i, _ in unfolded])
    if not dry_run:
        for edition_id, _ in unfolded:
            _fold_edition(db, edition_id)
        report.removed = _remove(db, settings, before, now, on_step or (lambda kind, n: None))
        with db.begin() as conn:
            retention_db.record_run(conn, now, report.removed)
    with db.connect() as conn:
        report.size_after, report.free_after = retention_db.size(conn)
    report.seconds = time.monotonic() - started
    return report


def _counts(conn, before: dict[str, datetime], unfolded_ids: list[int]) -> dict[str, int]:
    return {kind: retention_db.count(conn, kind, before[kind], unfolded_ids) for kind in KINDS}


def _fold_edition(db: Database, edition_id: int) -> None:
    """Store the figures of its report that need the rows, in one transaction with the marker."""
    with db.begin() as conn:
        # Read before the claim: edition_outcomes of a folded edition reads the stored figures.
        outcomes = reports_db.edition_outcomes(conn, edition_id)
        figures = {"outcomes": outcomes["outcomes"], "kinds": outcomes["kinds"],
                   "unsubscribes": reports_db.unsubscribes_after(conn, edition_id)}
        if retention_db.claim_fold(conn, edition_id):
            retention_db.store_figures(conn, edition_id, figures)


def _remove(db: Database, settings: Settings, before: dict[str, datetime], now: datetime,
            on_step: Callable[[str, int], None]) -> dict[str, int]:
    batch = settings.retention.batch
    with db.connect() as conn:
        folded = retention_db.folded_editions(conn)
    removed = {"deliveries": 0}
    for edition_id in folded:  # an edition with nothing left costs one index probe
        step = (lambda conn, after, edition_id=edition_id:  # after: unused, no id order here (see db)
                retention_db.fold_deliveries(conn, edition_id, batch))
        removed["deliveries"] += _sweep(db, step, lambda n: on_step("deliveries", removed["deliveries"] + n))
        with db.begin() as conn:  # at most one row per variant: a short transaction (see drop_variant_bodies)
            retention_db.drop_variant_bodies(conn, edition_id)
    steps = {
        "clicks": lambda conn, after: retention_db.fold_clicks(conn, before["clicks"], batch, after),
        **{kind: (lambda conn, after, kind=kind: retention_db.delete_batch(conn, kind, before[kind], batch, after))
           for kind in ("reports", "quarantine", "events", "editor_events")},
        "members": lambda conn, after: _forget_batch(conn, before["members"], now, min(batch, 500), after),
    }
    for kind, step in steps.items():
        removed[kind] = _sweep(db, step, lambda n, kind=kind: on_step(kind, n))
    return removed


def _sweep(db: Database, step, on_step: Callable[[int], None]) -> int:
    """Run `step` one short transaction at a time until it finds nothing; how many rows it took.

    A step returns the ids it removed; the next batch starts above the highest.
    """
    total, after = 0, 0
    while True:
        with db.begin() as conn:
            done = step(conn, after)
        if not done:
            return total
        total += len(done)
        after = max(done)
        on_step(total)


def _forget_batch(conn, before: datetime, now: datetime, limit: int, after: int) -> list[int]:
    """Forget members who left before `before`, as `digest subscribers forget` does (one pass for the batch)."""
    ids = retention_db.left_members(conn, before, limit, after)
    member_db.forget_many(conn, [member_db.get_by_id(conn, i) for i in ids], now=now, reason=None)
    return ids


def prune_due(db: Database, *, now: datetime) -> bool:
    """For `digest run`: no prune yet, or the last one is about a week old."""
    with db.connect() as conn:
        last = retention_db.last_run(conn)
    return last is None or now - last >= EVERY

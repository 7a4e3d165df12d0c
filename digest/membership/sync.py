"""`digest members sync`: read the membership system's export, plan, brake, apply.

    report = run_sync(db, settings, "crm.csv", complete=True, dry_run=False, force=False, now=now)
    report.plan.summary(); report.refused  # the brake's reason, when nothing was changed

The export is a CSV or JSON file, or an https URL fetched through
digest.outbound with a token header from the environment. One transaction:
the sync is applied whole or not at all. The export is taken in batches and
the addresses met are remembered in the database, not in memory, so a CSV
file of millions of members syncs in flat memory.
"""

from __future__ import annotations

import codecs
import io
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from typing import Any, Callable, Iterable, Iterator, Mapping, TextIO

from ..config import Settings
from ..db import Database
from ..db import members as member_db
from ..db.member_batches import batches, seen_addresses
from ..errors import SubscriberError
from ..members import RowProblem, email_key
from ..outbound import OutboundError, for_settings
from .plan import SyncMapping, SyncPlan, SyncTally, check_records, csv_records, json_records, plan_sync

MAX_EXPORT = 50_000_000  # bytes: a million members' rows fit in well under this
FETCH_DEADLINE = 120.0  # seconds for the whole download
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")  # a CRM on this machine (and the tests) may answer over http


Notify = Callable[[str, Any], None]


@dataclass
class SyncReport:
    plan: SyncTally  # counts; the members went to notify() as they were done
    applied: bool = False
    refused: str | None = None  # why the brake stopped it (nothing changed)


def mapping_of(settings: Settings) -> SyncMapping:
    s = settings.member_sync
    columns = dict(s.columns) or {f: f for f in ("email", "name", "topics", "frequency", "format")}
    return SyncMapping(columns=columns, attributes=dict(s.attributes), topics_separator=s.topics_separator)


@contextmanager
def export_records(location: str, settings: Settings, mapping: SyncMapping,
                   environ: Mapping[str, str] | None = None) -> Iterator[Iterable[tuple[int, dict]]]:
    """The (record number, cells) of the export at a path or https URL.

    A CSV file is read as it goes (memory stays flat for millions of
    members); a JSON export and a download are held whole, up to MAX_EXPORT.
    """
    if location.startswith(("https://", "http://")):
        data, content_type = _download(location, settings, os.environ if environ is None else environ)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SubscriberError(location, f"is not UTF-8 text (byte {exc.start})") from None
        del data
        if _kind(location, content_type, text[:4096]) == "json":
            yield json_records(text, mapping, location)
        else:
            yield csv_records(io.StringIO(text, newline=""), mapping, location)
        return
    with open_text(location) as lines:
        head = lines.read(4096)
        lines.seek(0)
        if _kind(location, "", head) == "json":
            yield json_records(lines.read(), mapping, location)
        else:
            yield csv_records(lines, mapping, location)


CHUNK = 1 << 20  # bytes read at a time when checking a file is UTF-8


@contextmanager
def open_text(path: str, what: str = "export", advice: str = "") -> Iterator[TextIO]:
    """A UTF-8 file opened for csv (newline=""), read as it goes; SubscriberError(path, ...) if it cannot be.

    The whole file is checked first, a chunk at a time, so that a bad byte
    near its end stops everything before any row is used.
    """
    try:
        with open(path, "rb") as raw:
            _check_utf8(raw, path, advice)
        text = open(path, encoding="utf-8-sig", newline="")  # Excel's "CSV UTF-8" starts with a byte order mark
    except OSError as exc:
        raise SubscriberError(path, f"cannot read the {what} ({exc.strerror or exc})") from None
    with text:
        yield text


def _check_utf8(raw, path: str, advice: str) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    try:
        while chunk := raw.read(CHUNK):
            decoder.decode(chunk)
            offset += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise SubscriberError(path, f"is not UTF-8 text (byte {offset + exc.start}){advice}") from None


def _kind(location: str, content_type: str, head: str) -> str:
    path = location.split("?", 1)[0].lower()
    if path.endswith(".json") or "json" in content_type:
        return "json"
    if path.endswith(".csv") or "csv" in content_type:
        return "csv"
    return "json" if head.lstrip()[:1] in ("[", "{") else "csv"


def _download(url: str, settings: Settings, environ: Mapping[str, str]) -> tuple[bytes, str]:
    s = settings.member_sync
    if url.startswith("http://") and urlsplit(url).hostname not in LOCAL_HOSTS:
        raise SubscriberError(url, "use an https:// URL: the export carries members' details and its token")
    headers = {"Accept": "text/csv, application/json"}
    token = environ.get(s.token_env, "")
    if token:
        headers[s.header] = token
    try:
        r = for_settings(settings).request("GET", url, headers=headers, deadline=FETCH_DEADLINE, max_bytes=MAX_EXPORT,
                           https_only=urlsplit(url).hostname not in LOCAL_HOSTS, follow_redirects=True)
    except OutboundError as exc:
        raise SubscriberError(url, f"the export could not be fetched: {exc}") from None
    if r.status != 200:
        raise SubscriberError(url, f"the export could not be fetched: HTTP {r.status}")
    return r.body, r.headers.get("content-type", "")


class _Undo(Exception):
    """Raised inside the sync's transaction to roll it back: a dry run, or the brake refused."""


def run_sync(db: Database, settings: Settings, location: str, *, complete: bool, dry_run: bool, force: bool,
             now: datetime, source: str = "sync", environ: Mapping[str, str] | None = None,
             notify: Notify | None = None) -> SyncReport:
    """Sync the members with the export at location; the brake refuses (nothing changed) unless force.

    One transaction, fed a batch of the export at a time: the sync is applied
    whole or not at all (a dry run or a refusal rolls it back). notify(kind,
    what) hears of each member as their batch is done: "problem" and "kept"
    (RowProblem), "added" (SyncRow), "changed" ((Subscriber, changes)), "lapsed" (Subscriber).
    """
    mapping = mapping_of(settings)
    report = SyncReport(SyncTally())
    try:
        with export_records(location, settings, mapping, environ) as records, db.begin() as conn:
            rows = check_records(records, mapping, settings.topic_slugs)
            _sync(conn, rows, report, settings, complete=complete, dry_run=dry_run, force=force, source=source,
                  now=now, notify=notify or (lambda kind, what: None))
            if dry_run or report.refused:
                raise _Undo
    except _Undo:
        pass
    return report


def _sync(conn, rows, report: SyncReport, settings: Settings, *, complete: bool, dry_run: bool, force: bool,
          source: str, now: datetime, notify: Notify) -> None:
    tally = report.plan
    tally.active = member_db.count_by_status(conn).get("active", 0)
    with seen_addresses(conn) as seen:
        for batch in batches(rows):
            plan = _plan_batch(conn, seen, batch)
            if not dry_run:
                member_db.apply_sync(conn, plan, source=source, now=now)
            tally.count(plan)
            _tell(plan, notify)
        require = settings.member_sync.require_in_crm
        if complete:
            tally.lapsed = seen.count_missing(require_in_crm=require)
        report.refused = None if force else tally.brake(settings.member_sync.max_lapse)
        after = 0
        while complete and (page := seen.missing(require_in_crm=require, after_id=after)):
            if not (dry_run or report.refused):
                member_db.apply_sync(conn, SyncPlan(lapsed=page), source=source, now=now)
            for sub in page:
                notify("lapsed", sub)
            after = page[-1].id
    report.applied = not (dry_run or report.refused)


def _plan_batch(conn, seen, batch: list) -> SyncPlan:
    """plan_sync() for one batch of checked records, duplicates of earlier records made problems."""
    problems = [x for x in batch if isinstance(x, RowProblem)]
    seen.mention(p.email for p in problems)  # in the export, if unreadable: never lapsed for a typo
    rows, duplicates = seen.first([x for x in batch if not isinstance(x, RowProblem)])
    problems += [RowProblem(r.line, r.email, f"duplicate of record {first}") for r, first in duplicates]
    members = member_db.existing(conn, [email_key(r.email) for r in rows])
    suppressed = member_db.suppressed_among(conn, (r.email for r in rows if email_key(r.email) not in members))
    return plan_sync(rows, members, suppressed, problems)


def _tell(plan: SyncPlan, notify: Notify) -> None:
    for p in plan.problems:
        notify("problem", p)
    for row in plan.added:
        notify("added", row)
    for change in plan.changed:
        notify("changed", change)
    for p in plan.kept:
        notify("kept", p)


def sync_before_run(db: Database, settings: Settings, *, now: datetime) -> list[str]:
    """`digest run` with [members.sync] before_run: sync first; what holds the mailing ([] when it went well).

    A sync that cannot read its export or trips the brake changes nothing and
    holds every edition of the run, under the same gate as a failed source.
    """
    s = settings.member_sync
    if not s.before_run:
        return []
    if not s.source:
        return ["members sync: [members.sync] before_run is set but source is empty"]
    try:
        report = run_sync(db, settings, s.source, complete=s.complete, dry_run=False, force=False, now=now)
    except SubscriberError as exc:
        return [f"members sync failed: {exc}"]
    if report.refused:
        return [f"members sync refused: {report.refused}"]
    return []

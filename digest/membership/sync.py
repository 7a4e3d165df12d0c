"""`digest members sync`: read the membership system's export, plan, brake, apply.

    report = run_sync(db, settings, "crm.csv", complete=True, dry_run=False, force=False, now=now)
    report.plan.summary(); report.refused  # the brake's reason, when nothing was changed

The export is a CSV or JSON file, or an https URL fetched through
digest.outbound with a token header from the environment. One transaction:
the sync is applied whole or not at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from typing import Mapping

from ..config import Settings
from ..db import Database
from ..db import members as member_db
from ..errors import SubscriberError
from ..members import email_key
from ..outbound import OutboundError, for_settings
from .plan import SyncMapping, SyncPlan, parse_export, plan_sync

MAX_EXPORT = 50_000_000  # bytes: a million members' rows fit in well under this
FETCH_DEADLINE = 120.0  # seconds for the whole download
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")  # a CRM on this machine (and the tests) may answer over http


@dataclass
class SyncReport:
    plan: SyncPlan
    applied: bool = False
    refused: str | None = None  # why the brake stopped it (nothing changed)


def mapping_of(settings: Settings) -> SyncMapping:
    s = settings.member_sync
    columns = dict(s.columns) or {f: f for f in ("email", "name", "topics", "frequency", "format")}
    return SyncMapping(columns=columns, attributes=dict(s.attributes), topics_separator=s.topics_separator)


def read_export(location: str, settings: Settings, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(text, kind) of the export at a path or https URL; kind is "csv" or "json"."""
    if location.startswith(("https://", "http://")):
        data, content_type = _download(location, settings, os.environ if environ is None else environ)
    else:
        try:
            data = Path(location).read_bytes()
        except OSError as exc:
            raise SubscriberError(location, f"cannot read the export ({exc.strerror or exc})") from None
        content_type = ""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SubscriberError(location, f"is not UTF-8 text (byte {exc.start})") from None
    return text, _kind(location, content_type, text)


def _kind(location: str, content_type: str, text: str) -> str:
    path = location.split("?", 1)[0].lower()
    if path.endswith(".json") or "json" in content_type:
        return "json"
    if path.endswith(".csv") or "csv" in content_type:
        return "csv"
    return "json" if text.lstrip()[:1] in ("[", "{") else "csv"


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


def run_sync(db: Database, settings: Settings, location: str, *, complete: bool, dry_run: bool, force: bool,
             now: datetime, source: str = "sync", environ: Mapping[str, str] | None = None) -> SyncReport:
    """Sync the members with the export at location; the brake refuses (nothing changed) unless force."""
    text, kind = read_export(location, settings, environ)
    rows, problems = parse_export(text, kind, mapping_of(settings), settings.topic_slugs, source=location)
    with db.begin() as conn:
        members = member_db.members_by_key(conn)
        suppressed = member_db.suppressed_among(conn, (r.email for r in rows if email_key(r.email) not in members))
        plan = plan_sync(rows, members, suppressed, problems, complete=complete,
                         require_in_crm=settings.member_sync.require_in_crm)
        report = SyncReport(plan)
        if not force:
            report.refused = plan.brake(settings.member_sync.max_lapse)
        if dry_run or report.refused:
            return report
        member_db.apply_sync(conn, plan, source=source, now=now)
        report.applied = True
    return report


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

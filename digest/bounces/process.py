"""One returned message in: parsed, attributed to a delivery, the policy applied, recorded once.

Attribution trusts only what we signed: the VERP token of the envelope
sender the report came back to (digest/message/verp.py), else a signed unsubscribe
token: quoted from the original in a link (ARF reports usually carry the
whole original), or at the end of the subject the List-Unsubscribe mailto
gives a request by mail (digest/message/assemble.py). A request by mail is never
attributed by its From address (anyone can write one), nor by a token the
member has since revoked. A report that names only an address goes to
quarantine with the reason; what it does to the member is the bounce table's
(bounces.policy, recorded by bounces.apply).

Idempotent: the report's Message-ID (else a hash of its bytes) is recorded
with what was done in the same transaction as the change, so a report seen
again changes nothing and is filed where it went the first time.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from ..config import Settings
from ..db import Database
from ..db import reports as reports_db
from ..errors import TokenError
from ..message.links import Links
from ..message.verp import ReturnPath
from .apply import PROCESSED, QUARANTINE, apply
from .parse import Addresses, Report, parse_report
from .policy import REPORT, report_kind, report_note
_OUR_MESSAGE_ID = re.compile(r"<edition\.[A-Za-z0-9-]+\.(\d{1,18})@[^>]+>")


@dataclass(frozen=True)
class Processed:
    """What became of one message: where it is filed and what it did."""

    key: str
    kind: str
    folder: str  # PROCESSED or QUARANTINE (a settings folder name is applied by the source)
    outcome: str  # bounced, counted, complained, unsubscribed, unchanged, ignored, quarantined
    email: str | None = None
    why: str = ""
    duplicate: bool = False


def addresses_for(settings: Settings) -> Addresses:
    mailto = settings.unsubscribe_mailto.strip().removeprefix("mailto:").partition("?")[0]
    return Addresses(bounce=settings.bounces.address or settings.sender_address, unsubscribe=mailto,
                     base_url=settings.base_url)


def report_key(report: Report, raw: bytes) -> str:
    if report.message_id:
        return report.message_id[:300]
    return "sha256:" + hashlib.sha256(raw).hexdigest()


class Processor:
    def __init__(self, db: Database, settings: Settings, *, clock: Callable[[], datetime]):
        self.db, self.settings, self.clock = db, settings, clock
        self.addresses = addresses_for(settings)
        self.return_path = (ReturnPath(settings.secret_key, settings.bounces.address)
                            if settings.bounces.address else None)
        self.links = Links(settings.secret_key, settings.base_url)

    def process(self, raw: bytes, source: str) -> Processed:
        report = parse_report(raw, self.addresses)
        key = report_key(report, raw)
        try:
            return self._apply(report, key, source)
        except reports_db.ReportSeen:  # two fetches at once: the other one won, and this one changed nothing
            with self.db.connect() as conn:
                row = reports_db.seen(conn, key)
            return Processed(key, row.kind, row.folder, row.outcome, why="seen before", duplicate=True)

    def _apply(self, report: Report, key: str, source: str) -> Processed:
        now = self.clock()
        with self.db.begin() as conn:
            row = reports_db.seen(conn, key)
            if row is not None:
                return Processed(key, row.kind, row.folder, row.outcome, why="seen before", duplicate=True)
            detail = {k: v for k, v in (("recipient", report.recipient), ("diagnostic", report.diagnostic),
                                        ("subject", report.subject[:200]), ("date", report.date),
                                        ("reason", report.reason)) if v}
            ref, sub_id, how = self._attribute(conn, report)
            if how:
                detail["attributed"] = how
            record = dict(report_key=key, kind=report.kind, shape=report.shape, status=report.status, now=now,
                          ref=ref, subscriber_id=sub_id, source=source)
            if report.kind == "unknown":
                reports_db.record(conn, outcome="quarantined", folder=QUARANTINE, detail=detail, **record)
                return Processed(key, report.kind, QUARANTINE, "quarantined", why=report.reason)
            if not report.actionable:
                reports_db.record(conn, outcome="ignored", folder=PROCESSED, detail=detail, **record)
                return Processed(key, report.kind, PROCESSED, "ignored", why=report.reason)
            member = reports_db.member(conn, sub_id) if sub_id is not None else None
            if member is None and ref is not None:  # about a member who was forgotten: keep nothing of it
                why = "the member was forgotten"
                reports_db.record(conn, outcome="ignored", folder=PROCESSED, detail={"reason": why}, **record)
                return Processed(key, report.kind, PROCESSED, "ignored", why=why)
            if member is None:
                why = ("an unsubscribe by mail without a valid signed token of ours (its From address proves "
                       "nothing): not acted on" if report.kind == "unsubscribe" else
                       "not attributable to a delivery: no VERP token or signed link of ours in it")
                detail["reason"] = why
                reports_db.record(conn, outcome="quarantined", folder=QUARANTINE, detail=detail, **record)
                return Processed(key, report.kind, QUARANTINE, "quarantined", why=why)
            email, status, _ = member
            kind = report_kind(report, self.settings.bounces)
            trail = {"report": key}
            if ref is not None:
                trail["edition"] = ref.edition_key
            if report.status:
                trail["code"] = report.status
            decision = apply(conn, kind, sub_id, when=now, via=REPORT, policy=self.settings.bounces, detail=trail,
                             delivery_id=ref.delivery_id if ref else None, code=report.status,
                             note=report_note(report, kind))
            detail["decision"] = decision.why
            reports_db.record(conn, outcome=decision.outcome, folder=PROCESSED, detail=detail, **record)
            return Processed(key, report.kind, PROCESSED, decision.outcome, email=email, why=decision.why)

    def _attribute(self, conn, report: Report) -> tuple[reports_db.DeliveryRef | None, int | None, str]:
        """(delivery, member id, how) from what we signed; (None, None, "") when nothing of ours is in it."""
        refs: dict[int, reports_db.DeliveryRef] = {}
        if self.return_path is not None:
            for token in report.verp_tokens:
                try:
                    delivery_id = self.return_path.read(token)
                except TokenError:
                    continue
                ref = reports_db.delivery(conn, delivery_id)
                if ref is not None:
                    refs[delivery_id] = ref
        if len(refs) == 1:
            ref = next(iter(refs.values()))
            return ref, ref.subscriber_id, "VERP"
        if len(refs) > 1:  # a report naming two of our deliveries cannot be about one member
            return None, None, ""
        members = set()
        for token in report.unsubscribe_tokens:
            try:
                sub_id, version = self.links.read("unsubscribe", token)
            except TokenError:
                continue
            if report.kind == "unsubscribe":  # acting on it: only a link the member still holds, as on the web
                row = reports_db.member(conn, sub_id)
                if row is None or row[2] != version:
                    continue
            members.add(sub_id)
        if len(members) == 1:
            sub_id = members.pop()
            for mid in report.original_message_ids:  # which delivery: our Message-ID, checked against the member
                m = _OUR_MESSAGE_ID.fullmatch(mid)
                ref = reports_db.delivery(conn, int(m.group(1))) if m else None
                if ref is not None and ref.subscriber_id == sub_id:
                    return ref, sub_id, "signed unsubscribe link"
            return None, sub_id, "signed unsubscribe link"
        return None, None, ""

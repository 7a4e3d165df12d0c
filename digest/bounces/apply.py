"""The bounce table applied to a member and recorded: the one door for what a failure does.

Every door calls apply() inside its own transaction:

    sending (a refusal in the SMTP conversation)   record_refusals(conn, {delivery_id: kind}, ...)
    bounces.process (a returned DSN, ARF, mail)     apply(conn, kind, member_id, via=REPORT, ...)
    a provider's webhook (/hooks/*)                 apply_event(conn, key=event_id, kind=..., ...)

The rule is bounces.policy (pure); the database layer (db.members,
db.reports) records what it is told.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Mapping

from sqlalchemy.engine import Connection

from ..config import BounceSettings
from ..db import deliveries as delivery_db
from ..db import members as member_db
from ..db import reports as reports_db
from ..errors import SubscriberError
from .policy import ACTIONS, COUNT, KINDS, NONE, SMTP, VIA, Decision, decide_kind

PROCESSED, QUARANTINE = "processed", "quarantine"  # where a report (or an event) is filed


def apply(conn: Connection, kind: str, member_id: int, *, when: datetime, via: str, policy: BounceSettings,
          detail: dict | None = None, delivery_id: int | None = None, code: str | None = None,
          note: str = "") -> Decision:
    """What one event of `kind` (policy.KINDS) does to a member: decided by the table, recorded, returned.

    via: policy.SMTP, REPORT or WEBHOOK (also the audit trail's source).
    detail: what the audit entry should say about the evidence (a report's
    Message-ID, the edition, a provider's event id); the decision's reason is
    added. delivery_id: the delivery it is about, so that two reports of one
    delivery count once. code: the enhanced status code, if any; note: a
    complaint's feedback type, or how an unsubscribe came.

    Counting: via SMTP, the member's refusal counter; otherwise distinct
    deliveries with a counted failure in inbound_reports within the window
    (so a webhook's events count only when recorded there: apply_event).
    """
    if kind not in ACTIONS or via not in VIA:
        raise ValueError(f"unknown kind {kind!r} or door {via!r}")
    if via == SMTP:
        status, before = member_db.refusals(conn, member_id)
        decision = decide_kind(kind, member_status=status, failures_before=before, policy=policy, code=code,
                               note=note)
        if decision.action != NONE:
            member_db.record_refusal(conn, member_id, new_status=decision.new_status, now=when)
        return decision
    member = reports_db.member(conn, member_id)
    if member is None:
        raise SubscriberError(f"subscriber #{member_id}", "no such subscriber")
    failures = 0
    if ACTIONS[kind] == COUNT:
        failures = reports_db.failures_since(conn, member_id, when - timedelta(days=policy.window_days),
                                             other_than=delivery_id)
    decision = decide_kind(kind, member_status=member[1], failures_before=failures, policy=policy, code=code,
                           note=note)
    why = {**(detail or {}), "reason": decision.why}
    if decision.new_status:
        member_db.set_status(conn, member_id, decision.new_status, source=via, now=when, why=why)
    elif decision.outcome == "counted":
        member_db.add_event(conn, member_id, via, "bounce", why, when)
    return decision


def record_refusals(conn: Connection, kinds: Mapping[int, str], *, now: datetime, policy: BounceSettings) -> None:
    """The sender's failed deliveries of one commit ({delivery id: kind}) applied to their members."""
    for kind in KINDS:  # the table's order: a permanent refusal first
        ids = [d for d, k in kinds.items() if k == kind]
        if not ids or ACTIONS[kind] == NONE:
            continue
        for member_id in delivery_db.subscribers_of(conn, ids):
            apply(conn, kind, member_id, when=now, via=SMTP, policy=policy)


def apply_event(conn: Connection, *, key: str, kind: str, when: datetime, source: str, policy: BounceSettings,
                delivery_id: int | None = None, member_id: int | None = None, via: str = "webhook",
                detail: dict | None = None, code: str | None = None, note: str = "") -> Decision | None:
    """A provider's event applied once and recorded like a returned report; None if `key` was seen before.

    key: the event's own id (the idempotency key, as a report's Message-ID).
    The member is the delivery's when delivery_id is given (from the
    provider's copy of our Message-ID or VERP address), else member_id. The
    event is stored in inbound_reports with the decision's outcome, so its
    failures count toward the threshold and `digest report` shows it. May
    raise db.reports.ReportSeen when another process records the same key
    first: roll back, nothing was done twice.
    """
    if reports_db.seen(conn, key) is not None:
        return None
    ref = reports_db.delivery(conn, delivery_id) if delivery_id is not None else None
    if ref is not None:
        member_id = ref.subscriber_id
    detail = dict(detail or {})
    if member_id is None or reports_db.member(conn, member_id) is None:
        member_id = None
        decision = Decision("ignored", None, "no member to apply it to")
    else:
        trail = {k: v for k, v in (("event", key), ("edition", ref.edition_key if ref else None)) if v}
        decision = apply(conn, kind, member_id, when=when, via=via, policy=policy, detail={**trail, **detail},
                         delivery_id=ref.delivery_id if ref else None, code=code, note=note)
        detail["decision"] = decision.why
    reports_db.record(conn, report_key=key[:300], kind=kind, shape=source, status=code, now=when, ref=ref,
                      subscriber_id=member_id,
                      outcome=decision.outcome, folder=PROCESSED, source=source, detail=detail)
    return decision

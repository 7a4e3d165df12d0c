"""Reports that came back (inbound_reports) and aggregate clicks: the SQL of digest.bounces and /r/.

Functions take a Connection (the caller owns the transaction) and `now`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, distinct, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from .retention import folded
from .schema import FAILED, SENT, clicks, deliveries, editions, events, inbound_reports, subscribers


@dataclass(frozen=True)
class DeliveryRef:
    """A delivery a report was attributed to."""

    delivery_id: int
    edition_id: int
    edition_key: str
    subscriber_id: int | None
    email: str | None
    status: str | None  # the member's status


class ReportSeen(Exception):
    """Another process recorded the same report first (its transaction must be rolled back)."""


def seen(conn: Connection, report_key: str):
    """The stored row of a report already processed, or None."""
    return conn.execute(select(inbound_reports).where(inbound_reports.c.report_key == report_key)).first()


def delivery(conn: Connection, delivery_id: int) -> DeliveryRef | None:
    q = (select(deliveries.c.id, deliveries.c.edition_id, editions.c.key, deliveries.c.subscriber_id,
                subscribers.c.email, subscribers.c.status)
         .join(editions, editions.c.id == deliveries.c.edition_id)
         .outerjoin(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
         .where(deliveries.c.id == delivery_id))
    row = conn.execute(q).first()
    return DeliveryRef(*row) if row else None


def member(conn: Connection, sub_id: int) -> tuple[str, str, int] | None:
    """(email, status, token_version) of a member, or None."""
    row = conn.execute(select(subscribers.c.email, subscribers.c.status, subscribers.c.token_version)
                       .where(subscribers.c.id == sub_id)).first()
    return tuple(row) if row else None


def failures_since(conn: Connection, sub_id: int, since: datetime, *, other_than: int | None) -> int:
    """How many distinct deliveries of a member had a counted failure since `since` (other than one)."""
    q = (select(func.count(distinct(func.coalesce(inbound_reports.c.delivery_id, -inbound_reports.c.id))))
         .where(inbound_reports.c.subscriber_id == sub_id, inbound_reports.c.received_at >= since,
                inbound_reports.c.outcome.in_(("counted", "bounced"))))
    if other_than is not None:
        q = q.where(func.coalesce(inbound_reports.c.delivery_id, -1) != other_than)
    return int(conn.execute(q).scalar() or 0)


def record(conn: Connection, *, report_key: str, kind: str, shape: str, status: str | None, now: datetime,
           ref: DeliveryRef | None, subscriber_id: int | None, outcome: str, folder: str, source: str,
           detail: dict) -> None:
    """Record a processed report; ReportSeen if another fetch recorded it meanwhile (unique key)."""
    try:
        conn.execute(insert(inbound_reports).values(
            report_key=report_key, kind=kind, shape=shape, status=status, received_at=now,
            delivery_id=ref.delivery_id if ref else None, edition_id=ref.edition_id if ref else None,
            subscriber_id=subscriber_id, outcome=outcome, folder=folder, source=source[:500],
            detail=json.dumps(detail, ensure_ascii=False)))
    except IntegrityError:
        raise ReportSeen(report_key) from None


def move(conn: Connection, report_key: str, folder: str) -> None:
    conn.execute(update(inbound_reports).where(inbound_reports.c.report_key == report_key).values(folder=folder))


def quarantined(conn: Connection) -> list[dict]:
    """Reports not understood or not attributed, oldest first."""
    q = (select(inbound_reports).where(inbound_reports.c.folder == "quarantine")
         .order_by(inbound_reports.c.id))
    return [{"report": r.report_key, "received_at": r.received_at, "kind": r.kind, "shape": r.shape,
             "source": r.source, **json.loads(r.detail or "{}")} for r in conn.execute(q)]


# ---------------------------------------------------------------- clicks


def add_click(conn: Connection, edition_id: int, position: int, variant: str, kind: str, reason: str,
              now: datetime) -> int:
    return conn.execute(insert(clicks).values(edition_id=edition_id, position=position, variant=variant[:1020],
                                              at=now, kind=kind, reason=reason[:60])).inserted_primary_key[0]


def reclassify_clicks(conn: Connection, ids: list[int], reason: str) -> None:
    """Clicks counted as reads that turned out to be a scanner's (several links within a second)."""
    if ids:
        conn.execute(update(clicks).where(clicks.c.id.in_(ids), clicks.c.kind == "read")
                     .values(kind="scanner", reason=reason[:60]))


def click_counts(conn: Connection, edition_id: int) -> dict[tuple[int, str, str], int]:
    """{(position, variant, kind): clicks} for an edition."""
    q = (select(clicks.c.position, clicks.c.variant, clicks.c.kind, func.count())
         .where(clicks.c.edition_id == edition_id)
         .group_by(clicks.c.position, clicks.c.variant, clicks.c.kind))
    counts = folded(conn, edition_id).clicks  # clicks older than [retention] clicks_months, as totals
    for p, v, k, n in conn.execute(q):
        counts[(p, v, k)] += n
    return dict(counts)


# ---------------------------------------------------------------- the edition report


def edition_outcomes(conn: Connection, edition_id: int) -> dict:
    """Counts for `digest report`: deliveries by state, and what came back afterwards.

    For an edition `digest prune` folded, the rows left plus the totals of
    those that went, and what came back as it stood when it was folded.
    """
    done = folded(conn, edition_id)
    by_state = done.states.copy()
    for status, n in conn.execute(select(deliveries.c.status, func.count())
                                  .where(deliveries.c.edition_id == edition_id).group_by(deliveries.c.status)):
        by_state[status] += n
    by_state = dict(by_state)
    if done.folded:
        return {"states": by_state, "outcomes": done.outcomes, "kinds": done.kinds,
                "sent": by_state.get(SENT, 0), "failed": by_state.get(FAILED, 0)}
    # A failed delivery refused during the send has no report; one bounced afterwards was first sent.
    after = dict(conn.execute(
        select(inbound_reports.c.outcome, func.count(distinct(inbound_reports.c.delivery_id)))
        .where(inbound_reports.c.edition_id == edition_id)
        .group_by(inbound_reports.c.outcome)).all())
    kinds = dict(conn.execute(
        select(inbound_reports.c.kind, func.count(distinct(inbound_reports.c.delivery_id)))
        .where(inbound_reports.c.edition_id == edition_id)
        .group_by(inbound_reports.c.kind)).all())
    return {"states": by_state, "outcomes": after, "kinds": kinds, "sent": by_state.get(SENT, 0),
            "failed": by_state.get(FAILED, 0)}


def unsubscribes_after(conn: Connection, edition_id: int) -> int:
    """Members who got this edition and left by its links (web page or one-click) before their next delivery.

    Links carry the member, not the edition, so "from this edition's links" is
    read as: the member's newest sent edition when they left was this one.
    Once `digest prune` folded the edition, the figure stored then.
    """
    done = folded(conn, edition_id)
    if done.folded:
        return done.unsubscribes
    mine = deliveries.alias("mine")
    later = deliveries.alias("later")
    next_sent = (select(func.min(later.c.sent_at))
                 .where(later.c.subscriber_id == mine.c.subscriber_id, later.c.sent_at > mine.c.sent_at)
                 .scalar_subquery())
    q = (select(func.count(distinct(events.c.subscriber_id)))
         .select_from(mine.join(events, events.c.subscriber_id == mine.c.subscriber_id))
         # "status + 0": SQLite (no ANALYZE statistics) otherwise reads every sent delivery of every
         # edition through the (status, id) index: 2.8 s on three years at 100,000 members
         # (scripts/bench --years 3), where the (edition, member) key finds this edition's alone.
         .where(mine.c.edition_id == edition_id, (mine.c.status + 0) == SENT,
                events.c.action == "unsubscribe", events.c.source.in_(("web", "one-click")),
                events.c.at >= mine.c.sent_at,
                and_(func.coalesce(next_sent, events.c.at) >= events.c.at)))
    return int(conn.execute(q).scalar() or 0)

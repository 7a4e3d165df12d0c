"""Webhooks out: the receivers (webhook_endpoints) and the outbox of events for them (webhook_outbox).

enqueue() is called inside the transaction that makes the change it reports
(db.members.add_event), so an event exists exactly when its change was
committed. The worker (digest.membership.webhooks) claims due rows under a
lease, one at a time per receiver and member, and records the outcome only
for a claim it still holds (the lease time is the fencing token).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from .schema import deliveries, editions, webhook_endpoints, webhook_outbox

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True)
class Endpoint:
    id: int
    url: str
    events: tuple[str, ...]
    secret: str
    created_at: datetime


@dataclass(frozen=True)
class Claimed:
    id: int
    endpoint: Endpoint
    msg_id: str
    event: str
    payload: str
    attempts: int
    created_at: datetime
    lease_until: datetime


def _endpoint(r) -> Endpoint:
    return Endpoint(r.id, r.url, tuple(e for e in r.events.split(",") if e), r.secret, r.created_at)


def add_endpoint(conn: Connection, url: str, events: tuple[str, ...], secret: str, *, now: datetime) -> Endpoint:
    new_id = conn.execute(insert(webhook_endpoints).values(url=url, events=",".join(events), secret=secret,
                                                           created_at=now)).inserted_primary_key[0]
    return Endpoint(new_id, url, events, secret, now)


def endpoints(conn: Connection) -> list[Endpoint]:
    return [_endpoint(r) for r in conn.execute(select(webhook_endpoints).order_by(webhook_endpoints.c.id))]


def remove_endpoint(conn: Connection, endpoint_id: int) -> bool:
    """Remove a receiver and its undelivered events (delivered and failed ones stay as its record)."""
    conn.execute(delete(webhook_outbox).where(webhook_outbox.c.endpoint_id == endpoint_id)
                 .where(webhook_outbox.c.status == PENDING))
    return conn.execute(delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)).rowcount > 0


def enqueue(conn: Connection, event: str, order_key: str, data: dict, *, now: datetime,
            only: int | None = None) -> int:
    """One outbox row per receiver that listens to `event` (or only that receiver); how many."""
    n = 0
    for ep in endpoints(conn):
        if (only is None and event not in ep.events) or (only is not None and ep.id != only):
            continue
        msg_id = "msg_" + uuid.uuid4().hex
        payload = json.dumps({"type": event, "timestamp": now.isoformat().replace("+00:00", "Z"), "data": data},
                             ensure_ascii=False, separators=(",", ":"))
        conn.execute(insert(webhook_outbox).values(
            endpoint_id=ep.id, msg_id=msg_id, event=event, order_key=order_key, payload=payload, status=PENDING,
            attempts=0, next_at=now, created_at=now))
        n += 1
    return n


def listens(conn: Connection, event: str) -> bool:
    """Does any receiver want this event? (Saves building its payload when none does.)"""
    return any(event in ep.events for ep in endpoints(conn))


def claim(conn: Connection, *, now: datetime, lease_seconds: float, limit: int = 50) -> list[Claimed]:
    """Due events, at most one per (receiver, order key): the oldest, so each member's events go in order.

    An older event of the same member still pending (waiting for its retry, or
    held by another worker) holds the later ones back.
    """
    o = webhook_outbox.c
    eps = {ep.id: ep for ep in endpoints(conn)}
    # The oldest pending event of each (receiver, order key), found by the database: after a sync of a
    # million members there are a million pending events, and only a batch of them is wanted.
    oldest = select(func.min(o.id)).where(o.status == PENDING).group_by(o.endpoint_id, o.order_key)
    rows = conn.execute(select(webhook_outbox).where(o.id.in_(oldest), o.next_at <= now, o.endpoint_id.in_(list(eps)),
                                                     or_(o.lease_until.is_(None), o.lease_until <= now))
                        .order_by(o.id).limit(limit * 2))  # a few more: another worker may take some first
    lease = now + timedelta(seconds=lease_seconds)
    out: list[Claimed] = []
    for r in rows.all():
        taken = conn.execute(update(webhook_outbox).where(o.id == r.id).where(o.status == PENDING)
                             .where(or_(o.lease_until.is_(None), o.lease_until <= now))
                             .values(lease_until=lease)).rowcount
        if taken:
            out.append(Claimed(r.id, eps[r.endpoint_id], r.msg_id, r.event, r.payload, r.attempts, r.created_at,
                               lease))
        if len(out) >= limit:
            break
    return out


def record(conn: Connection, claimed: Claimed, *, status: str, error: str | None, next_at: datetime | None,
           now: datetime) -> bool:
    """The outcome of one attempt, if this worker still holds the claim (False: it was taken over)."""
    o = webhook_outbox.c
    values = {"attempts": claimed.attempts + 1, "lease_until": None, "last_error": (error or None) and error[:500]}
    if status == PENDING:
        values["next_at"] = next_at
    else:
        values.update(status=status, done_at=now)
    return conn.execute(update(webhook_outbox).where(o.id == claimed.id).where(o.status == PENDING)
                        .where(o.lease_until == claimed.lease_until).values(**values)).rowcount > 0


def summary(conn: Connection) -> dict[int, dict]:
    """Per receiver: events by status, and the last error of a failed or retrying one."""
    o = webhook_outbox.c
    out: dict[int, dict] = {}
    for endpoint_id, status, n in conn.execute(select(o.endpoint_id, o.status, func.count())
                                               .group_by(o.endpoint_id, o.status)):
        out.setdefault(endpoint_id, {PENDING: 0, DELIVERED: 0, FAILED: 0, "last_error": None})[status] = n
    for r in conn.execute(select(o.endpoint_id, o.last_error).where(o.last_error.is_not(None)).order_by(o.id)):
        out[r.endpoint_id]["last_error"] = r.last_error
    return out


def failed_events(conn: Connection, endpoint_id: int, limit: int = 20) -> list[dict]:
    o = webhook_outbox.c
    q = (select(o.msg_id, o.event, o.attempts, o.last_error, o.created_at, o.done_at)
         .where(o.endpoint_id == endpoint_id).where(o.status == FAILED).order_by(o.id.desc()).limit(limit))
    return [dict(r._mapping) for r in conn.execute(q)]


def finished_editions(conn: Connection, since: datetime) -> list[tuple[int, str, datetime]]:
    """(id, key, queued_at) of editions queued since `since` with nothing left to send."""
    pending = select(deliveries.c.id).where(deliveries.c.edition_id == editions.c.id).where(
        deliveries.c.status.in_((0, 1)))
    q = (select(editions.c.id, editions.c.key, editions.c.queued_at)
         .where(and_(editions.c.queued_at.is_not(None), editions.c.queued_at >= since))
         .where(~pending.exists()).order_by(editions.c.id))
    return [tuple(r) for r in conn.execute(q)]


def announced(conn: Connection, order_key: str, endpoint_id: int) -> bool:
    o = webhook_outbox.c
    q = select(o.id).where(o.order_key == order_key).where(o.endpoint_id == endpoint_id).where(o.event == "edition.sent")
    return conn.execute(q).first() is not None


def scrub(conn: Connection, order_key: str) -> None:
    """A forgotten member: the bodies of their delivered and failed events go (they hold the address).

    Events still waiting are delivered as they are: the receiver already
    knows the member, and learns of the change they report.
    """
    o = webhook_outbox.c
    conn.execute(update(webhook_outbox).where(o.order_key == order_key).where(o.status != PENDING)
                 .values(payload="{}", last_error=None))

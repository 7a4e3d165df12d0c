"""Mail providers' webhooks: events recorded then taken, tokens already accepted, what each provider sent.

Functions take a Connection (the caller owns the transaction) and `now`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from .schema import inbound_reports, provider_events, provider_tokens

KEEP_TOKENS = timedelta(days=1)  # far past any signature's timestamp window


@dataclass(frozen=True)
class Pending:
    """A recorded event not yet acted on."""

    id: int
    provider: str
    event: dict  # what bounces.providers.ProviderEvent holds


def use_token(conn: Connection, provider: str, token: str, now: datetime) -> bool:
    """Record a webhook token as used; False when it was used before (a replay)."""
    conn.execute(delete(provider_tokens).where(provider_tokens.c.seen_at < now - KEEP_TOKENS))
    try:
        with conn.begin_nested():
            conn.execute(insert(provider_tokens).values(provider=provider, token=token[:200], seen_at=now))
    except IntegrityError:
        return False
    return True


def record_event(conn: Connection, provider: str, event_id: str, event: dict, now: datetime) -> bool:
    """Record a verified event to be acted on; False when the provider sent it before (nothing recorded)."""
    try:
        with conn.begin_nested():
            conn.execute(insert(provider_events).values(provider=provider, event_id=event_id[:200], received_at=now,
                                                        event=json.dumps(event, ensure_ascii=False)))
    except IntegrityError:
        return False
    return True


def is_recorded(conn: Connection, provider: str, event_id: str) -> bool:
    return conn.execute(select(provider_events.c.id).where(provider_events.c.provider == provider,
                                                           provider_events.c.event_id == event_id)).first() is not None


def next_pending(conn: Connection) -> Pending | None:
    """The oldest event not yet acted on (locked against another worker where the database can)."""
    q = (select(provider_events.c.id, provider_events.c.provider, provider_events.c.event)
         .where(provider_events.c.taken_at.is_(None)).order_by(provider_events.c.id).limit(1))
    if conn.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    row = conn.execute(q).first()
    return Pending(row.id, row.provider, json.loads(row.event)) if row else None


def mark_taken(conn: Connection, event_row: int, now: datetime, kind: str = "") -> None:
    """Taken: only its kind is kept (what it did is in inbound_reports; the address is not kept twice)."""
    conn.execute(update(provider_events).where(provider_events.c.id == event_row)
                 .values(taken_at=now, event=json.dumps({"kind": kind})))


def pending_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).where(provider_events.c.taken_at.is_(None))).scalar() or 0)


def summary(conn: Connection, provider: str) -> dict:
    """{events, waiting, last_at, last_kind, last_outcome} of what a provider's webhook has sent."""
    mine = provider_events.c.provider == provider
    count = int(conn.execute(select(func.count()).where(mine)).scalar() or 0)
    waiting = int(conn.execute(select(func.count()).where(mine, provider_events.c.taken_at.is_(None))).scalar() or 0)
    last = conn.execute(select(provider_events).where(mine).order_by(provider_events.c.id.desc()).limit(1)).first()
    if last is None:
        return {"events": 0, "waiting": 0, "last_at": None, "last_kind": None, "last_outcome": None}
    done = conn.execute(select(inbound_reports.c.kind, inbound_reports.c.outcome)
                        .where(inbound_reports.c.report_key == f"{provider}:{last.event_id}")).first()
    return {"events": count, "waiting": waiting, "last_at": last.received_at,
            "last_kind": done.kind if done else json.loads(last.event).get("kind"),
            "last_outcome": done.outcome if done else "waiting"}

"""Mail providers' webhooks: tokens already accepted, and what each provider last sent.

Functions take a Connection (the caller owns the transaction) and `now`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from .schema import inbound_reports, provider_tokens

KEEP_TOKENS = timedelta(days=1)  # far past any signature's timestamp window


def use_token(conn: Connection, provider: str, token: str, now: datetime) -> bool:
    """Record a webhook token as used; False when it was used before (a replay)."""
    conn.execute(delete(provider_tokens).where(provider_tokens.c.seen_at < now - KEEP_TOKENS))
    try:
        with conn.begin_nested():
            conn.execute(insert(provider_tokens).values(provider=provider, token=token[:200], seen_at=now))
    except IntegrityError:
        return False
    return True


def summary(conn: Connection, provider: str) -> dict:
    """{events, last_at, last_kind, last_outcome} of what a provider's webhook has recorded."""
    mine = inbound_reports.c.report_key.startswith(f"{provider}:")
    count = int(conn.execute(select(func.count()).where(mine)).scalar() or 0)
    last = conn.execute(select(inbound_reports).where(mine).order_by(inbound_reports.c.id.desc()).limit(1)).first()
    if last is None:
        return {"events": 0, "last_at": None, "last_kind": None, "last_outcome": None}
    return {"events": count, "last_at": last.received_at, "last_kind": last.kind, "last_outcome": last.outcome,
            "last_detail": json.loads(last.detail or "{}")}

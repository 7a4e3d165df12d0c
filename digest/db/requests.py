"""Subscribe requests waiting for the web app's mail worker (table subscribe_requests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from ..models import TopicSet
from .schema import decode_topics, encode_topics, subscribe_requests


@dataclass(frozen=True)
class SubscribeRequest:
    id: int
    email: str
    name: str | None
    topics: TopicSet
    frequency: str
    format: str
    requested_at: datetime
    language: str = ""  # chosen on the form; "": the organisation's first


def add(conn: Connection, email: str, name: str | None, topics: Sequence[str], frequency: str, fmt: str,
        now: datetime, language: str = "") -> int:
    result = conn.execute(insert(subscribe_requests).values(
        email=email, name=name, topics=encode_topics(TopicSet(topics)), frequency=frequency, format=fmt, requested_at=now,
        language=language))
    return result.inserted_primary_key[0]


def take_oldest(conn: Connection) -> SubscribeRequest | None:
    """Remove and return the oldest waiting request; None when there is none.

    Two servers' workers may pick the same row: the one whose DELETE removes
    it has it, the other looks again (the row is gone once the first commits).
    """
    while True:
        row = conn.execute(select(subscribe_requests).order_by(subscribe_requests.c.id).limit(1)).first()
        if row is None:
            return None
        gone = conn.execute(delete(subscribe_requests).where(subscribe_requests.c.id == row.id)).rowcount
        if gone == 1:
            return SubscribeRequest(row.id, row.email, row.name, decode_topics(row.topics), row.frequency,
                                    row.format, row.requested_at, row.language or "")


def waiting(conn: Connection) -> int:
    from sqlalchemy import func

    return conn.execute(select(func.count()).select_from(subscribe_requests)).scalar_one()

"""The health of configured sources: one row per [[sources]] name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from .schema import sources


@dataclass
class SourceHealth:
    name: str
    location: str
    kind: str | None = None
    last_fetched_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    items_last_seen: int | None = None
    newest_item_at: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None


_FIELDS = ("location", "kind", "last_fetched_at", "last_success_at", "last_error", "items_last_seen",
           "newest_item_at", "etag", "last_modified", "moved_to")


def load(conn: Connection, name: str) -> SourceHealth | None:
    r = conn.execute(select(sources).where(sources.c.name == name)).first()
    return None if r is None else SourceHealth(r.name, **{f: getattr(r, f) for f in _FIELDS})


def load_all(conn: Connection) -> dict[str, SourceHealth]:
    return {r.name: SourceHealth(r.name, **{f: getattr(r, f) for f in _FIELDS})
            for r in conn.execute(select(sources).order_by(sources.c.name))}


def save(conn: Connection, health: SourceHealth) -> None:
    values = {f: getattr(health, f) for f in _FIELDS}
    if values["last_error"]:
        values["last_error"] = values["last_error"][:500]
    done = conn.execute(update(sources).where(sources.c.name == health.name).values(**values)).rowcount
    if not done:
        conn.execute(insert(sources).values(name=health.name, **values))

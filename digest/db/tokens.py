"""API tokens: a name, its scopes, and the sha256 of the token (the token itself is never stored)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..errors import ApiTokenError
from .schema import api_tokens


@dataclass(frozen=True)
class ApiToken:
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None = None


def _model(r) -> ApiToken:
    return ApiToken(r.name, tuple(s for s in r.scopes.split(",") if s), r.created_at, r.last_used_at)


def add(conn: Connection, name: str, token_hash: str, scopes: tuple[str, ...], *, now: datetime) -> ApiToken:
    if conn.execute(select(api_tokens.c.id).where(api_tokens.c.name == name)).first():
        raise ApiTokenError(name, "already exists (revoke it first to replace it)")
    try:
        with conn.begin_nested():
            conn.execute(insert(api_tokens).values(name=name, token_hash=token_hash, scopes=",".join(scopes),
                                                   created_at=now))
    except IntegrityError:
        raise ApiTokenError(name, "already exists") from None
    return ApiToken(name, scopes, now)


def list_all(conn: Connection) -> list[ApiToken]:
    return [_model(r) for r in conn.execute(select(api_tokens).order_by(api_tokens.c.name))]


def revoke(conn: Connection, name: str) -> bool:
    return conn.execute(delete(api_tokens).where(api_tokens.c.name == name)).rowcount > 0


def by_hash(conn: Connection, token_hash: str) -> ApiToken | None:
    r = conn.execute(select(api_tokens).where(api_tokens.c.token_hash == token_hash)).first()
    return _model(r) if r else None


def touch(conn: Connection, name: str, *, now: datetime) -> None:
    conn.execute(update(api_tokens).where(api_tokens.c.name == name).values(last_used_at=now))

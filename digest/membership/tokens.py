"""API tokens: made once and shown once; only their sha256 is kept; each carries scopes.

    token = issue(db, "crm", ("members:read", "members:write"), now=now)   # "dgt_..." printed once
    found = check(db, "dgt_...", now=now)                                  # ApiToken or None
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from ..db import Database
from ..db import tokens as token_db
from ..db.tokens import ApiToken
from ..errors import ApiTokenError

SCOPES = ("members:read", "members:write", "subscribe", "editions:read", "sources:read")
PREFIX = "dgt_"  # recognisable in a leaked file or a secret scanner
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,15}$")  # 16 characters: events.source is "api:NAME" (20)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_scopes(raw: str) -> tuple[str, ...]:
    """"members:read,editions:read" in SCOPES order; raises ValueError naming a bad one."""
    chosen = {s.strip() for s in raw.split(",") if s.strip()}
    unknown = sorted(chosen - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r} (scopes: {', '.join(SCOPES)})")
    if not chosen:
        raise ValueError(f"give at least one scope ({', '.join(SCOPES)})")
    return tuple(s for s in SCOPES if s in chosen)


def issue(db: Database, name: str, scopes: tuple[str, ...], *, now: datetime) -> str:
    """A new token named name with these scopes; returns the token (the only time it exists in full)."""
    if not _NAME.match(name):
        raise ApiTokenError(name, "must be 1 to 16 lower-case letters, digits or hyphens, like crm or website")
    token = PREFIX + secrets.token_urlsafe(32)
    with db.begin() as conn:
        token_db.add(conn, name, token_hash(token), scopes, now=now)
    return token


def check(db: Database, token: str, *, now: datetime) -> ApiToken | None:
    """The token's record if it is one of ours (compared by hash: no timing to learn from), else None."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    with db.begin() as conn:
        found = token_db.by_hash(conn, token_hash(token))
        # Written at most once a minute: a busy integration must not make every request a write.
        if found is not None and (found.last_used_at is None or (now - found.last_used_at).total_seconds() > 60):
            token_db.touch(conn, found.name, now=now)
    return found


__all__ = ["ApiToken", "ApiTokenError", "SCOPES", "check", "issue", "parse_scopes", "token_hash"]

"""Editors of the desk and their audit trail (editor_events): the SQL.

Values come checked by digest.editorial.editors; functions take a Connection (the caller
owns the transaction) and `now`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from ..errors import EditorError
from .schema import desk_sessions, editor_events, editors


@dataclass(frozen=True)
class Editor:
    id: int
    email: str
    name: str | None
    has_password: bool
    session_version: int
    created_at: datetime
    last_sign_in_at: datetime | None
    notify: tuple[str, ...] = ("held",)  # the notices they get (editorial.editors.NOTICES)
    role: str = "editor"  # or "membership": the desk's members pages only

    @property
    def display(self) -> str:
        return self.name or self.email


def _editor(r) -> Editor:
    return Editor(id=r.id, email=r.email, name=r.name, has_password=bool(r.password_hash),
                  session_version=r.session_version, created_at=r.created_at, last_sign_in_at=r.last_sign_in_at,
                  notify=tuple(k for k in (r.notify or "").split(",") if k), role=r.role)


def get(conn: Connection, editor_id: int) -> Editor | None:
    r = conn.execute(select(editors).where(editors.c.id == editor_id)).first()
    return _editor(r) if r else None


def get_by_email(conn: Connection, email: str) -> Editor | None:
    r = conn.execute(select(editors).where(editors.c.email_key == email.strip().lower())).first()
    return _editor(r) if r else None


def password_hash(conn: Connection, editor_id: int) -> str | None:
    return conn.execute(select(editors.c.password_hash).where(editors.c.id == editor_id)).scalar()


def list_editors(conn: Connection) -> list[Editor]:
    return [_editor(r) for r in conn.execute(select(editors).order_by(editors.c.email_key))]


def add(conn: Connection, email: str, name: str | None, *, now: datetime, notify: tuple[str, ...] = ("held",),
        role: str = "editor") -> Editor:
    if get_by_email(conn, email) is not None:
        raise EditorError(email, "is already an editor")
    new_id = conn.execute(insert(editors).values(
        email=email, email_key=email.lower(), name=name, session_version=1, created_at=now,
        notify=",".join(notify), role=role)).inserted_primary_key[0]
    return get(conn, new_id)


def set_notify(conn: Connection, editor_id: int, notify: tuple[str, ...]) -> None:
    conn.execute(update(editors).where(editors.c.id == editor_id).values(notify=",".join(notify)))


def to_notify(conn: Connection, kind: str) -> list[Editor]:
    """The editors who get notices of this kind, longest-standing first (the config's order, when it seeded them)."""
    rows = conn.execute(select(editors).where(editors.c.notify != "").order_by(editors.c.id))
    return [e for e in map(_editor, rows) if kind in e.notify]


def remove(conn: Connection, editor_id: int) -> None:
    """The editor goes, and every session of theirs with them."""
    conn.execute(delete(editors).where(editors.c.id == editor_id))
    end_sessions(conn, editor_id)


def set_link(conn: Connection, editor_id: int, purpose: str, link_hash: str) -> None:
    """Store the hash of the editor's one live link (any older link stops working)."""
    conn.execute(update(editors).where(editors.c.id == editor_id).values(link_hash=link_hash, link_purpose=purpose))


def use_link(conn: Connection, editor_id: int, purpose: str, link_hash: str) -> Editor | None:
    """Consume the link if it is the live one for this purpose; None if it was used, replaced or never made."""
    result = conn.execute(update(editors).where(
        editors.c.id == editor_id, editors.c.link_hash == link_hash, editors.c.link_purpose == purpose,
    ).values(link_hash=None, link_purpose=None))
    return get(conn, editor_id) if result.rowcount == 1 else None


def link_is_live(conn: Connection, editor_id: int, purpose: str, link_hash: str) -> bool:
    r = conn.execute(select(editors.c.link_hash, editors.c.link_purpose).where(editors.c.id == editor_id)).first()
    return r is not None and r.link_hash == link_hash and r.link_purpose == purpose


def set_password(conn: Connection, editor_id: int, hashed: str) -> None:
    """A new password ends every session of the editor (session_version goes up, their rows go)."""
    conn.execute(update(editors).where(editors.c.id == editor_id).values(
        password_hash=hashed, session_version=editors.c.session_version + 1))
    end_sessions(conn, editor_id)


def open_session(conn: Connection, editor_id: int, id_hash: str, *, now: datetime, older_than: datetime) -> None:
    """A live session (the sha256 of the cookie's id); sessions begun before `older_than` are tidied away."""
    conn.execute(delete(desk_sessions).where(desk_sessions.c.created_at < older_than))
    conn.execute(insert(desk_sessions).values(id_hash=id_hash, editor_id=editor_id, created_at=now))


def session_editor(conn: Connection, id_hash: str) -> tuple[Editor, datetime] | None:
    """The editor of a live session and when it began; None once it has ended."""
    r = conn.execute(select(desk_sessions).where(desk_sessions.c.id_hash == id_hash)).first()
    editor = get(conn, r.editor_id) if r else None
    return (editor, r.created_at) if editor else None


def end_session(conn: Connection, id_hash: str) -> None:
    conn.execute(delete(desk_sessions).where(desk_sessions.c.id_hash == id_hash))


def end_sessions(conn: Connection, editor_id: int) -> None:
    conn.execute(delete(desk_sessions).where(desk_sessions.c.editor_id == editor_id))


def signed_in(conn: Connection, editor_id: int, *, now: datetime) -> None:
    conn.execute(update(editors).where(editors.c.id == editor_id).values(last_sign_in_at=now))


def audit(conn: Connection, editor, action: str, target: str | int = "", detail: dict | None = None, *,
          now: datetime) -> None:
    """One row of the trail. `editor` is an Editor, or a string such as "cli"."""
    editor_id = getattr(editor, "id", None)
    who = getattr(editor, "email", None) or str(editor)
    conn.execute(insert(editor_events).values(
        at=now, editor_id=editor_id, editor=who[:320], action=action[:30], target=str(target)[:100],
        detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)))


def last_event(conn: Connection, action: str, target: str) -> dict | None:
    """The newest row of the trail with this action and target ({"at", "editor", "detail"}), or None."""
    r = conn.execute(select(editor_events).where(editor_events.c.action == action, editor_events.c.target == target)
                     .order_by(editor_events.c.id.desc()).limit(1)).first()
    return None if r is None else {"at": r.at, "editor": r.editor, "detail": json.loads(r.detail or "{}")}


def list_audit(conn: Connection, *, limit: int = 200, target: str | None = None) -> list[dict]:
    q = select(editor_events).order_by(editor_events.c.id.desc()).limit(limit)
    if target is not None:
        q = q.where(editor_events.c.target == target)
    return [{"at": r.at, "editor": r.editor, "action": r.action, "target": r.target,
             "detail": json.loads(r.detail or "{}")} for r in conn.execute(q)]

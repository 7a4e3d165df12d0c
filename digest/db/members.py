"""Members, suppressions and the events that record every change to a member.

Functions take a Connection (the caller owns the transaction) and `now`.
Values come already checked by digest.members (normalise_email,
parse_topics, check_frequency, ...); business rules (never re-subscribe,
forgotten means gone) live here and there, SQL only here.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable, Iterator, Sequence

from sqlalchemy import delete, func, insert, literal, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..errors import SubscriberError
from ..members import (
    ImportPlan,
    MemberRow,
    RowProblem,
    email_hash,
    email_key,
    as_json,
    plan_import,
    refusal,
    webhook_event,
)
from ..models import Subscriber, TopicSet
from . import webhooks as webhook_db
from .schema import (
    DELIVERY_STATES,
    decode_topics,
    deliveries,
    editions,
    encode_topics,
    events,
    inbound_reports,
    subscribers,
    suppressions,
)

_UNSET: Any = object()  # "leave as it is", where None is a meaningful value
_CHUNK = 500  # keys per IN (...) query, well inside every driver's parameter limit


def _model(row) -> Subscriber:
    return Subscriber(
        id=row.id,
        email=row.email,
        name=row.name,
        status=row.status,
        topics=decode_topics(row.topics),
        frequency=row.frequency,
        format=row.format,
        paused=bool(row.paused),
        consent_source=row.consent_source,
        consent_at=row.consent_at,
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
        left_at=row.left_at,
        token_version=row.token_version,
        language=row.language or "",
        attributes=json.loads(row.attributes or "{}"),
        updated_at=row.updated_at,
        news_announcements=getattr(row, "news_announcements", True) is not False,
    )


def get_by_id(conn: Connection, sub_id: int) -> Subscriber | None:
    row = conn.execute(select(subscribers).where(subscribers.c.id == sub_id)).first()
    return _model(row) if row else None


def get_by_email(conn: Connection, email: str) -> Subscriber | None:
    """The member with this address, whatever its case."""
    row = conn.execute(select(subscribers).where(subscribers.c.email_key == email_key(email))).first()
    return _model(row) if row else None


def require(conn: Connection, email: str) -> Subscriber:
    """The member with this address, or SubscriberError naming it."""
    sub = get_by_email(conn, email)
    if sub is None:
        why = "was forgotten at the member's request" if is_suppressed(conn, email) else "no such subscriber"
        raise SubscriberError(email, why)
    return sub


def _require_id(conn: Connection, sub_id: int) -> Subscriber:
    sub = get_by_id(conn, sub_id)
    if sub is None:
        raise SubscriberError(f"subscriber #{sub_id}", "no such subscriber")
    return sub


def list_subscribers(conn: Connection, status: str | None = None) -> list[Subscriber]:
    """Members in the order they joined, optionally only those with one status (a list: for a few)."""
    return list(each_member(conn, status))


def each_member(conn: Connection, status: str | None = None, *, batch: int = 5_000) -> Iterator[Subscriber]:
    """Members in the order they joined, a page of `batch` at a time: memory stays flat for millions."""
    after = 0
    while found := page(conn, status=status, after_id=after, limit=batch):
        yield from found
        after = found[-1].id


def page(conn: Connection, *, status: str | None = None, topic: str | None = None, frequency: str | None = None,
         updated_since: datetime | None = None, after_id: int = 0, limit: int = 100,
         search: str | None = None) -> list[Subscriber]:
    """Members in id order after after_id (a cursor), filtered; topic: who gets it, all-topics members too.

    search: part of the address or the name, whatever its case.
    """
    c = subscribers.c
    q = select(subscribers).where(c.id > after_id).order_by(c.id).limit(limit)
    if search:
        pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(c.email_key.like(pattern, escape="\\") | func.lower(c.name).like(pattern, escape="\\"))
    if status:
        q = q.where(c.status == status)
    if frequency:
        q = q.where(c.frequency == frequency)
    if updated_since is not None:
        q = q.where(c.updated_at >= updated_since)
    if topic:
        q = q.where((c.topics == "") | (literal(",") + c.topics + literal(",")).like(f"%,{topic},%"))
    return [_model(r) for r in conn.execute(q)]


def recent_deliveries(conn: Connection, sub_id: int, limit: int = 10) -> list[dict]:
    """A member's last deliveries, newest first: edition, state, attempts, when sent, the last error."""
    q = (select(editions.c.key, deliveries.c.status, deliveries.c.attempts, deliveries.c.sent_at,
                deliveries.c.last_error)
         .join(editions, editions.c.id == deliveries.c.edition_id)
         .where(deliveries.c.subscriber_id == sub_id).order_by(deliveries.c.id.desc()).limit(limit))
    return [{"edition": r.key, "status": DELIVERY_STATES.get(r.status, str(r.status)), "attempts": r.attempts,
             "sent_at": r.sent_at, "last_error": r.last_error} for r in conn.execute(q)]


def recent_reports(conn: Connection, sub_id: int, limit: int = 10) -> list[dict]:
    """Reports that came back about a member (bounces, complaints...), newest first."""
    r_ = inbound_reports.c
    q = (select(r_.kind, r_.status, r_.received_at, r_.outcome, r_.detail).where(r_.subscriber_id == sub_id)
         .order_by(r_.id.desc()).limit(limit))
    return [{"kind": r.kind, "status": r.status, "received_at": r.received_at, "outcome": r.outcome,
             "diagnostic": json.loads(r.detail or "{}").get("diagnostic")} for r in conn.execute(q)]


def is_suppressed(conn: Connection, email: str) -> bool:
    """True if the address was forgotten (only its hash is kept)."""
    q = select(suppressions.c.email_hash).where(suppressions.c.email_hash == email_hash(email))
    return conn.execute(q).first() is not None


# ---------------------------------------------------------------- events


def add_event(conn: Connection, sub_id: int, source: str, action: str, detail: dict | None,
              now: datetime) -> None:
    """Record one change to a member: who or what did it, and what changed.

    Every door (CLI, pages, API, sync, bounces) records its changes here, so
    this is where the webhook event for a change is written: in the same
    transaction, so it exists exactly when the change was committed.
    """
    conn.execute(insert(events).values(
        subscriber_id=sub_id, at=now, source=source, action=action,
        detail=json.dumps(detail or {}, ensure_ascii=False),
    ))
    event = webhook_event(action, detail or {})
    if event and webhook_db.listens(conn, event):
        sub = get_by_id(conn, sub_id)
        webhook_db.enqueue(conn, event, f"member:{sub_id}",
                           {"member": as_json(sub), "change": detail or {}, "source": source}, now=now)


def list_events(conn: Connection, sub_id: int) -> list[dict]:
    """A member's events, oldest first: {"at", "source", "action", "detail"}."""
    q = select(events).where(events.c.subscriber_id == sub_id).order_by(events.c.id)
    return [{"at": r.at, "source": r.source, "action": r.action, "detail": json.loads(r.detail or "{}")}
            for r in conn.execute(q)]


def last_event_at(conn: Connection, sub_id: int, actions: Sequence[str]) -> datetime | None:
    """When the member last had one of these events (e.g. a confirmation email was asked for), or None."""
    q = (select(func.max(events.c.at)).where(events.c.subscriber_id == sub_id)
         .where(events.c.action.in_(list(actions))))
    return conn.execute(q).scalar()


# ---------------------------------------------------------------- joining


class AddressTaken(SubscriberError):
    """create() lost a race: the address was inserted between the caller's read and its insert."""


def _new_member(email: str, name: str | None, topics: Sequence[str], frequency: str, fmt: str, *, status: str,
                source: str, now: datetime, language: str = "", attributes: dict[str, str] | None = None
                ) -> tuple[dict, dict]:
    """A new member's row and the detail of their "subscribe" event (create and create_many)."""
    row = dict(email=email, email_key=email_key(email), name=name, status=status,
               topics=encode_topics(TopicSet(topics)), frequency=frequency, format=fmt, paused=False,
               consent_source=source, consent_at=now if status == "active" else None,
               created_at=now, updated_at=now, token_version=1, hard_bounces=0, language=language,
               attributes=_attributes_json(attributes or {}))
    detail = {"status": status, "topics": list(topics), "frequency": frequency, "format": fmt,
              **({"language": language} if language else {}), **({"attributes": attributes} if attributes else {})}
    return row, detail


def create(conn: Connection, email: str, name: str | None, topics: Sequence[str], frequency: str,
           fmt: str, *, status: str, source: str, now: datetime, language: str = "",
           attributes: dict[str, str] | None = None) -> Subscriber:
    """Insert a member (no checks beyond the unique address) and record "subscribe".

    Raises AddressTaken if the address is already there (on PostgreSQL the transaction is then aborted).
    """
    row, detail = _new_member(email, name, topics, frequency, fmt, status=status, source=source, now=now,
                              language=language, attributes=attributes)
    return _insert_member(conn, row, detail, source=source, now=now)


def _insert_member(conn: Connection, row: dict, detail: dict, *, source: str, now: datetime) -> Subscriber:
    """One member made by _new_member, and its "subscribe" event (with its webhook, if one listens)."""
    try:
        sub_id = conn.execute(insert(subscribers).values(**row)).inserted_primary_key[0]
    except IntegrityError:  # the unique address: another writer added it after the caller looked
        raise AddressTaken(row["email"], "was added by another request at the same time; try again") from None
    add_event(conn, sub_id, source, "subscribe", detail, now)
    return get_by_id(conn, sub_id)


def create_many(conn: Connection, new: Sequence[tuple[dict, dict]], *, source: str, now: datetime) -> None:
    """Insert members made by _new_member and their "subscribe" events: two statements for the lot.

    What create() does member by member (three statements each, the import's
    whole cost at a million members), for import and sync. When a webhook
    receiver listens for the event, each is inserted on its own so its payload
    is written with it.
    """
    if not new:
        return
    event = webhook_event("subscribe", new[0][1])
    if event and webhook_db.listens(conn, event):
        for row, detail in new:
            _insert_member(conn, row, detail, source=source, now=now)
        return
    try:
        ids = conn.execute(insert(subscribers).returning(subscribers.c.id, sort_by_parameter_order=True),
                           [row for row, _ in new]).scalars().all()
    except IntegrityError:  # the unique address: another writer added one after the caller looked
        raise AddressTaken(new[0][0]["email"] if len(new) == 1 else f"one of {len(new)} addresses",
                           "was added by another request at the same time; try again") from None
    conn.execute(insert(events), [
        {"subscriber_id": sub_id, "at": now, "source": source, "action": "subscribe",
         "detail": json.dumps(detail, ensure_ascii=False)} for sub_id, (_, detail) in zip(ids, new)])


def add(conn: Connection, email: str, name: str | None = None, topics: Sequence[str] = (),
        frequency: str = "weekly", fmt: str = "html", *, pending: bool = False, source: str = "cli",
        now: datetime, language: str = "") -> Subscriber:
    """Add a new member, active (an administrator vouches for consent) or pending.

    Raises SubscriberError if the address is already a member, left, or was forgotten.
    """
    existing = get_by_email(conn, email)
    why = refusal(existing, is_suppressed(conn, email))
    if why and existing is not None:  # they left: only an explicit decision brings them back
        why += f"; if they asked to come back: digest subscribers set {email} --status active"
    if why:
        raise SubscriberError(email, why)
    if existing is not None:
        hint = "" if existing.status == "pending" else "; change details with `digest subscribers set`"
        raise SubscriberError(email, f"is already a member ({existing.status}){hint}")
    return create(conn, email, name, topics, frequency, fmt,
                  status="pending" if pending else "active", source=source, now=now, language=language)


def create_pending(conn: Connection, email: str, name: str | None, topics: Sequence[str], frequency: str,
                   fmt: str, source: str, now: datetime, language: str = "") -> Subscriber:
    """A member waiting to confirm (double opt-in). Same refusals as add()."""
    return add(conn, email, name, topics, frequency, fmt, pending=True, source=source, now=now, language=language)


def confirm(conn: Connection, sub_id: int, *, source: str, now: datetime) -> Subscriber:
    """A pending member confirms: active from now, consent recorded. Other statuses stay."""
    sub = _require_id(conn, sub_id)
    if sub.status != "pending":
        return sub
    conn.execute(update(subscribers).where(subscribers.c.id == sub_id).values(
        status="active", confirmed_at=now, consent_at=now, consent_source=source, updated_at=now))
    add_event(conn, sub_id, source, "confirm", {"status": ["pending", "active"]}, now)
    return get_by_id(conn, sub_id)


# ---------------------------------------------------------------- changing


def update_preferences(conn: Connection, sub_id: int, *, topics: Sequence[str] | None = None,
                       frequency: str | None = None, format: str | None = None,  # noqa: A002
                       paused: bool | None = None, name: str | None = _UNSET,
                       attributes: dict[str, str] | None = None, source: str, now: datetime,
                       language: str | None = None, why: dict | None = None,
                       news_announcements: bool | None = None) -> dict[str, list]:
    """Change what a member gets; None leaves a field as it is (name: pass None to clear).

    Returns {"field": [old, new]} for what changed, also recorded as a
    "preferences" event; nothing is written when nothing changes.
    """
    sub = _require_id(conn, sub_id)
    changes: dict[str, list] = {}
    values: dict[str, Any] = {}
    if name is not _UNSET and name != sub.name:
        changes["name"], values["name"] = [sub.name, name], name
    if topics is not None and tuple(topics) != sub.topics:
        changes["topics"], values["topics"] = [list(sub.topics), list(topics)], encode_topics(TopicSet(topics))
    for fld, new in (("frequency", frequency), ("format", format), ("paused", paused), ("language", language),
                     ("news_announcements", news_announcements)):
        if new is not None and new != getattr(sub, fld):
            changes[fld], values[fld] = [getattr(sub, fld), new], new
    if attributes is not None and attributes != sub.attributes:
        changes["attributes"] = [dict(sub.attributes), dict(attributes)]
        values["attributes"] = _attributes_json(attributes)
    if changes:
        conn.execute(update(subscribers).where(subscribers.c.id == sub_id).values(updated_at=now, **values))
        add_event(conn, sub_id, source, "preferences", {**changes, **(why or {})}, now)  # why: who, and their reason
    return changes


def _attributes_json(attributes: dict[str, str]) -> str:
    return json.dumps(dict(sorted(attributes.items())), ensure_ascii=False, separators=(",", ":"))


# Status changes, named for the audit trail.
_ACTION = {"unsubscribed": "unsubscribe", "bounced": "bounce", "complained": "complaint", "pending": "status",
           "lapsed": "lapse"}


def set_status(conn: Connection, sub_id: int, status: str, *, source: str, now: datetime,
               why: dict | None = None) -> dict[str, list]:
    """Put a member in a status explicitly (an administrator's decision), recorded as an event.

    Going back to active from unsubscribed, bounced or complained is a
    "resubscribe" and clears left_at and the bounce count; from pending, a "confirm".
    """
    sub = _require_id(conn, sub_id)
    if status == sub.status:
        return {}
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status == "active" and sub.status == "lapsed":  # back in the membership system: consent as it was
        action = "return"
    elif status == "active":
        action = "confirm" if sub.status == "pending" else "resubscribe"
        values.update(left_at=None, hard_bounces=0, consent_source=source, consent_at=now)
        if sub.status == "pending":
            values["confirmed_at"] = now
    else:
        action = _ACTION[status]
        if status in ("unsubscribed", "bounced", "complained"):
            values["left_at"] = now
    conn.execute(update(subscribers).where(subscribers.c.id == sub_id).values(**values))
    changes = {"status": [sub.status, status]}
    add_event(conn, sub_id, source, action, {**changes, **(why or {})}, now)  # why: e.g. the report's Message-ID
    return changes


def unsubscribe(conn: Connection, sub_id: int, *, source: str, now: datetime) -> bool:
    """The member leaves: status unsubscribed, left_at now. False if they had already left.

    A complaint stays a complaint (it says more than an unsubscribe).
    """
    sub = _require_id(conn, sub_id)
    if sub.status in ("unsubscribed", "complained"):
        return False
    set_status(conn, sub_id, "unsubscribed", source=source, now=now)
    return True


def revoke_links(conn: Connection, sub_id: int, *, source: str, now: datetime) -> int:
    """Invalidate every preference / unsubscribe link sent so far; returns the new token version."""
    sub = _require_id(conn, sub_id)
    new = sub.token_version + 1
    conn.execute(update(subscribers).where(subscribers.c.id == sub_id).values(token_version=new, updated_at=now))
    add_event(conn, sub_id, source, "revoke-links", {"token_version": [sub.token_version, new]}, now)
    return new


def refusals(conn: Connection, sub_id: int) -> tuple[str, int]:
    """(status, refusals so far) of a member: what the bounce table needs to decide on a refusal."""
    row = conn.execute(select(subscribers.c.status, subscribers.c.hard_bounces)
                       .where(subscribers.c.id == sub_id)).first()
    if row is None:
        raise SubscriberError(f"subscriber #{sub_id}", "no such subscriber")
    return row.status, row.hard_bounces


def record_refusal(conn: Connection, sub_id: int, *, new_status: str | None, now: datetime) -> Subscriber:
    """Count one refusal during the send, and set the status digest.bounces.apply decided (None: leave it)."""
    status, before = refusals(conn, sub_id)
    values: dict[str, Any] = {"hard_bounces": before + 1, "updated_at": now}
    detail: dict[str, list] = {"hard_bounces": [before, before + 1]}
    if new_status is not None and new_status != status:
        values["status"] = new_status
        if new_status in ("unsubscribed", "bounced", "complained"):
            values["left_at"] = now
        detail["status"] = [status, new_status]
    conn.execute(update(subscribers).where(subscribers.c.id == sub_id).values(**values))
    add_event(conn, sub_id, "system", "bounce", detail, now)
    return get_by_id(conn, sub_id)


# ---------------------------------------------------------------- importing


def existing(conn: Connection, keys: list[str]) -> dict[str, Subscriber]:
    """The members with these email_key()s (those there are), by key."""
    found: dict[str, Subscriber] = {}
    for i in range(0, len(keys), _CHUNK):
        q = select(subscribers).where(subscribers.c.email_key.in_(keys[i:i + _CHUNK]))
        found.update((r.email_key, _model(r)) for r in conn.execute(q))
    return found


def _suppressed(conn: Connection, hashes: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(hashes), _CHUNK):
        q = select(suppressions.c.email_hash).where(suppressions.c.email_hash.in_(hashes[i:i + _CHUNK]))
        found.update(conn.execute(q).scalars())
    return found


def import_members(conn: Connection, rows: Iterable[MemberRow], problems: Iterable[RowProblem] = (), *,
                   pending: bool = False, source: str = "import", now: datetime) -> ImportPlan:
    """Add new members and update existing ones from checked rows; returns what was done.

    Members who left or were forgotten are skipped, never re-subscribed;
    existing members keep their status (pending stays pending).
    """
    rows = list(rows)
    plan = plan_import(rows, existing(conn, [email_key(r.email) for r in rows]),
                       _suppressed(conn, [email_hash(r.email) for r in rows]), problems)
    create_many(conn, [_new_member(row.email, row.name, row.topics or (), row.frequency or "weekly",
                                   row.format or "html", status="pending" if pending else "active", source=source,
                                   now=now, language=row.language or "") for row in plan.add],
                source=source, now=now)
    for sub, changes in plan.update:
        new = {fld: pair[1] for fld, pair in changes.items()}
        update_preferences(conn, sub.id, topics=new.get("topics"), frequency=new.get("frequency"),
                           format=new.get("format"), name=new.get("name", _UNSET), source=source, now=now,
                           language=new.get("language"))
    return plan


def suppressed_among(conn: Connection, emails: Iterable[str]) -> set[str]:
    """The email_hash() of those of these addresses that were forgotten."""
    return _suppressed(conn, [email_hash(e) for e in emails])


def apply_sync(conn: Connection, plan, *, source: str = "sync", now: datetime) -> None:
    """Carry out a SyncPlan (digest.membership.plan) through the same functions as every other door.

    New members are active (the membership system vouches for them); a lapsed
    member who reappears is active again; missing members are lapsed.
    """
    create_many(conn, [_new_member(row.email, row.name, row.topics or (), row.frequency or "weekly",
                                   row.format or "html", status="active", source=source, now=now,
                                   attributes=dict(row.attributes or ())) for row in plan.added],
                source=source, now=now)
    for sub, changes in plan.changed:
        new = {fld: pair[1] for fld, pair in changes.items()}
        if "status" in new:
            set_status(conn, sub.id, new["status"], source=source, now=now)
        update_preferences(conn, sub.id, topics=new.get("topics"), frequency=new.get("frequency"),
                           format=new.get("format"), name=new.get("name", _UNSET),
                           attributes=new.get("attributes"), source=source, now=now)
    for sub in plan.lapsed:
        set_status(conn, sub.id, "lapsed", source=source, now=now, why={"reason": "not in the membership export"})


# ---------------------------------------------------------------- the member's own data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export(conn: Connection, sub_id: int) -> dict:
    """Everything held about a member (for a subject access request), JSON-ready."""
    row = conn.execute(select(subscribers).where(subscribers.c.id == sub_id)).first()
    if row is None:
        raise SubscriberError(f"subscriber #{sub_id}", "no such subscriber")
    member = {c.name: getattr(row, c.name) for c in subscribers.columns}
    member["topics"] = list(decode_topics(row.topics))
    member["paused"] = bool(row.paused)
    member = {k: _iso(v) if isinstance(v, datetime) else v for k, v in member.items()}
    q = (select(editions.c.key, deliveries.c.status, deliveries.c.attempts, deliveries.c.sent_at,
                deliveries.c.last_error)
         .join(editions, editions.c.id == deliveries.c.edition_id)
         .where(deliveries.c.subscriber_id == sub_id).order_by(deliveries.c.id))
    sent = [{"edition": r.key, "status": DELIVERY_STATES.get(r.status, str(r.status)), "attempts": r.attempts,
             "sent_at": _iso(r.sent_at), "last_error": r.last_error} for r in conn.execute(q)]
    history = [dict(e, at=_iso(e["at"])) for e in list_events(conn, sub_id)]
    return {"subscriber": member, "events": history, "deliveries": sent}


def forget(conn: Connection, sub_id: int, *, now: datetime) -> None:
    """Erase a member: the row and its events go, only a hash of the address stays (to block re-import).

    Delivery rows stay for the edition's counts, without the member and
    without error text (a bounce message may quote the address).
    """
    forget_many(conn, [_require_id(conn, sub_id)], now=now, reason="forgotten")


def forget_many(conn: Connection, subs: Sequence[Subscriber], *, now: datetime, reason: str | None) -> None:
    """Forget several members as `forget` does, in one pass over the deliveries (which have no index
    by member). reason: the suppression's; None: each member's status (`digest prune`: who left how)."""
    ids = [sub.id for sub in subs]
    if not ids:
        return
    conn.execute(update(deliveries).where(deliveries.c.subscriber_id.in_(ids))
                 .values(subscriber_id=None, last_error=None))
    conn.execute(delete(events).where(events.c.subscriber_id.in_(ids)))  # also without ON DELETE CASCADE
    conn.execute(update(inbound_reports).where(inbound_reports.c.subscriber_id.in_(ids))
                 .values(subscriber_id=None, detail="{}"))  # a report quotes the address
    conn.execute(delete(subscribers).where(subscribers.c.id.in_(ids)))
    for sub in subs:
        webhook_db.scrub(conn, f"member:{sub.id}")
        if not is_suppressed(conn, sub.email):
            conn.execute(insert(suppressions).values(email_hash=email_hash(sub.email),
                                                     reason=(reason or sub.status)[:20], created_at=now))


def count_by_status(conn: Connection) -> dict[str, int]:
    """How many members have each status (for `digest status`)."""
    q = select(subscribers.c.status, func.count()).group_by(subscribers.c.status)
    return {status: n for status, n in conn.execute(q)}

"""Announcements, saved audiences, and who an audience is, in SQL.

The audience's WHERE clause is made in one place (`audience_filter`): the
count an editor is shown and the INSERT ... SELECT that queues use the same
one, so the queue reaches exactly the members counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from sqlalchemy import and_, case, cast, exists, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

from ..models import Announcement, Audience, SendTime
from .schema import (
    DELIVERY_STATES,
    QUEUED,
    announcements,
    deliveries,
    saved_audiences,
    subscribers,
    variants,
)


def _from_row(r) -> Announcement:
    return Announcement(
        subject=r.subject, body=r.body, audience=r.audience, preheader=r.preheader, kind=r.kind,
        cta_label=r.cta_label, cta_url=r.cta_url, picture_url=r.picture_url, picture_alt=r.picture_alt,
        picture_width=r.picture_width or 0, picture_height=r.picture_height or 0,
        articles=tuple(int(a) for a in r.articles.split(",") if a), public=bool(r.public), state=r.state,
        id=r.id, created_by=r.created_by, created_at=r.created_at, updated_at=r.updated_at,
        approved_by=r.approved_by, approved_at=r.approved_at, queued_at=r.queued_at, edition_id=r.edition_id,
        send_time=_send_time(r))


def _values(a: Announcement) -> dict:
    return dict(subject=a.subject, body=a.body, audience=a.audience, preheader=a.preheader, kind=a.kind,
                cta_label=a.cta_label, cta_url=a.cta_url, picture_url=a.picture_url, picture_alt=a.picture_alt,
                picture_width=a.picture_width, picture_height=a.picture_height,
                articles=",".join(str(i) for i in a.articles), public=a.public, state=a.state,
                created_by=a.created_by, created_at=a.created_at, updated_at=a.updated_at,
                approved_by=a.approved_by, approved_at=a.approved_at, queued_at=a.queued_at,
                edition_id=a.edition_id, **_send_values(a.send_time))


def _send_time(r) -> SendTime | None:
    """The send time stored on an announcement (checked when it was set), or None."""
    if r.send_at is None:
        return None
    return SendTime(local=datetime.strptime(r.send_local, "%Y-%m-%d %H:%M"), zone=r.send_zone, at=r.send_at,
                    by=r.scheduled_by or "")


def _send_values(send: SendTime | None) -> dict:
    if send is None:
        return dict(send_at=None, send_local=None, send_zone=None, scheduled_by=None)
    return dict(send_at=send.at, send_local=send.local_text, send_zone=send.zone, scheduled_by=send.by[:320])


def load(conn: Connection, announcement_id: int) -> Announcement | None:
    r = conn.execute(select(announcements).where(announcements.c.id == announcement_id)).first()
    return None if r is None else _from_row(r)


def load_for_update(conn: Connection, announcement_id: int) -> Announcement | None:
    """load(), holding the row until the transaction ends (PostgreSQL; SQLite's write lock does this)."""
    q = select(announcements).where(announcements.c.id == announcement_id)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    r = conn.execute(q).first()
    return None if r is None else _from_row(r)


def load_by_edition(conn: Connection, edition_id: int) -> Announcement | None:
    """The announcement sent as this edition row, if any."""
    r = conn.execute(select(announcements).where(announcements.c.edition_id == edition_id)).first()
    return None if r is None else _from_row(r)


def list_all(conn: Connection) -> list[Announcement]:
    """Every announcement, newest first."""
    return [_from_row(r) for r in conn.execute(select(announcements).order_by(announcements.c.id.desc()))]


def public_queued(conn: Connection) -> list[Announcement]:
    """The announcements shown in the public archive: public and queued, newest first."""
    q = (select(announcements).where(announcements.c.public.is_(True), announcements.c.state == "queued")
         .order_by(announcements.c.queued_at.desc()))
    return [_from_row(r) for r in conn.execute(q)]


def due_ids(conn: Connection, *, now: datetime) -> list[int]:
    """The approved announcements whose send time has come, earliest first (queued ones are not approved)."""
    q = (select(announcements.c.id).where(announcements.c.state == "approved", announcements.c.send_at.is_not(None),
                                          announcements.c.send_at <= now)
         .order_by(announcements.c.send_at, announcements.c.id))
    return list(conn.execute(q).scalars())


def save(conn: Connection, a: Announcement) -> Announcement:
    """Insert (id None) or update an announcement; returns it with its id."""
    if a.id is None:
        a.id = conn.execute(insert(announcements).values(**_values(a))).inserted_primary_key[0]
    else:
        conn.execute(update(announcements).where(announcements.c.id == a.id).values(**_values(a)))
    return a


# ---- audiences -----------------------------------------------------------------


def save_audience(conn: Connection, name: str, spec: str, *, by: str, now: datetime) -> None:
    """Name an audience (again: the name then means the new spec)."""
    values = dict(spec=spec, created_by=by, created_at=now)
    if conn.execute(update(saved_audiences).where(saved_audiences.c.name == name).values(**values)).rowcount == 0:
        conn.execute(insert(saved_audiences).values(name=name, **values))


def saved_audience(conn: Connection, name: str) -> str | None:
    return conn.execute(select(saved_audiences.c.spec).where(saved_audiences.c.name == name)).scalar()


def list_audiences(conn: Connection) -> list[tuple[str, str]]:
    """(name, spec) of every saved audience, by name."""
    return [(r.name, r.spec) for r in conn.execute(select(saved_audiences).order_by(saved_audiences.c.name))]


def _attribute(conn: Connection, key: str):
    """The text of one key of subscribers.attributes (a JSON object), in this database's JSON functions."""
    if conn.dialect.name == "postgresql":
        return cast(subscribers.c.attributes, JSONB)[key].astext
    # SQLite's json_extract; the key is quoted in the path ($."region"), keys are checked to [A-Za-z0-9_-].
    return func.json_extract(subscribers.c.attributes, f'$."{key}"')


def audience_filter(conn: Connection, audience: Audience, kind: str):
    """The WHERE clause of an audience (a resolved one: never "saved") for an announcement of `kind`.

    Whatever the audience says, only active, unpaused members: unsubscribed,
    complained, bounced, lapsed and pending members are not active. A news
    announcement also leaves out members who turned news announcements off;
    a statutory notice does not (they remain members).
    """
    if audience.kind == "saved":
        raise ValueError("resolve a saved audience before asking who it is")
    where = [subscribers.c.status == "active", subscribers.c.paused.is_(False)]
    if kind != "statutory":
        where.append(subscribers.c.news_announcements.is_(True))
    if audience.kind == "topics":
        padded = literal(",") + subscribers.c.topics + literal(",")
        where.append(or_(subscribers.c.topics == "", *[padded.like(f"%,{t},%") for t in audience.topics]))
    elif audience.kind == "attr":
        where += [_attribute(conn, k) == v for k, v in audience.attributes]
    return and_(*where)


def count(conn: Connection, audience: Audience, kind: str) -> int:
    """How many members the audience is now."""
    return conn.execute(select(func.count()).select_from(subscribers)
                        .where(audience_filter(conn, audience, kind))).scalar_one()


def combinations(conn: Connection, audience: Audience, kind: str) -> list[tuple[str, str, int]]:
    """(format, language as stored, members) of the audience: the variants it needs."""
    columns = [subscribers.c.format, subscribers.c.language]
    q = (select(*columns, func.count()).where(audience_filter(conn, audience, kind))
         .group_by(*columns).order_by(*columns))
    return [(r[0], r[1], r[2]) for r in conn.execute(q)]


def queue(conn: Connection, edition_id: int, audience: Audience, kind: str,
          variant_of: Mapping[tuple[str, str], int]) -> int:
    """Queue one delivery per member of the audience in one INSERT ... SELECT; return how many were added.

    `variant_of` maps a member's (format, language as stored) to their
    variant; the few variants of an announcement (formats x languages) fit a
    CASE, so no mapping table is needed. A member whose combination is not
    in it (they changed format since the variants were rendered) is left
    out, as is a member already queued (the unique key backs this up).
    """
    if not variant_of:
        return 0
    variant = case(*[(and_(subscribers.c.format == f, subscribers.c.language == lang), literal(v))
                     for (f, lang), v in variant_of.items()], else_=None)
    already = exists().where(deliveries.c.edition_id == edition_id, deliveries.c.subscriber_id == subscribers.c.id)
    source = (select(literal(edition_id), subscribers.c.id, variant, literal(QUEUED), literal(0))
              .where(audience_filter(conn, audience, kind), variant.is_not(None), ~already)
              .order_by(subscribers.c.id))
    stmt = insert(deliveries).from_select(["edition_id", "subscriber_id", "variant_id", "status", "attempts"],
                                          source)
    return conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount


# ---- evidence ------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceRow:
    """One delivery of a statutory notice, as the company secretary reads it."""

    delivery_id: int
    member_id: int | None  # None once the member was forgotten
    email: str  # "" once forgotten
    name: str
    state: str  # queued, sending, sent, failed, skipped
    attempts: int
    sent_at: datetime | None
    relay_reply: str  # the relay's final answer to a sent message, else the last error
    variant: str  # "format" or "format:language"


def evidence(conn: Connection, edition_id: int) -> list[EvidenceRow]:
    """Every delivery of an edition row, in delivery order, with the member and the relay's answer."""
    q = (select(deliveries.c.id, deliveries.c.subscriber_id, subscribers.c.email, subscribers.c.name,
                deliveries.c.status, deliveries.c.attempts, deliveries.c.sent_at, deliveries.c.relay_reply,
                deliveries.c.last_error, variants.c.format, variants.c.language)
         .outerjoin(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
         .outerjoin(variants, variants.c.id == deliveries.c.variant_id)
         .where(deliveries.c.edition_id == edition_id).order_by(deliveries.c.id))
    return [EvidenceRow(r.id, r.subscriber_id, r.email or "", r.name or "", DELIVERY_STATES[r.status], r.attempts,
                        r.sent_at, r.relay_reply or r.last_error or "",
                        (r.format or "") + (f":{r.language}" if r.language else ""))
            for r in conn.execute(q)]


def set_news_announcements(conn: Connection, subscriber_id: int, wanted: bool) -> bool:
    """Turn a member's news announcements on or off; True if that changed anything."""
    return bool(conn.execute(update(subscribers).where(subscribers.c.id == subscriber_id,
                                                       subscribers.c.news_announcements.is_not(wanted))
                             .values(news_announcements=wanted)).rowcount)


def news_announcements(conn: Connection, subscriber_id: int) -> bool:
    return bool(conn.execute(select(subscribers.c.news_announcements)
                             .where(subscribers.c.id == subscriber_id)).scalar_one_or_none()
                if subscriber_id else True)


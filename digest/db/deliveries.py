"""The send queue: deliveries queued set-based, claimed under a lease, finished in batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from ..models import TopicSet
from .retention import folded_states
from .schema import (
    DELIVERY_STATES,
    FAILED,
    QUEUED,
    SENDING,
    SENT,
    decode_topics,
    deliveries,
    editions,
    encode_topics,
    subscribers,
)


def due_combinations(conn: Connection, frequency: str, *, by_language: bool = False) -> list[tuple]:
    """(topics, format, members) of the active, unpaused members of a frequency;
    by_language: (topics, format, language as stored, members)."""
    columns = [subscribers.c.topics, subscribers.c.format] + ([subscribers.c.language] if by_language else [])
    q = select(*columns, func.count()).where(_due(frequency)).group_by(*columns).order_by(*columns)
    return [(decode_topics(row[0]), *row[1:]) for row in conn.execute(q)]


def _due(frequency: str):
    return and_(subscribers.c.status == "active", subscribers.c.frequency == frequency,
                subscribers.c.paused.is_(False))


def queue_members(conn: Connection, edition_id: int, frequency: str,
                  variant_of: dict[tuple[TopicSet, str, str], int]) -> int:
    """Queue every due member in one INSERT ... SELECT; return how many were added.

    `variant_of` maps a member's stored (topics, format, language) to the variant they
    get; members whose combination is missing (nothing for them in this
    edition) are not queued. The mapping goes into a temporary table so the
    database does one pass over the members with a join, whatever the number
    of variants: set-based and streaming, memory does not grow with the
    number of members. Members already queued for the edition are left alone
    (the unique (edition, subscriber) key backs this up).
    """
    if not variant_of:
        return 0
    mapping = Table("digest_variant_map", MetaData(), Column("topics", String(1000), primary_key=True),
                    Column("format", String(10), primary_key=True), Column("language", String(35), primary_key=True),
                    Column("variant_id", Integer, nullable=False), prefixes=["TEMPORARY"])
    mapping.drop(conn, checkfirst=True)
    mapping.create(conn)
    # No try/finally around the drop: after a failed statement PostgreSQL refuses
    # every command until the rollback (which undoes the CREATE anyway), and a
    # drop there would hide the real error (a lock timeout: "database is busy").
    conn.execute(insert(mapping), [{"topics": encode_topics(t), "format": f, "language": lang, "variant_id": v}
                                  for (t, f, lang), v in variant_of.items()])
    already = exists().where(deliveries.c.edition_id == edition_id,
                             deliveries.c.subscriber_id == subscribers.c.id)
    source = (
        select(literal(edition_id), subscribers.c.id, mapping.c.variant_id, literal(QUEUED), literal(0))
        .select_from(subscribers.join(mapping, and_(mapping.c.topics == subscribers.c.topics,
                                                    mapping.c.format == subscribers.c.format,
                                                    mapping.c.language == subscribers.c.language)))
        .where(_due(frequency), ~already)
        .order_by(subscribers.c.id)  # rows arrive in key order: cheap appends to the unique index
    )
    stmt = insert(deliveries).from_select(
        ["edition_id", "subscriber_id", "variant_id", "status", "attempts"], source)
    # preserve_rowcount: psycopg reports -1 for INSERT ... SELECT otherwise.
    queued = conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount
    mapping.drop(conn)
    return queued


@dataclass(frozen=True)
class Claimed:
    id: int
    edition_id: int
    edition_key: str
    edition_frequency: str
    variant_id: int
    attempts: int
    subscriber_id: int | None
    email: str | None
    name: str | None
    status: str | None
    paused: bool
    frequency: str | None
    topics: TopicSet
    format: str | None
    token_version: int
    language: str = ""  # the member's, as stored ("": not chosen)
    claim: str = ""  # the claimant's token: an outcome is recorded only while it still holds the delivery
    edition_kind: str = "edition"  # or an announcement's kind: "news", "statutory"
    news_announcements: bool = True  # the member's choice (a news announcement skips those who said no)


def claim(conn: Connection, *, now: datetime, lease_seconds: float, limit: int, claimant: str,
          edition_id: int | None = None) -> list[Claimed]:
    """Take up to `limit` deliveries that are due for `claimant`, marking them sending until the lease ends.

    First deliveries whose lease ran out (their sender died: a live one
    renews its leases), then queued ones in id order. Each is one range of
    the (status, id) index, so a claim costs the same at the start of a
    mailing and near its end. PostgreSQL: FOR UPDATE SKIP LOCKED lets any
    number of senders share the queue without waiting on each other. SQLite:
    the write transaction is BEGIN IMMEDIATE (see db/__init__.py), so claims
    are serialised.
    """
    stale = and_(deliveries.c.status == SENDING, deliveries.c.lease_until < now,
                 or_(deliveries.c.claimed_by.is_(None), deliveries.c.claimed_by != claimant))
    ready = and_(deliveries.c.status == QUEUED,
                 or_(deliveries.c.not_before.is_(None), deliveries.c.not_before <= now))
    ids: list[int] = []
    for condition in (stale, ready):
        q = select(deliveries.c.id).where(condition).order_by(deliveries.c.id).limit(limit - len(ids))
        if edition_id is not None:
            q = q.where(deliveries.c.edition_id == edition_id)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        ids += conn.execute(q).scalars()
        if len(ids) >= limit:
            break
    if not ids:
        return []
    conn.execute(update(deliveries).where(deliveries.c.id.in_(ids)).values(
        status=SENDING, lease_until=now + timedelta(seconds=lease_seconds), claimed_by=claimant))
    rows = conn.execute(
        select(deliveries.c.id, deliveries.c.edition_id, editions.c.key, editions.c.frequency.label("efreq"),
               deliveries.c.variant_id, deliveries.c.attempts, deliveries.c.subscriber_id, subscribers.c.email,
               subscribers.c.name, subscribers.c.status, subscribers.c.paused, subscribers.c.frequency,
               subscribers.c.topics, subscribers.c.format, subscribers.c.token_version, subscribers.c.language,
               editions.c.kind, subscribers.c.news_announcements)
        .join(editions, editions.c.id == deliveries.c.edition_id)
        .outerjoin(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
        .where(deliveries.c.id.in_(ids)).order_by(deliveries.c.id)
    )
    return [Claimed(r.id, r.edition_id, r.key, r.efreq, r.variant_id, r.attempts, r.subscriber_id, r.email,
                    r.name, r.status, bool(r.paused), r.frequency, decode_topics(r.topics), r.format,
                    r.token_version or 1, r.language or "", claimant, edition_kind=r.kind or "edition",
                    news_announcements=r.news_announcements is not False) for r in rows]


def renew(conn: Connection, *, claimant: str, now: datetime, lease_seconds: float) -> set[int]:
    """Extend the lease of everything `claimant` holds; return the ids it still holds.

    A delivery it claimed that is missing from the answer was taken over
    (its lease ran out first, or --reclaim gave it back): it must not be sent.
    """
    q = (update(deliveries).where(deliveries.c.status == SENDING, deliveries.c.claimed_by == claimant)
         .values(lease_until=now + timedelta(seconds=lease_seconds)).returning(deliveries.c.id))
    return set(conn.execute(q).scalars())


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    state: int  # SENT, QUEUED (retry later), FAILED, SKIPPED
    error: str | None = None
    retry_at: datetime | None = None
    variant_id: int | None = None  # re-planned to another variant
    claim: str = ""  # Claimed.claim: recorded only if the delivery is still held under it
    reply: str | None = None  # the relay's answer to a sent message, kept (statutory notices: evidence)


def _held(claim_: str):
    return and_(deliveries.c.status == SENDING, deliveries.c.claimed_by == claim_)


def finish(conn: Connection, outcomes: Sequence[Outcome], *, now: datetime) -> list[Outcome]:
    """Record what happened to claimed deliveries, in one transaction; return the outcomes recorded.

    Fenced: an outcome counts only while its delivery is still `sending`
    under the outcome's claim. One whose claim was taken over changes
    nothing (the delivery is someone else's now) and is left out of the answer.
    """
    recorded: set[int] = set()
    sent = [o for o in outcomes if o.state == SENT]
    for claim_ in {o.claim for o in sent}:
        ids = [o.delivery_id for o in sent if o.claim == claim_]
        recorded.update(conn.execute(
            update(deliveries).where(deliveries.c.id.in_(ids), _held(claim_))
            .values(status=SENT, sent_at=now, lease_until=None, attempts=deliveries.c.attempts + 1, last_error=None)
            .returning(deliveries.c.id)).scalars())
    for o in outcomes:
        if o.state == SENT:
            continue
        values = dict(status=o.state, lease_until=None, last_error=(o.error or "")[:500] or None)
        if o.state == FAILED or (o.state == QUEUED and o.retry_at is not None):
            values["attempts"] = deliveries.c.attempts + 1
        if o.state == QUEUED:
            values["not_before"] = o.retry_at
        if conn.execute(update(deliveries).where(deliveries.c.id == o.delivery_id, _held(o.claim)).values(**values)).rowcount:
            recorded.add(o.delivery_id)
    for o in sent:  # only statutory notices carry a reply: a few rows, one update each
        if o.reply and o.delivery_id in recorded:
            conn.execute(update(deliveries).where(deliveries.c.id == o.delivery_id).values(relay_reply=o.reply[:500]))
    for o in outcomes:
        if o.variant_id is not None and o.delivery_id in recorded:
            conn.execute(update(deliveries).where(deliveries.c.id == o.delivery_id).values(variant_id=o.variant_id))
    return [o for o in outcomes if o.delivery_id in recorded]


def counts(conn: Connection, edition_id: int | None = None) -> dict[str, int]:
    """Deliveries by state name (every state present, zero or not).

    They include the rows `digest prune` folded into edition totals.
    """
    q = select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
    if edition_id is not None:
        q = q.where(deliveries.c.edition_id == edition_id)
    found = folded_states(conn, edition_id)
    for s, n in conn.execute(q):
        found[DELIVERY_STATES[s]] += n
    return {name: found.get(name, 0) for name in DELIVERY_STATES.values()}


def pending_count(conn: Connection) -> int:
    """Deliveries a send could take now or later (queued or sending)."""
    q = select(func.count()).where(deliveries.c.status.in_([QUEUED, SENDING]))
    return conn.execute(q).scalar_one()


def retry_summary(conn: Connection) -> list[tuple[int, int, str | None, datetime | None]]:
    """Queued deliveries waiting for a retry: (id, attempts, last error, not before)."""
    q = (select(deliveries.c.id, deliveries.c.attempts, deliveries.c.last_error, deliveries.c.not_before)
         .where(deliveries.c.status == QUEUED, deliveries.c.attempts > 0).order_by(deliveries.c.id).limit(50))
    return [tuple(r) for r in conn.execute(q)]



def release_all_sending(conn: Connection) -> int:
    """--reclaim: every `sending` delivery goes back to the queue at once (after a crash)."""
    return conn.execute(update(deliveries).where(deliveries.c.status == SENDING)
                        .values(status=QUEUED, lease_until=None)).rowcount


def subscribers_of(conn: Connection, delivery_ids: Sequence[int]) -> list[int]:
    q = select(deliveries.c.subscriber_id).where(deliveries.c.id.in_(list(delivery_ids)),
                                                 deliveries.c.subscriber_id.is_not(None))
    return list(conn.execute(q).scalars())


def editions_with_pending(conn: Connection) -> list[str]:
    """Keys of the editions that have deliveries still to send."""
    q = (select(editions.c.key).where(editions.c.id.in_(
        select(deliveries.c.edition_id).where(deliveries.c.status.in_([QUEUED, SENDING])).distinct()))
        .order_by(editions.c.key))
    return list(conn.execute(q).scalars())

"""Editions (frozen selections), their items and their rendered variants."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from ..errors import EditionError
from ..models import ArticleImage, Edition, EditionItem, EditionWords, Rendered, SendTime, TopicSet, Translation, Window
from .schema import decode_topics, edition_items, edition_texts, editions, encode_topics, variants


def words_to_json(words: dict[str, EditionWords]) -> str | None:
    """The editor's words by language as stored (edition_texts.words, editions.words); None: none."""
    kept = {tag: {"subject": w.subject, "preheader": w.preheader, "note": w.note}
            for tag, w in sorted(words.items()) if w.any()}
    return json.dumps(kept, ensure_ascii=False, sort_keys=True) if kept else None


def words_from_json(raw: str | None) -> dict[str, EditionWords]:
    return {tag: EditionWords(**w) for tag, w in json.loads(raw).items()} if raw else {}


def translations_to_json(translations) -> str | None:
    if not translations:
        return None
    return json.dumps({t.language: {"title": t.title, "url": t.url, "summary": t.summary} for t in translations},
                      ensure_ascii=False, sort_keys=True)


def translations_from_json(raw: str | None) -> tuple[Translation, ...]:
    return tuple(Translation(tag, **t) for tag, t in json.loads(raw).items()) if raw else ()


def load_edition(conn: Connection, key: str) -> Edition | None:
    row = conn.execute(select(editions).where(editions.c.key == key)).first()
    if row is None:
        return None
    items = [
        EditionItem(
            article_id=r.article_id,
            position=r.position,
            title=r.title,
            url=r.url,
            author=r.author,
            author_role=r.author_role,
            published_at=r.published_at,
            topics=tuple(t for t in r.topics.split(",") if t),
            summary=r.summary,
            pinned=bool(r.pinned),
            image=ArticleImage.from_json(r.image),
            link_origin=r.link_origin or "source",
            language=r.language or "",
            translations=translations_from_json(r.translations),
        )
        for r in conn.execute(
            select(edition_items).where(edition_items.c.edition_id == row.id).order_by(edition_items.c.position))
    ]
    window = Window(row.window_start, row.window_end, row.key, row.frequency)
    return Edition(key=row.key, frequency=row.frequency, window=window, items=items, subject=row.subject,
                   id=row.id, built_at=row.built_at, queued_at=row.queued_at, preheader=row.preheader or "",
                   note=row.note or "", forced_by=row.forced_by, forced_reason=row.forced_reason,
                   kind=row.kind or "edition",
                   words=words_from_json(row.words), send_time=_send_time(row))


def _send_time(row) -> SendTime | None:
    """The send time stored on an edition row (checked when it was set), or None."""
    if row.send_at is None:
        return None
    return SendTime(local=datetime.strptime(row.send_local, "%Y-%m-%d %H:%M"), zone=row.send_zone, at=row.send_at,
                    by=row.scheduled_by or "")


def set_send_time(conn: Connection, key: str, send: SendTime | None) -> bool:
    """Store (or with None clear) an edition's send time; False when there is no such edition not yet queued.

    The condition is in the UPDATE itself, so a run that queues the edition
    meanwhile wins: a queued edition's send time never changes afterwards.
    """
    values = (dict(send_at=None, send_local=None, send_zone=None, scheduled_by=None) if send is None else
              dict(send_at=send.at, send_local=send.local_text, send_zone=send.zone, scheduled_by=send.by[:320]))
    done = conn.execute(update(editions).where(editions.c.key == key, editions.c.queued_at.is_(None))
                        .values(**values))
    return done.rowcount == 1


def due_send_times(conn: Connection, *, now: datetime) -> list[tuple[str, str, SendTime]]:
    """(key, frequency, send time) of every edition row whose send time has come and that is not queued yet,
    earliest first."""
    q = (select(editions).where(editions.c.send_at.is_not(None), editions.c.send_at <= now,
                                editions.c.queued_at.is_(None)).order_by(editions.c.send_at, editions.c.id))
    return [(r.key, r.frequency, _send_time(r)) for r in conn.execute(q)]


def lock_edition(conn: Connection, edition_id: int) -> datetime | None:
    """Hold the edition's row until this transaction ends (PostgreSQL; SQLite has one writer anyway), so two
    runs that queue it at once take turns: the second then finds every member queued. Returns its send_at
    as it is now, under the lock."""
    return conn.execute(select(editions.c.send_at).where(editions.c.id == edition_id).with_for_update()).scalar()


def list_editions(conn: Connection) -> list[Edition]:
    """The period's editions, newest window first (announcements, edition rows of another kind, are listed by
    db/announcements.py)."""
    keys = conn.execute(select(editions.c.key).where(editions.c.kind == "edition")
                        .order_by(editions.c.window_start.desc())).scalars().all()
    return [e for k in keys if (e := load_edition(conn, k)) is not None]


def save_edition(conn: Connection, edition: Edition, *, now: datetime) -> Edition:
    """Freeze an edition's selection and summaries; rebuilding is refused once queued."""
    row = conn.execute(select(editions.c.id, editions.c.queued_at).where(editions.c.key == edition.key)).first()
    values = dict(frequency=edition.frequency, window_start=edition.window.start, window_end=edition.window.end,
                  subject=edition.subject, built_at=now, preheader=edition.preheader, note=edition.note,
                  kind=edition.kind,
                  words=words_to_json(edition.words))
    if row is not None:
        if row.queued_at is not None:
            raise EditionError(edition.key, f"was queued at {row.queued_at:%Y-%m-%d %H:%M} UTC; "
                                            "changing it now would send members something else than was previewed")
        edition_id = row.id
        conn.execute(update(editions).where(editions.c.id == edition_id).values(**values))
        conn.execute(delete(edition_items).where(edition_items.c.edition_id == edition_id))
        conn.execute(delete(variants).where(variants.c.edition_id == edition_id))
    else:
        edition_id = conn.execute(insert(editions).values(key=edition.key, **values)).inserted_primary_key[0]
    if edition.items:
        conn.execute(insert(edition_items), [
            dict(edition_id=edition_id, position=i.position, article_id=i.article_id, title=i.title, url=i.url,
                 author=i.author, author_role=i.author_role, published_at=i.published_at,
                 topics=",".join(i.topics), summary=i.summary, pinned=i.pinned,
                 image=i.image.to_json() if i.image is not None else None, link_origin=i.link_origin,
                 language=i.language, translations=translations_to_json(i.translations))
            for i in edition.items
        ])
    edition.id, edition.built_at, edition.queued_at = edition_id, now, None
    return edition


def discard_edition(conn: Connection, edition_id: int) -> None:
    """Undo a build that could not be finished (never a queued edition: its deliveries point at it)."""
    if conn.execute(select(editions.c.queued_at).where(editions.c.id == edition_id)).scalar() is not None:
        raise EditionError(str(edition_id), "is queued and cannot be discarded")
    conn.execute(delete(variants).where(variants.c.edition_id == edition_id))
    conn.execute(delete(edition_items).where(edition_items.c.edition_id == edition_id))
    conn.execute(delete(editions).where(editions.c.id == edition_id))


def mark_queued(conn: Connection, edition_id: int, *, now: datetime) -> None:
    conn.execute(update(editions).where(editions.c.id == edition_id, editions.c.queued_at.is_(None))
                 .values(queued_at=now))


def mark_forced(conn: Connection, edition_id: int, *, by: str, reason: str, now: datetime) -> None:
    """Record who sent an edition the gate held, and why."""
    conn.execute(update(editions).where(editions.c.id == edition_id)
                 .values(forced_by=by[:200], forced_reason=reason[:500], forced_at=now))


@dataclass(frozen=True)
class StoredVariant:
    id: int
    edition_id: int
    topics: TopicSet  # the member's topics within the edition; empty: all
    format: str
    rendered: Rendered
    item_count: int
    language: str = ""  # "": the organisation's first language


def variant_ids(conn: Connection, edition_id: int) -> dict[tuple[TopicSet, str, str], int]:
    """(topics, format, language) -> variant id, for the variants already rendered."""
    q = (select(variants.c.id, variants.c.topics, variants.c.format, variants.c.language)
         .where(variants.c.edition_id == edition_id))
    return {(decode_topics(r.topics), r.format, r.language): r.id for r in conn.execute(q)}


def add_variant(conn: Connection, edition_id: int, topics: TopicSet, fmt: str, rendered: Rendered,
                item_count: int, *, now: datetime, language: str = "") -> int:
    return conn.execute(insert(variants).values(
        edition_id=edition_id, topics=encode_topics(topics), format=fmt, subject=rendered.subject,
        preheader=rendered.preheader, html=rendered.html if fmt == "html" else None, text=rendered.text,
        item_count=item_count, rendered_at=now, language=language)).inserted_primary_key[0]


def _variant(r) -> StoredVariant:
    return StoredVariant(
        id=r.id, edition_id=r.edition_id, topics=decode_topics(r.topics),
        format=r.format, rendered=Rendered(subject=r.subject, preheader=r.preheader, html=r.html or "", text=r.text),
        item_count=r.item_count, language=r.language or "")


def load_variant(conn: Connection, variant_id: int) -> StoredVariant | None:
    r = conn.execute(select(variants).where(variants.c.id == variant_id)).first()
    return None if r is None else _variant(r)


def list_variants(conn: Connection, edition_id: int) -> list[StoredVariant]:
    q = select(variants).where(variants.c.edition_id == edition_id).order_by(variants.c.id)
    return [_variant(r) for r in conn.execute(q)]


@dataclass(frozen=True)
class EditionText:
    """What the editor wrote for an edition: "" means "not set" (made from the articles)."""

    key: str
    subject: str = ""
    preheader: str = ""
    note: str = ""
    updated_at: datetime | None = None
    updated_by: str = ""
    words: dict[str, EditionWords] = field(default_factory=dict)  # the other languages', by tag

    def in_language(self, tag: str, first: str) -> EditionWords:
        """The words written for one language (the first's are subject, preheader, note)."""
        if tag == first:
            return EditionWords(self.subject, self.preheader, self.note)
        return self.words.get(tag, EditionWords())


def load_text(conn: Connection, key: str) -> EditionText:
    row = conn.execute(select(edition_texts).where(edition_texts.c.key == key)).first()
    if row is None:
        return EditionText(key)
    return EditionText(key, row.subject, row.preheader, row.note, row.updated_at, row.updated_by,
                       words_from_json(row.words))


def save_text(conn: Connection, text: EditionText) -> None:
    values = dict(subject=text.subject, preheader=text.preheader, note=text.note, updated_at=text.updated_at,
                  updated_by=text.updated_by, words=words_to_json(text.words))
    if conn.execute(update(edition_texts).where(edition_texts.c.key == text.key).values(**values)).rowcount == 0:
        conn.execute(insert(edition_texts).values(key=text.key, **values))


def sent_editions(conn: Connection, *, frequency: str | None = None) -> list[Edition]:
    """Editions that were queued (the public ones), newest period first, with their items.

    Announcements (another kind of edition row) are not editions of a period: the archive shows
    the public ones from db/announcements.py."""
    q = select(editions.c.key).where(editions.c.queued_at.is_not(None), editions.c.kind == "edition") \
        .order_by(editions.c.window_start.desc())
    if frequency is not None:
        q = q.where(editions.c.frequency == frequency)
    return [e for k in conn.execute(q).scalars().all() if (e := load_edition(conn, k)) is not None]


def sent_keys(conn: Connection) -> list[tuple[str, str]]:
    """(key, frequency) of the queued editions, newest period first: the archive's order, without items."""
    q = select(editions.c.key, editions.c.frequency).where(editions.c.queued_at.is_not(None),
                                                           editions.c.kind == "edition") \
        .order_by(editions.c.window_start.desc())
    return [(r.key, r.frequency) for r in conn.execute(q)]

"""The SQL of `digest prune`: fold old rows into edition totals, delete in bounded batches.

Every step takes at most `limit` rows and the caller runs each in its own
short transaction, so a send or a web page waits at most one batch for a
lock (SQLite's one writer) and PostgreSQL never holds many row locks at once.
Only rows nobody works on any more are touched: delivery rows in a final
state (sent, failed, skipped) of editions already folded, reports, clicks
and events older than their period.
"""

from __future__ import annotations

import importlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from sqlalchemy import delete, exists, func, or_, select, text, update
from sqlalchemy.engine import Connection

from ..members import LEFT
from .schema import (
    DELIVERY_STATES,
    FAILED,
    SENT,
    SKIPPED,
    clicks,
    deliveries,
    edition_totals,
    editions,
    editor_events,
    events,
    inbound_reports,
    prune_runs,
    subscribers,
    variants,
)

FINAL = (SENT, FAILED, SKIPPED)  # states nothing will change again: safe to fold
CONSENT = ("subscribe", "confirm")  # a current member's proof of consent: kept while they are on the list
FOLDED = "folded"  # the marker measure: the edition's report figures are stored, rows may go
WHOLE = ""  # the variant of the edition-wide measures


@dataclass
class Folded:
    """What the totals hold for one edition (all empty for an edition never folded)."""

    folded: bool = False
    states: Counter = field(default_factory=Counter)  # state number -> deliveries folded
    outcomes: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    unsubscribes: int = 0
    clicks: Counter = field(default_factory=Counter)  # (position, variant, kind) -> clicks folded


def folded(conn: Connection, edition_id: int) -> Folded:
    """The totals of an edition, for `digest report`: added to whatever rows are left."""
    out = Folded()
    by_name = {name: n for n, name in DELIVERY_STATES.items()}
    q = select(edition_totals.c.variant, edition_totals.c.measure, edition_totals.c.value).where(
        edition_totals.c.edition_id == edition_id)
    for variant, measure, value in conn.execute(q):
        head, _, rest = measure.partition(":")
        if measure == FOLDED:
            out.folded = True
        elif measure == "unsubscribes":
            out.unsubscribes = value
        elif head == "outcome":
            out.outcomes[rest] = value
        elif head == "kind":
            out.kinds[rest] = value
        elif head == "click":
            position, _, kind = rest.partition(":")
            out.clicks[(int(position), variant, kind)] += value
        elif measure in by_name:
            out.states[by_name[measure]] += value
    return out


def folded_states(conn: Connection, edition_id: int | None = None) -> Counter:
    """Delivery rows folded, by state name: of one edition, or of all."""
    q = (select(edition_totals.c.measure, func.sum(edition_totals.c.value))
         .where(edition_totals.c.measure.in_(list(DELIVERY_STATES.values()))).group_by(edition_totals.c.measure))
    if edition_id is not None:
        q = q.where(edition_totals.c.edition_id == edition_id)
    return Counter({measure: int(n) for measure, n in conn.execute(q)})


def _upsert(conn: Connection):
    """The insert with ON CONFLICT of the connection's dialect (postgresql or sqlite).

    Imported when first wanted, not at the top: db.deliveries imports this
    module, so every sender process would otherwise load both dialects (the
    other one is about 0.6 MB on PostgreSQL, 2 MB on SQLite: issue 24).
    """
    return importlib.import_module(f"sqlalchemy.dialects.{conn.dialect.name}").insert


def _add(conn: Connection, counts: Counter) -> None:
    """Add {(edition_id, variant, measure): n} to the totals (an upsert that adds)."""
    if not counts:
        return
    make = _upsert(conn)
    rows = [{"edition_id": e, "variant": v, "measure": m, "value": n} for (e, v, m), n in counts.items()]
    stmt = make(edition_totals).values(rows)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["edition_id", "variant", "measure"],
        set_={"value": edition_totals.c.value + stmt.excluded.value}))


# ---------------------------------------------------------------- editions


def unfolded_editions(conn: Connection, before: datetime) -> list[tuple[int, str]]:
    """(id, key) of editions queued before `before` whose report figures are not stored yet."""
    done = select(edition_totals.c.edition_id).where(edition_totals.c.measure == FOLDED)
    # A statutory notice's deliveries are the company secretary's evidence that it was sent: never folded away.
    q = (select(editions.c.id, editions.c.key)
         .where(editions.c.queued_at < before, editions.c.id.not_in(done), editions.c.kind != "statutory")
         .order_by(editions.c.id))
    return [tuple(r) for r in conn.execute(q)]


def claim_fold(conn: Connection, edition_id: int) -> bool:
    """Mark an edition folded; False if another prune did first (its figures stand).

    Insert-or-nothing on the key: a second prune at the same moment waits for
    the first's row (PostgreSQL) or its transaction (SQLite), then does nothing.
    """
    make = _upsert(conn)
    done = conn.execute(make(edition_totals).values(edition_id=edition_id, variant=WHOLE, measure=FOLDED, value=1)
                        .on_conflict_do_nothing().returning(edition_totals.c.edition_id))
    return done.first() is not None  # (rowcount is -1 here under psycopg)


def store_figures(conn: Connection, edition_id: int, figures: dict) -> None:
    """Store the figures of the report that need the rows (read in the claim's transaction)."""
    counts = Counter({(edition_id, WHOLE, "unsubscribes"): figures["unsubscribes"]})
    for prefix in ("outcome", "kind"):
        for name, n in figures[prefix + "s"].items():
            counts[(edition_id, WHOLE, f"{prefix}:{name}")] = n
    _add(conn, counts)


def _folded(column, folding: Sequence[int] = ()):
    """column names an edition folded already (or, for a dry run's count, one about to be)."""
    done = column.in_(select(edition_totals.c.edition_id).where(edition_totals.c.measure == FOLDED))
    return or_(done, column.in_(list(folding))) if folding else done


def _old_deliveries(folding: Sequence[int] = ()):
    return select(deliveries.c.id).where(_folded(deliveries.c.edition_id, folding), deliveries.c.status.in_(FINAL))


def folded_editions(conn: Connection) -> list[int]:
    return list(conn.execute(select(edition_totals.c.edition_id).where(edition_totals.c.measure == FOLDED)
                             .order_by(edition_totals.c.edition_id)).scalars())


def fold_deliveries(conn: Connection, edition_id: int, limit: int) -> list[int]:
    """Count up to `limit` final delivery rows of a folded edition into the totals and delete them."""
    # One edition at a time, no ORDER BY: the (edition_id, subscriber_id) index finds them, and
    # the query stops at `limit` instead of sorting millions of rows for every batch.
    ids = list(conn.execute(select(deliveries.c.id).where(deliveries.c.edition_id == edition_id,
                                                          deliveries.c.status.in_(FINAL)).limit(limit)).scalars())
    if not ids:
        return []
    # RETURNING: exactly the rows deleted are counted, whatever happened since the select.
    gone = conn.execute(delete(deliveries).where(deliveries.c.id.in_(ids), deliveries.c.status.in_(FINAL))
                        .returning(deliveries.c.id, deliveries.c.variant_id, deliveries.c.status)).all()
    names = _variant_names(conn, {v for _, v, _ in gone})
    _add(conn, Counter((edition_id, names.get(v, "?"), DELIVERY_STATES[s]) for _, v, s in gone))
    return [i for i, _, _ in gone]


def drop_variant_bodies(conn: Connection, edition_id: int) -> int:
    """Clear the rendered bodies of a folded edition's variants that no delivery still needs; how many.

    The rendered variants, not the delivery rows, are most of an old
    edition's bytes (512 variants of about 15 KB at 8 topics: 7 MB an edition,
    against 2 MB of delivery rows at 100,000 members): kept, 13 months of them
    would be exceeded by the bodies alone after three years (scripts/bench
    --years). The rows stay (topics and format name the variant in the
    report's figures); the archive page renders from the edition's items, and
    a delivery still queued or sending keeps its variant's body.
    """
    # By edition first: the (edition_id, subscriber_id) index finds the few rows folding left (there is no
    # index on variant_id, and a scan of every delivery per variant took minutes on three years of them).
    pending = exists().where(deliveries.c.edition_id == edition_id, deliveries.c.variant_id == variants.c.id)
    return conn.execute(update(variants).where(variants.c.edition_id == edition_id, ~pending,
                                               or_(variants.c.html.is_not(None), variants.c.text != ""))
                        .values(html=None, text="").execution_options(preserve_rowcount=True)).rowcount


def _variant_names(conn: Connection, ids: set[int]) -> dict[int, str]:
    """variant id -> "topics:format", the spelling clicks use ("*" for all topics)."""
    if not ids:
        return {}
    q = select(variants.c.id, variants.c.topics, variants.c.format).where(variants.c.id.in_(ids))
    return {i: f"{t or '*'}:{f}" for i, t, f in conn.execute(q)}


def fold_clicks(conn: Connection, before: datetime, limit: int, after: int) -> list[int]:
    """Count up to `limit` clicks older than `before` (ids above `after`) into the totals, delete them."""
    ids = _batch(conn, "clicks", before, limit, after)
    if ids:
        gone = conn.execute(delete(clicks).where(clicks.c.id.in_(ids))
                            .returning(clicks.c.edition_id, clicks.c.variant, clicks.c.position, clicks.c.kind))
        _add(conn, Counter((e, v, f"click:{p}:{k}") for e, v, p, k in gone))
    return ids


# ---------------------------------------------------------------- plain deletes


def _candidates(kind: str, before: datetime, folding: Sequence[int] = ()):
    """The ids `kind` would remove: a select of one id column, oldest first."""
    if kind in ("reports", "quarantine"):
        # A report still counted by an edition's report goes only once that edition is folded.
        folder = "processed" if kind == "reports" else "quarantine"
        return (select(inbound_reports.c.id)
                .where(inbound_reports.c.folder == folder, inbound_reports.c.received_at < before,
                       or_(inbound_reports.c.edition_id.is_(None), _folded(inbound_reports.c.edition_id, folding)))
                .order_by(inbound_reports.c.id))
    if kind == "events":
        return (select(events.c.id).where(events.c.at < before, events.c.action.not_in(CONSENT))
                .order_by(events.c.id))
    if kind == "editor_events":
        return select(editor_events.c.id).where(editor_events.c.at < before).order_by(editor_events.c.id)
    if kind == "members":
        left = func.coalesce(subscribers.c.left_at, subscribers.c.updated_at)
        return (select(subscribers.c.id).where(subscribers.c.status.in_(LEFT), left < before)
                .order_by(subscribers.c.id))
    if kind == "clicks":
        return select(clicks.c.id).where(clicks.c.at < before).order_by(clicks.c.id)
    if kind == "deliveries":
        return _old_deliveries(folding)
    raise ValueError(kind)


_TABLES = {"reports": inbound_reports, "quarantine": inbound_reports, "events": events,
           "editor_events": editor_events}


def count(conn: Connection, kind: str, before: datetime, folding: Sequence[int] = ()) -> int:
    """How many rows `kind` would remove now, the editions `folding` counted as folded (--dry-run)."""
    q = select(func.count()).select_from(_candidates(kind, before, folding).subquery())
    return int(conn.execute(q).scalar() or 0)


def _batch(conn: Connection, kind: str, before: datetime, limit: int, after: int) -> list[int]:
    """The next `limit` ids of `kind` above `after`: each batch starts where the last ended."""
    q = _candidates(kind, before)
    id_column = q.selected_columns[0]
    return list(conn.execute(q.where(id_column > after).limit(limit)).scalars())


def delete_batch(conn: Connection, kind: str, before: datetime, limit: int, after: int) -> list[int]:
    table = _TABLES[kind]
    ids = _batch(conn, kind, before, limit, after)
    if ids:
        conn.execute(delete(table).where(table.c.id.in_(ids)))
    return ids


def left_members(conn: Connection, before: datetime, limit: int, after: int) -> list[int]:
    """Ids of members who left before `before` (above `after`), to be forgotten."""
    return _batch(conn, "members", before, limit, after)


# ---------------------------------------------------------------- space


def size(conn: Connection) -> tuple[int, int | None]:
    """(bytes the database takes, bytes free inside it for reuse; None where not known cheaply)."""
    if conn.dialect.name == "sqlite":
        page = conn.execute(text("PRAGMA page_size")).scalar()
        pages = conn.execute(text("PRAGMA page_count")).scalar()
        free = conn.execute(text("PRAGMA freelist_count")).scalar()
        return int(page * pages), int(page * free)
    if conn.dialect.name == "postgresql":
        return int(conn.execute(select(func.pg_database_size(func.current_database()))).scalar()), None
    return 0, None


# ---------------------------------------------------------------- the log


def last_run(conn: Connection) -> datetime | None:
    return conn.execute(select(func.max(prune_runs.c.at))).scalar()


def record_run(conn: Connection, now: datetime, removed: dict[str, int]) -> None:
    conn.execute(prune_runs.insert().values(at=now, removed=json.dumps(removed, sort_keys=True)))

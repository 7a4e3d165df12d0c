"""Members in bounded batches: an import or a sync of millions of rows in flat memory.

    with seen_addresses(conn) as seen:
        unique, duplicates = seen.first(rows)    # duplicates: (row, line of its first appearance)

A streamed import or sync remembers the addresses it has met in a temporary
table of the connection, not in a Python set, so its memory does not grow
with the file: duplicates are found there, and a complete sync finds the
members missing from the export with SQL (`missing`). The caller's
transaction holds it all, so what is all-or-nothing stays so.
"""

from __future__ import annotations

from contextlib import contextmanager
from itertools import islice
from datetime import datetime
from typing import Callable, Iterable, Iterator, Protocol, Sequence, TypeVar

from sqlalchemy import Column, Integer, MetaData, String, Table, and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from ..members import ImportCounts, MemberRow, RowProblem, email_key
from ..models import Subscriber
from .members import _model, import_members
from .schema import subscribers

BATCH = 5_000  # rows per batch: a few MB of Python objects whatever the file's size
_CHUNK = 500  # keys per IN (...) query, well inside every driver's parameter limit

T = TypeVar("T")

# Not in schema.metadata: it exists only inside one import's or sync's transaction.
_seen = Table("digest_seen_addresses", MetaData(),
              Column("email_key", String(320), primary_key=True),
              Column("line", Integer, nullable=True),  # the first good row's; None: only a bad record named it
              prefixes=["TEMPORARY"])


def batches(items: Iterable[T], size: int = BATCH) -> Iterator[list[T]]:
    """items in lists of at most size, read as they come."""
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


class _Row(Protocol):
    line: int
    email: str


class Seen:
    """The addresses one import or sync has met so far (a temporary table)."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def _lines(self, keys: Sequence[str]) -> dict[str, int | None]:
        found: dict[str, int | None] = {}
        for i in range(0, len(keys), _CHUNK):
            q = select(_seen.c.email_key, _seen.c.line).where(_seen.c.email_key.in_(keys[i:i + _CHUNK]))
            found.update((k, line) for k, line in self.conn.execute(q))
        return found

    def first(self, rows: Sequence[_Row]) -> tuple[list, list[tuple[_Row, int]]]:
        """(rows met for the first time, [(a duplicate row, the line of its first appearance)])."""
        known = self._lines(sorted({email_key(r.email) for r in rows}))
        new: dict[str, int] = {}
        unique, duplicates = [], []
        for row in rows:
            key = email_key(row.email)
            first = known.get(key) or new.get(key)
            if first:
                duplicates.append((row, first))
            else:
                new[key] = row.line
                unique.append(row)
        fresh = [{"email_key": k, "line": line} for k, line in new.items() if k not in known]
        if fresh:
            self.conn.execute(insert(_seen), fresh)
        for key in (k for k in new if k in known):  # named before only by a bad record
            self.conn.execute(update(_seen).where(_seen.c.email_key == key).values(line=new[key]))
        return unique, duplicates

    def mention(self, emails: Iterable[str]) -> None:
        """Addresses named by records that could not be read: in the export, so never missing from it."""
        keys = sorted({email_key(e) for e in emails if e})
        known = self._lines(keys)
        rows = [{"email_key": k, "line": None} for k in keys if k not in known]
        if rows:
            self.conn.execute(insert(_seen), rows)

    def _missing_where(self, require_in_crm: bool):
        c = subscribers.c
        absent = ~select(_seen.c.email_key).where(_seen.c.email_key == c.email_key).exists()
        clause = and_(c.status == "active", absent)
        # Who joined through the public form is not lapsed for being missing, unless members must be in the CRM.
        return clause if require_in_crm else and_(clause, or_(c.consent_source.is_(None), c.consent_source != "web"))

    def count_missing(self, *, require_in_crm: bool) -> int:
        """Active members the export does not list (those a complete sync lapses)."""
        return self.conn.execute(select(func.count()).select_from(subscribers)
                                 .where(self._missing_where(require_in_crm))).scalar_one()

    def missing(self, *, require_in_crm: bool, after_id: int = 0, limit: int = BATCH) -> list[Subscriber]:
        """A page of them in id order, after after_id."""
        q = (select(subscribers).where(self._missing_where(require_in_crm)).where(subscribers.c.id > after_id)
             .order_by(subscribers.c.id).limit(limit))
        return [_model(r) for r in self.conn.execute(q)]


@contextmanager
def seen_addresses(conn: Connection) -> Iterator[Seen]:
    """A fresh Seen for the caller's transaction; gone when it ends well (a rollback takes it too)."""
    if conn.dialect.name == "postgresql":
        # psycopg prepares a statement run five times, and PostgreSQL may then keep one generic plan,
        # made while the table was small: a scan of all members for each page's "who of these is here",
        # which an import into an empty table makes grow with every page (100,000 members: 180 s, not 15).
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
    _seen.drop(conn, checkfirst=True)
    _seen.create(conn)
    yield Seen(conn)
    _seen.drop(conn)


def import_stream(conn: Connection, items: Iterable[MemberRow | RowProblem], *, pending: bool = False,
                  source: str = "import", now: datetime,
                  on_skip: Callable[[RowProblem], None] = lambda p: None) -> ImportCounts:
    """import_members() over a member list of any length (digest.members.read_members_csv), in batches.

    Each skipped row (bad, a duplicate, or a member who left) goes to on_skip
    as its batch is done, in line order; the counts come back. Everything is
    in the caller's transaction.
    """
    counts = ImportCounts()
    with seen_addresses(conn) as seen:
        for batch in batches(items):
            rows = [x for x in batch if isinstance(x, MemberRow)]
            unique, duplicates = seen.first(rows)
            problems = [x for x in batch if isinstance(x, RowProblem)]
            problems += [RowProblem(r.line, r.email, f"duplicate of line {first}") for r, first in duplicates]
            plan = import_members(conn, unique, problems, pending=pending, source=source, now=now)
            for problem in plan.skipped:
                on_skip(problem)
            counts.count(plan)
    return counts

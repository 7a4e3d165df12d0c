"""The database boundary: engine, transactions and migrations.

Only this package (and digest/migrations) imports SQLAlchemy. Query functions
live in the submodules (articles, editions, subscribers, deliveries) and take
a Connection, so a caller decides what one transaction covers.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from ..errors import ConfigError
from .migrate import upgrade
from .schema import SCHEMA_REVISION


class Database:
    """An engine plus the rules for using it (WAL on SQLite, migrated on first use)."""

    def __init__(self, url: str, *, migrate: bool = True):
        self.url = url
        self.engine = _make_engine(url)
        if migrate:
            ensure_schema(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any error."""
        with self.engine.connect() as conn:
            conn.info["immediate"] = True  # read by the SQLite begin hook
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.info.pop("immediate", None)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def _make_engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30})

            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
                # Let SQLAlchemy's begin() issue BEGIN itself (pysqlite's own
                # transaction handling defers it and breaks SAVEPOINTs).
                dbapi_conn.isolation_level = None
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()

            @event.listens_for(engine, "begin")
            def _sqlite_begin(conn):  # noqa: ANN001
                # A write transaction takes the lock up front (IMMEDIATE), so
                # two writers wait for each other instead of one failing with
                # "database is locked" half-way; reads stay deferred.
                conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("immediate") else "BEGIN")

            return engine
        return create_engine(url, pool_pre_ping=True)
    except Exception as exc:  # bad URL, missing driver
        raise ConfigError("DIGEST_DATABASE_URL", "database_url", f"{url!r}: {exc}") from None


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError) as exc:
        if "alembic_version" in str(exc) or "no such table" in str(exc):
            return None
        raise ConfigError("DIGEST_DATABASE_URL", "database_url", f"cannot open the database: {exc.orig}") from None


def ensure_schema(engine: Engine) -> None:
    """Apply migrations if the database is not at the newest revision.

    The version check is one cheap query; Alembic is only imported when there
    is something to do, which keeps every command's start-up lean.
    """
    if current_revision(engine) == SCHEMA_REVISION:
        return

    upgrade(engine)

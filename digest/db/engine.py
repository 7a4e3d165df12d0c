"""The engine and its rules: transactions, WAL and busy handling on SQLite, errors translated, migrated on first use."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from ..errors import ConfigError, DatabaseBusyError, DatabaseError
from .migrate import upgrade
from .schema import SCHEMA_REVISION


class Database:
    """An engine plus the rules for using it (WAL on SQLite, migrated on first use)."""

    def __init__(self, url: str, *, migrate: bool = True, busy_timeout: float = 30.0):
        self.url = url
        self.busy_timeout = busy_timeout
        self.engine = _make_engine(url, busy_timeout)
        if migrate:
            with _translated():
                ensure_schema(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any error."""
        with _translated(), self.engine.connect() as conn:
            conn.info["immediate"] = True  # read by the SQLite begin hook
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.info.pop("immediate", None)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with _translated(), self.engine.connect() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


BUSY_MESSAGE = "database is busy (another digest or a backup holds a write lock); try again"


def is_busy(exc: BaseException) -> bool:
    """A lock held by someone else outlasted our wait (SQLite busy, PostgreSQL lock timeout)."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) == "55P03":  # PostgreSQL lock_not_available (lock_timeout)
        return True
    text_ = str(orig).lower()
    return "database is locked" in text_ or "database table is locked" in text_


@contextmanager
def _translated() -> Iterator[None]:
    """Turn the driver's errors that a user can meet into one-line DigestErrors.

    A busy database becomes DatabaseBusyError (the CLI exits 75, the web app
    answers 503); a file that is not a database, a refused connection or a
    wrong password becomes DatabaseError. Integrity and programming errors
    are bugs or are handled by the caller: they pass through unchanged.
    """
    try:
        yield
    except (IntegrityError, ProgrammingError):
        raise
    except DBAPIError as exc:
        if is_busy(exc):
            raise DatabaseBusyError(BUSY_MESSAGE) from None
        raise DatabaseError(f"database error: {_first_line(exc)}") from None


def _first_line(exc: DBAPIError) -> str:
    return " ".join(str(getattr(exc, "orig", exc)).split())[:300]


def _make_engine(url: str, busy_timeout: float = 30.0) -> Engine:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": busy_timeout})

            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
                # Let SQLAlchemy's begin() issue BEGIN itself (pysqlite's own
                # transaction handling defers it and breaks SAVEPOINTs).
                dbapi_conn.isolation_level = None
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
                cur.close()

            @event.listens_for(engine, "begin")
            def _sqlite_begin(conn):  # noqa: ANN001
                # A write transaction takes the lock up front (IMMEDIATE), so
                # two writers wait for each other instead of one failing with
                # "database is locked" half-way; reads stay deferred.
                conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("immediate") else "BEGIN")

            return engine
        engine = create_engine(url, pool_pre_ping=True)
        if engine.dialect.name == "postgresql":
            @event.listens_for(engine, "connect")
            def _pg_lock_timeout(dbapi_conn, _record):  # noqa: ANN001
                # Without it a statement waits for a lock forever (another session's
                # LOCK TABLE, a long transaction on the same rows): give up after the
                # busy timeout, as SQLite does, with 55P03 (DatabaseBusyError).
                autocommit = dbapi_conn.autocommit
                dbapi_conn.autocommit = True
                cur = dbapi_conn.cursor()
                cur.execute(f"SET lock_timeout = {int(busy_timeout * 1000)}")
                cur.close()
                dbapi_conn.autocommit = autocommit
        return engine
    except Exception as exc:  # bad URL, missing driver
        raise ConfigError("DIGEST_DATABASE_URL", "database_url", f"{url!r}: {exc}") from None


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError as exc:
        if isinstance(exc, (OperationalError, ProgrammingError)) and (
                "alembic_version" in str(exc) or "no such table" in str(exc)):
            return None
        if is_busy(exc):
            raise DatabaseBusyError(BUSY_MESSAGE) from None
        raise ConfigError("DIGEST_DATABASE_URL", "database_url",
                          f"cannot open the database: {_first_line(exc)}") from None


def ensure_schema(engine: Engine) -> None:
    """Apply migrations if the database is not at the newest revision.

    The version check is one cheap query; Alembic is only imported when there
    is something to do, which keeps every command's start-up lean.
    """
    if current_revision(engine) == SCHEMA_REVISION:
        return

    upgrade(engine)

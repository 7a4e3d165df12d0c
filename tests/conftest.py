"""Shared fixtures: real SQLite files (or a real PostgreSQL schema), settings, the CLI.

Set DIGEST_TEST_DATABASE_URL=postgresql+psycopg://... to run every database
test against PostgreSQL: each test then gets a schema of its own.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest_plugins = ["smtp_server"]  # tests/ is on sys.path (no __init__.py), as for the other test modules

DATA = Path(__file__).parent / "data"
SEED = Path(__file__).parent.parent / "samples" / "news-export.txt"  # the shared seed, shipped as a sample
PG_URL = os.environ.get("DIGEST_TEST_DATABASE_URL", "")


def ok(result, code: int = 0):
    """A CliRunner result that exited with `code` (0: success), or the test fails showing its output."""
    assert result.exit_code == code, result.output
    return result


def listing_blocks(path: Path) -> list[tuple[str, list[str]]]:
    """(title, its lines) for each article of a listing export: the lines between a title and its repeat.

    The tests' own reading of the seed, independent of digest/ingest/listing.py, to say what it should find.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        title, j = lines[i].strip(), i + 1
        while lines[j].strip() != title:
            j += 1
        out.append((" ".join(title.split()), lines[i + 1 : j]))
        i = j + 1
    return out


@pytest.fixture(autouse=True, scope="session")
def _cache_folder(tmp_path_factory):
    """Rendering's cache on disk (digest/edition/diskcache.py) in the session's temporary folder, not ~/.cache."""
    os.environ.setdefault("DIGEST_CACHE_DIR", str(tmp_path_factory.mktemp("digest-cache")))


@pytest.fixture
def seed_path() -> Path:
    """The real listing export from a membership body's news page."""
    return SEED


@pytest.fixture
def database_url(tmp_path):
    from digest.web.mailer import Mailer

    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'subscribers.db'}"
        Mailer.stop_all()  # the web apps' mail workers end with their database
        return
    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    Mailer.stop_all()  # before the schema goes: a worker would keep failing on its dropped tables
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def env(tmp_path, database_url) -> dict[str, str]:
    """Environment for a digest run in a scratch folder."""
    return {
        "DIGEST_DATABASE_URL": database_url,
        "DIGEST_OUTBOX": str(tmp_path / "outbox"),
        "DIGEST_SECRET_KEY": "test-secret-key-0123456789",
        "DIGEST_BASE_URL": "https://news.example.org",
        "DIGEST_CONFIG": "",
        "DIGEST_FETCH_IMAGES": "false",  # the sample feeds' pictures are not online; tests fetch from 127.0.0.1
        "DIGEST_FETCH_ALLOW_PRIVATE": "127.0.0.0/8",  # the tests' servers; every other internal address refused
    }


@pytest.fixture
def settings(env):
    from digest.config import load_settings

    return load_settings(None, environ=env)


@pytest.fixture
def db(settings):
    from digest.db import Database

    database = Database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def queue_members(run_cli, seed_path, tmp_path):
    """Ingest the seed into week 2017-W25, import N all-topic weekly members, build and queue the week."""

    def make(n: int) -> None:
        assert run_cli("ingest", seed_path, "--published", "2017-06-21").exit_code == 0
        csv = tmp_path / "members.csv"
        csv.write_text("email,name,topics,frequency\n" + "".join(
            f"member{i:03d}@example.org,Member {i},,weekly\n" for i in range(n)), encoding="utf-8")
        assert run_cli("subscribers", "import", csv).exit_code == 0
        assert run_cli("edition", "build", "--week", "2017-W25").exit_code == 0
        assert f"queued {n} delivery(ies)" in run_cli("queue", "2017-W25").output

    return make


@pytest.fixture
def run_cli(env, monkeypatch, tmp_path):
    """Invoke the digest CLI in-process the way a user would: returns click's Result."""
    from digest.cli import cli

    monkeypatch.chdir(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)

    return run


@pytest.fixture
def write_lock(database_url):
    """A context manager: another session holds the database's write lock while it is open.

    SQLite: BEGIN IMMEDIATE (the one writer's lock). PostgreSQL: every table of
    the test's schema locked IN EXCLUSIVE MODE (reads go on; writes and
    SELECT ... FOR UPDATE wait), as a long migration or a manual LOCK TABLE would.
    """
    from contextlib import contextmanager

    @contextmanager
    def held():
        if database_url.startswith("sqlite"):
            import sqlite3

            holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
            try:
                holder.execute("BEGIN IMMEDIATE")
                yield
            finally:
                holder.rollback()
                holder.close()
            return
        import sqlalchemy as sa

        engine = sa.create_engine(database_url)
        try:
            with engine.connect() as conn, conn.begin() as tx:
                tables = conn.execute(sa.text(
                    "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema()")).scalars().all()
                conn.execute(sa.text(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE"))
                try:
                    yield
                finally:
                    tx.rollback()
        finally:
            engine.dispose()

    return held

"""Every command, run in each broken environment an unlucky operator meets, says one line and stops.

No traceback, a non-zero exit status, and nothing written. A database that
another process holds locked past the busy timeout gets "database is busy"
and exit status 75 (EX_TEMPFAIL), with the deliveries as they were.
"""

from __future__ import annotations

import shutil
import traceback
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import PG_URL, SEED

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
# A configured source, so that `digest sources ...` reach the database (a broken digest.toml replaces it).
GOOD_CONFIG = '[[sources]]\nname = "news"\npath = "news.xml"\n'

# One invocation of every command the CLI has (sub-commands of groups included).
COMMANDS = [
    ["ingest", str(SEED), "--published", "2017-06-21"],
    ["articles"],
    ["article", "pin", "1"],
    ["article", "unpin", "1"],
    ["article", "exclude", "1"],
    ["article", "include", "1"],
    ["article", "summary", "1", "A summary."],
    ["article", "date", "1", "2017-06-21"],
    ["article", "translation", "1", "2"],
    ["preview", "--week", "2017-W25", "--out", "preview.html"],
    ["members", "add", "jane@example.org"],
    ["members", "import", "members.csv"],
    ["members", "sync", "members.csv", "--complete"],
    ["members", "list"],
    ["members", "show", "jane@example.org"],
    ["members", "set", "jane@example.org", "--frequency", "monthly"],
    ["members", "unsubscribe", "jane@example.org"],
    ["members", "export", "jane@example.org"],
    ["members", "forget", "jane@example.org", "--yes"],
    ["members", "ask-confirm", "--transport", "file"],
    ["tokens", "add", "crm", "--scope", "members:read"],
    ["tokens", "list"],
    ["tokens", "revoke", "crm"],
    ["webhooks", "add", "https://crm.example.org/hooks", "--events", "member.subscribed"],
    ["webhooks", "list"],
    ["webhooks", "remove", "1"],
    ["webhooks", "test", "1"],
    ["webhooks", "deliver"],
    ["edition", "build", "--week", "2017-W25"],
    ["edition", "list"],
    ["edition", "set", "2017-W25", "--subject", "This week"],
    ["edition", "show", "2017-W25"],
    ["edition", "schedule", "2017-W25", "--at", "2099-06-29 07:00"],
    ["queue", "2017-W25"],
    ["send", "--transport", "file"],
    ["send-test", "2017-W25", "--to", "editor@example.org", "--transport", "file"],
    ["weekly", "--transport", "file"],
    ["run", "--frequency", "daily", "--transport", "file"],
    ["status", "2017-W25"],
    ["check", "2017-W25"],
    ["report", "2017-W25"],
    ["sources", "list"],
    ["sources", "fetch"],
    ["bounces", "fetch", str(SAMPLES / "returned.eml")],
    ["bounces", "quarantine"],
    ["editors", "add", "eda@example.org", "--print-link"],
    ["editors", "list"],
    ["editors", "link", "eda@example.org"],
    ["editors", "audit"],
    ["editors", "remove", "eda@example.org"],
    ["prune", "--dry-run"],
    ["providers", "check"],
    ["editors", "notify", "eda@example.org", "none"],
    ["serve", "--port", "0"],
    ["announcement", "create", "--subject", "AGM", "--body-file", str(SAMPLES / "agm-notice.md"), "--audience", "all"],
    ["announcement", "edit", "1", "--subject", "AGM"],
    ["announcement", "list"],
    ["announcement", "show", "1"],
    ["announcement", "count", "1"],
    ["announcement", "preview", "1", "--out", "announcement.html"],
    ["announcement", "send-test", "1", "--to", "editor@example.org", "--transport", "file"],
    ["announcement", "approve", "1"],
    ["announcement", "schedule", "1", "--at", "2099-06-29 07:00"],
    ["announcement", "queue", "1"],
    ["announcement", "evidence", "1", "--out", "evidence.csv"],
    ["announcement", "audience", "save", "wales", "attr:region=Wales"],
    ["announcement", "audience", "list"],
]
# dkim-record reads neither the database nor (without [dkim]) anything else: with no DKIM
# configured it says so in one line, which the same assertions cover.
COMMANDS.append(["dkim-record"])


def _leaf_commands(group, path=()):
    import click

    for name in group.list_commands(None):
        command = group.get_command(None, name)
        if command.hidden:  # `subscribers`, the old name of `members`
            continue
        if isinstance(command, click.Group):
            yield from _leaf_commands(command, path + (name,))
        else:
            yield path + (name,)


def test_the_list_holds_every_command_there_is():
    from digest.cli import cli

    groups = {"article", "members", "edition", "sources", "bounces", "editors", "providers", "tokens", "webhooks",
              "announcement"}
    nested = {("announcement", "audience")}  # a group inside a group: its leaves are three words
    listed = {tuple(c[:3]) if tuple(c[:2]) in nested else tuple(c[:2]) if c[0] in groups else (c[0],)
              for c in COMMANDS}
    assert set(_leaf_commands(cli)) == listed


def _pg_with(password: str | None = None, port: int | None = None) -> str:
    url = sa.engine.make_url(PG_URL)
    if password is not None:
        url = url.set(password=password)
    if port is not None:
        url = url.set(port=port, password="x")
    return url.render_as_string(hide_password=False)


def _not_a_database(tmp):
    (tmp / "notes.db").write_text("these are my notes, not a database\n", encoding="utf-8")
    return {"DIGEST_DATABASE_URL": f"sqlite:///{tmp / 'notes.db'}"}


def _a_folder(tmp):
    (tmp / "folder.db").mkdir()
    return {"DIGEST_DATABASE_URL": f"sqlite:///{tmp / 'folder.db'}"}


def _uncreatable(tmp):
    (tmp / "readonly").write_text("a file where a folder should be", encoding="utf-8")
    return {"DIGEST_DATABASE_URL": f"sqlite:///{tmp / 'readonly' / 'sub' / 'digest.db'}"}


def _pg_refused(tmp):
    return {"DIGEST_DATABASE_URL": "postgresql+psycopg://app:app@127.0.0.1:1/appdb"}


def _pg_wrong_password(tmp):
    return {"DIGEST_DATABASE_URL": _pg_with(password="not-the-password")}


def _config(content: bytes):
    def make(tmp):
        (tmp / "digest.toml").write_bytes(content)
        return {"DIGEST_CONFIG": str(tmp / "digest.toml")}
    return make


BROKEN = {
    "file that is not a database": (_not_a_database, "database"),
    "folder": (_a_folder, "database"),
    "path that cannot be created": (_uncreatable, "database"),
    "postgresql refuses the connection": (_pg_refused, "database"),
    "digest.toml not utf-8": (_config("[organisation]\nname = \"Caf\xe9 News\"\n".encode("latin-1")), "UTF-8"),
    "digest.toml not toml": (_config(b"[organisation\nname = 'x'\n"), "syntax"),
    "digest.toml wrong type": (_config(b"[digest]\nedition_size = \"ten\"\n"), "digest.edition_size"),
}
if PG_URL:  # a wrong password needs a real server: these cases exist only where one is given, never as skips
    BROKEN["postgresql refuses the password"] = (_pg_wrong_password, "password")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:3] if c[1:2] == ["audience"] else c[:2]))
@pytest.mark.parametrize("broken", list(BROKEN), ids=lambda b: b.replace(" ", "-"))
def test_every_command_in_a_broken_environment_says_one_line(env, tmp_path, monkeypatch, command, broken):
    make, word = BROKEN[broken]
    work = tmp_path / "work"
    work.mkdir()
    (work / "members.csv").write_text("email,name,topics,frequency\nann@example.org,Ann,,weekly\n",
                                      encoding="utf-8")
    shutil.copy2(SAMPLES / "news.xml", work / "news.xml")
    (work / "good.toml").write_text(GOOD_CONFIG, encoding="utf-8")
    for key, value in {**env, "DIGEST_CONFIG": str(work / "good.toml"), **make(work)}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(work)
    before = sorted(p.name for p in work.iterdir())
    from digest.cli import cli

    result = CliRunner().invoke(cli, command, catch_exceptions=True)
    shown = "".join(traceback.format_exception(result.exception)) if result.exception else ""
    assert isinstance(result.exception, SystemExit) or result.exception is None, shown
    assert result.exit_code != 0, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    if command != ["dkim-record"] or broken.startswith("digest.toml"):  # dkim-record reads no database
        assert word in lines[0]
    assert "Traceback" not in result.output and "sqlalchemy" not in result.stderr.lower()
    if "password" in lines[0] or PG_URL:
        assert "not-the-password" not in lines[0]
    # Nothing written beside what was there (no preview.html, no outbox, no half database).
    assert sorted(p.name for p in work.iterdir()) == before


# ---------------------------------------------------------------- a database held locked


def _deliveries(database_url):
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, status, attempts, not_before, lease_until, sent_at FROM deliveries ORDER BY id")).all()
        members = conn.execute(sa.text("SELECT email FROM subscribers ORDER BY id")).all()
    engine.dispose()
    return [tuple(r) for r in rows], [m for (m,) in members]


@pytest.mark.parametrize("command", [
    ["send", "--transport", "file"],
    ["queue", "2017-W25"],
    ["subscribers", "import", "late.csv"],
], ids=lambda c: c[0] if c[0] != "subscribers" else "import")
def test_a_database_locked_past_the_busy_timeout(write_lock, run_cli, queue_members, database_url, tmp_path,
                                                 monkeypatch, command):
    queue_members(3)
    run_cli("subscribers", "add", "later@example.org")  # due, not yet queued: what `queue` would add
    (tmp_path / "late.csv").write_text("email,name,topics,frequency\nlate@example.org,Late,,weekly\n",
                                       encoding="utf-8")
    before = _deliveries(database_url)
    monkeypatch.setenv("DIGEST_BUSY_TIMEOUT", "1")
    from digest.cli import cli

    with write_lock():  # another digest, or a migration, holds the write lock
        result = CliRunner().invoke(cli, command, catch_exceptions=True)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 75, result.stderr
    assert result.stderr == "Error: database is busy (another digest or a backup holds a write lock); try again\n"
    assert _deliveries(database_url) == before
    assert not (tmp_path / "outbox").exists() or not any((tmp_path / "outbox").iterdir())

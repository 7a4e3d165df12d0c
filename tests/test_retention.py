"""digest prune: old rows fold into edition totals and go; the reports keep their figures.

Both databases: set DIGEST_TEST_DATABASE_URL for PostgreSQL. The edition of
test_report's `seeded` fixture (sent, bounced, complained, unsubscribed, read)
is pruned as it would be months later (`now` passed in) and its report must
not change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from digest.db import members as member_db
from digest.db.schema import (
    clicks,
    deliveries,
    edition_totals,
    editions,
    events,
    inbound_reports,
    subscribers,
    suppressions,
)
from digest.editorial.retention import months_before, prune
from test_report import env, ok, seeded  # noqa: F401  (fixtures: a seeded, reported edition)

FIGURES = ("deliveries", "sent", "delivered", "bounced_afterwards", "failed_during_send", "complaints",
           "unsubscribes", "unsubscribes_by_mail", "soft_bounces_afterwards", "auto_replies", "reads", "scanner",
           "articles", "topics", "variants")


def figures(run_cli, key="2017-W25") -> dict:
    data = json.loads(ok(run_cli("report", key, "--json")).output)
    return {k: data[k] for k in FIGURES}


def rows(db, table, *where) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar()


def everything(db) -> dict:
    return {t.name: rows(db, t) for t in (deliveries, clicks, inbound_reports, events, subscribers, suppressions,
                                           edition_totals)}


def later(months: int) -> datetime:
    return datetime.now(timezone.utc) + timedelta(days=31 * months)


def test_months_before_is_calendar_months():
    assert months_before(datetime(2026, 3, 31, 7, tzinfo=timezone.utc), 13) == datetime(2025, 2, 28, 7,
                                                                                         tzinfo=timezone.utc)
    assert months_before(datetime(2026, 1, 15, tzinfo=timezone.utc), 1) == datetime(2025, 12, 15, tzinfo=timezone.utc)


def test_prune_keeps_the_report_and_the_consent_history(seeded, settings, db):
    before = figures(seeded)
    assert before["sent"] == 5 and before["reads"] == 4  # the seeded edition, as test_report checks it
    counts = everything(db)

    dry = prune(db, settings, now=later(20), dry_run=True)
    assert dry.removed["deliveries"] == 6 and dry.removed["clicks"] == 5 and dry.editions == ["2017-W25"]
    assert everything(db) == counts  # a dry run changes nothing

    done = prune(db, settings, now=later(20))
    assert done.removed == dry.removed  # it removed what the dry run said it would
    assert rows(db, deliveries) == 0 and rows(db, clicks) == 0
    assert rows(db, inbound_reports, inbound_reports.c.folder == "processed") == 0
    assert figures(seeded) == before  # the same totals, from the folded rows

    # Consent history outlives the deliveries: fay (still a member) keeps her subscribe event.
    with db.connect() as conn:
        fay = member_db.get_by_email(conn, "fay@example.net")
        assert "subscribe" in [e["action"] for e in member_db.list_events(conn, fay.id)]
        eve = member_db.get_by_email(conn, "eve@example.net")
        assert eve.status == "unsubscribed"  # left, but within members_months: still known

    again = prune(db, settings, now=later(20))
    assert again.total == 0 and again.editions == []  # twice: nothing more the second time

    # Past members_months, members who left are only a hash; the report still does not move.
    gone = prune(db, settings, now=later(30))
    assert gone.removed["members"] == 5  # ada, bob and fred bounced, dee complained, eve unsubscribed
    with db.connect() as conn:
        assert member_db.get_by_email(conn, "eve@example.net") is None
        assert member_db.is_suppressed(conn, "eve@example.net")
        assert member_db.get_by_email(conn, "fay@example.net") is not None
    assert figures(seeded) == before


def test_cli_prune_dry_run_and_twice(seeded, db):
    with db.begin() as conn:  # the edition went out two years ago
        conn.execute(update(editions).values(queued_at=datetime.now(timezone.utc) - timedelta(days=730)))
    before = figures(seeded)
    counts = everything(db)
    dry = ok(seeded("prune", "--dry-run"))
    assert "would remove 6 row(s)" in dry.output and "2017-W25" in dry.output
    assert everything(db) == counts
    out = ok(seeded("prune")).output
    assert "removed 6 row(s)" in out and "database:" in out, out
    assert rows(db, deliveries) == 0
    assert figures(seeded) == before
    listed = json.loads(ok(seeded("edition", "list", "--json")).output)  # the desk's counts come from here too
    assert listed[0]["deliveries"]["sent"] == 5 and listed[0]["deliveries"]["failed"] == 1
    assert json.loads(ok(seeded("status", "--json")).output)["total"] == 6  # all editions, folded included
    second = json.loads(ok(seeded("prune", "--json")).output)
    assert sum(second["removed"].values()) == 0 and second["editions_folded"] == []


def test_retention_config_is_checked(tmp_path, env):  # noqa: F811
    from digest.config import load_settings
    from digest.errors import ConfigError

    cfg = tmp_path / "digest.toml"
    cfg.write_text("[retention]\naudit_months = 3\n")
    with pytest.raises(ConfigError, match="retention.audit_months"):
        load_settings(cfg, environ={**env, "DIGEST_CONFIG": ""})
    cfg.write_text("[retention]\nreports_months = 1\n[bounces]\nwindow_days = 60\n")
    with pytest.raises(ConfigError, match="window_days"):
        load_settings(cfg, environ={**env, "DIGEST_CONFIG": ""})
    cfg.write_text("[retention]\ndeliveries_months = 25\n")
    assert load_settings(cfg, environ={**env, "DIGEST_CONFIG": ""}).retention.deliveries_months == 25


MEMBERS = 300


def test_prune_beside_a_send_loses_nothing_and_sends_nothing_twice(queue_members, env, settings, db,  # noqa: F811
                                                                    smtp_sink):
    """A `digest send` process works through the queue while prune folds its finished rows, batch by batch."""
    queue_members(MEMBERS)
    settings = replace(settings, retention=replace(settings.retention, batch=100))
    full_env = {**os.environ, **env, "DIGEST_SMTP_URL": smtp_sink.url}
    cmd = [sys.executable, "-m", "digest", "send", "--transport", "smtp", "--connections", "2", "--batch", "10"]
    sender = subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    folded, prunes = 0, 0
    try:
        while sender.poll() is None or prunes == 0:
            folded += prune(db, settings, now=later(14)).removed["deliveries"]  # the edition counts as old
            prunes += 1
    finally:
        out, err = sender.communicate(timeout=180)
    assert sender.returncode == 0, err
    assert prunes > 1  # they really ran side by side
    folded += prune(db, settings, now=later(14)).removed["deliveries"]

    received = Counter(r for m in smtp_sink.messages for r in m.rcpt_tos)
    assert len(received) == MEMBERS and max(received.values()) == 1
    assert folded == MEMBERS and rows(db, deliveries) == 0
    with db.connect() as conn:
        totals = conn.execute(select(func.sum(edition_totals.c.value))
                              .where(edition_totals.c.measure == "sent")).scalar()
    assert totals == MEMBERS
    from digest.editorial.report import edition_report

    report = edition_report(db, settings, "2017-W25")
    assert report.sent == MEMBERS and report.deliveries["queued"] == 0 and report.deliveries["sending"] == 0



def test_digest_run_prunes_once_a_week(seeded, db):
    from digest.db.schema import prune_runs

    with db.begin() as conn:
        conn.execute(update(editions).values(queued_at=datetime.now(timezone.utc) - timedelta(days=730)))
    first = ok(seeded("run", "2017-W25", "--transport", "smtp"))
    assert "pruned 6 row(s)" in first.output, first.output
    assert rows(db, deliveries) == 0 and rows(db, prune_runs) == 1
    second = ok(seeded("run", "2017-W25", "--transport", "smtp"))
    assert "pruned" not in second.output and rows(db, prune_runs) == 1  # not again within the week


def test_audit_period_keeps_proof_of_consent(run_cli, settings, db):
    from digest.db import editors as editor_db

    ok(run_cli("subscribers", "add", "ana@example.net"))
    old = datetime.now(timezone.utc) - timedelta(days=365 * 7)
    with db.begin() as conn:
        ana = member_db.get_by_email(conn, "ana@example.net")
        member_db.add_event(conn, ana.id, "web", "preferences", {"format": ["html", "text"]}, old)
        conn.execute(update(events).values(at=old))  # her subscribe event is seven years old too
        editor_db.audit(conn, "cli", "build", "2017-W25", now=old)
    done = prune(db, settings, now=datetime.now(timezone.utc))
    assert done.removed["events"] == 1 and done.removed["editor_events"] == 1
    with db.connect() as conn:
        assert [e["action"] for e in member_db.list_events(conn, ana.id)] == ["subscribe"]


def test_two_prunes_at_once_count_everything_once(seeded, settings, db):
    from concurrent.futures import ThreadPoolExecutor

    from digest.db import Database

    before = figures(seeded)
    small = replace(settings, retention=replace(settings.retention, batch=100))
    other = Database(settings.database_url)  # a second process's engine
    try:
        with ThreadPoolExecutor(2) as pool:
            done = list(pool.map(lambda d: prune(d, small, now=later(20)), [db, other]))
    finally:
        other.dispose()
    assert done[0].removed["deliveries"] + done[1].removed["deliveries"] == 6
    assert figures(seeded) == before


def test_prune_clears_the_rendered_bodies_of_folded_editions_and_keeps_the_report(seeded, settings, db):
    # The rendered variants are most of an old edition's bytes (scripts/bench --years): once its
    # deliveries are folded nothing sends them again, so their bodies go; the rows and the figures stay.
    from digest.db.schema import variants

    before = figures(seeded)
    n_variants = rows(db, variants)
    assert rows(db, variants, variants.c.text != "") == n_variants > 0
    prune(db, settings, now=later(20))
    assert rows(db, variants) == n_variants
    assert rows(db, variants, variants.c.text != "") == 0 and rows(db, variants, variants.c.html.is_not(None)) == 0
    assert figures(seeded) == before

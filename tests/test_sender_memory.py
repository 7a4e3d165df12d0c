"""What keeps a sender's memory flat (issue 24): what it imports, the order it meets variants in, its cache.

Structural checks, not timings or RSS figures (scripts/bench measures those).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

from sqlalchemy import select

from digest.db import members as member_db
from digest.db.schema import deliveries
from digest.edition.periods import parse_period
from digest.editorial.build import build_edition, queue_edition
from digest.message.outgoing import Outgoing
from digest.sending import prepare as prepare_mod
from digest.sending.prepare import Context

T0 = datetime(2017, 6, 26, 7, 0, tzinfo=timezone.utc)


def test_the_sender_does_not_import_what_it_does_not_use():
    # Alembic (migrations), lxml (the checks, run once by the parent) and Jinja2
    # (rendering at send time, rare): about 13 MB a sender process did not need.
    code = ("import json, sys, digest.sending.processes, digest.sending.worker; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                           check=True).stdout))
    assert not loaded & {"alembic", "mako", "lxml", "jinja2", "premailer", "mjml"}


def test_the_sender_loads_only_the_dialect_it_connects_with():
    # db.deliveries imports db.retention, whose upserts need a dialect's insert: importing both
    # at the top cost a sender on PostgreSQL the SQLite dialect (0.6 MB) and one on SQLite the
    # PostgreSQL dialect with its four drivers' modules (2 MB).
    code = ("import json, sys, digest.sending.processes, digest.sending.worker; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('sqlalchemy.dialects.'))))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                       check=True).stdout)
    assert not [m for m in loaded if m.startswith(("sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.postgresql"))]


def _members_over_many_variants(db, settings, seed_path, run_cli, count=40):
    assert run_cli("ingest", seed_path, "--published", "2017-06-21").exit_code == 0
    slugs = settings.topic_slugs
    with db.begin() as conn:
        for i in range(count):  # members in id order, their variants in no order at all
            topics = [s for b, s in enumerate(slugs) if (i % 7 * 37 + 11) >> b & 1]
            member_db.add(conn, f"m{i}@example.org", None, topics, fmt="text" if i % 2 else "html", now=T0)
    build_edition(db, settings, parse_period("2017-W25", settings.timezone), now=T0)
    queue_edition(db, settings, "2017-W25", now=T0)


def test_deliveries_are_queued_variant_by_variant(db, settings, seed_path, run_cli):
    _members_over_many_variants(db, settings, seed_path, run_cli)
    with db.connect() as conn:
        rows = conn.execute(select(deliveries.c.variant_id, deliveries.c.subscriber_id)
                            .order_by(deliveries.c.id)).all()
    variant_ids = [r.variant_id for r in rows]
    assert len(set(variant_ids)) > 3
    # Each variant's deliveries are one run of ids: a claimed batch needs few variants.
    runs = sum(1 for a, b in zip(variant_ids, variant_ids[1:]) if a != b) + 1
    assert runs == len(set(variant_ids))
    for v in set(variant_ids):  # within a variant, members in key order
        members = [r.subscriber_id for r in rows if r.variant_id == v]
        assert members == sorted(members)


def test_the_sender_keeps_a_bounded_number_of_compiled_variants(db, settings, seed_path, run_cli, monkeypatch):
    _members_over_many_variants(db, settings, seed_path, run_cli)
    monkeypatch.setattr(prepare_mod, "TEMPLATES_KEPT", 3)
    ctx = Context(db, settings, Outgoing(settings))
    with db.connect() as conn:
        rows = conn.execute(select(deliveries.c.variant_id, deliveries.c.edition_id)).all()
    seen = set()
    for variant_id, edition_id in rows + rows[::-1]:
        template = ctx.template(variant_id, "2017-W25", edition_id)
        assert template is ctx.template(variant_id, "2017-W25", edition_id)  # kept while in use
        assert len(ctx.templates) <= 3
        seen.add(variant_id)
    assert len(seen) > 3

"""Queueing at its edges: unbuilt and empty editions, members no article reaches, late joiners, variants at send time.

Written against what mutation testing (scripts/mutants queue) found unguarded;
asserts reports and rows.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from digest.db import editions as edition_db
from digest.db import members as member_db
from digest.db.schema import deliveries, variants
from digest.edition.periods import parse_period
from digest.edition.variants import plan_variant
from digest.editorial.build import build_edition
from digest.errors import EditionError
from digest.models import TopicSet
from digest.editorial.build import queue_edition
from digest.sending.prepare import variant_for

T0 = datetime(2017, 6, 26, 7, 0, tzinfo=timezone.utc)


def count(db, table):
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def add(db, email, topics=(), **kw):
    with db.begin() as conn:
        return member_db.add(conn, email, None, topics, now=T0, **kw)


@pytest.fixture
def week25(run_cli, seed_path, db, settings):
    assert run_cli("ingest", seed_path, "--published", "2017-06-21").exit_code == 0
    add(db, "all@example.org")
    add(db, "skills@example.org", ("skills-leadership",))  # no article of the week in this topic
    build_edition(db, settings, parse_period("2017-W25", settings.timezone), now=T0)
    return settings


def test_an_unbuilt_edition_is_refused(db, settings):
    with pytest.raises(EditionError, match="is not built; run `digest edition build` first"):
        queue_edition(db, settings, "2017-W25", now=T0)


def test_an_empty_edition_queues_nothing_and_says_so(db, settings):
    add(db, "all@example.org")
    build_edition(db, settings, parse_period("2017-W25", settings.timezone), now=T0)
    report = queue_edition(db, settings, "2017-W25", now=T0)
    assert (report.queued, report.variants, report.not_due) == (0, 0, 0)
    assert report.warnings == ["edition 2017-W25 has no articles: nothing queued (an empty digest is never sent)"]
    with db.connect() as conn:
        assert edition_db.load_edition(conn, "2017-W25").queued_at is None
    assert count(db, deliveries) == 0


def test_queue_reports_members_no_article_reaches_and_marks_the_edition_queued(db, week25):
    settings = week25
    rendered_at_build = count(db, variants)
    report = queue_edition(db, settings, "2017-W25", now=T0)
    assert (report.key, report.queued, report.variants, report.not_due) == ("2017-W25", 1, 0, 1)
    assert report.warnings == ["1 member(s) have no article of 2017-W25 in their topics: not queued"]
    assert count(db, variants) == rendered_at_build
    with db.connect() as conn:
        assert edition_db.load_edition(conn, "2017-W25").queued_at == T0


def test_a_member_who_joins_after_the_build_gets_a_variant_rendered_then(db, week25):
    settings = week25
    queue_edition(db, settings, "2017-W25", now=T0)
    before = count(db, variants)
    add(db, "dp@example.org", ("data-protection",), fmt="text")
    add(db, "dp2@example.org", ("data-protection",), fmt="text")  # the same variant: rendered once
    report = queue_edition(db, settings, "2017-W25", now=T0)
    assert (report.queued, report.variants, report.not_due) == (2, 1, 1)
    assert count(db, variants) == before + 1
    with db.connect() as conn:
        ids = edition_db.variant_ids(conn, edition_db.load_edition(conn, "2017-W25").id)
    assert (TopicSet(["data-protection"]), "text", "") in ids
    # Again: nothing new.
    again = queue_edition(db, settings, "2017-W25", now=T0)
    assert (again.queued, again.variants) == (0, 0)


def test_variant_for_reuses_a_rendered_variant_and_renders_a_missing_one(db, week25):
    settings = week25
    with db.connect() as conn:
        edition = edition_db.load_edition(conn, "2017-W25")
        known = edition_db.variant_ids(conn, edition.id)
    plan = plan_variant(TopicSet(), "html", edition.items, settings.topic_slugs)
    assert variant_for(db, settings, edition, plan, now=T0) == known[(plan.key, "html", "")]
    before = count(db, variants)
    new_plan = plan_variant(TopicSet(["data-protection"]), "text", edition.items, settings.topic_slugs)
    new_id = variant_for(db, settings, edition, new_plan, now=T0)
    assert count(db, variants) == before + 1
    assert variant_for(db, settings, edition, new_plan, now=T0) == new_id
    with db.connect() as conn:
        row = conn.execute(select(variants.c.item_count, variants.c.format).where(variants.c.id == new_id)).one()
    assert (row.item_count, row.format) == (len(new_plan.items), "text")

"""Variants rendered once, deliveries queued, set-based.

queue_edition renders one variant per (member topics within the edition x
format) that members need and queues one delivery per due member in one
INSERT ... SELECT, in one transaction; variant_for renders a variant a member
needs at send time that nobody needed before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..config import Settings
from ..db import Database
from ..db import deliveries as delivery_db
from ..db import editions as edition_db
from ..edition.render import render_plan
from ..edition.variants import VariantPlan, plan_variant, variant_language
from ..errors import EditionError
from ..models import Edition, Rendered, TopicSet


def load_built(db: Database, key: str) -> Edition:
    with db.connect() as conn:
        edition = edition_db.load_edition(conn, key)
    if edition is None:
        raise EditionError(key, "is not built; run `digest edition build` first")
    return edition


@dataclass
class QueueReport:
    key: str
    queued: int = 0
    variants: int = 0  # variants rendered by this run
    not_due: int = 0  # due members whose topics meet no article of the edition
    warnings: list[str] = field(default_factory=list)


@dataclass
class VariantSet:
    """What the due members of an edition need: their plans and the variant ids."""

    plans: list[tuple[TopicSet, str, str, VariantPlan]]  # (member's topics, format, language, plan) per combination
    ids: dict[tuple[TopicSet, str, str], int]  # (variant's topics, format, language) -> variant id
    rendered: int = 0
    not_due: int = 0


def ensure_variants(db: Database, settings: Settings, edition: Edition, *, now: datetime) -> VariantSet:
    """Render (once) every variant the edition's due members need; return the plans and ids."""
    with db.connect() as conn:
        combos = delivery_db.due_combinations(conn, edition.frequency, by_language=True)
        known = edition_db.variant_ids(conn, edition.id)
    result = VariantSet([], dict(known))
    # Render what is missing before taking the write lock: rendering is the slow part.
    fresh: dict[tuple[TopicSet, str, str], tuple[Rendered, int]] = {}
    for topics, fmt, language, members in combos:
        lang = variant_language(language, settings.languages, settings.unchosen_language)
        plan = plan_variant(topics, fmt, edition.items, settings.topic_slugs, lang)
        if plan is None:
            result.not_due += members
            continue
        result.plans.append((topics, fmt, language, plan))
        k = (plan.key, fmt, lang)
        if k not in known and k not in fresh:
            fresh[k] = (render_plan(edition, settings, plan), len(plan.items))
    if fresh:
        with db.begin() as conn:
            for (vkey, fmt, lang), (rendered, count) in fresh.items():
                result.ids[(vkey, fmt, lang)] = edition_db.add_variant(conn, edition.id, vkey, fmt, rendered, count,
                                                                       now=now, language=lang)
    result.rendered = len(fresh)
    return result


def queue_edition(db: Database, settings: Settings, key: str, *, now: datetime) -> QueueReport:
    """Queue one delivery per due member; a re-run adds only members not yet queued.

    One INSERT ... SELECT for all members, in one transaction.
    """
    edition = load_built(db, key)
    report = QueueReport(key)
    if not edition.items:
        report.warnings.append(f"edition {key} has no articles: nothing queued (an empty digest is never sent)")
        return report
    needed = ensure_variants(db, settings, edition, now=now)  # members who joined since the build
    report.variants, report.not_due = needed.rendered, needed.not_due
    variant_of = {(topics, fmt, language): needed.ids[(plan.key, fmt, plan.lang)]
                  for topics, fmt, language, plan in needed.plans}
    with db.begin() as conn:
        report.queued = delivery_db.queue_members(conn, edition.id, edition.frequency, variant_of)
        edition_db.mark_queued(conn, edition.id, now=now)
    if report.not_due:
        report.warnings.append(f"{report.not_due} member(s) have no article of {key} in their topics: not queued")
    return report


def variant_for(db: Database, settings: Settings, edition: Edition, plan: VariantPlan, *, now: datetime) -> int:
    """The id of a plan's variant, rendering it if no member needed it before (a re-plan at send time)."""
    with db.connect() as conn:
        found = edition_db.variant_ids(conn, edition.id).get((plan.key, plan.fmt, plan.lang))
    if found is not None:
        return found
    rendered = render_plan(edition, settings, plan)
    with db.begin() as conn:
        found = edition_db.variant_ids(conn, edition.id).get((plan.key, plan.fmt, plan.lang))
        if found is not None:  # another sender rendered it meanwhile
            return found
        return edition_db.add_variant(conn, edition.id, plan.key, plan.fmt, rendered, len(plan.items), now=now,
                                      language=plan.lang)



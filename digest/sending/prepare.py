"""Before a claimed delivery is sent: is the member still due, and with which variant; the pre-flight.

    ctx = Context(db, settings, Outgoing(settings))      # per-run caches
    prepare(ctx, claimed, now)   # -> Outcome (skip), or (variant id, its MessageTemplate, the Recipient)
    preflight(db, settings, now=now)                     # CheckError if an edition's messages fail the checks
"""

from __future__ import annotations

from datetime import datetime

from ..checks.edition import check_edition
from ..config import Settings
from ..db import Database
from ..db import deliveries as delivery_db
from ..db import editions as edition_db
from ..db.schema import SKIPPED
from ..edition.render import render_plan
from ..edition.variants import VariantPlan, plan_variant, variant_language
from ..errors import CheckError
from ..message.assemble import MessageTemplate, Recipient
from ..message.outgoing import Outgoing
from ..models import Edition, TopicSet
from .policy import is_due, is_due_announcement


class Context:
    """Per-run caches: editions, message templates, plans, re-planned variants."""

    def __init__(self, db: Database, settings: Settings, out: Outgoing):
        self.db, self.settings, self.out = db, settings, out
        self.editions: dict[int, Edition] = {}
        self.templates: dict[int, MessageTemplate] = {}
        self.stored: dict[int, object] = {}  # variants loaded but not yet compiled
        self.variant_keys: dict[int, tuple[TopicSet, str, str]] = {}
        self.plans: dict[tuple[int, str, str, str], object] = {}

    def edition(self, edition_id: int, key: str) -> Edition:
        if edition_id not in self.editions:
            with self.db.connect() as conn:
                self.editions[edition_id] = edition_db.load_edition(conn, key)
        return self.editions[edition_id]

    def template(self, variant_id: int, edition_key: str, edition_id: int) -> MessageTemplate:
        if variant_id not in self.templates:
            if variant_id not in self.stored:
                # One query for all of the edition's variants, not one per variant:
                # each query costs this thread a GIL hand-off while senders run.
                with self.db.connect() as conn:
                    self.stored.update((v.id, v) for v in edition_db.list_variants(conn, edition_id))
            v = self.stored.pop(variant_id, None)
            if v is None:  # rendered by another sender after we looked
                with self.db.connect() as conn:
                    v = edition_db.load_variant(conn, variant_id)
            self.variant_keys[variant_id] = (v.topics, v.format, v.language)
            self.templates[variant_id] = self.out.template(v.rendered, edition_key=edition_key, fmt=v.format)
        return self.templates[variant_id]

    def plan(self, edition: Edition, topics: TopicSet, fmt: str, language: str = ""):
        k = (edition.id, topics, fmt, language)
        if k not in self.plans:
            lang = variant_language(language, self.settings.languages, self.settings.unchosen_language)
            self.plans[k] = plan_variant(topics, fmt, edition.items, self.settings.topic_slugs, lang)
        return self.plans[k]


def prepare(ctx: Context, c: delivery_db.Claimed, now: datetime):
    """-> an Outcome (skip), or (variant id to use, its MessageTemplate, the Recipient)."""
    if c.subscriber_id is None:
        return delivery_db.Outcome(c.id, SKIPPED, "member was forgotten", claim=c.claim)
    if c.edition_kind != "edition":  # an announcement: its variant was chosen at queueing, nothing to re-plan
        reason = is_due_announcement(c.status, c.paused, c.edition_kind, c.news_announcements)
        if reason:
            return delivery_db.Outcome(c.id, SKIPPED, reason, claim=c.claim)
        return (c.variant_id, ctx.template(c.variant_id, c.edition_key, c.edition_id),
                Recipient(c.id, c.subscriber_id, c.email, c.name, c.token_version))
    reason = is_due(c.status, c.paused, c.frequency, c.edition_frequency)
    if reason:
        return delivery_db.Outcome(c.id, SKIPPED, reason, claim=c.claim)
    edition = ctx.edition(c.edition_id, c.edition_key)
    plan = ctx.plan(edition, c.topics, c.format, c.language)
    if plan is None:
        return delivery_db.Outcome(c.id, SKIPPED, "no article of the edition in the member's topics any more",
                                   claim=c.claim)
    variant_id = c.variant_id
    template = ctx.template(variant_id, c.edition_key, c.edition_id)
    if ctx.variant_keys[variant_id] != (plan.key, plan.fmt, plan.lang):
        variant_id = variant_for(ctx.db, ctx.settings, edition, plan, now=now)
        template = ctx.template(variant_id, c.edition_key, c.edition_id)
    return variant_id, template, Recipient(c.id, c.subscriber_id, c.email, c.name, c.token_version)


def preflight(db: Database, settings: Settings, *, now: datetime) -> None:
    """Refuse (CheckError) to send any edition with pending deliveries whose messages fail the checks.

    Every variant of each such edition is assembled for a sample member and
    checked (checks.edition) before anything is claimed.
    """
    with db.connect() as conn:
        keys = delivery_db.editions_with_pending(conn)
    for key in keys:
        with db.connect() as conn:
            edition = edition_db.load_edition(conn, key)
        failed = {v: f for v, f in check_edition(db, settings, edition, now=now).items() if f}
        if failed:
            lines = [f"{v}: {x}" for v, fs in failed.items() for x in fs]
            error = CheckError(f"edition {key}", lines[:3] + ([f"... {len(lines) - 3} more"] if len(lines) > 3 else []))
            error.lines = lines  # every failure, for a command to list
            raise error


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

"""Build an edition: choose, summarise and freeze a window's selection, render the variants members need; queue it.

    edition = build_edition(db, settings, window, now=now)   # frozen, its variants rendered
    report = queue_edition(db, settings, key, now=now)       # variants for late joiners, then the queue
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime

from ..config import Settings
from ..db import Database
from ..db import deliveries as delivery_db
from ..db import editions as edition_db
from ..edition.render import render_plan, subject_for
from ..edition.sendtime import due
from ..edition.variants import VariantPlan, plan_variant, variant_language
from ..errors import EditionError, RenderError
from ..models import Edition, Rendered, TopicSet, Window
from ..sending.queue import load_built, queue_deliveries
from .candidates import plan_edition


def build_edition(db: Database, settings: Settings, window: Window, *, now: datetime,
                  planned: Edition | None = None) -> Edition:
    """Choose, summarise and freeze the edition of a window (again, until it is queued).

    planned: the window's plan_edition, when the caller made it already (the
    mailing's gate counts it), so the candidates are read once. The variants
    today's members need are rendered here too, so queueing is pure
    set-based SQL and what is queued is exactly what was built. When a
    template fails (RenderError), the build is undone: the edition as it was
    before (or none) is what stays, never a half-made one.
    """
    with db.connect() as conn:
        existing = edition_db.load_edition(conn, window.key)
    if existing is not None and existing.queued_at is not None:
        raise EditionError(window.key, f"was queued at {existing.queued_at:%Y-%m-%d %H:%M} UTC and cannot "
                                       "change any more")
    edition = planned if planned is not None else plan_edition(db, settings, window)
    edition.subject = subject_for(edition, settings)
    with db.begin() as conn:
        edition_db.save_edition(conn, edition, now=now)
    if edition.items:
        try:
            ensure_variants(db, settings, edition, now=now)
        except RenderError:
            _undo_build(db, edition, existing, now=now)
            raise
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


@dataclass(frozen=True)
class _Held:
    """A rendered variant held from its render to the one write of them all, its bodies compressed.

    A build holds every new variant until that write (rendering is done
    before taking the write lock): 512 variants were about 20 MB of bodies,
    which took a build's process over 100 MB. zlib at level 1 costs well
    under a millisecond a variant and keeps about a sixth; a text variant's
    HTML, never stored, is not held at all.
    """

    subject: str
    preheader: str
    html: bytes
    text: bytes

    @classmethod
    def of(cls, rendered: Rendered, fmt: str) -> "_Held":
        html = rendered.html if fmt == "html" else ""
        return cls(rendered.subject, rendered.preheader, zlib.compress(html.encode("utf-8"), 1),
                   zlib.compress(rendered.text.encode("utf-8"), 1))

    def rendered(self) -> Rendered:
        return Rendered(subject=self.subject, preheader=self.preheader,
                        html=zlib.decompress(self.html).decode("utf-8"), text=zlib.decompress(self.text).decode("utf-8"))


def ensure_variants(db: Database, settings: Settings, edition: Edition, *, now: datetime) -> VariantSet:
    """Render (once) every variant the edition's due members need; return the plans and ids."""
    with db.connect() as conn:
        combos = delivery_db.due_combinations(conn, edition.frequency, by_language=True)
        known = edition_db.variant_ids(conn, edition.id)
    result = VariantSet([], dict(known))
    # Render what is missing before taking the write lock: rendering is the slow part.
    fresh: dict[tuple[TopicSet, str, str], tuple[_Held, int]] = {}
    for topics, fmt, language, members in combos:
        lang = variant_language(language, settings.languages, settings.unchosen_language)
        plan = plan_variant(topics, fmt, edition.items, settings.topic_slugs, lang)
        if plan is None:
            result.not_due += members
            continue
        result.plans.append((topics, fmt, language, plan))
        k = (plan.key, fmt, lang)
        if k not in known and k not in fresh:
            fresh[k] = (_Held.of(render_plan(edition, settings, plan), fmt), len(plan.items))
    if fresh:
        with db.begin() as conn:
            for (vkey, fmt, lang), (held, count) in fresh.items():
                result.ids[(vkey, fmt, lang)] = edition_db.add_variant(conn, edition.id, vkey, fmt, held.rendered(),
                                                                       count, now=now, language=lang)
    result.rendered = len(fresh)
    return result


def queue_edition(db: Database, settings: Settings, key: str, *, now: datetime) -> QueueReport:
    """Queue one delivery per due member of a built edition; a re-run adds only members not yet queued.

    Variants for members who joined since the build are rendered first; then
    one INSERT ... SELECT for all members, in one transaction (sending/queue.py).
    """
    edition = load_built(db, key)
    if not due(edition.send_time, now):  # approved for a later time: `digest run` queues it then
        raise EditionError(key, f"is scheduled for {edition.send_time}: withdraw the send time "
                                f"(digest edition schedule {key} --withdraw) to queue it now")
    report = QueueReport(key)
    if not edition.items:
        report.warnings.append(f"edition {key} has no articles: nothing queued (an empty digest is never sent)")
        return report
    needed = ensure_variants(db, settings, edition, now=now)  # members who joined since the build
    report.variants, report.not_due = needed.rendered, needed.not_due
    variant_of = {(topics, fmt, language): needed.ids[(plan.key, fmt, plan.lang)]
                  for topics, fmt, language, plan in needed.plans}
    report.queued = queue_deliveries(db, edition, variant_of, now=now)
    if report.not_due:
        report.warnings.append(f"{report.not_due} member(s) have no article of {key} in their topics: not queued")
    return report


def _undo_build(db: Database, edition: Edition, before: Edition | None, *, now: datetime) -> None:
    """Put back the edition as it was before this build (its variants render again when it is queued)."""
    with db.begin() as conn:
        if before is None:
            edition_db.discard_edition(conn, edition.id)
        else:
            edition_db.save_edition(conn, before, now=before.built_at or now)

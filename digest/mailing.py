"""Editions built, variants rendered once, deliveries queued: the mailing's composition.

build_edition freezes a window's selection; queue_edition renders one variant
per (member topics within the edition x format) that members need and queues
one delivery per due member, set-based, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .config import Settings
from .db import Database
from .db import deliveries as delivery_db
from .db import editions as edition_db
from .errors import EditionError
from .models import Edition, Rendered, Window
from .outbox import VariantPlan, plan_variant


def build_edition(db: Database, settings: Settings, window: Window, *, now: datetime) -> Edition:
    """Choose, summarise and freeze the edition of a window (again, until it is queued).

    The variants today's members need are rendered here too, so queueing is
    pure set-based SQL and what is queued is exactly what was built.
    """
    from .pipeline import plan_edition
    from .render import subject_for

    with db.connect() as conn:
        existing = edition_db.load_edition(conn, window.key)
    if existing is not None and existing.queued_at is not None:
        raise EditionError(window.key, f"was queued at {existing.queued_at:%Y-%m-%d %H:%M} UTC and cannot "
                                       "change any more")
    edition = plan_edition(db, settings, window)
    edition.subject = subject_for(edition, settings)
    with db.begin() as conn:
        edition_db.save_edition(conn, edition, now=now)
    if edition.items:
        ensure_variants(db, settings, edition, now=now)
    return edition


def load_built(db: Database, key: str) -> Edition:
    with db.connect() as conn:
        edition = edition_db.load_edition(conn, key)
    if edition is None:
        raise EditionError(key, "is not built; run `digest edition build` first")
    return edition


def render_plan(edition: Edition, settings: Settings, plan: VariantPlan) -> Rendered:
    from .render import render_variant

    return render_variant(edition, settings, items=list(plan.items), member_topics=plan.member_topics,
                          fmt=plan.fmt)


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

    plans: list[tuple[str, str, VariantPlan]]  # (stored topics, format, plan) per combination
    ids: dict[tuple[str, str], int]  # (variant key, format) -> variant id
    rendered: int = 0
    not_due: int = 0


def ensure_variants(db: Database, settings: Settings, edition: Edition, *, now: datetime) -> VariantSet:
    """Render (once) every variant the edition's due members need; return the plans and ids."""
    with db.connect() as conn:
        combos = delivery_db.due_combinations(conn, edition.frequency)
        known = edition_db.variant_ids(conn, edition.id)
    result = VariantSet([], dict(known))
    # Render what is missing before taking the write lock: rendering is the slow part.
    fresh: dict[tuple[str, str], tuple[Rendered, int]] = {}
    for topics, fmt, members in combos:
        plan = plan_variant(topics, fmt, edition.items, settings.topic_slugs)
        if plan is None:
            result.not_due += members
            continue
        result.plans.append((topics, fmt, plan))
        k = (plan.key, fmt)
        if k not in known and k not in fresh:
            fresh[k] = (render_plan(edition, settings, plan), len(plan.items))
    if fresh:
        with db.begin() as conn:
            for (vkey, fmt), (rendered, count) in fresh.items():
                result.ids[(vkey, fmt)] = edition_db.add_variant(conn, edition.id, vkey, fmt, rendered, count, now=now)
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
    variant_of = {(topics, fmt): needed.ids[(plan.key, fmt)] for topics, fmt, plan in needed.plans}
    with db.begin() as conn:
        report.queued = delivery_db.queue_members(conn, edition.id, edition.frequency, variant_of)
        edition_db.mark_queued(conn, edition.id, now=now)
    if report.not_due:
        report.warnings.append(f"{report.not_due} member(s) have no article of {key} in their topics: not queued")
    return report


def variant_for(db: Database, settings: Settings, edition: Edition, plan: VariantPlan, *, now: datetime) -> int:
    """The id of a plan's variant, rendering it if no member needed it before (a re-plan at send time)."""
    with db.connect() as conn:
        found = edition_db.variant_ids(conn, edition.id).get((plan.key, plan.fmt))
    if found is not None:
        return found
    rendered = render_plan(edition, settings, plan)
    with db.begin() as conn:
        found = edition_db.variant_ids(conn, edition.id).get((plan.key, plan.fmt))
        if found is not None:  # another sender rendered it meanwhile
            return found
        return edition_db.add_variant(conn, edition.id, plan.key, plan.fmt, rendered, len(plan.items), now=now)


def send_test(db: Database, settings: Settings, key: str, to: str, variant: str, transport, *, now: datetime):
    """Mail one variant of an edition (built, or planned now) to an editor; no delivery is touched.

    Returns the normalised address and the transport's result.
    """
    from .delivery import Envelope
    from .message import MessageTemplate, Recipient
    from .preview import PreviewRequest, find_edition, resolve_window
    from .subscribers import normalise_email
    from .tokens import Links

    address = normalise_email(to)
    topics, _, fmt = variant.partition(":")
    fmt = fmt or "html"
    if fmt not in ("html", "text"):
        raise EditionError(key, f"variant {variant!r}: format must be html or text")
    wanted = "" if topics in ("*", "") else topics
    unknown = [t for t in wanted.split(",") if t and t not in settings.topic_slugs]
    if unknown:
        raise EditionError(key, f"variant {variant!r}: unknown topic {unknown[0]!r}")
    edition = find_edition(db, settings, resolve_window(settings, PreviewRequest(key=key), now=now))
    plan = plan_variant(wanted, fmt, edition.items, settings.topic_slugs)
    if plan is None:
        raise EditionError(key, f"variant {variant!r} would be empty: no article in those topics")
    template = MessageTemplate.compile(render_plan(edition, settings, plan), settings=settings,
                                       edition_key=f"{key}-test", fmt=fmt,
                                       links=Links(settings.secret_key, settings.base_url))
    message = template.assemble(Recipient(0, 0, address, None, 0), date=now)
    from .dkim import DkimSigner

    signer = DkimSigner.from_settings(settings)
    if signer is not None:
        message = signer.sign(message)
    return address, transport.send(Envelope(settings.sender_address, (address,)), message)

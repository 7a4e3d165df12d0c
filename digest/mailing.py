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
    """Choose, summarise and freeze the edition of a window (again, until it is queued)."""
    from .pipeline import plan_edition
    from .render import render_variant

    with db.connect() as conn:
        existing = edition_db.load_edition(conn, window.key)
    if existing is not None and existing.queued_at is not None:
        raise EditionError(window.key, f"was queued at {existing.queued_at:%Y-%m-%d %H:%M} UTC and cannot "
                                       "change any more")
    edition = plan_edition(db, settings, window)
    edition.subject = render_variant(edition, settings, fmt="text").subject
    with db.begin() as conn:
        edition_db.save_edition(conn, edition, now=now)
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
    combinations: int = 0  # distinct (topics, format) among due members
    not_due: int = 0  # due members whose topics meet no article of the edition
    warnings: list[str] = field(default_factory=list)


def queue_edition(db: Database, settings: Settings, key: str, *, now: datetime) -> QueueReport:
    """Queue one delivery per due member; a re-run adds only members not yet queued."""
    edition = load_built(db, key)
    report = QueueReport(key)
    if not edition.items:
        report.warnings.append(f"edition {key} has no articles: nothing queued (an empty digest is never sent)")
        return report
    order = settings.topic_slugs
    with db.connect() as conn:
        combos = delivery_db.due_combinations(conn, edition.frequency)
        known = edition_db.variant_ids(conn, edition.id)
    report.combinations = len(combos)
    # Render what is missing before taking the write lock: rendering is the slow part.
    plans: list[tuple[str, str, VariantPlan]] = []
    fresh: dict[tuple[str, str], Rendered] = {}
    for topics, fmt, members in combos:
        plan = plan_variant(topics, fmt, edition.items, order)
        if plan is None:
            report.not_due += members
            continue
        plans.append((topics, fmt, plan))
        if (plan.key, fmt) not in known and (plan.key, fmt) not in fresh:
            fresh[(plan.key, fmt)] = render_plan(edition, settings, plan)
    item_counts = {(p.key, p.fmt): len(p.items) for _, _, p in plans}
    with db.begin() as conn:
        ids = dict(known)
        for (vkey, fmt), rendered in fresh.items():
            ids[(vkey, fmt)] = edition_db.add_variant(conn, edition.id, vkey, fmt, rendered,
                                                      item_counts[(vkey, fmt)], now=now)
        for topics, fmt, plan in plans:
            report.queued += delivery_db.queue_combination(
                conn, edition.id, edition.frequency, topics, fmt, ids[(plan.key, fmt)])
        edition_db.mark_queued(conn, edition.id, now=now)
    report.variants = len(fresh)
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
    """Mail one variant of an edition (built, or planned now) to an editor; no delivery is touched."""
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
    return transport.send(Envelope(settings.sender_address, (address,)), message)

"""The send worker: claim deliveries under a lease, assemble, send, record.

Crash safety: a claimed delivery is `sending` until its lease ends. Outcomes
are written back in small chunks as messages complete, so after a kill -9 at
most the messages in flight (sent but not yet recorded) go out twice when a
later `digest send` takes the expired (or --reclaim'ed) leases over.
Whether a member is still due is decided here, at send time, from the
member's current row: someone who left or paused since queueing gets nothing,
someone who changed topics or format gets the matching variant.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from .config import Settings
from .db import Database
from .db import deliveries as delivery_db
from .db import editions as edition_db
from .db.schema import FAILED, QUEUED, SENT, SKIPPED
from .delivery import Envelope, SendResult, Transport
from .errors import DeliveryError
from .models import Edition
from .outbox import backoff_seconds, is_due, plan_variant


@dataclass
class SendOptions:
    connections: int = 1
    rate: float | None = None  # messages per second, all connections together
    limit: int | None = None
    reclaim: bool = False
    lease_seconds: float = 300.0
    batch: int = 200
    record_every: int = 50  # write outcomes back after this many completions...
    record_seconds: float = 0.25  # ...or after this long, whichever comes first
    max_attempts: int = 8
    hard_bounce_limit: int = 3


@dataclass
class SendStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    batches: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def done(self) -> int:
        return self.sent + self.retried + self.failed + self.skipped


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class RateLimiter:
    """At most `rate` acquisitions a second across threads (evenly spaced)."""

    def __init__(self, rate: float | None):
        self.interval = 1.0 / rate if rate else 0.0
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def acquire(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            slot = max(self.next, now)
            self.next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class _Context:
    """Per-run caches: editions, message templates, plans, re-planned variants."""

    def __init__(self, db: Database, settings: Settings):
        from .tokens import Links

        self.db, self.settings = db, settings
        self.links = Links(settings.secret_key, settings.base_url)
        self.editions: dict[int, Edition] = {}
        self.templates: dict[int, object] = {}
        self.variant_keys: dict[int, tuple[str, str]] = {}
        self.plans: dict[tuple[int, str, str], object] = {}
        self.lock = threading.Lock()

    def edition(self, edition_id: int, key: str) -> Edition:
        if edition_id not in self.editions:
            with self.db.connect() as conn:
                self.editions[edition_id] = edition_db.load_edition(conn, key)
        return self.editions[edition_id]

    def template(self, variant_id: int, edition_key: str):
        if variant_id not in self.templates:
            from .message import MessageTemplate

            with self.db.connect() as conn:
                v = edition_db.load_variant(conn, variant_id)
            self.variant_keys[variant_id] = (",".join(v.topics) or "*", v.format)
            self.templates[variant_id] = MessageTemplate.compile(
                v.rendered, settings=self.settings, edition_key=edition_key, fmt=v.format, links=self.links)
        return self.templates[variant_id]

    def plan(self, edition: Edition, topics: str, fmt: str):
        k = (edition.id, topics, fmt)
        if k not in self.plans:
            self.plans[k] = plan_variant(topics, fmt, edition.items, self.settings.topic_slugs)
        return self.plans[k]


def _prepare(ctx: _Context, c: delivery_db.Claimed, now: datetime):
    """-> (Outcome for a skip) or (variant id to use, message bytes)."""
    from .message import Recipient

    if c.subscriber_id is None:
        return delivery_db.Outcome(c.id, SKIPPED, "member was forgotten")
    reason = is_due(c.status, c.paused, c.frequency, c.edition_frequency)
    if reason:
        return delivery_db.Outcome(c.id, SKIPPED, reason)
    edition = ctx.edition(c.edition_id, c.edition_key)
    plan = ctx.plan(edition, c.topics, c.format)
    if plan is None:
        return delivery_db.Outcome(c.id, SKIPPED, "no article of the edition in the member's topics any more")
    variant_id = c.variant_id
    template = ctx.template(variant_id, c.edition_key)
    if ctx.variant_keys[variant_id] != (plan.key, plan.fmt):
        from .mailing import variant_for

        variant_id = variant_for(ctx.db, ctx.settings, edition, plan, now=now)
        template = ctx.template(variant_id, c.edition_key)
    message = template.assemble(
        Recipient(c.id, c.subscriber_id, c.email, c.name, c.token_version), date=now)
    return variant_id, message


def send_queue(
    db: Database,
    settings: Settings,
    make_transport: Callable[[], Transport],
    options: SendOptions | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    on_progress: Callable[[SendStats, int], None] | None = None,
) -> SendStats:
    """Send every delivery that is due now; return counts. Safe to run in several processes."""
    from .db import subscribers as subscriber_db

    opts = options or SendOptions()
    stats = SendStats()
    ctx = _Context(db, settings)
    limiter = RateLimiter(opts.rate)
    local = threading.local()
    transports: list[Transport] = []
    envelope_from = settings.sender_address

    def send_one(email: str, message: bytes) -> SendResult:
        t = getattr(local, "transport", None)
        if t is None:
            t = local.transport = make_transport()
            with ctx.lock:
                transports.append(t)
        limiter.acquire()
        try:
            return t.send(Envelope(envelope_from, (email,)), message)
        except Exception as exc:  # a transport bug must not lose the delivery
            return SendResult(False, False, None, f"{type(exc).__name__}: {exc}")

    if opts.reclaim:
        with db.begin() as conn:
            delivery_db.release_all_sending(conn)
    pool = ThreadPoolExecutor(max_workers=max(1, opts.connections), thread_name_prefix="digest-send")
    try:
        while opts.limit is None or stats.done < opts.limit:
            want = opts.batch if opts.limit is None else min(opts.batch, opts.limit - stats.done)
            now = clock()
            with db.begin() as conn:
                claimed = delivery_db.claim(conn, now=now, lease_seconds=opts.lease_seconds, limit=want)
            if not claimed:
                break
            stats.batches += 1
            outcomes: list[delivery_db.Outcome] = []
            futures = {}
            for c in claimed:
                prepared = _prepare(ctx, c, now)
                if isinstance(prepared, delivery_db.Outcome):
                    outcomes.append(prepared)
                    continue
                variant_id, message = prepared
                moved = variant_id if variant_id != c.variant_id else None
                futures[pool.submit(send_one, c.email, message)] = (c, moved)
            pending = set(futures)
            fatal = None
            last_record = time.monotonic()
            while pending or outcomes:
                if pending:
                    done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                    for f in done:
                        c, moved = futures[f]
                        result = f.result()
                        if result.fatal:  # the transport itself is broken (bad password, TLS...)
                            fatal = fatal or result.message
                            outcomes.append(delivery_db.Outcome(c.id, QUEUED, f"not sent: {result.message}"))
                        else:
                            outcomes.append(_outcome(c, result, moved, clock(), opts))
                # Record often: what is sent but not recorded is what a crash sends twice.
                due = time.monotonic() - last_record >= opts.record_seconds
                if outcomes and (not pending or len(outcomes) >= opts.record_every or due):
                    _record(db, subscriber_db, outcomes, clock(), opts, stats)
                    outcomes = []
                    last_record = time.monotonic()
            if on_progress:
                on_progress(stats, len(claimed))
            if fatal:
                raise DeliveryError(f"stopped sending: {fatal}")
    finally:
        pool.shutdown(wait=True)
        for t in transports:
            t.close()
    return stats


def _outcome(c, result: SendResult, moved: int | None, now: datetime, opts: SendOptions):
    if result.ok:
        return delivery_db.Outcome(c.id, SENT, variant_id=moved)
    error = f"{result.code or ''} {result.message}".strip()
    if result.permanent:
        return delivery_db.Outcome(c.id, FAILED, error, variant_id=moved)
    attempts = c.attempts + 1
    if attempts >= opts.max_attempts:
        return delivery_db.Outcome(c.id, FAILED, f"gave up after {attempts} attempts: {error}", variant_id=moved)
    retry_at = now + timedelta(seconds=backoff_seconds(attempts))
    return delivery_db.Outcome(c.id, QUEUED, error, retry_at=retry_at, variant_id=moved)


def _record(db: Database, subscriber_db, outcomes, now: datetime, opts: SendOptions, stats: SendStats) -> None:
    hard = [o for o in outcomes if o.state == FAILED and not (o.error or "").startswith("gave up")]
    with db.begin() as conn:
        delivery_db.finish(conn, outcomes, now=now)
        if hard:
            owners = delivery_db.subscribers_of(conn, [o.delivery_id for o in hard])
            for sub_id in owners:
                subscriber_db.record_hard_bounce(conn, sub_id, now=now, limit=opts.hard_bounce_limit)
    for o in outcomes:
        if o.state == SENT:
            stats.sent += 1
        elif o.state == QUEUED:
            stats.retried += 1
        elif o.state == FAILED:
            stats.failed += 1
        else:
            stats.skipped += 1
        if o.error:
            key = o.error.split(":")[0][:60]
            stats.errors[key] = stats.errors.get(key, 0) + 1

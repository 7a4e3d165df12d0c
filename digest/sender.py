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

import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from .config import Settings
from .db import Database
from .db import deliveries as delivery_db
from .db import editions as edition_db
from .db.schema import FAILED, QUEUED, SENT, SKIPPED
from .delivery import Envelope, SendResult, Transport
from .errors import DeliveryError, DigestError
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
        self.stored: dict[int, object] = {}  # variants loaded but not yet compiled
        self.variant_keys: dict[int, tuple[str, str]] = {}
        self.plans: dict[tuple[int, str, str], object] = {}
        self.lock = threading.Lock()

    def edition(self, edition_id: int, key: str) -> Edition:
        if edition_id not in self.editions:
            with self.db.connect() as conn:
                self.editions[edition_id] = edition_db.load_edition(conn, key)
        return self.editions[edition_id]

    def template(self, variant_id: int, edition_key: str, edition_id: int):
        if variant_id not in self.templates:
            from .message import MessageTemplate

            if variant_id not in self.stored:
                # One query for all of the edition's variants, not one per variant:
                # each query costs this thread a GIL hand-off while senders run.
                with self.db.connect() as conn:
                    self.stored.update((v.id, v) for v in edition_db.list_variants(conn, edition_id))
            v = self.stored.pop(variant_id, None)
            if v is None:  # rendered by another sender after we looked
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
    """-> an Outcome (skip), or (variant id to use, its MessageTemplate, the Recipient)."""
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
    template = ctx.template(variant_id, c.edition_key, c.edition_id)
    if ctx.variant_keys[variant_id] != (plan.key, plan.fmt):
        from .mailing import variant_for

        variant_id = variant_for(ctx.db, ctx.settings, edition, plan, now=now)
        template = ctx.template(variant_id, c.edition_key, c.edition_id)
    return variant_id, template, Recipient(c.id, c.subscriber_id, c.email, c.name, c.token_version)


def send_queue(
    db: Database,
    settings: Settings,
    make_transport: Callable[[], Transport],
    options: SendOptions | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    on_progress: Callable[[SendStats, int], None] | None = None,
) -> SendStats:
    """Send every delivery that is due now; return counts. Safe to run in several processes.

    The main thread claims batches, decides who is still due and hands work to
    one thread per connection; each thread assembles its message (so only
    `connections` messages are in memory at once) and sends it on its own
    transport. Outcomes come back on a queue and are recorded in small chunks.
    """
    from .db import subscribers as subscriber_db

    from .dkim import DkimSigner

    opts = options or SendOptions()
    stats = SendStats()
    signer = DkimSigner.from_settings(settings)  # None unless DKIM is configured
    ctx = _Context(db, settings)
    limiter = RateLimiter(opts.rate)
    envelope_from = settings.sender_address
    tasks: queue.Queue = queue.Queue()
    # Results go into a list the main thread picks up a few times a second:
    # waking it for every message would cost a GIL hand-off per message.
    results: list = []
    results_lock = threading.Lock()
    batch_done = threading.Event()
    transports: list[Transport] = []
    state = {"in_flight": 0, "fatal": None, "last": time.monotonic(), "pending": 0, "all_handed_out": False}

    def put_result(item) -> None:
        with results_lock:
            results.append(item)
            state["pending"] -= 1
            if state["pending"] == 0 and state["all_handed_out"]:
                batch_done.set()

    def worker() -> None:
        transport = None
        while (task := tasks.get()) is not None:
            c, moved, template, recipient, now = task
            if state["fatal"]:  # the transport is broken: give the rest back untouched
                put_result((c, moved, None))
                continue
            try:
                if transport is None:
                    transport = make_transport()
                    transports.append(transport)
                message = template.assemble(recipient, date=now)
                if signer is not None:  # over the bytes already built; OpenSSL releases the GIL
                    message = signer.sign(message)
                limiter.acquire()
                result = transport.send(Envelope(envelope_from, (recipient.email,)), message)
            except DigestError as exc:
                result = SendResult(False, True, None, str(exc))
            except Exception as exc:  # a transport bug must not lose the delivery
                result = SendResult(False, False, None, f"{type(exc).__name__}: {exc}")
            put_result((c, moved, result))

    threads = [threading.Thread(target=worker, name=f"digest-send-{i}", daemon=True)
               for i in range(max(1, opts.connections))]
    for t in threads:
        t.start()

    outcomes: list[delivery_db.Outcome] = []

    def collect(timeout: float) -> None:
        """Wait up to `timeout` for the batch to finish, then take the results so far."""
        batch_done.wait(timeout)
        with results_lock:
            ready = results[:]
            results.clear()
        for c, moved, result in ready:
            state["in_flight"] -= 1
            if result is None:
                outcomes.append(delivery_db.Outcome(c.id, QUEUED, None))
            elif result.fatal:  # the transport itself is broken (bad password, TLS...): stop, spend no attempt
                state["fatal"] = state["fatal"] or result.message
                outcomes.append(delivery_db.Outcome(c.id, QUEUED, f"not sent: {result.message}"))
            else:
                outcomes.append(_outcome(c, result, moved, clock(), opts))

    def record(force: bool = False) -> None:
        # Record often: what is sent but not recorded is what a crash sends twice.
        due = time.monotonic() - state["last"] >= opts.record_seconds
        if outcomes and (force or due or len(outcomes) >= opts.record_every):
            _record(db, subscriber_db, outcomes, clock(), opts, stats)
            outcomes.clear()
            state["last"] = time.monotonic()

    try:
        if opts.reclaim:
            with db.begin() as conn:
                delivery_db.release_all_sending(conn)
        while opts.limit is None or stats.done < opts.limit:
            want = opts.batch if opts.limit is None else min(opts.batch, opts.limit - stats.done)
            if opts.rate:  # a batch must be sent well within its lease, or another sender takes it over
                want = min(want, max(1, int(opts.rate * opts.lease_seconds / 2)))
            now = clock()
            with db.begin() as conn:
                claimed = delivery_db.claim(conn, now=now, lease_seconds=opts.lease_seconds, limit=want)
            if not claimed:
                break
            stats.batches += 1
            # Hand the whole batch to the senders at once (tasks are small: the
            # message is assembled by the sending thread), then wait for results
            # with a blocking get: few wake-ups, so the GIL stays with the senders.
            # Each task goes to the senders as soon as it is ready (so they are
            # busy while this thread compiles the next variant); the results
            # are picked up once the whole batch is out.
            batch_done.clear()
            with results_lock:
                state["pending"], state["all_handed_out"] = 0, False
            for c in claimed:
                prepared = _prepare(ctx, c, now)
                if isinstance(prepared, delivery_db.Outcome):
                    outcomes.append(prepared)
                    continue
                variant_id, template, recipient = prepared
                moved = variant_id if variant_id != c.variant_id else None
                with results_lock:
                    state["pending"] += 1
                state["in_flight"] += 1
                tasks.put((c, moved, template, recipient, now))
            with results_lock:
                state["all_handed_out"] = True
                if state["pending"] == 0:
                    batch_done.set()
            while state["in_flight"]:
                collect(opts.record_seconds)
                record()
            record(force=True)
            if on_progress:
                on_progress(stats, len(claimed))
            if state["fatal"]:
                raise DeliveryError(f"stopped sending: {state['fatal']}")
    finally:
        try:  # on an error, what was not handed to a sender stays claimed until its lease ends
            while True:
                tasks.get_nowait()
        except queue.Empty:
            pass
        for _ in threads:
            tasks.put(None)
        for t in threads:
            t.join(timeout=60)
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

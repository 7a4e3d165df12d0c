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
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from ..checks.edition import check_edition
from ..config import Settings
from ..db import Database
from ..db import deliveries as delivery_db
from ..db import editions as edition_db
from ..db import members as member_db
from ..db.schema import FAILED, QUEUED, SENT, SKIPPED
from ..edition.variants import plan_variant
from ..errors import CheckError, DeliveryError, DigestError
from ..message.assemble import MessageTemplate, Recipient
from ..message.outgoing import Outgoing
from ..message.verp import ReturnPath
from ..models import Edition, TopicSet
from .policy import RETRY, SENT_OK, is_due, is_hard_bounce, verdict
from .queue import variant_for
from .transports import Envelope, SendResult, Transport


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
    check: bool = True  # refuse an edition whose messages fail the deliverability checks


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

    def __init__(self, db: Database, settings: Settings, out: Outgoing):
        self.db, self.settings, self.out = db, settings, out
        self.editions: dict[int, Edition] = {}
        self.templates: dict[int, MessageTemplate] = {}
        self.stored: dict[int, object] = {}  # variants loaded but not yet compiled
        self.variant_keys: dict[int, tuple[TopicSet, str]] = {}
        self.plans: dict[tuple[int, str, str], object] = {}

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
            self.variant_keys[variant_id] = (v.topics, v.format)
            self.templates[variant_id] = self.out.template(v.rendered, edition_key=edition_key, fmt=v.format)
        return self.templates[variant_id]

    def plan(self, edition: Edition, topics: TopicSet, fmt: str):
        k = (edition.id, topics, fmt)
        if k not in self.plans:
            self.plans[k] = plan_variant(topics, fmt, edition.items, self.settings.topic_slugs)
        return self.plans[k]


def _prepare(ctx: _Context, c: delivery_db.Claimed, now: datetime):
    """-> an Outcome (skip), or (variant id to use, its MessageTemplate, the Recipient)."""
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

    Refuses (CheckError) an edition whose messages fail the deliverability
    checks before anything is claimed, unless options.check is False.
    """
    opts = options or SendOptions()
    if opts.check:
        preflight(db, settings, now=clock())
    return _SendRun(db, settings, make_transport, opts, clock, on_progress).run()


class _SendRun:
    """One run of the send loop.

    The main thread claims batches, decides who is still due and hands work to
    one thread per connection; each thread assembles its message (so only
    `connections` messages are in memory at once) and sends it on its own
    transport. Outcomes come back in a list the main thread picks up a few
    times a second (waking it for every message would cost a GIL hand-off per
    message) and are recorded in small chunks.
    """

    def __init__(self, db: Database, settings: Settings, make_transport: Callable[[], Transport],
                 opts: SendOptions, clock: Callable[[], datetime],
                 on_progress: Callable[[SendStats, int], None] | None):
        self.db, self.settings, self.make_transport, self.opts = db, settings, make_transport, opts
        self.clock, self.on_progress = clock, on_progress
        self.stats = SendStats()
        self.out = Outgoing(settings)
        self.ctx = _Context(db, settings, self.out)
        self.limiter = RateLimiter(opts.rate)
        self.envelope_from = settings.sender_address
        # VERP: with [bounces] address set, each delivery has its own envelope sender (message/verp.py).
        self.return_path = (ReturnPath(settings.secret_key, settings.bounces.address)
                            if settings.bounces.address else None)
        self.tasks: queue.Queue = queue.Queue()
        self.results: list = []
        self.results_lock = threading.Lock()
        self.batch_done = threading.Event()
        self.transports: list[Transport] = []
        self.outcomes: list[delivery_db.Outcome] = []
        self.in_flight = 0  # handed to senders, result not yet collected (main thread only)
        self.pending = 0  # handed to senders, result not yet back (under results_lock)
        self.all_handed_out = False
        self.fatal: str | None = None
        self.last_record = time.monotonic()

    # -- the sending threads ---------------------------------------------------------------

    def _put_result(self, item) -> None:
        with self.results_lock:
            self.results.append(item)
            self.pending -= 1
            if self.pending == 0 and self.all_handed_out:
                self.batch_done.set()

    def _sender(self) -> None:
        transport = None
        while (task := self.tasks.get()) is not None:
            c, moved, template, recipient, now = task
            if self.fatal:  # the transport is broken: give the rest back untouched
                self._put_result((c, moved, None))
                continue
            if transport is None:
                try:
                    transport = self.make_transport()
                    self.transports.append(transport)
                except Exception as exc:  # no transport at all: the run stops, nobody's attempt is spent
                    self.fatal = self.fatal or str(exc) or type(exc).__name__
                    self._put_result((c, moved, SendResult(False, False, None, str(exc) or type(exc).__name__,
                                                           fatal=True)))
                    continue
            try:
                message = self.out.digest(template, recipient, date=now)
                self.limiter.acquire()
                sender = self.return_path.address(recipient.delivery_id) if self.return_path else self.envelope_from
                result = transport.send(Envelope(sender, (recipient.email,)), message)
            except DigestError as exc:
                result = SendResult(False, True, None, str(exc))
            except Exception as exc:  # a transport bug must not lose the delivery
                result = SendResult(False, False, None, f"{type(exc).__name__}: {exc}")
            if result.fatal:  # stop at once: every sender gives the rest back without trying the relay again
                self.fatal = self.fatal or result.message
            self._put_result((c, moved, result))

    # -- the main thread --------------------------------------------------------------------

    def _collect(self, timeout: float) -> None:
        """Wait up to `timeout` for the batch to finish, then take the results so far."""
        self.batch_done.wait(timeout)
        with self.results_lock:
            ready = self.results[:]
            self.results.clear()
        for c, moved, result in ready:
            self.in_flight -= 1
            if result is None:
                self.outcomes.append(delivery_db.Outcome(c.id, QUEUED, None))
            elif result.fatal:  # the transport itself is broken (bad password, TLS...): stop, spend no attempt
                self.fatal = self.fatal or result.message
                self.outcomes.append(delivery_db.Outcome(c.id, QUEUED, f"not sent: {result.message}"))
            else:
                self.outcomes.append(_outcome(c, result, moved, self.clock(), self.opts))

    def _record(self, force: bool = False) -> None:
        # Record often: what is sent but not recorded is what a crash sends twice.
        due = time.monotonic() - self.last_record >= self.opts.record_seconds
        if self.outcomes and (force or due or len(self.outcomes) >= self.opts.record_every):
            _record(self.db, self.outcomes, self.clock(), self.opts, self.stats, self.settings.bounces.permanent)
            self.outcomes.clear()
            self.last_record = time.monotonic()

    def _claim(self) -> list[delivery_db.Claimed]:
        opts, stats = self.opts, self.stats
        want = opts.batch if opts.limit is None else min(opts.batch, opts.limit - stats.done)
        if opts.rate:  # a batch must be sent well within its lease, or another sender takes it over
            want = min(want, max(1, int(opts.rate * opts.lease_seconds / 2)))
        with self.db.begin() as conn:
            return delivery_db.claim(conn, now=self.clock(), lease_seconds=opts.lease_seconds, limit=want)

    def _hand_out(self, claimed: list[delivery_db.Claimed], now: datetime) -> None:
        """Each task goes to the senders as soon as it is ready (so they are busy while
        this thread compiles the next variant); the results are picked up once the
        whole batch is out. Tasks are small: the sending thread assembles the message."""
        self.batch_done.clear()
        with self.results_lock:
            self.pending, self.all_handed_out = 0, False
        for c in claimed:
            prepared = _prepare(self.ctx, c, now)
            if isinstance(prepared, delivery_db.Outcome):
                self.outcomes.append(prepared)
                continue
            variant_id, template, recipient = prepared
            moved = variant_id if variant_id != c.variant_id else None
            with self.results_lock:
                self.pending += 1
            self.in_flight += 1
            self.tasks.put((c, moved, template, recipient, now))
        with self.results_lock:
            self.all_handed_out = True
            if self.pending == 0:
                self.batch_done.set()

    def run(self) -> SendStats:
        opts, stats = self.opts, self.stats
        threads = [threading.Thread(target=self._sender, name=f"digest-send-{i}", daemon=True)
                   for i in range(max(1, opts.connections))]
        for t in threads:
            t.start()
        try:
            if opts.reclaim:
                with self.db.begin() as conn:
                    delivery_db.release_all_sending(conn)
            while opts.limit is None or stats.done < opts.limit:
                now = self.clock()
                claimed = self._claim()
                if not claimed:
                    break
                stats.batches += 1
                self._hand_out(claimed, now)
                while self.in_flight:
                    self._collect(opts.record_seconds)
                    self._record()
                self._record(force=True)
                if self.on_progress:
                    self.on_progress(stats, len(claimed))
                if self.fatal:
                    raise DeliveryError(f"stopped sending: {self.fatal}")
        finally:
            try:  # on an error, what was not handed to a sender stays claimed until its lease ends
                while True:
                    self.tasks.get_nowait()
            except queue.Empty:
                pass
            for _ in threads:
                self.tasks.put(None)
            for t in threads:
                t.join(timeout=60)
            for t in self.transports:
                t.close()
        return stats


def _outcome(c, result: SendResult, moved: int | None, now: datetime, opts: SendOptions):
    kind, error, retry_in = verdict(result.ok, result.permanent, result.code, result.message, c.attempts,
                                    opts.max_attempts)
    if kind == SENT_OK:
        return delivery_db.Outcome(c.id, SENT, variant_id=moved)
    if kind == RETRY:
        return delivery_db.Outcome(c.id, QUEUED, error, retry_at=now + timedelta(seconds=retry_in),
                                   variant_id=moved)
    return delivery_db.Outcome(c.id, FAILED, error, variant_id=moved)


_STATUS = re.compile(r"(?<![\d.])5\.\d{1,3}\.\d{1,3}(?![\d.])")


def _record(db: Database, outcomes, now: datetime, opts: SendOptions, stats: SendStats,
            permanent: tuple[str, ...] = ()) -> None:
    """permanent: status codes ([bounces] permanent) that make a member bounced at the first refusal."""
    hard = [o for o in outcomes if o.state == FAILED and is_hard_bounce(o.error)]
    at_once = [o.delivery_id for o in hard if (m := _STATUS.search(o.error or "")) and m.group(0) in permanent]
    counted = [o.delivery_id for o in hard if o.delivery_id not in set(at_once)]
    with db.begin() as conn:
        delivery_db.finish(conn, outcomes, now=now)
        for ids, limit in ((at_once, 1), (counted, opts.hard_bounce_limit)):
            for sub_id in delivery_db.subscribers_of(conn, ids) if ids else ():
                member_db.record_hard_bounce(conn, sub_id, now=now, limit=limit)
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

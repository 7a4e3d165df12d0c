"""The send worker: claim deliveries under a lease, assemble, send, record.

One event loop runs every connection of the process: a feeder claims batches
and decides who is still due (in a thread of its own), each connection
assembles (and DKIM-signs) its next message and sends it, and outcomes are
committed in groups (sending.flow). Whether a member is still due is decided
here, at send time, from the member's current row: someone who left or
paused since queueing gets nothing, someone who changed topics or format
gets the matching variant.

Crash safety: a claimed delivery is `sending` until its lease ends. Each
connection holds the final "." of a message until the outcome of its
previous message is committed, so after a kill -9 at most one message per
connection was accepted by the relay without being recorded; those go out
twice when a later `digest send` takes the expired (or --reclaim'ed) leases
over. Nobody is lost: what was claimed and not recorded is sent again.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from ..bounces.apply import record_refusals
from ..bounces.policy import refusal_kind
from ..config import BounceSettings, Settings
from ..db import Database
from ..db import deliveries as delivery_db
from ..db.schema import FAILED, QUEUED, SENT
from ..errors import DeliveryError, DigestError
from ..message.assemble import MessageTemplate, Recipient
from ..message.outgoing import Outgoing
from ..message.verp import ReturnPath
from .flow import Concurrency, GroupCommitter, RateLimiter
from .policy import RETRY, SENT_OK, verdict
from .prepare import Context, prepare, preflight
from .transports import Envelope, SendResult, Transport
from .transports.pipelined import Dropped, RelayUnusable, SmtpRelay, ThreadedConnection


@dataclass
class SendOptions:
    connections: int = 1  # at most this many at once (fewer while the relay says it has too many)
    rate: float | None = None  # messages per second, all connections together
    limit: int | None = None
    reclaim: bool = False
    lease_seconds: float = 300.0
    batch: int = 200
    max_attempts: int = 8
    check: bool = True  # refuse an edition whose messages fail the deliverability checks
    max_per_connection: int = 100  # then QUIT and reconnect (many relays drop a connection after ~100)
    processes: int = 1  # sending.processes.send_all runs this many; send_queue is always one
    stop: Callable[[], bool] | None = None  # polled: True asks this run to stop (another process failed)
    busy_limit: int = 30  # "too many connections" this many times in a row with nothing sent: stop
    commit_interval: float = 0.01  # seconds from one group commit to the next, at least (fewer, bigger commits)


@dataclass
class SendStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    batches: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    requeued: int = 0  # handed to another connection after a 421 or a drop: no attempt spent
    busy: int = 0  # times the relay said it had too many connections (421)
    connections: int = 0  # open now
    concurrency: int = 0  # allowed now (AIMD)
    lowest_concurrency: int = 0
    rate: float = 0.0  # deliveries done a second, over the last few seconds
    sessions: int = 0  # connections opened in all
    processes: int = 1  # sender processes whose counts these are

    @property
    def done(self) -> int:
        return self.sent + self.retried + self.failed + self.skipped


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def send_queue(
    db: Database,
    settings: Settings,
    transports: "Callable[[], Transport] | SmtpRelay",
    options: SendOptions | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    on_progress: Callable[[SendStats, int], None] | None = None,
) -> SendStats:
    """Send every delivery that is due now, in this process; return counts. Safe to run in several.

    `transports` is an SmtpRelay (the pipelined asyncio client: the fast way
    to a real relay) or a factory of Transports (file, memory, smtplib), one
    per connection. Refuses (CheckError) an edition whose messages fail the
    deliverability checks before anything is claimed, unless options.check
    is False. (sending.processes.send_all runs it in several processes.)
    """
    opts = options or SendOptions()
    if opts.check:
        preflight(db, settings, now=clock())
    def run() -> SendStats:
        return asyncio.run(_SendRun(db, settings, transports, opts, clock, on_progress).run())

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    # The caller runs an event loop in this thread (Playwright's sync API does): ours goes beside it.
    with ThreadPoolExecutor(1, thread_name_prefix="digest-send-loop") as beside:
        return beside.submit(run).result()


@dataclass
class _Task:
    claimed: delivery_db.Claimed
    moved: int | None  # re-planned to this variant
    template: MessageTemplate
    recipient: Recipient
    now: datetime
    requeues: int = 0
    held: bool = False  # in a connection's hands, outcome not yet given nor handed back to the queue


class _SendRun:
    """One run of the send loop (everything here runs on one event loop, except claims)."""

    def __init__(self, db: Database, settings: Settings, transports, opts: SendOptions,
                 clock: Callable[[], datetime], on_progress: Callable[[SendStats, int], None] | None):
        self.db, self.settings, self.opts = db, settings, opts
        self.clock, self.on_progress = clock, on_progress
        self.relay = transports if isinstance(transports, SmtpRelay) else None
        self.make_transport = None if self.relay else transports
        self.stats = SendStats()
        self.out = Outgoing(settings)
        self.ctx = Context(db, settings, self.out)
        self.envelope_from = settings.sender_address
        # VERP: with [bounces] address set, each delivery has its own envelope sender (message/verp.py).
        self.return_path = (ReturnPath(settings.secret_key, settings.bounces.address)
                            if settings.bounces.address else None)
        self.width = max(1, opts.connections)
        self.fatal: str | None = None
        self.outstanding = 0  # tasks handed to the connections, outcome not yet given
        self.busy_streak = 0  # "too many connections" in a row, with nothing sent between

    async def run(self) -> SendStats:
        loop = asyncio.get_running_loop()
        _enough_files(self.width)
        self.claim_thread = ThreadPoolExecutor(1, thread_name_prefix="digest-claim")
        self.send_pool = None if self.relay else ThreadPoolExecutor(self.width, thread_name_prefix="digest-send")
        # DKIM's RSA step (about 0.8 ms a message) runs in OpenSSL without the GIL: in
        # a thread of its own it no longer stalls every other connection's replies.
        self.sign_pool = ThreadPoolExecutor(1, thread_name_prefix="digest-sign") if self.out.signer else None
        self.concurrency = Concurrency(self.width)
        self.limiter = RateLimiter(self.opts.rate)
        self.tasks: asyncio.Queue = asyncio.Queue()
        self.all_resolved = asyncio.Event()
        self.all_resolved.set()
        self.committer: GroupCommitter = GroupCommitter(self._record, interval=self.opts.commit_interval)
        reporter = loop.create_task(self._progress())
        try:
            workers = [loop.create_task(self._connection()) for _ in range(self.width)]
            done = await asyncio.gather(loop.create_task(self._feed()), *workers, return_exceptions=True)
            await self.committer.close()
            for outcome in done:
                if isinstance(outcome, BaseException):
                    raise outcome
            if self.committer.error is not None:
                raise self.committer.error
        finally:
            reporter.cancel()
            self.claim_thread.shutdown(wait=True)
            for pool in (self.send_pool, self.sign_pool):
                if pool is not None:
                    pool.shutdown(wait=True)
            self._snapshot()
        if self.on_progress:
            self.on_progress(self.stats, 0)
        if self.fatal:
            raise DeliveryError(f"stopped sending: {self.fatal}")
        return self.stats

    # -- outcomes ------------------------------------------------------------------------

    async def _record(self, outcomes) -> None:
        # In the loop's own thread: a commit is short, and in a thread of its own it
        # would wait for the GIL behind the busy loop (milliseconds a hand-off), which
        # every held "." would then wait for too.
        _record(self.db, list(outcomes), self.clock(), self.opts, self.stats, self.settings.bounces)

    def _resolved(self, outcome: delivery_db.Outcome, task: _Task | None = None) -> asyncio.Future:
        if task is not None:
            task.held = False
        self.outstanding -= 1
        if self.outstanding == 0:
            self.all_resolved.set()
        return self.committer.add(outcome)

    def _give_back(self, task: _Task) -> asyncio.Future:
        return self._resolved(delivery_db.Outcome(task.claimed.id, QUEUED, None), task)  # untouched: no attempt spent

    def _stopping(self) -> bool:
        return bool(self.fatal or self.committer.error or (self.opts.stop and self.opts.stop()))

    # -- claims ----------------------------------------------------------------------------

    def _claim_and_prepare(self, want: int, now: datetime) -> list:
        with self.db.begin() as conn:
            claimed = delivery_db.claim(conn, now=now, lease_seconds=self.opts.lease_seconds, limit=want)
        out = []
        for c in claimed:
            prepared = prepare(self.ctx, c, now)
            if isinstance(prepared, delivery_db.Outcome):
                out.append(prepared)
            else:
                variant_id, template, recipient = prepared
                out.append(_Task(c, variant_id if variant_id != c.variant_id else None, template, recipient, now))
        return out

    async def _feed(self) -> None:
        opts, loop = self.opts, asyncio.get_running_loop()
        claimed_total = 0
        try:
            if opts.reclaim:
                await loop.run_in_executor(self.claim_thread, _release_all, self.db)
            while not self._stopping() and (opts.limit is None or claimed_total < opts.limit):
                # Claim ahead while the connections still have work; with --rate not at
                # all, so what is claimed is sent well within its lease.
                low_water = 0 if opts.rate else max(self.width, opts.batch // 2)
                while self.tasks.qsize() > low_water and not self._stopping():
                    await asyncio.sleep(0.005)
                want = opts.batch if opts.limit is None else min(opts.batch, opts.limit - claimed_total)
                if opts.rate:  # a batch must be sent well within its lease, or another sender takes it over
                    want = min(want, max(1, int(opts.rate * opts.lease_seconds / 2)))
                batch = await loop.run_in_executor(self.claim_thread, self._claim_and_prepare, want, self.clock())
                if not batch:
                    break
                self.stats.batches += 1
                claimed_total += len(batch)
                for item in batch:
                    if isinstance(item, delivery_db.Outcome):
                        self.committer.add(item)
                    else:
                        self.outstanding += 1
                        self.all_resolved.clear()
                        self.tasks.put_nowait(item)
            await self.all_resolved.wait()
        finally:
            for _ in range(self.width):
                self.tasks.put_nowait(None)

    # -- connections -----------------------------------------------------------------------

    async def _open(self):
        if self.relay is not None:
            return await self.relay.connect()
        try:
            transport = await asyncio.get_running_loop().run_in_executor(self.send_pool, self.make_transport)
        except Exception as exc:  # no transport at all: the run stops, nobody's attempt is spent
            raise RelayUnusable(str(exc) or type(exc).__name__) from None
        return ThreadedConnection(transport, self.send_pool)

    async def _connection(self) -> None:
        """One connection's life: take a place, then tasks; send each, holding its "." for the last commit."""
        opts, concurrency = self.opts, self.concurrency
        prev: asyncio.Future | None = None  # the commit of this connection's previous outcome
        conn = task = None
        # A place among the connections allowed now is taken before a task, so that no
        # worker sits on a task while waiting for a place another worker holds idle.
        placed = False
        try:
            while True:
                if not placed:
                    await concurrency.acquire()
                    placed = True
                task = await self.tasks.get()
                if task is None:
                    break
                task.held = True
                if self._stopping():
                    self._give_back(task)
                    continue
                if conn is None:
                    try:
                        conn = await self._open()
                    except Dropped as exc:
                        concurrency.release()
                        placed = False
                        await self._requeue(task, exc)
                        continue
                    except RelayUnusable as exc:
                        self.fatal = self.fatal or exc.result.message
                        self._give_back(task)
                        continue
                    self.stats.sessions += 1
                try:
                    if self.sign_pool is None:
                        message = self.out.digest(task.template, task.recipient, date=task.now)
                    else:
                        message = await self.out.digest_beside(self.sign_pool, task.template, task.recipient,
                                                               date=task.now)
                    await self.limiter.acquire()
                    sender = (self.return_path.address(task.recipient.delivery_id) if self.return_path
                              else self.envelope_from)
                    result = await conn.send(Envelope(sender, (task.recipient.email,)), message, hold=prev)
                except Dropped as exc:
                    conn, placed = None, False
                    concurrency.release()
                    await self._requeue(task, exc)
                    continue
                except DigestError as exc:
                    result = SendResult(False, True, None, str(exc))
                except Exception as exc:  # noqa: BLE001 - a transport bug must not lose the delivery
                    if self.committer.error is not None:  # recording failed: this message did not complete
                        self._give_back(task)
                        conn = await _close(conn)
                        continue
                    result = SendResult(False, False, None, f"{type(exc).__name__}: {exc}")
                if result.fatal:  # the transport itself is broken (bad password, TLS...): stop, spend no attempt
                    self.fatal = self.fatal or result.message
                    prev = self._resolved(delivery_db.Outcome(task.claimed.id, QUEUED, f"not sent: {result.message}"),
                                          task)
                    conn = await _close(conn)
                    continue
                if result.ok:
                    self.busy_streak = 0
                    concurrency.success()
                prev = self._resolved(_outcome(task.claimed, result, task.moved, self.clock(), opts), task)
                if conn.closed or conn.messages >= opts.max_per_connection:
                    conn = await _close(conn)
                if concurrency.over():
                    conn = await _close(conn)
                    concurrency.release()
                    placed = False
        except Exception as exc:  # a bug: stop the run, and give back what this connection held
            self.fatal = self.fatal or f"{type(exc).__name__}: {exc}"
            if task is not None and task.held:
                self._give_back(task)
            raise
        finally:
            await _close(conn)
            if placed:
                concurrency.release()

    async def _requeue(self, task: _Task, exc: Dropped) -> None:
        """The message did not go: another connection sends it, without spending an attempt."""
        self.stats.requeued += 1
        task.requeues += 1
        if exc.busy:
            self.stats.busy += 1
            self.busy_streak += 1
            self.concurrency.decrease()
        if self.busy_streak >= self.opts.busy_limit:
            self.fatal = self.fatal or f"the relay keeps refusing connections: {exc.reason}"
            self._give_back(task)
            return
        if task.requeues > 5:  # the relay keeps dropping this one: count it as a temporary failure
            self._resolved(_outcome(task.claimed, SendResult(False, False, None, exc.reason), task.moved,
                                    self.clock(), self.opts), task)
            return
        task.held = False
        self.tasks.put_nowait(task)
        if exc.busy:  # give the relay a moment before this worker tries again
            await asyncio.sleep(min(5.0, 0.05 * 2 ** min(self.busy_streak, 7)))

    # -- progress --------------------------------------------------------------------------

    def _snapshot(self) -> None:
        c = self.concurrency
        self.stats.connections, self.stats.concurrency, self.stats.lowest_concurrency = c.in_use, int(c.limit), c.lowest

    async def _progress(self) -> None:
        window: list[tuple[float, int]] = []
        while True:
            now = time.monotonic()
            window.append((now, self.stats.done))
            while len(window) > 2 and now - window[0][0] > 5:
                window.pop(0)
            t0, d0 = window[0]
            self.stats.rate = (self.stats.done - d0) / (now - t0) if now > t0 else 0.0
            self._snapshot()
            if self.on_progress:
                self.on_progress(self.stats, 0)
            await asyncio.sleep(0.5)


async def _close(conn) -> None:
    if conn is not None:
        await conn.quit()
    return None


def _enough_files(connections: int) -> None:
    """A socket per connection: raise the soft limit on open files (often 1024) as far as allowed."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = connections + 256
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY else min(want, hard),
                                                        hard))
    except (ImportError, ValueError, OSError):
        pass


def _release_all(db: Database) -> None:
    with db.begin() as conn:
        delivery_db.release_all_sending(conn)


def _outcome(c, result: SendResult, moved: int | None, now: datetime, opts: SendOptions):
    kind, error, retry_in = verdict(result.ok, result.permanent, result.code, result.message, c.attempts,
                                    opts.max_attempts)
    if kind == SENT_OK:
        return delivery_db.Outcome(c.id, SENT, variant_id=moved)
    if kind == RETRY:
        return delivery_db.Outcome(c.id, QUEUED, error, retry_at=now + timedelta(seconds=retry_in),
                                   variant_id=moved)
    return delivery_db.Outcome(c.id, FAILED, error, variant_id=moved)


def _record(db: Database, outcomes, now: datetime, opts: SendOptions, stats: SendStats,
            policy: BounceSettings = BounceSettings()) -> None:
    """Commit a group of outcomes; what each refusal does to its member is the bounce table's (bounces.apply)."""
    refused = {o.delivery_id: refusal_kind(o.error, policy) for o in outcomes if o.state == FAILED}
    with db.begin() as conn:
        delivery_db.finish(conn, outcomes, now=now)
        if refused:
            record_refusals(conn, refused, now=now, policy=policy)
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

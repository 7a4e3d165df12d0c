"""The send worker: claim deliveries under a lease, assemble, send, record.

One event loop runs every connection of the process: a feeder claims batches
and decides who is still due (in a thread of its own), each connection
assembles (and DKIM-signs) its next message and sends it, and outcomes are
committed in groups (sending.flow). Whether a member is still due is decided
here, at send time, from the member's current row: someone who left or
paused since queueing gets nothing, someone who changed topics or format
gets the matching variant.

Leases (sending.lease): a live run renews what it holds and claims only what
it can send within its lease, and an outcome is recorded only under the
claim that still holds the delivery, so a slow relay never makes a live
run's deliveries look abandoned.

One round trip a message: on a relay with PIPELINING a connection's held
"." goes out with the next message's MAIL FROM, RCPT TO and DATA
(sending/transports/pipelined.py, send_next); the slot keeps that held task, and
sends its "." alone when nothing waits in the queue, or with QUIT when the
connection ends. A relay that answers out of step makes that slot's next
connections take two round trips (send()).

Crash safety: a claimed delivery is `sending` until its lease ends. Each
connection holds the final "." of a message until the outcome of its
previous message is committed, so after a kill -9 at most one message per
connection was accepted by the relay without being recorded; those go out
twice when a later `digest send` takes the expired (or --reclaim'ed) leases
over. Nobody is lost: what was claimed and not recorded is sent again.
"""

from __future__ import annotations

import asyncio
import sys
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
from .lease import Lease, LeaseExpired
from .policy import RETRY, SENT_OK, verdict
from .prepare import Context, prepare, preflight
from .transports import (AsyncConnection, AsyncTransport, Dropped, Envelope, RelayUnusable, SendResult, TimedOut,
                         Transport)
from .transports.threaded import ThreadedTransport


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
    # Seconds from one group commit to the next, at least. 0: a commit starts as soon as the last one
    # ends (outcomes that came in meanwhile go together). With one round trip a message every "." waits
    # for its commit, so a wait here is on every message's path (at 80 ms, 10 ms of it cost ~10%).
    commit_interval: float = 0.0


@dataclass
class SendStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    batches: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    requeued: int = 0  # handed to another connection after a 421 or a drop: no attempt spent
    given_back: int = 0  # back to the queue never attempted (the run stopped, or the relay timed out)
    timeouts: int = 0  # steps the relay did not answer in time: given back to the queue, no attempt spent
    lost: int = 0  # claims another sender took over (this run stalled past its lease): not sent, not recorded
    busy: int = 0  # times the relay said it had too many connections (421)
    connections: int = 0  # open now
    concurrency: int = 0  # allowed now (AIMD)
    lowest_concurrency: int = 0
    rate: float = 0.0  # deliveries done a second, over the last few seconds
    sessions: int = 0  # connections opened in all
    processes: int = 1  # sender processes whose counts these are
    fallbacks: int = 0  # connections that fell back to two round trips (the relay answered out of step)

    @property
    def done(self) -> int:
        return self.sent + self.retried + self.failed + self.skipped


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def send_queue(
    db: Database,
    settings: Settings,
    transports: "AsyncTransport | Callable[[], Transport]",
    options: SendOptions | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    on_progress: Callable[[SendStats, int], None] | None = None,
) -> SendStats:
    """Send every delivery that is due now, in this process; return counts. Safe to run in several.

    `transports` is an AsyncTransport (SmtpRelay, the pipelined asyncio
    client: the fast way to a real relay) or a factory of Transports (file,
    memory, smtplib), one per connection, run in threads. Refuses (CheckError) an edition whose messages fail the
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


@dataclass
class _Slot:
    """One connection's state: its session, its place among those allowed, its last outcome's commit."""

    conn: AsyncConnection | None = None  # opened when first needed
    placed: bool = False
    prev: asyncio.Future | None = None  # the commit of this connection's previous outcome
    task: _Task | None = None  # the one in hand
    pending: _Task | None = None  # its body written, its "." held (one round trip a message)
    two_trips: bool = False  # the relay answered this slot's pipelined commands out of step: two round trips


class _SendRun:
    """One run of the send loop (everything here runs on one event loop, except claims)."""

    def __init__(self, db: Database, settings: Settings, transports, opts: SendOptions,
                 clock: Callable[[], datetime], on_progress: Callable[[SendStats, int], None] | None):
        self.db, self.settings, self.opts = db, settings, opts
        self.clock, self.on_progress = clock, on_progress
        self.transports = transports
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
        self.timeout_streak = 0  # steps the relay did not answer in time, in a row, with nothing sent between

    async def run(self) -> SendStats:
        switch = sys.getswitchinterval()
        # The claims (and DKIM, and the heartbeat) run in threads beside the loop: the loop gets the
        # GIL back after a read or write within this, not 5 ms, while a claim of 500 is being prepared.
        sys.setswitchinterval(min(switch, 0.0005))
        try:
            return await self._run()
        finally:
            sys.setswitchinterval(switch)

    async def _run(self) -> SendStats:
        loop = asyncio.get_running_loop()
        _enough_files(self.width)
        self.claim_thread = ThreadPoolExecutor(1, thread_name_prefix="digest-claim")
        if isinstance(self.transports, AsyncTransport):
            self.transport, self.send_pool = self.transports, None
        else:
            self.send_pool = ThreadPoolExecutor(self.width, thread_name_prefix="digest-send")
            self.transport = ThreadedTransport(self.transports, self.send_pool)
        # DKIM's RSA step (about 0.8 ms a message) runs in OpenSSL without the GIL: in
        # a thread of its own it no longer stalls every other connection's replies.
        self.sign_pool = ThreadPoolExecutor(1, thread_name_prefix="digest-sign") if self.out.signer else None
        self.concurrency = Concurrency(self.width)
        self.limiter = RateLimiter(self.opts.rate)
        self.tasks: asyncio.Queue = asyncio.Queue()
        self.all_resolved = asyncio.Event()
        self.all_resolved.set()
        self.committer: GroupCommitter = GroupCommitter(self._record, interval=self.opts.commit_interval)
        # The heartbeat has a thread of its own: a long claim (a variant rendered for a
        # member who changed topics) must not delay the renewal of what we hold.
        self.beat_thread = ThreadPoolExecutor(1, thread_name_prefix="digest-lease")
        self.lease = Lease(self.opts.lease_seconds, self._renew)
        self.started = time.monotonic()
        reporter, keeper = loop.create_task(self._progress()), loop.create_task(self.lease.keep())
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
            keeper.cancel()
            self.claim_thread.shutdown(wait=True)
            for pool in (self.send_pool, self.sign_pool, self.beat_thread):
                if pool is not None:
                    pool.shutdown(wait=True)
            self._snapshot()
        if self.on_progress:
            self.on_progress(self.stats, 0)
        if self.fatal:
            error = DeliveryError(f"stopped sending: {self.fatal}")
            error.stats = self.stats  # what was done before the stop, for the summary
            raise error
        return self.stats

    # -- outcomes ------------------------------------------------------------------------

    async def _record(self, outcomes) -> None:
        # In the loop's own thread: a commit is short, and in a thread of its own it
        # would wait for the GIL behind the busy loop (milliseconds a hand-off), which
        # every held "." would then wait for too.
        outcomes = list(outcomes)
        _record(self.db, outcomes, self.clock(), self.opts, self.stats, self.settings.bounces)
        self.lease.done(o.delivery_id for o in outcomes)

    async def _renew(self) -> set[int]:
        return await asyncio.get_running_loop().run_in_executor(self.beat_thread, self._renew_now)

    def _renew_now(self) -> set[int]:
        with self.db.begin() as conn:
            return delivery_db.renew(conn, claimant=self.lease.claimant, now=self.clock(),
                                     lease_seconds=self.opts.lease_seconds)

    def _resolved(self, outcome: delivery_db.Outcome, task: _Task | None = None) -> asyncio.Future:
        if task is not None:
            task.held = False
        self.outstanding -= 1
        if self.outstanding == 0:
            self.all_resolved.set()
        return self.committer.add(outcome)

    def _give_back(self, task: _Task, error: str | None = None) -> asyncio.Future:
        """Untouched: back to the queue, no attempt spent (counted as given back, not as a retry)."""
        return self._resolved(delivery_db.Outcome(task.claimed.id, QUEUED, error, claim=task.claimed.claim), task)

    def _drop(self, task: _Task) -> None:
        """Taken over by another sender: not ours to send nor to record."""
        task.held = False
        self.outstanding -= 1
        if self.outstanding == 0:
            self.all_resolved.set()
        self.stats.lost += 1
        self.lease.done((task.claimed.id,))

    def _stopping(self) -> bool:
        return bool(self.fatal or self.committer.error or (self.opts.stop and self.opts.stop()))

    # -- claims ----------------------------------------------------------------------------

    def _claim_and_prepare(self, want: int, now: datetime) -> list:
        with self.db.begin() as conn:
            claimed = delivery_db.claim(conn, now=now, lease_seconds=self.opts.lease_seconds, limit=want,
                                        claimant=self.lease.claimant)
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
                want = await self._claim_size(claimed_total)
                if not want:
                    break
                self.lease.claiming = time.monotonic()  # these leases start now, whenever the claim commits
                try:
                    batch = await loop.run_in_executor(self.claim_thread, self._claim_and_prepare, want, self.clock())
                finally:
                    self.lease.claiming = None
                if not batch:
                    break
                self.stats.batches += 1
                claimed_total += len(batch)
                self._hand_out(batch)
            await self.all_resolved.wait()
        finally:
            for _ in range(self.width):
                self.tasks.put_nowait(None)

    async def _claim_size(self, claimed_total: int) -> int:
        """Wait until more is wanted; then how many to claim (0: stopping).

        Claim ahead while the connections still have work (with --rate not at
        all), and never more than this run can send in half a lease at the rate
        it achieves: what it claims, it sends well within the lease.
        """
        opts = self.opts
        low_water = 0 if opts.rate else max(self.width, opts.batch // 2)
        while not self._stopping():
            room = self.lease.room(self._rate(), 1 if opts.rate else 2 * self.width)
            if room > 0 and self.tasks.qsize() <= low_water:
                return min(opts.batch, room, opts.limit - claimed_total if opts.limit is not None else room)
            await asyncio.sleep(0.005)
        return 0

    def _rate(self) -> float | None:
        """Deliveries done a second, as achieved and within --rate; None before the first is done."""
        done, elapsed = self.stats.done, time.monotonic() - self.started
        achieved = self.stats.rate if self.stats.rate and elapsed >= 1 else (done / elapsed if done else None)
        if self.opts.rate:
            return min(achieved or self.opts.rate, self.opts.rate)
        return achieved

    def _hand_out(self, batch: list) -> None:
        for item in batch:
            if isinstance(item, delivery_db.Outcome):
                self.committer.add(item)
            else:
                self.outstanding += 1
                self.all_resolved.clear()
                self.lease.claimed((item.claimed.id,))
                self.tasks.put_nowait(item)

    # -- connections -----------------------------------------------------------------------

    async def _connection(self) -> None:
        """One connection's life: take a place, then tasks; send each, holding its "." for the last commit."""
        slot = _Slot()
        try:
            while True:
                if not slot.placed:
                    # A place among the connections allowed now is taken before a task, so that no
                    # worker sits on a task while waiting for a place another worker holds idle.
                    await self.concurrency.acquire()
                    slot.placed = True
                if slot.pending is not None and self.tasks.empty():
                    await self._finish(slot)  # nothing to go with it: the held "." goes alone, now
                    continue
                task = slot.task = await self.tasks.get()
                if task is None:
                    break
                task.held = True
                if await self._ready(slot, task):
                    await self._send(slot, task)
        except Exception as exc:  # a bug: stop the run, and give back what this connection held
            self.fatal = self.fatal or f"{type(exc).__name__}: {exc}"
            for held in (slot.task, slot.pending):
                if held is not None and held.held:
                    self._give_back(held)
            raise
        finally:
            await _close(slot.conn)  # a message still held is not completed: it did not go
            if slot.placed:
                self.concurrency.release()

    async def _ready(self, slot: _Slot, task: _Task) -> bool:
        """May this task be sent now, on an open connection? If not, it is handed on (False)."""
        if self._stopping():
            self._give_back(task)
            return False
        try:
            if not await self.lease.holds(task.claimed.id):
                self._drop(task)
                return False
        except LeaseExpired as exc:
            self.fatal = self.fatal or str(exc)
            self._give_back(task)
            return False
        if slot.conn is not None:
            return True
        try:
            slot.conn = await self.transport.connect()
        except Dropped as exc:
            self._unplace(slot)
            await self._requeue(task, exc)
            return False
        except TimedOut as exc:
            self._timed_out(slot, task, exc)
            return False
        except RelayUnusable as exc:
            self.fatal = self.fatal or exc.result.message
            self._give_back(task)
            return False
        self.stats.sessions += 1
        return True

    def _unplace(self, slot: _Slot) -> None:
        slot.conn = None
        if slot.placed:
            slot.placed = False
            self.concurrency.release()

    async def _send(self, slot: _Slot, task: _Task) -> None:
        """Assemble and send one message on the slot's connection, then hand its outcome to the committer."""
        try:
            if self.sign_pool is None:
                message = self.out.digest(task.template, task.recipient, date=task.now)
            else:
                message = await self.out.digest_beside(self.sign_pool, task.template, task.recipient, date=task.now)
        except DigestError as exc:
            return self._settle(slot, task, SendResult(False, True, None, str(exc)))
        await self.limiter.acquire()
        sender = self.return_path.address(task.recipient.delivery_id) if self.return_path else self.envelope_from
        envelope = Envelope(sender, (task.recipient.email,))
        if slot.conn.one_trip and not slot.two_trips:
            return await self._send_next(slot, task, envelope, message)
        try:
            result = await slot.conn.send(envelope, message, hold=slot.prev)
        except Dropped as exc:
            self._unplace(slot)
            await self._requeue(task, exc)
            return
        except TimedOut as exc:
            self._timed_out(slot, task, exc)
            return
        except Exception as exc:  # noqa: BLE001 - a transport bug must not lose the delivery
            if self.committer.error is not None:  # recording failed: this message did not complete
                self._give_back(task)
                slot.conn = await _close(slot.conn)
                return
            result = SendResult(False, False, None, f"{type(exc).__name__}: {exc}")
        self._settle(slot, task, result)
        await self._after_send(slot)

    async def _send_next(self, slot: _Slot, task: _Task, envelope: Envelope, message: bytes) -> None:
        """One round trip: the held message's "." goes with this one's commands; this one is held after."""
        held = slot.pending
        try:
            before, result = await slot.conn.send_next(envelope, message, hold=slot.prev)
        except (Dropped, TimedOut) as exc:
            slot.pending = None
            self._held_lost(slot, held, exc)
            if isinstance(exc, TimedOut):
                return self._timed_out(slot, task, exc)
            self._unplace(slot)
            return await self._requeue(task, exc)
        except Exception as exc:  # noqa: BLE001 - a transport bug (or a failed commit) must not lose them
            slot.pending = None
            bug = SendResult(False, False, None, f"{type(exc).__name__}: {exc}")
            for one in (held, task):
                if one is None:
                    continue
                if self.committer.error is not None:  # recording failed: neither completed
                    self._give_back(one)
                else:
                    self._settle(slot, one, bug)
            slot.conn = await _close(slot.conn)
            return
        if before is not None:
            slot.pending = None
            self._settle(slot, held, before)
        if result is None:
            slot.pending = task
        else:
            self._settle(slot, task, result)
        await self._after_send(slot)
        if before is not None:
            # The committer goes first: it takes this outcome (and every other one the same wake-up
            # brought) before the connections assemble their next messages, whose "." waits for it.
            await asyncio.sleep(0)

    def _held_lost(self, slot: _Slot, held: _Task | None, exc: Dropped | TimedOut) -> None:
        """The connection broke with a message held: its outcome if known, else it goes again, no attempt spent."""
        if isinstance(exc, Dropped) and exc.out_of_step:
            slot.two_trips = True  # this connection's successor takes two round trips a message
            self.stats.fallbacks += 1
        if held is None:
            return
        previous = exc.previous if isinstance(exc, Dropped) else None
        if previous is not None:
            self._settle(slot, held, previous)
        elif isinstance(exc, TimedOut):  # its "." went out unanswered: it may have gone
            self._give_back(held, f"not sent: {exc.reason}")
        else:  # its "." never reached the relay
            self.stats.requeued += 1
            held.requeues += 1
            self._again(held, exc.reason)

    async def _finish(self, slot: _Slot, *, quit: bool = False) -> None:
        """The held message's "." alone (with QUIT when the connection ends): its outcome."""
        held, slot.pending = slot.pending, None
        try:
            result = await slot.conn.finish(hold=slot.prev, quit=quit)
        except (Dropped, TimedOut) as exc:
            self._held_lost(slot, None, exc)
            if isinstance(exc, TimedOut):
                return self._timed_out(slot, held, exc)
            self._unplace(slot)
            if exc.previous is not None:
                return self._settle(slot, held, exc.previous)
            return await self._requeue(held, exc)
        except Exception as exc:  # noqa: BLE001 - as in _send: a failed commit gives it back
            if self.committer.error is not None:
                self._give_back(held)
                slot.conn = await _close(slot.conn)
                return
            result = SendResult(False, False, None, f"{type(exc).__name__}: {exc}")
        self._settle(slot, held, result)
        if slot.conn is not None and slot.conn.closed:
            slot.conn = None

    def _settle(self, slot: _Slot, task: _Task, result: SendResult) -> None:
        """A message's outcome to the committer; the next "." of this connection waits for its commit."""
        if result.fatal:  # the transport itself is broken (bad password, TLS...): stop, spend no attempt
            self.fatal = self.fatal or result.message
            slot.prev = self._give_back(task, f"not sent: {result.message}")
            return
        if result.ok:
            self.busy_streak = self.timeout_streak = 0
            self.concurrency.success()
        slot.prev = self._resolved(_outcome(task.claimed, result, task.moved, self.clock(), self.opts), task)

    async def _after_send(self, slot: _Slot) -> None:
        """Close the connection when it is done for (broken, fatal, enough messages, too many connections)."""
        conn = slot.conn
        if conn is None:
            return
        if conn.closed or self.fatal or conn.messages >= self.opts.max_per_connection:
            await self._close_slot(slot)
        if self.concurrency.over():
            await self._close_slot(slot)
            self._unplace(slot)

    async def _close_slot(self, slot: _Slot) -> None:
        """End the slot's session: a held "." goes with QUIT, in one write."""
        if slot.pending is not None:
            if slot.conn is not None and not slot.conn.closed:
                await self._finish(slot, quit=True)
            else:  # the connection is gone and the "." never went: it goes again, no attempt spent
                held, slot.pending = slot.pending, None
                self._held_lost(slot, held, Dropped("connection closed"))
        slot.conn = await _close(slot.conn)

    def _timed_out(self, slot: _Slot, task: _Task, exc: TimedOut) -> None:
        """The relay did not answer in time: the delivery goes back to the queue, no attempt spent."""
        self._unplace(slot)
        self._give_back(task, f"not sent: {exc.reason}")
        self.stats.timeouts += 1
        self.timeout_streak += 1
        if self.timeout_streak >= self.settings.smtp.timeouts_in_a_row:
            self.fatal = self.fatal or f"the relay timed out {self.timeout_streak} times in a row: {exc.reason}"

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
        self._again(task, exc.reason)
        if exc.busy:  # give the relay a moment before this worker tries again
            await asyncio.sleep(min(5.0, 0.05 * 2 ** min(self.busy_streak, 7)))

    def _again(self, task: _Task, reason: str) -> None:
        """Back in the queue for another connection; after 5 times, a temporary failure (the relay keeps dropping it)."""
        if task.requeues > 5:
            self._resolved(_outcome(task.claimed, SendResult(False, False, None, reason), task.moved,
                                    self.clock(), self.opts), task)
            return
        task.held = False
        self.tasks.put_nowait(task)

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
    if kind == SENT_OK:  # a statutory notice keeps the relay's answer as evidence (announcements.evidence)
        reply = result.message if c.edition_kind == "statutory" else None
        return delivery_db.Outcome(c.id, SENT, variant_id=moved, claim=c.claim, reply=reply)
    if kind == RETRY:
        return delivery_db.Outcome(c.id, QUEUED, error, retry_at=now + timedelta(seconds=retry_in),
                                   variant_id=moved, claim=c.claim)
    return delivery_db.Outcome(c.id, FAILED, error, variant_id=moved, claim=c.claim)


def _record(db: Database, outcomes, now: datetime, opts: SendOptions, stats: SendStats,
            policy: BounceSettings = BounceSettings()) -> None:
    """Commit a group of outcomes; what each refusal does to its member is the bounce table's (bounces.apply).

    Fenced: an outcome whose claim another sender took over records nothing, its refusal included.
    """
    with db.begin() as conn:
        recorded = delivery_db.finish(conn, outcomes, now=now)
        refused = {o.delivery_id: refusal_kind(o.error, policy) for o in recorded if o.state == FAILED}
        if refused:
            record_refusals(conn, refused, now=now, policy=policy)
    stats.lost += len(outcomes) - len(recorded)
    for o in recorded:
        if o.state == QUEUED and o.retry_at is None:  # given back untouched: not attempted, not done
            stats.given_back += 1
            continue
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

"""Flow control for the send worker: how many connections, how fast, and when an outcome is safe.

    Concurrency     connections in use, lowered when the relay says it has too many
                    (multiplicative decrease), raised again slowly (additive increase)
    RateLimiter     at most `rate` messages a second from this process, evenly spaced
    GroupCommitter  outcomes of many connections recorded in one transaction; each
                    caller gets a future that is done once its outcome is committed

All three live on one asyncio event loop (the worker's); none is thread-safe.
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, Generic, Sequence, TypeVar

T = TypeVar("T")


class Concurrency:
    """AIMD: start at `maximum`; halve on a "too many connections"; +1 every `increase_every` s without one."""

    def __init__(self, maximum: int, *, increase_every: float = 2.0, clock: Callable[[], float] = time.monotonic):
        self.maximum = max(1, maximum)
        self.limit = float(self.maximum)
        self.in_use = 0
        self.decreases = 0
        self.lowest = self.maximum
        self.increase_every = increase_every
        self._clock = clock
        self._changed_at = clock()
        self._freed = asyncio.Event()

    async def acquire(self) -> None:
        while self.in_use >= int(self.limit):
            self._freed.clear()
            await self._freed.wait()
        self.in_use += 1

    def release(self) -> None:
        self.in_use -= 1
        self._freed.set()

    def over(self) -> bool:
        """More connections open than allowed now: the caller should close one."""
        return self.in_use > int(self.limit)

    def decrease(self) -> None:
        """The relay asked for fewer connections. Several at once count as one signal."""
        now = self._clock()
        if self.decreases and now - self._changed_at < 0.5:
            return
        self.limit = max(1.0, self.limit / 2)
        self.lowest = min(self.lowest, int(self.limit))
        self.decreases += 1
        self._changed_at = now

    def success(self) -> None:
        if self.limit < self.maximum:
            now = self._clock()
            if now - self._changed_at >= self.increase_every:
                self.limit = min(float(self.maximum), self.limit + 1)
                self._changed_at = now
                self._freed.set()


class RateLimiter:
    """At most `rate` acquisitions a second on this loop (evenly spaced); None means no limit."""

    def __init__(self, rate: float | None):
        self.interval = 1.0 / rate if rate else 0.0
        self._next = time.monotonic()

    async def acquire(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(self._next, now)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class GroupCommitter(Generic[T]):
    """Collects items from many coroutines and records them together, one transaction at a time.

    While one commit runs, new items wait for the next; so the busier the
    connections, the bigger (and rarer) the commits, and nobody waits longer
    than about two commits. `record` is run for each group (in a thread, by
    the caller's choice); if it raises, every waiting future gets the error.
    """

    def __init__(self, record: Callable[[Sequence[T]], Awaitable[None]], *, interval: float = 0.0):
        self._record = record
        self.interval = interval  # at least this long from one commit's start to the next one's
        self._pending: list[tuple[T, asyncio.Future]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self.error: BaseException | None = None
        self.commits = 0
        self._started = 0.0
        self._task = asyncio.get_running_loop().create_task(self._run())

    def add(self, item: T) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        future.add_done_callback(_observe)
        if self.error is not None:
            future.set_exception(self.error)
            return future
        self._pending.append((item, future))
        self._wake.set()
        return future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._pending:
                if self._closing:
                    return
                continue
            if self.interval and not self._closing:
                wait = self._started + self.interval - time.monotonic()
                if wait > 0:  # fewer, bigger commits: less lock traffic for other processes
                    await asyncio.sleep(wait)
            self._started = time.monotonic()
            group, self._pending = self._pending, []
            try:
                await self._record([item for item, _ in group])
            except BaseException as exc:  # noqa: BLE001 - handed to every waiter
                self.error = self.error or exc
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
            else:
                self.commits += 1
                for _, future in group:
                    if not future.done():
                        future.set_result(None)
            self._wake.set()  # look again: more may have arrived while we recorded

    async def close(self) -> None:
        """Record what is pending, then stop."""
        self._closing = True
        self._wake.set()
        await self._task


def _observe(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()  # a failed commit is reported once, by the worker, not as "never retrieved"

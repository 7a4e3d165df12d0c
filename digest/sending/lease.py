"""A lease is a promise: what a sender run claims, it keeps while it lives, and only it records.

    lease = Lease(300, renew)            # renew: async () -> the ids the database says we still hold
    lease.claimed(ids); lease.done(ids)  # as deliveries are claimed, and as their outcomes are committed
    lease.room(rate, minimum)            # how many more to claim now
    await lease.holds(delivery_id)       # before a message starts: False if the delivery was taken over
    keeper = loop.create_task(lease.keep())   # the heartbeat: renews every third of the lease

Every delivery a run claims carries the run's token (`claimant`, the
fencing token stored in deliveries.claimed_by); an outcome is recorded only
while the delivery is still held under it (db.deliveries.finish). The run
renews the lease of everything it holds every third of the lease, so a live
sender's deliveries never look abandoned; only a dead sender's leases run
out and are taken over. A run claims no more than it can send in half a
lease at the rate it is achieving, so a slow relay does not leave a pile of
claims waiting. If renewals fail (the database is unreachable) the run
starts no message once two thirds of the lease have passed since the last
renewal: it stops instead (LeaseExpired), leaving a third of the lease for
what is already in flight.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Awaitable, Callable

from ..errors import DigestError


class LeaseExpired(Exception):
    """The lease could not be renewed in time: no message may start under it."""


class Lease:
    """This run's claims: their token, their renewal, and which of them were lost."""

    def __init__(self, seconds: float, renew: Callable[[], Awaitable[set[int]]], *,
                 clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.claimant = uuid.uuid4().hex  # 32 characters: deliveries.claimed_by
        self._renew, self._clock = renew, clock
        self.held: set[int] = set()  # claimed, outcome not yet committed
        self.lost: set[int] = set()  # claimed, then taken over by another sender: never to be sent by us
        self.renewed_at = clock()  # every lease we hold ends at least `seconds` after this
        self.renewals = 0
        self.error: str | None = None  # why the last renewal failed
        self.claiming: float | None = None  # when the claim now under way took its time (clock())
        self._running: asyncio.Future | None = None

    def claimed(self, ids) -> None:
        self.held.update(ids)

    def done(self, ids) -> None:
        self.held.difference_update(ids)
        self.lost.difference_update(ids)

    def fresh(self) -> bool:
        """Renewed recently enough that a message started now ends well within the lease."""
        return self._clock() - self.renewed_at < self.seconds * 2 / 3

    def room(self, rate: float | None, minimum: int) -> int:
        """How many more deliveries to claim: what can be sent in half a lease at `rate`, less what is held.

        Never fewer than `minimum` held (the worker says two per connection,
        one sending and the next ready, so that a rate measured low never
        starves the connections into a lower one; one with --rate).
        """
        can = max(minimum, int(rate * self.seconds / 2) if rate else 0)
        return can - len(self.held)

    async def holds(self, delivery_id: int) -> bool:
        """May a message to this delivery start now? Renews first if the last renewal is getting old."""
        if not self.fresh():
            await self.renew()
            if not self.fresh():
                why = self.error or f"a renewal took {self._clock() - self.renewed_at:.2f} s of a {self.seconds:g} s lease"
                raise LeaseExpired(f"could not renew the lease of the claimed deliveries in time: {why}")
        return delivery_id not in self.lost

    async def renew(self) -> bool:
        """Extend every lease we hold (once, however many callers ask at the same time)."""
        if self._running is None:
            self._running = asyncio.ensure_future(self._renew_once())
        running = self._running
        try:
            return await asyncio.shield(running)
        finally:
            if running.done() and self._running is running:
                self._running = None

    async def _renew_once(self) -> bool:
        # A claim under way took its time before this renewal started and may commit after
        # it: its leases end `seconds` after the claim's time, not after ours.
        asked, started = set(self.held), min(self._clock(), self.claiming or float("inf"))
        try:
            still = await self._renew()
        except DigestError as exc:  # the database is busy or gone: the connections stop in time
            self.error = str(exc)
            return False
        self.renewed_at, self.error = started, None
        self.renewals += 1
        gone = (asked & self.held) - still  # committed meanwhile is no longer held: not lost
        self.lost |= gone
        return True

    async def keep(self) -> None:
        """The heartbeat: renew every third of the lease, for as long as the run lives."""
        while True:
            await asyncio.sleep(self.seconds / 3)
            await self.renew()

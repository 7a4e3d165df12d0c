"""A synchronous Transport behind the asynchronous contract: one thread call a message.

    ThreadedTransport(make_transport, pool)   # an AsyncTransport: connect() makes a Transport in the pool

How `digest send` uses the file transport (or any Transport without an
asynchronous twin): each connection of the worker is one Transport, driven
from the event loop through a thread pool.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from typing import Callable

from .base import AsyncConnection, AsyncTransport, Envelope, RelayUnusable, SendResult, Transport


class ThreadedTransport(AsyncTransport):
    def __init__(self, make: Callable[[], Transport], pool: Executor):
        self.make, self.pool = make, pool

    async def connect(self) -> "ThreadedConnection":
        try:
            transport = await asyncio.get_running_loop().run_in_executor(self.pool, self.make)
        except Exception as exc:  # no transport at all: the run stops, nobody's attempt is spent
            raise RelayUnusable(str(exc) or type(exc).__name__) from None
        return ThreadedConnection(transport, self.pool)


class ThreadedConnection(AsyncConnection):
    """A blocking Transport (file, memory, smtplib) with RelayConnection's face."""

    def __init__(self, transport: Transport, pool: Executor):
        self.transport, self.pool = transport, pool
        self.messages = 0
        self.closed = False

    async def send(self, envelope: Envelope, message: bytes, *, hold: asyncio.Future | None = None) -> SendResult:
        if hold is not None:
            await hold  # the whole message goes at once, so it waits for the previous commit first
        self.messages += 1
        return await asyncio.get_running_loop().run_in_executor(self.pool, self.transport.send, envelope, message)

    async def quit(self) -> None:
        self.closed = True
        await asyncio.get_running_loop().run_in_executor(self.pool, self.transport.close)

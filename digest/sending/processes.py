"""`digest send --processes N`: N sender processes on one queue, one progress display, one summary.

The processes share the queue the way any two `digest send` runs do (claims
under a lease; SKIP LOCKED on PostgreSQL), so nothing here coordinates the
sending itself. What is shared is the run's budget: --connections and --rate
are totals, split between the processes; --limit likewise. A child reports
its counts a few times a second over a pipe; the parent adds them up. If one
child stops on a broken transport, the others are told to stop too (they give
their unsent claims back). Children die with the parent (kill -9 included),
so a crash leaves no sender behind to keep going.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import signal
import time
from multiprocessing.connection import wait
from typing import Callable

from ..config import Settings
from ..db import Database
from ..db import deliveries as delivery_db
from ..errors import DeliveryError, DigestError
from .transports import AsyncTransport, TransportFactory, sender_transport
from .prepare import preflight
from .worker import SendOptions, SendStats, send_queue, utcnow

_REPORT_EVERY = 0.25  # seconds between a child's progress reports


def transports_for(kind: str | None, settings: Settings):
    """What send_all sends with (transports.sender_transport): checked here, before anything is claimed."""
    return sender_transport(kind, settings)


def split(total: int | float | None, parts: int, index: int):
    """Share `index` of `total` split into `parts` (ints as evenly as can be; floats equally)."""
    if total is None:
        return None
    if isinstance(total, float):
        return total / parts
    return total // parts + (1 if index < total % parts else 0)


def plan_processes(wanted: int, opts: SendOptions, pending: int) -> int:
    """How many processes are worth starting: each needs a connection and a batch to do."""
    batches = max(1, math.ceil(pending / max(1, opts.batch)))
    limit_parts = opts.limit if opts.limit is not None else wanted
    return max(1, min(wanted, opts.connections, batches, limit_parts))


def send_all(
    db: Database,
    settings: Settings,
    transports: "AsyncTransport | TransportFactory",
    opts: SendOptions,
    *,
    on_progress: Callable[[SendStats, int], None] | None = None,
) -> SendStats:
    """send_queue in opts.processes processes (1: in this one); return the summed counts.

    The checks run once, here, before anything is claimed; the processes are
    only as many as there are connections and batches to share.
    """
    if opts.check:
        preflight(db, settings, now=utcnow())
        opts = dataclasses.replace(opts, check=False)
    processes = opts.processes
    if processes > 1:
        with db.connect() as conn:
            pending = delivery_db.pending_count(conn)
        processes = plan_processes(processes, opts, pending)
    if processes <= 1:
        return send_queue(db, settings, transports, dataclasses.replace(opts, processes=1), on_progress=on_progress)
    if opts.reclaim:  # once, before anyone claims: a child doing it would release its siblings' claims
        with db.begin() as conn:
            delivery_db.release_all_sending(conn)
        opts = dataclasses.replace(opts, reclaim=False)
    children = _Children(settings, transports, opts, processes)
    try:
        children.collect(on_progress)
    except BaseException:  # Ctrl-C or a bug here: the children stop too, giving back what they hold
        children.stop.set()
        raise
    finally:
        children.join()
    summed = total(children.latest.values())
    summed.processes = processes
    if on_progress:
        on_progress(summed, 0)
    if children.errors:
        error = DeliveryError(children.errors[0])
        error.stats = summed  # what was done before the stop, for the summary
        raise error
    return summed


class _Children:
    """The sender processes of one send_all: started, listened to, joined."""

    def __init__(self, settings: Settings, transports, opts: SendOptions, processes: int):
        mp = multiprocessing.get_context("spawn")
        self.stop = mp.Event()
        self.processes, self.pipes = [], {}
        self.latest: dict[int, SendStats] = {}
        self.errors: list[str] = []
        for i in range(processes):
            child_opts = dataclasses.replace(
                opts, connections=split(opts.connections, processes, i),
                rate=split(float(opts.rate), processes, i) if opts.rate else None,
                limit=split(opts.limit, processes, i), stop=None, processes=1)
            ours, theirs = mp.Pipe(duplex=False)
            p = mp.Process(target=_child, args=(settings, transports, child_opts, theirs, self.stop, os.getpid()),
                           name=f"digest-send-{i + 1}", daemon=True)
            p.start()
            theirs.close()
            self.processes.append(p)
            self.pipes[i] = ours

    def collect(self, on_progress: Callable[[SendStats, int], None] | None) -> None:
        """Read every child's reports until each is done (or dead); the first error stops the others."""
        while self.pipes:
            for ready in wait(list(self.pipes.values()), timeout=0.5):
                self._read(next(k for k, v in self.pipes.items() if v is ready))
            if on_progress and self.latest:
                on_progress(total(self.latest.values()), 0)

    def _read(self, i: int) -> None:
        try:
            kind_, stats, error = self.pipes[i].recv()
        except EOFError:  # the child died without a word
            del self.pipes[i]
            self.processes[i].join(5)
            self._failed(f"sender process {i + 1} died (exit status {self.processes[i].exitcode})")
            return
        self.latest[i] = stats
        if kind_ in ("done", "error"):
            del self.pipes[i]
            if error:
                self._failed(error)

    def _failed(self, error: str) -> None:
        self.errors.append(error)
        self.stop.set()

    def join(self) -> None:
        for p in self.processes:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()


def total(parts) -> SendStats:
    """Counts of several processes added up (rates and connections too: they run side by side)."""
    out = SendStats()
    for s in parts:
        for f in ("sent", "retried", "failed", "skipped", "batches", "requeued", "busy", "connections",
                  "concurrency", "sessions", "timeouts", "lost", "given_back", "fallbacks"):
            setattr(out, f, getattr(out, f) + getattr(s, f))
        out.lowest_concurrency += s.lowest_concurrency
        out.rate += s.rate
        for k, n in s.errors.items():
            out.errors[k] = out.errors.get(k, 0) + n
    return out


def _die_with_parent(parent: int) -> None:
    """Linux: SIGKILL this process when its parent dies (kill -9 of `digest send` stops its children)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before we asked
        os._exit(1)


def _child(settings: Settings, transports, opts: SendOptions, pipe, stop, parent: int) -> None:
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which tells us to stop
    last = [0.0]
    current = [SendStats()]

    def progress(stats: SendStats, _n: int) -> None:
        current[0] = stats
        now = time.monotonic()
        if now - last[0] >= _REPORT_EVERY:
            last[0] = now
            pipe.send(("progress", stats, None))

    db = Database(settings.database_url, migrate=False)
    try:
        opts = dataclasses.replace(opts, stop=stop.is_set)
        stats = send_queue(db, settings, transports, opts, on_progress=progress)
        pipe.send(("done", stats, None))
    except DigestError as exc:
        pipe.send(("error", current[0], str(exc)))
    except Exception as exc:  # noqa: BLE001 - reported by the parent as one line
        pipe.send(("error", current[0], f"sender process: {type(exc).__name__}: {exc}"))
    finally:
        db.dispose()
        pipe.close()

"""The web app's mail worker: handles subscribe requests outside the request.

The subscribe form only records the request (one row in subscribe_requests)
and answers; the same work for every address, so the answer's timing does not
tell a member from a stranger. This thread, started by the app on the first
request, takes the rows oldest first, decides in one transaction what the
address gets (a pending member and a confirmation email, a come-back email,
or nothing) and sends the email after that transaction. Rows left by a
stopped server are handled when the next one starts.

    mailer = Mailer(app, handle)     # handle(conn, request) -> callable that sends, or None
    mailer.notify()                  # after a request's answer is sent (the worker starts half a second later)
    mailer.wait_idle(timeout=10)     # tests: until everything recorded so far is handled
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Callable

from ..db import requests as request_db
from ..errors import DigestError

log = logging.getLogger("digest.web")

POLL_SECONDS = None  # wait to be told: by a request, or by `digest serve` at start (rows a stopped server left)
RETRY_SECONDS = 2.0  # after the database was busy
# Woken by a request, the worker waits this long first: waitress may still be sending
# that answer, and the worker's work (rendering, SMTP) must not slow it down.
SETTLE_SECONDS = 0.5


class Mailer:
    """The app's subscribe-mail worker: one thread, started by the first request it is told of."""

    running: "weakref.WeakSet[Mailer]" = weakref.WeakSet()  # every started worker, for stop_all()
    what = "subscribe requests"  # for the log (web.hooks' worker takes providers' events the same way)

    def __init__(self, app, handle: Callable, *, poll: float | None = POLL_SECONDS,
                 settle: float = SETTLE_SECONDS):
        self.app, self.handle, self.poll, self.settle = app, handle, poll, settle
        self._wake = threading.Event()
        self._urgent = threading.Event()  # skip the settle wait (tests, server start)
        self._lock = threading.Condition()
        self._asked = 0  # notifications so far
        self._done = 0  # notifications whose rows are surely handled
        self._thread: threading.Thread | None = None
        self._stop = False

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"digest-{self.what}", daemon=True)
                self._thread.start()
                Mailer.running.add(self)

    def notify(self, *, urgent: bool = False) -> None:
        with self._lock:
            self._asked += 1
        self.start()
        if urgent:
            self._urgent.set()
        self._wake.set()

    def stop(self, timeout: float = 10) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        Mailer.running.discard(self)

    @classmethod
    def stop_all(cls, timeout: float = 10) -> None:
        """Stop every worker of this process (apps whose database is going away, as in tests)."""
        for mailer in list(cls.running):
            mailer.stop(timeout)

    def wait_idle(self, timeout: float = 30) -> bool:
        """Wait until every request recorded before this call is handled; False on timeout.

        It wakes the worker itself, so a request whose answer has not yet been
        closed (and so has not yet notified) is handled too.
        """
        self.notify(urgent=True)
        with self._lock:
            target = self._asked
            return self._lock.wait_for(lambda: self._done >= target, timeout)

    def _run(self) -> None:
        with self.app.app_context():
            while not self._stop:
                self._wake.clear()
                self._urgent.wait(self.settle)
                self._urgent.clear()
                with self._lock:
                    seen = self._asked
                    handled = seen == self._done
                if handled:  # a wake-up for requests a pass already took care of
                    self._wake.wait(self.poll)
                    continue
                try:
                    self.run_once()
                except DigestError as exc:  # database busy or gone: try again shortly
                    log.warning("%s not handled yet: %s", self.what, exc)
                    self._wake.wait(RETRY_SECONDS)
                    continue
                except Exception:  # a bug must not stop the worker for good (that row is rolled back)
                    log.exception("%s: one failed", self.what)
                    self._wake.wait(RETRY_SECONDS)
                    continue
                with self._lock:
                    self._done = max(self._done, seen)
                    self._lock.notify_all()
                self._wake.wait(self.poll)

    def run_once(self) -> int:
        """Handle every waiting request; how many."""
        db = self.app.extensions["digest"].db
        handled = 0
        while True:
            with db.begin() as conn:
                req = request_db.take_oldest(conn)
                if req is None:
                    return handled
                send = self.handle(conn, req)
            handled += 1
            if send is not None:  # after the commit: the member row exists before its email goes out
                send()

"""Webhooks out, signed as the Standard Webhooks specification says, delivered from the outbox.

    endpoint, secret = add_endpoint(db, "https://crm.example.org/hooks/digest", ("member.unsubscribed",), now=now)
    stats = deliver_due(db, settings, now=now)     # the web app's worker and `digest run` call this

Each event is a row of webhook_outbox written with the change it reports
(db.members.add_event). A delivery is a POST of the JSON body with
webhook-id, webhook-timestamp and webhook-signature ("v1," + base64 of
HMAC-SHA256 over "id.timestamp.body" with the endpoint's whsec_ key), through
digest.outbound: internal addresses refused at connect time, one deadline for
the whole request (a receiver that hangs is cut off), redirects not followed.
A 2xx is delivered; anything else is retried with backoff (RETRY_DELAYS) for
at least MIN_RETRY_WINDOW, then failed. A member's events go in order: a later
one waits while an earlier one is pending.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Sequence
from urllib.parse import urlsplit

from ..config import Settings
from ..db import Database
from ..db import webhooks as webhook_db
from ..db.webhooks import DELIVERED, FAILED, PENDING, Claimed, Endpoint
from ..errors import ConfigError
from ..members import WEBHOOK_EVENTS
from ..outbound import OutboundError, for_settings

# Seconds before each retry; the last repeats until MIN_RETRY_WINDOW has passed since the event.
RETRY_DELAYS = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 21600)
MIN_RETRY_WINDOW = timedelta(hours=25)  # at least 24 hours of retries, then failed
DEADLINE = 10.0  # seconds for one whole delivery: connect, send, answer
LEASE_SECONDS = 60.0  # a worker killed mid-delivery: its claim is taken over after this
MAX_ANSWER = 64 * 1024  # bytes of a receiver's answer read (and ignored)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
log = logging.getLogger("digest.webhooks")


class WebhookError(ConfigError):
    """A receiver that cannot be added: a bad URL or an unknown event."""

    def __init__(self, what: str, reason: str):
        super().__init__("", what, reason)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header value for this message (Standard Webhooks, v1 = HMAC-SHA256)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def next_try(attempts: int, created_at: datetime, now: datetime) -> datetime | None:
    """When to try again after `attempts` failed ones, or None: give up (failed)."""
    if now - created_at >= MIN_RETRY_WINDOW:
        return None
    return now + timedelta(seconds=RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1])


def check_events(raw: str) -> tuple[str, ...]:
    chosen = {e.strip() for e in raw.split(",") if e.strip()}
    unknown = sorted(chosen - set(WEBHOOK_EVENTS))
    if unknown or not chosen:
        raise WebhookError("--events", f"unknown event {unknown[0]!r}" if unknown else "give at least one event"
                           + f" (events: {', '.join(WEBHOOK_EVENTS)})")
    return tuple(e for e in WEBHOOK_EVENTS if e in chosen)


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise WebhookError(url, "must be an https:// URL")
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        raise WebhookError(url, "must be https:// (only a receiver on this machine may use http)")
    return url.strip()


def add_endpoint(db: Database, url: str, events: Sequence[str], *, now: datetime) -> tuple[Endpoint, str]:
    """A new receiver; returns it and its signing secret (whsec_..., shown to the integrator once)."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with db.begin() as conn:
        return webhook_db.add_endpoint(conn, check_url(url), tuple(events), secret, now=now), secret


def send_test(db: Database, endpoint_id: int, *, now: datetime) -> bool:
    """Queue a "webhook.test" event for one receiver (delivered by the next pass); False: no such receiver."""
    with db.begin() as conn:
        return webhook_db.enqueue(conn, "webhook.test", f"test:{endpoint_id}", {"test": True}, now=now,
                                  only=endpoint_id) > 0


@dataclass
class DeliveryStats:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def announce_sent_editions(db: Database, *, now: datetime) -> int:
    """edition.sent for each edition with nothing left to send, once per receiver that listens (since it was added)."""
    n = 0
    with db.begin() as conn:
        for ep in webhook_db.endpoints(conn):
            if "edition.sent" not in ep.events:
                continue
            for edition_id, key, queued_at, kind in webhook_db.finished_editions(conn, ep.created_at):
                if not webhook_db.announced(conn, f"edition:{key}", ep.id):
                    edition = {"key": key, "kind": kind, "queued_at": queued_at.isoformat()}
                    n += webhook_db.enqueue(conn, "edition.sent", f"edition:{key}", {"edition": edition},
                                            now=now, only=ep.id)
    return n


def deliver_due(db: Database, settings: Settings, *, now: datetime, lease_seconds: float = LEASE_SECONDS,
                rounds: int = 20, deadline: float = DEADLINE) -> DeliveryStats:
    """Deliver what is due, a batch at a time, until nothing more is (or `rounds` batches)."""
    stats = DeliveryStats()
    with db.connect() as conn:  # no receiver: no write transaction at all (serve's worker asks every 10 s)
        if not webhook_db.endpoints(conn):
            return stats
    announce_sent_editions(db, now=now)
    client = for_settings(settings)
    for _ in range(rounds):
        with db.begin() as conn:
            batch = webhook_db.claim(conn, now=now, lease_seconds=lease_seconds)
        if not batch:
            break
        for claimed in batch:
            _deliver_one(db, client, claimed, stats, now=now, deadline=deadline)
    return stats


def _deliver_one(db: Database, client, claimed: Claimed, stats: DeliveryStats, *, now: datetime,
                 deadline: float) -> None:
    body = claimed.payload.encode("utf-8")
    stamp = int(time.time())  # the wall clock, whatever `now` says: receivers refuse a stale timestamp
    headers = {"Content-Type": "application/json", "webhook-id": claimed.msg_id, "webhook-timestamp": str(stamp),
               "webhook-signature": sign(claimed.endpoint.secret, claimed.msg_id, stamp, body)}
    error = None
    try:
        r = client.request("POST", claimed.endpoint.url, headers=headers, body=body, deadline=deadline,
                           max_bytes=MAX_ANSWER, https_only=urlsplit(claimed.endpoint.url).hostname not in
                           LOCAL_HOSTS, follow_redirects=False)
        if not 200 <= r.status < 300:
            error = f"answered {r.status}" + (" (redirects are not followed)" if 300 <= r.status < 400 else "")
    except OutboundError as exc:
        error = str(exc)
    retry = next_try(claimed.attempts + 1, claimed.created_at, now) if error else None
    status = DELIVERED if error is None else PENDING if retry else FAILED
    with db.begin() as conn:
        kept = webhook_db.record(conn, claimed, status=status, error=error, next_at=retry, now=now)
    if not kept:
        return  # another worker took the claim over: its outcome counts
    if status == DELIVERED:
        stats.delivered += 1
    elif status == PENDING:
        stats.retried += 1
    else:
        stats.failed += 1
    if error:
        stats.errors.append(f"{claimed.endpoint.url}: {claimed.event} {claimed.msg_id}: {error}")


class Worker:
    """`digest serve`'s webhook worker: a thread that delivers what is due every `every` seconds."""

    def __init__(self, db: Database, settings: Settings, *, every: float = 10.0, clock=None):
        self.db, self.settings, self.every = db, settings, every
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="digest-webhooks", daemon=True)

    def start(self) -> "Worker":
        self._thread.start()
        return self

    def stop(self, timeout: float = 15) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                stats = deliver_due(self.db, self.settings, now=self.clock())
                for line in stats.errors:
                    log.warning("webhook not delivered: %s", line)
            except Exception:  # a busy database or a bug: log it, keep the worker alive, try next round
                log.exception("webhook delivery pass failed")
            self._stop.wait(self.every)

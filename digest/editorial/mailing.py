"""The mailing run (`digest weekly`, `digest run`): build or reuse the edition, queue it, send it.

Safe to run twice: an edition is built once (a built one is used as it is),
each member is queued once, and nothing is sent twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from ..config import Settings
from ..db import Database
from ..db import editions as edition_db
from ..errors import EditionError
from ..models import Edition, Window
from ..sending.queue import QueueReport, queue_edition
from ..sending.transports import Transport
from ..sending.worker import SendOptions, SendStats, send_queue
from .build import build_edition


@dataclass
class MailingReport:
    key: str
    built: Edition | None  # None: the edition was built before and used as it was
    queued: QueueReport
    sent: SendStats | None = None


def run_mailing(db: Database, settings: Settings, window: Window, frequency: str,
                make_transport: Callable[[], Transport], options: SendOptions | None = None, *, now: datetime,
                on_built: Callable[[MailingReport], None] | None = None,
                on_progress: Callable[[SendStats, int], None] | None = None) -> MailingReport:
    """Build (once), queue and send the edition of a window for members of one frequency.

    `on_built` is called once the edition is built and queued, before sending
    starts (so a command can say so while the send runs).
    """
    if window.frequency != frequency:
        raise EditionError(window.key, f"is a {window.frequency} period, not {frequency}")
    with db.connect() as conn:
        existing = edition_db.load_edition(conn, window.key)
    built = build_edition(db, settings, window, now=now) if existing is None else None
    report = MailingReport(window.key, built, queue_edition(db, settings, window.key, now=now))
    if on_built:
        on_built(report)
    report.sent = send_queue(db, settings, make_transport, options, on_progress=on_progress)
    return report

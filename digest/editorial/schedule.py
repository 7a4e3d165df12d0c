"""A send time for an edition: set, changed or withdrawn by an editor; what is due (`digest run` queues it).

    send = schedule_send(db, settings, "2027-W25", "2027-06-28 07:00", zone="Europe/London",
                         by=editor_or_cli, now=now)       # set or change; every change in the audit trail
    withdraw_send(db, "2027-W25", by=editor_or_cli, now=now)  # back to "when its period is due"
    send_time_of(db, "2027-W25")                          # the SendTime, or None
    due_sends(db, now=now)                                # [DueSend(key, frequency, send)] whose time has come

Any edition row can have a send time (a period's edition, and whatever else
is stored as an edition row, such as an announcement): these functions know
only the row's key. A send time can be set once the edition is built (what is
sent is what was previewed) and changed or withdrawn until it is queued. The
mailing run (editorial/mailing.py) does not queue a scheduled edition before
its time, and queues it - through the gate, as ever - at the first run after.
`by` is an Editor (the desk) or a string such as "user@host" (the command line).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..config import Settings
from ..db import Database
from ..db import editions as edition_db
from ..db import editors as editor_db
from ..edition.sendtime import due, offset_text, resolve_send_time
from ..errors import EditionError
from ..models import SendTime

__all__ = ["DueSend", "audit_detail", "due", "due_sends", "schedule_send", "send_time_of", "shown", "withdraw_send"]


@dataclass(frozen=True)
class DueSend:
    key: str  # the edition row's key
    frequency: str  # its frequency column ("weekly", ...; another kind of row may store its own word)
    send: SendTime


def _who(by) -> str:
    return getattr(by, "email", None) or str(by)


def audit_detail(send: SendTime | None) -> dict | None:
    """A send time as the audit trail records it (editions and announcements alike)."""
    if send is None:
        return None
    return {"at": send.local_text, "zone": send.zone, "utc": send.at.isoformat()}


def schedule_send(db: Database, settings: Settings, key: str, at: str, *, zone: str | None = None, by,
                  now: datetime) -> SendTime:
    """Approve a built, not yet queued edition for a time: `at` "YYYY-MM-DD HH:MM" in `zone` (an IANA name;
    default [digest] timezone). Setting it again changes it. EditionError (one line) for a time that is past,
    skipped by the clocks, malformed, an unknown zone, an edition not built or already queued."""
    send = resolve_send_time(key, at, zone or settings.timezone, now=now, by=_who(by))
    with db.begin() as conn:
        before = _stored(conn, key)
        if not edition_db.set_send_time(conn, key, send):
            raise EditionError(key, "is queued already: its send time cannot change now")
        editor_db.audit(conn, by, "schedule-change" if before else "schedule", key,
                        {**audit_detail(send), "before": audit_detail(before)}, now=now)
    return send


def withdraw_send(db: Database, key: str, *, by, now: datetime) -> SendTime:
    """Take back an edition's send time before it is queued; the one withdrawn. It then goes when its period
    is due, as an unscheduled edition does. EditionError when it has none or is queued already."""
    with db.begin() as conn:
        before = _stored(conn, key)
        if before is None:
            raise EditionError(key, "has no send time to withdraw")
        if not edition_db.set_send_time(conn, key, None):
            raise EditionError(key, "is queued already: its send time cannot be withdrawn now")
        editor_db.audit(conn, by, "schedule-withdraw", key, {"before": audit_detail(before)}, now=now)
    return before


def send_time_of(db: Database, key: str) -> SendTime | None:
    """The edition's send time, or None (not scheduled, or no such edition)."""
    with db.connect() as conn:
        edition = edition_db.load_edition(conn, key)
    return edition.send_time if edition is not None else None


def due_sends(db: Database, *, now: datetime) -> list[DueSend]:
    """Every edition row whose send time has come and that is not queued yet, earliest first."""
    with db.connect() as conn:
        return [DueSend(key, frequency, send) for key, frequency, send in edition_db.due_send_times(conn, now=now)]


def shown(send: SendTime) -> str:
    """"2027-06-28 07:00 Europe/London (+01:00)": how the command line shows a send time."""
    return f"{send} ({offset_text(send)})"


def _stored(conn, key: str) -> SendTime | None:
    """The edition's current send time; EditionError when the edition is not built."""
    edition = edition_db.load_edition(conn, key)
    if edition is None:
        raise EditionError(key, f"is not built: build it (digest edition build {key}) and preview it before "
                                "giving it a send time")
    return edition.send_time

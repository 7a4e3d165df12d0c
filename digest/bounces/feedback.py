"""Provider events in: attributed to a delivery by what we signed, the bounce rule applied, recorded once.

A verified webhook's events (digest.bounces.providers) are first recorded,
in one short transaction, so the provider gets its answer at once (record);
each is then taken in a transaction of its own, outside the request (act):
the member changed as the bounce table says (bounces.apply), and recorded
in inbound_reports under "PROVIDER:EVENT-ID", so it counts in `digest
report` like a returned report. An event id recorded before is not recorded
again: the provider's retries and duplicates change nothing.

Attribution trusts only what digest gave the message:
- the signed delivery tag the provider echoes back (SES message tag,
  Postmark metadata, Mailgun variable, SendGrid unique arg), or
- our Message-ID (<edition.KEY.DELIVERY@domain>) as the provider saw it,
  taken only when the event's address is that delivery's member's address.
An event naming only an address is quarantined, never applied to whoever
has that address now. The rule never brings a member back, so an event
arriving late (a delivery after the bounce) undoes nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Callable

from ..config import BounceSettings, Settings
from ..db import Database
from ..db import providers as providers_db
from ..db import reports as reports_db
from ..errors import DigestError, TokenError, WebhookError
from ..message.assemble import message_id
from ..message.feedback import DeliveryTag
from .apply import PROCESSED, QUARANTINE, apply_event
from .policy import (COMPLAINT, DELAYED, DELIVERED, PERMANENT, SUPPRESSED, TRANSIENT, UNSUBSCRIBE, WEBHOOK)
from .providers import ProviderEvent

log = logging.getLogger("digest.bounces.feedback")
_OUR_MESSAGE_ID = re.compile(r"<edition\.[A-Za-z0-9-]+\.(\d{1,18})@[^>]+>")
_KINDS = {"delay": DELAYED, "complaint": COMPLAINT, "suppressed": SUPPRESSED, "unsubscribe": UNSUBSCRIBE,
          "delivered": DELIVERED}


@dataclass(frozen=True)
class Taken:
    """What became of one provider event."""

    key: str
    kind: str
    outcome: str  # bounced, counted, complained, unsubscribed, unchanged, ignored, quarantined
    why: str = ""
    duplicate: bool = False


def table_kind(event: ProviderEvent, policy: BounceSettings) -> str | None:
    """The bounce table's kind (bounces.policy) for a provider's event; None for opens, sends and the like.

    A provider's bounce is permanent or transient by its status code, as a
    returned DSN is: the same `[bounces] permanent` codes bounce at once.
    """
    if event.kind == "bounce":
        return PERMANENT if (event.status or "5.0.0") in policy.permanent else TRANSIENT
    return _KINDS.get(event.kind)


def _note(event: ProviderEvent) -> str:
    if event.kind == "complaint":
        return event.what.partition("/")[2]
    if event.kind == "unsubscribe":
        return f"left by {event.provider}'s unsubscribe link"
    return ""


class Feedback:
    """Provider events: recorded as a verified webhook is answered, then taken one transaction each."""

    def __init__(self, db: Database, settings: Settings, *, clock: Callable[[], datetime]):
        self.db, self.policy, self.clock = db, settings.bounces, clock
        self.tag = DeliveryTag(settings.secret_key)
        self.sender_domain = settings.sender_domain

    def record(self, provider: str, events: list[ProviderEvent], *, once: str | None = None) -> tuple[int, int]:
        """(recorded, sent before) for a verified request's events, in one short transaction.

        once: a webhook token that must not have been used before, recorded in
        the same transaction (a replay raises WebhookError and records nothing).
        """
        now, recorded = self.clock(), 0
        with self.db.begin() as conn:
            if once is not None and all(providers_db.is_recorded(conn, provider, e.event_id[:200]) for e in events):
                return 0, len(events)  # the provider's retry of a request we answered: nothing more to do
            if once is not None and not providers_db.use_token(conn, provider, once, now):
                raise WebhookError(provider, "token used before (a replayed request)")
            for event in events:
                recorded += providers_db.record_event(conn, provider, event.event_id[:200], asdict(event), now)
        return recorded, len(events) - recorded

    def take_next(self) -> Taken | None:
        """Act on the oldest recorded event in one transaction (and mark it taken); None when none waits."""
        failed: int | None = None
        try:
            with self.db.begin() as conn:
                pending = providers_db.next_pending(conn)
                if pending is None:
                    return None
                failed = pending.id
                taken = self._take(conn, pending)
                providers_db.mark_taken(conn, pending.id, self.clock(), taken.kind)
                return taken
        except reports_db.ReportSeen:  # another worker acted on it meanwhile: it is marked by that one
            return Taken("", "", "unchanged", why="seen before", duplicate=True)
        except DigestError:  # the database busy or gone: the event waits for the next try
            raise
        except Exception:  # a bug must not hold up every later event: this one is set aside, loudly
            log.exception("provider event #%s could not be taken; set aside", failed)
            if failed is None:
                raise
            with self.db.begin() as conn:
                providers_db.mark_taken(conn, failed, self.clock())
            return Taken("", "", "failed", why="could not be taken (see the log)")

    def _take(self, conn, pending: providers_db.Pending) -> Taken:
        event = ProviderEvent(**pending.event)
        key = f"{event.provider}:{event.event_id[:200]}"
        row = reports_db.seen(conn, key)
        if row is not None:  # acted on already (another worker, or a database restored from backup)
            return Taken(key, row.kind, row.outcome, why="seen before", duplicate=True)
        return self._apply(conn, event, key)

    def take_all(self) -> list[Taken]:
        """Act on every recorded event, oldest first."""
        out = []
        while (taken := self.take_next()) is not None:
            out.append(taken)
        return out

    def _apply(self, conn, event: ProviderEvent, key: str) -> Taken:
        now = self.clock()
        kind = table_kind(event, self.policy)
        ref, how = self._attribute(conn, event)
        detail = {k: v for k, v in (("recipient", event.recipient), ("diagnostic", event.diagnostic),
                                    ("what", event.what), ("attributed", how), *event.detail.items()) if v}
        if ref is None or kind is None:
            # Not ours to act on: an open or a delivery is filed; a failure we cannot place is quarantined.
            outcome, folder = "ignored", PROCESSED
            if kind not in (None, DELIVERED):
                outcome, folder = "quarantined", QUARANTINE
                detail["reason"] = "not attributable: no signed tag, nor our Message-ID with its member's address"
            reports_db.record(conn, report_key=key, kind=kind or event.kind, shape=event.provider,
                              status=event.status, now=now, ref=ref, subscriber_id=ref.subscriber_id if ref else None,
                              outcome=outcome, folder=folder, source=event.provider, detail=detail)
            return Taken(key, kind or event.kind, outcome, why=detail.get("reason", event.what))
        decision = apply_event(conn, key=key, kind=kind, when=now, source=event.provider, policy=self.policy,
                               delivery_id=ref.delivery_id, via=WEBHOOK, detail=detail, code=event.status,
                               note=_note(event))
        if decision is None:  # cannot be: seen() was asked in this transaction
            return Taken(key, kind, "unchanged", why="seen before", duplicate=True)
        return Taken(key, kind, decision.outcome, why=decision.why)

    def _attribute(self, conn, event: ProviderEvent) -> tuple[reports_db.DeliveryRef | None, str]:
        """(the delivery, how) from what we signed or gave the message; (None, "") otherwise."""
        if event.tag:
            try:
                ref = reports_db.delivery(conn, self.tag.read(event.tag))
            except TokenError:
                return None, ""  # a tag we did not sign: not falling back to anything weaker
            return (ref, "signed tag") if ref is not None else (None, "")
        m = _OUR_MESSAGE_ID.fullmatch(event.message_id or "")
        ref = reports_db.delivery(conn, int(m.group(1))) if m else None
        if ref is None or message_id(ref.edition_key, ref.delivery_id, self.sender_domain) != event.message_id:
            return None, ""  # not the very Message-ID we gave that delivery (its edition, our domain)
        if ref.email and event.recipient and ref.email.casefold() == event.recipient.strip().casefold():
            return ref, "Message-ID"
        return None, ""

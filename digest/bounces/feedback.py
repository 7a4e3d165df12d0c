"""Provider events in: attributed to a delivery by what we signed, the bounce rule applied, recorded once.

A verified webhook's events (digest.bounces.providers) go through here one
transaction each: recorded in inbound_reports under "PROVIDER:EVENT-ID" (the
same event sent again changes nothing; it also counts in `digest report`
like a returned report), then the member changed as the bounce rule says.

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

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from ..config import Settings
from ..db import Database
from ..db import members as subscriber_db
from ..db import providers as providers_db
from ..db import reports as reports_db
from ..errors import TokenError, WebhookError
from ..message.feedback import DeliveryTag
from .parse import Report
from .policy import Decision, decide
from .process import PROCESSED, QUARANTINE
from .providers import ProviderEvent

_OUR_MESSAGE_ID = re.compile(r"<edition\.[A-Za-z0-9-]+\.(\d{1,18})@[^>]+>")
SOURCE = "webhook"
ACTIONABLE = ("bounce", "delay", "complaint", "suppressed", "unsubscribe")


@dataclass(frozen=True)
class Taken:
    """What became of one provider event."""

    key: str
    kind: str
    outcome: str  # bounced, counted, complained, unsubscribed, unchanged, ignored, quarantined
    email: str | None = None
    why: str = ""
    duplicate: bool = False


def decide_event(event: ProviderEvent, *, member_status: str, failures_before: int, settings: Settings) -> Decision:
    """What a provider's event does to a member: the bounce rule every returned report goes through.

    The one adapter onto digest.bounces.policy: a provider's suppression is
    a permanent failure (the provider will not send to the address again),
    its unsubscribe link a member leaving.
    """
    if event.kind == "suppressed":
        if member_status in ("unsubscribed", "bounced", "complained"):
            return Decision("unchanged", None, f"suppressed by {event.provider}; member already {member_status}")
        return Decision("bounced", "bounced", f"{event.provider} will not send to the address ({event.what})")
    if event.kind == "unsubscribe":
        if member_status in ("unsubscribed", "bounced", "complained"):
            return Decision("unchanged", None, f"already {member_status}")
        return Decision("unsubscribed", "unsubscribed", f"left by {event.provider}'s unsubscribe link")
    report = Report(kind=event.kind, shape=event.provider, status=event.status, recipient=event.recipient,
                    diagnostic=event.diagnostic, feedback_type=event.what.partition("/")[2] or None)
    return decide(report, member_status=member_status, failures_before=failures_before, policy=settings.bounces)


class Feedback:
    """Takes verified provider events into the database, one transaction per event."""

    def __init__(self, db: Database, settings: Settings, *, clock: Callable[[], datetime]):
        self.db, self.settings, self.clock = db, settings, clock
        self.tag = DeliveryTag(settings.secret_key)

    def take(self, event: ProviderEvent, *, once: str | None = None) -> Taken:
        """Record and apply one event. once: a webhook token that must not have been used before
        (recorded in the same transaction: a replay raises WebhookError and changes nothing)."""
        key = f"{event.provider}:{event.event_id}"[:300]
        try:
            with self.db.begin() as conn:
                row = reports_db.seen(conn, key)
                if row is not None:  # the provider's retry: answered as before, nothing changes
                    return Taken(key, row.kind, row.outcome, why="seen before", duplicate=True)
                if once is not None and not providers_db.use_token(conn, event.provider, once, self.clock()):
                    raise WebhookError(event.provider, "token used before (a replayed request)")
                return self._apply(conn, event, key)
        except reports_db.ReportSeen:  # the provider's retry raced its first try: that one won
            return Taken(key, event.kind, "unchanged", why="seen before", duplicate=True)

    def _apply(self, conn, event: ProviderEvent, key: str) -> Taken:
        now = self.clock()
        ref, how = self._attribute(conn, event)
        detail = {k: v for k, v in (("recipient", event.recipient), ("diagnostic", event.diagnostic),
                                    ("what", event.what), ("attributed", how), *event.detail.items()) if v}
        record = dict(report_key=key, kind=event.kind, shape=event.provider, status=event.status, now=now, ref=ref,
                      subscriber_id=ref.subscriber_id if ref else None, source=f"{SOURCE} {event.provider}")
        if ref is None:
            if event.kind not in ACTIONABLE:  # a delivery or an open we cannot place: nothing to look at
                reports_db.record(conn, outcome="ignored", folder=PROCESSED, detail=detail, **record)
                return Taken(key, event.kind, "ignored", why="not attributable")
            detail["reason"] = "not attributable: no signed tag or Message-ID of ours matching the address"
            reports_db.record(conn, outcome="quarantined", folder=QUARANTINE, detail=detail, **record)
            return Taken(key, event.kind, "quarantined", why=detail["reason"])
        member = reports_db.member(conn, ref.subscriber_id) if ref.subscriber_id is not None else None
        if member is None or event.kind not in ACTIONABLE:
            why = "the member was forgotten" if member is None else event.kind
            reports_db.record(conn, outcome="ignored", folder=PROCESSED,
                              detail={"reason": why} if member is None else detail, **record)
            return Taken(key, event.kind, "ignored", why=why)
        email, status, _ = member
        policy = self.settings.bounces
        failures = reports_db.failures_since(conn, ref.subscriber_id, now - timedelta(days=policy.window_days),
                                             other_than=ref.delivery_id)
        decision = decide_event(event, member_status=status, failures_before=failures, settings=self.settings)
        why = {"report": key, "reason": decision.why, "edition": ref.edition_key}
        if event.status:
            why["code"] = event.status
        if decision.new_status:
            subscriber_db.set_status(conn, ref.subscriber_id, decision.new_status, source=SOURCE, now=now, why=why)
        elif decision.outcome == "counted":
            subscriber_db.add_event(conn, ref.subscriber_id, SOURCE, "bounce", why, now)
        detail["decision"] = decision.why
        reports_db.record(conn, outcome=decision.outcome, folder=PROCESSED, detail=detail, **record)
        return Taken(key, event.kind, decision.outcome, email=email, why=decision.why)

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
        if ref is not None and ref.email and event.recipient \
                and ref.email.casefold() == event.recipient.strip().casefold():
            return ref, "Message-ID"
        return None, ""

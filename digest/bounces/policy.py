"""What each kind of failure does to a member: one table, pure, thresholds from `[bounces]`.

    kind          what happened                                        action
    permanent     a bounce whose status is one of `[bounces] permanent` bounce: the member is bounced at once
                  (5.1.1 no such user...), refused during the send or
                  returned later
    transient     any other bounce: a 5xx refusal, a failed DSN        count: the `threshold`-th failure
                  (mailbox full, policy...)                                   marks the member bounced
    delayed       a relay is still trying (DSN Action: delayed, 4.x.x) count
    gave-up       the sender gave up after repeated 4xx replies        none: the address may be fine
    complaint     an ARF report, a provider's complaint event          complain: status complained
    suppressed    a provider will not send to the address any more     bounce
                  (its suppression list)
    unsubscribe   a signed request by mail, or via a provider          unsubscribe
    delivered     a DSN or a provider saying delivered                 none

Evidence comes from three doors (`VIA`): the SMTP conversation (sending),
returned reports (bounces.process: DSN, ARF, mail to the List-Unsubscribe
mailto) and provider webhooks. They count failures differently, as before
this table existed: a refusal during the send counts on the member's lifetime
refusal counter (reset when they come back); a returned report or a webhook
event counts distinct deliveries with a failure within `window_days`. The
threshold is the same `[bounces] threshold` for both.

A member who already left is not changed again (a complaint still outranks
an unsubscribe: it says more). decide() is the whole rule; bounces.apply
records what it decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import BounceSettings
from .parse import Report, status_code

# Kinds of failure (and of other news about a delivery).
PERMANENT, TRANSIENT, DELAYED, GAVE_UP = "permanent", "transient", "delayed", "gave-up"
COMPLAINT, SUPPRESSED, UNSUBSCRIBE, DELIVERED = "complaint", "suppressed", "unsubscribe", "delivered"
# What a kind does to the member.
NONE, COUNT, BOUNCE, COMPLAIN, UNSUB = "none", "count", "bounce", "complain", "unsubscribe"

ACTIONS: dict[str, str] = {
    PERMANENT: BOUNCE,
    TRANSIENT: COUNT,
    DELAYED: COUNT,
    GAVE_UP: NONE,
    COMPLAINT: COMPLAIN,
    SUPPRESSED: BOUNCE,
    UNSUBSCRIBE: UNSUB,
    DELIVERED: NONE,
}
KINDS = tuple(ACTIONS)

# Where the evidence came from; each is also the audit trail's `source` of the change.
SMTP, REPORT, WEBHOOK = "system", "report", "webhook"
VIA = (SMTP, REPORT, WEBHOOK)

LEFT = ("unsubscribed", "bounced", "complained")
# The sender's own words for a delivery it stopped retrying (sending.policy.verdict writes them).
GAVE_UP_PREFIX = "gave up after"


@dataclass(frozen=True)
class Decision:
    outcome: str  # bounced, counted, complained, unsubscribed, unchanged, ignored
    new_status: str | None  # the member's new status, None to leave it
    why: str  # one line for the audit trail
    action: str = NONE  # the table's action for the kind (NONE: nothing is recorded about the member)


def refusal_kind(error: str | None, policy: BounceSettings) -> str:
    """The kind of a delivery the sender recorded as failed, from its recorded error."""
    if (error or "").startswith(GAVE_UP_PREFIX):
        return GAVE_UP
    code = status_code(error)
    return PERMANENT if code is not None and code in policy.permanent else TRANSIENT


def report_kind(report: Report, policy: BounceSettings) -> str | None:
    """The kind of an actionable returned report (None for the others: they are filed, not acted on)."""
    if report.kind == "bounce":
        return PERMANENT if (report.status or "5.0.0") in policy.permanent else TRANSIENT
    return {"delay": DELAYED, "complaint": COMPLAINT, "unsubscribe": UNSUBSCRIBE,
            "delivered": DELIVERED}.get(report.kind)


def decide_kind(kind: str, *, member_status: str, failures_before: int, policy: BounceSettings,
                code: str | None = None, note: str = "") -> Decision:
    """What one event of `kind` does to a member in `member_status` (the table, applied).

    failures_before: the member's failures counted before this one (see the
    module's docstring for how each door counts). code: its status code, if
    any; note: a complaint's feedback type, or how an unsubscribe came.
    """
    action = ACTIONS[kind]
    if action == COMPLAIN:
        if member_status == "complained":
            return Decision("unchanged", None, "already complained", action)
        return Decision("complained", "complained", f"complaint (feedback-type {note or 'abuse'})", action)
    if action == UNSUB:
        if member_status in LEFT:
            return Decision("unchanged", None, f"already {member_status}", action)
        return Decision("unsubscribed", "unsubscribed", note or "asked to leave", action)
    if action == NONE:
        return Decision("ignored", None, note or kind, action)
    return _failure(kind, action, member_status, failures_before, policy, code)


def _failure(kind: str, action: str, member_status: str, failures_before: int, policy: BounceSettings,
             code: str | None) -> Decision:
    status = code or ("4.0.0" if kind == DELAYED else "5.0.0")
    count = failures_before + 1
    if member_status in LEFT:
        return Decision("counted" if action == COUNT else "unchanged", None,
                        f"{status}; member already {member_status}", action)
    if action == BOUNCE:
        what = f"permanent bounce {status}" if kind == PERMANENT else \
            "suppressed by the provider" + (f" ({code})" if code else "")
        return Decision("bounced", "bounced", what, action)
    if count >= policy.threshold:
        return Decision("bounced", "bounced",
                        f"{count} failed deliveries within {policy.window_days} days (last {status})", action)
    return Decision("counted", None, f"{'soft bounce' if kind == DELAYED else 'bounce'} {status}: "
                                     f"{count} of {policy.threshold} within {policy.window_days} days", action)


def decide(report: Report, *, member_status: str, failures_before: int, policy: BounceSettings) -> Decision:
    """decide_kind() for a returned report; failures_before counts other deliveries inside the window."""
    kind = report_kind(report, policy)
    if kind is None or ACTIONS[kind] == NONE:
        return Decision("ignored", None, report.reason or report.kind)
    return decide_kind(kind, member_status=member_status, failures_before=failures_before, policy=policy,
                       code=report.status, note=report_note(report, kind))


def report_note(report: Report, kind: str) -> str:
    """What the audit trail says of a report beyond its kind: a complaint's type, an unsubscribe's door."""
    return {COMPLAINT: report.feedback_type or "",
            UNSUBSCRIBE: "asked by mail to the List-Unsubscribe address"}.get(kind, "")

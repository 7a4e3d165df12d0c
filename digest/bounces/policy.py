"""What a report does to a member: pure rules, the clock and counts passed in.

    bounce, permanent kind (5.1.1, 5.1.10, 5.2.1 by default)  -> bounced at once
    any other bounce or a delay (soft bounce)                 -> counted; the `threshold`-th
                                                                 delivery failing within
                                                                 `window_days` -> bounced
    complaint (ARF abuse)                                     -> complained (unsubscribed, reason complaint)
    unsubscribe by mail                                       -> unsubscribed
    auto-reply, delivered                                     -> nothing

A member who already left is not changed again (a complaint still outranks
an unsubscribe: it says more).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import BounceSettings
from .parse import Report

LEFT = ("unsubscribed", "bounced", "complained")


@dataclass(frozen=True)
class Decision:
    outcome: str  # bounced, counted, complained, unsubscribed, ignored, unchanged
    new_status: str | None  # the member's new status, None to leave it
    why: str  # one line for the audit trail


def decide(report: Report, *, member_status: str, failures_before: int, policy: BounceSettings) -> Decision:
    """failures_before: other deliveries of the member with a counted failure inside the window."""
    kind = report.kind
    if kind == "complaint":
        if member_status == "complained":
            return Decision("unchanged", None, "already complained")
        return Decision("complained", "complained", f"complaint (feedback-type {report.feedback_type or 'abuse'})")
    if kind == "unsubscribe":
        if member_status in LEFT:
            return Decision("unchanged", None, f"already {member_status}")
        return Decision("unsubscribed", "unsubscribed", "asked by mail to the List-Unsubscribe address")
    if kind in ("bounce", "delay"):
        status = report.status or ("5.0.0" if kind == "bounce" else "4.0.0")
        permanent = kind == "bounce" and status in policy.permanent
        count = failures_before + 1
        if member_status in LEFT:
            return Decision("counted" if not permanent else "unchanged", None, f"{status}; member already {member_status}")
        if permanent:
            return Decision("bounced", "bounced", f"permanent bounce {status}")
        if count >= policy.threshold:
            return Decision("bounced", "bounced",
                            f"{count} failed deliveries within {policy.window_days} days (last {status})")
        return Decision("counted", None, f"{'soft bounce' if kind == 'delay' else 'bounce'} {status}: "
                                         f"{count} of {policy.threshold} within {policy.window_days} days")
    return Decision("ignored", None, report.reason or kind)

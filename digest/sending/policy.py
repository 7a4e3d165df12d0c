"""Sending policy, pure: is a member still due at send time, what a server's answer means, when to retry."""

from __future__ import annotations

from ..bounces.policy import GAVE_UP_PREFIX


def is_due(status: str, paused: bool, frequency: str, edition_frequency: str) -> str | None:
    """None if a member should get the edition now, else the reason they should not."""
    if status != "active":
        return f"member is {status}"
    if paused:
        return "member has paused their emails"
    if frequency != edition_frequency:
        return f"member now wants {frequency} emails, this edition is {edition_frequency}"
    return None


def is_due_announcement(status: str, paused: bool, kind: str, news_announcements: bool) -> str | None:
    """None if a member should get an announcement of `kind` now, else why not.

    Any frequency gets it; a news announcement not a member who turned news
    announcements off since it was queued; a statutory notice still does.
    """
    if status != "active":
        return f"member is {status}"
    if paused:
        return "member has paused their emails"
    if kind != "statutory" and not news_announcements:
        return "member turned news announcements off"
    return None


def backoff_seconds(attempts: int, *, base: int = 300, cap: int = 6 * 3600) -> int:
    """Delay before retrying a temporary (4xx) failure: 5 min, 10, 20, ... up to 6 h."""
    return min(cap, base * 2 ** max(0, attempts - 1))


SENT_OK, RETRY, FAILED_HARD, GAVE_UP = "sent", "retry", "failed", "gave-up"


def verdict(ok: bool, permanent: bool, code: int | None, message: str, attempts_before: int,
            max_attempts: int) -> tuple[str, str | None, int | None]:
    """What one SMTP answer means for a delivery: (verdict, error to record, seconds until the retry).

    A 5xx fails the delivery; a 4xx is retried with backoff until the
    max_attempts-th attempt, which gives up. What either does to the member is
    the bounce table's (bounces.policy: a give-up is recognised by its words).
    """
    if ok:
        return SENT_OK, None, None
    error = f"{code or ''} {message}".strip()
    if permanent:
        return FAILED_HARD, error, None
    attempts = attempts_before + 1
    if attempts >= max_attempts:
        return GAVE_UP, f"{GAVE_UP_PREFIX} {attempts} attempts: {error}", None
    return RETRY, error, backoff_seconds(attempts)

"""Sending policy, pure: is a member still due at send time, and when to retry a 4xx."""

from __future__ import annotations


def is_due(status: str, paused: bool, frequency: str, edition_frequency: str) -> str | None:
    """None if a member should get the edition now, else the reason they should not."""
    if status != "active":
        return f"member is {status}"
    if paused:
        return "member has paused their emails"
    if frequency != edition_frequency:
        return f"member now wants {frequency} emails, this edition is {edition_frequency}"
    return None


def backoff_seconds(attempts: int, *, base: int = 300, cap: int = 6 * 3600) -> int:
    """Delay before retrying a temporary (4xx) failure: 5 min, 10, 20, ... up to 6 h."""
    return min(cap, base * 2 ** max(0, attempts - 1))

"""Sending policy, pure: still due at send time, and when to retry."""

from __future__ import annotations

from digest.sending.policy import backoff_seconds, is_due


def test_is_due_gives_the_reason_when_not():
    assert is_due("active", False, "weekly", "weekly") is None
    assert is_due("unsubscribed", False, "weekly", "weekly") == "member is unsubscribed"
    assert is_due("active", True, "weekly", "weekly") == "member has paused their emails"
    assert is_due("active", False, "monthly", "weekly") == "member now wants monthly emails, this edition is weekly"


def test_backoff_doubles_up_to_a_cap():
    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [300, 600, 1200, 2400]
    assert backoff_seconds(20) == 6 * 3600

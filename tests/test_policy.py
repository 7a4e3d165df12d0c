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


def test_what_an_answer_means_for_a_delivery():
    from digest.bounces.policy import GAVE_UP, TRANSIENT, refusal_kind
    from digest.config import BounceSettings
    from digest.sending.policy import verdict

    assert verdict(True, False, 250, "OK", 0, 3) == ("sent", None, None)
    assert verdict(False, True, 550, "5.1.1 No such user", 0, 3) == ("failed", "550 5.1.1 No such user", None)
    assert verdict(False, False, 451, "4.3.0 Try again", 0, 3) == ("retry", "451 4.3.0 Try again", 300)
    assert verdict(False, False, 451, "4.3.0 Try again", 1, 3) == ("retry", "451 4.3.0 Try again", 600)
    # The third attempt of three gives up; so does anything past it.
    assert verdict(False, False, 451, "4.3.0 Try again", 2, 3) == \
        ("gave-up", "gave up after 3 attempts: 451 4.3.0 Try again", None)
    assert verdict(False, False, 451, "x", 5, 3)[0] == "gave-up"
    assert verdict(False, False, 421, "x", 0, 1) == ("gave-up", "gave up after 1 attempts: 421 x", None)
    # No code (the connection dropped): the message alone, no stray space.
    assert verdict(False, False, None, "connection lost", 0, 3) == ("retry", "connection lost", 300)
    assert verdict(False, True, None, "refused", 0, 3) == ("failed", "refused", None)
    # What the bounce table makes of them: a give-up is not a bounce, any other failure is.
    policy = BounceSettings(permanent=())
    assert {refusal_kind(e, policy) for e in ("550 5.1.1 No such user", None, "")} == {TRANSIENT}
    assert refusal_kind(verdict(False, False, 451, "4.3.0 Try again", 2, 3)[1], policy) == GAVE_UP

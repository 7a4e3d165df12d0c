"""Who gets which variant: pure planning, no database."""

from __future__ import annotations

from datetime import datetime, timezone

from digest.models import EditionItem
from digest.outbox import ALL, backoff_seconds, edition_topics, is_due, plan_variant

ORDER = ("data-protection", "cyber-security", "smart-places", "member-news", "skills-leadership")
WHEN = datetime(2017, 6, 21, 9, tzinfo=timezone.utc)


def item(pos: int, *topics: str) -> EditionItem:
    return EditionItem(pos, pos, f"Article {pos}", f"https://example.org/{pos}", None, None, WHEN, topics, "…")


ITEMS = [item(0, "data-protection", "cyber-security"), item(1, "smart-places"), item(2, "member-news"), item(3)]


def test_no_topics_chosen_means_everything_including_untagged():
    plan = plan_variant("", "html", ITEMS, ORDER)
    assert plan.key == ALL and plan.items == tuple(ITEMS) and plan.member_topics == ()


def test_the_key_is_the_members_topics_within_the_edition_in_taxonomy_order():
    plan = plan_variant("skills-leadership,member-news,cyber-security", "text", ITEMS, ORDER)
    assert plan.key == "cyber-security,member-news"  # skills-leadership has no article this time
    assert plan.fmt == "text"
    assert [i.position for i in plan.items] == [0, 2]
    # members with different choices but the same topics within the edition share a variant
    assert plan_variant(["member-news", "cyber-security"], "text", ITEMS, ORDER).key == plan.key


def test_an_empty_digest_is_never_planned():
    assert plan_variant("skills-leadership", "html", ITEMS, ORDER) is None
    assert plan_variant("", "html", [], ORDER) is None


def test_edition_topics():
    assert edition_topics(ITEMS) == {"data-protection", "cyber-security", "smart-places", "member-news"}


def test_is_due_gives_the_reason_when_not():
    assert is_due("active", False, "weekly", "weekly") is None
    assert is_due("unsubscribed", False, "weekly", "weekly") == "member is unsubscribed"
    assert is_due("active", True, "weekly", "weekly") == "member has paused their emails"
    assert is_due("active", False, "monthly", "weekly") == "member now wants monthly emails, this edition is weekly"


def test_backoff_doubles_up_to_a_cap():
    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [300, 600, 1200, 2400]
    assert backoff_seconds(20) == 6 * 3600

"""Which variant a member gets: pure planning, no database."""

from __future__ import annotations

from datetime import datetime, timezone

from digest.edition.variants import edition_topics, plan_variant
from digest.models import EditionItem, TopicSet

ORDER = ("data-protection", "cyber-security", "smart-places", "member-news", "skills-leadership")
WHEN = datetime(2017, 6, 21, 9, tzinfo=timezone.utc)


def item(pos: int, *topics: str) -> EditionItem:
    return EditionItem(pos, pos, f"Article {pos}", f"https://example.org/{pos}", None, None, WHEN, topics, "…")


ITEMS = [item(0, "data-protection", "cyber-security"), item(1, "smart-places"), item(2, "member-news"), item(3)]


def test_no_topics_chosen_means_everything_including_untagged():
    plan = plan_variant(TopicSet(), "html", ITEMS, ORDER)
    assert plan.key == TopicSet() and plan.key.is_all and plan.items == tuple(ITEMS) and plan.member_topics == ()
    assert plan.label == "*:html"


def test_the_key_is_the_members_topics_within_the_edition_in_taxonomy_order():
    plan = plan_variant(TopicSet(["skills-leadership", "member-news", "cyber-security"]), "text", ITEMS, ORDER)
    assert plan.key == ("cyber-security", "member-news")  # skills-leadership has no article this time
    assert plan.label == "cyber-security,member-news:text"
    assert plan.fmt == "text"
    assert [i.position for i in plan.items] == [0, 2]
    # members with different choices but the same topics within the edition share a variant
    assert plan_variant(["member-news", "cyber-security"], "text", ITEMS, ORDER).key == plan.key


def test_an_empty_digest_is_never_planned():
    assert plan_variant(TopicSet(["skills-leadership"]), "html", ITEMS, ORDER) is None
    assert plan_variant(TopicSet(), "html", [], ORDER) is None


def test_a_topic_set_has_one_spelling_of_all():
    assert TopicSet() == TopicSet([""]) == TopicSet.from_label("*") == TopicSet.from_label("") == ()
    assert TopicSet.from_label("a,b") == ("a", "b") and TopicSet(["a", "b"]).label == "a,b"


def test_edition_topics():
    assert edition_topics(ITEMS) == {"data-protection", "cyber-security", "smart-places", "member-news"}

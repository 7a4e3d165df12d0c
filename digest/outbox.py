"""Who gets which variant of an edition: pure planning, no I/O.

A variant is the member's topics within the edition x format. Members who
chose no topic get every article (key ALL); members whose topics meet no
article of the edition get nothing: an empty digest is never queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Sequence

from .models import EditionItem

ALL = "*"  # the variant key of members who chose no topic (all topics)


@dataclass(frozen=True)
class VariantPlan:
    key: str  # ALL, or the member's topics within the edition, comma-separated in taxonomy order
    fmt: str
    items: tuple[EditionItem, ...]
    member_topics: tuple[str, ...]  # for "why you get this": () means all topics


def edition_topics(items: Sequence[EditionItem]) -> set[str]:
    return {t for i in items for t in i.topics}


def plan_variant(
    member_topics: Collection[str] | str,
    fmt: str,
    items: Sequence[EditionItem],
    taxonomy_order: Sequence[str],
) -> VariantPlan | None:
    """The variant a member with these topics and format gets, or None if it would be empty.

    `member_topics` may be the stored comma-separated form ('' = all topics).
    """
    if isinstance(member_topics, str):
        member_topics = [t for t in member_topics.split(",") if t]
    chosen = set(member_topics)
    if not chosen:
        plan = VariantPlan(ALL, fmt, tuple(items), ())
    else:
        within = chosen & edition_topics(items)
        ordered = tuple(t for t in taxonomy_order if t in within)
        mine = tuple(i for i in items if within.intersection(i.topics))
        plan = VariantPlan(",".join(ordered), fmt, mine, ordered)
    return plan if plan.items else None


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

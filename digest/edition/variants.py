"""Which variant of an edition a member gets: pure planning, no I/O.

A variant is the member's topics within the edition x format x language (""
for the organisation's first language, so an English-only organisation's
variants are as they always were). Members who
chose no topic (an empty TopicSet) get every article; members whose topics meet no
article of the edition get nothing: an empty digest is never queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Sequence

from ..models import EditionItem, TopicSet


@dataclass(frozen=True)
class VariantPlan:
    key: TopicSet  # the member's topics within the edition, in taxonomy order; empty: all topics
    fmt: str
    items: tuple[EditionItem, ...]
    lang: str = ""  # a language tag of [organisation] languages; "": the first (the default)

    @property
    def member_topics(self) -> TopicSet:  # for "why you get this"
        return self.key

    @property
    def label(self) -> str:
        """"topics:format[:language]", as `digest check` and send-test name a variant ("*:html", "*:html:cy")."""
        return f"{self.key.label}:{self.fmt}" + (f":{self.lang}" if self.lang else "")


def edition_topics(items: Sequence[EditionItem]) -> set[str]:
    return {t for i in items for t in i.topics}


def variant_language(member_language: str, languages: Sequence[str], unchosen: str = "") -> str:
    """The language part of a member's variant: "" for the organisation's first language; the member's tag
    for another configured one; `unchosen` (the bilingual "cy+en-GB", else "") for a member who has not
    chosen or whose tag is no longer configured."""
    if member_language == languages[0]:
        return ""
    return member_language if member_language in languages[1:] else unchosen


def plan_variant(
    member_topics: Collection[str],
    fmt: str,
    items: Sequence[EditionItem],
    taxonomy_order: Sequence[str],
    lang: str = "",
) -> VariantPlan | None:
    """The variant a member with these topics (empty: all), format and language ("": the default) gets,
    or None if it would be empty."""
    chosen = set(member_topics)
    if not chosen:
        plan = VariantPlan(TopicSet(), fmt, tuple(items), lang)
    else:
        within = chosen & edition_topics(items)
        ordered = tuple(t for t in taxonomy_order if t in within)
        mine = tuple(i for i in items if within.intersection(i.topics))
        plan = VariantPlan(TopicSet(ordered), fmt, mine, lang)
    return plan if plan.items else None

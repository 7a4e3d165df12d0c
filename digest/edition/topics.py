"""Topic tagging: which topics of the taxonomy an article belongs to, and why.

Pure and deterministic. Source categories decide when any of them maps to a
topic (through its slug, label or an alias, ignoring case and punctuation);
otherwise keyword rules over the title and teaser do. An article that matches
nothing gets no topic: the caller decides what to do with it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from ..models import Article, Topic, TopicReason

# A keyword in the headline says most, one in the teaser (the lead the editor
# chose) more than one further down the body. Feeds' bodies repeat the teaser,
# so a teaser mention also counts once as a body mention.
TITLE_WEIGHT = 6  # per distinct keyword
TEASER_WEIGHT = 2  # per mention
BODY_WEIGHT = 1  # per mention
REPEATS = 2  # mentions of one keyword counted at most, in teaser and body each
THRESHOLD = 4  # one title keyword, two teaser mentions or four body mentions make a topic

_TAG = re.compile(r"<[^>]*>")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_NOT_WORD = re.compile(r"[\W_]+")
# Hyphens, dashes and spaces all separate the words of a phrase alike.
_SEPARATOR = r"[\s\-\u2010\u2011\u2012\u2013\u2014/]+"


def normalise(name: str) -> str:
    """Case- and punctuation-insensitive form: "Data-Protection!" -> "data protection"."""
    name = name.replace("&", " and ").replace("\u2019", "'").replace("'", "")
    return " ".join(_NOT_WORD.sub(" ", name.casefold()).split())


def plain_text(fragment: str | None) -> str:
    """HTML or text to one line of plain text (tags dropped, entities decoded)."""
    if not fragment:
        return ""
    text = html.unescape(_TAG.sub(" ", _COMMENT.sub(" ", fragment)))
    return " ".join(text.split())


@dataclass(frozen=True)
class _Rule:
    slug: str
    pattern: re.Pattern[str] | None
    keywords: tuple[str, ...]  # in pattern group order


def _frozen(taxonomy: Sequence[Topic]) -> tuple[Topic, ...]:
    """A hashable copy (for the caches), whatever sequences the caller used."""
    return tuple(Topic(t.slug, t.label, tuple(t.aliases), tuple(t.keywords)) for t in taxonomy)


def _keyword_pattern(keyword: str) -> str:
    words = [re.escape(w) for w in re.split(_SEPARATOR, keyword.strip()) if w]
    # Whole words only, with an optional plural: "council" finds "councils".
    return r"(?<!\w)" + _SEPARATOR.join(words) + r"(?:s|es)?(?!\w)"


@lru_cache(maxsize=64)
def _rules(taxonomy: tuple[Topic, ...]) -> tuple[_Rule, ...]:
    rules = []
    for topic in taxonomy:
        # Longest first, so "cyber security" is found as itself, not as "cyber".
        keywords = tuple(sorted({k.strip().casefold() for k in topic.keywords if k.strip()}, key=lambda k: (-len(k), k)))
        if not keywords:
            rules.append(_Rule(topic.slug, None, ()))
            continue
        alternatives = "|".join(f"(?P<k{i}>{_keyword_pattern(k)})" for i, k in enumerate(keywords))
        rules.append(_Rule(topic.slug, re.compile(alternatives, re.I), keywords))
    return tuple(rules)


@lru_cache(maxsize=64)
def _alias_index(taxonomy: tuple[Topic, ...]) -> dict[str, list[tuple[str, str]]]:
    """normalised name -> [(slug, "alias" | "slug" | "label")], in taxonomy order."""
    index: dict[str, list[tuple[str, str]]] = {}
    for topic in taxonomy:
        names = [(topic.slug, "slug"), (topic.label, "label")] + [(a, "alias") for a in topic.aliases]
        for name, kind in names:
            key = normalise(name)
            if key and all(slug != topic.slug for slug, _ in index.get(key, [])):
                index.setdefault(key, []).append((topic.slug, kind))
    return index


def _matches(rule: _Rule, text: str) -> dict[str, int]:
    """keyword -> how often it occurs (non-overlapping, leftmost-longest) in text."""
    counts: dict[str, int] = {}
    if rule.pattern is None or not text:
        return counts
    for m in rule.pattern.finditer(text):
        keyword = rule.keywords[int(m.lastgroup[1:])]
        counts[keyword] = counts.get(keyword, 0) + 1
    return counts


def _quoted(keywords: dict[str, int]) -> str:
    return ", ".join(f"'{k}'" for k in sorted(keywords, key=lambda k: (-keywords[k], k)))


def by_category(article: Article, taxonomy: Sequence[Topic]) -> list[TopicReason]:
    """Topics that the article's source categories name, in taxonomy order."""
    index = _alias_index(_frozen(taxonomy))
    found: dict[str, str] = {}
    for category in article.categories:
        for slug, kind in index.get(normalise(category), []):
            found.setdefault(slug, f"category {category.strip()!r} is {'an alias' if kind == 'alias' else 'the ' + kind} of {slug}")
    order = [t.slug for t in taxonomy]
    return [TopicReason(slug, found[slug]) for slug in order if slug in found]


def scores(article: Article, taxonomy: Sequence[Topic]) -> list[tuple[str, int, str]]:
    """(slug, score, reason) for every topic whose keywords occur, in taxonomy order."""
    texts = (
        ("title", plain_text(article.title), None),
        ("teaser", plain_text(article.teaser), TEASER_WEIGHT),
        ("body", plain_text(article.body), BODY_WEIGHT),
    )
    out = []
    for rule in _rules(_frozen(taxonomy)):
        score, parts = 0, []
        for where, text, weight in texts:
            found = _matches(rule, text)
            if not found:
                continue
            if weight is None:
                score += TITLE_WEIGHT * len(found)
            else:
                score += weight * sum(min(n, REPEATS) for n in found.values())
            parts.append(f"in {where}: {_quoted(found)}")
        if score:
            out.append((rule.slug, score, "keywords " + "; ".join(parts)))
    return out


def classify(article: Article, taxonomy: Sequence[Topic], *, max_topics: int = 3) -> list[TopicReason]:
    """The article's topics (at most `max_topics`), each with the reason it applies.

    Categories that map to a topic decide alone. Otherwise keyword scores do:
    each distinct keyword in the title weighs TITLE_WEIGHT, each mention in the
    teaser TEASER_WEIGHT and in the body BODY_WEIGHT (at most REPEATS mentions
    per keyword and text); a topic needs THRESHOLD. Topics come highest score
    first, ties in taxonomy order.
    """
    if max_topics < 1:
        return []
    from_categories = by_category(article, taxonomy)
    if from_categories:
        return from_categories[:max_topics]
    ranked = [(slug, score, reason) for slug, score, reason in scores(article, taxonomy) if score >= THRESHOLD]
    ranked.sort(key=lambda r: -r[1])  # stable: equal scores stay in taxonomy order
    return [TopicReason(slug, f"{reason} (score {score})") for slug, score, reason in ranked[:max_topics]]

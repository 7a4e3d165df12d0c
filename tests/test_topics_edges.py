"""Topic tagging at its edges: keyword phrases, how reasons list keywords, max_topics, plain text.

Written against what mutation testing (scripts/mutants topics) found unguarded.
"""

from __future__ import annotations

import pytest

from digest.edition import topics as topics_module
from digest.edition.topics import TEASER_WEIGHT, TITLE_WEIGHT, classify, plain_text, scores
from digest.models import Article, Topic

TAXONOMY = (
    Topic("privacy", "Privacy", (), ("data protection", "gdpr", "privacy")),
    Topic("security", "Security", (), ("cyber", "phishing")),
)


@pytest.fixture(autouse=True)
def fresh_rules():
    # The compiled rules are cached per taxonomy; build them in each test, so a test
    # checks the rule-building code too (mutation testing forks after they were built).
    topics_module._rules.cache_clear()
    topics_module._alias_index.cache_clear()
    yield


def test_plain_text_of_nothing_comments_and_tags():
    assert plain_text(None) == "" and plain_text("") == ""
    assert plain_text("a<!-- c -->b <b>c</b>&amp;d") == "a b c &d"


@pytest.mark.parametrize("title, matches", [
    ("New data protection rules", True),
    ("New data-protection rules", True),
    ("New data \u2013 protection rules", True),
    ("Data  Protection in councils", True),
    ("Two data protections", True),
    ("A data protectionist speaks", False),
    ("Metadata protection", False),
])
def test_a_keyword_phrase_matches_whole_words_whatever_separates_them(title, matches):
    found = [slug for slug, _, _ in scores(Article(title=title), TAXONOMY)]
    assert found == (["privacy"] if matches else [])


def test_reasons_list_keywords_most_mentioned_first_then_alphabetically():
    article = Article(title="Notes", teaser="privacy and gdpr, privacy again; data protection")
    [(slug, score, reason)] = scores(article, TAXONOMY)
    assert reason == "keywords in teaser: 'privacy', 'data protection', 'gdpr'"
    assert score == TEASER_WEIGHT * 4
    article = Article(title="GDPR and privacy")
    assert scores(article, TAXONOMY) == [("privacy", TITLE_WEIGHT * 2, "keywords in title: 'gdpr', 'privacy'")]


def test_max_topics():
    article = Article(title="GDPR privacy and cyber phishing", teaser="gdpr privacy cyber phishing")
    assert [t.slug for t in classify(article, TAXONOMY)] == ["privacy", "security"]
    assert [t.slug for t in classify(article, TAXONOMY, max_topics=1)] == ["privacy"]
    assert classify(article, TAXONOMY, max_topics=0) == []

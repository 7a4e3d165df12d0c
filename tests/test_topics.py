"""Topic tagging: categories through aliases, else keyword scores over title, teaser, body."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from conftest import listing_blocks
from digest.models import Article, Topic, TopicReason
from digest.edition.topics import THRESHOLD, classify, normalise, scores

SEED_TOPICS = {
    "Queen’s speech: what to watch for and what’s missing": ["data-protection", "cyber-security", "health-social-care"],
    "Socitm’s David Hopkins becomes Milton Keynes mayor": ["member-news", "smart-places"],
    "Some thoughts about the Government Transformation Strategy 2017-2020": ["digital-transformation"],
    "See beyond the ordinary with technology": ["emerging-technology"],
    "Blockchain technology: could it transform digitally-enabled councils?": ["emerging-technology", "digital-transformation"],
}


def seed_blocks(path: Path) -> list[tuple[str, list[str]]]:
    """(title, paragraphs) for each article of the listing: the text between a title and its repeat."""
    return [(title, [p.strip() for p in lines if p.strip()]) for title, lines in listing_blocks(path)]


def as_teaser(title: str, paragraphs: list[str]) -> Article:
    """Everything the listing shows as the teaser, byline and markers included."""
    return Article(title=title, teaser="\n\n".join(paragraphs))


def as_ingested(title: str, paragraphs: list[str]) -> Article:
    """The shape a listing ingest gives: teaser up to the first marker, the rest in the body."""
    paragraphs = [p for p in paragraphs if not re.match(r"^(By |Martin Ferguson, )", p)]
    body: list[str] = []
    end = None
    for p in paragraphs:
        if p.startswith("Continue reading"):
            end = len(body) if end is None else end
        elif p.endswith("Read more."):
            body.append(p.removesuffix("Read more.").strip())
            end = len(body) if end is None else end
        else:
            body.append(p)
    return Article(
        title=title,
        teaser="\n\n".join(body[:end]) if end else None,
        body="\n".join(f"<p>{html.escape(p)}</p>" for p in body),
    )


@pytest.fixture
def seed(seed_path) -> list[tuple[str, list[str]]]:
    blocks = seed_blocks(seed_path)
    assert [t for t, _ in blocks] == list(SEED_TOPICS)
    return blocks


@pytest.mark.parametrize("shape", [as_teaser, as_ingested])
def test_seed_articles_get_sensible_topics(settings, seed, shape):
    for title, paragraphs in seed:
        got = classify(shape(title, paragraphs), settings.topics)
        assert [r.slug for r in got] == SEED_TOPICS[title], title
        for r in got:
            assert r.reason.startswith("keywords in "), r


def test_seed_reasons_name_the_keywords(settings, seed):
    title, paragraphs = seed[4]
    reasons = {r.slug: r.reason for r in classify(as_teaser(title, paragraphs), settings.topics)}
    assert reasons["emerging-technology"].startswith("keywords in title: 'blockchain'; in teaser: ")
    assert "'digital currencies'" in reasons["emerging-technology"]
    assert "'bitcoin'" in reasons["emerging-technology"]
    assert reasons["digital-transformation"].startswith("keywords in title: 'digitally-enabled'")
    queen = classify(as_ingested(*seed[0]), settings.topics)[0]
    assert queen.reason.startswith("keywords in body: ") and "'gdpr'" in queen.reason


# --- categories -----------------------------------------------------------------


@pytest.mark.parametrize("category", ["GDPR", "gdpr", "Data protection", "data-protection", "DATA PROTECTION!", " Data  Protection ", "Data Protection Act"])
def test_categories_map_through_aliases_slugs_and_labels(settings, category):
    got = classify(Article(title="Nothing to see", categories=[category]), settings.topics)
    assert [r.slug for r in got] == ["data-protection"]


def test_category_reasons(settings):
    [r] = classify(Article(title="x", categories=["GDPR"]), settings.topics)
    assert r == TopicReason("data-protection", "category 'GDPR' is an alias of data-protection")
    [r] = classify(Article(title="x", categories=["health-social-care"]), settings.topics)
    assert r.reason == "category 'health-social-care' is the slug of health-social-care"
    [r] = classify(Article(title="x", categories=["Health & social care"]), settings.topics)
    assert r.reason == "category 'Health & social care' is the label of health-social-care"


def test_categories_decide_over_keywords(settings):
    a = Article(title="Blockchain for councils", teaser="Bitcoin and blockchain.", categories=["Uncategorised", "Smart cities", "GDPR"])
    assert [r.slug for r in classify(a, settings.topics)] == ["data-protection", "smart-places"]  # taxonomy order


def test_unknown_categories_fall_back_to_keywords(settings):
    a = Article(title="Blockchain for councils", categories=["Uncategorised", "Blog"])
    assert [r.slug for r in classify(a, settings.topics)] == ["emerging-technology"]


def test_normalise():
    assert normalise("Data-Protection!") == normalise("data protection") == "data protection"
    assert normalise("Health & Social Care") == "health and social care"
    assert normalise("Socitm’s news") == normalise("Socitms news")


# --- keyword rules ----------------------------------------------------------------

TAXONOMY = (
    Topic("alpha", "Alpha", keywords=("ico", "cyber security", "cyber", "place-based")),
    Topic("beta", "Beta", keywords=("council", "data")),
    Topic("gamma", "Gamma", keywords=("council", "data")),  # same rules as beta: ties
    Topic("delta", "Delta"),  # no keywords at all
)


def slugs(article: Article, **kw) -> list[str]:
    return [r.slug for r in classify(article, TAXONOMY, **kw)]


def test_whole_words_only():
    assert slugs(Article(title="Politico and the icon")) == []
    assert slugs(Article(title="The ICO fines a council")) == ["alpha", "beta", "gamma"]
    assert slugs(Article(title="Cybersecurity")) == []  # "cyber" is not a word of it


def test_plurals_hyphens_and_phrases():
    assert slugs(Article(title="Councils meet")) == ["beta", "gamma"]
    assert slugs(Article(title="A place based plan")) == ["alpha"]
    assert slugs(Article(title="Cyber-security now")) == ["alpha"]
    [r] = classify(Article(title="Cyber security and more"), TAXONOMY)
    assert r.reason == "keywords in title: 'cyber security' (score 6)"  # the longest keyword, once


def test_title_weighs_more_than_teaser_and_threshold():
    one_teaser_mention = Article(title="Nothing", teaser="<p>The ICO said so.</p>")
    assert slugs(one_teaser_mention) == []  # 2 < THRESHOLD
    assert [s for s, score, _ in scores(one_teaser_mention, TAXONOMY)] == ["alpha"]
    assert slugs(Article(title="Nothing", teaser="The ICO said so; the ICO.")) == ["alpha"]
    a = Article(title="Data", teaser="The ICO, the ICO and the ICO again, and cyber too.")
    ranked = scores(a, TAXONOMY)
    assert dict((s, score) for s, score, _ in ranked) == {"alpha": 6, "beta": 6, "gamma": 6}
    assert THRESHOLD == 4


def test_order_by_score_then_taxonomy_and_max_topics():
    a = Article(title="Councils", teaser="ICO ICO cyber cyber")  # alpha 8, beta 6, gamma 6
    assert slugs(a) == ["alpha", "beta", "gamma"]
    assert slugs(a, max_topics=2) == ["alpha", "beta"]
    assert slugs(a, max_topics=0) == []
    b = Article(title="Councils and the ICO")  # all 6: taxonomy order
    assert slugs(b) == ["alpha", "beta", "gamma"]


def test_teaser_html_is_text():
    a = Article(title="Nothing", teaser='<a href="https://ico.org.uk/council">link</a> <b>c</b>yber &amp; data')
    assert [s for s, _, _ in scores(a, TAXONOMY)] == ["beta", "gamma"]  # not the URL, not "c yber"


def test_body_counts_less_than_teaser():
    a = Article(title="Nothing", body="<p>The ICO and cyber.</p><p>More on the ICO.</p>")
    assert dict((s, score) for s, score, _ in scores(a, TAXONOMY)) == {"alpha": 3}
    assert slugs(a) == []
    b = Article(title="Nothing", body="<p>The ICO and cyber.</p><p>Cyber and the ICO.</p>")
    [r] = classify(b, TAXONOMY)
    assert r.reason == "keywords in body: 'cyber', 'ico' (score 4)"


def test_nothing_matches():
    assert classify(Article(title="Lunch menu"), TAXONOMY) == []
    assert classify(Article(title=""), TAXONOMY) == []
    assert classify(Article(title="Council"), ()) == []


def test_deterministic_and_list_taxonomies_work():
    a = Article(title="Councils", teaser="ICO ICO data cyber")
    first = classify(a, TAXONOMY)
    assert all(classify(a, TAXONOMY) == first for _ in range(5))
    as_lists = [Topic(t.slug, t.label, list(t.aliases), list(t.keywords)) for t in TAXONOMY]  # type: ignore[arg-type]
    assert classify(a, as_lists) == first

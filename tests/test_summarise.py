"""Summaries: source choice, cleaning, and the word budget (examples and properties)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import listing_blocks
from digest.models import Article
from digest.edition.summarise import clean, summarise, trim_words

ELLIPSIS = "\u2026"


def seed_teasers(path: Path) -> dict[str, str]:
    """Title -> everything the listing shows between the title and its repeat."""
    return {title: "\n".join(lines).strip() for title, lines in listing_blocks(path)}


@pytest.fixture
def seed(seed_path) -> dict[str, str]:
    teasers = seed_teasers(seed_path)
    assert len(teasers) == 5
    return teasers


# --- the seed's teasers -------------------------------------------------------


def test_seed_byline_and_continue_reading_are_stripped(seed):
    title = "Blockchain technology: could it transform digitally-enabled councils?"
    got = summarise(Article(title=title, teaser=seed[title]))
    assert got == (
        "As the professional network for digital leaders in local public services, Socitm is at one with "
        "those that think there is great potential in blockchain technology, and perhaps even a step change "
        "on the road to a truly all-digital, open e-economy."
    )  # 41 words: the next sentence would end at word 55, so this one (in the last third) is the cut
    assert "Hopkirk" not in got and "Continue reading" not in got


def test_seed_short_teasers_are_whole(seed):
    title = "Some thoughts about the Government Transformation Strategy 2017-2020"
    got = summarise(Article(title=title, teaser=seed[title]))
    assert got.startswith("We are four years on from the first Government Digital Service")
    assert got.endswith("What’s the difference between just more digital and transformation?")
    assert "By Dr" not in got and "Continue" not in got and ELLIPSIS not in got
    title = "See beyond the ordinary with technology"
    got = summarise(Article(title=title, teaser=seed[title]))
    assert got == (
        "I have just been reading a blog about distributed ledger technology, which uses Blockchain as its core "
        "platform, and how its real ability to disrupt is not so much about how it enables transactions, but the "
        "way in which it builds and embeds trust."
    )


def test_seed_read_more_in_the_middle_and_a_word_cut(seed):
    title = "Socitm’s David Hopkins becomes Milton Keynes mayor"
    got = summarise(Article(title=title, teaser=seed[title]))
    assert got.startswith("Long-standing Socitm member David Hopkins has become mayor of Milton Keynes, after nearly 40 years in local government. Councillor Hopkins")
    assert "Read more" not in got
    # No sentence ends in words 34-50, so it is cut after word 50 with an ellipsis.
    assert got.endswith(" former head of IT services at Northamptonshire" + ELLIPSIS)
    assert len(got.split()) == 50


def test_seed_credit_line_without_and_with_a_known_author(seed):
    title = "Queen’s speech: what to watch for and what’s missing"
    expected = (
        "Her Majesty’s 64th Queen’s speech involved less ceremony than usual. As a result of the Conservative "
        "party lacking an overall majority in Parliament it also lacked several measures promised in that "
        "party’s manifesto. Those councils involved in the development of autonomous vehicles will be "
        "interested in a bill which would" + ELLIPSIS
    )
    known = Article(title=title, teaser=seed[title], author="Martin Ferguson", author_role="Director of Policy and Research, Socitm")
    assert summarise(known) == expected
    assert summarise(Article(title=title, teaser=seed[title])) == expected
    # A tighter budget: the sentence end at word 33 is within the last third of 40.
    assert summarise(known, words=40).endswith("party’s manifesto.")


# --- where the text comes from ------------------------------------------------


def test_override_wins_and_is_not_cut():
    long = " ".join(["word"] * 80)
    a = Article(title="t", teaser="A teaser.", body="<p>Body.</p>", summary_override=f"  {long}\n")
    assert summarise(a) == long
    assert summarise(Article(title="t", teaser="A teaser.", summary_override="   ")) == "A teaser."


def test_body_up_to_the_more_marker():
    body = "<p>First part &amp; more.</p>\n<p>Second part.</p><!--more--><p>Hidden.</p>"
    assert summarise(Article(title="t", body=body)) == "First part & more. Second part."
    body = '<p>Intro here. <a href="/x" class="more-link">Continue reading <span>“Title”</span> &rarr;</a></p><p>Rest.</p>'
    assert summarise(Article(title="t", body=body)) == "Intro here."
    assert summarise(Article(title="t", body="<p>Intro. Read more</p><p>Rest.</p>")) == "Intro."


def test_body_first_paragraph_without_a_marker():
    body = "<h2>Heading</h2><p></p><p>The first <em>real</em> paragraph.</p><p>The second.</p>"
    assert summarise(Article(title="t", body=body)) == "The first real paragraph."
    assert summarise(Article(title="t", body="Plain first.\n\nPlain second.")) == "Plain first."
    body = "<p>By Adrian Hancock, Socitm CEO</p><p>What he wrote.</p><p>More.</p>"
    assert summarise(Article(title="t", body=body)) == "What he wrote."


def test_nothing_to_summarise():
    assert summarise(Article(title="t")) == ""
    assert summarise(Article(title="t", teaser="<p> </p>", body="")) == ""


def test_teaser_wins_over_body():
    assert summarise(Article(title="t", teaser="<p>Teaser</p>", body="<p>Body</p>")) == "Teaser"


# --- cleaning -----------------------------------------------------------------


@pytest.mark.parametrize(
    "teaser",
    [
        "Text here. Continue reading “Some title”",
        "Text here.\nContinue reading →",
        "Text here. Continue reading &rarr;",
        "Text here. Read more.",
        "Text here. Read more",
        "Text here. […]",
        "Text here. [&hellip;]",
        "Text here. [...]",
        "<p>Text here.</p><p><a href='/more'>Read more</a></p>",
    ],
)
def test_markers_are_removed(teaser):
    assert summarise(Article(title="t", teaser=teaser)) == "Text here."


def test_read_more_inside_a_sentence_is_kept():
    text = "Read more about GDPR in our guide."
    assert summarise(Article(title="t", teaser=text)) == text
    assert summarise(Article(title="t", teaser="We should all read more.")) == "We should all read more."


@pytest.mark.parametrize(
    "byline",
    ["By Dr Andy Hopkirk, Socitm Head of Research", "By Adrian Hancock, Socitm CEO", "by Jane O’Neil", "By Jean-Luc van der Berg – Editor"],
)
def test_bylines_are_removed(byline):
    assert clean(f"{byline}\n\nThe text.") == "The text."
    assert clean(f"<p>{byline}</p><p>The text.</p>") == "The text."


@pytest.mark.parametrize(
    "text",
    ["By 2020, all councils will be digital.", "By Thursday, councils must respond.", "By then most councils had moved on"],
)
def test_sentences_starting_with_by_are_kept(text):
    assert clean(f"{text}\n\nMore.") == f"{text} More."


def test_known_author_line_is_removed_only_at_the_start():
    a = Article(title="t", author="Martin Ferguson", author_role="Director of Policy, Socitm")
    assert clean("Martin Ferguson, Director of Policy, Socitm\nThe text.", a) == "The text."
    assert clean("martin  ferguson,  director of policy, socitm\nThe text.", a) == "The text."
    assert clean("Martin Ferguson\nThe text.", a) == "The text."
    kept = "The text. Martin Ferguson, Director of Policy, Socitm"
    assert clean(kept, a) == kept


def test_html_entities_and_no_break_spaces():
    teaser = "<p>Fish&nbsp;&amp;\u00a0chips\u202fat&#160;<b>noon</b>&hellip;</p>\n\n  <p>Then   tea.</p>"
    assert clean(teaser) == "Fish & chips at noon… Then tea."
    assert clean("5 &lt; 6 &amp;&amp; <i>x</i>") == "5 < 6 && x"


# --- trimming -----------------------------------------------------------------


def test_trim_cuts_at_a_sentence_end_in_the_last_third():
    text = " ".join(["a"] * 7) + " end. " + " ".join(["b"] * 10)  # sentence ends at word 8
    assert trim_words(text, 10) == " ".join(["a"] * 7) + " end."
    # Word 8 is not within the last third of a 15-word budget: cut at the word.
    assert trim_words(text, 15) == " ".join(["a"] * 7) + " end. " + " ".join(["b"] * 7) + ELLIPSIS


def test_trim_sentence_ends_with_quotes_and_abbreviations():
    assert trim_words("one two three four five six “seven eight nine!” ten eleven twelve", 10) == "one two three four five six “seven eight nine!”"
    # "Dr." is not a sentence end.
    assert trim_words("one two three four five six seven eight Dr. Who went home", 10) == "one two three four five six seven eight Dr. Who" + ELLIPSIS


def test_trim_drops_dangling_punctuation_before_the_ellipsis():
    assert trim_words("one two three, four five", 3) == "one two three" + ELLIPSIS
    assert trim_words("one two three – four five", 4) == "one two three" + ELLIPSIS
    assert trim_words("one two three... four five", 3) == "one two three..."
    assert trim_words("one two three…, four five", 3) == "one two three…"
    check_trim("one two three…, four five", 3)


def test_trim_short_text_untouched_but_normalised():
    assert trim_words("  a\u00a0b\n c ", 3) == "a b c"
    assert trim_words("", 5) == ""
    with pytest.raises(ValueError):
        trim_words("a", 0)


words = st.text(alphabet=st.characters(categories=("L", "N"), include_characters="'’-"), min_size=1, max_size=12)
punct = st.sampled_from(["", "", "", ".", ",", "!", "?", ";", ":", ".”", "?’", "…", "..."])
token = st.builds(lambda w, p: w + p, words, punct) | st.sampled_from(["–", "—", "•", "Dr.", "e.g."])
space = st.sampled_from([" ", "  ", "\n", "\u00a0", "\t", " \n\n "])


@st.composite
def texts(draw):
    tokens = draw(st.lists(token, max_size=90))
    gaps = draw(st.lists(space, min_size=len(tokens), max_size=len(tokens)))
    return "".join(g + t for g, t in zip(gaps, tokens))


def check_trim(text: str, budget: int) -> None:
    out = trim_words(text, budget)
    source = text.split()
    got = out.split()
    assert len(got) <= budget  # "…" is attached to the last word, so it never counts
    if len(source) <= budget:
        assert out == " ".join(source)  # nothing cut: no ellipsis added
        return
    assert got[:-1] == source[: len(got) - 1]  # a prefix, whole words
    last, original = got[-1], source[len(got) - 1]
    if last == original:
        # A whole-word ending: either a sentence end or the word already ended in an ellipsis.
        assert last.endswith((".", "!", "?", "”", "’", "...", ELLIPSIS))
    else:
        assert last.endswith(ELLIPSIS)
        stem = last[: -len(ELLIPSIS)]
        # Only trailing ",;:" may go (and an ellipsis the word already had is not doubled).
        assert stem and original.startswith(stem) and set(original[len(stem) :]) <= set(",;:.…")
    assert trim_words(out, budget) == out  # idempotent


@settings(max_examples=300, deadline=None)
@given(texts(), st.integers(min_value=1, max_value=60))
def test_trim_properties(text, budget):
    check_trim(text, budget)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400), st.integers(min_value=1, max_value=30))
def test_trim_properties_on_any_text(text, budget):
    check_trim(text, budget)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_summarise_never_over_budget_on_any_teaser(text):
    out = summarise(Article(title="t", teaser=text), words=20)
    assert len(out.split()) <= 20
    assert summarise(Article(title="t", teaser=out), words=20) == out or ELLIPSIS in out

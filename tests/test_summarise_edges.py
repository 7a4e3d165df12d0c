"""Summaries at their edges: bylines known only from the author, the "more" marker, odd paragraph markup.

Written to kill what mutation testing (scripts/mutants) found unguarded.
"""

from __future__ import annotations

import pytest

from digest.edition.summarise import summarise, trim_words
from digest.models import Article


def art(**kw) -> Article:
    return Article(title="A title", **kw)


def test_a_byline_known_only_from_the_author_is_dropped_from_teaser_excerpt_and_body():
    author = "Jane Smith"
    assert summarise(art(author=author, teaser="<p>Jane Smith</p><p>Council news today.</p>")) == "Council news today."
    body = "<p>Jane Smith</p><p>News text.</p><!--more--><p>The rest.</p>"
    assert summarise(art(author=author, body=body)) == "News text."
    # No marker: the first paragraph is only the byline, so the next one is the summary.
    assert summarise(art(author=author, body="<p>Jane Smith</p>\n<p>News.</p>")) == "News."
    # Only a byline: no summary at all.
    assert summarise(art(author=author, body="<p>Jane Smith</p>")) == ""


def test_a_curly_apostrophe_in_the_author_matches_a_straight_one_in_the_byline():
    teaser = "<p>Martin O'Brien</p><p>The budget is out.</p>"
    assert summarise(art(author="Martin O\u2019Brien", teaser=teaser)) == "The budget is out."
    teaser = "<p>Martin O\u2019Brien</p><p>The budget is out.</p>"
    assert summarise(art(author="Martin O'Brien", teaser=teaser)) == "The budget is out."


def test_the_more_marker_counts_only_after_some_text():
    assert summarise(art(body="A<!--more--><p>Second.</p>")) == "A"
    # A marker at the very start is no excerpt: the first real paragraph is.
    assert summarise(art(body="Continue reading \u2192\n<p>The real first paragraph.</p>")) == \
        "The real first paragraph."


def test_paragraphs_in_capitals_or_across_lines_are_paragraphs():
    assert summarise(art(body="<P>Upper case paragraph.</P><P>Second.</P>")) == "Upper case paragraph."
    assert summarise(art(body="<p>Line one\nline two.</p>\n<p>Second para.</p>")) == "Line one line two."


def test_an_empty_body_gives_an_empty_summary():
    assert summarise(art(body="<p>&nbsp;</p>")) == ""
    assert summarise(art(body="<p>Jane</p>", author="Jane")) == ""


def test_comments_and_zero_width_characters_vanish():
    assert summarise(art(teaser="<p>Budget<!-- note --> day</p>")) == "Budget day"
    assert summarise(art(teaser="<p>Bud\u200bget day</p>")) == "Budget day"


def words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


def test_a_byline_is_at_most_16_words():
    sixteen = "By Jane Smith, " + words(13)
    assert len(sixteen.split()) == 16
    assert summarise(art(teaser=f"<p>{sixteen}</p><p>News.</p>")) == "News."
    seventeen = "By Jane Smith, " + words(14)
    assert summarise(art(teaser=f"<p>{seventeen}</p><p>News.</p>")) == f"{seventeen} News."
    long_ = "By Jane Smith, Head of Digital at the Council of Somewhere with a title that runs on and on"
    assert summarise(art(teaser=f"<p>{long_}</p><p>News.</p>")) == f"{long_} News."


def test_a_by_line_that_ends_a_sentence_is_text_unless_it_ends_with_a_company():
    for line in ("By Jane Smith, is it over?", "By Jane Smith, what a year!", "By Jane Smith, we won."):
        assert summarise(art(teaser=f"<p>{line}</p><p>News.</p>")) == f"{line} News."
    for line in ("By Jane Smith, Acme Ltd.", "By Jane Smith, Acme Inc."):
        assert summarise(art(teaser=f"<p>{line}</p><p>News.</p>")) == "News."


def test_the_authors_own_line_is_a_byline_with_or_without_their_role():
    assert summarise(art(author="Jane Smith", teaser="<p>Jane Smith, Editor</p><p>News.</p>")) == "News."
    assert summarise(art(author="Jane Smith", author_role="Editor",
                         teaser="<p>Jane Smith, Editor</p><p>News.</p>")) == "News."
    assert summarise(art(author="Jane Smith", author_role="Editor",
                         teaser="<p>By Jane Smith, Editor</p><p>News.</p>")) == "News."
    said = "Jane Smith, the chief executive, said the plan works."
    assert summarise(art(author="Jane Smith", teaser=f"<p>{said}</p><p>More.</p>")) == f"{said} More."


def test_a_credit_line_stands_alone_above_the_text():
    assert summarise(art(teaser="Jane Smith, Editor\n\nNews today.")) == "News today."
    assert summarise(art(teaser="Jane Smith, Editor\n")) == "Jane Smith, Editor"
    fourteen = "Jane Smith, " + words(12)
    assert summarise(art(teaser=f"{fourteen}\n\nNews today.")) == "News today."
    fifteen = "Jane Smith, " + words(13)
    assert summarise(art(teaser=f"{fifteen}\n\nNews today.")) == f"{fifteen} News today."
    for end in ("?", "!", ":"):
        line = f"Jane Smith, what next{end}"
        assert summarise(art(teaser=f"{line}\n\nNews today.")) == f"{line} News today."


def test_a_summary_needs_a_word():
    with pytest.raises(ValueError, match="^a summary needs at least one word, not 0$"):
        trim_words("Some text.", 0)


def test_a_cut_never_ends_on_a_lone_dash_nor_loses_a_lone_comma():
    assert trim_words("one \u2013 three four", 2) == "one\u2026"
    assert trim_words(", and more", 1) == ",\u2026"

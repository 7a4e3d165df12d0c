"""Summaries at their edges: bylines known only from the author, the "more" marker, odd paragraph markup.

Written to kill what mutation testing (scripts/mutants) found unguarded.
"""

from __future__ import annotations

from digest.edition.summarise import summarise
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
    teaser = "<p>By Martin O'Brien</p><p>The budget is out.</p>"
    assert summarise(art(author="Martin O\u2019Brien", teaser=teaser)) == "The budget is out."
    teaser = "<p>By Martin O\u2019Brien</p><p>The budget is out.</p>"
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

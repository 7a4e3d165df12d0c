"""Plain-text listing exports: the real seed page, bylines, markers, cut-off exports."""

from __future__ import annotations

import re

import pytest

from digest.errors import IngestError
from digest.ingest import load_source, parse_source
from digest.ingest.listing import parse_byline, slugify

SITE = "https://www.example.org"


def paragraphs(body: str) -> list[str]:
    assert re.fullmatch(r"(<p>[^<>]*</p>\n?)+", body), body  # plain <p> paragraphs, nothing else
    return re.findall(r"<p>([^<>]*)</p>", body)


def test_seed_parses_into_its_five_articles(seed_path):
    result = load_source(str(seed_path), site_url=SITE)
    assert result.kind == "listing"
    assert result.problems == []
    assert [(a.title, a.author, a.author_role) for a in result.articles] == [
        ("Queen’s speech: what to watch for and what’s missing", "Martin Ferguson", "Director of Policy and Research, Socitm"),
        ("Socitm’s David Hopkins becomes Milton Keynes mayor", None, None),
        ("Some thoughts about the Government Transformation Strategy 2017-2020", "Dr Andy Hopkirk", "Socitm Head of Research"),
        ("See beyond the ordinary with technology", "Adrian Hancock", "Socitm CEO"),
        ("Blockchain technology: could it transform digitally-enabled councils?", "Dr Andy Hopkirk", "Socitm Head of Research"),
    ]
    # The export carries no links: each article links to the site as a stand-in, never to a guessed URL.
    assert [(a.url, a.link_origin) for a in result.articles] == [(SITE, "website")] * 5
    for article in result.articles:
        assert (article.guid, article.published_at, article.categories, article.source) == (None, None, [], str(seed_path))
    assert [len(paragraphs(a.body)) for a in result.articles] == [9, 9, 1, 1, 2]


def test_seed_article_one_no_teaser_byline_not_in_body(seed_path):
    first = load_source(str(seed_path), site_url=SITE).articles[0]
    assert first.teaser is None
    body = paragraphs(first.body)
    assert body[0].startswith("Her Majesty’s 64th Queen’s speech involved less ceremony than usual.")
    assert body[-1] == (
        "Finally, there is a case for central government to provide seed funding to facilitate a quick and "
        "widespread transition to shared platforms where the case for such can be made, with room for the "
        "Government Digital Service to undertake further work in this area. Without government support, "
        "progress on shared services will be slow and patchy rather than transformative."
    )
    assert "Martin Ferguson" not in first.body


def test_seed_article_two_teaser_is_its_first_paragraph_without_read_more(seed_path):
    second = load_source(str(seed_path), site_url=SITE).articles[1]
    lead = "Long-standing Socitm member David Hopkins has become mayor of Milton Keynes, after nearly 40 years in local government."
    assert second.teaser == lead
    body = paragraphs(second.body)
    assert body[0] == lead
    assert "Read more" not in second.body
    # quotes and dashes survive as the real characters, escaped only where HTML needs it
    assert body[7] == (
        "Hopkins says Socitm is good at bringing together suppliers and customers to the benefit of both. "
        "“There’s always a natural suspicion on both sides,” he says. “The suppliers only want to come to "
        "conferences to sell us stuff – which they do – and from the suppliers, that they will talk to no end "
        "of IT managers who aren’t really interested because they’ve got their set deals in place.”"
    )


def test_seed_continue_reading_markers(seed_path):
    articles = load_source(str(seed_path), site_url=SITE).articles
    third, fourth, fifth = articles[2:]
    assert third.teaser == paragraphs(third.body)[0]
    assert third.teaser.startswith("We are four years on from the first Government Digital Service’s")
    assert fourth.teaser == (
        "I have just been reading a blog about distributed ledger technology, which uses Blockchain as its core "
        "platform, and how its real ability to disrupt is not so much about how it enables transactions, but the "
        "way in which it builds and embeds trust."
    )
    # a teaser of two paragraphs, separated by a blank line, no-break spaces normalised
    assert fifth.teaser == "\n\n".join(paragraphs(fifth.body))
    assert fifth.teaser.startswith("As the professional network for digital leaders in local public services, Socitm")
    assert all("Continue reading" not in (a.body + (a.teaser or "")) for a in articles)
    assert all("\u00a0" not in a.title + a.body for a in articles)


@pytest.mark.parametrize(
    "transform",
    [
        lambda b: b.replace(b"\n", b"\r\n"),  # Windows line endings
        lambda b: b"\xef\xbb\xbf" + b + b"\n",  # a BOM and a final newline
        lambda b: b.decode("utf-8").encode("cp1252"),  # saved as Windows-1252
        lambda b: b.decode("utf-8").encode("utf-16"),  # saved as UTF-16
    ],
)
def test_seed_variants_parse_the_same(seed_path, transform):
    original = load_source(str(seed_path), site_url=SITE).articles
    variant = parse_source(transform(seed_path.read_bytes()), str(seed_path), site_url=SITE)
    assert variant.articles == original


def test_cut_off_export_names_the_line_where_the_open_article_starts(seed_path):
    text = seed_path.read_text(encoding="utf-8")
    cut = text[: text.rindex("Blockchain technology: could it transform")]  # the closing title is lost
    with pytest.raises(IngestError) as caught:
        parse_source(cut.encode("utf-8"), "news.txt", site_url=SITE)
    assert caught.value.line == 69
    assert str(caught.value) == (
        "news.txt:69: article “Blockchain technology: could it transform digitally-enabled…” starts here and is never "
        "closed (its title is not repeated): export cut off?"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Dear members,\n\nThe annual meeting is on Tuesday.\n\nPlease bring your badge.\n",
        "line one\nline two\nline three",
        "Lorem ipsum dolor sit amet.\n\nConsectetur adipiscing elit.\n\nLorem ipsum dolor sit amet, again.\n",
    ],
)
def test_random_text_is_not_a_listing(text):
    with pytest.raises(IngestError) as caught:
        parse_source(text.encode("utf-8"), "notes.txt", site_url=SITE)
    assert str(caught.value) == "notes.txt: not a feed, JSON Feed, WordPress JSON or listing export"


def test_without_a_site_url_articles_have_no_links(seed_path):
    result = load_source(str(seed_path))
    assert [a.url for a in result.articles] == [None] * 5
    assert result.problems == [f"{seed_path}: no site URL given: the articles have no links"]


def test_site_url_with_a_path_is_the_link_as_given():
    text = "First post\n\nText.\n\nFirst post\n"
    [article] = parse_source(text.encode(), "n.txt", site_url="https://www.example.org/news").articles
    assert (article.url, article.link_origin) == ("https://www.example.org/news", "website")


def test_a_link_template_makes_the_link_from_slug_and_date():
    from datetime import datetime, timezone

    from digest.ingest.listing import fill_link_template

    when = datetime(2017, 6, 21, 9, 30, tzinfo=timezone.utc)
    assert fill_link_template("https://www.example.org/{date:%Y/%m/%d}/{slug}/", "Queen’s speech: what’s missing",
                              when) == "https://www.example.org/2017/06/21/queens-speech-whats-missing/"


def test_empty_article_is_skipped_and_duplicates_keep_the_last():
    text = (
        "Heading only\n\nHeading only\n\n"
        "Same title\n\nOld text.\n\nSame title\n\n"
        "Same title\n\nNew text & more.\n\nSame title"
    )
    result = parse_source(text.encode(), "n.txt", site_url=SITE)
    assert [(a.title, a.body) for a in result.articles] == [("Same title", "<p>New text &amp; more.</p>")]
    assert result.problems == [
        "n.txt:1: “Heading only”: skipped: no text",
        "n.txt: “Same title”: same title as “Same title” further on: kept the later one",
    ]


def test_read_more_inside_a_sentence_stays():
    text = "Title\n\nMembers can read more in the report.\n\nYou can Read more about it.\n\nTitle\n"
    [article] = parse_source(text.encode(), "n.txt", site_url=SITE).articles
    assert paragraphs(article.body) == ["Members can read more in the report.", "You can Read more about it."]
    assert article.teaser is None


def test_read_more_variants_and_bare_continue_reading():
    text = "T\n\nLead. Read more…\n\nMore.\n\nContinue reading →\n\nTail.\n\nT\n"
    [article] = parse_source(text.encode(), "n.txt", site_url=SITE).articles
    assert paragraphs(article.body) == ["Lead.", "More.", "Tail."]
    assert article.teaser == "Lead."


@pytest.mark.parametrize(
    "line, expected",
    [
        ("By Dr Andy Hopkirk, Socitm Head of Research", ("Dr Andy Hopkirk", "Socitm Head of Research")),
        ("By Adrian Hancock, Socitm CEO", ("Adrian Hancock", "Socitm CEO")),
        ("By Jane Smith", ("Jane Smith", None)),
        ("By Seán O’Brien-Lee, Editor", ("Seán O’Brien-Lee", "Editor")),
        ("Martin Ferguson, Director of Policy and Research, Socitm", ("Martin Ferguson", "Director of Policy and Research, Socitm")),
        ("Ludwig van Beethoven, Composer", ("Ludwig van Beethoven", "Composer")),
        ("By the way, this is not a byline", None),
        ("By 2020, councils will be digital", None),
        ("Long-standing Socitm member David Hopkins has become mayor of Milton Keynes, after nearly 40 years.", None),
        ("Milton Keynes has several advantages in adopting technology, he says: fast growth", None),
        ("Councils, Health Boards, Police Forces.", None),
        ("Socitm, the society", None),
        ("Martin Ferguson", None),
    ],
)
def test_parse_byline(line, expected):
    assert parse_byline(line) == expected


@pytest.mark.parametrize(
    "title, slug",
    [
        ("Queen’s speech: what to watch for and what’s missing", "queens-speech-what-to-watch-for-and-whats-missing"),
        ("Some thoughts about the Government\u00a0Transformation Strategy 2017-2020",
         "some-thoughts-about-the-government-transformation-strategy-2017-2020"),
        ("Café society — “A” & B!", "cafe-society-a-b"),
        ("  --Already_slugged--  ", "already-slugged"),
    ],
)
def test_slugify(title, slug):
    assert slugify(title) == slug

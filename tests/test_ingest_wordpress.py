"""WordPress REST JSON (/wp-json/wp/v2/posts?_embed) through parse_source."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from digest.errors import IngestError
from digest.ingest import load_source, parse_source

UTC = timezone.utc
POSTS_PATH = Path(__file__).parent / "data" / "ingest" / "wp_posts.json"
POSTS = json.loads(POSTS_PATH.read_text(encoding="utf-8"))


def parse(payload, **kwargs):
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
    return parse_source(data, "posts.json", **kwargs)


def post(**fields) -> dict:
    """A copy of the second sample post with some fields replaced."""
    base = copy.deepcopy(POSTS[1])
    base.update(fields)
    return base


def test_sample_posts_exactly():
    result = load_source(str(POSTS_PATH))
    assert result.kind == "wordpress"
    assert result.source == str(POSTS_PATH)
    assert result.problems == []
    first, second = result.articles

    assert first.title == "Queen’s speech: what to watch for and what’s missing"
    assert first.url == "https://www.example.org/2017/06/21/queens-speech-what-to-watch-for-and-whats-missing/"
    assert first.guid == "https://www.example.org/?p=3121"
    assert first.author == "Martin Ferguson"
    assert first.author_role is None
    assert first.published_at == datetime(2017, 6, 21, 10, 30, tzinfo=UTC)
    assert first.categories == ["Policy & Research", "News", "GDPR", "Queen’s speech"]
    # the theme's "Continue reading" paragraph is navigation, not teaser
    assert first.teaser == "<p>Her Majesty’s 64th Queen’s speech involved less ceremony than usual…</p>"
    assert first.body == (
        "<p>Her Majesty’s 64th Queen’s speech involved less ceremony than usual.</p>\n"
        '<p>The speech includes a new <a href="https://www.example.org/tag/gdpr/" rel="noopener noreferrer">'
        "data protection</a> law.</p>\n"
        '<p><img src="https://www.example.org/wp-content/uploads/2017/06/speech.jpg" alt="The Queen’s speech" '
        'width="640" height="360"></p>'
    )

    assert second.title == "Socitm’s David Hopkins becomes Milton Keynes mayor"
    assert second.author == "Socitm News Desk"
    assert second.published_at == datetime(2017, 6, 14, 8, 0, tzinfo=UTC)
    assert second.categories == ["News"]
    # "[…]" marks a cut excerpt: an ellipsis says the same
    assert second.teaser == (
        "<p>Long-standing Socitm member David Hopkins has become mayor of Milton Keynes, "
        "after nearly 40 years in local government…</p>"
    )


def test_hostile_content_is_sanitised():
    body = parse(POSTS).articles[1].body
    assert body == (
        "<p>Long-standing Socitm member David Hopkins has become mayor of Milton Keynes.</p>\n"
        "<p>“There’s always a natural suspicion on both sides,” he says.</p>\n  \n"
        '<p><a rel="noopener noreferrer">Share</a></p>'
    )


def test_single_post_object_is_accepted():
    result = parse(POSTS[0])
    assert [a.guid for a in result.articles] == ["https://www.example.org/?p=3121"]


def test_without_embed_there_are_no_names():
    bare = post()
    del bare["_embedded"]
    [article] = parse([bare]).articles
    assert (article.author, article.categories) == (None, [])


def test_embedded_author_error_gives_no_author():
    odd = post(_embedded={"author": [{"code": "rest_user_invalid_id", "message": "Invalid user ID.", "data": {"status": 404}}]})
    assert parse([odd]).articles[0].author is None


def test_post_without_title_is_skipped_and_reported():
    result = parse([post(title={"rendered": ""}, id=77), POSTS[0], "not a post"])
    assert [a.guid for a in result.articles] == ["https://www.example.org/?p=3121"]
    assert result.problems == [
        "posts.json: item 1 (https://www.example.org/2017/06/14/socitms-david-hopkins-becomes-milton-keynes-mayor/): "
        "skipped: no title",
        "posts.json: item 3: skipped: not a post object",
    ]


@pytest.mark.parametrize("date_gmt", ["0000-00-00T00:00:00", "2017-02-31T10:00:00", "yesterday"])
def test_impossible_date_is_dropped_and_reported(date_gmt):
    result = parse([post(date_gmt=date_gmt)])
    assert result.articles[0].published_at is None
    assert result.problems == [
        f"posts.json: item 1 (“Socitm’s David Hopkins becomes Milton Keynes mayor”): impossible date {date_gmt!r}: stored without a date"
    ]


def test_missing_date_gmt_is_reported_not_guessed_from_local_time():
    result = parse([post(date_gmt=None)])
    assert result.articles[0].published_at is None
    assert result.problems == ["posts.json: item 1 (“Socitm’s David Hopkins becomes Milton Keynes mayor”): no date_gmt: date left empty"]


def test_password_protected_post_has_no_body():
    result = parse([post(content={"rendered": "", "protected": True})])
    assert result.articles[0].body is None
    assert result.problems == ["posts.json: item 1 (“Socitm’s David Hopkins becomes Milton Keynes mayor”): password-protected: body left out"]


def test_duplicate_guids_keep_the_last():
    result = parse([post(title={"rendered": "Draft title"}), POSTS[0], post(title={"rendered": "Final title"})])
    assert [a.title for a in result.articles] == ["Queen’s speech: what to watch for and what’s missing", "Final title"]
    assert result.problems == ["posts.json: “Draft title”: same guid as “Final title” further on: kept the later one"]


def test_relative_link_is_made_absolute_with_the_site_url():
    result = parse([post(link="/2017/06/14/mayor/")], site_url="https://www.example.org")
    assert result.articles[0].url == "https://www.example.org/2017/06/14/mayor/"


def test_json_with_bom_and_windows_1252_bytes():
    data = b"\xef\xbb\xbf" + json.dumps([post(title={"rendered": "Caf\u00e9"})], ensure_ascii=False).encode("utf-8")
    assert parse(data).articles[0].title == "Café"
    latin = json.dumps([post(title={"rendered": "“Café”"})], ensure_ascii=False).encode("cp1252")
    assert parse(latin).articles[0].title == "“Café”"


@pytest.mark.parametrize(
    "payload, reason",
    [
        ({"code": "rest_post_invalid_page_number", "message": "The page number requested is larger than the number of pages available.", "data": {"status": 400}},
         "WordPress API error rest_post_invalid_page_number: The page number requested is larger than the number of pages available."),
        ([], "not a feed, JSON Feed, WordPress JSON or listing export (JSON, but not WordPress posts)"),
        ([{"id": 1, "name": "A category"}], "not a feed, JSON Feed, WordPress JSON or listing export (JSON, but not WordPress posts)"),
        ({"title": "not rendered"}, "not a feed, JSON Feed, WordPress JSON or listing export (JSON, but not WordPress posts)"),
    ],
)
def test_json_that_is_not_wordpress_posts(payload, reason):
    with pytest.raises(IngestError) as caught:
        parse(payload)
    assert str(caught.value) == f"posts.json: {reason}"


def test_truncated_json_is_refused():
    data = POSTS_PATH.read_bytes()
    with pytest.raises(IngestError) as caught:
        parse(data[: len(data) // 2])
    assert str(caught.value).startswith("posts.json: not valid JSON (")
    assert str(caught.value).endswith("): cut off?")


def test_truncated_json_served_as_json_is_refused():
    data = POSTS_PATH.read_bytes()
    with pytest.raises(IngestError, match=r"not valid JSON .*cut off\?"):
        parse(data[:-40], content_type="application/json; charset=UTF-8")

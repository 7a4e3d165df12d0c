"""JSON Feed 1.0 and 1.1: detection, items, titles for micro-blog posts, bad items reported."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from digest.errors import IngestError
from digest.ingest import parse_source


def parse(feed: dict, **kw):
    return parse_source(json.dumps(feed).encode(), "feed.json", **kw)


def test_json_feed_1_1_items_become_articles():
    result = parse({
        "version": "https://jsonfeed.org/version/1.1", "title": "Blog", "home_page_url": "https://blog.example.org/",
        "authors": [{"name": "The Team"}],
        "items": [
            {"id": "https://blog.example.org/?p=1", "url": "/2017/06/21/gdpr/", "title": "GDPR &amp; councils",
             "content_html": "<p>Body <script>x()</script><a href='/more'>more</a></p>", "summary": "What to do.",
             "date_published": "2017-06-21T10:15:00+01:00", "tags": ["GDPR", "GDPR", "Councils"],
             "authors": [{"name": "Ann Author"}]},
            {"id": 2, "external_url": "https://elsewhere.example.net/x", "title": "Linked",
             "content_text": "Plain text.", "date_modified": "2017-06-22T08:00:00Z"},
        ],
    })
    assert result.kind == "jsonfeed" and result.problems == []
    first, second = result.articles
    assert (first.title, first.url, first.guid, first.author, first.categories, first.teaser) == (
        "GDPR & councils", "https://blog.example.org/2017/06/21/gdpr/", "https://blog.example.org/?p=1",
        "Ann Author", ["GDPR", "Councils"], "What to do.")
    assert first.published_at == datetime(2017, 6, 21, 9, 15, tzinfo=timezone.utc)
    assert "script" not in first.body and 'href="https://blog.example.org/more"' in first.body
    assert (second.url, second.guid, second.author, second.body) == (
        "https://elsewhere.example.net/x", "2", "The Team", "<p>Plain text.</p>")
    assert second.published_at == datetime(2017, 6, 22, 8, 0, tzinfo=timezone.utc)


def test_json_feed_1_0_author_and_a_micro_blog_post_without_a_title():
    text = "Just shipped the new member directory. It lists every council by region and name, " * 2
    result = parse({"version": "https://jsonfeed.org/version/1", "title": "Micro",
                    "items": [{"id": "m1", "url": "https://micro.example.org/m1", "content_text": text,
                               "author": {"name": "Bob"}, "date_published": "2017-06-21T10:00:00Z"}]})
    [post] = result.articles
    assert post.author == "Bob"
    assert post.title.startswith("Just shipped the new member directory.") and post.title.endswith("…")
    assert len(post.title) <= 81


def test_bad_items_are_reported_and_skipped_or_repaired():
    result = parse({"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": [
        "not an object",
        {"id": "a"},
        {"id": "b", "title": "Bad date", "url": "https://e.org/b", "date_published": "21/06/2017"},
        {"title": "No id", "url": "https://e.org/c"},
    ]})
    assert [a.title for a in result.articles] == ["Bad date", "No id"]
    assert result.articles[0].published_at is None
    assert result.problems == [
        "feed.json: item 1: skipped: not an object",
        "feed.json: item 2 (a): skipped: no title and no text",
        "feed.json: item 3 (“Bad date”): impossible date '21/06/2017': date dropped",
        "feed.json: item 4 (“No id”): no id: matched by its link instead",
    ]


def test_kind_jsonfeed_refuses_other_json_and_detection_leaves_wordpress_alone():
    with pytest.raises(IngestError, match="^feed.json: not a JSON Feed"):
        parse({"title": "x"}, kind="jsonfeed")
    posts = [{"title": {"rendered": "WP"}, "link": "https://e.org/wp", "date_gmt": "2017-06-21T10:00:00"}]
    assert parse_source(json.dumps(posts).encode(), "posts.json").kind == "wordpress"
    with pytest.raises(IngestError, match="^feed.json: JSON Feed without an items list"):
        parse({"version": "https://jsonfeed.org/version/1.1", "title": "x"})

"""Tests written from the mutants that survived tests/ alone (scripts/mutants)."""

from __future__ import annotations

import pytest

from digest.ingest.images import FetchFailed, from_feed_entry, from_html, from_wordpress, no_picture_fetch
from digest.models import ArticleImage, ImageSource

BASE = "https://www.example.org/news/"


def one(url: str, width: int = 0, height: int = 0, alt: str = "") -> ArticleImage:
    return ArticleImage(alt=alt, sources=(ImageSource(url, width, height),))


@pytest.mark.parametrize("url", ["https://e.org/a.JPG", "https://e.org/a.jpeg?w=300", "https://e.org/a.png",
                                 "https://e.org/a.gif", "https://e.org/a.webp"])
def test_an_enclosure_without_a_type_is_a_picture_by_its_file_name(url):
    assert from_feed_entry({"enclosures": [{"href": url}]}, None) == one(url)


@pytest.mark.parametrize("url", ["https://e.org/a.mp3", "https://e.org/jpg", "https://e.org/a.png.html",
                                 "https://e.org/a.pngx"])
def test_an_enclosure_without_a_type_and_no_picture_name_is_none(url):
    assert from_feed_entry({"enclosures": [{"href": url}]}, None) is None


def test_an_enclosure_with_a_type_is_judged_by_the_type_not_the_name():
    assert from_feed_entry({"enclosures": [{"url": "https://e.org/a.mp3", "type": "IMAGE/PNG"}]}, None) == one(
        "https://e.org/a.mp3")
    assert from_feed_entry({"enclosures": [{"href": "https://e.org/a.jpg", "type": "audio/mpeg"},
                                           {"href": "photo.jpg", "type": "image/jpeg"}]}, BASE) == one(
        "https://www.example.org/news/photo.jpg")
    assert from_feed_entry({"enclosures": [{"href": "https://e.org/x", "type": None}]}, None) is None


def test_media_content_is_a_picture_by_its_medium_or_by_its_type():
    entry = {"media_content": [{"url": "https://e.org/clip", "medium": "image"},
                               {"url": "https://e.org/still", "type": "image/jpeg", "width": "640", "height": "480"},
                               {"url": "https://e.org/video.mp4", "type": "video/mp4"}]}
    assert from_feed_entry(entry, None) == ArticleImage(sources=(ImageSource("https://e.org/clip"),
                                                                 ImageSource("https://e.org/still", 640, 480)))


def test_a_media_caption_is_the_alt_text_and_relative_urls_are_made_absolute():
    entry = {"media_thumbnail": [{"url": "/t.jpg", "width": "150", "height": "100"}],
             "media_caption": "A <b>map</b> of the   buildings"}
    assert from_feed_entry(entry, BASE) == one("https://www.example.org/t.jpg", 150, 100, "A map of the buildings")


def wp(media: object) -> dict:
    return {"_embedded": {"wp:featuredmedia": media}}


def test_a_wordpress_featured_image_relative_to_the_site_with_its_alt_text():
    post = wp([{"source_url": "/wp-content/a.jpg", "alt_text": "The hall",
                "media_details": {"width": 1200, "height": 800,
                                  "sizes": {"medium": {"source_url": "/wp-content/a-300.jpg", "width": 300,
                                                       "height": 200}, "broken": "no"}}}])
    assert from_wordpress(post, BASE) == ArticleImage(alt="The hall", sources=(
        ImageSource("https://www.example.org/wp-content/a.jpg", 1200, 800),
        ImageSource("https://www.example.org/wp-content/a-300.jpg", 300, 200)))


def test_a_wordpress_featured_image_without_alt_has_an_empty_one():
    assert from_wordpress(wp([{"source_url": "https://e.org/a.jpg", "media_type": "image"}]), None) == one(
        "https://e.org/a.jpg")


@pytest.mark.parametrize("post", [
    {}, {"_embedded": "no"}, {"_embedded": ["no"]}, wp("no"), wp([]), wp(["no"]),
    wp([{"source_url": "https://e.org/a.pdf", "media_type": "file"}]),
    wp([{"code": "rest_forbidden", "message": "Sorry", "data": {"status": 401}}]),
    wp([{"code": "rest_forbidden", "media_type": "image", "source_url": "https://e.org/a.jpg"}]),
])
def test_no_wordpress_picture_when_there_is_none_or_it_is_private_or_no_image(post):
    assert from_wordpress(post, None) is None


def test_wordpress_details_that_are_not_objects_are_ignored():
    post = wp([{"source_url": "https://e.org/a.jpg", "media_details": ["800", "600"]}])
    assert from_wordpress(post, None) == one("https://e.org/a.jpg")
    post = wp([{"source_url": "https://e.org/a.jpg", "media_details": {"width": 800, "height": 600, "sizes": ["x"]}}])
    assert from_wordpress(post, None) == one("https://e.org/a.jpg", 800, 600)


def test_the_first_img_with_a_src_wins_not_another_tag_with_one():
    html = '<video src="https://e.org/clip.mp4"></video><img alt="no src"><img src="pic.jpg" alt="A &amp; B">' \
           '<img src="https://e.org/second.jpg">'
    assert from_html(html, base=BASE) == one("https://www.example.org/news/pic.jpg", alt="A & B")
    assert from_html('<p>no picture</p>', '<img src="/b.png" width="20" height="10"/>', base=BASE) == one(
        "https://www.example.org/b.png", 20, 10)
    assert from_html(None, "<p>text</p>", base=BASE) is None


def test_no_picture_fetch_fetches_nothing():
    with pytest.raises(FetchFailed, match="^not fetched$"):
        no_picture_fetch("https://e.org/a.jpg")

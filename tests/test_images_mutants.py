"""Tests written from the mutants that survived tests/ alone (scripts/mutants)."""

from __future__ import annotations

import pytest

from test_images import LOCAL, pictures  # noqa: F401  (the fixture)

from digest.ingest.images import (FetchFailed, fetch_size, from_feed_entry, from_html, from_wordpress, measure,
                                  no_picture_fetch)
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


# ---- measuring -----------------------------------------------------------------------

def sized(*sources: tuple, alt: str = "") -> ArticleImage:
    return ArticleImage(alt=alt, sources=tuple(ImageSource(*s) for s in sources))


def test_the_file_measured_is_the_one_an_email_shows_and_only_it_is_marked():
    asked = []

    def fetch(url):
        asked.append(url)
        return 900, 600, 12345

    image = sized(("https://e.org/a-300.jpg", 300, 200), ("https://e.org/a-900.jpg", 900, 600),
                  ("https://e.org/a-2000.jpg", 2000, 1333), alt="Hall")
    [got] = measure([image], fetch=fetch)
    assert asked == ["https://e.org/a-900.jpg"]  # the smallest at least 1.5 x 536 px wide
    assert got == ArticleImage(alt="Hall", sources=(
        ImageSource("https://e.org/a-300.jpg", 300, 200),
        ImageSource("https://e.org/a-900.jpg", 900, 600, 12345, True),
        ImageSource("https://e.org/a-2000.jpg", 2000, 1333)))


def test_an_unsized_picture_is_measured_by_its_first_file_and_its_problem_cleared():
    image = ArticleImage(sources=(ImageSource("https://e.org/a.jpg"), ImageSource("https://e.org/b.jpg")),
                         problem="old problem")
    [got] = measure([image], fetch=lambda url: (640, 480, 99))
    assert got == ArticleImage(sources=(ImageSource("https://e.org/a.jpg", 640, 480, 99, True),
                                        ImageSource("https://e.org/b.jpg")))


def test_a_readers_own_bug_is_a_picture_problem_named_by_its_kind():
    def broken(url):
        raise KeyError("width")

    [got, kept] = measure([sized(("https://e.org/a.jpg",)), sized(("https://e.org/b.jpg", 10, 10))], fetch=broken)
    assert got.problem == ("no size: the picture could not be fetched (cannot be read (KeyError)) "
                           "and the source declares none")
    assert kept == sized(("https://e.org/b.jpg", 10, 10))


def test_a_picture_measured_before_is_not_fetched_again_but_takes_the_new_alt():
    before = ArticleImage(alt="old", sources=(ImageSource("https://e.org/a.jpg", 640, 480, 99, True),))
    unmeasured = sized(("https://e.org/u.jpg", 640, 480))
    fetched = []

    def fetch(url):
        fetched.append(url)
        return 10, 10, 1

    got = measure([sized(("https://e.org/a.jpg",), alt="new"), sized(("https://e.org/u.jpg",)),
                   sized(("https://e.org/a.jpg",), ("https://e.org/a-big.jpg",))],
                  fetch=fetch, known={"https://e.org/a.jpg": before, "https://e.org/u.jpg": unmeasured})
    assert got[0] == ArticleImage(alt="new", sources=before.sources)
    assert sorted(fetched) == ["https://e.org/a.jpg", "https://e.org/u.jpg"]  # not measured / other files: fetched
    assert got[1].sources[0].measured and got[2].sources[0].measured


def test_pictures_are_measured_in_several_threads_and_keep_their_order():
    import threading
    import time

    names = set()

    def fetch(url):
        names.add(threading.current_thread().name)
        time.sleep(0.05)
        n = int(url.rsplit("/", 1)[1])
        return n, n, n

    images = [sized((f"https://e.org/{n}",)) for n in range(1, 9)]
    got = measure(images, fetch=fetch, threads=4)
    assert [g.sources[0].width for g in got] == list(range(1, 9))
    assert len(names) > 1
    assert measure([], fetch=fetch) == [] and measure([None], fetch=fetch) == [None]


def test_a_picture_served_without_a_type_or_as_bytes_is_read_and_a_page_is_named(pictures):
    png = pictures.files["/lead.png"][0]
    pictures.files.update({"/untyped": (png, ""), "/octet": (png, "application/octet-stream; x=1"),
                           "/upper.png": (png, "IMAGE/PNG"), "/page": (b"<html/>", "Text/HTML; charset=utf-8"),
                           "/text.png": (b"not a picture", "image/png"), "/none.png": (b"", "image/png")})
    for path in ("/untyped", "/octet", "/upper.png"):
        assert fetch_size(pictures.base + path, **LOCAL) == (1200, 675, len(png))
    for path, reason in (("/page", "not a picture (text/html)"), ("/text.png", "not a picture Pillow can read"),
                         ("/none.png", "not a picture Pillow can read"), ("/missing", "HTTP 404")):
        with pytest.raises(FetchFailed) as caught:
            fetch_size(pictures.base + path, **LOCAL)
        assert str(caught.value) == reason


def test_the_size_cap_is_said_in_kilobytes(pictures):
    with pytest.raises(FetchFailed) as caught:
        fetch_size(pictures.base + "/big.png", max_bytes=2048, **LOCAL)
    assert str(caught.value) == "over 2 KB"


def test_declared_sizes_in_px_and_out_of_range():
    thumbs = [{"url": "https://e.org/1.jpg", "width": " 640px ", "height": "1"},
              {"url": "https://e.org/2.jpg", "width": "19999", "height": "20000"},
              {"url": "https://e.org/3.jpg", "width": "0", "height": "-5"},
              {"url": "https://e.org/4.jpg", "width": "px640", "height": "wide"}]
    assert from_feed_entry({"media_thumbnail": thumbs}, None).sources == (
        ImageSource("https://e.org/1.jpg", 640, 1), ImageSource("https://e.org/2.jpg", 19999, 0),
        ImageSource("https://e.org/3.jpg", 0, 0), ImageSource("https://e.org/4.jpg", 0, 0))


def test_media_content_named_like_a_picture_with_its_caption_and_base():
    entry = {"media_content": [{"url": "/photos/hall.JPEG"}, {"url": "/clip.mp4"}],
             "media_thumbnail": [{"url": "/photos/hall-150.jpg"}], "media_caption": "The hall"}
    site = "https://www.example.org/photos/"
    assert from_feed_entry(entry, BASE) == ArticleImage(alt="The hall", sources=(
        ImageSource(site + "hall.JPEG"), ImageSource(site + "hall-150.jpg")))


def test_an_enclosure_given_by_url_alone_and_its_caption():
    entry = {"enclosures": [{"url": "pic.png"}], "media_caption": "A & B"}
    assert from_feed_entry(entry, BASE) == one("https://www.example.org/news/pic.png", alt="A & B")


def test_a_caption_that_is_not_text_is_no_alt():
    entry = {"media_thumbnail": [{"url": "https://e.org/t.jpg"}], "media_caption": ["not", "text"]}
    assert from_feed_entry(entry, None) == one("https://e.org/t.jpg")


@pytest.mark.parametrize("src", ["ftp://e.org/a.jpg", "//e.org/a.jpg", "https:///a.jpg", "mailto:a@e.org"])
def test_a_picture_url_that_is_not_http_with_a_host_is_none(src):
    assert from_html(f'<img src="{src}">') is None


def test_a_url_that_is_not_text_is_none_and_a_repeated_url_is_kept_once():
    assert from_wordpress(wp([{"source_url": 123}]), BASE) is None
    entry = {"media_content": [{"url": "https://e.org/a.jpg", "medium": "image"}, {"medium": "image"}],
             "media_thumbnail": [{"url": "https://e.org/a.jpg", "width": 10, "height": 10},
                                 {"url": "https://e.org/b.jpg"}]}
    assert from_feed_entry(entry, None).sources == (ImageSource("https://e.org/a.jpg"),
                                                    ImageSource("https://e.org/b.jpg"))


def test_a_missing_picture_does_not_stop_the_next_being_measured_and_one_thread_is_one():
    import threading
    import time

    got = measure([None, sized(("https://e.org/a.jpg",))], fetch=lambda url: (5, 6, 7))
    assert got[0] is None and got[1].sources[0] == ImageSource("https://e.org/a.jpg", 5, 6, 7, True)
    names = set()

    def fetch(url):
        names.add(threading.current_thread().name)
        time.sleep(0.02)  # long enough for a second thread to be started, were there one
        return 1, 1, 1

    measure([sized((f"https://e.org/{n}",)) for n in range(6)], fetch=fetch, threads=1)
    assert len(names) == 1


def test_a_picture_is_asked_for_as_a_picture_each_read_within_the_timeout_and_a_300_is_no_picture():
    import socket

    from test_images import picture
    from test_outbound_mutants import Raw, answer

    png = picture(4, 3)
    web = Raw(answer(body=png, Content_Type="image/png"), answer("300 Multiple Choices", png, Content_Type="image/png"))
    try:
        assert fetch_size(web.url("/p.png"), **LOCAL) == (4, 3, len(png))
        with pytest.raises(FetchFailed, match="^HTTP 300$"):
            fetch_size(web.url("/p.png"), **LOCAL)
    finally:
        web.close()
    assert web.request(0)[1]["accept"] == "image/*"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        with pytest.raises(FetchFailed, match=r"^timed out after 1 s$"):  # not the 2 s deadline of the whole
            fetch_size(f"http://127.0.0.1:{listener.getsockname()[1]}/p.png", timeout=1, **LOCAL)
    finally:
        listener.close()

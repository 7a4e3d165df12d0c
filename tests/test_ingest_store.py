"""The refresh of configured sources (digest/ingest/store.py, once ingest/refresh): exact and fast.

refresh_sources is called directly with a real SQLite file and feeds from an HTTP
server on 127.0.0.1: what is asserted is what an operator sees, the report's line
and the source's health row (`digest sources list`), and the articles stored.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from digest.config import SourceSettings
from digest.db import sources as source_db
from digest.db.schema import articles
from digest.errors import IngestError
from digest.ingest.store import SourceReport, failure, ingest_sources, refresh_sources
from feed_server import feed_server, rss  # noqa: F401  (the fixture)

JUNE = datetime(2017, 6, 21, 9, tzinfo=timezone.utc)
LATER = JUNE + timedelta(hours=1)
FEED = rss(("GDPR: what councils must do now", "https://www.example.org/2017/06/20/gdpr/",
            "Tue, 20 Jun 2017 09:00:00 +0100"),
           ("Ransomware hits another trust", "https://www.example.org/2017/06/22/ransomware/",
            "Thu, 22 Jun 2017 14:00:00 +0100"))


def configured(settings, *sources: SourceSettings):
    return replace(settings, sources=tuple(sources), fetch_timeout=2.0, fetch_deadline=3.0)


def health(db, name: str = "news") -> source_db.SourceHealth:
    with db.connect() as conn:
        return source_db.load(conn, name)


def utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=moment.tzinfo or timezone.utc)


def test_a_first_fetch_records_every_field_of_the_sources_health(settings, db, feed_server):
    feed_server.serve("/feed.xml", FEED, etag='"v1"', last_modified="Wed, 21 Jun 2017 08:00:00 GMT")
    settings = configured(settings, SourceSettings("news", feed_server.url("/feed.xml")))
    [report] = refresh_sources(db, settings, now=JUNE)
    assert report.line() == "source news: rss, 2 item(s): 2 new, 0 updated, 0 unchanged"
    assert (report.configured, report.error, report.moved_to, report.not_modified) == (True, None, None, False)
    row = health(db)
    assert (row.kind, row.items_last_seen, row.etag, row.last_modified, row.last_error, row.moved_to) == (
        "rss", 2, '"v1"', "Wed, 21 Jun 2017 08:00:00 GMT", None, None)
    assert (utc(row.last_fetched_at), utc(row.last_success_at)) == (JUNE, JUNE)
    assert utc(row.newest_item_at) == datetime(2017, 6, 22, 13, tzinfo=timezone.utc)


def test_a_304_keeps_everything_stored_and_moves_only_the_times(settings, db, feed_server):
    feed_server.serve("/feed.xml", FEED, etag='"v1"')
    settings = configured(settings, SourceSettings("news", feed_server.url("/feed.xml")))
    refresh_sources(db, settings, now=JUNE)
    [report] = refresh_sources(db, settings, now=LATER)
    assert report.line() == "source news: not modified since the last fetch"
    assert (report.not_modified, report.kind, report.new, report.unchanged) == (True, "rss", 0, 0)
    assert feed_server.requests_for("/feed.xml")[1]["If-None-Match"] == '"v1"'
    row = health(db)
    assert (row.kind, row.items_last_seen, row.etag, row.last_error) == ("rss", 2, '"v1"', None)
    assert (utc(row.last_fetched_at), utc(row.last_success_at)) == (LATER, LATER)
    assert utc(row.newest_item_at) == datetime(2017, 6, 22, 13, tzinfo=timezone.utc)


def test_a_304_by_last_modified_alone_sends_and_keeps_it(settings, db, feed_server):
    stamp = "Wed, 21 Jun 2017 08:00:00 GMT"
    feed_server.serve("/feed.xml", FEED, last_modified=stamp)
    settings = configured(settings, SourceSettings("news", feed_server.url("/feed.xml")))
    refresh_sources(db, settings, now=JUNE)
    [report] = refresh_sources(db, settings, now=LATER)
    assert report.not_modified
    assert feed_server.requests_for("/feed.xml")[1]["If-Modified-Since"] == stamp
    assert (health(db).etag, health(db).last_modified) == (None, stamp)


def test_a_failure_records_its_line_and_keeps_the_last_success(settings, db, feed_server):
    feed_server.serve("/feed.xml", FEED, etag='"v1"')
    settings = configured(settings, SourceSettings("news", feed_server.url("/feed.xml")))
    refresh_sources(db, settings, now=JUNE)
    feed_server.gone("/feed.xml")
    [report] = refresh_sources(db, settings, now=LATER)
    line = f"{feed_server.url('/feed.xml')}: HTTP 404 Not Found"
    assert report.error is not None and report.error.startswith(line)
    assert report.line() == f"source news: {report.error}"
    assert (report.kind, report.items, report.new, report.problems) == ("", 0, 0, [])
    row = health(db)
    assert row.last_error == report.error
    assert (utc(row.last_fetched_at), utc(row.last_success_at)) == (LATER, JUNE)
    assert (row.etag, row.items_last_seen, row.kind) == ('"v1"', 2, "rss")
    # The next success clears the error.
    feed_server.serve("/feed.xml", FEED)
    [back] = refresh_sources(db, settings, now=LATER + timedelta(hours=1))
    assert back.error is None and health(db).last_error is None
    assert back.line() == "source news: rss, 2 item(s): 0 new, 0 updated, 2 unchanged"


def test_a_source_whose_location_changed_forgets_the_old_validators(settings, db, feed_server):
    feed_server.serve("/feed.xml", FEED, etag='"v1"')
    feed_server.serve("/other.xml", FEED, etag='"v1"')
    refresh_sources(db, configured(settings, SourceSettings("news", feed_server.url("/feed.xml"))), now=JUNE)
    [report] = refresh_sources(db, configured(settings, SourceSettings("news", feed_server.url("/other.xml"))),
                               now=LATER)
    assert not report.not_modified and "If-None-Match" not in feed_server.requests_for("/other.xml")[0]
    assert health(db).location == feed_server.url("/other.xml")


def test_a_move_is_kept_and_the_new_home_fetched_with_its_validators(settings, db, feed_server):
    feed_server.serve("/new.xml", FEED, etag='"n1"')
    feed_server.redirect("/feed.xml", "/new.xml", status=308)
    settings = configured(settings, SourceSettings("news", feed_server.url("/feed.xml")))
    [first] = refresh_sources(db, settings, now=JUNE)
    assert first.moved_to == feed_server.url("/new.xml") == health(db).moved_to
    [again] = refresh_sources(db, settings, now=LATER)
    assert again.not_modified and again.moved_to == feed_server.url("/new.xml")
    assert health(db).moved_to == feed_server.url("/new.xml")
    assert feed_server.requests_for("/new.xml")[1]["If-None-Match"] == '"n1"'
    assert len(feed_server.requests_for("/feed.xml")) == 1


def test_one_off_sources_are_not_given_health_and_are_named_by_location(settings, db, tmp_path):
    path = tmp_path / "news.xml"
    path.write_bytes(FEED)
    [report] = ingest_sources(db, settings, [str(path)], now=JUNE)
    assert report.line() == f"{path}: rss, 2 new, 0 updated, 0 unchanged"
    assert (report.configured, report.moved_to, report.items) == (False, None, 2)
    with db.connect() as conn:
        assert source_db.load_all(conn) == {}
    [missing] = ingest_sources(db, settings, [str(tmp_path / "gone.xml")], now=JUNE)
    assert missing.line() == missing.error and str(tmp_path / "gone.xml") in missing.error


def test_a_one_off_url_that_moved_says_where(settings, db, feed_server):
    feed_server.serve("/new.xml", FEED)
    feed_server.redirect("/feed.xml", "/new.xml", status=301)
    [report] = ingest_sources(db, settings, [feed_server.url("/feed.xml")], now=JUNE)
    assert report.moved_to == feed_server.url("/new.xml") and report.error is None


def test_only_the_named_sources_are_refreshed_in_configuration_order(settings, db, feed_server):
    feed_server.serve("/a.xml", FEED)
    feed_server.serve("/b.xml", FEED)
    settings = configured(settings, SourceSettings("a", feed_server.url("/a.xml")),
                          SourceSettings("b", feed_server.url("/b.xml")))
    assert [r.name for r in refresh_sources(db, settings, now=JUNE)] == ["a", "b"]
    assert [r.name for r in refresh_sources(db, settings, ["b"], now=LATER)] == ["b"]
    assert len(feed_server.requests_for("/a.xml")) == 1


def test_an_empty_feed_keeps_the_newest_item_date_it_had(settings, db, feed_server):
    feed_server.serve("/feed.xml", FEED)
    settings = configured(settings, SourceSettings("news", feed_server.url("/feed.xml")))
    refresh_sources(db, settings, now=JUNE)
    feed_server.serve("/feed.xml", rss())
    [report] = refresh_sources(db, settings, now=LATER)
    assert report.line() == "source news: rss, 0 item(s): 0 new, 0 updated, 0 unchanged"
    assert health(db).items_last_seen == 0
    assert utc(health(db).newest_item_at) == datetime(2017, 6, 22, 13, tzinfo=timezone.utc)


def test_undated_items_are_dated_now_for_the_newest_item(settings, db, feed_server):
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>N</title><link>https://www.example.org/</link>'
            b"<description>d</description><item><title>No date here</title>"
            b"<link>https://www.example.org/a/</link><description>Words.</description></item></channel></rss>")
    feed_server.serve("/feed.xml", body)
    settings = configured(settings, SourceSettings("news", feed_server.url("/feed.xml")))
    week_end = datetime(2017, 6, 25, 22, 59, 59, tzinfo=timezone.utc)
    refresh_sources(db, settings, now=JUNE, undated_at=week_end)
    assert utc(health(db).newest_item_at) == JUNE
    with db.connect() as conn:  # the date the mailing gives a new article without one
        assert utc(conn.execute(select(articles.c.published_at)).scalar_one()) == week_end


def test_forced_topics_name_the_source_as_the_reason(settings, db, feed_server):
    from digest.db.schema import article_topics

    feed_server.serve("/feed.xml", FEED)
    settings = configured(settings, SourceSettings("news", feed_server.url("/feed.xml"), topics=("member-news",)))
    refresh_sources(db, settings, now=JUNE)
    with db.connect() as conn:
        rows = set(conn.execute(select(article_topics.c.topic_slug, article_topics.c.reason)).all())
    assert rows == {("member-news", "every article of source news")}


def test_the_articles_name_their_source(settings, db, feed_server):
    feed_server.serve("/feed.xml", FEED)
    refresh_sources(db, configured(settings, SourceSettings("news", feed_server.url("/feed.xml"))), now=JUNE)
    with db.connect() as conn:
        assert set(conn.execute(select(articles.c.source)).scalars()) == {"news"}


@pytest.mark.parametrize("exc, reason", [
    (RecursionError("maximum recursion depth exceeded"), "nested too deeply to read (a parser bomb?): refused"),
    (MemoryError(), "too big to read in memory: refused"),
    (ValueError("bad\n  value   here"), "could not be read: ValueError (bad value here)"),
    (KeyError(), "could not be read: KeyError"),
    (ValueError("x" * 300), "could not be read: ValueError (" + "x" * 200 + ")"),
])
def test_any_failure_is_one_line_naming_the_source(exc, reason):
    assert failure(exc, "https://ann:secret@example.org/feed.xml") == f"https://ann:***@example.org/feed.xml: {reason}"


def test_an_ingest_error_says_itself():
    assert failure(IngestError("news.xml", "not a feed"), "elsewhere") == str(IngestError("news.xml", "not a feed"))


def test_the_report_lines_of_a_source():
    report = SourceReport("news", "https://example.org/feed.xml", kind="rss", items=3, new=1, updated=1, unchanged=0,
                          kept_once=1)
    assert report.counts() == "1 new, 1 updated, 0 unchanged, 1 already in from another source"
    assert report.line() == "source news: rss, 3 item(s): 1 new, 1 updated, 0 unchanged, 1 already in from " \
                            "another source"
    one_off = SourceReport("x", "https://ann:pw@example.org/f.xml", configured=False, kind="rss")
    assert one_off.line() == "https://ann:***@example.org/f.xml: rss, 0 new, 0 updated, 0 unchanged"


def pictured(alt: str) -> bytes:
    return ('<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
            "<title>N</title><link>https://www.example.org/</link><description>d</description><item>"
            "<title>Council chamber reopens</title><link>https://www.example.org/chamber/</link>"
            "<pubDate>Tue, 20 Jun 2017 09:00:00 +0100</pubDate><description>The chamber is open.</description>"
            '<media:content url="https://pictures.example.org/chamber.jpg" medium="image"/>'
            f"<media:description>{alt}</media:description></item></channel></rss>").encode()


def test_re_ingesting_a_picture_whose_alt_changed_stores_the_new_alt_without_fetching_it_again(
        settings, db, feed_server):
    import json

    fetched = []

    def fetch(url):
        fetched.append(url)
        return 1200, 675, 90_000

    feed_server.serve("/feed.xml", pictured("The old chamber"))
    settings = configured(settings, SourceSettings("news", feed_server.url("/feed.xml")))
    refresh_sources(db, settings, now=JUNE, fetch_image=fetch)
    feed_server.serve("/feed.xml", pictured("The new chamber, full"))
    [report] = refresh_sources(db, settings, now=LATER, fetch_image=fetch)
    assert report.line() == "source news: rss, 1 item(s): 0 new, 1 updated, 0 unchanged"
    with db.connect() as conn:
        image = json.loads(conn.execute(select(articles.c.image)).scalar_one())
    assert image["alt"] == "The new chamber, full"
    assert fetched == ["https://pictures.example.org/chamber.jpg"]  # measured once, its size kept


def png(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, "PNG")
    return out.getvalue()


def test_pictures_are_measured_through_the_outbound_client_only_when_asked_and_over_https(
        settings, db, feed_server):
    import json

    feed_server.serve("/chamber.png", png(30, 20), content_type="image/png")
    body = pictured("The chamber").replace(b"https://pictures.example.org/chamber.jpg",
                                           feed_server.url("/chamber.png").encode())
    feed_server.serve("/feed.xml", body)

    def stored_image() -> dict:
        with db.connect() as conn:
            return json.loads(conn.execute(select(articles.c.image)).scalar_one())

    source = SourceSettings("news", feed_server.url("/feed.xml"))
    refresh_sources(db, replace(configured(settings, source), fetch_images=False), now=JUNE)
    assert stored_image()["problem"] == ("no size: the picture could not be fetched (not fetched) and the source "
                                         "declares none")
    refresh_sources(db, replace(configured(settings, source), fetch_images=True, http_images=False), now=LATER)
    assert stored_image()["problem"] == ("no size: the picture could not be fetched (only https is allowed here) "
                                         "and the source declares none")
    assert feed_server.requests_for("/chamber.png") == []  # not asked, then http: refused before any request
    refresh_sources(db, replace(configured(settings, source), fetch_images=True, http_images=True),
                    now=LATER + timedelta(hours=1))
    assert stored_image() == {"alt": "The chamber", "problem": "",
                              "sources": [[feed_server.url("/chamber.png"), 30, 20, len(png(30, 20)), True]]}
    assert feed_server.requests_for("/chamber.png")[0]["Accept"] == "image/*"


def test_a_failure_while_storing_writes_nothing_and_counts_nothing(settings, db, feed_server, monkeypatch):
    import digest.ingest.store as store

    feed_server.serve("/feed.xml", FEED)
    calls = []

    def classify_then_fail(article, topics):
        calls.append(article.title)
        if len(calls) == 2:
            raise ValueError("the classifier broke")
        return []

    monkeypatch.setattr(store, "classify", classify_then_fail)
    [report] = refresh_sources(db, configured(settings, SourceSettings("news", feed_server.url("/feed.xml"))),
                               now=JUNE)
    assert report.line() == (f"source news: {feed_server.url('/feed.xml')}: could not be read: ValueError "
                             "(the classifier broke)")
    assert (report.kind, report.items, report.new, report.updated, report.unchanged, report.kept_once,
            report.problems) == ("", 0, 0, 0, 0, 0, [])
    with db.connect() as conn:
        assert conn.execute(select(articles.c.id)).all() == []
    row = health(db)
    assert (row.last_error, row.last_success_at, row.items_last_seen, row.kind) == (report.error, None, None, None)


def test_a_database_failure_is_not_one_sources_failure(settings, db, feed_server, monkeypatch):
    import digest.ingest.store as store
    from digest.errors import DatabaseError

    feed_server.serve("/feed.xml", FEED)

    def broken(*args, **kwargs):
        raise DatabaseError("the database is read-only")

    monkeypatch.setattr(store.article_db, "upsert_article", broken)
    with pytest.raises(DatabaseError, match="read-only"):
        refresh_sources(db, configured(settings, SourceSettings("news", feed_server.url("/feed.xml"))), now=JUNE)


def translations(db) -> dict[str, str | None]:
    with db.connect() as conn:
        rows = conn.execute(select(articles.c.id, articles.c.url, articles.c.translation_id)).all()
    url_of = {r.id: r.url for r in rows}
    return {r.url: url_of.get(r.translation_id) for r in rows}


def test_a_new_article_is_linked_to_the_translation_its_source_names(settings, db, tmp_path):
    import json

    polylang = {"id": 57, "type": "post", "link": "https://e.org/cy/newyddion/", "guid": {"rendered": "https://e.org/?p=57"},
                "title": {"rendered": "Newyddion"}, "date_gmt": "2017-06-20T09:00:00", "lang": "cy",
                "translations": {"en": 12, "cy": 57}}
    wpml = {"id": 12, "type": "post", "link": "https://e.org/news/", "guid": {"rendered": "https://e.org/?p=12"},
            "title": {"rendered": "News"}, "date_gmt": "2017-06-20T09:00:00", "wpml_current_locale": "en_GB",
            "wpml_translations": [{"locale": "cy", "id": 57, "href": "https://e.org/cy/newyddion/"}]}
    path = tmp_path / "posts.json"
    path.write_text(json.dumps([wpml, polylang]), encoding="utf-8")
    settings = replace(configured(settings, SourceSettings("wp", str(path), kind="wordpress")),
                       languages=("en-GB", "cy-GB"))
    refresh_sources(db, settings, now=JUNE)
    assert translations(db) == {"https://e.org/news/": "https://e.org/cy/newyddion/",
                                "https://e.org/cy/newyddion/": "https://e.org/news/"}


def test_a_new_article_is_linked_by_a_languages_path_segment_of_a_regional_tag(settings, db, tmp_path):
    path = tmp_path / "news.xml"
    path.write_bytes(rss(("News", "https://e.org/news/x/", "Tue, 20 Jun 2017 09:00:00 +0100"),
                         ("Newyddion", "https://e.org/cy/news/x/", "Tue, 20 Jun 2017 09:00:00 +0100")))
    source = SourceSettings("news", str(path))
    refresh_sources(db, configured(settings, source), now=JUNE)  # one language: nothing linked
    assert set(translations(db).values()) == {None}
    path.write_bytes(rss(("Other", "https://e.org/news/y/", "Tue, 20 Jun 2017 09:00:00 +0100"),
                         ("Arall", "https://e.org/cy/news/y/", "Tue, 20 Jun 2017 09:00:00 +0100")))
    refresh_sources(db, replace(configured(settings, source), languages=("en-GB", "cy-GB")), now=LATER)
    assert translations(db) == {"https://e.org/news/x/": None, "https://e.org/cy/news/x/": None,
                                "https://e.org/news/y/": "https://e.org/cy/news/y/",
                                "https://e.org/cy/news/y/": "https://e.org/news/y/"}


def test_a_one_off_source_measures_pictures_with_the_fetch_it_is_given(settings, db, tmp_path):
    import json

    path = tmp_path / "news.xml"
    path.write_bytes(pictured("The chamber"))
    asked = []

    def fetch(url):
        asked.append(url)
        return 800, 450, 40_000

    [report] = ingest_sources(db, settings, [str(path)], now=JUNE, fetch_image=fetch)
    assert report.error is None and asked == ["https://pictures.example.org/chamber.jpg"]
    with db.connect() as conn:
        image = json.loads(conn.execute(select(articles.c.image)).scalar_one())
    assert image["sources"] == [["https://pictures.example.org/chamber.jpg", 800, 450, 40_000, True]]


def test_articles_with_links_of_their_own_are_never_looked_up(settings, db, feed_server):
    feed_server.serve("/feed.xml", FEED)
    feed_server.serve("/sitemap.xml", b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                                      b"</urlset>", content_type="application/xml")
    source = SourceSettings("news", feed_server.url("/feed.xml"), resolve_links=feed_server.url("/sitemap.xml"))
    [report] = refresh_sources(db, configured(settings, source), now=JUNE)
    assert (report.error, report.problems) == (None, [])
    assert feed_server.requests_for("/sitemap.xml") == []
    with db.connect() as conn:
        assert set(conn.execute(select(articles.c.link_origin)).scalars()) == {"source"}


EMPTY_SITEMAP = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                 b"<url><loc>https://www.example.org/about/</loc></url></urlset>")


def listing(tmp_path, seed_path, name: str) -> str:
    path = tmp_path / f"{name}.txt"
    path.write_bytes(seed_path.read_bytes())
    return str(path)


def test_each_sitemap_is_read_once_a_run_and_never_taken_for_another(settings, db, feed_server, tmp_path, seed_path):
    feed_server.serve("/one.xml", EMPTY_SITEMAP, content_type="application/xml")
    feed_server.serve("/two.xml", EMPTY_SITEMAP, content_type="application/xml")
    sources = [SourceSettings(name, listing(tmp_path, seed_path, name), kind="listing",
                              website="https://www.example.org/news/", resolve_links=feed_server.url(sitemap))
               for name, sitemap in (("a", "/one.xml"), ("b", "/one.xml"), ("c", "/two.xml"))]
    reports = refresh_sources(db, configured(settings, *sources), now=JUNE)
    assert [len(feed_server.requests_for(p)) for p in ("/one.xml", "/two.xml")] == [1, 1]
    assert [r.error for r in reports] == [None, None, None]
    assert reports[2].problems[-1] == (f"{sources[2].location}: 5 of 5 article(s) not found through "
                                       f"{feed_server.url('/two.xml')}: they keep their stand-in link")


def test_a_sitemap_over_10_mb_is_not_read(settings, db, feed_server, tmp_path, seed_path):
    huge = EMPTY_SITEMAP.replace(b"</urlset>", b"<!--" + b" " * (10 * 2**20) + b"--></urlset>")
    feed_server.serve("/sitemap.xml", huge, content_type="application/xml")
    source = SourceSettings("a", listing(tmp_path, seed_path, "a"), kind="listing",
                            website="https://www.example.org/news/", resolve_links=feed_server.url("/sitemap.xml"))
    [report] = refresh_sources(db, configured(settings, source), now=JUNE)
    assert report.error is None
    assert any("larger than 10 MB" in p for p in report.problems), report.problems


def test_one_source_stored_on_its_own_resolves_its_links_too(settings, db, feed_server, tmp_path, seed_path):
    from digest.ingest.images import no_picture_fetch
    from digest.ingest.store import ingest_source
    from digest.outbound import for_settings

    from digest.db import articles as article_db

    feed_server.serve("/one.xml", EMPTY_SITEMAP, content_type="application/xml")
    source = SourceSettings("a", listing(tmp_path, seed_path, "a"), kind="listing",
                            website="https://www.example.org/news/", resolve_links=feed_server.url("/one.xml"))
    with db.begin() as conn:
        article_db.sync_topics(conn, settings.topics)
    report = ingest_source(db, configured(settings, source), source, configured=False, now=JUNE,
                           client=for_settings(settings), fetch_image=no_picture_fetch)
    assert report.error is None and report.new == 5 and len(feed_server.requests_for("/one.xml")) == 1


def test_a_sitemap_that_stalls_is_cut_by_the_read_timeout(settings, db, feed_server, tmp_path, seed_path):
    import time

    feed_server.drip("/sitemap.xml", every=5)  # one byte, then nothing for 5 s
    source = SourceSettings("a", listing(tmp_path, seed_path, "a"), kind="listing",
                            website="https://www.example.org/news/", resolve_links=feed_server.url("/sitemap.xml"))
    started = time.monotonic()
    [report] = refresh_sources(db, replace(configured(settings, source), fetch_timeout=0.5, fetch_deadline=4.0),
                               now=JUNE)
    assert time.monotonic() - started < 2
    assert report.problems[0] == f"{source.location}: sitemap {feed_server.url('/sitemap.xml')}: timed out after 0.5 s"


def test_the_sitemaps_of_one_source_share_one_deadline(settings, db, feed_server, tmp_path, seed_path):
    import time

    index = (b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             + f"<sitemap><loc>{feed_server.url('/a.xml')}</loc></sitemap>"
               f"<sitemap><loc>{feed_server.url('/b.xml')}</loc></sitemap></sitemapindex>".encode())
    feed_server.serve("/index.xml", index, content_type="application/xml")
    feed_server.drip("/a.xml", every=0.3)  # never trips the 1 s read timeout
    feed_server.drip("/b.xml", every=0.3)
    source = SourceSettings("a", listing(tmp_path, seed_path, "a"), kind="listing",
                            website="https://www.example.org/news/", resolve_links=feed_server.url("/index.xml"))
    started = time.monotonic()
    [report] = refresh_sources(db, replace(configured(settings, source), fetch_timeout=1.0, fetch_deadline=1.5),
                               now=JUNE)
    assert time.monotonic() - started < 2.5  # not 1.5 s a sitemap
    assert report.problems[:2] == [f"{source.location}: sitemap {feed_server.url(p)}: cut off by the overall deadline "
                                   "of 1.5 s" for p in ("/a.xml", "/b.xml")]


def test_links_not_found_through_wordpress_search_say_so(settings, db, feed_server, tmp_path, seed_path):
    source = SourceSettings("a", listing(tmp_path, seed_path, "a"), kind="listing",
                            website=feed_server.url("/"), resolve_links="wordpress")
    [report] = refresh_sources(db, configured(settings, source), now=JUNE)  # the search answers 404
    assert report.problems[-1] == (f"{source.location}: 5 of 5 article(s) not found through the site's WordPress "
                                   "search: they keep their stand-in link")


def test_a_listing_whose_every_link_is_found_has_no_problem_line(settings, db, feed_server, tmp_path):
    page = "/2017/06/20/council-chamber-reopens/"
    feed_server.serve(page, b"<!doctype html><html><head><title>Council chamber reopens - Example</title></head>"
                            b"<body><h1>Council chamber reopens</h1></body></html>", content_type="text/html")
    feed_server.serve("/sitemap.xml", EMPTY_SITEMAP.replace(b"https://www.example.org/about/",
                                                            feed_server.url(page).encode()),
                      content_type="application/xml")
    path = tmp_path / "news.txt"
    path.write_text("Council chamber reopens\n\nThe chamber is open again after a year.\n\nCouncil chamber reopens\n",
                    encoding="utf-8")
    source = SourceSettings("a", str(path), kind="listing", website="https://www.example.org/news/",
                            resolve_links=feed_server.url("/sitemap.xml"))
    [report] = refresh_sources(db, configured(settings, source), now=JUNE)
    assert (report.error, report.problems) == (None, [])
    with db.connect() as conn:
        assert conn.execute(select(articles.c.url, articles.c.link_origin)).one() == (feed_server.url(page), "resolved")


def test_resolving_links_keeps_the_problems_found_while_reading(settings, db, feed_server):
    body = FEED.replace(b"<item><title>GDPR: what councils must do now</title>", b"<item><title></title>")
    feed_server.serve("/feed.xml", body)
    source = SourceSettings("news", feed_server.url("/feed.xml"), resolve_links=feed_server.url("/sitemap.xml"))
    [report] = refresh_sources(db, configured(settings, source), now=JUNE)
    assert len(report.problems) == 1 and report.problems[0].endswith("skipped: no title"), report.problems


def test_a_wordpress_source_is_read_page_by_page(settings, db, feed_server):
    import json

    def post(n: int) -> dict:
        return {"id": n, "type": "post", "link": f"https://www.example.org/{n}/", "guid": {"rendered": f"?p={n}"},
                "title": {"rendered": f"Story {n} for members"}, "date_gmt": "2017-06-20T09:00:00",
                "excerpt": {"rendered": "<p>What members need to know.</p>"}}

    pages = {"X-WP-TotalPages": "2"}
    feed_server.serve("/posts", json.dumps([post(1)]).encode(), content_type="application/json", headers=pages)
    feed_server.serve("/posts?page=2", json.dumps([post(2)]).encode(), content_type="application/json",
                      headers=pages)
    source = SourceSettings("wp", feed_server.url("/posts"), kind="wordpress")
    [report] = refresh_sources(db, configured(settings, source), now=JUNE)
    assert report.line() == "source wp: wordpress, 2 item(s): 2 new, 0 updated, 0 unchanged"


def test_every_changed_article_is_counted_updated(settings, db, feed_server):
    feed_server.serve("/feed.xml", FEED)
    settings = configured(settings, SourceSettings("news", feed_server.url("/feed.xml")))
    refresh_sources(db, settings, now=JUNE)
    feed_server.serve("/feed.xml", FEED.replace(b"what members need to know", b"what every member should know"))
    [report] = refresh_sources(db, settings, now=LATER)
    assert report.line() == "source news: rss, 2 item(s): 0 new, 2 updated, 0 unchanged"


def test_an_empty_sitemap_is_said_to_be_empty_xml(settings, db, feed_server, tmp_path, seed_path):
    feed_server.serve("/sitemap.xml", b"", content_type="application/xml")
    source = SourceSettings("a", listing(tmp_path, seed_path, "a"), kind="listing",
                            website="https://www.example.org/news/", resolve_links=feed_server.url("/sitemap.xml"))
    [report] = refresh_sources(db, configured(settings, source), now=JUNE)
    assert report.problems[0] == (f"{source.location}: sitemap {feed_server.url('/sitemap.xml')}: not a sitemap: "
                                  "no element found: line 1, column 0")


def test_a_feed_that_stalls_is_cut_by_the_read_timeout(settings, db, feed_server):
    feed_server.drip("/feed.xml", every=5)  # one byte, then nothing for 5 s
    source = SourceSettings("news", feed_server.url("/feed.xml"))
    [report] = refresh_sources(db, replace(configured(settings, source), fetch_timeout=0.5, fetch_deadline=4.0),
                               now=JUNE)
    assert report.error == f"{feed_server.url('/feed.xml')}: timed out after 0.5 s"

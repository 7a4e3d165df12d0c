"""Polite, bounded fetching against a real HTTP server on 127.0.0.1 (tests/feed_server.py)."""

from __future__ import annotations

import gzip
import os
import threading

import pytest

from digest.errors import IngestError
from digest.ingest.fetch import FetchLimits, fetch_url, read_path, user_agent
from digest.outbound import Outbound
from feed_server import feed_server, rss  # noqa: F401  (the fixture)

LOCAL = Outbound(allow_private=("127.0.0.0/8",))  # the test server; every other internal address refused

FEED = rss(("One", "https://www.example.org/one/", "Wed, 21 Jun 2017 10:00:00 +0000"))


def test_conditional_get_costs_a_304_and_nothing_more(feed_server):
    web = feed_server
    web.serve("/feed.xml", FEED, etag='"v1"', last_modified="Wed, 21 Jun 2017 10:00:00 GMT")
    agent = user_agent("https://www.example.org/")
    first = fetch_url(web.url("/feed.xml"), agent=agent, client=LOCAL)
    assert (first.status, first.body, first.etag, first.last_modified) == (
        200, FEED, '"v1"', "Wed, 21 Jun 2017 10:00:00 GMT")
    again = fetch_url(web.url("/feed.xml"), etag=first.etag, last_modified=first.last_modified, agent=agent,
                      client=LOCAL)
    assert again.not_modified and again.body is None and again.etag == '"v1"'
    plain, conditional = web.requests_for("/feed.xml")
    assert "If-None-Match" not in plain
    assert conditional["If-None-Match"] == '"v1"'
    assert conditional["If-Modified-Since"] == "Wed, 21 Jun 2017 10:00:00 GMT"
    for headers in (plain, conditional):
        assert headers["User-Agent"].startswith("digest/") and "https://www.example.org/" in headers["User-Agent"]
        assert "gzip" in headers["Accept-Encoding"]


def test_a_permanent_redirect_is_recorded_a_temporary_one_is_not(feed_server):
    web = feed_server
    web.serve("/new.xml", FEED)
    web.redirect("/old.xml", "/new.xml", status=301)
    web.redirect("/moved-for-now.xml", "/new.xml", status=302)
    web.redirect("/hop.xml", "/old.xml", status=308)
    got = fetch_url(web.url("/old.xml"), client=LOCAL)
    assert (got.body, got.url, got.moved_to) == (FEED, web.url("/new.xml"), web.url("/new.xml"))
    assert fetch_url(web.url("/hop.xml"), client=LOCAL).moved_to == web.url("/new.xml")  # 308 then 301: both permanent
    assert fetch_url(web.url("/moved-for-now.xml"), client=LOCAL).moved_to is None


def test_gzip_is_read_and_a_gzip_bomb_is_refused_without_inflating_it(feed_server):
    web = feed_server
    web.serve("/small.xml", gzip.compress(FEED), headers={"Content-Encoding": "gzip"})
    assert fetch_url(web.url("/small.xml"), client=LOCAL).body == FEED
    bomb = gzip.compress(b" " * (60 * 2**20), compresslevel=9)  # 60 MB of spaces in ~60 KB
    assert len(bomb) < 100_000
    web.serve("/bomb.xml", bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(IngestError) as caught:
        fetch_url(web.url("/bomb.xml"), client=LOCAL)
    assert str(caught.value) == f"{web.url('/bomb.xml')}: larger than 50 MB once decompressed: not a news source"
    # the same cap, smaller: proves it is the decompressed size that counts
    web.serve("/feed.gz", gzip.compress(FEED * 20), headers={"Content-Encoding": "gzip"})
    with pytest.raises(IngestError, match="once decompressed"):
        fetch_url(web.url("/feed.gz"), limits=FetchLimits(max_bytes=len(FEED) * 10), client=LOCAL)


def test_a_drip_feed_is_cut_off_by_the_overall_deadline(feed_server):
    web = feed_server
    # A byte every 0.3 s never trips the 2 s read timeout; the 1.5 s deadline ends it.
    web.drip("/drip.xml", every=0.3)
    with pytest.raises(IngestError) as caught:
        fetch_url(web.url("/drip.xml"), limits=FetchLimits(read_timeout=2, deadline=1.5), client=LOCAL)
    assert str(caught.value) == f"{web.url('/drip.xml')}: cut off by the overall deadline of 1.5 s"


def test_http_errors_are_one_line(feed_server):
    with pytest.raises(IngestError) as caught:
        fetch_url(feed_server.url("/missing.xml"), client=LOCAL)
    assert str(caught.value) == f"{feed_server.url('/missing.xml')}: HTTP 404 Not Found"


def test_a_device_or_a_pipe_is_refused_as_a_path(tmp_path):
    with pytest.raises(IngestError) as caught:
        read_path("/dev/zero")
    assert str(caught.value) == "/dev/zero: is a device, not a regular file"
    fifo = tmp_path / "feed.xml"
    os.mkfifo(fifo)
    done = []
    reader = threading.Thread(target=lambda: done.append(pytest.raises(IngestError, read_path, str(fifo))))
    reader.start()
    reader.join(5)
    if reader.is_alive():  # it blocked on open: unblock it before failing
        with open(fifo, "wb"):
            pass
        reader.join()
        pytest.fail("reading a pipe blocked")
    assert str(done[0].value) == f"{fifo}: is a pipe, not a regular file"

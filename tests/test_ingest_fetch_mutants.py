"""Tests written from the mutants that survived tests/ alone (scripts/mutants)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from digest.errors import IngestError
from digest.ingest.fetch import ACCEPT, FetchLimits, Fetched, fetch_url, is_url, read_path
from digest.outbound import Outbound
from feed_server import feed_server, rss  # noqa: F401  (the fixture)

LOCAL = Outbound(allow_private=("127.0.0.0/8",))
FEED = rss(("One", "https://www.example.org/one/", "Wed, 21 Jun 2017 10:00:00 +0000"))


def refusal(source: str, **options) -> str:
    with pytest.raises(IngestError) as caught:
        read_path(source, **options)
    return str(caught.value)


def test_a_file_is_read_whole_by_path_or_file_url_and_up_to_its_cap(tmp_path):
    feed = tmp_path / "feed.xml"
    feed.write_bytes(FEED)
    assert read_path(str(feed)) == FEED
    assert read_path("file://" + str(feed)) == FEED
    assert read_path(str(feed), max_bytes=len(FEED)) == FEED
    short = len(FEED) - 1
    assert refusal(str(feed), max_bytes=short) == f"{feed}: larger than {short} bytes: not a news source"


def test_a_home_relative_path_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "f.xml").write_bytes(b"<rss/>")
    assert read_path("~/f.xml") == b"<rss/>"


def test_a_file_that_says_it_is_empty_but_is_not_is_still_capped():
    # /proc files stat as 0 bytes and read as more: the cap holds on what is read, not on what stat said
    assert refusal("/proc/self/status", max_bytes=10) == "/proc/self/status: larger than 10 bytes: not a news source"
    assert len(read_path("/proc/self/status", max_bytes=2**20)) > 10


def test_a_file_over_the_default_cap_is_refused_in_megabytes(tmp_path):
    big = tmp_path / "big.xml"
    with big.open("wb") as fh:
        fh.truncate(50 * 2**20 + 1)  # sparse: no disk used
    assert refusal(str(big)) == f"{big}: larger than 50 MB: not a news source"
    assert refusal(str(big), max_bytes=2**20) == f"{big}: larger than 1 MB: not a news source"
    assert refusal(str(big), max_bytes=2**20 - 1) == f"{big}: larger than {2**20 - 1} bytes: not a news source"


def test_every_path_that_is_no_file_is_one_line(tmp_path):
    assert refusal(str(tmp_path / "missing.xml")) == f"{tmp_path / 'missing.xml'}: no such file"
    assert refusal(str(tmp_path)) == f"{tmp_path}: is a directory, not a file"
    assert refusal("file://" + str(tmp_path)) == f"file://{tmp_path}: is a directory, not a file"
    (tmp_path / "plain").write_text("x")
    assert refusal(str(tmp_path / "plain" / "under")) == f"{tmp_path / 'plain' / 'under'}: cannot read: Not a directory"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "feed.sock"))
        assert refusal(str(tmp_path / "feed.sock")) == f"{tmp_path / 'feed.sock'}: is a socket, not a regular file"
    finally:
        sock.close()
    assert refusal("/dev/zero") == "/dev/zero: is a device, not a regular file"


def test_a_file_we_may_not_read_is_one_line(tmp_path, monkeypatch):
    feed = tmp_path / "feed.xml"
    feed.write_bytes(FEED)

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", denied)  # the tests run as root, which chmod cannot stop
    assert refusal(str(feed)) == f"{feed}: permission denied"


def test_a_path_that_becomes_a_directory_between_stat_and_open_is_one_line(tmp_path, monkeypatch):
    feed = tmp_path / "feed.xml"
    feed.write_bytes(FEED)

    def now_a_directory(self, *args, **kwargs):
        raise IsADirectoryError(21, "Is a directory")

    monkeypatch.setattr(Path, "open", now_a_directory)
    assert refusal(str(feed)) == f"{feed}: is a directory, not a file"


def test_is_url_is_http_or_https_in_any_case():
    assert is_url("https://e.org/feed") and is_url("HTTP://e.org/feed")
    assert not is_url("/srv/feed.xml") and not is_url("file:///srv/feed.xml") and not is_url("ftp://e.org/f")


def test_what_a_source_asks_for(feed_server):
    feed_server.serve("/feed.xml", FEED, etag='"v2"', last_modified="Thu, 22 Jun 2017 10:00:00 GMT")
    got = fetch_url(feed_server.url("/feed.xml"), client=Outbound(allow_private=("127.0.0.0/8",), user_agent="ua/1"))
    [(path, headers)] = feed_server.requests
    assert headers["Accept"] == ACCEPT and headers["Accept-Encoding"] == "gzip, deflate"
    assert headers["User-Agent"] == "ua/1" and "If-Modified-Since" not in headers
    assert got == Fetched(feed_server.url("/feed.xml"), 200, FEED, "application/rss+xml; charset=utf-8", '"v2"',
                          "Thu, 22 Jun 2017 10:00:00 GMT", None, got.headers)
    assert not got.not_modified and got.headers["ETag"] == '"v2"'


def test_a_304_keeps_the_stored_last_modified_when_it_sends_none(feed_server):
    feed_server.serve("/feed.xml", FEED, etag='"v1"')
    got = fetch_url(feed_server.url("/feed.xml"), etag='"v1"', last_modified="Wed, 21 Jun 2017 10:00:00 GMT",
                    client=LOCAL)
    assert (got.status, got.body, got.etag, got.last_modified) == (304, None, '"v1"', "Wed, 21 Jun 2017 10:00:00 GMT")
    assert got.url == feed_server.url("/feed.xml") and got.moved_to is None
    [(_, headers)] = feed_server.requests
    assert headers["If-None-Match"] == '"v1"'


def test_a_304_to_a_plain_get_is_an_error_and_other_answers_are_named(feed_server):
    feed_server.serve("/odd.xml", b"", status=304)
    feed_server.serve("/gone.xml", b"", status=410)
    feed_server.serve("/partial.xml", FEED, status=203)
    with pytest.raises(IngestError) as caught:
        fetch_url(feed_server.url("/odd.xml"), client=LOCAL)
    assert str(caught.value) == (f"{feed_server.url('/odd.xml')}: HTTP 304 Not Modified to a request that "
                                 "was not conditional")
    with pytest.raises(IngestError) as caught:
        fetch_url(feed_server.url("/gone.xml"), client=LOCAL)
    assert str(caught.value) == f"{feed_server.url('/gone.xml')}: HTTP 410 Gone"
    assert fetch_url(feed_server.url("/partial.xml"), client=LOCAL).body == FEED  # any 2xx is a body


def test_a_redirect_without_a_location_is_one_line(feed_server):
    feed_server.serve("/nowhere.xml", b"", status=302)
    with pytest.raises(IngestError) as caught:
        fetch_url(feed_server.url("/nowhere.xml"), client=LOCAL)
    assert str(caught.value) == f"{feed_server.url('/nowhere.xml')}: HTTP 302 without a Location"


def test_a_plain_body_over_the_cap_and_a_password_in_the_url(feed_server):
    feed_server.serve("/feed.xml", FEED)
    port = feed_server.base.rsplit(":", 1)[1]
    with pytest.raises(IngestError) as caught:
        fetch_url(f"http://ed:s3cret@127.0.0.1:{port}/feed.xml", limits=FetchLimits(max_bytes=10), client=LOCAL)
    assert str(caught.value) == f"http://ed:***@127.0.0.1:{port}/feed.xml: larger than 10 bytes: not a news source"
    with pytest.raises(IngestError) as caught:
        fetch_url(f"http://ed:s3cret@127.0.0.1:{port}/missing.xml", client=LOCAL)
    assert str(caught.value) == f"http://ed:***@127.0.0.1:{port}/missing.xml: HTTP 404 Not Found"


def test_the_default_client_refuses_internal_addresses_and_limits_default_sensibly():
    with pytest.raises(IngestError) as caught:
        fetch_url("http://127.0.0.1:9/feed.xml")
    assert "refused 127.0.0.1, a loopback address" in str(caught.value)
    assert FetchLimits() == FetchLimits(read_timeout=20.0, deadline=60.0, max_bytes=50 * 2**20)


def test_a_308_then_a_302_is_moved_to_the_302s_url(feed_server):
    feed_server.serve("/new.xml", FEED)
    feed_server.redirect("/mid.xml", "/new.xml", status=302)
    feed_server.redirect("/old.xml", "/mid.xml", status=308)
    assert fetch_url(feed_server.url("/old.xml"), client=LOCAL).moved_to == feed_server.url("/mid.xml")


def test_a_conditional_get_with_only_an_etag_or_only_a_date(feed_server):
    feed_server.serve("/e.xml", FEED, etag='"v1"')
    feed_server.serve("/d.xml", FEED, last_modified="Wed, 21 Jun 2017 10:00:00 GMT")
    got = fetch_url(feed_server.url("/e.xml"), etag='"v1"', client=LOCAL)
    assert (got.status, got.etag, got.last_modified) == (304, '"v1"', None)
    got = fetch_url(feed_server.url("/d.xml"), last_modified="Wed, 21 Jun 2017 10:00:00 GMT", client=LOCAL)
    assert (got.status, got.etag, got.last_modified) == (304, None, "Wed, 21 Jun 2017 10:00:00 GMT")


def test_a_304_reached_through_a_permanent_redirect_records_the_move(feed_server):
    feed_server.serve("/feed.xml", FEED, etag='"v1"')
    feed_server.redirect("/old.xml", "/feed.xml", status=301)
    got = fetch_url(feed_server.url("/old.xml"), etag='"v1"', client=LOCAL)
    assert got.not_modified and got.moved_to == feed_server.url("/feed.xml") == got.url


def test_a_304_keeps_the_type_it_is_sent():
    from test_outbound_mutants import Raw

    web = Raw(b'HTTP/1.1 304 Not Modified\r\nContent-Type: application/atom+xml\r\nETag: "v9"\r\n\r\n')
    try:
        got = fetch_url(web.url("/feed"), etag='"v8"', client=LOCAL)
    finally:
        web.close()
    assert (got.status, got.content_type, got.etag) == (304, "application/atom+xml", '"v9"')


def test_each_read_waits_at_most_the_sources_read_timeout():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/feed.xml"
    try:
        with pytest.raises(IngestError) as caught:
            fetch_url(url, limits=FetchLimits(read_timeout=0.3, deadline=10), client=LOCAL)
    finally:
        listener.close()
    assert str(caught.value) == f"{url}: timed out after 0.3 s"


def test_a_304_with_a_new_date_replaces_ours():
    from test_outbound_mutants import Raw

    web = Raw(b"HTTP/1.1 304 Not Modified\r\nLast-Modified: Fri, 23 Jun 2017 10:00:00 GMT\r\n\r\n")
    try:
        got = fetch_url(web.url("/feed"), last_modified="Wed, 21 Jun 2017 10:00:00 GMT", client=LOCAL)
    finally:
        web.close()
    assert (got.status, got.last_modified, got.etag) == (304, "Fri, 23 Jun 2017 10:00:00 GMT", None)


def test_a_300_is_no_body_to_read(feed_server):
    feed_server.serve("/choices.xml", FEED, status=300)
    with pytest.raises(IngestError) as caught:
        fetch_url(feed_server.url("/choices.xml"), client=LOCAL)
    assert str(caught.value) == f"{feed_server.url('/choices.xml')}: HTTP 300 Multiple Choices"

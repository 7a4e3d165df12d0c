"""RSS and Atom through parse_source: exact fields, hostile content, broken feeds."""

from __future__ import annotations

import gzip
import socket
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from digest.errors import IngestError
from digest.ingest import load_source, parse_source, read_source
from digest.outbound import Outbound

UTC = timezone.utc
DECL = b'<?xml version="1.0" encoding="utf-8"?>\n'
NS = b'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/"'

LOCAL = Outbound(allow_private=("127.0.0.0/8",))  # the test server; every other internal address refused


def rss(*items: bytes, decl: bytes = DECL, link: bytes = b"https://www.example.org/news/") -> bytes:
    """An RSS 2.0 feed around the given <item> elements."""
    return (
        decl + b'<rss version="2.0" ' + NS + b"><channel><title>Example news</title><link>" + link
        + b"</link><description>News</description>\n" + b"\n".join(items) + b"\n</channel></rss>\n"
    )


def item(title: bytes = b"Title", link: bytes = b"https://www.example.org/a/", extra: bytes = b"") -> bytes:
    return b"<item><title>" + title + b"</title><link>" + link + b"</link>" + extra + b"</item>"


def parse(data: bytes, **kwargs):
    return parse_source(data, "feed.xml", **kwargs)


def test_rss2_item_fields_exactly():
    feed = rss(
        b"""<item>
  <title>Queen&#8217;s speech:\xc2\xa0what to watch for</title>
  <link>https://www.example.org/queens-speech/</link>
  <guid isPermaLink="false">https://www.example.org/?p=101</guid>
  <dc:creator><![CDATA[Martin Ferguson]]></dc:creator>
  <pubDate>Wed, 21 Jun 2017 10:30:00 +0100</pubDate>
  <category><![CDATA[Policy]]></category>
  <category>Data protection</category>
  <category>Policy</category>
  <description><![CDATA[<p>Less ceremony than usual [&#8230;]</p>]]></description>
  <content:encoded><![CDATA[<p>Her Majesty&#8217;s 64th speech.</p><p>Second <a href="https://gov.example/">link</a>.</p>]]></content:encoded>
</item>"""
    )
    result = parse(feed)
    assert result.kind == "rss"
    assert result.problems == []
    [article] = result.articles
    assert article.title == "Queen’s speech: what to watch for"
    assert article.url == "https://www.example.org/queens-speech/"
    assert article.guid == "https://www.example.org/?p=101"
    assert article.author == "Martin Ferguson"
    assert article.author_role is None
    assert article.published_at == datetime(2017, 6, 21, 9, 30, tzinfo=UTC)
    assert article.categories == ["Policy", "Data protection"]
    assert article.teaser == "<p>Less ceremony than usual […]</p>"
    assert article.body == (
        '<p>Her Majesty’s 64th speech.</p><p>Second <a href="https://gov.example/" '
        'rel="noopener noreferrer">link</a>.</p>'
    )
    assert article.source == "feed.xml"


def test_rss_author_element_gives_the_name_not_the_address():
    feed = rss(
        item(b"Named", b"https://e.org/1", b"<author>jane@example.org (Jane Doe)</author>"),
        item(b"Address only", b"https://e.org/2", b"<author>jane@example.org</author>"),
    )
    assert [a.author for a in parse(feed).articles] == ["Jane Doe", None]


def test_hostile_content_is_sanitised():
    body = b"""<![CDATA[
<style>body{display:none}</style>
<p onclick="steal()" style="font-size:40px">Hello <script>alert(document.cookie)</script>world</p>
<p><a href="javascript:alert(1)">click</a> <a href="https://ok.example/x" onmouseover="steal()">ok</a></p>
<iframe src="https://evil.example/frame"></iframe>
<img src="https://ok.example/chart.png" alt="Chart" onerror="steal()">
<p>unclosed <em>emphasis
]]>"""
    feed = rss(item(b"Hostile", b"https://e.org/h", b"<content:encoded>" + body + b"</content:encoded>"))
    [article] = parse(feed).articles
    assert article.body == (
        "<p>Hello world</p>\n"
        '<p><a rel="noopener noreferrer">click</a> '
        '<a href="https://ok.example/x" rel="noopener noreferrer">ok</a></p>\n\n'
        '<img alt="Chart" src="https://ok.example/chart.png">\n'
        "<p>unclosed <em>emphasis</em></p>"
    )


def test_relative_links_made_absolute_against_the_feed_link():
    feed = rss(
        item(
            b"Relative",
            b"/2017/06/relative/",
            b"<description>&lt;p&gt;See &lt;a href=&quot;/about/&quot;&gt;us&lt;/a&gt;&lt;/p&gt;</description>"
            b'<content:encoded><![CDATA[<p><img src="images/a.png" alt="A"></p>]]></content:encoded>',
        )
    )
    [article] = parse(feed).articles
    assert article.url == "https://www.example.org/2017/06/relative/"
    assert article.teaser == '<p>See <a href="https://www.example.org/about/" rel="noopener noreferrer">us</a></p>'
    # feedparser's own sanitiser has already put alt first
    assert article.body == '<p><img alt="A" src="https://www.example.org/news/images/a.png"></p>'


def test_relative_link_without_any_base_is_dropped_and_reported():
    feed = rss(item(b"Lost", b"/lost/"), link=b"")
    result = parse(feed)
    assert result.articles[0].url is None
    assert result.problems == ["feed.xml: item 1 (“Lost”): link '/lost/' is not an absolute http(s) URL: dropped"]


def test_site_url_is_the_fallback_base():
    feed = rss(item(b"Found", b"/found/"), link=b"")
    assert parse(feed, site_url="https://www.example.org").articles[0].url == "https://www.example.org/found/"


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example.org/">
  <title>Blog</title>
  <link href="https://blog.example.org/"/>
  <id>urn:uuid:60a76c80-d399-11d9-b93c-0003939e0af6</id>
  <updated>2017-06-22T08:00:00Z</updated>
  <entry xml:base="/2017/06/">
    <title type="html">Caf&amp;eacute; &lt;em&gt;society&lt;/em&gt;</title>
    <link rel="alternate" href="cafe-society/"/>
    <id>tag:blog.example.org,2017:cafe</id>
    <published>2017-06-21T10:00:00+02:00</published>
    <updated>2017-06-22T07:00:00Z</updated>
    <author><name>Ann Author</name><email>ann@example.org</email></author>
    <category term="community" label="Community"/>
    <category term="food"/>
    <summary type="html">&lt;p&gt;A &lt;a href="teaser-link"&gt;teaser&lt;/a&gt;&lt;/p&gt;</summary>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Body with <a href="../../about/">about</a> and <img src="pic.jpg" alt="Pic"/></p></div></content>
  </entry>
  <entry>
    <title>Only updated</title>
    <link href="https://blog.example.org/only-updated/"/>
    <id>tag:blog.example.org,2017:upd</id>
    <updated>2017-06-20T23:30:00-01:00</updated>
    <content type="text">Plain &amp; simple.

Second paragraph.</content>
  </entry>
</feed>
"""


def test_atom_with_xml_base():
    result = parse(ATOM)
    assert result.kind == "atom"
    assert result.problems == []
    first, second = result.articles
    assert first.title == "Café society"
    assert first.url == "https://blog.example.org/2017/06/cafe-society/"
    assert first.guid == "tag:blog.example.org,2017:cafe"
    assert first.author == "Ann Author"
    assert first.published_at == datetime(2017, 6, 21, 8, 0, tzinfo=UTC)
    assert first.categories == ["Community", "food"]
    assert first.teaser == '<p>A <a href="https://blog.example.org/2017/06/teaser-link" rel="noopener noreferrer">teaser</a></p>'
    assert first.body == (
        '<p>Body with <a href="https://blog.example.org/about/" rel="noopener noreferrer">about</a> '
        'and <img alt="Pic" src="https://blog.example.org/2017/06/pic.jpg"></p>'
    )
    assert second.title == "Only updated"
    assert second.published_at == datetime(2017, 6, 21, 0, 30, tzinfo=UTC)
    assert second.teaser is None
    assert second.body == "<p>Plain &amp; simple.</p>\n<p>Second paragraph.</p>"


RSS10 = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://www.example.org/">
    <title>Example</title><link>https://www.example.org/</link><description>d</description>
    <items><rdf:Seq><rdf:li rdf:resource="https://www.example.org/one/"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://www.example.org/one/">
    <title>RSS one-oh</title>
    <link>https://www.example.org/one/</link>
    <description>Plain description.</description>
    <dc:creator>Carol Creator</dc:creator>
    <dc:date>2017-06-21T10:00:00+01:00</dc:date>
    <dc:subject>Digital</dc:subject>
  </item>
</rdf:RDF>
"""


def test_rss10_with_dublin_core():
    result = parse(RSS10)
    assert result.kind == "rss"
    [article] = result.articles
    assert (article.title, article.url, article.guid) == ("RSS one-oh", "https://www.example.org/one/", "https://www.example.org/one/")
    assert article.author == "Carol Creator"
    assert article.published_at == datetime(2017, 6, 21, 9, 0, tzinfo=UTC)
    assert article.categories == ["Digital"]
    assert article.teaser == "Plain description."
    assert article.body is None


RSS091 = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
 "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91">
<channel>
<title>Old news</title><link>http://old.example.org/</link><description>d</description><language>en-gb</language>
<item><title>Caf\xe9 opens</title><link>http://old.example.org/cafe.html</link><description>A caf\xe9 &amp; more.</description></item>
<item><title>Second</title><link>http://old.example.org/2.html</link></item>
</channel>
</rss>
"""


def test_rss091_in_latin1():
    result = parse(RSS091)
    assert result.kind == "rss"
    assert result.problems == []
    assert [(a.title, a.url, a.guid, a.published_at, a.teaser) for a in result.articles] == [
        ("Café opens", "http://old.example.org/cafe.html", None, None, "A café &amp; more."),
        ("Second", "http://old.example.org/2.html", None, None, None),
    ]


@pytest.mark.parametrize(
    "decl, raw, problem",
    [
        # declared UTF-8, but the bytes are Latin-1
        (DECL, "Café résumé".encode("latin-1"), "not valid UTF-8: read the odd bytes as Windows-1252"),
        # declared UTF-8, Windows-1252 smart quotes and dash
        (DECL, "“Café” – résumé".encode("cp1252"), "not valid UTF-8: read the odd bytes as Windows-1252"),
        # declared Windows-1252 and so it is
        (b'<?xml version="1.0" encoding="windows-1252"?>', "“Café” – résumé".encode("cp1252"), None),
        # declared ISO-8859-1 but Windows-1252 bytes (0x93 etc.)
        (b'<?xml version="1.0" encoding="iso-8859-1"?>', "“Café” – résumé".encode("cp1252"), None),
        # declared ISO-8859-1 but really UTF-8
        (b"<?xml version='1.0' encoding='ISO-8859-1'?>", "“Café” – résumé".encode("utf-8"),
         "declared iso-8859-1 but is UTF-8: read as UTF-8"),
        # a byte order mark before the declaration
        (b"\xef\xbb\xbf" + DECL, "“Café” – résumé".encode("utf-8"), None),
        # mostly UTF-8 with one pasted Windows-1252 word
        (DECL, "“Café” – ".encode("utf-8") + "résumé".encode("cp1252"), "not valid UTF-8: read the odd bytes as Windows-1252"),
    ],
)
def test_bad_encodings_still_decode(decl, raw, problem):
    wanted = "Café résumé" if raw.startswith(b"Caf") else "“Café” – résumé"
    result = parse(rss(item(raw), decl=decl))
    assert result.articles[0].title == wanted
    assert result.problems == ([f"feed.xml: {problem}"] if problem else [])


def test_utf16_feed():
    feed = rss(item("“Wide” café".encode("utf-8"))).replace(b'encoding="utf-8"', b'encoding="utf-16"')
    wide = feed.decode("utf-8").encode("utf-16")  # with a BOM
    assert parse(wide).articles[0].title == "“Wide” café"


def test_item_without_title_is_skipped_and_reported():
    feed = rss(item(b"First", b"https://e.org/1"), b"<item><link>https://e.org/2</link><description>x</description></item>",
               item(b"  ", b"https://e.org/3"), item(b"Fourth", b"https://e.org/4"))
    result = parse(feed)
    assert [a.title for a in result.articles] == ["First", "Fourth"]
    assert result.problems == [
        "feed.xml: item 2 (https://e.org/2): skipped: no title",
        "feed.xml: item 3 (https://e.org/3): skipped: no title",
    ]


@pytest.mark.parametrize(
    "date", ["31 Feb 2017 10:00:00 GMT", "Sat, 01 Jan 0000 00:00:00 GMT", "Wed, 32 Jun 2017 10:00:00 GMT", "soon"]
)
def test_impossible_date_is_dropped_and_reported(date):
    feed = rss(item(b"Dated", b"https://e.org/1", b"<pubDate>" + date.encode() + b"</pubDate>"))
    result = parse(feed)
    assert result.articles[0].published_at is None
    assert result.problems == [f"feed.xml: item 1 (“Dated”): impossible date {date!r}: stored without a date"]


def test_no_date_at_all_is_not_a_problem():
    result = parse(rss(item()))
    assert result.articles[0].published_at is None
    assert result.problems == []


def test_duplicate_guids_keep_the_last():
    feed = rss(
        item(b"Old wording", b"https://e.org/a", b"<guid>g-1</guid>"),
        item(b"Other", b"https://e.org/b", b"<guid>g-2</guid>"),
        item(b"New wording", b"https://e.org/a2", b"<guid>g-1</guid>"),
    )
    result = parse(feed)
    assert [(a.title, a.guid) for a in result.articles] == [("Other", "g-2"), ("New wording", "g-1")]
    assert result.problems == [
        "feed.xml: item 1 (“Old wording”): same guid as item 3 (“New wording”) further on: kept the later one"]


def test_raw_ampersand_is_escaped_and_the_feed_ingested():
    feed = rss(
        item(b"AT&T and R&D", b"https://e.org/1?a=1&b=2", b"<description><![CDATA[<p>Q&amp;A</p>]]></description>"),
        item(b"Second", b"https://e.org/2"),
    )
    result = parse(feed)
    assert [(a.title, a.url) for a in result.articles] == [("AT&T and R&D", "https://e.org/1?a=1&b=2"), ("Second", "https://e.org/2")]
    assert result.articles[0].teaser == "<p>Q&amp;A</p>"
    assert result.problems == ["feed.xml: not well-formed XML (not well-formed (invalid token) at line 3): escaped a bare '&'"]


def test_broken_xml_is_read_leniently_and_lost_items_reported():
    feed = rss(
        item(b"Broken", b"https://e.org/1", b"<description>oops</descriptio>"),
        item(b"Hidden", b"https://e.org/2"),
    )
    result = parse(feed)
    assert [a.title for a in result.articles] == ["Broken"]
    assert result.problems == [
        "feed.xml: not well-formed XML (mismatched tag at line 3): read leniently",
        "feed.xml: only 1 of 2 items could be read (the broken XML hides the rest)",
    ]


def test_blank_lines_before_the_xml_declaration_are_ignored():
    for prefix in (b"\n\n  ", b"\xef\xbb\xbf\r\n"):
        result = parse(prefix + rss(item("Café".encode())))
        assert ([a.title for a in result.articles], result.problems) == (["Café"], [])


def test_feed_with_no_items_is_fine():
    result = parse(rss())
    assert (result.kind, result.articles, result.problems) == ("rss", [], [])


def test_teaser_is_not_invented_from_the_content():
    feed = rss(item(b"Content only", b"https://e.org/1", b"<content:encoded>&lt;p&gt;Full&lt;/p&gt;</content:encoded>"))
    [article] = parse(feed).articles
    assert (article.teaser, article.body) == (None, "<p>Full</p>")


FULL = rss(*(item(f"Item {n}".encode(), f"https://e.org/{n}".encode(),
                  b"<description><![CDATA[<p>Some text &amp; more text</p>]]></description>") for n in range(1, 6)))


@pytest.mark.parametrize("cut", [len(FULL) // 3, len(FULL) // 2, FULL.index(b"<![CDATA[") + 12, FULL.rindex(b"</channel>"),
                                 FULL.rindex(b"</rss>") + 3])
def test_truncated_feed_is_refused(cut):
    with pytest.raises(IngestError) as caught:
        parse(FULL[:cut])
    assert str(caught.value) == "feed.xml: cut off: the feed has no closing </rss> (truncated download?)"


def test_truncated_atom_is_refused():
    with pytest.raises(IngestError, match=r"^feed.xml: cut off: the feed has no closing </feed>"):
        parse(ATOM[: ATOM.index(b"</entry>") + 3])


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty: nothing to ingest"),
        (b"  \r\n\t ", "empty: nothing to ingest"),
        (b"\xef\xbb\xbf\n", "empty: nothing to ingest"),
        (b"<!DOCTYPE html><html><head><title>News</title></head><body><p>Hi</p></body></html>",
         "not a feed, JSON Feed, WordPress JSON or listing export (a document whose root is <html>)"),
        (b'<?xml version="1.0"?><urlset><url><loc>https://e.org/</loc></url></urlset>',
         "not a feed, JSON Feed, WordPress JSON or listing export (a document whose root is <urlset>)"),
        (b'{"name": "Example", "posts": 3}', "not a feed, JSON Feed, WordPress JSON or listing export (JSON, but not WordPress posts)"),
        (bytes(range(256)) * 4, "not a feed, JSON Feed, WordPress JSON or listing export"),
        (b"Just some notes.\nNothing repeats here.\n", "not a feed, JSON Feed, WordPress JSON or listing export"),
    ],
)
def test_not_a_feed(data, reason):
    with pytest.raises(IngestError) as caught:
        parse(data)
    assert str(caught.value) == f"feed.xml: {reason}"
    assert caught.value.source == "feed.xml"


def test_bad_site_url_is_refused():
    with pytest.raises(IngestError, match="site URL 'www.example.org' is not an absolute http"):
        parse(rss(item()), site_url="www.example.org")


# ---------------------------------------------------------------- reading sources


class _Handler(BaseHTTPRequestHandler):
    routes: dict = {}
    release: threading.Event

    def do_GET(self):
        route = self.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        status, headers, body, declared_length = route
        if declared_length == "hang":
            self.release.wait(10)
            return
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(declared_length or len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True  # a short body then really ends

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1; routes maps path -> (status, headers, body, declared length)."""
    routes: dict = {}
    release = threading.Event()
    handler = type("Handler", (_Handler,), {"routes": routes, "release": release})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", routes
    release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_read_source_over_http(server):
    base, routes = server
    feed = rss(item(b"Over the wire", b"/wire/"), link=b"")
    routes["/feed/"] = (200, {"Content-Type": "application/rss+xml; charset=UTF-8"}, feed, None)
    assert read_source(base + "/feed/", client=LOCAL) == (feed, "application/rss+xml; charset=UTF-8")
    result = load_source(base + "/feed/", client=LOCAL)
    assert (result.source, result.kind) == (base + "/feed/", "rss")
    # no channel link: relative links resolve against where the feed came from
    assert [(a.title, a.url) for a in result.articles] == [("Over the wire", base + "/wire/")]


def test_read_source_gzip_sent_unasked(server):
    base, routes = server
    feed = rss(item(b"Squeezed"))
    routes["/gz"] = (200, {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}, gzip.compress(feed), None)
    assert read_source(base + "/gz", client=LOCAL)[0] == feed


def test_read_source_http_error(server):
    base, _ = server
    with pytest.raises(IngestError) as caught:
        read_source(base + "/missing.xml", client=LOCAL)
    assert str(caught.value) == f"{base}/missing.xml: HTTP 404 Not Found"


def test_read_source_shorter_than_content_length(server):
    base, routes = server
    routes["/short"] = (200, {"Content-Type": "application/rss+xml"}, FULL[:100], 1000)
    with pytest.raises(IngestError) as caught:
        read_source(base + "/short", client=LOCAL)
    assert str(caught.value) == f"{base}/short: download cut short: got 100 of 1000 bytes"


def test_read_source_timeout(server):
    base, routes = server
    routes["/slow"] = (200, {}, b"", "hang")
    with pytest.raises(IngestError) as caught:
        read_source(base + "/slow", timeout=0.5, client=LOCAL)
    assert str(caught.value) == f"{base}/slow: timed out after 0.5 s"


def test_read_source_nobody_listening():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(IngestError, match=rf"^http://127.0.0.1:{port}/feed: cannot connect: "):
        read_source(f"http://127.0.0.1:{port}/feed", client=LOCAL)


def test_read_source_files(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_bytes(FULL)
    assert read_source(str(path)) == (FULL, None)
    assert read_source(f"file://{path}") == (FULL, None)
    assert [a.title for a in load_source(str(path)).articles] == [f"Item {n}" for n in range(1, 6)]
    with pytest.raises(IngestError) as caught:
        read_source(str(tmp_path / "nope.xml"))
    assert str(caught.value) == f"{tmp_path / 'nope.xml'}: no such file"
    with pytest.raises(IngestError) as caught:
        read_source(str(tmp_path))
    assert str(caught.value) == f"{tmp_path}: is a directory, not a file"


def test_wordpress_pages_are_followed(server):
    import json
    from pathlib import Path

    base, routes = server
    posts = json.loads((Path(__file__).parent / "data" / "ingest" / "wp_posts.json").read_text(encoding="utf-8"))
    page2 = []
    for n, post in enumerate(posts):
        post = json.loads(json.dumps(post))
        post["id"] = 9000 + n
        post["guid"]["rendered"] = f"https://www.example.org/?p={9000 + n}"
        post["link"] = f"https://www.example.org/page-two-{n}/"
        post["title"]["rendered"] = f"Page two story {n}"
        page2.append(post)
    wp = {"Content-Type": "application/json; charset=UTF-8", "X-WP-TotalPages": "2"}
    routes["/wp-json/wp/v2/posts?_embed=1"] = (200, wp, json.dumps(posts).encode(), None)
    routes["/wp-json/wp/v2/posts?_embed=1&page=2"] = (200, wp, json.dumps(page2).encode(), None)
    result = load_source(base + "/wp-json/wp/v2/posts?_embed=1", client=LOCAL)
    titles = [a.title for a in result.articles]
    assert len(titles) == len(posts) + len(page2)
    assert [t for t in titles if t.startswith("Page two story")] == [f"Page two story {n}" for n in range(len(page2))]
    # a page that fails fails the whole source (so nothing of it is written)
    routes["/wp-json/wp/v2/posts?_embed=1&page=2"] = (500, {}, b"oops", None)
    with pytest.raises(IngestError, match="page=2: HTTP 500"):
        load_source(base + "/wp-json/wp/v2/posts?_embed=1", client=LOCAL)

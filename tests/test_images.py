"""Articles' pictures: found in every kind of source, measured once over real HTTP, shown in the email.

Pictures are real PNG/JPEG files made with Pillow and served from a local
HTTP server on 127.0.0.1; the config allows http: pictures (http_images)
for that, as email itself wants https.
"""

from __future__ import annotations

import io
import json
import threading
import time
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from lxml import html as lxml_html

from digest.ingest import parse_source
from digest.ingest.images import FetchFailed, fetch_size, from_html, measure
from digest.models import ArticleImage, ImageSource
from digest.outbound import Outbound

# The picture server is on 127.0.0.1 and speaks http: both allowed here only.
LOCAL = dict(client=Outbound(allow_private=("127.0.0.0/8",)), https_only=False)

MEDIA = b'xmlns:media="http://search.yahoo.com/mrss/"'


def picture(width: int, height: int, fmt: str = "PNG") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (30, 80, 140)).save(buf, fmt)
    return buf.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height (a decompression bomb's first bytes)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


class PictureServer:
    """Serves {path: (bytes, content type)} on 127.0.0.1 and counts requests per path."""

    def __init__(self, files: dict[str, tuple[bytes, str]]):
        self.files = files
        self.hits: dict[str, int] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.hits[self.path] = owner.hits.get(self.path, 0) + 1
                if self.path not in owner.files:
                    self.send_error(404)
                    return
                body, kind = owner.files[self.path]
                if kind == "drip":  # a server that sends a little at a time, never quite timing out
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.end_headers()
                    try:
                        for _ in range(40):  # bounded: at most 4 s
                            self.wfile.write(body[:16])
                            self.wfile.flush()
                            time.sleep(0.1)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: too big

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def pictures():
    server = PictureServer({
        "/lead.png": (picture(1200, 675), "image/png"),
        "/small.jpg": (picture(300, 200, "JPEG"), "image/jpeg"),
        "/page.html": (b"<html>not a picture</html>", "text/html"),
        "/big.png": (b"\x89PNG" + b"0" * 2_000_000, "image/png"),
        "/drip.png": (picture(1200, 675), "drip"),
        "/bomb.png": (png_declaring(30000, 30000), "image/png"),
    })
    yield server
    server.close()


# ---- finding pictures in sources ----------------------------------------------------


def rss_item(extra: str, n: int = 1) -> str:
    return (f"<item><title>Story {n}</title><link>https://www.example.org/{n}/</link>"
            f"<guid>g{n}</guid>{extra}</item>")


def rss(*items: str) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0" {MEDIA.decode()} '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>'
            f"<link>https://www.example.org/</link>{''.join(items)}</channel></rss>").encode()


def test_media_content_thumbnail_enclosure_and_first_img_in_rss():
    data = rss(
        rss_item('<media:content url="https://img.example.org/a-1200.jpg" medium="image" width="1200" '
                 'height="675"/>'
                 '<media:thumbnail url="https://img.example.org/a-150.jpg" width="150" height="84"/>', 1),
        rss_item('<media:thumbnail url="https://img.example.org/b.jpg" width="320" height="180"/>', 2),
        rss_item('<enclosure url="https://img.example.org/c.png" type="image/png" length="1000"/>', 3),
        rss_item('<enclosure url="https://img.example.org/talk.mp3" type="audio/mpeg" length="1000"/>'
                 '<description>&lt;p&gt;Text &lt;img src="/d.jpg" alt="A map" width="640" height="480"&gt;'
                 '&lt;/p&gt;</description>', 4),
        rss_item("<description>No picture here.</description>", 5),
    )
    a, b, c, d, e = parse_source(data, "feed.xml").articles
    assert a.image.alt == ""  # Media RSS carries no alt text: the headline says what it shows
    assert [(s.url, s.width, s.height) for s in a.image.sources] == [
        ("https://img.example.org/a-1200.jpg", 1200, 675), ("https://img.example.org/a-150.jpg", 150, 84)]
    assert [(s.url, s.width) for s in b.image.sources] == [("https://img.example.org/b.jpg", 320)]
    assert [(s.url, s.width, s.height) for s in c.image.sources] == [("https://img.example.org/c.png", 0, 0)]
    assert not c.image.usable  # no size until measured
    # an audio enclosure is no picture: the teaser's first <img> is, made absolute
    assert [(s.url, s.width, s.height) for s in d.image.sources] == [("https://www.example.org/d.jpg", 640, 480)]
    assert d.image.alt == "A map"
    assert e.image is None


def test_atom_enclosure_link():
    data = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <entry><title>One</title><id>urn:1</id><link href="https://www.example.org/1/"/>
    <link rel="enclosure" type="image/jpeg" href="https://img.example.org/one.jpg" length="5000"/>
    <updated>2017-06-21T10:00:00Z</updated></entry></feed>"""
    (one,) = parse_source(data, "atom.xml").articles
    assert [s.url for s in one.image.sources] == ["https://img.example.org/one.jpg"]


def test_wordpress_featured_media_with_sizes_and_alt():
    posts = [{
        "id": 1, "link": "https://www.example.org/1/", "date_gmt": "2017-06-21T10:00:00",
        "title": {"rendered": "One"}, "excerpt": {"rendered": "<p>x</p>"}, "content": {"rendered": "<p>y</p>"},
        "_embedded": {"wp:featuredmedia": [{
            "media_type": "image", "alt_text": "Milton Keynes at dusk",
            "source_url": "https://www.example.org/wp-content/uploads/mk.jpg",
            "media_details": {"width": 2400, "height": 1350, "sizes": {
                "medium": {"source_url": "https://www.example.org/wp-content/uploads/mk-300x169.jpg",
                           "width": 300, "height": 169},
                "large": {"source_url": "https://www.example.org/wp-content/uploads/mk-1024x576.jpg",
                          "width": 1024, "height": 576}}}}]},
    }]
    (one,) = parse_source(json.dumps(posts).encode(), "posts.json").articles
    assert one.image.alt == "Milton Keynes at dusk"
    assert len(one.image.sources) == 3
    # retina: the smallest file at least 1.5 x the shown width
    assert one.image.pick(536).url.endswith("mk-1024x576.jpg")
    assert one.image.pick(96).url.endswith("mk-300x169.jpg")
    assert one.image.pick(2000).url.endswith("mk.jpg")  # none is wide enough: the widest


def test_first_img_of_body_when_the_teaser_has_none():
    image = from_html("<p>teaser</p>", '<p><img src="https://x.example/p.jpg" alt=""></p>')
    assert image == ArticleImage(alt="", sources=(ImageSource("https://x.example/p.jpg"),))


# ---- measuring: one real fetch each, Pillow reads the size ---------------------------------


def test_fetch_size_reads_the_real_size(pictures):
    assert fetch_size(pictures.base + "/lead.png", **LOCAL)[:2] == (1200, 675)
    assert fetch_size(pictures.base + "/small.jpg", **LOCAL)[:2] == (300, 200)
    with pytest.raises(FetchFailed, match="HTTP 404"):
        fetch_size(pictures.base + "/missing.png", **LOCAL)
    with pytest.raises(FetchFailed, match="not a picture"):
        fetch_size(pictures.base + "/page.html", **LOCAL)
    with pytest.raises(FetchFailed, match="over 1000 KB"):
        fetch_size(pictures.base + "/big.png", max_bytes=1_024_000, **LOCAL)
    # Each read is in time, the whole is not: cut by the deadline (or, on a loaded machine, by a late read).
    with pytest.raises(FetchFailed, match=r"cut off by the overall deadline of 0\.6 s|timed out after 0\.3 s"):
        fetch_size(pictures.base + "/drip.png", timeout=0.3, **LOCAL)


def test_pictures_are_fetched_over_https_from_public_addresses_only(pictures):
    """A feed names the picture URL: it must not make digest fetch from inside."""
    with pytest.raises(FetchFailed, match="^only https is allowed here$"):
        fetch_size(pictures.base + "/lead.png")
    with pytest.raises(FetchFailed, match="^refused 127.0.0.1, a loopback address"):
        fetch_size(pictures.base + "/lead.png", https_only=False)
    with pytest.raises(FetchFailed, match="^refused 169.254.169.254, a link-local address"):
        fetch_size("https://169.254.169.254/latest/meta-data/iam.png")
    assert pictures.hits == {}


def test_a_picture_declaring_absurd_dimensions_is_a_picture_problem(pictures, recwarn):
    assert len(png_declaring(30000, 30000)) < 80
    with pytest.raises(FetchFailed, match="^a picture declaring more pixels than any email shows$"):
        fetch_size(pictures.base + "/bomb.png", **LOCAL)
    unsized = ArticleImage(sources=(ImageSource(pictures.base + "/bomb.png"),))
    got = measure([unsized], fetch=partial(fetch_size, **LOCAL))
    assert got[0].problem == ("no size: the picture could not be fetched (a picture declaring more pixels than any "
                              "email shows) and the source declares none")
    # 100 M pixels: only a warning from Pillow, never printed raw
    assert fetch_size_of(png_declaring(10000, 10000)) == (10000, 10000)
    assert not [w for w in recwarn if "DecompressionBomb" in type(w.message).__name__]


def fetch_size_of(data: bytes):
    from digest.ingest.images import picture_size

    return picture_size(data)


def test_measure_falls_back_on_declared_sizes_and_else_leaves_the_picture_out(pictures):
    wrong = ArticleImage(alt="a", sources=(ImageSource(pictures.base + "/lead.png", 600, 600),))
    declared = ArticleImage(sources=(ImageSource(pictures.base + "/missing.png", 640, 360),))
    unsized = ArticleImage(sources=(ImageSource(pictures.base + "/gone.png"),))
    got = measure([wrong, declared, unsized, None], fetch=partial(fetch_size, **LOCAL))
    assert (got[0].sources[0].width, got[0].sources[0].height, got[0].sources[0].measured) == (1200, 675, True)
    assert got[1] == declared and got[1].usable
    assert not got[2].usable and got[2].problem.startswith("no size: the picture could not be fetched (HTTP 404)")
    assert got[3] is None


@pytest.fixture
def env(env):
    return {**env, "DIGEST_FETCH_IMAGES": "true"}  # conftest turns fetching off for the other tests


def toml(tmp_path, **digest) -> str:
    lines = ["[digest]"] + [f"{k} = {json.dumps(v)}" for k, v in digest.items()]
    path = tmp_path / "digest.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def feed_with_pictures(base: str) -> bytes:
    def item(n, day, extra):
        return (f"<item><title>Story number {n} about digital councils</title><link>https://www.example.org/{n}/</link>"
                f"<guid>g{n}</guid><pubDate>{day} Jun 2017 10:00:00 +0000</pubDate>"
                f"<category>Transformation</category><description>Summary of story {n}.</description>{extra}</item>")

    return rss(
        item(1, "Thu, 22", f'<content:encoded><![CDATA[<p>Text</p><img src="{base}/lead.png" '
                           'alt="A crowded council chamber">]]></content:encoded>'),
        item(2, "Wed, 21", f'<enclosure url="{base}/small.jpg" type="image/jpeg" length="1"/>'),
        item(3, "Tue, 20", f'<enclosure url="{base}/gone.png" type="image/png" length="1"/>'),
    )


def test_ingest_measures_once_articles_says_what_is_left_out_and_the_email_shows_them(
        pictures, run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGEST_CONFIG", toml(tmp_path, images="all", http_images=True))
    feed = tmp_path / "feed.xml"
    feed.write_bytes(feed_with_pictures(pictures.base))
    result = run_cli("ingest", feed)
    assert result.exit_code == 0, result.output
    assert pictures.hits == {"/lead.png": 1, "/small.jpg": 1, "/gone.png": 1}

    rows = json.loads(run_cli("articles", "--json").output)
    by_title = {r["title"].split()[2]: r["image"] for r in rows}
    assert (by_title["1"]["width"], by_title["1"]["height"], by_title["1"]["measured"]) == (1200, 675, True)
    assert by_title["1"]["alt"] == "A crowded council chamber"
    assert (by_title["2"]["width"], by_title["2"]["height"]) == (300, 200)
    assert by_title["3"]["left_out"].startswith("no size")
    table = run_cli("articles").output
    assert "1200×675" in table and "left out" in table
    assert "picture left out of emails: no size: the picture could not be fetched (HTTP 404)" in " ".join(table.split())

    # ingesting again fetches nothing it has measured (the unsized one is tried again)
    assert run_cli("ingest", feed).exit_code == 0
    assert pictures.hits == {"/lead.png": 1, "/small.jpg": 1, "/gone.png": 2}

    out = tmp_path / "p.html"
    assert run_cli("preview", "--week", "2017-W25", "--out", out).exit_code == 0
    doc = lxml_html.document_fromstring(out.read_text())
    imgs = doc.xpath("//img")
    assert [(i.get("src"), i.get("width"), i.get("height"), i.get("alt")) for i in imgs] == [
        (pictures.base + "/lead.png", "536", "302", "A crowded council chamber"),  # across the column
        (pictures.base + "/small.jpg", "96", "64", ""),  # a thumbnail; the headline says what it is
    ]
    assert all(i.get("alt") is not None for i in imgs)


def test_images_setting_lead_none_and_https_only(pictures, run_cli, tmp_path, monkeypatch):
    feed = tmp_path / "feed.xml"
    feed.write_bytes(feed_with_pictures(pictures.base))
    out = tmp_path / "p.html"

    def srcs(**digest):
        monkeypatch.setenv("DIGEST_CONFIG", toml(tmp_path, **digest))
        assert run_cli("ingest", feed).exit_code == 0
        assert run_cli("preview", "--week", "2017-W25", "--out", out).exit_code == 0
        return [i.get("src") for i in lxml_html.document_fromstring(out.read_text()).xpath("//img")]

    assert srcs(images="lead", http_images=True) == [pictures.base + "/lead.png"]
    assert srcs(images="none", http_images=True) == []
    assert srcs(images="all") == []  # http: pictures are never put in an email

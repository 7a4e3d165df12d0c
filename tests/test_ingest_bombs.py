"""No source can stop the mailing: parser bombs, absurd values and parsers' own bugs are that source's failure.

Every input of the corpus is fed through the one ingest path (`digest ingest`
and the configured sources of `digest weekly`): each is either read or
refused in one line naming it, quickly, never with a traceback; the other
sources still land, and the gate holds the edition (exit 2) as for a 404.
"""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from digest.db.schema import articles, editions
from digest.ingest import parse_source
from feed_server import feed_server, rss  # noqa: F401  (the fixture)

JSONFEED = '{"version": "https://jsonfeed.org/version/1.1", "items": [%s]}'
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>%s</channel></rss>'
LAUGHS = b"".join(b'<!ENTITY l%d "%s">' % (n, b"".join(b"&l%d;" % (n - 1) for _ in range(10))) for n in range(1, 9))

# name -> (bytes, what the one line says: a part of the reason, or None when the source is read)
CORPUS = {
    "brackets.json": (b"[" * 200_000 + b"]" * 200_000, "nested too deeply to read (a parser bomb?): refused"),
    "objects.json": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply to read"),
    "deep.xml": (RSS % (b"<x>" * 100_000 + b"</x>" * 100_000), "markup nested 100002 levels deep"),
    "deep-teaser.xml": (RSS % (b"<item><title>x</title><description><![CDATA[" + b"<div>" * 100_000
                               + b"]]></description></item>"), "a parser bomb? refused"),
    "escaped-deep.xml": (RSS % (b"<item><title>x</title><description>" + b"&lt;b&gt;" * 50_000
                                + b"</description></item>"), "a parser bomb? refused"),
    "digits.json": ((JSONFEED % ('{"id": %s, "title": "x"}' % ("9" * 5000))).encode(), "not valid JSON"),
    "laughs.xml": (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">' + LAUGHS + b']>'
                   + RSS.split(b"?>", 1)[1] % b"<item><title>&l8;</title><link>https://e.org/a</link></item>", None),
    "far-date.json": ((JSONFEED % '{"id": "1", "title": "x", "date_published": "9999-12-31T23:59:59-23:59"}')
                      .encode(), None),
    "early-date-wp.json": (b'[{"id": 1, "title": {"rendered": "x"}, "link": "https://e.org/x", '
                           b'"date_gmt": "0001-01-01T00:00:00+01:00"}]', None),
    "inf.json": ((JSONFEED % '{"id": 1e999999, "title": "x", "date_published": 5}').encode(), None),
    "odd-types-wp.json": (json.dumps([{"id": 1, "title": {"rendered": "x"}, "link": "https://e.org/x",
                                       "_embedded": {"wp:term": [[{"taxonomy": "category", "name": {"a": 1}}]],
                                                     "author": [{"name": [1]}],
                                                     "wp:featuredmedia": [{"source_url": ["x"], "media_details": {
                                                         "sizes": {"a": {"source_url": 5, "width": "1e999"}}}}]}}])
                          .encode(), None),
    "bad-url.json": ((JSONFEED % '{"id": "1", "title": "x", "url": "http://[::1", "image": "http://[x"}').encode(),
                     None),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_parser_bomb_is_read_or_refused_in_one_line_and_fast(run_cli, tmp_path, name):
    data, says = CORPUS[name]
    bomb = tmp_path / name
    bomb.write_bytes(data)
    started = time.monotonic()
    result = run_cli("ingest", bomb)
    assert time.monotonic() - started < 20
    assert "Traceback" not in result.output
    if says is None:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1
        [line] = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
        assert line.startswith(f"Error: {bomb}: ") and says in line, line


def test_a_bomb_does_not_cost_the_other_sources(run_cli, tmp_path, db):
    bomb = tmp_path / "brackets.json"
    bomb.write_bytes(CORPUS["brackets.json"][0])
    good = tmp_path / "good.xml"
    good.write_bytes(rss(("Good news", "https://www.example.org/good/", "Tue, 20 Jun 2017 09:00:00 +0100")))
    result = run_cli("ingest", bomb, good)
    assert result.exit_code == 1
    assert f"Error: {bomb}: nested too deeply to read (a parser bomb?): refused" in result.output.splitlines()
    assert f"{good}: rss, 1 new, 0 updated, 0 unchanged" in result.output.splitlines()
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(articles)).scalar_one() == 1


def test_a_bomb_served_as_a_source_holds_the_edition_like_a_404(run_cli, feed_server, tmp_path, monkeypatch, db,
                                                                  smtp_sink):
    web = feed_server
    web.serve("/feed.xml", rss(("GDPR: what councils must do now", "https://www.example.org/gdpr/",
                                "Tue, 20 Jun 2017 09:00:00 +0100")))
    web.serve("/posts.json", CORPUS["brackets.json"][0], content_type="application/json")
    config = tmp_path / "digest.toml"
    config.write_text('[organisation]\neditors = ["editor@example.org"]\n\n[digest]\nfetch_timeout = 2\n'
                      f'[[sources]]\nname = "news"\nurl = "{web.url("/feed.xml")}"\n\n'
                      f'[[sources]]\nname = "posts"\nurl = "{web.url("/posts.json")}"\n', encoding="utf-8")
    monkeypatch.setenv("DIGEST_CONFIG", str(config))
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    assert run_cli("subscribers", "add", "ann@example.org", "--frequency", "weekly").exit_code == 0
    result = run_cli("weekly", "--week", "2017-W25")
    assert result.exit_code == 2, result.output
    problem = f"source posts failed: {web.url('/posts.json')}: nested too deeply to read (a parser bomb?): refused"
    assert f"held 2017-W25: {problem}" in result.output.splitlines()
    assert "source news: rss, 1 item(s): 1 new" in result.output
    [notice] = smtp_sink.messages
    assert f"- {problem}" in notice.message.get_content()
    rows = {r["name"]: r for r in json.loads(run_cli("sources", "list", "--json").output)}
    assert "nested too deeply" in rows["posts"]["last_error"] and rows["news"]["last_error"] is None
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(editions)).scalar_one() == 0


def test_a_doctype_filling_the_first_64_kb_is_refused_saying_why():
    dtd = b"".join(b'<!ENTITY e%d "x">' % n for n in range(5000))
    data = b'<?xml version="1.0"?><!DOCTYPE rss [' + dtd + b']>' + RSS.split(b"?>", 1)[1] % b""
    with pytest.raises(Exception) as caught:
        parse_source(data, "feed.xml")
    assert str(caught.value) == ("feed.xml: not a feed, JSON Feed, WordPress JSON or listing export: a DOCTYPE fills "
                                 "the first 64 KB, so no root element was found (a feed's DOCTYPE is a line, not a "
                                 "book of entity declarations)")


def test_entity_references_a_feed_never_defines_are_dropped_from_titles_and_said():
    data = RSS % b"<item><title>Budget &c; news &amp; caf&eacute;</title><link>https://e.org/a</link></item>"
    parsed = parse_source(data, "feed.xml")
    assert [a.title for a in parsed.articles] == ["Budget news & café"]
    assert any("entity reference &c; that the feed never defines in XML: dropped from the title" in p
               for p in parsed.problems)


def test_control_characters_from_a_source_are_stripped():
    data = RSS % (b"<item><title>Alert\x1b[31m red\x07</title><link>https://e.org/a</link>"
                  b"<description>Teaser \x07with a bell\x1b]0;title\x07</description><category>News\x1b[0m"
                  b"</category></item>")
    parsed = parse_source(data, "feed.xml")
    [article] = parsed.articles
    texts = [article.title, article.teaser or "", *article.categories]
    assert not any(c in t for t in texts for c in "\x1b\x07"), texts
    assert article.title == "Alert[31m red"


def test_wordpress_media_and_revisions_are_not_articles():
    media = {"id": 1, "type": "attachment", "title": {"rendered": "IMG_2041"}, "link": "https://e.org/img",
             "date_gmt": "2017-06-20T10:00:00"}
    revision = {"id": 2, "parent": 5, "title": {"rendered": "Draft"}, "date_gmt": "2017-06-20T10:00:00"}
    post = {"id": 3, "type": "post", "title": {"rendered": "Real"}, "link": "https://e.org/real",
            "date_gmt": "2017-06-20T10:00:00"}
    with pytest.raises(Exception, match="WordPress media attachments, not posts: use /wp-json/wp/v2/posts"):
        parse_source(json.dumps([media, media]).encode(), "media.json")
    with pytest.raises(Exception, match="WordPress revisions, not posts"):
        parse_source(json.dumps([revision]).encode(), "revisions.json")
    parsed = parse_source(json.dumps([media, revision, post]).encode(), "mixed.json")
    assert [a.title for a in parsed.articles] == ["Real"]
    assert parsed.problems[:2] == ["mixed.json: item 1: skipped: a WordPress media attachment, not a post",
                                   "mixed.json: item 2: skipped: a WordPress revision, not a post"]


def test_a_media_rss_caption_is_alt_text_never_the_teaser():
    ns = b'xmlns:m="http://search.yahoo.com/mrss/"'
    caption = b'<m:content url="https://e.org/p.jpg" medium="image"><m:description type="plain">a map of the ' \
              b'buildings</m:description></m:content>'
    data = (b'<?xml version="1.0"?><rss version="2.0" ' + ns + b'><channel><title>t</title>'
            b'<item><title>A</title><link>https://e.org/a</link><description>The story.</description>' + caption
            + b'</item><item><title>B</title><link>https://e.org/b</link>' + caption
            + b'<description>Story B.</description></item></channel></rss>')
    parsed = parse_source(data, "feed.xml")
    assert [(a.teaser, a.body, a.image.alt) for a in parsed.articles] == [
        ("The story.", None, "a map of the buildings"), ("Story B.", None, "a map of the buildings")]


def test_any_failure_of_a_source_is_one_line_naming_it_without_its_password():
    from digest.errors import IngestError
    from digest.ingest.store import failure

    assert failure(ValueError("Invalid IPv6\nURL"), "https://ed:s3cret@e.org/feed") == (
        "https://ed:***@e.org/feed: could not be read: ValueError (Invalid IPv6 URL)")
    assert failure(RecursionError(), "posts.json") == "posts.json: nested too deeply to read (a parser bomb?): refused"
    assert failure(IngestError("feed.xml", "HTTP 404 Not Found"), "feed.xml") == "feed.xml: HTTP 404 Not Found"


def test_a_character_reference_with_a_capital_x_is_the_character():
    data = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry>'
            b'<title type="text">&#X41;BC &amp; AT&T</title><link href="https://e.org/a"/>'
            b'<summary type="text">x &#X42;</summary><author><name>&#X43;arol</name></author></entry></feed>')
    [article] = parse_source(data, "feed.xml").articles
    assert (article.title, article.teaser, article.author) == ("ABC & AT&T", "x B", "Carol")

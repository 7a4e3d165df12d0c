"""Feeds that fooled ingestion: repeated GUIDs, undeclared legacy encodings, base64 markup, impossible dates."""

from __future__ import annotations

import base64
import json

import pytest
from test_ingest_feeds import item, rss

from digest.ingest import parse_source


def parse(data: bytes):
    return parse_source(data, "feed.xml")


# ---------------------------------------------------------------- a GUID given twice


@pytest.mark.parametrize("stub_first", [False, True])
def test_a_stub_repeating_a_guid_never_replaces_the_real_article(stub_first):
    real = item(b"Budget 2018: what councils get", b"https://e.org/budget",
                b"<guid>g-1</guid><description>The settlement in detail, line by line.</description>"
                b"<content:encoded><![CDATA[<p>The whole article.</p>]]></content:encoded>")
    stub = item(b"Duplicate", b"https://e.org/budget", b"<guid>g-1</guid><description>duplicate of the item above"
                b"</description>")
    other = item(b"Other", b"https://e.org/other", b"<guid>g-2</guid>")
    result = parse(rss(stub, other, real) if stub_first else rss(real, other, stub))
    kept = {a.guid: a for a in result.articles}
    assert kept["g-1"].title == "Budget 2018: what councils get"
    assert kept["g-1"].body == "<p>The whole article.</p>"
    if stub_first:
        assert result.problems == ["feed.xml: item 1 (“Duplicate”): same guid as item 3 (“Budget 2018: what "
                                   "councils get”) further on: kept the later one"]
    else:
        assert result.problems == ["feed.xml: item 3 (“Duplicate”): same guid as item 1 (“Budget 2018: what "
                                   "councils get”) above: kept the earlier one (it has the body)"]


def test_the_longer_teaser_wins_when_neither_has_a_body():
    long_ = item(b"Full", b"https://e.org/a", b"<guid>g</guid><description>A teaser of several words.</description>")
    short = item(b"Short", b"https://e.org/a", b"<guid>g</guid><description>Stub.</description>")
    result = parse(rss(long_, short))
    assert [a.title for a in result.articles] == ["Full"]
    assert result.problems == ["feed.xml: item 2 (“Short”): same guid as item 1 (“Full”) above: "
                               "kept the earlier one (it has the longer teaser)"]


# ---------------------------------------------------------------- encodings nobody declared

TEXTS = {
    "koi8_r": ("KOI8-R", "Как пережить новогоднюю ночь", "Советы для всей семьи: как встретить праздник спокойно."),
    "euc_jp": ("EUC-JP", "東京で新しいデジタル政策", "市民のためのオンラインサービスが来年から始まります。"),
    "shift_jis": ("Shift_JIS", "大阪の図書館が電子書籍を導入", "利用者はスマートフォンで本を借りることができます。"),
    "euc_kr": ("EUC-KR", "서울시 새로운 디지털 정책 발표", "시민을 위한 온라인 서비스가 내년부터 시작됩니다."),
    "gb2312": ("GB2312", "北京发布新的数字政策", "市民可以在网上办理更多的公共服务。"),
}


@pytest.mark.parametrize("codec", list(TEXTS))
def test_an_undeclared_legacy_encoding_is_detected_and_reported(codec):
    label, title, teaser = TEXTS[codec]
    feed = rss(item(title.encode(codec), b"https://e.org/1", b"<description>" + teaser.encode(codec)
                    + b"</description>"), decl=b'<?xml version="1.0"?>\n')
    result = parse(feed)
    [article] = result.articles
    assert article.title == title
    assert article.teaser == teaser
    [problem] = result.problems
    assert problem.startswith("feed.xml: no encoding declared and not UTF-8: read as ")
    assert label in problem and problem.endswith(" (detected)")


def test_latin_text_without_a_declaration_still_falls_back_to_windows_1252():
    feed = rss(item("Café society – the naïve résumé".encode("cp1252")), decl=b'<?xml version="1.0"?>\n')
    result = parse(feed)
    assert result.articles[0].title == "Café society – the naïve résumé"
    assert result.problems == ["feed.xml: not valid UTF-8: read the odd bytes as Windows-1252"]


@pytest.mark.parametrize("codec", ["utf-32-le", "utf-32-be"])
def test_utf32_without_a_byte_order_mark_is_read(codec):
    text = rss(item("Как пережить новогоднюю ночь".encode()),
               decl=b'<?xml version="1.0" encoding="utf-32"?>\n').decode("utf-8")
    result = parse(text.encode(codec))
    assert [a.title for a in result.articles] == ["Как пережить новогоднюю ночь"]
    assert result.problems == ["feed.xml: UTF-32 without a byte-order mark: read as UTF-32"]


# ---------------------------------------------------------------- base64 markup


def _atom03(title_type: str, content_type: str, title: bytes, content: bytes) -> bytes:
    b64 = lambda b: base64.b64encode(b)
    return (b'<?xml version="1.0" encoding="utf-8"?>\n<feed version="0.3" xmlns="http://purl.org/atom/ns#">'
            b"<title>Example</title><link rel=\"alternate\" href=\"https://e.org/\"/><entry>"
            b'<title type="' + title_type.encode() + b'" mode="base64">' + b64(title) + b"</title>"
            b'<link rel="alternate" href="https://e.org/1"/><id>tag:e.org,2017:1</id>'
            b"<issued>2017-06-21T10:00:00Z</issued>"
            b'<content type="' + content_type.encode() + b'" mode="base64">' + b64(content) + b"</content>"
            b"</entry></feed>\n")


@pytest.mark.parametrize("kind", ["text/plain", "application/octet-stream"])
def test_base64_markup_is_sanitised_and_flattened_like_html(kind):
    feed = _atom03(kind, kind, b"Example <b>Atom</b>",
                   b'<p>Hello <script>alert(1)</script><i>world</i> <a href="/x" onclick="bad()">link</a></p>')
    [article] = parse(feed).articles
    assert article.title == "Example Atom"
    assert article.body == '<p>Hello <i>world</i> <a href="https://e.org/x" rel="noopener noreferrer">link</a></p>'


def test_base64_plain_text_stays_text():
    [article] = parse(_atom03("text/plain", "text/plain", b"Fish & chips: 3 < 4", b"Just words.")).articles
    assert article.title == "Fish & chips: 3 < 4"
    assert article.body == "<p>Just words.</p>"


# ---------------------------------------------------------------- a date that cannot be


def test_an_impossible_date_is_stored_without_one_and_the_editor_places_it(run_cli, tmp_path):
    feed = rss(
        item(b"Dated well", b"https://e.org/1", b"<pubDate>Wed, 21 Jun 2017 10:00:00 GMT</pubDate>"),
        item(b"Dated badly", b"https://e.org/2", b"<pubDate>Wed, 31 Jun 2017 10:00:00 GMT</pubDate>"),
    )
    (tmp_path / "feed.xml").write_bytes(feed)
    result = run_cli("ingest", "feed.xml")
    assert result.exit_code == 0
    assert "feed.xml: item 2 (“Dated badly”): impossible date 'Wed, 31 Jun 2017 10:00:00 GMT': " \
           "stored without a date" in result.stderr
    rows = {r["title"]: r for r in json.loads(run_cli("articles", "--json").stdout)}
    bad_id = rows["Dated badly"]["id"]
    assert f"article {bad_id} “Dated badly” has no date and is in no edition: give it one with " \
           f"`digest article date {bad_id} YYYY-MM-DD`" in result.stderr
    assert rows["Dated badly"]["published_at"] is None
    assert rows["Dated well"]["published_at"] == "2017-06-21T10:00:00+00:00"
    # Not selected (not even into the week it was ingested in) until it has a date.
    week = json.loads(run_cli("articles", "--since", "2017-06-19", "--until", "2017-06-26", "--json").stdout)
    assert [r["title"] for r in week] == ["Dated well"]
    assert "Dated badly" not in run_cli("preview", "--week", "2017-W25", "--text").stdout
    assert run_cli("article", "date", str(bad_id), "2017-06-22").stdout == f"article {bad_id}: dated 2017-06-22\n"
    week = json.loads(run_cli("articles", "--since", "2017-06-19", "--until", "2017-06-26", "--json").stdout)
    assert [r["title"] for r in week] == ["Dated badly", "Dated well"]
    assert week[0]["published_at"] == "2017-06-22T11:00:00+00:00"  # noon in London (BST)
    # Re-ingesting the feed keeps the editor's date.
    assert run_cli("ingest", "feed.xml").exit_code == 0
    rows = {r["title"]: r for r in json.loads(run_cli("articles", "--json").stdout)}
    assert rows["Dated badly"]["published_at"] == "2017-06-22T11:00:00+00:00"
    bad = run_cli("article", "date", str(bad_id), "2017-02-30")
    assert bad.exit_code == 2 and "is not a date like 2017-06-21" in bad.stderr

"""sanitise_html, html_to_text, normalise_text and the byte decoder."""

from __future__ import annotations

import pytest

from digest.ingest.clean import decode_bytes, html_to_text, normalise_text, sanitise_html, text_to_html

BASE = "https://www.example.org/news/"


def test_keeps_article_markup():
    html = (
        "<h2>Head</h2><p>A <a href=\"https://x.org/a\" title=\"t\">link</a>, <em>em</em>, <strong>strong</strong>"
        "<br>next</p><ul><li>one</li></ul><ol><li>two</li></ol><blockquote>q</blockquote>"
        "<h3>h3</h3><h4>h4</h4><img src=\"https://x.org/i.png\" alt=\"A chart\">"
    )
    assert sanitise_html(html) == (
        "<h2>Head</h2><p>A <a href=\"https://x.org/a\" title=\"t\" rel=\"noopener noreferrer\">link</a>, "
        "<em>em</em>, <strong>strong</strong><br>next</p><ul><li>one</li></ul><ol><li>two</li></ol>"
        "<blockquote>q</blockquote><h3>h3</h3><h4>h4</h4><img src=\"https://x.org/i.png\" alt=\"A chart\">"
    )


@pytest.mark.parametrize(
    "hostile, expected",
    [
        ("<p>hi<script>alert(1)</script></p>", "<p>hi</p>"),
        ("<style>p{color:red}</style><p>hi</p>", "<p>hi</p>"),
        ("<p onclick=\"steal()\" style=\"color:red\" class=\"x\" id=\"y\">hi</p>", "<p>hi</p>"),
        ("<iframe src=\"https://evil.example/\">fallback</iframe><p>hi</p>", "<p>hi</p>"),
        ("<a href=\"javascript:alert(1)\">j</a>", "<a rel=\"noopener noreferrer\">j</a>"),
        ("<a href=\"JaVaScRiPt:alert(1)\">j</a>", "<a rel=\"noopener noreferrer\">j</a>"),
        ("<a href=\"java&#x09;script:alert(1)\">j</a>", "<a rel=\"noopener noreferrer\">j</a>"),
        ("<a href=\"data:text/html,<script>alert(1)</script>\">d</a>", "<a rel=\"noopener noreferrer\">d</a>"),
        ("<p>x<img src=\"data:image/png;base64,AAAA\" alt=\"px\"></p>", "<p>x</p>"),
        ("<img src=\"https://x.org/i.png\" onerror=\"steal()\" alt=\"i\">", "<img src=\"https://x.org/i.png\" alt=\"i\">"),
        ("<form action=\"/x\"><input name=\"q\"><button>Go</button></form><p>hi</p>", "<p>hi</p>"),
        ("<svg><script>alert(1)</script></svg><p>hi</p>", "<p>hi</p>"),
        ("<p>hi<!-- secret --></p>", "<p>hi</p>"),
        ("<object data=\"x.swf\"></object><embed src=\"x.swf\"><p>hi</p>", "<p>hi</p>"),
    ],
)
def test_removes_everything_that_runs_or_restyles(hostile, expected):
    assert sanitise_html(hostile, base_url=BASE) == expected


def test_relative_urls_made_absolute_against_base():
    html = '<p><a href="/about/">a</a> <a href="more">m</a> <a href="//cdn.example.net/x">c</a> <img src="../i.png" alt="i"></p>'
    assert sanitise_html(html, base_url=BASE) == (
        '<p><a href="https://www.example.org/about/" rel="noopener noreferrer">a</a> '
        '<a href="https://www.example.org/news/more" rel="noopener noreferrer">m</a> '
        '<a href="https://cdn.example.net/x" rel="noopener noreferrer">c</a> '
        '<img src="https://www.example.org/i.png" alt="i"></p>'
    )


def test_an_emptied_link_does_not_become_the_base_url():
    # feedparser blanks unsafe hrefs; joining "" with the base would link to the site instead
    assert sanitise_html('<a href="">x</a><a href="  ">y</a>', base_url=BASE) == (
        '<a rel="noopener noreferrer">x</a><a rel="noopener noreferrer">y</a>'
    )


def test_relative_urls_dropped_without_a_base():
    assert sanitise_html('<p><a href="/about/">a</a> <img src="i.png" alt="i"></p>') == (
        '<p><a rel="noopener noreferrer">a</a> </p>'
    )


def test_broken_markup_is_repaired():
    assert sanitise_html("<p>unclosed <strong>bold <em>both</p><p>next") == (
        "<p>unclosed <strong>bold <em>both</em></strong></p><p><strong><em>next</em></strong></p>"
    )
    assert sanitise_html("<li>orphan</li></ul></div>") == "<li>orphan</li>"


def test_unwrapped_blocks_keep_words_apart_and_headings_are_demoted():
    out = sanitise_html("<table><tr><td>cell</td><td>two</td></tr></table><h1>Big</h1><h6>Small</h6>")
    assert html_to_text(out) == "cell two\n\nBig\n\nSmall"
    assert "<h2>Big</h2>" in out and "<h4>Small</h4>" in out
    assert "<table" not in out and "<td" not in out


def test_empty_and_text_only():
    assert sanitise_html("") == ""
    assert sanitise_html("   ") == ""
    assert sanitise_html("AT&T < 3") == "AT&amp;T &lt; 3"


def test_html_to_text_paragraphs_entities_whitespace():
    html = (
        "<p>Caf&eacute;&nbsp;&nbsp;and\n  <b>bold</b> &#8217;quote&#8217;</p>"
        "<p>line one<br>line two</p><ul><li>first</li><li>second</li></ul>"
        "<script>var x = 1;</script><style>p {}</style>Tail [&hellip;]"
    )
    assert html_to_text(html) == "Café and bold ’quote’\n\nline one\nline two\n\n- first\n\n- second\n\nTail […]"


def test_html_to_text_of_plain_text_and_empty():
    assert html_to_text("just words") == "just words"
    assert html_to_text("") == ""
    assert html_to_text("<p> </p><div>\n</div>") == ""


def test_normalise_text():
    assert normalise_text("  Queen\u2019s\u00a0speech \t\r\n what\u2019s\u00a0 missing ") == "Queen’s speech what’s missing"
    # NFC: e + combining acute becomes é
    assert normalise_text("Cafe\u0301") == "Café"
    # control and zero-width characters go; a stray C1 control is the Windows-1252 character it meant
    assert normalise_text("a\x00b\x07c\u200bd\ufeffe\u00adf") == "abcdef"
    assert normalise_text("\x93quoted\x94 \x96 dash") == "“quoted” – dash"
    assert normalise_text("thin\u2009space\u202fnarrow\u3000wide\u2028line") == "thin space narrow wide line"
    assert normalise_text("") == ""


def test_text_to_html_escapes_and_splits_paragraphs():
    assert text_to_html("One & <two>\r\n\r\nThree\n  \nFour") == "<p>One &amp; &lt;two&gt;</p>\n<p>Three</p>\n<p>Four</p>"


def test_decode_bytes():
    assert decode_bytes("Café ’".encode("utf-8")) == ("Café ’", False)
    assert decode_bytes(b"\xef\xbb\xbfCaf\xc3\xa9") == ("Café", False)
    assert decode_bytes("“Quoted” – café".encode("cp1252")) == ("“Quoted” – café", True)
    # mostly UTF-8 with one Latin-1 word: each part read as what it is
    mixed = "Café ".encode("utf-8") + "naïve".encode("latin-1")
    assert decode_bytes(mixed) == ("Café naïve", True)

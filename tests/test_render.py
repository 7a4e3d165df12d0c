"""Rendering an edition into the email: what a reader sees, in both parts.

Golden files in tests/golden/ are rewritten only with DIGEST_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from html import unescape
from pathlib import Path

import pytest
from lxml import html as lxml_html

from digest.errors import RenderError
from digest.models import SLOT_MARKERS, Edition, EditionItem, Window
from digest.edition.render import RENDER_STATS, fill_slots, preheader_for, render_variant
from digest.edition.textformat import contrast, palette

GOLDEN = Path(__file__).parent / "golden"
UTC = timezone.utc
BST = timedelta(hours=1)

# Week 2017-W25 in Europe/London: Monday 19 June 00:00 BST to Monday 26 June.
WEEK = Window(datetime(2017, 6, 18, 23, tzinfo=UTC), datetime(2017, 6, 25, 23, tzinfo=UTC), "2017-W25", "weekly")

HOSTILE_TITLE = "<script>alert('x')</script> Councils & \"quotes\" — it's <b>bold</b>"
HOSTILE_URL = "https://www.example.org/search?q=a&t=\"x\"&lang=en"


def _item(n, title, slug, author, role, day, topics, summary, **kw):
    return EditionItem(
        article_id=100 + n,
        position=n,
        title=title,
        url=f"https://www.example.org/2017/06/{slug}/",
        author=author,
        author_role=role,
        published_at=datetime(2017, 6, day, 9, 30, tzinfo=UTC),
        topics=topics,
        summary=summary,
        **kw,
    )


def seed_items() -> list[EditionItem]:
    """Five articles from samples/news-export.txt, as selection would freeze them."""
    return [
        _item(1, "Queen’s speech: what to watch for and what’s missing", "queens-speech-what-to-watch-for",
              "Martin Ferguson", "Director of Policy and Research, Socitm", 21,
              ("data-protection", "cyber-security"),
              "Her Majesty’s 64th Queen’s speech involved less ceremony than usual. It includes a new data "
              "protection law implementing the GDPR, plans for a digital charter and a counter-terrorism "
              "review – but there are gaps the government should think about filling.", pinned=True),
        _item(2, "Socitm’s David Hopkins becomes Milton Keynes mayor", "david-hopkins-milton-keynes-mayor",
              None, None, 20, ("member-news", "smart-places"),
              "Long-standing Socitm member David Hopkins has become mayor of Milton Keynes, after nearly 40 "
              "years in local government. MK Smart is a live deployment of multiple smart city applications."),
        _item(3, "Some thoughts about the Government Transformation Strategy 2017-2020",
              "government-transformation-strategy", "Dr Andy Hopkirk", "Socitm Head of Research", 22,
              ("digital-transformation",),
              "We are four years on from the Government Digital Service’s Government Digital Strategy of "
              "November 2012. What’s the difference between just more digital and transformation?"),
        _item(4, "See beyond the ordinary with technology", "see-beyond-the-ordinary", "Adrian Hancock",
              "Socitm CEO", 23, ("skills-leadership",),
              "Digital leaders in local public services need to look beyond the everyday and see what "
              "technology can do for the people and places they serve."),
        _item(5, "Blockchain technology: could it transform digitally-enabled councils?",
              "blockchain-digitally-enabled-councils", "Dr Andy Hopkirk", "Socitm Head of Research", 25,
              ("emerging-technology",),
              "Distributed ledger technology’s real ability to disrupt is not so much about how it enables "
              "transactions, but the way in which it builds and embeds trust.\n\nSocitm is at one with those "
              "that think there is great potential in blockchain technology."),
    ]


def hostile_item(n: int = 6) -> EditionItem:
    return EditionItem(
        article_id=100 + n, position=n, title=HOSTILE_TITLE, url=HOSTILE_URL,
        author="Eve <img src=x onerror=alert(1)>", author_role="Tester & \"Breaker\"",
        published_at=datetime(2017, 6, 24, 22, 30, tzinfo=UTC),  # 23:30 BST: still 24 June in London
        topics=("cyber-security",), summary="Ampersands & <angle brackets> & 'quotes' should all survive.",
    )


def week25(items=None) -> Edition:
    return Edition(key="2017-W25", frequency="weekly", window=WEEK,
                   items=seed_items() + [hostile_item()] if items is None else items)


def ten_items() -> list[EditionItem]:
    base = seed_items()
    return [replace(base[i % 5], article_id=200 + i, position=i + 1,
                    url=f"https://www.example.org/2017/06/article-{i + 1}/") for i in range(10)]


@pytest.fixture
def rendered(settings):
    return render_variant(week25(), settings, member_topics=("data-protection", "cyber-security"))


def _doc(html: str):
    return lxml_html.document_fromstring(html)


def _visible_text(html: str) -> str:
    doc = _doc(html)
    for hidden in doc.xpath("//*[contains(translate(@style,' ',''),'display:none')]"):
        hidden.drop_tree()
    return " ".join(doc.text_content().split())


# ---- what a reader sees ------------------------------------------------------------


def test_every_article_is_in_both_parts(rendered):
    seen_html = _visible_text(rendered.html)
    text = " ".join(rendered.text.split())
    doc = _doc(rendered.html)
    hrefs = doc.xpath("//a/@href")
    for item in week25().items:
        for part in (seen_html, text):
            assert item.title in part
            assert " ".join(item.summary.split("\n\n")[0].split()) in part
            if item.author:
                assert f"By {item.author}, {item.author_role}" in part
        assert hrefs.count(item.url) == 1, item.url  # the linked headline; no duplicate "Read more"
        assert item.url in rendered.text
    for date in ("21 June 2017", "20 June 2017", "22 June 2017", "23 June 2017", "25 June 2017", "24 June 2017"):
        assert date in seen_html and date in rendered.text
    assert "Data protection · Cyber security" in seen_html
    assert "Data protection · Cyber security" in rendered.text


def test_header_subject_and_preheader(rendered, settings):
    # The lead story's title and how many more (the fixture's variant carries the whole week).
    lead = sorted(week25().items, key=lambda i: i.position)[0].title
    assert rendered.subject == f"{lead}, and {len(week25().items) - 1} more"
    seen = _visible_text(rendered.html)
    assert "19–25 June 2017" in seen and "19–25 June 2017" in rendered.text
    doc = _doc(rendered.html)
    assert [h.text_content() for h in doc.xpath("//h1")] == [settings.organisation]
    assert [" ".join(h.text_content().split()) for h in doc.xpath("//h2")] == (
        ["In this issue"] + [i.title for i in week25().items])  # more than four articles: a list first
    toc = [" ".join(li.text_content().split()) for li in doc.xpath("//ul[contains(@class,'toc-list')]/li")]
    assert toc == [i.title for i in week25().items]
    assert doc.xpath("//title")[0].text == rendered.subject
    assert 40 <= len(rendered.preheader) <= 130
    hidden = doc.xpath("//body/div[contains(@style,'display:none')]")[0].text_content()
    assert hidden.startswith(rendered.preheader)


def test_why_you_get_this_and_footer_links(rendered, settings):
    why = ("You are receiving this because you are a member of Public Digital Leaders Network "
           "and asked for news on Data protection and Cyber security.")
    assert why in _visible_text(rendered.html)
    assert why in " ".join(rendered.text.split())
    everyone = render_variant(week25(), settings, fmt="text")
    assert "and asked for news on every topic." in " ".join(everyone.text.split())
    browser = "https://news.example.org/editions/2017-W25"
    doc = _doc(rendered.html)
    links = {" ".join(a.text_content().split()): a.get("href") for a in doc.xpath("//a")}
    assert links["Manage your preferences"] == SLOT_MARKERS["preferences_url"]
    assert links["Unsubscribe"] == SLOT_MARKERS["unsubscribe_url"]
    assert links["Read the whole edition on our website"] == browser
    assert settings.address in _visible_text(rendered.html)
    for line in (f"Manage your preferences: {SLOT_MARKERS['preferences_url']}",
                 f"Unsubscribe: {SLOT_MARKERS['unsubscribe_url']}", f"The whole edition on our website: {browser}"):
        assert line in rendered.text.splitlines()


def test_slot_markers_exactly_where_expected(rendered):
    html, text = rendered.html, rendered.text
    assert html.count(SLOT_MARKERS["preferences_url"]) == 1
    assert html.count(SLOT_MARKERS["unsubscribe_url"]) == 1
    assert html.count(SLOT_MARKERS["name"]) == 1
    assert re.search(r">Hello\[\[digest:name\]\],</p>", html)
    assert text.count(SLOT_MARKERS["name"]) == 1 and "\nHello[[digest:name]],\n" in text
    assert text.count(SLOT_MARKERS["preferences_url"]) == 1
    assert text.count(SLOT_MARKERS["unsubscribe_url"]) == 1


def test_fill_slots_escapes_in_html_only(rendered):
    values = {"name": " Jane <O'Hara>", "preferences_url": "https://news.example.org/p?t=a&b",
              "unsubscribe_url": "https://news.example.org/u?t=a&b"}
    html = fill_slots(rendered.html, values, html=True)
    assert "Hello Jane &lt;O&#x27;Hara&gt;," in html
    assert 'href="https://news.example.org/p?t=a&amp;b"' in html
    assert not any(marker in html for marker in SLOT_MARKERS.values())
    text = fill_slots(rendered.text, values, html=False)
    assert "Hello Jane <O'Hara>," in text and "https://news.example.org/u?t=a&b" in text
    assert fill_slots("Hello[[digest:name]],", {"name": ""}, html=True) == "Hello,"
    with pytest.raises(RenderError, match="unknown slot"):
        fill_slots(html, {"email": "x"}, html=True)


def test_hostile_content_is_escaped(rendered):
    html = rendered.html
    assert "<script" not in html.lower() and "<img" not in html.lower() and "<b>" not in html
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in html
    doc = _doc(html)
    h2 = [" ".join(h.text_content().split()) for h in doc.xpath("//h2")]
    assert HOSTILE_TITLE in h2  # shown literally, not interpreted
    assert doc.xpath("//h2/a/@href")[-1] == HOSTILE_URL
    assert "By Eve <img src=x onerror=alert(1)>, Tester & \"Breaker\"" in _visible_text(html)
    assert HOSTILE_TITLE in rendered.text and HOSTILE_URL in rendered.text  # text part: verbatim


def test_article_text_is_never_a_template_or_css(settings):
    trap = replace(seed_items()[0], title="{{ organisation }} {% if 1 %}x{% endif %}", summary="{{ 7*7 }}")
    css = replace(seed_items()[1], title='Use @import url(x.css); and data-premailer="ignore" with <style>')
    r = render_variant(week25([trap, css]), settings)
    assert "{{ organisation }} {% if 1 %}x{% endif %}" in _visible_text(r.html)
    assert css.title in _visible_text(r.html)
    assert "{{ 7*7 }}" in r.text and "49" not in r.text


# ---- structure, accessibility, size ---------------------------------------------


def test_document_structure(rendered):
    html = rendered.html
    assert html.startswith("<!DOCTYPE html>")
    assert re.search(r"<html[^>]*\blang=\"en-GB\"", html)
    for leftover in ("{{", "{%", "{#", "<mj-", "</mj-", "data-premailer", "@import", "googleapis"):
        assert leftover not in html, leftover
    tables = re.findall(r"<table\b[^>]*>", html)  # also those inside Outlook's conditional comments
    assert tables and all('role="presentation"' in t for t in tables)
    doc = _doc(html)
    assert doc.xpath("//img[not(@alt)]") == []
    for a in doc.xpath("//a"):
        assert a.text_content().strip(), "empty link"
        assert a.get("href", "").startswith("https://")
    # Link text makes sense alone (aria-label is ignored by Yahoo, Thunderbird, Windows Mail):
    # no two links share a text but go to different places, and none says only "Read more".
    targets: dict[str, set] = {}
    for a in doc.xpath("//a"):
        targets.setdefault(" ".join(a.text_content().split()), set()).add(a.get("href"))
    assert all(len(hrefs) == 1 for hrefs in targets.values()), targets
    assert "Read more" not in targets and doc.xpath("//a[@aria-label]") == []
    # One link to the whole edition on the website, at the top
    assert [a.get("href") for a in doc.xpath("//a[normalize-space(.)='Read the whole edition on our website']")] == [
        "https://news.example.org/editions/2017-W25"]


def test_media_query_keeps_important(rendered):
    styles = re.findall(r"<style[^>]*>(.*?)</style>", rendered.html, re.S)
    media = [s for s in styles if "max-width:480px" in s.replace(" ", "")]
    assert media and "!important" in media[0]
    assert len("".join(styles).encode()) < 16 * 1024


def test_ten_articles_with_pictures_stay_small(settings):
    from digest.models import ArticleImage, ImageSource

    items = [replace(it, image=ArticleImage(alt=f"Picture {n}", sources=(
        ImageSource(f"https://img.example.org/{n}-1200.jpg", 1200, 675, 120_000, True),
        ImageSource(f"https://img.example.org/{n}-300.jpg", 300, 169)))) for n, it in enumerate(ten_items())]
    r = render_variant(week25(items), replace(settings, images="all"))
    size = len(r.html.encode("utf-8"))
    assert size < 60 * 1024, size  # Gmail clips at 102 KB
    doc = _doc(r.html)
    assert len(doc.xpath("//h2[contains(@class,'headline')]")) == 10
    assert len(doc.xpath("//img")) == 10


def _style(el) -> dict[str, str]:
    out = {}
    for decl in (el.get("style") or "").split(";"):
        if ":" in decl:
            k, v = decl.split(":", 1)
            out[k.strip().lower()] = v.strip().lower()
    return out


def _colour_of(el, *props, attr=None):
    while el is not None:
        st = _style(el)
        for prop in props:
            m = re.match(r"(#[0-9a-f]{3,6})\b", st.get(prop, ""))
            if m:
                return m.group(1)
        if attr and el.get(attr):
            return el.get(attr).lower()
        el = el.getparent()
    return None


def _text_contrasts(html: str) -> list[tuple[float, str]]:
    """(contrast, text) for every visible piece of text, from the inline styles."""
    doc = _doc(html)
    out = []
    for el in doc.iter():
        if not isinstance(el.tag, str) or el.tag in ("style", "title", "head"):
            continue
        if any("display:none" in (a.get("style") or "").replace(" ", "") for a in el.iterancestors()) or \
                "display:none" in (el.get("style") or "").replace(" ", ""):
            continue
        own = (el.text or "") + "".join(child.tail or "" for child in el)
        if not own.strip():
            continue
        fg = _colour_of(el, "color") or "#000000"
        bg = _colour_of(el, "background-color", "background", attr="bgcolor") or "#ffffff"
        out.append((contrast(fg, bg), own.strip()[:40]))
    return out


@pytest.mark.parametrize("brand,accent", [("#1d4f91", "#f2f5fa"), ("#ffcc00", "#fff8e1"),
                                          ("#7fb3e0", "#222831"), ("#e4002b", "#ffffff")])
def test_contrast_of_every_text(settings, brand, accent):
    s = replace(settings, brand_colour=brand, accent_colour=accent)
    for name, fg, bg in palette(brand, accent).text_pairs():
        assert contrast(fg, bg) >= 4.5, (name, fg, bg)
    r = render_variant(week25(), s)
    found = _text_contrasts(r.html)
    assert len(found) > 20  # the check really looked at the text
    low = [(round(c, 2), t) for c, t in found if c < 4.5]
    assert low == []


# ---- formats, counters, subject -------------------------------------------------


def test_text_format_has_no_html_and_no_compile(settings):
    before = RENDER_STATS.compiles
    r = render_variant(week25(), settings, fmt="text")
    assert r.html == "" and r.text and RENDER_STATS.compiles == before
    render_variant(week25(), settings)
    assert RENDER_STATS.compiles == before + 1
    with pytest.raises(RenderError, match="unknown format"):
        render_variant(week25(), settings, fmt="pdf")


def test_variant_carries_only_its_items(settings):
    items = seed_items()
    r = render_variant(week25(), settings, items=[items[4], items[2]], member_topics=("emerging-technology",))
    doc = _doc(r.html)
    assert [h.text_content() for h in doc.xpath("//h2")] == [items[2].title, items[4].title]  # by position
    assert not doc.xpath("//ul")  # two articles: no "In this issue"
    assert items[0].title not in r.text and "Here are 2 articles" in r.text
    assert "asked for news on Emerging technology." in " ".join(r.text.split())


def test_subject_periods_and_override(settings):
    day = Window(datetime(2017, 6, 20, 23, tzinfo=UTC), datetime(2017, 6, 21, 23, tzinfo=UTC), "2017-06-21", "daily")
    month = Window(datetime(2017, 5, 31, 23, tzinfo=UTC), datetime(2017, 6, 30, 23, tzinfo=UTC), "2017-06", "monthly")
    items = seed_items()[:1]
    daily = render_variant(Edition("2017-06-21", "daily", day, items), settings, fmt="text")
    monthly = render_variant(Edition("2017-06", "monthly", month, items), settings, fmt="text")
    assert daily.subject == monthly.subject == items[0].title  # the lead alone: no "and 0 more"
    assert "Monthly digest: June 2017" in monthly.text and "Daily digest: 21 June 2017" in daily.text
    dated = replace(settings, subject="{organisation}: {period}")  # the subject template is the organisation's
    assert render_variant(Edition("2017-06-21", "daily", day, items), dated, fmt="text").subject == (
        "Public Digital Leaders Network: 21 June 2017")
    assert render_variant(Edition("2017-06", "monthly", month, items), dated, fmt="text").subject == (
        "Public Digital Leaders Network: June 2017")
    counted = replace(settings, subject="{lead} (+{more}) · {count} stories")
    assert render_variant(week25(), counted, fmt="text").subject.endswith(f"(+{len(week25().items) - 1}) · "
                                                                          f"{len(week25().items)} stories")
    fixed = render_variant(replace(week25(items), subject="Special\nissue"), settings, fmt="text")
    assert fixed.subject == "Special issue"
    with pytest.raises(RenderError, match="digest.subject"):
        render_variant(week25(items), replace(settings, subject="{org}"), fmt="text")


def test_preheader_length_bounds():
    one_short = [replace(seed_items()[0], title="Hi")]
    assert 40 <= len(preheader_for(week25(one_short), one_short)) <= 130
    long = [replace(i, title=i.title * 4) for i in seed_items()]
    p = preheader_for(week25(long), long)
    assert 40 <= len(p) <= 130 and p.endswith("…")
    assert 40 <= len(preheader_for(week25([]), [])) <= 130


def test_empty_edition_renders(settings):
    r = render_variant(week25([]), settings)
    assert "There are no new articles" in _visible_text(r.html) and "There are no new articles" in r.text
    assert _doc(r.html).xpath("//h2") == []


# ---- no network, no noise, golden ------------------------------------------------

_NETWORK: list[tuple] = []
_WATCHING = False


def _audit(event, args):
    if _WATCHING and event in ("socket.connect", "socket.getaddrinfo", "urllib.Request"):
        _NETWORK.append((event, args))


sys.addaudithook(_audit)


def test_no_network_and_no_stderr_noise(settings, capfd):
    global _WATCHING
    _WATCHING = True
    try:
        render_variant(week25(ten_items()), settings)
    finally:
        _WATCHING = False
    assert _NETWORK == []
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_web_fonts_are_stripped_without_fetching(capfd):
    from digest.edition.inline import inline_css as _inline

    global _WATCHING
    page = ('<!doctype html><html lang="en-GB"><head>'
            '<link href="https://fonts.googleapis.com/css?family=Ubuntu" rel="stylesheet" type="text/css">'
            '<style type="text/css">@import url(https://fonts.googleapis.com/css?family=Ubuntu);'
            ' @media (max-width:480px) { .x { padding: 0 !important; } }</style></head>'
            '<body><p class="x">@import stays in text;</p></body></html>')
    _WATCHING = True
    try:
        out = _inline(page, ".x { color: #111111; }", "https://news.example.org")
    finally:
        _WATCHING = False
    assert _NETWORK == []
    assert "googleapis" not in out and "@import url" not in out
    assert "@import stays in text;" in out and "padding: 0 !important" in out
    assert out.startswith("<!DOCTYPE html>") and 'style="color:#111"' in out  # inlined (cssutils shortens it)
    assert capfd.readouterr().err == ""


def _normalise(s: str) -> str:
    # One tag per line so a change shows as a readable diff; trailing blanks are noise.
    s = re.sub(r">\s*<", ">\n<", s)
    return "\n".join(line.rstrip() for line in s.splitlines()).strip() + "\n"


@pytest.mark.parametrize("part", ["html", "txt"])
def test_golden(rendered, part):
    actual = _normalise(rendered.html if part == "html" else rendered.text)
    path = GOLDEN / f"digest-2017-W25.{part}"
    if os.environ.get("DIGEST_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with DIGEST_UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8"), f"{path} differs: check, then DIGEST_UPDATE_GOLDEN=1"


def test_text_part_is_not_html_escaped(rendered):
    # The text part is never HTML: no entities leak into it.
    assert rendered.text == unescape(rendered.text)


def test_each_variant_is_named_by_its_own_lead_and_the_editors_subject_wins(settings):
    from digest.edition.render import subject_for

    items = sorted(seed_items(), key=lambda i: i.position)
    built = week25(items)
    built = replace(built, subject=subject_for(built, settings))  # what a build stores
    assert built.subject == f"{items[0].title}, and {len(items) - 1} more"
    mine = render_variant(built, settings, items=[items[2], items[4], items[3]], fmt="text")
    assert mine.subject == f"{items[2].title}, and 2 more"  # not "and 9 more" for a member who gets three
    editors = replace(built, subject="GDPR in a year, and what to do first")
    assert render_variant(editors, settings, items=[items[2], items[4]], fmt="text").subject == (
        "GDPR in a year, and what to do first")

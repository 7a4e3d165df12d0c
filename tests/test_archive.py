"""The public archive: web versions with previous/next, /editions/, ?topic=, the Atom feed;
and, in real Chromium, every link of the web versions and archive pages answers 200 or leaves the site."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import feedparser
import pytest
from lxml import html as lxml_html

from digest.editorial.screenshot import CHROMIUM

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "news.xml"
WEEKS = ("2017-W24", "2017-W25", "2017-W26")


def send_three_weeks(run_cli):
    assert run_cli("ingest", SAMPLES, "--no-image-fetch").exit_code == 0
    assert run_cli("subscribers", "add", "jane@example.org", "--name", "Jane Smith").exit_code == 0
    for week in WEEKS:
        result = run_cli("weekly", "--week", week, "--transport", "file")
        assert result.exit_code == 0, result.output


@pytest.fixture
def client(run_cli, settings, db):
    from digest.web import create_app

    send_three_weeks(run_cli)
    return create_app(settings, db).test_client()


def links_of(html: str) -> dict[str, str]:
    doc = lxml_html.document_fromstring(html)
    return {" ".join(a.text_content().split()): a.get("href") for a in doc.xpath("//a[@href]")}


def test_web_version_links_to_previous_next_archive_and_subscribe(client):
    base = "https://news.example.org"
    middle = links_of(client.get("/editions/2017-W25").get_data(as_text=True))
    assert middle["← Previous edition"] == f"{base}/editions/2017-W24"
    assert middle["Next edition →"] == f"{base}/editions/2017-W26"
    assert middle["All editions"] == f"{base}/editions/"
    assert middle["Get this digest by email"] == f"{base}/subscribe"
    first = links_of(client.get("/editions/2017-W24").get_data(as_text=True))
    assert "← Previous edition" not in first and first["Next edition →"] == f"{base}/editions/2017-W25"
    last = links_of(client.get("/editions/2017-W26").get_data(as_text=True))
    assert "Next edition →" not in last and last["← Previous edition"] == f"{base}/editions/2017-W25"


def test_archive_lists_sent_editions_newest_first(client):
    resp = client.get("/editions/")
    assert resp.status_code == 200
    doc = lxml_html.document_fromstring(resp.get_data(as_text=True))
    listed = [(" ".join(a.text_content().split()), a.get("href")) for a in doc.xpath("//ol[@class='editions']//h2/a")]
    assert listed == [("Weekly digest: 26 June – 2 July 2017", "/editions/2017-W26"),
                      ("Weekly digest: 19–25 June 2017", "/editions/2017-W25"),
                      ("Weekly digest: 12–18 June 2017", "/editions/2017-W24")]
    assert doc.xpath("//link[@rel='alternate']/@href") == ["/editions/feed.xml"]


def test_a_draft_is_not_in_the_archive(client, run_cli):
    assert run_cli("edition", "build", "--week", "2017-W27").exit_code == 0  # built, never queued
    assert "2017-W27" not in client.get("/editions/").get_data(as_text=True)
    assert client.get("/editions/2017-W27").status_code == 404


def test_topic_page_lists_its_articles_across_editions(client):
    resp = client.get("/editions/?topic=data-protection")
    assert resp.status_code == 200
    doc = lxml_html.document_fromstring(resp.get_data(as_text=True))
    assert doc.xpath("//h1")[0].text_content() == "Data protection"
    items = doc.xpath("//ul[@class='articles']/li")
    assert items
    for li in items:
        article, edition = li.xpath(".//a/@href")
        assert article.startswith("https://www.example.org/") and re.fullmatch(r"/editions/2017-W2[456]", edition)
    titles = [li.xpath(".//a")[0].text_content() for li in items]
    assert "Queen’s speech: what to watch for and what’s missing" in titles
    assert client.get("/editions/?topic=no-such-topic").status_code == 404


def test_atom_feed_of_the_editions(client):
    resp = client.get("/editions/feed.xml")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(resp.get_data())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert [e.link for e in feed.entries] == [f"https://news.example.org/editions/{w}" for w in reversed(WEEKS)]
    assert feed.entries[1].title.endswith(", and 9 more")  # the edition's subject: its lead story and how many more
    assert "<li>Queen’s speech: what to watch for and what’s missing</li>" in feed.entries[1].summary


def test_web_version_and_archive_have_the_site_header_and_a_preview_card(client):
    base = "https://news.example.org"
    for url, title in (("/editions/2017-W25", None), ("/editions/", "Past editions – Public Digital Leaders Network"),
                       ("/editions/?topic=data-protection", "Data protection: past editions")):
        doc = lxml_html.document_fromstring(client.get(url).get_data(as_text=True))
        meta = {m.get("property") or m.get("name"): m.get("content") for m in doc.xpath("//meta[@content]")}
        for name in ("og:title", "og:description", "og:url", "og:site_name", "twitter:card", "twitter:title"):
            assert meta.get(name), (url, name)
        if title:
            assert meta["og:title"] == title
        nav = doc.xpath("//nav[@aria-label='Public Digital Leaders Network']")[0]
        links = {" ".join(a.text_content().split()): a.get("href") for a in nav.xpath(".//a")}
        assert set(links) == {"Past editions", "Subscribe"}, url
        assert links["Subscribe"].endswith("/subscribe") and links["Past editions"].endswith("/editions/")
    web = lxml_html.document_fromstring(client.get("/editions/2017-W25").get_data(as_text=True))
    meta = {m.get("property") or m.get("name"): m.get("content") for m in web.xpath("//meta[@content]")}
    assert meta["og:url"] == f"{base}/editions/2017-W25" and meta["og:type"] == "article"
    assert meta["og:title"] == web.xpath("//title")[0].text_content()
    # The lead picture makes the card (the sample feed names its pictures and their sizes).
    assert meta["og:image"].startswith("https://") and meta["twitter:card"] == "summary_large_image"
    assert meta["og:image:alt"]


def test_topic_page_gives_each_article_its_date_and_summary(client):
    doc = lxml_html.document_fromstring(client.get("/editions/?topic=data-protection").get_data(as_text=True))
    [queen] = [li for li in doc.xpath("//ul[@class='articles']/li") if "Queen’s speech" in li.text_content()]
    text = " ".join(queen.text_content().split())
    assert re.search(r"\b\d{1,2} June 2017 · in the digest of", text), text
    assert "Her Majesty" in text or len(queen.xpath(".//p")) == 2, text  # the summary under the headline


@pytest.fixture
def live_site(env, run_cli, monkeypatch):
    """The base URL of the app served live, three weeks sent (links in the emails name its address)."""
    from digest.config import load_settings
    from digest.db import Database
    from digest.web import create_app
    from test_web_browser import serving

    with serving() as (url, holder):
        monkeypatch.setenv("DIGEST_BASE_URL", url)
        settings = load_settings(None, environ={**env, "DIGEST_BASE_URL": url})
        db = Database(settings.database_url)
        holder["app"] = create_app(settings, db)
        send_three_weeks(run_cli)
        yield url
        db.dispose()


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed")
def test_web_version_archive_and_topic_page_in_chromium(live_site, browser, tmp_path):
    """Screenshots at 375 and 600 px, light and dark, no sideways scrolling, axe finds nothing."""
    import os

    from test_web_browser import look

    shots = Path(os.environ.get("DIGEST_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
    for name, path in (("web-version", "/editions/2017-W25"), ("archive", "/editions/"),
                       ("topic", "/editions/?topic=data-protection")):
        assert page.goto(live_site + path).status == 200
        look(page, shots, name, axe=True)


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed")
def test_every_link_of_the_web_versions_and_archive_answers_200(live_site, browser):
    """Chromium walks the site from /editions/: every on-site link is opened and answers 200;
    off-site links (the articles) are only checked to be https."""
    url = live_site
    page = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
    todo, seen, off_site, statuses = [url + "/editions/"], set(), set(), {}
    while todo and len(seen) < 60:
        target = todo.pop(0)
        if target in seen:
            continue
        seen.add(target)
        response = page.goto(target)
        statuses[target] = response.status
        if "html" not in (response.headers.get("content-type") or ""):
            continue
        for href in page.eval_on_selector_all("a[href]", "els => els.map(a => a.getAttribute('href'))"):
            absolute = urljoin(target, href).split("#")[0]
            if urlsplit(absolute).netloc == urlsplit(url).netloc:
                todo.append(absolute)
            else:
                off_site.add(absolute)
    assert {f"{url}/editions/{w}" for w in WEEKS} <= seen
    assert {f"{url}/editions/feed.xml", f"{url}/subscribe", f"{url}/editions/?topic=data-protection"} <= seen
    assert {u: s for u, s in statuses.items() if s != 200} == {}
    assert off_site and all(u.startswith("https://") for u in off_site), off_site


@pytest.fixture(scope="module")
def browser():
    from test_web_browser import browser as make  # the same launch as the other browser tests

    yield from make.__wrapped__()

"""In real headless Chromium: an article link in a sent .eml, followed through /r/ to the article, counted once."""

from __future__ import annotations

import urllib.error
import urllib.request
from email import message_from_bytes
from email import policy as email_policy

import pytest
from sqlalchemy import select

from digest.db.schema import clicks
from test_web_browser import browser, pytestmark, site  # noqa: F401  (fixtures, and the browser marks)


@pytest.fixture
def env(env):
    return {**env, "DIGEST_TRACKING_CLICKS": "aggregate"}


def reads(db) -> list[tuple[int, str]]:
    with db.connect() as conn:
        return [tuple(r) for r in conn.execute(select(clicks.c.position, clicks.c.kind).order_by(clicks.c.id))]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _request(url: str, method: str, agent: str) -> int:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        return opener.open(urllib.request.Request(url, method=method, headers={"User-Agent": agent}), timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_chromium_follows_an_article_link_from_a_sent_eml(site, run_cli, seed_path, tmp_path, browser):
    url, settings, db = site
    assert run_cli("ingest", seed_path, "--published", "2017-06-21").exit_code == 0
    assert run_cli("subscribers", "add", "ada@example.net").exit_code == 0
    assert run_cli("weekly", "--week", "2017-W25", "--transport", "file").exit_code == 0
    eml = next((tmp_path / "outbox").glob("*.eml"))
    html = message_from_bytes(eml.read_bytes(), policy=email_policy.default).get_body(("html",)).get_content()

    page = browser.new_page()
    articles = []
    # Chromium reaches no outside host here: the article's site answers from the test.
    page.route("https://www.example.org/**", lambda route: (articles.append(route.request.url), route.fulfill(
        status=200, content_type="text/html", body="<title>The article</title><h1>The article</h1>")))
    page.set_content(html)
    # The seed is a listing export: its stories link to the website, named for what they are (not the headline).
    link = page.locator("p.on-website a").nth(1)
    href = link.get_attribute("href")
    assert href.startswith(url + "/r/")
    link.click()
    page.wait_for_url("https://www.example.org/**")
    assert page.title() == "The article"
    assert page.url == articles[0] and "example.org/" in page.url
    assert reads(db) == [(1, "read")]

    # A HEAD and a link scanner's GET redirect too, but are not reads.
    assert _request(href, "HEAD", "Mozilla/5.0") == 302
    assert _request(href, "GET", "Mozilla/5.0 (compatible; Mimecast URL Protect)") == 302
    assert reads(db) == [(1, "read"), (1, "scanner"), (1, "scanner")]

    # A forged or altered token: the 400 page, and Chromium stays on our site.
    token = href.rsplit("/", 1)[1]
    altered = f"{url}/r/{token[:-3]}{'xyz' if token[-3:] != 'xyz' else 'abc'}"
    response = page.goto(altered)
    assert response.status == 400
    assert page.url == altered and len(articles) == 1
    assert "link" in page.content().lower()
    assert reads(db) == [(1, "read"), (1, "scanner"), (1, "scanner")]
    page.close()

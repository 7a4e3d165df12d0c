"""A listing export's articles get their real links from the site's sitemap (issue 26).

A real HTTP server on 127.0.0.1 serves a WordPress-style sitemap index, two
sitemaps and the pages; the seed's stories are matched by title and each
candidate page is read before it is taken.
"""

from __future__ import annotations

import json
import re

from feed_server import feed_server  # noqa: F401  (the fixture)

from digest.ingest.resolve import page_title_says
from test_cli_pipeline import headlines

SEED_PAGES = {  # the seed's stories, one missing from the sitemap (Socitm's)
    "/2017/06/21/queens-speech-what-to-watch-for-and-whats-missing/":
        "Queen’s speech: what to watch for and what’s missing",
    "/2017/06/20/some-thoughts-about-the-government-transformation-strategy-2017-2020/":
        "Some thoughts about the Government Transformation Strategy 2017-2020",
    "/2017/06/19/see-beyond-the-ordinary-with-technology/": "See beyond the ordinary with technology",
    "/2017/06/16/blockchain-technology-could-it-transform-digitally-enabled-councils/":
        "Blockchain technology: could it transform digitally-enabled councils?",
}
DECOYS = {  # the same slug, a near title: never taken
    "/events/see-beyond-the-ordinary-with-technology/": "See beyond the ordinary with technology: the conference",
    "/tag/blockchain-technology-could-it-transform-digitally-enabled-councils/":
        "Blockchain technology: could it transform digitally-enabled councils? Archives",
}


def page(title: str, og: bool = False) -> bytes:
    meta = f'<meta property="og:title" content="{title}">' if og else ""
    return (f"<!doctype html><html><head><title>{title} – Example Network</title>{meta}</head>"
            f"<body><h1>{title}</h1></body></html>").encode()


def sitemap(kind: str, locs: list[str]) -> bytes:
    inner = "url" if kind == "urlset" else "sitemap"
    body = "".join(f"<{inner}><loc>{loc}</loc></{inner}>" for loc in locs)
    return (f'<?xml version="1.0" encoding="UTF-8"?><{kind} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{body}</{kind}>").encode()


def serve_site(web) -> None:
    for path, title in {**SEED_PAGES, **DECOYS}.items():
        web.serve(path, page(title, og=path.startswith("/2017/06/19")), content_type="text/html")
    posts = [web.url(p) for p in [*DECOYS][:1] + list(SEED_PAGES)[:2]]
    more = [web.url(p) for p in list(SEED_PAGES)[2:] + [*DECOYS][1:]]
    web.serve("/wp-sitemap-posts-post-1.xml", sitemap("urlset", posts), content_type="application/xml")
    web.serve("/wp-sitemap-posts-page-1.xml", sitemap("urlset", more), content_type="application/xml")
    web.serve("/wp-sitemap.xml", sitemap("sitemapindex", [web.url("/wp-sitemap-posts-post-1.xml"),
                                                          web.url("/wp-sitemap-posts-page-1.xml"),
                                                          web.url("/wp-sitemap-missing.xml")]),
              content_type="application/xml")


def test_the_seeds_stories_get_their_real_links_and_a_missing_one_keeps_the_fallback(
        run_cli, feed_server, seed_path, tmp_path, monkeypatch):
    web = feed_server
    serve_site(web)
    (tmp_path / "news.txt").write_bytes(seed_path.read_bytes())
    config = tmp_path / "digest.toml"
    config.write_text(f'[[sources]]\nname = "seed"\npath = "news.txt"\nkind = "listing"\n'
                      f'website = "https://www.example.org/news/"\nresolve_links = "{web.url("/wp-sitemap.xml")}"\n',
                      encoding="utf-8")
    monkeypatch.setenv("DIGEST_CONFIG", str(config))
    result = run_cli("sources", "fetch")
    assert result.exit_code == 0, result.output
    links = {a["title"]: (a["url"], a["link_origin"]) for a in json.loads(run_cli("articles", "--json").output)}
    expected = {title: (web.url(path), "resolved") for path, title in SEED_PAGES.items()}
    expected["Socitm’s David Hopkins becomes Milton Keynes mayor"] = ("https://www.example.org/news/", "website")
    assert links == expected
    assert "1 of 5 article(s) not found through " + web.url("/wp-sitemap.xml") in result.output
    assert "wp-sitemap-missing.xml: HTTP 404 Not Found" in result.output  # said, and the rest still read
    assert "[link: resolved]" in run_cli("articles").output

    # Found once, kept: the next run reads the sitemap again for the missing one, no page already matched.
    before = {p: len(web.requests_for(p)) for p in SEED_PAGES}
    assert run_cli("sources", "fetch").exit_code == 0
    assert {p: len(web.requests_for(p)) for p in SEED_PAGES} == before
    assert len(web.requests_for("/wp-sitemap.xml")) == 2


def test_a_page_is_taken_only_when_it_calls_itself_by_the_title():
    title = "Cyber essentials for schools and libraries"
    assert page_title_says(page(title).decode(), title)
    assert page_title_says("<title>Cyber Essentials for Schools &amp; Libraries</title>".replace("&amp;", "and"),
                           title)
    assert page_title_says(f'<head><meta property="og:title" content="{title}"><title>Home</title></head>', title)
    assert not page_title_says(page(title + " 2018").decode(), title)
    assert not page_title_says(page("Cyber essentials for schools").decode(), title)
    assert not page_title_says("<title>Example Network</title>", title)


def test_a_sitemap_with_a_doctype_is_refused(run_cli, feed_server, seed_path, tmp_path, monkeypatch):
    web = feed_server
    web.serve("/sitemap.xml", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><urlset>&a;</urlset>',
              content_type="application/xml")
    (tmp_path / "news.txt").write_bytes(seed_path.read_bytes())
    config = tmp_path / "digest.toml"
    config.write_text(f'[[sources]]\nname = "seed"\npath = "news.txt"\nresolve_links = "{web.url("/sitemap.xml")}"\n',
                      encoding="utf-8")
    monkeypatch.setenv("DIGEST_CONFIG", str(config))
    result = run_cli("sources", "fetch")
    assert result.exit_code == 0, result.output
    assert "sitemap.xml: not a sitemap: it declares a DOCTYPE" in result.output
    assert "5 of 5 article(s) not found" in result.output


def test_resolve_links_wordpress_asks_the_sites_search(run_cli, feed_server, tmp_path, monkeypatch):
    from urllib.parse import quote, urlencode

    web = feed_server
    title = "See beyond the ordinary with technology"
    real, decoy = "/2017/06/19/see-beyond/", "/events/see-beyond/"
    web.serve(real, page(title), content_type="text/html")
    web.serve(decoy, page(title + ": the conference"), content_type="text/html")
    hits = [{"id": 1, "title": title, "url": web.url(decoy), "type": "post"},  # says the title, the page does not
            {"id": 2, "title": title + " 2018", "url": web.url("/other/"), "type": "post"},
            {"id": 3, "title": title, "url": web.url(real), "type": "post"}]
    web.serve("/wp-json/wp/v2/search?" + urlencode({"search": title, "per_page": 10}, quote_via=quote),
              json.dumps(hits).encode(), content_type="application/json")
    (tmp_path / "news.txt").write_text(f"{title}\n\nA story.\n\n{title}\n", encoding="utf-8")
    config = tmp_path / "digest.toml"
    config.write_text(f'[[sources]]\nname = "seed"\npath = "news.txt"\nwebsite = "{web.base}/"\n'
                      'resolve_links = "wordpress"\n', encoding="utf-8")
    monkeypatch.setenv("DIGEST_CONFIG", str(config))
    assert run_cli("sources", "fetch").exit_code == 0
    [article] = json.loads(run_cli("articles", "--json").output)
    assert (article["url"], article["link_origin"]) == (web.url(real), "resolved")
    assert web.requests_for("/other/") == []


def test_the_email_says_honestly_which_links_go_to_the_website(run_cli, feed_server, seed_path, tmp_path, monkeypatch):
    """Issue 26: a stand-in link is not a headline link; one "Find it on our website" says where it goes."""
    web = feed_server
    serve_site(web)
    (tmp_path / "news.txt").write_bytes(seed_path.read_bytes())
    homepage = "https://www.example.org/news/"
    config = tmp_path / "digest.toml"
    config.write_text(f'[[sources]]\nname = "seed"\npath = "news.txt"\nkind = "listing"\n'
                      f'website = "{homepage}"\nresolve_links = "{web.url("/wp-sitemap.xml")}"\n', encoding="utf-8")
    monkeypatch.setenv("DIGEST_CONFIG", str(config))
    assert run_cli("sources", "fetch").exit_code == 0
    day = json.loads(run_cli("articles", "--json").output)[0]["published_at"][:10]  # undated: the day fetched
    period = ("--since", day, "--until", day)
    assert run_cli("preview", *period, "--out", "p.html").exit_code == 0
    assert run_cli("preview", *period, "--text", "--out", "p.txt").exit_code == 0
    html, text = (tmp_path / "p.html").read_text(encoding="utf-8"), (tmp_path / "p.txt").read_text(encoding="utf-8")

    missing = "Socitm’s David Hopkins becomes Milton Keynes mayor"
    expected = {title: web.url(path) for path, title in SEED_PAGES.items()}  # resolved: linked headlines
    expected[missing] = ""  # the stand-in: no headline link
    assert headlines(html) == expected
    assert html.count(f'href="{homepage}"') == 1
    assert re.findall(r'<a href="([^"]*)"[^>]*>Find it on our website</a>', html) == [homepage]
    assert f"Find it on our website: {homepage}" in text and f"Read more: {homepage}" not in text
    for path in SEED_PAGES:
        assert f"Read more: {web.url(path)}" in text

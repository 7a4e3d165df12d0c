"""Real links for a listing export's articles: found in the site's sitemap (or its WordPress search).

    links = LinkResolver(fetch, "https://www.example.org/wp-sitemap.xml")
    links.resolve("Queen’s speech: what’s missing")  -> "https://www.example.org/2017/06/queens-speech.../" or None

A listing export carries no links. Where the site lists its pages (a sitemap
or sitemap index, WordPress's wp-sitemap.xml included, or "wordpress": the
site's REST search), each article is matched to a page by its title - the
page's slug, or its words, normalised as the kept-once matching does - and
the candidate page is fetched: it is taken only when its <title> (before the
site's name) or its og:title says the article's title. A near title ("...
and libraries 2018") is not taken; what is not found keeps its fallback.
`fetch(url) -> bytes` goes through the one outbound client; sitemaps are read
once per run (the resolver is the run's cache).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Callable
from urllib.parse import quote, unquote, urlencode, urljoin, urlsplit

from xml.etree import ElementTree

from digest.db.articles import title_words
from digest.errors import IngestError
from digest.ingest.clean import normalise_text
from digest.ingest.items import is_absolute
from digest.ingest.listing import slugify

__all__ = ["LinkResolver", "page_title_says", "title_key"]

MAX_SITEMAPS = 50  # an index's sitemaps read at most (WordPress splits by type and by 2,000 URLs)
MAX_PAGES = 3  # candidate pages fetched per article at most
_SEPARATORS = re.compile(r"\s+[|–—:·•»-]\s+")  # "Title – Site name", "Title | Site"


def title_key(title: str) -> str:
    """A title as comparable words (the kept-once matching's normalisation)."""
    return title_words(normalise_text(title).replace("’", "").replace("'", ""))


def _slug_of(url: str) -> str:
    path = unquote(urlsplit(url).path).rstrip("/")
    last = path.rsplit("/", 1)[-1]
    return re.sub(r"\.(?:html?|php|aspx?)$", "", last).lower()


class _Titles(HTMLParser):
    """The <title> and the og:title of a page's head."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title, self.og, self._in_title = "", "", False

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "title":
            self._in_title = True
        elif tag == "meta" and (found.get("property") or found.get("name") or "").lower() == "og:title":
            self.og = found.get("content") or ""

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def page_title_says(html: str, title: str) -> bool:
    """Does the page call itself `title`? Its og:title, or its <title> whole or before the site's name."""
    parser = _Titles()
    parser.feed(html[:262144])  # the head is at the start; a page is not read whole
    wanted = title_key(title)
    said = [parser.og, parser.title, *_SEPARATORS.split(parser.title, maxsplit=1)[:1],
            *[parser.title[:m.start()] for m in _SEPARATORS.finditer(parser.title)]]
    return bool(wanted) and any(title_key(s) == wanted for s in said if s.strip())


class LinkResolver:
    """Finds the page of each title through one sitemap (or a WordPress search), fetching each sitemap once."""

    def __init__(self, fetch: Callable[[str], bytes], where: str, *, site: str | None = None):
        self.fetch, self.where, self.site = fetch, where, site
        self.problems: list[str] = []
        self._pages: list[str] | None = None

    def resolve(self, title: str) -> str | None:
        """The URL of the page whose title is `title`, or None."""
        for url in self._candidates(title)[:MAX_PAGES]:
            try:
                if page_title_says(self.fetch(url).decode("utf-8", errors="replace"), title):
                    return url
            except IngestError as exc:
                self.problems.append(f"resolving “{title}”: {exc}")
        return None

    def _candidates(self, title: str) -> list[str]:
        if self.where == "wordpress":
            return self._searched(title)
        slug, words = slugify(title).lower(), title_key(title)
        return [u for u in self.pages() if _slug_of(u) in (slug, unquote(slug))
                or title_key(_slug_of(u).replace("-", " ")) == words]

    def pages(self) -> list[str]:
        """Every page URL of the sitemap (an index's sitemaps read too), once per run."""
        if self._pages is None:
            self._pages = []
            todo, seen = [self.where], set()
            while todo and len(seen) < MAX_SITEMAPS:
                url = todo.pop(0)
                if url in seen:
                    continue
                seen.add(url)
                try:
                    kind, locs = _sitemap(self.fetch(url), url)
                except IngestError as exc:
                    self.problems.append(f"sitemap {exc}")
                    continue
                (todo if kind == "sitemapindex" else self._pages).extend(locs)
        return self._pages

    def _searched(self, title: str) -> list[str]:
        """Candidates from the site's WordPress REST search (/wp-json/wp/v2/search?search=...)."""
        if not self.site:
            return []
        query = urlencode({"search": title, "per_page": 10}, quote_via=quote)
        url = urljoin(self.site, "/wp-json/wp/v2/search?" + query)
        try:
            found = json.loads(self.fetch(url).decode("utf-8", errors="replace"))
        except (IngestError, ValueError) as exc:
            self.problems.append(f"WordPress search for “{title}”: {exc}")
            return []
        wanted = title_key(title)
        return [str(r["url"]) for r in found if isinstance(r, dict) and is_absolute(str(r.get("url") or ""))
                and title_key(str(r.get("title") or "")) == wanted] if isinstance(found, list) else []


def _sitemap(data: bytes, url: str) -> tuple[str, list[str]]:
    """("urlset" or "sitemapindex", the <loc>s) of a sitemap; IngestError when it is none."""
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():  # a sitemap has none; entities can bomb
        raise IngestError(url, "not a sitemap: it declares a DOCTYPE")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise IngestError(url, f"not a sitemap: {exc}") from None
    kind = root.tag.rsplit("}", 1)[-1]
    if kind not in ("urlset", "sitemapindex"):
        raise IngestError(url, f"not a sitemap: its root is <{kind}>")
    locs = [normalise_text(e.text or "") for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "loc"]
    return kind, [loc for loc in locs if is_absolute(loc)]

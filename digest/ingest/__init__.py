"""Ingestion: read a source (a path or an http(s) URL) and parse it into Articles.

    load_source("https://www.example.org/feed/")          RSS 0.9x/1.0/2.0 or Atom
    load_source("posts.json", site_url="https://...")     WordPress REST JSON
    load_source("news.txt", site_url="https://...")       plain-text listing export
    load_source("https://micro.example.org/feed.json")    JSON Feed 1.0 / 1.1

The format is detected from the bytes (digest.ingest.detect). Reading
(politely, within limits, through the one outbound client) is
digest.ingest.fetch and digest.ingest.load; each format's parser is its own
module (feeds, jsonfeed, wordpress, listing), their shared item rules are
digest.ingest.items; storing, for every door, is digest.ingest.store.
"""

from digest.ingest.detect import KINDS, NOT_RECOGNISED, ParsedSource, parse_source
from digest.ingest.load import MAX_WP_PAGES, load_source, more_pages, read_source

__all__ = ["ParsedSource", "read_source", "parse_source", "load_source", "more_pages", "KINDS", "NOT_RECOGNISED",
           "MAX_WP_PAGES"]

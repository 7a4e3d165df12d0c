"""The editor's commands through click's runner: ingest, articles, article, preview."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import func, select

from digest.db.schema import article_topics, articles
from conftest import ok

SAMPLES = Path(__file__).parent.parent / "samples"
SEED_TITLES = [
    "Queen’s speech: what to watch for and what’s missing",
    "Socitm’s David Hopkins becomes Milton Keynes mayor",
    "Some thoughts about the Government Transformation Strategy 2017-2020",
    "See beyond the ordinary with technology",
    "Blockchain technology: could it transform digitally-enabled councils?",
]



def count(db, table) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_ingest_seed_then_again_updates_never_duplicates(run_cli, seed_path, db):
    first = ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    assert first.output.strip() == f"{seed_path}: listing, 5 new, 0 updated, 0 unchanged"
    again = ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    assert again.output.strip() == f"{seed_path}: listing, 0 new, 0 updated, 5 unchanged"
    assert count(db, articles) == 5
    rows = json.loads(ok(run_cli("articles", "--json")).output)
    assert sorted(r["title"] for r in rows) == sorted(SEED_TITLES)
    by_title = {r["title"]: r for r in rows}
    queen = by_title[SEED_TITLES[0]]
    assert queen["author"] == "Martin Ferguson"
    assert queen["published_at"] == "2017-06-20T23:00:00+00:00"  # midnight in London, in UTC
    assert {"data-protection", "health-social-care"} <= set(queen["topics"])
    assert by_title[SEED_TITLES[2]]["author"] == "Dr Andy Hopkirk"
    assert by_title[SEED_TITLES[1]]["author"] is None
    assert by_title[SEED_TITLES[4]]["topics"] == ["digital-transformation", "emerging-technology"]
    for r in rows:
        assert set(r) >= {"id", "title", "url", "author", "published_at", "topics", "summary"}
        assert 0 < len(r["summary"].split()) <= 50
        assert r["url"].startswith("https://www.example.org/")


def test_ingest_listing_without_date_keeps_first_seen(run_cli, seed_path, db):
    ok(run_cli("ingest", seed_path))
    before = {r["title"]: r["published_at"] for r in json.loads(ok(run_cli("articles", "--json")).output)}
    ok(run_cli("ingest", seed_path))
    after = {r["title"]: r["published_at"] for r in json.loads(ok(run_cli("articles", "--json")).output)}
    assert before == after


def test_a_bad_source_is_one_line_exit_1_and_leaves_the_database_alone(run_cli, seed_path, db, tmp_path):
    ok(run_cli("ingest", SAMPLES / "news.xml"))
    n = count(db, articles)
    links = count(db, article_topics)
    cut = tmp_path / "cut.xml"
    cut.write_bytes((SAMPLES / "news.xml").read_bytes()[:6000])
    missing = tmp_path / "missing.xml"
    result = run_cli("ingest", cut, missing, seed_path, "--published", "2017-06-21")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 2
    assert errors[0].startswith(f"Error: {cut}: ")
    assert errors[1].startswith(f"Error: {missing}: ")
    # the good source in the same run still went in; the bad ones wrote nothing
    # (its five stories are the feed's too: kept once, members get the feed's copies)
    assert f"{seed_path}: listing, 0 new, 0 updated, 0 unchanged, 5 already in from another source" in result.output
    assert count(db, articles) == n + 5  # the listing's copies are stored (for its health), as duplicates
    assert count(db, article_topics) > links


def test_ingest_bad_published_date(run_cli, seed_path):
    result = run_cli("ingest", seed_path, "--published", "21/06/2017")
    assert result.exit_code == 2
    assert "--published" in result.output and "21/06/2017" in result.output


def test_articles_filters_and_explain(run_cli, db):
    ok(run_cli("ingest", SAMPLES / "news.xml"))
    week = json.loads(ok(run_cli("articles", "--since", "2017-06-19", "--until", "2017-06-26", "--json")).output)
    assert len(week) == 12
    cyber = json.loads(ok(run_cli("articles", "--topic", "cyber-security", "--json")).output)
    assert cyber and all("cyber-security" in r["topics"] for r in cyber)
    explained = ok(run_cli("articles", "--since", "2017-06-19", "--until", "2017-06-26", "--explain")).output
    assert "category 'GDPR' is an alias of data-protection" in explained
    bad = run_cli("articles", "--topic", "gardening")
    assert bad.exit_code == 2 and "unknown topic 'gardening'" in bad.output


def test_editor_pins_excludes_and_overrides(run_cli, db):
    ok(run_cli("ingest", SAMPLES / "news.xml"))
    rows = json.loads(ok(run_cli("articles", "--since", "2017-06-19", "--until", "2017-06-26", "--json")).output)
    oldest = min(rows, key=lambda r: r["published_at"])
    newest = max(rows, key=lambda r: r["published_at"])
    ok(run_cli("article", "pin", oldest["id"]))
    ok(run_cli("article", "exclude", newest["id"]))
    ok(run_cli("article", "summary", oldest["id"], "Pinned, and summarised by the editor."))
    out = ok(run_cli("preview", "--week", "2017-W25", "--text", "--out", "p.txt"))
    text = Path("p.txt").read_text(encoding="utf-8")
    assert text.index(oldest["title"]) < min(text.index(r["title"]) for r in rows
                                             if r["title"] in text and r["id"] != oldest["id"])
    assert newest["title"] not in text
    assert "Pinned, and summarised by the editor." in text
    assert "[pinned]" in out.output
    missing = run_cli("article", "pin", "9999")
    assert missing.exit_code == 1 and "article 9999: no such article" in missing.output


def test_preview_writes_the_email_and_lists_the_articles(run_cli, seed_path):
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    result = ok(run_cli("preview", "--week", "2017-W25", "--out", "p.html"))
    html = Path("p.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    for title in SEED_TITLES:
        assert title.replace("’", "’") in html or title in html
    assert "wrote p.html" in result.output and re.search(r"subject: .+, and 4 more\)", result.output)
    assert "2017-W25: 5 article(s)" in result.output
    # warnings: the Queen's speech has no teaser in the listing export
    assert "has no teaser" in result.output
    assert "check:" not in result.output  # the message passes the deliverability checks
    text = ok(run_cli("preview", "--week", "2017-W25", "--text", "--out", "p.txt"))
    body = Path("p.txt").read_text(encoding="utf-8")
    for title in SEED_TITLES:
        assert title in body
    assert "https://news.example.org/unsubscribe/" in body
    assert "wrote p.txt" in text.output


def test_the_seeds_stand_in_links_are_named_for_what_they_are(run_cli, seed_path):
    """Issue 26: the listing export carries no links, so each story links to the homepage; the email says so
    (no headline link, one "Find it on our website" each) while a feed's stories keep their linked headlines."""
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    homepage = "https://www.example.org/"  # the listing's stand-in: the organisation's website
    html, text = preview_week(run_cli)
    assert headlines(html) == {t: "" for t in SEED_TITLES}  # no headline pretends to be the story
    assert re.findall(r'<a href="([^"]*)"[^>]*>Find it on our website</a>', html) == [homepage] * len(SEED_TITLES)
    assert text.count(f"Find it on our website: {homepage}") == len(SEED_TITLES)
    assert f"Read more: {homepage}" not in text and "Read more" not in text

    ok(run_cli("ingest", SAMPLES / "news.xml"))  # the same stories with their links, and more: kept, linked
    feed = {r["title"]: r["url"] for r in json.loads(ok(run_cli("articles", "--json")).output)
            if r["link_origin"] == "source"}
    html, text = preview_week(run_cli)
    assert headlines(html) and all(link == feed[t] for t, link in headlines(html).items())
    assert "Find it on our website" not in html + text
    assert all(f"Read more: {feed[t]}" in text for t in headlines(html))


def test_a_built_edition_keeps_where_each_link_came_from(run_cli, seed_path, db):
    """The link's origin is frozen with the link: a sent edition still says which links are stand-ins."""
    from digest.db import editions as edition_db

    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    ok(run_cli("edition", "build", "--week", "2017-W25"))
    with db.connect() as conn:
        items = edition_db.load_edition(conn, "2017-W25").items
    assert len(items) == 5 and all(i.link_origin == "website" and i.stand_in_link for i in items)


def preview_week(run_cli) -> tuple[str, str]:
    """The 2017-W25 email's HTML and text parts, as `digest preview` writes them."""
    ok(run_cli("preview", "--week", "2017-W25", "--out", "p.html"))
    ok(run_cli("preview", "--week", "2017-W25", "--text", "--out", "p.txt"))
    return Path("p.html").read_text(encoding="utf-8"), Path("p.txt").read_text(encoding="utf-8")


def headlines(html: str) -> dict[str, str]:
    """Each headline of an email: its title and the link it carries ("" when none)."""
    from html import unescape

    found = {}
    for inner in re.findall(r'<h[23] class="headline[^"]*"[^>]*>(.*?)</h[23]>', html, re.S):
        link = re.search(r'<a [^>]*href="([^"]*)"', inner)
        found[unescape(re.sub(r"<[^>]+>", "", inner)).strip()] = unescape(link.group(1)) if link else ""
    return found


def test_preview_of_an_empty_week_warns(run_cli, seed_path):
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    result = ok(run_cli("preview", "--week", "2017-W30", "--out", "p.html"))
    assert "warning: no articles in 2017-W30: nothing would be sent" in result.output


def test_preview_warns_on_what_the_checks_find(run_cli, seed_path, tmp_path, monkeypatch):
    config = tmp_path / "digest.toml"
    config.write_text('[organisation]\naddress = ""\n', encoding="utf-8")
    monkeypatch.setenv("DIGEST_CONFIG", str(config))
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    result = ok(run_cli("preview", "--week", "2017-W25", "--out", "p.html"))
    assert "warning: check: postal-address:" in result.output


def test_preview_for_one_subscriber_shows_their_variant(run_cli, seed_path):
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    ok(run_cli("subscribers", "add", "dana@example.org", "--name", "Dana", "--topics", "member-news",
               "--format", "text"))
    result = ok(run_cli("preview", "2017-W25", "--member", "dana@example.org"))
    # A text-format member sees the text part, printed: the email on stdout, the rest on stderr.
    body = result.stdout
    assert body.startswith("PUBLIC DIGITAL LEADERS NETWORK") and "wrote standard output" in result.stderr
    assert not Path("preview.txt").exists()
    assert "Hello Dana," in body
    assert SEED_TITLES[1] in body and SEED_TITLES[0] not in body
    unknown = run_cli("preview", "2017-W25", "--subscriber", "nobody@example.org")
    assert unknown.exit_code == 1 and "nobody@example.org: no such member" in unknown.output
    helped = run_cli("preview", "--help").output  # --subscriber: the old name, kept working but not shown
    assert "--member" in helped and "--subscriber" not in helped


def test_bad_config_is_one_line_naming_the_key(run_cli, tmp_path, monkeypatch):
    config = tmp_path / "digest.toml"
    config.write_text('[digest]\nsummary_words = "many"\n', encoding="utf-8")
    monkeypatch.setenv("DIGEST_CONFIG", str(config))
    result = run_cli("articles")
    assert result.exit_code == 2  # configuration errors are 2, as documented, so cron can tell them apart
    assert result.output.strip() == f"Error: {config}: digest.summary_words: must be a whole number, not 'many'"


def test_a_listing_exports_articles_keep_the_listings_order(run_cli, seed_path):
    """They share the date given at ingest: the email lists them as the page did, first post first."""
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    text = ok(run_cli("preview", "2017-W25", "--text")).stdout
    assert [text.index(t) for t in SEED_TITLES] == sorted(text.index(t) for t in SEED_TITLES)

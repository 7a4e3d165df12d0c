"""Configured sources, fetched by the mailing, and the gate that holds an edition that would go out wrong.

Everything is real: feeds come from an HTTP server on 127.0.0.1 (tests/feed_server.py),
mail goes to the SMTP test server (tests/smtp_server.py), the database is a real file.
"""

from __future__ import annotations

import gzip
import json

import pytest
from sqlalchemy import func, select

from digest.db.schema import articles, deliveries, editions
from feed_server import feed_server, rss  # noqa: F401  (the fixture)
from conftest import ok

# Week 2017-W25 runs Monday 19 June to Monday 26 June 2017 (Europe/London).
FRESH = rss(
    ("GDPR: what councils must do now", "https://www.example.org/2017/06/20/gdpr/", "Tue, 20 Jun 2017 09:00:00 +0100"),
    ("Ransomware hits another trust", "https://www.example.org/2017/06/22/ransomware/", "Thu, 22 Jun 2017 14:00:00 +0100"),
)
# Nothing for five weeks before the end of 2017-W25: stale with max_age_days = 14.
OLD = rss(("Cyber security week", "https://events.example.org/2017/05/cyber/", "Mon, 15 May 2017 09:00:00 +0100"),
          title="Events")



def write_config(tmp_path, monkeypatch, sources: str, extra: str = "") -> None:
    config = tmp_path / "digest.toml"
    config.write_text(
        '[organisation]\neditors = ["editor@example.org", "chief@example.org"]\n\n'
        f"[digest]\nfetch_timeout = 2\nfetch_deadline = 3\n{extra}\n{sources}",
        encoding="utf-8")
    monkeypatch.setenv("DIGEST_CONFIG", str(config))


def source(name: str, url: str, more: str = "") -> str:
    return f'[[sources]]\nname = "{name}"\nurl = "{url}"\n{more}\n'


@pytest.fixture
def members(run_cli):
    for address in ("ann@example.org", "bob@example.org"):
        ok(run_cli("subscribers", "add", address, "--frequency", "weekly"))
    return run_cli


def count(db, table) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


# -- digest sources fetch / list ------------------------------------------------------------


def test_sources_fetch_then_a_304_and_the_health_in_sources_list(run_cli, feed_server, tmp_path, monkeypatch, db):
    web = feed_server
    web.serve("/feed.xml", FRESH, etag='"abc"')
    write_config(tmp_path, monkeypatch, source("news", web.url("/feed.xml"), 'topics = ["member-news"]'))
    first = ok(run_cli("sources", "fetch"))
    assert first.output.strip() == "source news: rss, 2 item(s): 2 new, 0 updated, 0 unchanged"
    again = ok(run_cli("sources", "fetch", "news"))
    assert again.output.strip() == "source news: not modified since the last fetch"
    assert web.requests_for("/feed.xml")[1]["If-None-Match"] == '"abc"'
    [row] = json.loads(ok(run_cli("sources", "list", "--json")).output)
    assert row["name"] == "news" and row["kind"] == "rss" and row["last_error"] is None
    assert row["items_last_seen"] == 2 and row["newest_item_at"].startswith("2017-06-22T13:00")
    assert row["last_fetched_at"] and row["last_success_at"]
    # forced topics: every article from the source has exactly them
    listed = json.loads(ok(run_cli("articles", "--json")).output)
    assert {tuple(a["topics"]) for a in listed} == {("member-news",)}
    assert count(db, articles) == 2


def test_a_moved_feed_is_followed_and_its_new_home_recorded(run_cli, feed_server, tmp_path, monkeypatch):
    web = feed_server
    web.serve("/new/feed.xml", FRESH)
    web.redirect("/feed.xml", "/new/feed.xml", status=301)
    write_config(tmp_path, monkeypatch, source("news", web.url("/feed.xml")))
    result = ok(run_cli("sources", "fetch"))
    line = (f"source news moved permanently to {web.url('/new/feed.xml')} (fetched there since): in digest.toml "
            f'change url = "{web.url("/feed.xml")}" to url = "{web.url("/new/feed.xml")}"')
    assert f"warning: {line}" in result.output
    [row] = json.loads(ok(run_cli("sources", "list", "--json")).output)
    assert row["moved_to"] == web.url("/new/feed.xml") and row["items_last_seen"] == 2
    assert line in ok(run_cli("sources", "list")).output.splitlines()
    # From then on the new location is fetched first (the old one is asked nothing), the move still reported.
    web.gone("/feed.xml")
    again = ok(run_cli("sources", "fetch"))
    assert "source news: rss, 2 item(s): 0 new, 0 updated, 2 unchanged" in again.output
    assert f"warning: {line}" in again.output
    assert len(web.requests_for("/feed.xml")) == 1 and len(web.requests_for("/new/feed.xml")) == 2
    # The configuration follows: the move is forgotten.
    write_config(tmp_path, monkeypatch, source("news", web.url("/new/feed.xml")))
    assert "moved" not in ok(run_cli("sources", "fetch")).output


def test_a_gzip_bomb_is_refused_in_one_line_and_no_article_changes(run_cli, feed_server, tmp_path, monkeypatch, db):
    web = feed_server
    web.serve("/feed.xml", FRESH)
    write_config(tmp_path, monkeypatch, source("news", web.url("/feed.xml")))
    ok(run_cli("sources", "fetch"))
    with db.connect() as conn:
        before = conn.execute(select(articles).order_by(articles.c.id)).all()
    web.serve("/feed.xml", gzip.compress(b"<rss>" + b" " * (60 * 2**20)), headers={"Content-Encoding": "gzip"})
    result = run_cli("sources", "fetch")
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: source news: {web.url('/feed.xml')}: larger than 50 MB once "
                                     "decompressed: not a news source")
    with db.connect() as conn:
        assert conn.execute(select(articles).order_by(articles.c.id)).all() == before
    [row] = json.loads(ok(run_cli("sources", "list", "--json")).output)
    assert "larger than 50 MB" in row["last_error"] and row["items_last_seen"] == 2


def test_a_source_redirecting_to_an_internal_address_is_refused_and_nothing_stored(
        run_cli, feed_server, tmp_path, monkeypatch, db):
    """The source's server is allowed (127.0.0.1/32 in [fetch] allow_private); where it sends us is not."""
    web = feed_server
    port = web.base.rsplit(":", 1)[1]
    web.serve("/admin/feed.xml", FRESH)
    web.redirect("/feed.xml", f"http://127.0.0.2:{port}/admin/feed.xml", status=302)
    write_config(tmp_path, monkeypatch, source("news", web.url("/feed.xml")))
    monkeypatch.setenv("DIGEST_FETCH_ALLOW_PRIVATE", "127.0.0.1/32")  # the tests' environment allows 127.0.0.0/8
    result = run_cli("sources", "fetch")
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: source news: {web.url('/feed.xml')}: redirected to http://127.0.0.2:{port}/admin/feed.xml: "
        "refused 127.0.0.2, a loopback address (digest fetches only public addresses; an intranet's goes in "
        "[fetch] allow_private)")
    assert count(db, articles) == 0 and web.requests_for("/admin/feed.xml") == []


def test_a_password_in_a_source_url_is_sent_as_basic_auth_and_never_shown(members, feed_server, tmp_path,
                                                                          monkeypatch, smtp_sink):
    web = feed_server
    web.serve("/feed.xml", FRESH)
    port = web.base.rsplit(":", 1)[1]
    secret_url = f"http://editor:s3cret@127.0.0.1:{port}"
    write_config(tmp_path, monkeypatch, source("news", secret_url + "/feed.xml")
                 + source("intranet", secret_url + "/missing.xml"))
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    result = members("weekly", "--week", "2017-W25")
    assert result.exit_code == 2
    assert web.requests_for("/feed.xml")[0]["Authorization"] == "Basic ZWRpdG9yOnMzY3JldA=="  # editor:s3cret
    listed = ok(members("sources", "list", "--json")).output
    table = ok(members("sources", "list")).output
    [notice] = smtp_sink.messages
    for shown in (result.output, listed, table, notice.message.get_content()):
        assert "s3cret" not in shown
    assert f"http://editor:***@127.0.0.1:{port}/missing.xml: HTTP 404 Not Found" in result.output
    assert {r["location"] for r in json.loads(listed)} == {f"http://editor:***@127.0.0.1:{port}/feed.xml",
                                                          f"http://editor:***@127.0.0.1:{port}/missing.xml"}


def test_allow_private_must_be_networks(run_cli, tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, "", extra='[fetch]\nallow_private = ["10.1.2.0/24", "intranet"]\n')
    monkeypatch.delenv("DIGEST_FETCH_ALLOW_PRIVATE")  # the tests' environment allows 127.0.0.0/8
    result = run_cli("sources", "list")
    assert result.exit_code != 0 and result.output.strip().endswith(
        "fetch.allow_private: 'intranet' is not an address or network like \"10.1.2.0/24\"")


def test_unknown_source_name_is_a_usage_error(run_cli, feed_server, tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, source("news", feed_server.url("/feed.xml")))
    result = run_cli("sources", "fetch", "nope")
    assert result.exit_code == 2 and "no source named 'nope'; configured: news" in result.output


@pytest.mark.parametrize("entry, key, reason", [
    ('[[sources]]\nname = "a"\n', "sources[1] (a)", "give either url or path"),
    ('[[sources]]\nname = "a"\nurl = "ftp://x"\n', "sources[1] (a).url", "must be an http(s) URL"),
    ('[[sources]]\nname = "a"\npath = "x"\nkind = "atom"\n', "sources[1] (a).kind", "must be one of feed, jsonfeed"),
    ('[[sources]]\nname = "a"\npath = "x"\ntopics = ["nope"]\n', "sources[1] (a).topics", "unknown topic 'nope'"),
    ('[[sources]]\nname = "a"\npath = "x"\nlink_template = "https://e.org/{id}/"\n', "sources[1] (a).link_template",
     "has {id}"),
    ('[[sources]]\nname = "a"\npath = "x"\n[[sources]]\nname = "a"\npath = "y"\n', "sources[2] (a).name",
     "'a' appears twice"),
    ('[[sources]]\nname = "a"\npath = "x"\nlink_template = "https://e.org/{slug:>99999999}/"\n',
     "sources[1] (a).link_template", "{slug:>99999999} is not allowed: {slug} takes no format"),
    ('[[sources]]\nname = "a"\npath = "x"\nlink_template = "https://e.org/{date:>9999}/{slug}"\n',
     "sources[1] (a).link_template", "{date:>9999} is not allowed"),
    ('[[sources]]\nname = "news\\u001b[2J"\npath = "x"\n', "sources[1].name", "must be a short one-line name without control characters"),
])
def test_a_bad_sources_entry_is_one_line_naming_it_and_exit_2(run_cli, tmp_path, monkeypatch, entry, key, reason):
    write_config(tmp_path, monkeypatch, entry)
    result = run_cli("sources", "list")
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {tmp_path / 'digest.toml'}: {key}: {reason}")
    assert len(result.output.strip().splitlines()) == 1


# -- the gate -------------------------------------------------------------------------------


def test_a_404_source_holds_the_edition_and_tells_the_editors(members, feed_server, tmp_path, monkeypatch, db,
                                                             smtp_sink):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from digest.config import load_settings
    from digest.message.dkim import dkim_record, verify

    web = feed_server
    web.serve("/feed.xml", FRESH)
    write_config(tmp_path, monkeypatch, source("news", web.url("/feed.xml")) + source("events", web.url("/events.xml")))
    key = tmp_path / "dkim.pem"
    key.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    for name, value in {"DIGEST_DKIM_DOMAIN": "example.org", "DIGEST_DKIM_SELECTOR": "digest1",
                        "DIGEST_DKIM_KEY_FILE": str(key), "DIGEST_SMTP_URL": smtp_sink.url}.items():
        monkeypatch.setenv(name, value)

    result = members("weekly", "--week", "2017-W25")
    assert result.exit_code == 2
    problem = f"source events failed: {web.url('/events.xml')}: HTTP 404 Not Found"
    assert f"held 2017-W25: {problem}" in result.output.splitlines()
    assert "source news: rss, 2 item(s): 2 new" in result.output  # the other source still landed
    assert count(db, articles) == 2
    assert (count(db, editions), count(db, deliveries)) == (0, 0)  # nothing built, queued or sent
    [notice] = smtp_sink.messages
    assert notice.rcpt_tos == ("editor@example.org", "chief@example.org")
    msg = notice.message
    assert msg["Subject"] == "Held: Public Digital Leaders Network edition 2017-W25 was not sent"
    body = msg.get_content()
    assert f"- {problem}" in body
    assert 'digest weekly 2017-W25 --force --reason "why it may go as it is"' in body
    assert verify(notice.data, dkim_record(load_settings()))

    # --force sends it anyway, and the edition says who forced it and why.
    forced = members("weekly", "--week", "2017-W25", "--force", "--reason", "events calendar is down; news is fine")
    assert forced.exit_code == 0, forced.output
    assert f"warning: sent anyway (--force): {problem}" in forced.output
    assert sorted(r for m in smtp_sink.messages[1:] for r in m.rcpt_tos) == ["ann@example.org", "bob@example.org"]
    with db.connect() as conn:
        row = conn.execute(select(editions.c.forced_by, editions.c.forced_reason, editions.c.forced_at)).one()
    assert row.forced_reason == "events calendar is down; news is fine"
    assert "@" in row.forced_by and row.forced_at is not None
    [listed] = json.loads(ok(members("edition", "list", "--json")).output)
    assert (listed["forced_by"], listed["forced_reason"]) == (row.forced_by, row.forced_reason)


def test_force_needs_a_reason(members, tmp_path, monkeypatch):
    result = members("weekly", "--week", "2017-W25", "--force", "--transport", "file")
    assert result.exit_code == 2 and "--force needs --reason" in result.output


def test_a_stale_source_holds_the_edition_measured_against_its_end(members, feed_server, tmp_path, monkeypatch, db,
                                                                  smtp_sink):
    web = feed_server
    web.serve("/feed.xml", FRESH)
    web.serve("/events.xml", OLD)
    write_config(tmp_path, monkeypatch, source("news", web.url("/feed.xml"))
                 + source("events", web.url("/events.xml"), "max_age_days = 14"))
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    result = members("weekly", "--week", "2017-W25")
    assert result.exit_code == 2
    held = [line for line in result.output.splitlines() if line.startswith("held ")]
    assert held == ["held 2017-W25: source events is stale: its newest article before the end of 2017-W25 is from "
                    "2017-05-15, more than 14 days before it (max_age_days = 14)"]
    assert count(db, editions) == 0 and len(smtp_sink.messages) == 1
    # Judged against the end of an earlier week, when events was fresh and news had not begun.
    earlier = members("run", "--week", "2017-W20", "--frequency", "weekly")
    assert earlier.exit_code == 2
    assert [line for line in earlier.output.splitlines() if line.startswith("held ")] == [
        "held 2017-W20: source news is stale: it has no article published before the end of 2017-W20"]


def test_fewer_than_min_articles_holds_the_edition(members, feed_server, tmp_path, monkeypatch, db, smtp_sink):
    web = feed_server
    web.serve("/feed.xml", FRESH)
    write_config(tmp_path, monkeypatch, source("news", web.url("/feed.xml")), extra="min_articles = 3")
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    result = members("weekly", "--week", "2017-W25")
    assert result.exit_code == 2
    assert "held 2017-W25: edition 2017-W25 would have 2 article(s), fewer than min_articles = 3" in result.output
    assert count(db, editions) == 0


def test_the_held_notice_goes_to_the_desks_editors_the_config_only_seeds_them(members, feed_server, tmp_path,
                                                                             monkeypatch, db, smtp_sink):
    """One list of editors, the desk's: the config's addresses seed it, `digest editors notify` says who is told."""
    web = feed_server
    web.serve("/feed.xml", FRESH)
    write_config(tmp_path, monkeypatch, source("news", web.url("/feed.xml")), extra="min_articles = 3")
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    ok(members("editors", "add", "desk@example.org", "--print-link"))  # on the desk only
    ok(members("editors", "add", "quiet@example.org", "--print-link", "--notify", "none"))
    listed = {e["email"]: e["notify"] for e in json.loads(ok(members("editors", "list", "--json")).output)}
    assert listed == {"chief@example.org": ["held"], "desk@example.org": ["held"], "editor@example.org": ["held"],
                      "quiet@example.org": []}
    assert ok(members("editors", "notify", "chief@example.org", "none")).output.strip() == \
        "chief@example.org is told of: nothing"
    assert members("editors", "notify", "chief@example.org", "everything").exit_code == 1
    smtp_sink.messages.clear()
    result = members("weekly", "--week", "2017-W25")
    assert result.exit_code == 2
    [notice] = smtp_sink.messages
    assert notice.rcpt_tos == ("desk@example.org", "editor@example.org")  # longest-standing first
    assert "told the editors (desk@example.org, editor@example.org) that 2017-W25 is held" in result.output
    removed = ok(members("editors", "remove", "editor@example.org"))
    assert "still in [organisation] editors" in removed.output


def test_a_json_feed_source_goes_out_in_the_weekly_mailing(members, feed_server, tmp_path, monkeypatch, smtp_sink):
    web = feed_server
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Micro", "home_page_url": "https://micro.example.org/",
            "items": [{"id": "1", "url": "/2017/06/21/a", "content_text": "Short post about GDPR fines for councils.",
                       "date_published": "2017-06-21T10:00:00+01:00", "authors": [{"name": "Ann Author"}]}]}
    web.serve("/feed.json", json.dumps(feed).encode(), content_type="application/feed+json")
    write_config(tmp_path, monkeypatch, source("micro", web.url("/feed.json")))
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    result = ok(members("weekly", "--week", "2017-W25"))
    assert "source micro: jsonfeed, 1 item(s): 1 new" in result.output
    text = smtp_sink.messages[0].message.get_body(preferencelist=("plain",)).get_content()
    assert "Short post about GDPR fines for councils." in text
    assert "https://micro.example.org/2017/06/21/a" in text


def test_a_listing_source_links_by_its_template_or_to_its_website_never_a_guess(run_cli, tmp_path, monkeypatch,
                                                                                 seed_path, db):
    (tmp_path / "news.txt").write_bytes(seed_path.read_bytes())
    write_config(tmp_path, monkeypatch,
                 '[[sources]]\nname = "seed"\npath = "news.txt"\nwebsite = "https://www.example.org/news/"\n'
                 '[[sources]]\nname = "templated"\npath = "news2.txt"\n'
                 'link_template = "https://www.example.org/{date:%Y/%m}/{slug}/"\n')
    (tmp_path / "news2.txt").write_text("Only one here\n\nA listing with one article.\n\nOnly one here\n",
                                        encoding="utf-8")
    ok(run_cli("sources", "fetch"))
    with db.connect() as conn:
        rows = conn.execute(select(articles.c.source, articles.c.url, articles.c.link_origin,
                                   articles.c.first_seen_at)).all()
    seed = [r for r in rows if r.source == "seed"]
    assert len(seed) == 5 and {(r.url, r.link_origin) for r in seed} == {("https://www.example.org/news/", "website")}
    [templated] = [r for r in rows if r.source == "templated"]
    assert templated.link_origin == "template"
    assert templated.url == f"https://www.example.org/{templated.first_seen_at:%Y/%m}/only-one-here/"
    out = ok(run_cli("articles")).output
    assert "[link: website]" in out


def test_a_source_that_drips_is_cut_off_by_its_deadline_and_holds_the_edition(members, feed_server, tmp_path,
                                                                              monkeypatch, db, smtp_sink):
    web = feed_server
    web.serve("/feed.xml", FRESH)
    web.drip("/slow.xml", every=1)  # a byte a second: never a read timeout (2 s), cut at the deadline (3 s)
    write_config(tmp_path, monkeypatch, source("news", web.url("/feed.xml")) + source("slow", web.url("/slow.xml")))
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    result = members("weekly", "--week", "2017-W25")
    assert result.exit_code == 2
    assert (f"held 2017-W25: source slow failed: {web.url('/slow.xml')}: cut off by the overall deadline of 3 s"
            in result.output.splitlines())
    assert count(db, articles) == 2 and count(db, editions) == 0


def test_run_without_a_frequency_runs_each_frequency_that_is_due(run_cli, tmp_path, monkeypatch, db):
    from datetime import datetime, timedelta, timezone

    from digest.edition.periods import previous_period

    now = datetime.now(timezone.utc)
    day, week = previous_period("daily", now, "Europe/London"), previous_period("weekly", now, "Europe/London")
    feed = tmp_path / "news.xml"
    def at(when):
        return (when + timedelta(hours=12)).strftime("%a, %d %b %Y %H:%M:%S +0000")

    feed.write_bytes(rss(("Yesterday's GDPR news", "https://www.example.org/y/", at(day.start)),
                         ("Last week's cyber news", "https://www.example.org/w/", at(week.start))))
    write_config(tmp_path, monkeypatch, '[[sources]]\nname = "news"\npath = "news.xml"\n')
    ok(run_cli("subscribers", "add", "daily@example.org", "--frequency", "daily"))
    ok(run_cli("subscribers", "add", "weekly@example.org", "--frequency", "weekly"))
    result = ok(run_cli("run", "--transport", "file"))  # no monthly member: no monthly edition
    assert f"built {day.key}: " in result.output and f"built {week.key}: " in result.output
    with db.connect() as conn:
        assert sorted(conn.execute(select(editions.c.key)).scalars()) == sorted([day.key, week.key])
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2
    again = ok(run_cli("run", "--transport", "file"))
    assert "no edition is due now" in again.output and "sent 0" in again.output


def test_check_warns_about_links_the_sources_did_not_give(run_cli, seed_path):
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    result = run_cli("check", "2017-W25")
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: edition 2017-W25:")]
    assert len(warnings) == 5
    assert warnings[0].endswith("links to its source's website: the source gave no link of its own "
                                "(https://www.example.org/)")


def test_an_undated_listing_first_read_by_the_monday_run_goes_into_the_week_that_ended(run_cli, tmp_path,
                                                                                       monkeypatch, seed_path, db):
    # The weekly run fetches just after the week ends. A listing export carries no dates: what it
    # shows then was there during that week, so it goes into that edition (not the next one, a week
    # late), and the source is not called stale on its first fetch.
    from datetime import datetime, timedelta, timezone

    from digest.edition.periods import previous_period

    week = previous_period("weekly", datetime.now(timezone.utc), "Europe/London")
    (tmp_path / "news.txt").write_bytes(seed_path.read_bytes())
    write_config(tmp_path, monkeypatch, '[[sources]]\nname = "seed"\npath = "news.txt"\nkind = "listing"\n'
                                        'website = "https://www.example.org/news/"\n')
    ok(run_cli("subscribers", "add", "weekly@example.org", "--frequency", "weekly"))
    result = ok(run_cli("weekly", "--transport", "file"))
    assert f"built {week.key}: 5 article(s)" in result.output
    with db.connect() as conn:
        dates = set(conn.execute(select(articles.c.published_at)).scalars())
    [date] = dates
    assert date.replace(tzinfo=date.tzinfo or timezone.utc) == week.end - timedelta(seconds=1)
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_re_running_an_old_week_dates_nothing_into_the_past(run_cli, tmp_path, monkeypatch, seed_path, db):
    from datetime import datetime, timedelta, timezone

    (tmp_path / "news.txt").write_bytes(seed_path.read_bytes())
    write_config(tmp_path, monkeypatch, '[[sources]]\nname = "seed"\npath = "news.txt"\nkind = "listing"\n'
                                        'website = "https://www.example.org/news/"\n')
    ok(run_cli("subscribers", "add", "weekly@example.org", "--frequency", "weekly"))
    before = datetime.now(timezone.utc)
    result = run_cli("weekly", "--week", "2017-W25", "--transport", "file")
    assert result.exit_code == 2 and "held 2017-W25" in result.output  # nothing of 2017 in it
    with db.connect() as conn:
        dates = set(conn.execute(select(articles.c.published_at)).scalars())
    assert all(d.replace(tzinfo=d.tzinfo or timezone.utc) >= before - timedelta(seconds=1) for d in dates)


def test_a_templated_listing_re_fetched_in_a_later_month_keeps_each_articles_first_seen_date(
        run_cli, tmp_path, monkeypatch, db):
    from datetime import datetime, timezone

    from digest.config import load_settings
    from digest.ingest.store import refresh_sources

    (tmp_path / "news.txt").write_text("Only one here\n\nA listing with one article.\n\nOnly one here\n",
                                       encoding="utf-8")
    write_config(tmp_path, monkeypatch, '[[sources]]\nname = "templated"\npath = "news.txt"\n'
                                        'link_template = "https://www.example.org/{date:%Y/%m}/{slug}/"\n')
    settings = load_settings()
    june, august = datetime(2017, 6, 21, 9, tzinfo=timezone.utc), datetime(2017, 8, 2, 9, tzinfo=timezone.utc)
    [first] = refresh_sources(db, settings, now=june)
    (tmp_path / "news.txt").write_text("Only one here\n\nA listing with one article, edited.\n\nOnly one here\n",
                                       encoding="utf-8")
    [again] = refresh_sources(db, settings, now=august)
    assert (first.new, again.updated) == (1, 1)
    with db.connect() as conn:
        [row] = conn.execute(select(articles.c.url, articles.c.published_at)).all()
    assert row.url == "https://www.example.org/2017/06/only-one-here/"
    assert row.published_at.replace(tzinfo=timezone.utc) == june

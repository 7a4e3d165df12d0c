"""Aggregate click counting: /r/ links in sent messages, what counts as a read, what a scanner."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
import zlib

import pytest
from sqlalchemy import select

from digest.db.schema import clicks
from digest.edition.clicks import ClickLinks
from digest.errors import TokenError
from digest.web.clicks import BurstDetector
from conftest import ok

R_LINK = re.compile(r'href="(https://news\.example\.org/r/[^"]+)"')



@pytest.fixture
def env(env):
    return {**env, "DIGEST_TRACKING_CLICKS": "aggregate"}


def html_of(path) -> str:
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return msg.get_body(preferencelist=("html",)).get_content()


def text_of(path) -> str:
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return msg.get_body(preferencelist=("plain",)).get_content()


@pytest.fixture
def sent(run_cli, seed_path, tmp_path):
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    for m in ("ada", "bob"):
        ok(run_cli("subscribers", "add", f"{m}@example.net"))
    ok(run_cli("weekly", "--week", "2017-W25", "--transport", "file"))
    return sorted((tmp_path / "outbox").glob("*.eml"))


@pytest.fixture
def client(settings, db):
    from digest.web import create_app

    return create_app(settings, db).test_client()


def counts(db) -> list[tuple[int, str, str]]:
    with db.connect() as conn:
        return [tuple(r) for r in conn.execute(select(clicks.c.position, clicks.c.kind, clicks.c.reason)
                                               .order_by(clicks.c.id))]


def test_article_links_go_through_r_and_name_no_member(sent):
    ada, bob = sent
    links_ada, links_bob = R_LINK.findall(html_of(ada)), R_LINK.findall(html_of(bob))
    assert len(links_ada) == 5  # five articles, each linked once (the headline)
    assert links_ada == links_bob  # the same links for every member of a variant
    assert all(link in text_of(ada) for link in set(links_ada))
    token = links_ada[0].rsplit("/", 1)[1]
    payload = token.split(".")[0] if not token.startswith(".") else token[1:].split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    data = json.loads(zlib.decompress(raw) if token.startswith(".") else raw)
    assert data[0] == 1 and data[1] == 0 and data[2] == "*:html" and data[3].startswith("https://")
    assert "ada" not in json.dumps(data) and len(data) == 4
    # The unsubscribe and preference links stay the member's own, direct.
    assert "https://news.example.org/unsubscribe/" in html_of(ada)


def test_following_a_link_counts_one_read_and_redirects_only_there(sent, client, db):
    link = R_LINK.findall(html_of(sent[0]))[1].replace("https://news.example.org", "")
    target = ClickLinks("test-secret-key-0123456789", "https://news.example.org").read(link.rsplit("/", 1)[1]).url
    resp = client.get(link, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"})
    assert resp.status_code == 302 and resp.headers["Location"] == target
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert "Set-Cookie" not in resp.headers
    assert counts(db) == [(1, "read", "")]


def test_head_and_scanner_agents_are_counted_apart(sent, client, db):
    link = R_LINK.findall(html_of(sent[0]))[0].replace("https://news.example.org", "")
    assert client.head(link, headers={"User-Agent": "Mozilla/5.0"}).status_code == 302
    assert client.get(link, headers={"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"}).status_code == 302
    assert client.get(link, headers={"User-Agent": ""}).status_code == 302
    assert [(k, r) for _, k, r in counts(db)] == [
        ("scanner", "HEAD request"), ("scanner", "scanner agent barracuda"), ("scanner", "no user agent")]


def test_several_articles_within_a_second_from_one_client_are_a_scanner(sent, client, db):
    links = list(dict.fromkeys(R_LINK.findall(html_of(sent[0]))))
    ua = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0"}
    for link in links[:3]:
        client.get(link.replace("https://news.example.org", ""), headers=ua)
    assert {(k, r) for _, k, r in counts(db)} == {("scanner", "several links within a second")}


def test_burst_detector_by_the_clock():
    now = [100.0]
    b = BurstDetector(clock=lambda: now[0])
    assert b.see("client", 0, 1) == []
    now[0] += 0.5
    assert b.see("client", 0, 2) == []  # the same article again: a person clicking twice
    now[0] += 0.2
    assert b.see("client", 3, 3) == [1, 2, 3]  # another article 0.7 s after the first
    now[0] += 5
    assert b.see("client", 4, 4) == []  # later: a person reading on
    assert b.see("other", 1, 5) == []


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),  # altered signature
    lambda t: "x" + t[1:],  # altered payload
    lambda t: ClickLinks("another-key", "https://x").url(1, 0, "*:html", "https://evil.example/").rsplit("/", 1)[1],
    lambda t: "short",
])
def test_forged_or_altered_token_is_the_400_page_and_goes_nowhere(sent, client, db, mangle):
    token = R_LINK.findall(html_of(sent[0]))[0].rsplit("/", 1)[1]
    resp = client.get("/r/" + mangle(token), headers={"User-Agent": "Mozilla/5.0"})
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert "link" in resp.get_data(as_text=True).lower()
    assert counts(db) == []


def test_tokens_refuse_non_http_targets():
    links = ClickLinks("k" * 20, "https://news.example.org")
    with pytest.raises(TokenError):
        links.read(links.url(1, 0, "*:html", "javascript:alert(1)").rsplit("/", 1)[1])


def test_counting_off_by_default_leaves_article_links_direct(run_cli, seed_path, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGEST_TRACKING_CLICKS", "off")
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    ok(run_cli("subscribers", "add", "ada@example.net"))
    ok(run_cli("weekly", "--week", "2017-W25", "--transport", "file"))
    html = html_of(next((tmp_path / "outbox").glob("*.eml")))
    assert "/r/" not in html and 'href="https://www.' in html


def test_one_client_opening_a_link_seven_times_counts_one_read(sent, client, db):
    link = R_LINK.findall(html_of(sent[0]))[2].replace("https://news.example.org", "")
    ua = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"}
    for _ in range(7):
        assert client.get(link, headers=ua).status_code == 302
    assert counts(db) == [(2, "read", "")]
    other = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1"}
    client.get(link, headers=other, environ_base={"REMOTE_ADDR": "192.0.2.8"})  # another person: counted
    assert counts(db) == [(2, "read", ""), (2, "read", "")]


def test_repeat_filter_forgets_after_the_window_and_with_each_new_day():
    from digest.web.clicks import REPEAT_SECONDS, RepeatFilter

    now = [86_400 * 100 + 10.0]
    f = RepeatFilter(clock=lambda: now[0])
    assert not f.repeat("10.0.0.1", "agent", "token")
    assert f.repeat("10.0.0.1", "agent", "token")
    assert not f.repeat("10.0.0.1", "agent", "another token")
    key = f.key
    now[0] += REPEAT_SECONDS + 1
    assert not f.repeat("10.0.0.1", "agent", "token")  # a while later: a new read
    now[0] = 86_400 * 101 + 1
    assert not f.repeat("10.0.0.1", "agent", "token")  # a new day: a new key, nothing kept
    assert f.key != key and len(f.seen) == 1


def test_with_counting_off_following_a_link_records_nothing(sent, env, db):
    from digest.config import load_settings
    from digest.web import create_app

    link = R_LINK.findall(html_of(sent[0]))[0].replace("https://news.example.org", "")
    off = load_settings(None, environ={**env, "DIGEST_TRACKING_CLICKS": "off"})  # links sent while it was on
    client = create_app(off, db).test_client()
    resp = client.get(link, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("https://")
    assert counts(db) == []


def test_two_people_at_once_are_two_readers_not_a_scanner(sent, client, db):
    """The burst check tells clients apart by address and by agent: two people opening different
    stories in the same second are two reads, and the redirect is never cached."""
    links = list(dict.fromkeys(R_LINK.findall(html_of(sent[0]))))
    phone = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1"}
    desktop = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0"}
    first = client.get(links[0].replace("https://news.example.org", ""), headers=phone,
                       environ_base={"REMOTE_ADDR": "192.0.2.1"})
    client.get(links[1].replace("https://news.example.org", ""), headers=phone, environ_base={"REMOTE_ADDR": "192.0.2.2"})
    client.get(links[2].replace("https://news.example.org", ""), headers=desktop,
               environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert [(k, r) for _, k, r in counts(db)] == [("read", "")] * 3
    assert first.status_code == 302 and first.headers["Cache-Control"] == "no-store"


def test_burst_detector_at_the_edges_of_its_second():
    from digest.web.clicks import BURST_SECONDS

    now = [100.0]
    b = BurstDetector(clock=lambda: now[0])
    b.see("client", 0, 1)
    now[0] += BURST_SECONDS  # exactly a second later: still the same burst
    assert b.see("client", 1, 2) == [1, 2]
    now[0] += 2 * BURST_SECONDS  # exactly two seconds after the last: still remembered
    b.see("other", 0, 3)
    assert "client" in b.recent
    now[0] += 0.01  # past two seconds: forgotten
    b.see("other", 0, 4)
    assert "client" not in b.recent


def test_repeat_filter_keeps_at_most_max_keys_and_a_repeat_at_the_window_edge_still_counts_once():
    from digest.web.clicks import REPEAT_SECONDS, RepeatFilter

    now = [86_400 * 5 + 1.0]
    f = RepeatFilter(clock=lambda: now[0], max_keys=2)
    for token in ("a", "b", "c"):
        assert not f.repeat("10.0.0.1", "agent", token)
    assert len(f.seen) == 3  # trimmed on the next call, before adding
    assert not f.repeat("10.0.0.1", "agent", "d")
    assert len(f.seen) == 3 and not f.repeat("10.0.0.1", "agent", "a")  # the oldest went first
    now[0] += REPEAT_SECONDS  # exactly the window later: still a repeat
    assert f.repeat("10.0.0.1", "agent", "a")


def test_one_client_opening_stories_of_two_editions_in_one_second_is_two_reads(settings, client, db):
    """A burst is several stories of one message: the same places in two editions (last week's digest
    still open beside this week's) are two people's worth of reads, not a scanner."""
    links = ClickLinks(settings.secret_key, settings.base_url)
    phone = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1"}
    for edition, position in ((1, 0), (2, 1)):
        url = links.url(edition, position, "all:html", f"https://www.example.org/{edition}/")
        got = client.get(url.replace("https://news.example.org", ""), headers=phone,
                         environ_base={"REMOTE_ADDR": "192.0.2.7"})
        assert got.status_code == 302 and got.headers["Location"] == f"https://www.example.org/{edition}/"
    assert counts(db) == [(0, "read", ""), (1, "read", "")]


def test_repeat_filter_keeps_at_most_100000_clients_by_default():
    from digest.web.clicks import RepeatFilter

    repeats = RepeatFilter(clock=lambda: 1000.0)
    for n in range(100_002):
        repeats.repeat("192.0.2.1", "agent", str(n))
    assert len(repeats.seen) == 100_001  # the oldest forgotten before each new one past the cap


@pytest.mark.parametrize("day", [0, 1, 20_000])
def test_the_repeat_key_is_32_random_bytes_drawn_on_the_first_click_whatever_the_day(day):
    """The hash that recognises a repeat is keyed: a key nobody can guess (256 bits), never the empty
    one, from the very first click (a server started on any day)."""
    from digest.web.clicks import RepeatFilter

    first, second = RepeatFilter(clock=lambda: 86_400.0 * day + 5), RepeatFilter(clock=lambda: 86_400.0 * day + 5)
    first.repeat("192.0.2.1", "agent", "token")
    second.repeat("192.0.2.1", "agent", "token")
    assert len(first.key) == 32 and first.key != second.key


def test_a_burst_client_is_remembered_for_twice_the_burst_window(monkeypatch):
    import digest.web.clicks as clicks_module

    monkeypatch.setattr(clicks_module, "BURST_SECONDS", 0.5)
    now = [100.0]
    b = BurstDetector(clock=lambda: now[0])
    b.see("client", 0, 1)
    now[0] += 1.0  # twice the window: still remembered
    b.see("other", 0, 2)
    assert "client" in b.recent
    now[0] += 0.01
    b.see("other", 0, 3)
    assert "client" not in b.recent

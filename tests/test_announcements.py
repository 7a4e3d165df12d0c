"""Announcements end to end: audiences, kinds, the send through a real SMTP server, evidence, kill -9.

Real SQLite file (or PostgreSQL with DIGEST_TEST_DATABASE_URL), real aiosmtpd on
127.0.0.1, the real `digest` command in a subprocess where a process is killed.
"""

from __future__ import annotations

import csv
import email
import email.policy
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, update

from digest.config import load_settings
from digest.db import Database
from digest.db import members as member_db
from digest.db.schema import deliveries, subscribers
from digest.editorial import announcements as lib
from digest.errors import AnnouncementError
from digest.models import Announcement

from conftest import ok
from feed_server import feed_server  # noqa: F401  (the fixture)

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)
BODY = ("## Annual general meeting\n\nThe AGM is on 3 March at our office. Read the papers before you come: "
        "[the agenda](https://example.org/agenda).\n\n- The accounts\n- Elections to the board\n\n"
        "1. Read the papers\n2. Send your proxy form")


def add_member(db, address, *, status="active", topics=(), attributes=None, paused=False, news=True, fmt="html",
               language="", frequency="weekly"):
    with db.begin() as conn:
        sub = member_db.create(conn, address, address.split("@")[0].title(), topics, frequency, fmt, status="active",
                               source="cli", now=NOW, language=language, attributes=attributes)
        conn.execute(update(subscribers).where(subscribers.c.id == sub.id)
                     .values(status=status, paused=paused, news_announcements=news))
    return sub.id


WALES = {"region": "Wales", "grade": "fellow"}


@pytest.fixture
def crowd(db):
    """Members in Wales in every state, and some elsewhere: who ought to get what."""
    add_member(db, "gwen@example.org", attributes=WALES)
    add_member(db, "monthly@example.org", attributes=WALES, frequency="monthly")
    add_member(db, "plain@example.org", attributes=WALES, fmt="text")
    add_member(db, "newsoff@example.org", attributes=WALES, news=False)
    for status in ("unsubscribed", "bounced", "lapsed", "complained", "pending"):
        add_member(db, f"{status}@example.org", attributes=WALES, status=status)
    add_member(db, "paused@example.org", attributes=WALES, paused=True)
    add_member(db, "member@example.org", attributes={"region": "Wales", "grade": "member"})
    add_member(db, "scot@example.org", attributes={"region": "Scotland", "grade": "fellow"})
    add_member(db, "nobody@example.org")
    return db


def make(db, settings, audience, kind="news", **extra):
    return lib.create_announcement(db, settings, Announcement(subject="The AGM is on 3 March", body=BODY,
                                                              audience=audience, kind=kind, **extra),
                                   by="editor@example.org", now=NOW)


def send(run_cli, monkeypatch, smtp_sink):
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    return ok(run_cli("send", "--transport", "smtp"))


def received(smtp_sink) -> Counter:
    return Counter(r for m in smtp_sink.messages for r in m.rcpt_tos)


def test_attribute_audience_reaches_exactly_the_members_counted(crowd, settings, run_cli, monkeypatch, smtp_sink):
    a = make(crowd, settings, "attr:region=Wales,grade=fellow")
    counted = lib.audience_count(crowd, settings, a.audience, a.kind)
    assert counted == 3  # not news-off, unsubscribed, bounced, lapsed, complained, pending, paused, other grades
    lib.approve_announcement(crowd, a.id, by="editor@example.org", now=NOW)
    report = lib.queue_announcement(crowd, settings, a.id, by="editor@example.org", now=NOW)
    assert (report.counted, report.queued, report.variants) == (3, 3, 2)  # html and text
    send(run_cli, monkeypatch, smtp_sink)
    got = received(smtp_sink)
    assert set(got) == {"gwen@example.org", "monthly@example.org", "plain@example.org"}
    assert max(got.values()) == 1 and sum(got.values()) == counted
    # `digest report` and `digest status` count it as they count an edition.
    out = ok(run_cli("report", a.key)).output
    assert "sent 3" in out and "The AGM is on 3 March" in out
    assert "sent 3" in ok(run_cli("status")).output


def test_topics_audience_includes_members_of_all_topics(db, settings):
    add_member(db, "policy@example.org", topics=("data-protection",))
    add_member(db, "every@example.org")
    add_member(db, "other@example.org", topics=("smart-places",))
    a = make(db, settings, "topics:data-protection,cyber-security")
    assert lib.audience_count(db, settings, a.audience) == 2
    text = lib.render_preview(db, settings, a.id, fmt="text", now=NOW).text
    assert "your topics include one of Data protection, Cyber security" in " ".join(text.split())
    one = make(db, settings, "topics:smart-places")
    assert "your topics include Smart places." in " ".join(
        lib.render_preview(db, settings, one.id, fmt="text", now=NOW).text.split())


def test_statutory_reaches_a_member_who_turned_news_off_but_never_one_who_left(crowd, settings, run_cli,
                                                                                monkeypatch, smtp_sink):
    news = make(crowd, settings, "attr:region=Wales")
    statutory = make(crowd, settings, "attr:region=Wales", kind="statutory")
    assert lib.audience_count(crowd, settings, news.audience, "news") == 4
    assert lib.audience_count(crowd, settings, statutory.audience, "statutory") == 5
    smtp_sink.reply_for["plain@example.org"] = "550 5.1.1 No such user here"
    lib.approve_announcement(crowd, statutory.id, by="secretary@example.org", now=NOW)
    lib.queue_announcement(crowd, settings, statutory.id, by="secretary@example.org", now=NOW)
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    run_cli("send", "--transport", "smtp")  # exit 1: one refusal
    got = set(received(smtp_sink))
    assert "newsoff@example.org" in got
    assert not got & {f"{s}@example.org" for s in ("unsubscribed", "bounced", "lapsed", "complained", "paused")}
    msg = next(m for m in smtp_sink.messages if "newsoff@example.org" in m.rcpt_tos).message
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "STATUTORY NOTICE" in text and "must send this notice to every member" in text
    assert "Statutory notice" in html and "must send this notice to every member" in html


def test_evidence_lists_each_delivery_with_the_relays_answer(crowd, settings, run_cli, monkeypatch, smtp_sink,
                                                             tmp_path):
    a = make(crowd, settings, "attr:region=Wales", kind="statutory")
    lib.approve_announcement(crowd, a.id, by="secretary@example.org", now=NOW)
    lib.queue_announcement(crowd, settings, a.id, by="secretary@example.org", now=NOW)
    smtp_sink.reply_for["plain@example.org"] = "550 5.1.1 No such user here"
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    run_cli("send", "--transport", "smtp")
    out = tmp_path / "evidence.csv"
    assert "wrote 5 delivery(ies)" in ok(run_cli("announcement", "evidence", a.id, "--out", out)).output
    rows = {r["email"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert set(rows) == {"gwen@example.org", "monthly@example.org", "plain@example.org", "newsoff@example.org",
                         "member@example.org"}
    for address, row in rows.items():
        if address == "plain@example.org":
            assert row["state"] == "failed" and "550" in row["relay_reply"] and "No such user" in row["relay_reply"]
        else:
            assert row["state"] == "sent" and row["relay_reply"].startswith("250"), row
            assert row["sent_at"].startswith("20") and row["member"]


def test_news_off_after_queueing_is_skipped_at_send_time(db, settings, run_cli, monkeypatch, smtp_sink):
    keep = add_member(db, "keep@example.org")
    change = add_member(db, "change@example.org")
    a = make(db, settings, "all")
    lib.approve_announcement(db, a.id, by="e", now=NOW)
    assert lib.queue_announcement(db, settings, a.id, by="e", now=NOW).queued == 2
    with db.begin() as conn:
        conn.execute(update(subscribers).where(subscribers.c.id == change).values(news_announcements=False))
    send(run_cli, monkeypatch, smtp_sink)
    assert set(received(smtp_sink)) == {"keep@example.org"}
    assert keep


def test_the_email_carries_one_click_unsubscribe_date_message_id_and_dkim(db, env, tmp_path, run_cli, monkeypatch,
                                                                           smtp_sink):
    from test_dkim import write_key
    from digest.message.dkim import dkim_record, verify

    key = write_key(tmp_path / "dkim.pem")
    for k, v in {"DIGEST_DKIM_DOMAIN": "example.org", "DIGEST_DKIM_SELECTOR": "digest1",
                 "DIGEST_DKIM_KEY_FILE": str(key)}.items():
        monkeypatch.setenv(k, v)
        env[k] = v
    settings = load_settings(None, environ=env)
    add_member(db, "gwen@example.org")
    a = make(db, settings, "all", cta_label="Read the papers", cta_url="https://example.org/agm")
    lib.approve_announcement(db, a.id, by="e", now=NOW)
    lib.queue_announcement(db, settings, a.id, by="e", now=NOW)
    send(run_cli, monkeypatch, smtp_sink)
    raw = smtp_sink.messages[0].data
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://news.example.org/" in msg["List-Unsubscribe"]
    assert msg["Date"] and msg["Message-ID"] and msg["Subject"] == "The AGM is on 3 March"
    assert raw.startswith(b"DKIM-Signature:") and verify(raw, dkim_record(settings))
    text = msg.get_body(("plain",)).get_content()
    assert "Read the papers: https://example.org/agm" in text
    assert "- The accounts" in text and "1. Read the papers" in text and "ANNUAL GENERAL MEETING" in text
    html = msg.get_body(("html",)).get_content()
    assert 'class="cta-link"' in html and "<ol" in html and "<ul" in html
    assert len(raw) < 102 * 1024  # Gmail clips bigger messages


MEMBERS = 40


def test_sigkill_mid_announcement_resumes_with_at_most_one_duplicate_per_connection(db, settings, env, smtp_sink):
    for n in range(MEMBERS):
        add_member(db, f"member{n:03d}@example.org", attributes={"region": "Wales"})
    a = make(db, settings, "attr:region=Wales", kind="statutory")
    lib.approve_announcement(db, a.id, by="e", now=NOW)
    lib.queue_announcement(db, settings, a.id, by="e", now=NOW)
    full_env = {**os.environ, **env, "DIGEST_SMTP_URL": smtp_sink.url}
    cmd = [sys.executable, "-m", "digest", "send", "--transport", "smtp"]
    proc = subprocess.Popen(cmd + ["--rate", "10", "--lease", "300", "--batch", "30"], env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        smtp_sink.wait_for(12, timeout=60)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    before = received(smtp_sink)
    connections = len({m.connection for m in smtp_sink.messages})
    assert 12 <= sum(before.values()) < MEMBERS
    done = subprocess.run(cmd + ["--reclaim"], env=full_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = received(smtp_sink)
    assert set(got) == {f"member{n:03d}@example.org" for n in range(MEMBERS)}  # nobody lost
    assert max(got.values()) <= 2
    assert len([r for r, n in got.items() if n > 1]) <= connections  # at most one in flight per connection
    with db.connect() as conn:
        assert Counter(conn.execute(select(deliveries.c.status)).scalars()) == {2: MEMBERS}


# ---- bad input: one line, exit status 1, nothing written --------------------------


@pytest.mark.parametrize("args, says", [
    (["--audience", "region=Wales"], "audience: 'region=Wales' is not one of"),
    (["--audience", "topics:nonsense"], "unknown topic 'nonsense'"),
    (["--audience", "saved:nobody"], "no saved audience 'nobody'"),
    (["--audience", "all", "--cta-label", "Go"], "call to action: give both"),
    (["--audience", "all", "--cta-label", "Go", "--cta-url", "javascript:alert(1)"], "use an http(s) address"),
    (["--audience", "all", "--picture", "https://example.org/p.jpg"], "picture: say what it shows"),
    (["--audience", "all", "--article", "999"], "article: 999: no such stored article"),
    (["--audience", "all", "--preheader", "Short"], "preheader: is 5 characters"),
])
def test_bad_input_is_one_line_and_exit_1(run_cli, tmp_path, db, args, says):
    body = tmp_path / "body.md"
    body.write_text(BODY, encoding="utf-8")
    result = run_cli("announcement", "create", "--subject", "Hello", "--body-file", body, *args)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and says in result.output and result.output.count("\n") == 1
    assert "no announcements yet" in run_cli("announcement", "list").output


def test_missing_body_file_and_wrong_states(run_cli, tmp_path, db):
    result = run_cli("announcement", "create", "--subject", "Hi", "--body-file", tmp_path / "nope.md",
                     "--audience", "all")
    assert result.exit_code == 1 and "--body-file" in result.output and "cannot be read" in result.output
    body = tmp_path / "body.md"
    body.write_text(BODY, encoding="utf-8")
    ok(run_cli("announcement", "create", "--subject", "Hi", "--body-file", body, "--audience", "all"))
    result = run_cli("announcement", "queue", "1")
    assert result.exit_code == 1 and "is a draft: approve it first" in result.output
    ok(run_cli("announcement", "approve", "1"))
    assert "queued 0 delivery(ies) of announcement-1" in ok(run_cli("announcement", "queue", "1")).output
    result = run_cli("announcement", "edit", "1", "--subject", "Changed")
    assert result.exit_code == 1 and "cannot change any more" in result.output
    result = run_cli("announcement", "show", "7")
    assert result.exit_code == 1 and result.output == "Error: announcement 7: no such announcement\n"


def test_cli_round_trip_with_saved_audience_preview_and_send_test(run_cli, tmp_path, db, settings, smtp_sink,
                                                                  monkeypatch):
    add_member(db, "gwen@example.org", attributes=WALES)
    add_member(db, "scot@example.org", attributes={"region": "Scotland"})
    out = ok(run_cli("announcement", "audience", "save", "fellows-wales", "attr:region=Wales,grade=fellow")).output
    assert "saved audience fellows-wales: attr:region=Wales,grade=fellow (1 member(s) now)" in out
    assert "fellows-wales" in ok(run_cli("announcement", "audience", "list")).output
    body = tmp_path / "body.md"
    body.write_text(BODY, encoding="utf-8")
    out = ok(run_cli("announcement", "create", "--subject", "AGM", "--body-file", body, "--audience",
                     "saved:fellows-wales", "--kind", "statutory", "--public")).output
    assert "created announcement 1 (statutory, draft) for saved:fellows-wales: 1 member(s) now" in out
    assert "1 member(s): saved:fellows-wales (statutory)" in ok(run_cli("announcement", "count", "1")).output
    out = ok(run_cli("announcement", "preview", "1", "--out", tmp_path / "p.html")).output
    assert "1 member(s) would get it now" in out
    html = (tmp_path / "p.html").read_text(encoding="utf-8")
    assert "Annual general meeting" in html and "https://news.example.org/unsubscribe/example" in html
    ok(run_cli("announcement", "preview", "1", "--out", tmp_path / "p.txt", "--format", "text"))
    assert "STATUTORY NOTICE" in (tmp_path / "p.txt").read_text(encoding="utf-8")
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    ok(run_cli("announcement", "send-test", "1", "--to", "editor@example.org", "--transport", "smtp"))
    assert smtp_sink.wait_for(1)[0].rcpt_tos == ("editor@example.org",)
    with db.connect() as conn:
        assert conn.execute(select(deliveries.c.id)).first() is None  # a test touches no delivery


def test_library_refuses_bad_fields(db, settings):
    with pytest.raises(AnnouncementError, match="body: is empty"):
        make_body(db, settings, "   ")
    with pytest.raises(AnnouncementError, match="only http"):
        make_body(db, settings, "See [this](ftp://example.org/x).")
    a = make(db, settings, "all")
    with pytest.raises(AnnouncementError, match="state: cannot be edited"):
        lib.edit_announcement(db, settings, a.id, {"state": "queued"}, by="e", now=NOW)
    approved = lib.approve_announcement(db, a.id, by="e", now=NOW)
    assert approved.state == "approved"
    edited = lib.edit_announcement(db, settings, a.id, {"subject": "New"}, by="e", now=NOW)
    assert (edited.state, edited.subject, edited.approved_by) == ("draft", "New", None)
    lib.approve_announcement(db, a.id, by="e", now=NOW)
    assert lib.withdraw_announcement(db, a.id, by="e", now=NOW).state == "draft"
    with pytest.raises(AnnouncementError, match="is a draft: approve it first"):
        lib.queue_announcement(db, settings, a.id, by="e", now=NOW)


def make_body(db, settings, body):
    return lib.create_announcement(db, settings, Announcement(subject="S", body=body, audience="all"), by="e", now=NOW)


def test_the_preference_page_turns_news_announcements_off_and_says_which_kinds(db, settings):
    from test_web import csrf_from
    from digest.message.links import Links
    from digest.sending.transports.memory import MemoryTransport
    from digest.web.app import create_app

    sub_id = add_member(db, "gwen@example.org")
    client = create_app(settings, db, transport_factory=MemoryTransport, clock=lambda: NOW).test_client()
    token = Links(settings.secret_key, settings.base_url).token("preferences", sub_id, 1)
    page = client.get(f"/preferences/{token}").get_data(as_text=True)
    assert 'id="news_announcements" name="news_announcements" value="1"' in page and "checked" in page
    assert "You get news announcements and statutory notices." in page
    form = {"csrf": csrf_from(page), "action": "save", "frequency": "weekly", "format": "html", "name": "Gwen",
            "paused": ["0"], "news_announcements": ["0"], "topics": list(settings.topic_slugs)}
    saved = client.post(f"/preferences/{token}", data=form).get_data(as_text=True)
    assert "Statutory notices only" in saved
    assert "You get statutory notices only." in client.get(f"/preferences/{token}").get_data(as_text=True)
    assert lib.audience_count(db, settings, "all", "news") == 0
    assert lib.audience_count(db, settings, "all", "statutory") == 1


def test_each_member_gets_the_announcement_in_their_language(db, env, tmp_path, run_cli, monkeypatch, smtp_sink):
    path = tmp_path / "digest.toml"
    path.write_text('[organisation]\nlanguages = ["en-GB", "cy"]\n', encoding="utf-8")
    env["DIGEST_CONFIG"] = str(path)
    monkeypatch.setenv("DIGEST_CONFIG", str(path))
    settings = load_settings(None, environ=env)
    add_member(db, "english@example.org", language="en-GB")
    add_member(db, "cymraeg@example.org", language="cy")
    a = make(db, settings, "all", kind="statutory")
    lib.approve_announcement(db, a.id, by="e", now=NOW)
    assert lib.queue_announcement(db, settings, a.id, by="e", now=NOW).variants == 2
    send(run_cli, monkeypatch, smtp_sink)
    by_address = {m.rcpt_tos[0]: m.message for m in smtp_sink.messages}
    welsh = by_address["cymraeg@example.org"].get_body(("plain",)).get_content()
    english = by_address["english@example.org"].get_body(("plain",)).get_content()
    assert "HYSBYSIAD STATUDOL" in welsh and "Rheoli eich dewisiadau" in welsh
    assert "STATUTORY NOTICE" in english and "Manage your preferences" in english
    assert 'lang="cy"' in by_address["cymraeg@example.org"].get_body(("html",)).get_content()
    previews = lib.variant_previews(db, settings, a.id, now=NOW)
    assert set(previews) == {"html", "text", "html:cy", "text:cy"}


def test_a_public_announcement_is_in_the_archive_and_a_private_one_is_not(db, settings, run_cli):
    from digest.sending.transports.memory import MemoryTransport
    from digest.web.app import create_app

    add_member(db, "gwen@example.org")
    public = make(db, settings, "all", public=True)
    private = make(db, settings, "all")
    for a in (public, private):
        lib.approve_announcement(db, a.id, by="e", now=NOW)
        lib.queue_announcement(db, settings, a.id, by="e", now=NOW)
    client = create_app(settings, db, transport_factory=MemoryTransport, clock=lambda: NOW).test_client()
    archive = client.get("/editions/").get_data(as_text=True)
    assert f'href="/editions/{public.key}"' in archive and private.key not in archive
    page = client.get(f"/editions/{public.key}")
    assert page.status_code == 200 and "Annual general meeting" in page.get_data(as_text=True)
    assert "/unsubscribe/" not in page.get_data(as_text=True)  # nobody's links on the web version
    assert client.get(f"/editions/{private.key}").status_code == 404
    # `digest queue KEY` refuses an announcement's row: it would send the digest's template to every due member.
    result = run_cli("queue", public.key)
    assert result.exit_code == 1 and "is an announcement" in result.output


def test_the_body_parser_reads_headings_lists_links_and_escapes_nothing_into_markup():
    from digest.edition.body import body_as_text, body_problem, parse_body

    blocks = parse_body("# Title\n\nA line\nwrapped, see https://example.org/x.\n\n- one\n* two\n\n1. first\n2) second"
                        "\n\n<script>alert(1)</script> [ok](https://example.org/ok)")
    assert [b.kind for b in blocks] == ["heading", "paragraph", "bullets", "numbers", "paragraph"]
    assert blocks[1].lines[0] == [("A line wrapped, see ", None), ("https://example.org/x", "https://example.org/x"),
                                  (".", None)]
    assert blocks[4].lines[0][0] == ("<script>alert(1)</script> ", None)  # text, escaped where it is shown
    assert body_as_text("- a\n- [b](https://example.org/b)\n\n## Next") == ["- a\n- b (https://example.org/b)", "NEXT"]
    assert body_problem("x" * 20001).startswith("is 20001 characters")
    assert body_problem("[x](mailto:a@example.org)").startswith("link ")
    assert body_problem("fine") is None


def test_audience_specs_have_one_spelling(settings):
    assert lib.parse_audience(" all ", settings).spec == "all"
    assert lib.parse_audience("topics: cyber-security , data-protection,cyber-security", settings).spec == \
        "topics:cyber-security,data-protection"
    assert lib.parse_audience("attr:region = Wales,grade=fellow", settings).spec == "attr:region=Wales,grade=fellow"
    assert lib.parse_audience("saved:fellows-wales", settings).spec == "saved:fellows-wales"
    for bad in ("", "everyone", "topics:", "attr:region", "attr:re\"gion=x", "saved:Bad Name"):
        with pytest.raises(AnnouncementError, match="^audience: "):
            lib.parse_audience(bad, settings)


def test_an_announcement_with_articles_and_a_picture_passes_the_send_preflight(db, env, run_cli, seed_path, tmp_path,
                                                                               feed_server, monkeypatch):
    """The picture is fetched once from a real local server and measured, so Outlook gets its width and height."""
    import io

    from PIL import Image

    from digest.checks.edition import check_edition
    from digest.db import editions as edition_db

    png = io.BytesIO()
    Image.new("RGB", (1200, 600), (30, 80, 140)).save(png, format="PNG")
    feed_server.serve("/hall.png", png.getvalue(), content_type="image/png")
    config = tmp_path / "digest.toml"
    config.write_text("[digest]\nhttp_images = true\nfetch_images = true\n", encoding="utf-8")
    for key, value in {"DIGEST_CONFIG": str(config), "DIGEST_FETCH_IMAGES": "true"}.items():
        env[key] = value
        monkeypatch.setenv(key, value)
    settings = load_settings(None, environ=env)
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    ids = [a["id"] for a in __import__("json").loads(ok(run_cli("articles", "--json")).output)[:2]]
    add_member(db, "gwen@example.org")
    a = make(db, settings, "all", articles=tuple(ids), picture_url=feed_server.url("/hall.png"),
             picture_alt="The hall set out for the meeting")
    assert (a.picture_width, a.picture_height) == (1200, 600)
    with pytest.raises(AnnouncementError, match="^picture: .*/missing.png: cannot be read"):
        lib.edit_announcement(db, settings, a.id, {"picture_url": feed_server.url("/missing.png")}, by="e", now=NOW)
    lib.approve_announcement(db, a.id, by="e", now=NOW)
    lib.queue_announcement(db, settings, a.id, by="e", now=NOW)
    with db.connect() as conn:
        failures = check_edition(db, settings, edition_db.load_edition(conn, a.key), now=NOW)
    assert set(failures) == {"*:html"} and failures["*:html"] == []
    assert "OK: 1 message(s) pass every check" in ok(run_cli("check", a.key)).output  # `digest check KEY` names an announcement's row too
    out = ok(run_cli("send", "--transport", "file")).output
    assert "sent 1," in out
    sent = next((tmp_path / "outbox").glob("*.eml")).read_bytes()
    html = email.message_from_bytes(sent, policy=email.policy.default).get_body(("html",)).get_content()
    assert 'width="536" height="268" alt="The hall set out for the meeting"' in html


def test_prune_keeps_a_statutory_notices_deliveries_as_evidence(db, settings, run_cli, monkeypatch, smtp_sink):
    long_ago = datetime(2020, 1, 6, 9, 0, tzinfo=timezone.utc)
    add_member(db, "gwen@example.org")
    kept, folded = make(db, settings, "all", kind="statutory"), make(db, settings, "all")
    for a in (kept, folded):
        lib.approve_announcement(db, a.id, by="e", now=long_ago)
        lib.queue_announcement(db, settings, a.id, by="e", now=long_ago)
    send(run_cli, monkeypatch, smtp_sink)
    ok(run_cli("prune"))
    with db.connect() as conn:
        left = Counter(conn.execute(select(deliveries.c.edition_id)).scalars())
    assert left == {lib.get_announcement(db, kept.id).edition_id: 1}
    assert len(lib.evidence(db, kept.id)) == 1

"""Editions, queueing and sending, end to end through the CLI against a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.db.schema import deliveries, edition_items, subscribers, variants
from conftest import ok

SAMPLES = Path(__file__).parent.parent / "samples"
SEED_TITLES = {
    "queen": "Queen’s speech: what to watch for and what’s missing",
    "mayor": "Socitm’s David Hopkins becomes Milton Keynes mayor",
    "strategy": "Some thoughts about the Government Transformation Strategy 2017-2020",
    "ordinary": "See beyond the ordinary with technology",
    "blockchain": "Blockchain technology: could it transform digitally-enabled councils?",
}



@pytest.fixture
def seeded(run_cli, seed_path):
    """The seed listing, dated in week 2017-W25, and a mix of members."""
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    members = [
        ("all@example.org", "All Topics", [], "weekly", "html"),
        ("dp@example.org", "Dana Protect", ["--topics", "data-protection"], "weekly", "html"),
        ("tech@example.org", "Siân Jones", ["--topics", "emerging-technology,member-news"], "weekly", "text"),
        ("skills@example.org", "Sam Skills", ["--topics", "skills-leadership"], "weekly", "html"),
        ("daily@example.org", "Dee Daily", [], "daily", "html"),
        ("monthly@example.org", "Mo Monthly", [], "monthly", "html"),
    ]
    for addr, name, topics, freq, fmt in members:
        ok(run_cli("subscribers", "add", addr, "--name", name, *topics, "--frequency", freq, "--format", fmt))
    return run_cli


def delivery_rows(db):
    with db.connect() as conn:
        q = (select(subscribers.c.email, deliveries.c.status, deliveries.c.attempts, deliveries.c.last_error,
                    variants.c.topics, variants.c.format)
             .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
             .join(variants, variants.c.id == deliveries.c.variant_id).order_by(subscribers.c.email))
        return {r.email: r for r in conn.execute(q)}


def received_by(sink):
    out = {}
    for m in sink.messages:
        for rcpt in m.rcpt_tos:
            out.setdefault(rcpt, []).append(email.message_from_bytes(m.data, policy=email.policy.default))
    return out


def body_text(msg, subtype):
    part = msg.get_body(preferencelist=(subtype,))
    return part.get_content() if part is not None else None


def test_edition_build_freezes_selection_and_refuses_change_after_queue(seeded, db):
    run = seeded
    out = ok(run("edition", "build", "--week", "2017-W25")).output
    assert "built 2017-W25 (weekly): 5 article(s)" in out
    with db.connect() as conn:
        titles = set(conn.execute(select(edition_items.c.title)).scalars())
    assert titles == set(SEED_TITLES.values())
    # An editor's change after building does not reach the frozen edition until it is rebuilt...
    ok(run("article", "summary", "1", "A short editor's summary."))
    with db.connect() as conn:
        summaries = list(conn.execute(select(edition_items.c.summary)).scalars())
    assert "A short editor's summary." not in summaries
    ok(run("edition", "build", "2017-W25"))
    with db.connect() as conn:
        summaries = list(conn.execute(select(edition_items.c.summary)).scalars())
    assert "A short editor's summary." in summaries
    # ...and once queued, it is frozen for good.
    ok(run("queue", "2017-W25"))
    refused = run("edition", "build", "2017-W25")
    assert refused.exit_code == 1
    assert "edition 2017-W25: was queued at" in refused.output


def test_queue_one_delivery_per_due_member_and_rerun_adds_only_new(seeded, db):
    run = seeded
    ok(run("edition", "build", "--week", "2017-W25"))
    result = ok(run("queue", "2017-W25"))
    assert "queued 3 delivery(ies)" in result.output
    assert "1 member(s) have no article of 2017-W25 in their topics" in result.output
    rows = delivery_rows(db)
    # skills-leadership has no article this week: no empty digest; daily/monthly are not due.
    assert set(rows) == {"all@example.org", "dp@example.org", "tech@example.org"}
    assert (rows["all@example.org"].topics, rows["all@example.org"].format) == ("", "html")  # all topics: stored as ""
    assert (rows["dp@example.org"].topics, rows["dp@example.org"].format) == ("data-protection", "html")
    assert (rows["tech@example.org"].topics, rows["tech@example.org"].format) == (
        "emerging-technology,member-news", "text")
    with db.connect() as conn:
        assert conn.execute(select(variants.c.id)).all().__len__() == 3
    again = ok(run("queue", "2017-W25"))
    assert "queued 0 delivery(ies)" in again.output
    ok(run("subscribers", "add", "late@example.org", "--topics", "data-protection"))
    late = ok(run("queue", "2017-W25"))
    assert late.output.splitlines()[-1] == "queued 1 delivery(ies) of 2017-W25"  # no new variant needed
    with db.connect() as conn:
        assert len(conn.execute(select(variants.c.id)).all()) == 3  # the late member shares a variant


def test_queue_an_edition_with_no_articles_queues_nothing(seeded, db):
    ok(seeded("edition", "build", "--week", "2017-W30"))
    result = ok(seeded("queue", "2017-W30"))
    assert "has no articles: nothing queued" in result.output
    assert delivery_rows(db) == {}


def test_each_member_gets_only_their_topics_and_format(seeded, db, smtp_sink, monkeypatch):
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    run = seeded
    ok(run("edition", "build", "--week", "2017-W25"))
    ok(run("queue", "2017-W25"))
    out = ok(run("send", "--transport", "smtp", "--connections", "2")).output
    assert "sent 3, retry later 0, failed 0, skipped 0" in out
    got = received_by(smtp_sink)
    assert set(got) == {"all@example.org", "dp@example.org", "tech@example.org"}
    assert all(len(v) == 1 for v in got.values())

    everything = got["all@example.org"][0]
    assert everything.get_content_type() == "multipart/alternative"
    for title in SEED_TITLES.values():
        assert title in body_text(everything, "plain")
        assert title.replace("’", "&#8217;") in body_text(everything, "html") or title in body_text(everything, "html")

    dp = got["dp@example.org"][0]
    dp_text = body_text(dp, "plain")
    assert SEED_TITLES["queen"] in dp_text
    for other in ("mayor", "strategy", "ordinary", "blockchain"):
        assert SEED_TITLES[other] not in dp_text
        assert SEED_TITLES[other] not in body_text(dp, "html")
    assert "Hello Dana," in dp_text

    tech = got["tech@example.org"][0]
    assert tech.get_content_type() == "text/plain"  # a text-format member gets no HTML at all
    tech_text = tech.get_content()
    for mine in ("mayor", "ordinary", "blockchain"):
        assert SEED_TITLES[mine] in tech_text
    assert SEED_TITLES["queen"] not in tech_text and SEED_TITLES["strategy"] not in tech_text
    assert "Hello Siân," in tech_text
    assert str(tech["To"]) == "Siân Jones <tech@example.org>"

    for msgs in got.values():
        m = msgs[0]
        assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert m["List-Unsubscribe"].startswith("<https://news.example.org/unsubscribe/")
        assert m["Message-ID"] and m["Date"] and m["List-Id"]
    rows = delivery_rows(db)
    assert {r.status for r in rows.values()} == {2}  # sent
    status = json.loads(ok(run("status", "2017-W25", "--json")).output)
    assert status["deliveries"]["sent"] == 3 and status["total"] == 3


def test_member_who_unsubscribes_between_queue_and_send_gets_nothing(seeded, db, smtp_sink, monkeypatch):
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    run = seeded
    ok(run("edition", "build", "--week", "2017-W25"))
    ok(run("queue", "2017-W25"))
    ok(run("subscribers", "unsubscribe", "dp@example.org"))
    ok(run("subscribers", "set", "all@example.org", "--pause"))
    ok(run("subscribers", "set", "tech@example.org", "--topics", "data-protection", "--format", "html"))
    out = ok(run("send", "--transport", "smtp")).output
    assert "sent 1, retry later 0, failed 0, skipped 2" in out
    got = received_by(smtp_sink)
    assert set(got) == {"tech@example.org"}
    # tech changed topics and format after queueing: re-planned to the matching variant.
    msg = got["tech@example.org"][0]
    assert msg.get_content_type() == "multipart/alternative"
    assert SEED_TITLES["queen"] in body_text(msg, "plain")
    assert SEED_TITLES["blockchain"] not in body_text(msg, "plain")
    rows = delivery_rows(db)
    assert rows["dp@example.org"].status == 4 and rows["dp@example.org"].last_error == "member is unsubscribed"
    assert rows["all@example.org"].status == 4
    assert (rows["tech@example.org"].topics, rows["tech@example.org"].format) == ("data-protection", "html")


def test_4xx_is_retried_later_and_5xx_fails_then_bounces(seeded, db, settings, smtp_sink):
    from dataclasses import replace
    from datetime import datetime, timedelta, timezone

    from digest.sending.transports import SmtpTransport
    from digest.editorial.build import build_edition
    from digest.editorial.build import queue_edition
    from digest.edition.periods import parse_period
    from digest.sending.worker import SendOptions, send_queue

    s = replace(settings, smtp_url=smtp_sink.url)
    smtp_sink.reply_for["dp@example.org"] = "550 5.1.1 No such user"
    smtp_sink.fail_first("tech@example.org", 1, "451 4.3.0 Try again later")
    t0 = datetime(2017, 6, 26, 7, 0, tzinfo=timezone.utc)
    clock = [t0]

    def transport():
        return SmtpTransport.from_url(smtp_sink.url)

    build_edition(db, s, parse_period("2017-W25", s.timezone), now=t0)
    queue_edition(db, s, "2017-W25", now=t0)
    stats = send_queue(db, replace(s, bounces=replace(s.bounces, threshold=1)), transport, SendOptions(),
                       clock=lambda: clock[0])
    assert (stats.sent, stats.retried, stats.failed) == (1, 1, 1)
    rows = delivery_rows(db)
    assert rows["tech@example.org"].status == 0 and rows["tech@example.org"].attempts == 1
    assert rows["tech@example.org"].last_error.startswith("451")
    assert rows["dp@example.org"].status == 3 and rows["dp@example.org"].last_error.startswith("550")
    with db.connect() as conn:
        status = conn.execute(select(subscribers.c.status).where(subscribers.c.email == "dp@example.org")).scalar()
    assert status == "bounced"
    # Not before its backoff...
    again = send_queue(db, s, transport, clock=lambda: clock[0] + timedelta(seconds=60))
    assert again.done == 0
    # ...then it goes.
    later = send_queue(db, s, transport, clock=lambda: clock[0] + timedelta(minutes=6))
    assert later.sent == 1
    assert delivery_rows(db)["tech@example.org"].status == 2
    assert [r for m in smtp_sink.messages for r in m.rcpt_tos].count("tech@example.org") == 1


def test_weekly_twice_sends_nothing_twice(seeded, db, tmp_path):
    run = seeded
    first = ok(run("weekly", "--week", "2017-W25", "--transport", "file"))
    assert "built 2017-W25" in first.output and "sent 3" in first.output
    outbox = tmp_path / "outbox"
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 3
    second = ok(run("weekly", "--week", "2017-W25", "--transport", "file"))
    assert "already built" in second.output and "sent 0" in second.output
    assert sorted(outbox.glob("*.eml")) == files
    for f in files:
        msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        # The lead story of the member's own variant, and how many more it carries.
        text = msg.get_body(preferencelist=("plain",)).get_content()
        stories = text.count("Read more: ") + text.count("Find it on our website: ")
        lead = msg["Subject"].removesuffix(f", and {stories - 1} more")
        assert lead != msg["Subject"] or stories == 1
        assert " ".join(lead.split()) in " ".join(text.split())


def test_run_refuses_a_period_of_another_frequency(seeded):
    result = seeded("run", "--frequency", "daily", "--week", "2017-W25", "--transport", "file")
    assert result.exit_code == 2
    assert "2017-W25 is a weekly period, not daily" in result.output


def test_queue_unknown_edition_is_one_line_error(seeded):
    result = seeded("queue", "2017-W26")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: edition 2017-W26: is not built; run `digest edition build` first"


def test_a_broken_transport_stops_the_run_and_loses_nobody(seeded, db, monkeypatch):
    from smtp_server import SmtpSink

    with SmtpSink(auth=("digest", "right-password")) as sink:
        monkeypatch.setenv("DIGEST_SMTP_URL", sink.url_for("digest", "wrong-password"))
        ok(seeded("edition", "build", "--week", "2017-W25"))
        ok(seeded("queue", "2017-W25"))
        result = seeded("send", "--transport", "smtp")
        assert result.exit_code == 1
        assert "Error: stopped sending:" in result.output and "535" in result.output
        assert "wrong-password" not in result.output
        assert sink.messages == []
    rows = delivery_rows(db)
    assert {(r.status, r.attempts) for r in rows.values()} == {(0, 0)}  # still queued, no attempt spent


def test_send_test_mails_one_variant_and_touches_no_delivery(seeded, db, smtp_sink, monkeypatch):
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    ok(seeded("edition", "build", "--week", "2017-W25"))
    out = ok(seeded("send-test", "2017-W25", "--to", "Editor@Example.org", "--variant", "member-news:text",
                    "--transport", "smtp")).output
    assert "sent a test of 2017-W25 (member-news:text) to Editor@example.org via smtp" in out
    (m,) = smtp_sink.messages
    assert list(m.rcpt_tos) == ["Editor@example.org"]
    msg = email.message_from_bytes(m.data, policy=email.policy.default)
    assert msg.get_content_type() == "text/plain"
    assert SEED_TITLES["mayor"] in msg.get_content() and SEED_TITLES["queen"] not in msg.get_content()
    assert delivery_rows(db) == {}
    empty = seeded("send-test", "2017-W25", "--to", "editor@example.org", "--variant", "skills-leadership")
    assert empty.exit_code == 1 and "would be empty" in empty.output
    bad = seeded("send-test", "2017-W25", "--to", "not-an-address")
    assert bad.exit_code == 1 and "not-an-address" in bad.output


def test_a_member_who_joins_after_the_build_gets_a_variant_rendered_at_queue_time(seeded, db):
    ok(seeded("edition", "build", "--week", "2017-W25"))
    ok(seeded("subscribers", "add", "new@example.org", "--topics", "smart-places", "--format", "text"))
    out = ok(seeded("queue", "2017-W25")).output
    assert "(1 new variant(s) rendered for members who joined since the build)" in out
    assert (delivery_rows(db)["new@example.org"].topics, delivery_rows(db)["new@example.org"].format) == (
        "smart-places", "text")


def test_a_slow_rate_claims_small_batches_that_finish_within_their_lease(seeded, db, settings):
    from digest.sending.transports import MemoryTransport
    from digest.sending.worker import SendOptions, send_queue

    ok(seeded("edition", "build", "--week", "2017-W25"))
    ok(seeded("queue", "2017-W25"))
    memory = MemoryTransport()
    stats = send_queue(db, settings, lambda: memory, SendOptions(rate=2, lease_seconds=1, batch=200))
    assert stats.sent == 3 and stats.batches == 3  # 2/s x 1 s / 2 -> one delivery per claim


def test_with_dkim_configured_every_sent_message_is_signed_and_verifies(seeded, tmp_path, monkeypatch):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from digest.config import load_settings
    from digest.message.dkim import dkim_record, verify

    key = tmp_path / "dkim.pem"
    key.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    for name, value in {"DIGEST_DKIM_DOMAIN": "example.org", "DIGEST_DKIM_SELECTOR": "digest1",
                        "DIGEST_DKIM_KEY_FILE": str(key)}.items():
        monkeypatch.setenv(name, value)
    ok(seeded("weekly", "--week", "2017-W25", "--transport", "file"))
    record = dkim_record(load_settings())
    assert record.startswith("digest1._domainkey.example.org. IN TXT")
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 3
    for f in files:
        raw = f.read_bytes()
        assert raw.startswith(b"DKIM-Signature: v=1; a=rsa-sha256;")
        assert verify(raw, record)
        assert not verify(raw.replace(b"Subject: ", b"Subject: Re: ", 1), record)
    out = ok(seeded("check", *[str(f) for f in files])).output
    assert "OK: 3 message(s) pass every check (DKIM signature verified)" in out


def _statuses(db):
    with db.connect() as conn:
        return sorted(conn.execute(select(deliveries.c.status, deliveries.c.attempts)).all())


def test_send_queue_from_python_refuses_an_edition_that_fails_its_checks(seeded, db, settings):
    from dataclasses import replace

    from digest.errors import CheckError
    from digest.sending.transports import MemoryTransport
    from digest.sending.worker import SendOptions, send_queue

    ok(seeded("edition", "build", "--week", "2017-W25"))
    ok(seeded("queue", "2017-W25"))
    before = _statuses(db)
    memory = MemoryTransport()
    no_address = replace(settings, address="")  # mailbox providers (and the law) want a postal address
    with pytest.raises(CheckError) as refused:
        send_queue(db, no_address, lambda: memory, SendOptions())
    assert "edition 2017-W25" in str(refused.value) and "postal-address" in str(refused.value)
    assert memory.sent == [] and _statuses(db) == before  # nothing claimed, no attempt spent
    stats = send_queue(db, settings, lambda: memory, SendOptions())
    assert stats.sent == 3 and len(memory.sent) == 3


def test_digest_send_refuses_an_edition_that_fails_its_checks(seeded, db, tmp_path, monkeypatch):
    ok(seeded("edition", "build", "--week", "2017-W25"))
    ok(seeded("queue", "2017-W25"))
    before = _statuses(db)
    config = tmp_path / "bare.toml"
    config.write_text('[organisation]\naddress = ""\n')
    result = seeded("--config", str(config), "send", "--transport", "file")
    assert result.exit_code == 1
    assert "edition 2017-W25" in result.output and "postal-address" in result.output
    assert not (tmp_path / "outbox").exists() or not list((tmp_path / "outbox").glob("*.eml"))
    assert _statuses(db) == before


def test_the_mailing_is_one_library_call_the_desk_and_cron_share(seeded, db, settings, tmp_path):
    """run_mailing reports each step as it goes; queue-only (the desk) and with a send (cron) are the same call."""
    from datetime import datetime, timezone

    from digest.edition.periods import parse_period
    from digest.editorial.mailing import Mailing, Steps, run_mailing
    from digest.sending.worker import SendOptions

    class Recorded(Steps):
        def __init__(self):
            self.seen = []

        def edition(self, report):
            self.seen.append(("edition", report.key, report.queued.queued if report.queued else None))

        def sending(self, kind, limit):
            self.seen.append(("sending", kind, limit))
            return super().sending(kind, limit)

    clock = lambda: datetime(2017, 6, 26, 7, 0, tzinfo=timezone.utc)  # noqa: E731
    week = parse_period("2017-W25", settings.timezone)
    steps = Recorded()
    desk = run_mailing(db, settings, Mailing([week], fetch=False, tell=False), steps, clock=clock)
    assert desk.sent is None and desk.held == [] and steps.seen == [("edition", "2017-W25", 3)]
    assert desk.editions[0].built is not None and len(desk.editions[0].built.items) == 5

    steps = Recorded()
    cron = run_mailing(db, settings, Mailing([week], send=SendOptions(limit=2), transport="file"), steps, clock=clock)
    assert cron.editions[0].already_queued and (cron.sent.sent, cron.sent.failed) == (2, 0)
    assert steps.seen == [("edition", "2017-W25", None), ("sending", "file", 2)]
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2

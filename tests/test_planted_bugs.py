"""Behaviours that small planted bugs slipped past: each test names the bug it catches.

Thirty-two deliberate bugs were planted one at a time; these seven passed the
whole suite before these tests. Each test asserts what a member or an
operator sees: rows, messages at the SMTP server, exit statuses.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from test_mailing import delivery_rows, ok, received_by, seeded  # seeded: a fixture, used by name

from digest.db import members as member_db
from digest.db.schema import subscribers
from digest.edition.summarise import ELLIPSIS, trim_words

T0 = datetime(2017, 6, 26, 7, 0, tzinfo=timezone.utc)


# ---------------------------------------------------------------- summaries


@pytest.mark.parametrize("words", [1, 2, 3, 6, 9, 10, 50])
def test_a_summary_ends_at_every_sentence_end_that_fits_the_last_third(words):
    """Bugs: the search for a sentence end stops one word early; a summary runs past a sentence end that fits."""
    earliest = words - words // 3
    for end in range(1, words + 4):  # one sentence end, at every position in turn
        tokens = [f"w{n}" for n in range(1, words + 6)]
        tokens[end - 1] += "."
        got = trim_words(" ".join(tokens), words)
        if max(earliest, 1) <= end <= words:
            assert got == " ".join(tokens[:end]), (words, end)
        else:
            assert got == " ".join(tokens[:words]) + ELLIPSIS, (words, end)
        assert len(got.split()) <= words


def test_the_latest_sentence_end_in_the_budget_wins():
    text = "one two three four five six seven. eight nine ten. eleven twelve"
    assert trim_words(text, 10) == "one two three four five six seven. eight nine ten."
    assert trim_words(text, 11) == "one two three four five six seven. eight nine ten."


# ---------------------------------------------------------------- members


def test_one_click_by_a_member_who_complained_leaves_the_complaint(db, settings):
    """Bug: a one-click unsubscribe turned a complaint into an unsubscribe."""
    from digest.message.links import Links
    from digest.web import create_app

    with db.begin() as conn:
        sub = member_db.add(conn, "angry@example.org", None, (), now=T0)
        member_db.set_status(conn, sub.id, "complained", source="system", now=T0)
    token = Links(settings.secret_key, settings.base_url).token("unsubscribe", sub.id, sub.token_version)
    client = create_app(settings, db).test_client()
    for _ in range(2):
        assert client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200
    with db.connect() as conn:
        assert member_db.get_by_id(conn, sub.id).status == "complained"
        actions = [e["action"] for e in member_db.list_events(conn, sub.id)]
    assert "unsubscribe" not in actions


def test_a_paused_member_is_not_queued(seeded, db):
    """Bug: queueing ignored paused (only the send-time re-check saved them)."""
    run = seeded
    ok(run("subscribers", "set", "dp@example.org", "--pause"))
    ok(run("edition", "build", "--week", "2017-W25"))
    assert "queued 2 delivery(ies)" in ok(run("queue", "2017-W25")).output
    assert sorted(delivery_rows(db)) == ["all@example.org", "tech@example.org"]


def test_a_member_who_moved_to_monthly_after_queueing_gets_no_weekly(seeded, db, smtp_sink, monkeypatch):
    """Bug: the send-time re-check compared the edition's frequency with itself."""
    run = seeded
    ok(run("edition", "build", "--week", "2017-W25"))
    ok(run("queue", "2017-W25"))
    ok(run("subscribers", "set", "dp@example.org", "--frequency", "monthly"))
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    assert "sent 2" in ok(run("send", "--transport", "smtp")).output
    assert sorted(received_by(smtp_sink)) == ["all@example.org", "tech@example.org"]
    row = delivery_rows(db)["dp@example.org"]
    assert row.status == 4 and row.last_error == "member now wants monthly emails, this edition is weekly"


# ---------------------------------------------------------------- the sender's outcomes


def _send_until_settled(db, settings, smtp_sink, options, rounds=6):
    from digest.edition.periods import parse_period
    from digest.editorial.build import build_edition
    from digest.editorial.build import queue_edition
    from digest.sending.transports import SmtpTransport
    from digest.sending.worker import send_queue

    build_edition(db, settings, parse_period("2017-W25", settings.timezone), now=T0)
    queue_edition(db, settings, "2017-W25", now=T0)
    for n in range(rounds):  # each round after the longest backoff (6 h)
        send_queue(db, settings, lambda: SmtpTransport.from_url(smtp_sink.url), options,
                   clock=lambda n=n: T0 + timedelta(hours=7 * n))


def test_a_delivery_that_always_gets_451_fails_after_max_attempts(seeded, db, settings, smtp_sink):
    """Bug: `attempts >= max_attempts` as `>`: it failed after 4 attempts instead of 3."""
    from digest.sending.worker import SendOptions

    smtp_sink.fail_first("tech@example.org", 100)  # 451, always
    _send_until_settled(db, replace(settings, smtp_url=smtp_sink.url), smtp_sink, SendOptions(max_attempts=3))
    assert smtp_sink.attempts["tech@example.org"] == 3
    row = delivery_rows(db)["tech@example.org"]
    assert (row.status, row.attempts) == (3, 3)
    assert row.last_error.startswith("gave up after 3 attempts: 451")
    assert "tech@example.org" not in received_by(smtp_sink)


def test_giving_up_on_temporary_failures_is_not_a_hard_bounce(seeded, db, settings, smtp_sink):
    """Bug: temporary failures that gave up were counted as hard bounces and marked the member bounced."""
    from digest.sending.worker import SendOptions

    smtp_sink.fail_first("tech@example.org", 100)
    smtp_sink.reply_for["dp@example.org"] = "550 5.1.1 No such user"  # a real hard bounce, for contrast
    _send_until_settled(db, replace(settings, smtp_url=smtp_sink.url, bounces=replace(settings.bounces, threshold=1)),
                        smtp_sink, SendOptions(max_attempts=2))
    with db.connect() as conn:
        rows = {r.email: (r.status, r.hard_bounces) for r in conn.execute(
            select(subscribers.c.email, subscribers.c.status, subscribers.c.hard_bounces))}
    assert rows["tech@example.org"] == ("active", 0)
    assert rows["dp@example.org"] == ("bounced", 1)
    assert delivery_rows(db)["tech@example.org"].status == 3


def test_send_refuses_an_edition_that_fails_its_checks(seeded, db, smtp_sink, monkeypatch, tmp_path):
    """Bug: without the pre-flight, `digest send` exited 0 and sent an edition that fails `digest check`."""
    run = seeded
    ok(run("edition", "build", "--week", "2017-W25"))
    ok(run("queue", "2017-W25"))
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    # Bulk mail must carry a postal address: without one, every message fails the checks.
    (tmp_path / "no-address.toml").write_text('[organisation]\naddress = ""\n', encoding="utf-8")
    monkeypatch.setenv("DIGEST_CONFIG", str(tmp_path / "no-address.toml"))
    result = run("send", "--transport", "smtp")
    assert result.exit_code == 1
    assert "check(s) failed" in result.stderr and "postal address" in result.stderr
    assert smtp_sink.messages == [] and smtp_sink.attempts == {}
    assert {r.status for r in delivery_rows(db).values()} == {0}
    assert {r.attempts for r in delivery_rows(db).values()} == {0}

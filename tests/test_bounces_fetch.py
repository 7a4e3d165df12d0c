"""digest bounces fetch against a real Dovecot (tests/imap_server.py), a Maildir and files.

An edition is really sent (file transport, VERP on); the reports that come
back are written the way relays and mailbox providers write them
(tests/bounce_samples.py), addressed to each delivery's VERP address, and
appended to a real IMAP INBOX.
"""

from __future__ import annotations

import json
import os
import mailbox
import re
from urllib.parse import unquote
from pathlib import Path

import pytest
from sqlalchemy import select

import bounce_samples as s
from imap_server import dovecot  # noqa: F401  (the fixture)
from digest.bounces.parse import Report
from digest.bounces.policy import decide
from digest.config import BounceSettings
from digest.db import members as subscriber_db
from digest.db.schema import deliveries, editions, inbound_reports, subscribers
from digest.message.verp import ReturnPath
from conftest import ok

BOUNCE = "bounces@news.example.org"
MAILTO = "leave@news.example.org"
MEMBERS = ["ada", "bob", "cy", "dee", "eve", "fay", "gil"]



@pytest.fixture
def env(env, tmp_path):
    config = tmp_path / "digest.toml"
    config.write_text(f'[digest]\nunsubscribe_mailto = "{MAILTO}"\n\n[bounces]\naddress = "{BOUNCE}"\n')
    return {**env, "DIGEST_CONFIG": str(config)}


@pytest.fixture
def sent(run_cli, seed_path, tmp_path, db, settings):
    """Week 2017-W25 sent to seven members through the file transport; per member: delivery, VERP, bytes."""
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    csv = tmp_path / "members.csv"
    csv.write_text("email,name,topics,frequency\n" + "".join(f"{m}@example.net,{m.title()},,weekly\n" for m in MEMBERS))
    ok(run_cli("subscribers", "import", csv))
    ok(run_cli("weekly", "--week", "2017-W25", "--transport", "file"))
    rp = ReturnPath(settings.secret_key, BOUNCE)
    out = {}
    with db.connect() as conn:
        rows = conn.execute(select(subscribers.c.email, deliveries.c.id).join(
            deliveries, deliveries.c.subscriber_id == subscribers.c.id)).all()
    for addr, did in rows:
        eml = next((tmp_path / "outbox").glob(f"edition.2017-W25.{did}@*.eml"))
        out[addr.split("@")[0]] = {"delivery": did, "verp": rp.address(did), "original": eml.read_bytes(),
                                   "email": addr}
    assert set(out) == set(MEMBERS)
    return out


def reports_for(sent) -> dict[str, bytes]:
    m = sent
    forged = m["gil"]["verp"].rsplit("-", 1)[0] + "-aaaaaaaaaaaaaaaa@news.example.org"
    return {
        "ada": s.postfix_dsn(to=m["ada"]["verp"], recipient="ada@example.net", original=m["ada"]["original"]),
        "bob": s.gmail_plain(to=m["bob"]["verp"], recipient="bob@example.net", original=m["bob"]["original"]),
        "cy": s.exchange_ndr(to=m["cy"]["verp"], recipient="cy@example.net", original=m["cy"]["original"],
                             status="5.2.2", reply="STOREDRV.Deliver; mailbox full"),
        "cy-delay": s.postfix_dsn(to=m["cy"]["verp"], recipient="cy@example.net", original=m["cy"]["original"],
                                  status="4.4.1", action="delayed", diagnostic="X-Postfix; connect timed out",
                                  message_id="<delay.1@mx1.relay.example.com>"),
        "dee": s.arf_complaint(recipient=None, original=m["dee"]["original"], envelope_from=m["dee"]["verp"]),
        "eve": s.out_of_office(to=m["eve"]["verp"], sender="eve@example.net",
                               original_message_id=f"<edition.2017-W25.{m['eve']['delivery']}@example.org>"),
        "fay": s.unsubscribe_request(sender="Fay@Example.net", to=MAILTO, subject=mailto_subject(m["fay"]["original"])),
        "garbled": s.garbled(),
        # A bounce anyone could write: a made-up VERP token, naming gil's address, quoting nothing of ours.
        "gil-forged": s.postfix_dsn(to=forged, recipient="gil@example.net",
                                    original=b"From: news@example.org\r\nTo: gil@example.net\r\nSubject: x\r\n\r\n",
                                    message_id="<forged.1@relay.example.com>"),
    }


def mailto_subject(original: bytes) -> str:
    """The subject a mail client writes from the List-Unsubscribe mailto of a message we sent."""
    header = s.parse(original)["List-Unsubscribe"]
    return unquote(re.search(r"<mailto:[^?>]+\?(?:[^>]*&)?subject=([^&>]*)", header, re.I).group(1))


def statuses(db) -> dict[str, str]:
    with db.connect() as conn:
        return {e.split("@")[0]: st for e, st in conn.execute(select(subscribers.c.email, subscribers.c.status))}


def events_of(db, name):
    with db.connect() as conn:
        sub = subscriber_db.get_by_email(conn, f"{name}@example.net")
        return subscriber_db.list_events(conn, sub.id)


def test_fetch_from_dovecot_acts_files_and_is_idempotent(sent, run_cli, db, dovecot):
    reports = reports_for(sent)
    for raw in reports.values():
        dovecot.append(raw)
    out = ok(run_cli("bounces", "fetch", "--imap", dovecot.url)).output
    assert "bounces: 9 message(s)" in out, out

    assert statuses(db) == {"ada": "bounced", "bob": "bounced", "cy": "active", "dee": "complained",
                            "eve": "active", "fay": "unsubscribed", "gil": "active"}
    ada = events_of(db, "ada")[-1]
    assert (ada["source"], ada["action"]) == ("report", "bounce")
    assert ada["detail"]["status"] == ["active", "bounced"]
    assert ada["detail"]["report"] == "<20170620081403.5C1F2A0@mx1.relay.example.com>"
    assert ada["detail"]["code"] == "5.1.1" and ada["detail"]["edition"] == "2017-W25"
    bob = events_of(db, "bob")[-1]
    assert bob["detail"]["code"] == "5.2.1" and bob["detail"]["status"] == ["active", "bounced"]
    dee = events_of(db, "dee")[-1]
    assert (dee["action"], dee["detail"]["status"]) == ("complaint", ["active", "complained"])
    assert dee["detail"]["report"] == "<fbl.20170621.000012@feedback.mailbox.example>"
    assert "complaint" in dee["detail"]["reason"]
    fay = events_of(db, "fay")[-1]
    assert (fay["action"], fay["detail"]["status"]) == ("unsubscribe", ["active", "unsubscribed"])
    # cy: a mailbox-full bounce and a delay of the same delivery count once, and do not bounce her yet
    cy = [e for e in events_of(db, "cy") if e["source"] == "report"]
    assert [e["detail"]["code"] for e in cy] == ["5.2.2", "4.4.1"]
    assert all("1 of 3 within 30 days" in e["detail"]["reason"] for e in cy)
    assert [e for e in events_of(db, "eve") if e["source"] == "report"] == []
    assert [e for e in events_of(db, "gil") if e["source"] == "report"] == []

    # Nothing deleted: seven understood in processed, the garbled one and the forgery in quarantine.
    assert dovecot.messages("INBOX") == []
    assert len(dovecot.messages("processed")) == 7
    quarantined = dovecot.messages("quarantine")
    assert sorted(quarantined) == sorted([reports["garbled"], reports["gil-forged"]])
    listed = json.loads(ok(run_cli("bounces", "quarantine", "--json")).output)
    assert {r["report"] for r in listed} == {"<garbled.1@nowhere.example>", "<forged.1@relay.example.com>"}
    assert any("not attributable" in r["reason"] for r in listed)

    # Again: an empty INBOX changes nothing; the same reports delivered twice change nothing either.
    with db.connect() as conn:
        before = (statuses(db), conn.execute(select(inbound_reports)).all())
    counts = {m: len(events_of(db, m)) for m in MEMBERS}
    assert "bounces: 0 message(s)" in ok(run_cli("bounces", "fetch", "--imap", dovecot.url)).output
    for key in ("ada", "cy", "garbled"):
        dovecot.append(reports[key])
    out = ok(run_cli("bounces", "fetch", "--imap", dovecot.url)).output
    assert out.count("(seen before)") == 3
    with db.connect() as conn:
        assert (statuses(db), conn.execute(select(inbound_reports)).all()) == before
    assert {m: len(events_of(db, m)) for m in MEMBERS} == counts
    assert len(dovecot.messages("processed")) == 9 and len(dovecot.messages("quarantine")) == 3


def test_bounced_member_reactivated_by_an_administrator_with_an_audit_entry(sent, run_cli, db, tmp_path):
    eml = tmp_path / "ada.eml"
    eml.write_bytes(reports_for(sent)["ada"])
    ok(run_cli("bounces", "fetch", eml))
    assert statuses(db)["ada"] == "bounced"
    ok(run_cli("subscribers", "set", "ada@example.net", "--status", "active"))
    last = events_of(db, "ada")[-1]
    assert (last["source"], last["action"], last["detail"]["status"]) == ("cli", "resubscribe", ["bounced", "active"])
    assert statuses(db)["ada"] == "active"


def test_maildir_and_mbox_files(sent, run_cli, db, tmp_path):
    reports = reports_for(sent)
    md = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    md.add(reports["ada"])
    md.add(reports["garbled"])
    out = ok(run_cli("bounces", "fetch", "--maildir", tmp_path / "Maildir")).output
    assert "bounces: 2 message(s)" in out
    md = mailbox.Maildir(str(tmp_path / "Maildir"), create=False)
    assert len(md) == 0
    assert [m.get("Message-ID") for m in md.get_folder("processed")] == ["<20170620081403.5C1F2A0@mx1.relay.example.com>"]
    assert [m.get("Message-ID") for m in md.get_folder("quarantine")] == ["<garbled.1@nowhere.example>"]

    box = mailbox.mbox(str(tmp_path / "returned.mbox"))
    for key in ("bob", "dee"):
        box.add(reports[key])
    box.flush()
    out = ok(run_cli("bounces", "fetch", tmp_path / "returned.mbox")).output
    assert "bounced bob@example.net" in out and "complained dee@example.net" in out
    assert (tmp_path / "returned.mbox").exists()  # files are only read
    assert statuses(db)["bob"] == "bounced" and statuses(db)["dee"] == "complained"


def test_a_missing_file_is_one_line_and_nothing_is_done(sent, run_cli, db, tmp_path):
    eml = tmp_path / "ada.eml"
    eml.write_bytes(reports_for(sent)["ada"])
    r = run_cli("bounces", "fetch", eml, tmp_path / "nope.eml")
    assert r.exit_code != 0 and "nope.eml" in r.output
    assert statuses(db)["ada"] == "active"


def test_an_unreachable_imap_server_is_one_line(run_cli):
    r = run_cli("bounces", "fetch", "--imap", "imap://u:secretpw@127.0.0.1:1/INBOX")
    assert r.exit_code == 1 and "cannot connect" in r.output and "secretpw" not in r.output


@pytest.mark.parametrize("kind, status, before, outcome, new", [
    ("bounce", "5.1.1", 0, "bounced", "bounced"),
    ("bounce", "5.1.10", 0, "bounced", "bounced"),
    ("bounce", "5.2.1", 0, "bounced", "bounced"),
    ("bounce", "5.2.2", 0, "counted", None),
    ("bounce", "5.7.1", 1, "counted", None),
    ("delay", "4.4.1", 2, "bounced", "bounced"),  # the third failed delivery within the window
    ("bounce", "5.4.4", 2, "bounced", "bounced"),
])
def test_policy(kind, status, before, outcome, new):
    d = decide(Report(kind, "dsn", status=status), member_status="active", failures_before=before,
               policy=BounceSettings())
    assert (d.outcome, d.new_status) == (outcome, new)


def test_policy_threshold_and_window_come_from_config():
    d = decide(Report("bounce", "dsn", status="5.2.2"), member_status="active", failures_before=0,
               policy=BounceSettings(threshold=1))
    assert d.new_status == "bounced"
    d = decide(Report("bounce", "dsn", status="5.1.1"), member_status="active", failures_before=0,
               policy=BounceSettings(permanent=()))
    assert d.new_status is None


def test_a_complaint_outranks_an_unsubscribe_and_nothing_changes_a_member_who_left_twice():
    assert decide(Report("complaint", "arf"), member_status="unsubscribed", failures_before=0,
                  policy=BounceSettings()).new_status == "complained"
    assert decide(Report("unsubscribe", "mail"), member_status="complained", failures_before=0,
                  policy=BounceSettings()).new_status is None
    assert decide(Report("bounce", "dsn", status="5.1.1"), member_status="unsubscribed", failures_before=0,
                  policy=BounceSettings()).new_status is None


WEEK26_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Network news</title><link>https://www.example.org/</link>
<description>News</description>
<item><title>Councils publish their cyber security plans</title>
<link>https://www.example.org/2017/06/28/cyber-plans/</link>
<guid>https://www.example.org/?p=9001</guid>
<pubDate>Wed, 28 Jun 2017 10:00:00 +0100</pubDate>
<category>Cyber security</category>
<description>Three councils set out how they will answer ransomware and phishing this year.</description>
</item></channel></rss>
"""


def test_full_loop_smtp_send_dsn_to_the_return_path_imap_fetch_by_digest_weekly(
        run_cli, seed_path, tmp_path, db, smtp_sink, dovecot, monkeypatch):
    """weekly sends over SMTP; the relay's DSN goes to the Return-Path; the next weekly reads it first."""
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    for m in ("ada", "bob"):
        ok(run_cli("subscribers", "add", f"{m}@example.net", "--name", m.title()))
    ok(run_cli("weekly", "--week", "2017-W25", "--transport", "smtp"))
    sent = {msg.rcpt_tos[0]: msg for msg in smtp_sink.wait_for(2)}
    ada = sent["ada@example.net"]
    assert ada.mail_from.startswith("bounces+") and ada.mail_from.endswith("@news.example.org")
    assert ada.mail_from != sent["bob@example.net"].mail_from
    assert "ada" not in ada.mail_from  # the token carries no address

    # The relay accepted it, then the member's server said no: a DSN to the Return-Path, days later.
    dovecot.append(s.postfix_dsn(to=ada.mail_from, recipient="ada@example.net", original=ada.data))
    feed = tmp_path / "week26.xml"
    feed.write_text(WEEK26_FEED)
    ok(run_cli("ingest", feed))
    monkeypatch.setenv("DIGEST_BOUNCE_IMAP_URL", dovecot.url)
    out = ok(run_cli("weekly", "--week", "2017-W26", "--transport", "smtp")).output
    assert "bounced ada@example.net" in out
    assert statuses(db) == {"ada": "bounced", "bob": "active"}
    with db.connect() as conn:
        w26 = conn.execute(select(subscribers.c.email)
                           .join(deliveries, deliveries.c.subscriber_id == subscribers.c.id)
                           .join(editions, editions.c.id == deliveries.c.edition_id)
                           .where(editions.c.key == "2017-W26")).scalars().all()
    assert w26 == ["bob@example.net"]  # the bounced member is not queued for the next edition
    received = [m.rcpt_tos[0] for m in smtp_sink.messages]
    assert sorted(received) == ["ada@example.net", "bob@example.net", "bob@example.net"]
    assert len(dovecot.messages("processed")) == 1 and dovecot.messages("INBOX") == []


def test_forgetting_a_member_erases_the_address_from_their_reports(sent, run_cli, db, tmp_path):
    eml = tmp_path / "ada.eml"
    eml.write_bytes(reports_for(sent)["ada"])
    ok(run_cli("bounces", "fetch", eml))
    ok(run_cli("subscribers", "forget", "ada@example.net", input="y\n"))
    with db.connect() as conn:
        rows = conn.execute(select(inbound_reports.c.subscriber_id, inbound_reports.c.detail)).all()
    assert rows == [(None, "{}")]
    # The same report again changes nothing and names nobody.
    assert "(seen before)" in ok(run_cli("bounces", "fetch", eml)).output
    # A later report about the forgotten member's delivery is filed away, keeping nothing of it.
    late = tmp_path / "late.eml"
    late.write_bytes(s.qmail_bounce(to=sent["ada"]["verp"], recipient="ada@example.net",
                                    original=sent["ada"]["original"]))
    assert "bounce -> ignored [processed]" in ok(run_cli("bounces", "fetch", late)).output
    with db.connect() as conn:
        rows = conn.execute(select(inbound_reports.c.subscriber_id, inbound_reports.c.detail)
                            .order_by(inbound_reports.c.id)).all()
    assert rows == [(None, "{}"), (None, '{"reason": "the member was forgotten"}')]


def test_two_fetches_racing_on_one_report_change_the_member_once(sent, db, settings, monkeypatch):
    """The second process's transaction, started before the first committed, is rolled back whole."""
    from datetime import datetime, timezone

    from digest.bounces.process import Processor
    from digest.db import reports as reports_db

    raw = reports_for(sent)["cy"]
    proc = Processor(db, settings, clock=lambda: datetime.now(timezone.utc))
    first = proc.process(raw, "one")
    real_seen = reports_db.seen
    looks = []

    def seen_too_early(conn, key):  # the second process looks before the first has committed...
        looks.append(key)
        return None if len(looks) == 1 else real_seen(conn, key)  # ...and finds it when it looks again

    monkeypatch.setattr(reports_db, "seen", seen_too_early)
    second = proc.process(raw, "two")
    assert (first.duplicate, second.duplicate, second.outcome) == (False, True, "counted")
    assert len([e for e in events_of(db, "cy") if e["source"] == "report"]) == 1


def test_fetch_json_and_quarantine_text(sent, run_cli, tmp_path):
    reports = reports_for(sent)
    files = []
    for key in ("ada", "eve", "garbled"):
        files.append(tmp_path / f"{key}.eml")
        files[-1].write_bytes(reports[key])
    data = json.loads(ok(run_cli("bounces", "fetch", "--json", *files)).output)
    assert [(d["kind"], d["outcome"], d["folder"], d["member"]) for d in data] == [
        ("bounce", "bounced", "processed", "ada@example.net"),
        ("auto-reply", "ignored", "processed", None),
        ("unknown", "quarantined", "quarantine", None)]
    text = ok(run_cli("bounces", "quarantine")).output
    assert "<garbled.1@nowhere.example>" in text and "1 message(s) in quarantine" in text


def test_fetch_with_nothing_to_read_says_how_to_configure_it(run_cli):
    r = run_cli("bounces", "fetch")
    assert r.exit_code == 2 and "DIGEST_BOUNCE_IMAP_URL" in r.output


def test_bad_bounce_settings_are_one_line_naming_the_key(run_cli, tmp_path, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text('[bounces]\naddress = "bounces+x@news.example.org"\n')
    monkeypatch.setenv("DIGEST_CONFIG", str(bad))
    r = run_cli("bounces", "quarantine")
    assert r.exit_code == 2 and "bounces.address" in r.output
    bad.write_text('[tracking]\nclicks = "per-member"\n')
    r = run_cli("bounces", "quarantine")
    assert r.exit_code == 2 and "tracking.clicks" in r.output


def test_wrong_imap_password_or_folder_is_one_line(run_cli, dovecot):
    r = run_cli("bounces", "fetch", "--imap", dovecot.url.replace("bouncepw", "wrongpw"))
    assert r.exit_code == 1 and "cannot log in" in r.output and "wrongpw" not in r.output
    assert r.output.count("\n") == 1
    r = run_cli("bounces", "fetch", "--imap", dovecot.url.replace("/INBOX", "/NoSuchFolder"))
    assert r.exit_code == 1 and "NoSuchFolder" in r.output


def test_weekly_sends_even_when_the_bounce_mailbox_is_down(run_cli, seed_path, monkeypatch):
    monkeypatch.setenv("DIGEST_BOUNCE_IMAP_URL", "imap://u:pw@127.0.0.1:1/INBOX")
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    ok(run_cli("subscribers", "add", "ada@example.net"))
    r = ok(run_cli("weekly", "--week", "2017-W25", "--transport", "file"))
    assert "warning: bounces not read, sending anyway" in r.output and "cannot connect" in r.output
    assert "sent 1" in r.output


# --- issue 25: attribution only by what we signed ------------------------------------------------------------


def test_an_unsubscribe_by_mail_with_a_forged_from_changes_nothing_and_is_filed_with_the_reason(
        sent, run_cli, db, tmp_path):
    """Bug: mail to the List-Unsubscribe mailto was attributed by its From, which anyone can write."""
    forged = tmp_path / "forged.eml"
    forged.write_bytes(s.unsubscribe_request(sender="fay@example.net", to=MAILTO, message_id="<forged.2@x.example>"))
    out = ok(run_cli("bounces", "fetch", forged)).output
    assert "unsubscribe -> quarantined [quarantine]" in out and "without a valid signed token" in out
    assert statuses(db)["fay"] == "active"
    listed = json.loads(ok(run_cli("bounces", "quarantine", "--json")).output)
    assert [r["report"] for r in listed] == ["<forged.2@x.example>"] and "From address" in listed[0]["reason"]
    # The token of another member's mailto, or a damaged one, does not work either: only fay's own.
    subject = mailto_subject(sent["fay"]["original"])
    for i, wrong in enumerate((mailto_subject(sent["gil"]["original"])[:-2] + "xx", subject[:-1])):
        raw = s.unsubscribe_request(sender="fay@example.net", to=MAILTO, subject=wrong, message_id=f"<w.{i}@x>")
        forged.write_bytes(raw)
        assert "quarantined" in ok(run_cli("bounces", "fetch", forged)).output
    assert statuses(db)["fay"] == "active" and statuses(db)["gil"] == "active"


def test_an_unsubscribe_by_mail_with_a_revoked_token_changes_nothing(sent, run_cli, db, tmp_path):
    with db.begin() as conn:
        sub = subscriber_db.get_by_email(conn, "fay@example.net")
        subscriber_db.revoke_links(conn, sub.id, source="cli", now=sub.created_at)
    eml = tmp_path / "old.eml"
    eml.write_bytes(s.unsubscribe_request(sender="fay@example.net", to=MAILTO,
                                          subject=mailto_subject(sent["fay"]["original"])))
    assert "quarantined" in ok(run_cli("bounces", "fetch", eml)).output
    assert statuses(db)["fay"] == "active"


def test_the_mailto_token_unsubscribes_whoever_sends_it_with_the_mailto_subject(sent, run_cli, db, tmp_path):
    """The subject the mailto gives is the proof: a client that writes From an alias still works."""
    eml = tmp_path / "alias.eml"
    eml.write_bytes(s.unsubscribe_request(sender="f.alias@other.example", to=MAILTO,
                                          subject=mailto_subject(sent["fay"]["original"])))
    assert "unsubscribe -> unsubscribed fay@example.net" in ok(run_cli("bounces", "fetch", eml)).output


def test_a_complaint_quoting_one_members_link_and_anothers_message_id_is_about_no_delivery(sent, run_cli, db,
                                                                                        tmp_path):
    """Member A's signed link attributes it to A; B's Message-ID must not make it B's delivery (nor A's)."""
    a, b = sent["ada"], sent["bob"]
    a_id = f"<edition.2017-W25.{a['delivery']}@example.org>".encode()
    b_id = f"<edition.2017-W25.{b['delivery']}@example.org>".encode()
    assert a_id in a["original"]
    original = a["original"].replace(a_id, b_id)
    eml = tmp_path / "mixed.eml"
    eml.write_bytes(s.arf_complaint(recipient=None, original=original, envelope_from="news@example.org"))
    out = ok(run_cli("bounces", "fetch", eml)).output
    assert "complaint -> complained ada@example.net" in out
    with db.connect() as conn:
        row = conn.execute(select(inbound_reports.c.delivery_id, inbound_reports.c.subscriber_id,
                                  inbound_reports.c.edition_id)).one()
        ada = subscriber_db.get_by_email(conn, "ada@example.net")
    assert row == (None, ada.id, None)
    assert statuses(db)["bob"] == "active"


def test_reading_processed_reports_again_says_nothing_was_done(sent, run_cli, db, tmp_path):
    """Bug: the second read printed 'bounced 1' in its totals as if it had acted again."""
    eml = tmp_path / "ada.eml"
    eml.write_bytes(reports_for(sent)["ada"])
    assert ok(run_cli("bounces", "fetch", eml)).output.endswith("bounces: 1 message(s): bounced 1\n")
    out = ok(run_cli("bounces", "fetch", eml)).output
    assert out.endswith("bounces: 1 message(s): seen before 1\n"), out
    assert "bounced ada@example.net" not in out and "nothing now" in out


# --- issue 25: what a bounce source may be -------------------------------------------------------------------


@pytest.mark.parametrize("make, why", [
    (lambda d: Path("/dev/zero"), "/dev/zero: is a device, not a regular file"),
    (lambda d: Path(s.fifo(d / "fifo")), "fifo: is a pipe, not a regular file"),
])
def test_a_device_or_a_pipe_is_refused_in_one_line_before_anything_is_read(sent, run_cli, db, tmp_path, make, why):
    eml = tmp_path / "ada.eml"
    eml.write_bytes(reports_for(sent)["ada"])
    r = run_cli("bounces", "fetch", eml, make(tmp_path))
    assert r.exit_code == 1 and why in r.output and r.output.count("\n") == 1, r.output
    assert statuses(db)["ada"] == "active"  # nothing half-done: the good file before it was not acted on


def test_a_file_over_the_cap_is_refused(sent, run_cli, tmp_path, monkeypatch):
    from digest.bounces import sources

    monkeypatch.setattr(sources, "MAX_FILE_BYTES", 2**20)
    big = tmp_path / "big.mbox"
    big.write_bytes(b"From x\n" + b"a" * 2**20)
    r = run_cli("bounces", "fetch", big)
    assert r.exit_code == 1 and "big.mbox: is larger than 1 MB: not returned mail" in r.output


def test_a_maildir_entry_that_is_not_a_regular_file_is_filed_unread(sent, run_cli, db, tmp_path):
    reports = reports_for(sent)
    md = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    md.add(reports["ada"])
    (tmp_path / "Maildir" / "new" / "1.zero.host").symlink_to("/dev/zero")
    s.fifo(tmp_path / "Maildir" / "new" / "2.fifo.host")
    outside = tmp_path / "secret.txt"
    outside.write_text("From: x\nSubject: y\n\nnot for the quarantine\n")
    (tmp_path / "Maildir" / "new" / "3.link.host").symlink_to(outside)
    out = ok(run_cli("bounces", "fetch", "--maildir", tmp_path / "Maildir")).output
    assert "bounces: 4 message(s): bounced 1, refused 3" in out, out
    assert "is a symbolic link, not a regular file" in out and "is a pipe, not a regular file" in out
    assert statuses(db)["ada"] == "bounced"
    quarantine = tmp_path / "Maildir" / ".quarantine" / "cur"
    assert sorted(p.name for p in quarantine.iterdir()) == ["1.zero.host", "2.fifo.host", "3.link.host"]
    assert (quarantine / "1.zero.host").is_symlink() and outside.exists()  # moved as it is, nothing deleted
    assert list((tmp_path / "Maildir" / "new").iterdir()) == []


def test_a_bounce_to_the_verp_address_in_upper_case_is_attributed(sent, run_cli, db, tmp_path):
    """Some relays upper-case the local part: BOUNCES+7-ABC...@NEWS.EXAMPLE.ORG is still the delivery."""
    ada = sent["ada"]
    upper = ada["verp"].upper()
    raw = s.postfix_dsn(to=upper, recipient="ada@example.net", original=b"From: x\r\nSubject: y\r\n\r\nbody\r\n")
    assert ada["verp"].encode() not in raw and upper.encode() in raw
    eml = tmp_path / "upper.eml"
    eml.write_bytes(raw)
    assert "bounce -> bounced ada@example.net" in ok(run_cli("bounces", "fetch", eml)).output
    with db.connect() as conn:
        assert conn.execute(select(inbound_reports.c.delivery_id)).scalar() == ada["delivery"]


def test_a_maildir_message_stays_in_the_inbox_until_its_copy_is_filed(sent, run_cli, db, tmp_path):
    """Fault injection: the processed folder cannot take the copy; the message must not be discarded."""
    md = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    key = md.add(reports_for(sent)["ada"])
    md.add_folder("processed")
    new = tmp_path / "Maildir" / ".processed" / "new"
    new.rmdir()
    new.write_text("not a directory")  # every delivery into the folder fails
    r = run_cli("bounces", "fetch", "--maildir", tmp_path / "Maildir")
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "cannot file" in r.output, r.output
    assert list(mailbox.Maildir(str(tmp_path / "Maildir"), create=False).keys()) == [key]  # still there
    assert statuses(db)["ada"] == "bounced"  # processed and recorded before the move
    new.unlink()
    new.mkdir()
    out = ok(run_cli("bounces", "fetch", "--maildir", tmp_path / "Maildir")).output
    assert "(seen before)" in out
    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=False)
    assert len(box) == 0 and len(box.get_folder("processed")) == 1


def test_an_imap_message_over_a_reports_size_is_filed_unread(sent, run_cli, db, dovecot, monkeypatch):
    from digest.bounces import sources

    reports = reports_for(sent)
    monkeypatch.setattr(sources, "MAX_BYTES", len(reports["ada"]) + 1)
    dovecot.append(reports["ada"])
    dovecot.append(reports["bob"] + b"x" * (len(reports["ada"]) + 10))
    out = ok(run_cli("bounces", "fetch", "--imap", dovecot.url)).output
    assert "bounces: 2 message(s): bounced 1, refused 1" in out, out
    assert statuses(db)["ada"] == "bounced" and statuses(db)["bob"] == "active"
    assert len(dovecot.messages("quarantine")) == 1 and dovecot.messages("INBOX") == []

"""digest.bounces.process: one returned message attributed, the table applied, recorded once.

Fast and exact: a real database with members and deliveries written in
directly, reports written the way relays write them (tests/bounce_samples.py)
against our own VERP addresses and signed links; no send, no mailbox.
test_bounces_fetch.py runs the same path end to end.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from sqlalchemy import insert, select

import bounce_samples as s
from digest.bounces.process import Processor, addresses_for, report_key
from digest.bounces.parse import Report
from digest.db import members as member_db
from digest.db.schema import deliveries, editions, inbound_reports
from digest.message.links import Links
from digest.message.verp import ReturnPath

NOW = datetime(2017, 6, 26, 7, 0, tzinfo=timezone.utc)
BOUNCE = "bounces@news.example.org"
MAILTO = "leave@news.example.org"


@pytest.fixture
def world(db, settings):
    """Two members with a delivery each of 2017-W25, a Processor, and what we signed for each."""
    settings = replace(settings, unsubscribe_mailto=f"mailto:{MAILTO}?subject=unsubscribe",
                       bounces=replace(settings.bounces, address=BOUNCE))
    rp, links = ReturnPath(settings.secret_key, BOUNCE), Links(settings.secret_key, settings.base_url)
    out = {"proc": Processor(db, settings, clock=lambda: NOW), "settings": settings, "links": links}
    with db.begin() as conn:
        ed = conn.execute(insert(editions).values(key="2017-W25", frequency="weekly", window_start=NOW,
                                                  window_end=NOW, subject="s", built_at=NOW)).inserted_primary_key[0]
        for name in ("ada", "bob"):
            sub = member_db.add(conn, f"{name}@example.net", now=NOW)
            did = conn.execute(insert(deliveries).values(edition_id=ed, subscriber_id=sub.id, variant_id=1,
                                                         status=2)).inserted_primary_key[0]
            unsub = links.unsubscribe_url(sub.id, sub.token_version)
            out[name] = {"id": sub.id, "delivery": did, "verp": rp.address(did), "unsub": unsub,
                         "token": unsub.rpartition("/")[2], "message_id": f"<edition.2017-W25.{did}@example.org>",
                         "original": original(f"{name}@example.net", f"<edition.2017-W25.{did}@example.org>", unsub)}
    return out


def original(to: str, message_id: str, unsub: str) -> bytes:
    return (f"From: News <news@example.org>\r\nTo: {to}\r\nSubject: This week\r\nMessage-ID: {message_id}\r\n"
            f"List-Unsubscribe: <{unsub}>\r\n\r\nHello\r\n").encode()


def status_of(db, sub_id):
    with db.connect() as conn:
        return member_db.get_by_id(conn, sub_id).status


def rows(db):
    with db.connect() as conn:
        return [r._asdict() for r in conn.execute(select(inbound_reports).order_by(inbound_reports.c.id))]


def events(db, sub_id, source="report"):
    with db.connect() as conn:
        return [e for e in member_db.list_events(conn, sub_id) if e["source"] == source]


def test_a_verp_bounce_is_its_deliverys_and_recorded_with_what_it_did(world, db):
    ada = world["ada"]
    done = world["proc"].process(s.postfix_dsn(to=ada["verp"], recipient="ada@example.net",
                                               original=ada["original"]), "file a.eml")
    assert (done.kind, done.folder, done.outcome, done.email, done.why, done.duplicate) == (
        "bounce", "processed", "bounced", "ada@example.net", "permanent bounce 5.1.1", False)
    assert done.key == "<20170620081403.5C1F2A0@mx1.relay.example.com>"
    [row] = rows(db)
    assert (row["kind"], row["shape"], row["status"], row["delivery_id"], row["subscriber_id"], row["outcome"],
            row["folder"], row["source"], row["received_at"]) == (
        "bounce", "postfix", "5.1.1", ada["delivery"], ada["id"], "bounced", "processed", "file a.eml", NOW)
    detail = json.loads(row["detail"])
    assert detail["attributed"] == "VERP" and detail["recipient"] == "ada@example.net"
    assert detail["decision"] == "permanent bounce 5.1.1" and detail["diagnostic"].startswith("550 5.1.1")
    assert detail["subject"] == "Undelivered Mail Returned to Sender" and detail["date"].startswith("Tue, 20 Jun")
    [event] = events(db, ada["id"])
    assert event["action"] == "bounce" and event["detail"] == {
        "report": done.key, "edition": "2017-W25", "code": "5.1.1", "reason": "permanent bounce 5.1.1",
        "status": ["active", "bounced"]}
    assert status_of(db, world["bob"]["id"]) == "active"


def test_the_same_report_again_changes_nothing_and_says_where_it_went(world, db):
    ada = world["ada"]
    raw = s.postfix_dsn(to=ada["verp"], recipient="ada@example.net", original=ada["original"], status="5.2.2")
    first = world["proc"].process(raw, "one")
    again = world["proc"].process(raw, "two")
    assert (first.outcome, first.duplicate) == ("counted", False)
    assert (again.key, again.kind, again.folder, again.outcome, again.why, again.duplicate) == (
        first.key, "bounce", "processed", "counted", "seen before", True)
    assert len(rows(db)) == 1 and len(events(db, ada["id"])) == 1


def test_a_complaint_by_a_quoted_link_finds_the_delivery_by_our_message_id(world, db):
    bob = world["bob"]
    raw = s.arf_complaint(recipient=None, original=bob["original"], envelope_from="news@example.org")
    done = world["proc"].process(raw, "x")
    assert (done.outcome, done.email) == ("complained", "bob@example.net")
    [row] = rows(db)
    assert (row["delivery_id"], row["subscriber_id"]) == (bob["delivery"], bob["id"])
    assert json.loads(row["detail"])["attributed"] == "signed unsubscribe link"
    assert events(db, bob["id"])[0]["detail"]["reason"] == "complaint (feedback-type abuse)"


def test_a_complaint_quoting_one_members_link_and_anothers_message_id_is_about_no_delivery(world, db):
    ada, bob = world["ada"], world["bob"]
    mixed = original("ada@example.net", bob["message_id"], ada["unsub"])
    done = world["proc"].process(s.arf_complaint(recipient=None, original=mixed, envelope_from="news@example.org"),
                                 "x")
    assert (done.outcome, done.email) == ("complained", "ada@example.net")
    [row] = rows(db)
    assert (row["delivery_id"], row["edition_id"], row["subscriber_id"]) == (None, None, ada["id"])
    assert status_of(db, bob["id"]) == "active"
    assert "edition" not in events(db, ada["id"])[0]["detail"]


def test_two_members_links_in_one_report_are_nobodys(world, db):
    ada, bob = world["ada"], world["bob"]
    both = original("x@example.net", "<other@x>", ada["unsub"]) + f"\r\n<{bob['unsub']}>\r\n".encode()
    done = world["proc"].process(s.arf_complaint(recipient=None, original=both, envelope_from="n@x"), "x")
    assert (done.folder, done.outcome) == ("quarantine", "quarantined")
    assert "not attributable" in done.why
    assert status_of(db, ada["id"]) == status_of(db, bob["id"]) == "active"


def test_a_report_naming_two_of_our_deliveries_is_nobodys(world, db):
    ada, bob = world["ada"], world["bob"]
    raw = s.postfix_dsn(to=ada["verp"], recipient="ada@example.net", original=bob["original"]).replace(
        b"Subject: This week", f"Subject: This week\r\nReturn-Path: <{bob['verp']}>".encode())
    done = world["proc"].process(raw, "x")
    assert (done.folder, done.outcome) == ("quarantine", "quarantined")
    assert status_of(db, ada["id"]) == status_of(db, bob["id"]) == "active"
    assert "attributed" not in json.loads(rows(db)[0]["detail"])


def test_a_forged_verp_token_and_an_unknown_delivery_are_not_attributed(world, db):
    rp = ReturnPath(world["settings"].secret_key, BOUNCE)
    forged = world["ada"]["verp"].rsplit("-", 1)[0] + "-aaaaaaaaaaaaaaaa@news.example.org"
    for i, to in enumerate((forged, rp.address(99999))):
        done = world["proc"].process(s.postfix_dsn(to=to, recipient="ada@example.net", original=b"x: y\r\n\r\n",
                                                   message_id=f"<f.{i}@x>"), "x")
        assert (done.outcome, done.why) == (
            "quarantined", "not attributable to a delivery: no VERP token or signed link of ours in it")
    assert [json.loads(r["detail"])["reason"] for r in rows(db)] == [done.why, done.why]
    assert [(r["outcome"], r["folder"]) for r in rows(db)] == [("quarantined", "quarantine")] * 2
    assert done.key == "<f.1@x>"
    assert status_of(db, world["ada"]["id"]) == "active"


def test_an_unsubscribe_by_mail_is_attributed_by_its_token_alone(world, db):
    ada, bob = world["ada"], world["bob"]
    proc = world["proc"]
    forged = proc.process(s.unsubscribe_request(sender="ada@example.net", to=MAILTO, message_id="<u1@x>"), "x")
    assert (forged.folder, forged.outcome) == ("quarantine", "quarantined")
    assert (forged.kind, forged.why) == ("unsubscribe", "an unsubscribe by mail without a valid signed token of ours "
                                         "(its From address proves nothing): not acted on")
    detail = json.loads(rows(db)[0]["detail"])
    assert detail["reason"] == forged.why and "attributed" not in detail  # nothing of ours in it
    real = proc.process(s.unsubscribe_request(sender="someone@else.example", to=MAILTO, message_id="<u2@x>",
                                              subject=f"unsubscribe {bob['token']}"), "x")
    assert (real.outcome, real.email, real.why) == (
        "unsubscribed", "bob@example.net", "asked by mail to the List-Unsubscribe address")
    assert status_of(db, ada["id"]) == "active" and status_of(db, bob["id"]) == "unsubscribed"


def test_an_unsubscribe_by_mail_with_a_revoked_token_changes_nothing(world, db):
    ada = world["ada"]
    with db.begin() as conn:
        member_db.revoke_links(conn, ada["id"], source="cli", now=NOW)
    done = world["proc"].process(s.unsubscribe_request(sender="ada@example.net", to=MAILTO,
                                                       subject=f"unsubscribe {ada['token']}"), "x")
    assert done.outcome == "quarantined" and status_of(db, ada["id"]) == "active"
    # A complaint quoting the same revoked link is still hers: it says who received the message.
    done = world["proc"].process(s.arf_complaint(recipient=None, original=ada["original"], envelope_from="n@x"), "x")
    assert (done.outcome, done.email) == ("complained", "ada@example.net")


def test_what_is_not_actionable_or_not_understood_is_filed(world, db):
    ada = world["ada"]
    auto = world["proc"].process(s.out_of_office(to=ada["verp"], sender="ada@example.net",
                                                 original_message_id=ada["message_id"]), "x")
    assert (auto.kind, auto.folder, auto.outcome, auto.email) == ("auto-reply", "processed", "ignored", None)
    assert auto.why.startswith("automatic reply")
    junk = world["proc"].process(s.garbled(), "x")
    assert (junk.key, junk.kind, junk.folder, junk.outcome) == (
        "<garbled.1@nowhere.example>", "unknown", "quarantine", "quarantined")
    assert auto.key == "<AM6PR01MB9876.auto@mail.example.net>" and junk.why
    assert [(r["outcome"], r["folder"], r["subscriber_id"]) for r in rows(db)] == [
        ("ignored", "processed", ada["id"]), ("quarantined", "quarantine", None)]
    assert [json.loads(r["detail"]).get("reason") for r in rows(db)] == [auto.why, junk.why]
    assert status_of(db, ada["id"]) == "active" and events(db, ada["id"]) == []


def test_a_report_about_a_forgotten_member_keeps_nothing_of_them(world, db):
    ada = world["ada"]
    with db.begin() as conn:
        member_db.forget(conn, ada["id"], now=NOW)
    done = world["proc"].process(s.postfix_dsn(to=ada["verp"], recipient="ada@example.net",
                                               original=ada["original"]), "x")
    assert (done.kind, done.folder, done.outcome, done.why, done.email) == (
        "bounce", "processed", "ignored", "the member was forgotten", None)
    [row] = rows(db)
    assert done.key == row["report_key"] == "<20170620081403.5C1F2A0@mx1.relay.example.com>"
    assert (row["outcome"], row["folder"]) == ("ignored", "processed")
    assert (row["subscriber_id"], json.loads(row["detail"])) == (None, {"reason": "the member was forgotten"})


def test_the_key_is_the_message_id_else_a_hash_of_the_bytes():
    assert report_key(Report("bounce", "dsn", message_id="<a@b>"), b"x") == "<a@b>"
    assert report_key(Report("bounce", "dsn", message_id="<" + "a" * 400 + ">"), b"x") == "<" + "a" * 299
    assert report_key(Report("bounce", "dsn"), b"raw") == "sha256:" + hashlib.sha256(b"raw").hexdigest()


def test_a_long_subject_is_kept_to_its_first_200_characters(world, db):
    subject = "unsubscribe " + "please " * 60
    world["proc"].process(s.unsubscribe_request(sender="ada@example.net", to=MAILTO, subject=subject), "one")
    [row] = rows(db)
    assert json.loads(row["detail"])["subject"] == subject[:200]


def test_a_report_without_a_message_id_is_known_again_by_its_bytes(world, db):
    raw = s.binary_junk()
    assert b"Message-ID" not in raw
    first, again = world["proc"].process(raw, "one"), world["proc"].process(raw, "two")
    other = world["proc"].process(raw + b"\r\nmore", "three")
    assert first.key == again.key == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert (first.outcome, first.duplicate, again.why, again.duplicate) == ("quarantined", False, "seen before", True)
    assert other.key != first.key and not other.duplicate
    assert [r["report_key"] for r in rows(db)] == [first.key, other.key]


def test_the_addresses_reports_come_back_to(world, settings):
    a = addresses_for(world["settings"])
    assert (a.bounce, a.unsubscribe, a.base_url) == (BOUNCE, MAILTO, "https://news.example.org")
    plain = addresses_for(replace(settings, unsubscribe_mailto=" leave@x.example "))
    assert (plain.bounce, plain.unsubscribe) == (settings.sender_address, "leave@x.example")
    assert Processor(None, settings, clock=lambda: NOW).return_path is None  # no VERP without a bounce address


def test_two_processes_racing_on_one_report_change_the_member_once(world, db, monkeypatch):
    """The second process looks before the first has committed, then loses on the unique key."""
    from digest.db import reports as reports_db

    bob = world["bob"]
    raw = s.postfix_dsn(to=bob["verp"], recipient="bob@example.net", original=bob["original"], status="5.2.2")
    first = world["proc"].process(raw, "one")
    real_seen, looks = reports_db.seen, []

    def seen_too_early(conn, key):
        looks.append(key)
        return None if len(looks) == 1 else real_seen(conn, key)

    monkeypatch.setattr(reports_db, "seen", seen_too_early)
    second = world["proc"].process(raw, "two")
    assert (second.key, second.kind, second.folder, second.outcome, second.why, second.duplicate) == (
        first.key, "bounce", "processed", "counted", "seen before", True)
    assert len(events(db, bob["id"])) == 1 and len(rows(db)) == 1


def test_a_forged_token_before_ours_does_not_hide_ours(world, db):
    ada, bob = world["ada"], world["bob"]
    forged = ada["verp"].rsplit("-", 1)[0] + "-aaaaaaaaaaaaaaaa@news.example.org"
    stored = f"Return-Path: <{ada['verp']}>\r\n".encode() + ada["original"]
    done = world["proc"].process(s.postfix_dsn(to=forged, recipient="ada@example.net", original=stored), "x")
    assert (done.outcome, done.email) == ("bounced", "ada@example.net")
    [row] = rows(db)  # by the VERP token after the forged one, not by the link the original quotes
    assert (row["delivery_id"], json.loads(row["detail"])["attributed"]) == (ada["delivery"], "VERP")
    damaged = bob["token"][:-3] + "abc"
    raw = s.unsubscribe_request(sender="bob@example.net", to=MAILTO, subject=f"unsubscribe {damaged}",
                                message_id="<u9@x>") + f"<{bob['unsub']}>\r\n".encode()
    done = world["proc"].process(raw, "x")
    assert (done.outcome, done.email) == ("unsubscribed", "bob@example.net")


def test_a_revoked_link_before_a_current_one_does_not_hide_it(world, db):
    ada = world["ada"]
    with db.begin() as conn:
        member_db.revoke_links(conn, ada["id"], source="cli", now=NOW)
        version = member_db.get_by_id(conn, ada["id"]).token_version
    current = world["links"].unsubscribe_url(ada["id"], version)
    raw = s.unsubscribe_request(sender="ada@example.net", to=MAILTO, subject=f"unsubscribe {ada['token']}",
                                message_id="<u10@x>") + f"<{current}>\r\n".encode()
    done = world["proc"].process(raw, "x")
    assert (done.outcome, done.email) == ("unsubscribed", "ada@example.net")


def test_a_complaint_quoting_our_link_and_a_message_id_not_ours_is_the_members_without_a_delivery(world, db):
    ada = world["ada"]
    foreign = original("ada@example.net", "<CAF00@mail.gmail.example>", ada["unsub"])
    done = world["proc"].process(s.arf_complaint(recipient=None, original=foreign, envelope_from="n@x"), "x")
    assert (done.outcome, done.email) == ("complained", "ada@example.net")
    [row] = rows(db)
    assert (row["delivery_id"], row["subscriber_id"]) == (None, ada["id"])
    assert json.loads(row["detail"])["attributed"] == "signed unsubscribe link"


def test_two_reports_of_one_delivery_count_once(world, db):
    ada = world["ada"]
    bounce = s.postfix_dsn(to=ada["verp"], recipient="ada@example.net", original=ada["original"], status="5.2.2")
    delay = s.postfix_dsn(to=ada["verp"], recipient="ada@example.net", original=ada["original"], status="4.4.1",
                          action="delayed", message_id="<delay.1@relay>")
    first, second = (world["proc"].process(raw, "x") for raw in (bounce, delay))
    assert (first.why, second.why) == ("bounce 5.2.2: 1 of 3 within 30 days",
                                       "soft bounce 4.4.1: 1 of 3 within 30 days")

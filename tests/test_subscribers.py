"""Members: checking and CSV planning (pure), and their storage with its audit trail."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from digest import members
from digest.bounces.apply import apply
from digest.bounces.policy import SMTP, TRANSIENT
from digest.config import BounceSettings
from digest.db import schema
from digest.db import members as member_db
from digest.errors import SubscriberError
from digest.models import Subscriber

NOW = datetime(2017, 6, 21, 9, 30, tzinfo=timezone.utc)
TAXONOMY = ("data-protection", "cyber-security", "smart-places", "member-news")


# ---------------------------------------------------------------- pure checks


def test_email_is_normalised_and_keyed_without_case():
    assert members.normalise_email("  Sian.Jones@Example.ORG ") == "Sian.Jones@example.org"
    assert members.email_key("Sian.Jones@example.org") == "sian.jones@example.org"
    assert members.email_hash("Sian.Jones@Example.org") == hashlib.sha256(b"sian.jones@example.org").hexdigest()


@pytest.mark.parametrize("bad", ["", "sian", "sian@", "sian@@example.org", "sian@localhost", "a b@example.org"])
def test_bad_addresses_are_refused_with_the_line(bad):
    with pytest.raises(SubscriberError) as err:
        members.normalise_email(bad, line=7)
    assert err.value.line == 7
    assert "\n" not in str(err.value) and str(err.value).startswith("line 7: ")


def test_names_are_one_trimmed_line():
    assert members.clean_name("  Siân \t Jones ") == "Siân Jones"
    assert members.clean_name("   ") is None and members.clean_name(None) is None
    assert members.clean_name("x" * 200) == "x" * 200
    for bad, why in [("Siân\nJones", "line break"), ("Siân\rJones", "line break"), ("Siân\u2028Jones", "line break"),
                     ("Siân\x00Jones", "control character"), ("x" * 201, "longer than 200")]:
        with pytest.raises(SubscriberError, match=why):
            members.clean_name(bad, email="sian@example.org")


def test_topics_come_back_in_taxonomy_order():
    assert members.parse_topics("member-news, Data-Protection", TAXONOMY) == ("data-protection", "member-news")
    assert members.parse_topics("smart-places;cyber-security", TAXONOMY, sep=";") == ("cyber-security", "smart-places")
    assert members.parse_topics(["member-news", "member-news"], TAXONOMY) == ("member-news",)
    assert members.parse_topics("", TAXONOMY) == () == members.parse_topics("all", TAXONOMY)
    with pytest.raises(SubscriberError, match="unknown topic 'gardening'"):
        members.parse_topics("cyber-security,gardening", TAXONOMY)


def test_frequency_format_and_status_are_checked():
    assert members.check_frequency(" Daily ") == "daily"
    assert members.check_format("TEXT") == "text"
    assert members.check_status("bounced") == "bounced"
    for check, bad in [(members.check_frequency, "fortnightly"), (members.check_format, "pdf"), (members.check_status, "gone")]:
        with pytest.raises(SubscriberError, match=repr(bad)):
            check(bad)


CSV = (
    "Email,NAME,topics,frequency\n"                             # 1
    "ana@example.org,Ana Lopez,cyber-security;smart-places,daily\n"  # 2
    "not-an-address,Bad Address,,weekly\n"                      # 3
    'ben@example.org,"Ben\nSmith",,weekly\n'                    # 4-5: a line break inside a quoted field
    "cat@example.org,Cat,gardening,weekly\n"                    # 6
    "\n"                                                        # 7: blank
    "dan@example.org,Dan,,fortnightly\n"                        # 8
    "ANA@example.org,Ana again,,\n"                             # 9: same member as line 2
    "eve@example.org,,,\n"                                      # 10: only the address
    "fay@example.org,Fay,,weekly,extra\n"                       # 11: one field too many
)


def test_csv_rows_are_checked_and_bad_ones_reported_with_their_file_line():
    rows, problems = members.parse_members_csv(CSV, TAXONOMY)
    assert [(r.line, r.email) for r in rows] == [(2, "ana@example.org"), (10, "eve@example.org")]
    assert rows[0] == members.MemberRow(2, "ana@example.org", "Ana Lopez", ("cyber-security", "smart-places"), "daily")
    assert rows[1] == members.MemberRow(10, "eve@example.org")  # empty cells: not given
    assert [(p.line, p.email) for p in problems] == [
        (3, "not-an-address"), (4, "ben@example.org"), (6, "cat@example.org"), (8, "dan@example.org"),
        (9, "ANA@example.org"), (11, "fay@example.org")]
    reasons = [p.reason for p in problems]
    assert reasons[0].startswith("not a valid email address")
    assert reasons[1] == "name contains a line break"
    assert reasons[2].startswith("unknown topic 'gardening'")
    assert reasons[3].startswith("unknown frequency 'fortnightly'")
    assert reasons[4] == "duplicate of line 2"
    assert reasons[5] == "5 fields but the header names 4"


@pytest.mark.parametrize("text, why", [
    ("", "empty"),
    ("name,topics\nAna,\n", "no 'email' column"),
    ("email,topic\nana@example.org,x\n", "unknown column 'topic'"),
    ("email,email\nana@example.org,x\n", "appears twice"),
])
def test_a_file_without_a_usable_header_is_refused_as_a_whole(text, why):
    with pytest.raises(SubscriberError, match=why) as err:
        members.parse_members_csv(text, TAXONOMY, source="list.csv")
    assert str(err.value).startswith("list.csv: ")


def test_plan_import_adds_updates_and_never_reactivates():
    rows = [members.MemberRow(2, "new@example.org"),
            members.MemberRow(3, "Same@example.org", "Same", (), "weekly", "html"),
            members.MemberRow(4, "moved@example.org", topics=("member-news",), frequency="monthly"),
            members.MemberRow(5, "left@example.org", "Left"),
            members.MemberRow(6, "gone@example.org")]
    existing = {
        "same@example.org": Subscriber("same@example.org", "Same", id=1),
        "moved@example.org": Subscriber("moved@example.org", "Moved", id=2),
        "left@example.org": Subscriber("left@example.org", status="unsubscribed", left_at=NOW, id=3),
    }
    plan = members.plan_import(rows, existing, {members.email_hash("GONE@example.org")},
                             [members.RowProblem(1, "x", "bad")])
    assert [r.email for r in plan.add] == ["new@example.org"]
    assert [s.id for s in plan.unchanged] == [1]
    assert plan.update == [(existing["moved@example.org"],
                            {"topics": [[], ["member-news"]], "frequency": ["weekly", "monthly"]})]
    assert [(p.line, p.reason) for p in plan.skipped] == [
        (1, "bad"),
        (5, "is unsubscribed on 2017-06-21; imports and `add` never re-subscribe anyone"),
        (6, "was forgotten at the member's request and cannot be added again")]
    assert plan.summary() == "added 1, updated 1, unchanged 1, skipped 3"


# ---------------------------------------------------------------- storage


def rows_of(db, table):
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(*table.primary_key.columns))]


def events_of(db):
    return [(e["subscriber_id"], e["source"], e["action"], json.loads(e["detail"])) for e in rows_of(db, schema.events)]


def test_add_stores_a_member_once_whatever_the_case(db):
    with db.begin() as conn:
        sub = member_db.add(conn, "Ana@example.org", "Ana", ("cyber-security",), "daily", "text", now=NOW)
    assert sub == Subscriber("Ana@example.org", "Ana", "active", ("cyber-security",), "daily", "text",
                             consent_source="cli", consent_at=NOW, created_at=NOW, id=sub.id)
    with db.begin() as conn:
        assert member_db.get_by_email(conn, "ANA@EXAMPLE.ORG") == sub == member_db.get_by_id(conn, sub.id)
        with pytest.raises(SubscriberError, match="ana@example.org: is already a member"):
            member_db.add(conn, "ana@example.org", now=NOW)
    [row] = rows_of(db, schema.subscribers)
    assert (row["email"], row["email_key"], row["topics"], row["created_at"]) == (
        "Ana@example.org", "ana@example.org", "cyber-security", NOW)
    assert events_of(db) == [(sub.id, "cli", "subscribe",
                              {"status": "active", "topics": ["cyber-security"], "frequency": "daily", "format": "text"})]


def test_pending_members_confirm_once(db):
    with db.begin() as conn:
        sub = member_db.create_pending(conn, "ben@example.org", None, (), "weekly", "html", "web", NOW)
        assert (sub.status, sub.consent_at, sub.confirmed_at) == ("pending", None, None)
        later = NOW + timedelta(minutes=5)
        confirmed = member_db.confirm(conn, sub.id, source="web", now=later)
        assert (confirmed.status, confirmed.consent_at, confirmed.confirmed_at) == ("active", later, later)
        assert member_db.confirm(conn, sub.id, source="web", now=later + timedelta(days=1)) == confirmed
    assert [e[2] for e in events_of(db)] == ["subscribe", "confirm"]


def test_preferences_record_what_changed_and_nothing_when_nothing_did(db):
    with db.begin() as conn:
        sub = member_db.add(conn, "cat@example.org", "Cat", now=NOW)
        changes = member_db.update_preferences(conn, sub.id, topics=("member-news",), frequency="weekly",
                                           paused=True, name=None, source="web", now=NOW)
        assert changes == {"name": ["Cat", None], "topics": [[], ["member-news"]], "paused": [False, True]}
        assert member_db.update_preferences(conn, sub.id, topics=("member-news",), source="web", now=NOW) == {}
        assert member_db.get_by_id(conn, sub.id).paused is True
    assert events_of(db)[1:] == [(sub.id, "web", "preferences", changes)]


def test_unsubscribe_keeps_the_row_and_set_status_can_bring_them_back(db):
    with db.begin() as conn:
        sub = member_db.add(conn, "dan@example.org", now=NOW)
        assert member_db.unsubscribe(conn, sub.id, source="one-click", now=NOW) is True
        assert member_db.unsubscribe(conn, sub.id, source="one-click", now=NOW) is False
        left = member_db.get_by_id(conn, sub.id)
        assert (left.status, left.left_at) == ("unsubscribed", NOW)
        with pytest.raises(SubscriberError, match="never re-subscribe"):
            member_db.add(conn, "dan@example.org", now=NOW)
        assert member_db.set_status(conn, sub.id, "active", source="cli", now=NOW) == {"status": ["unsubscribed", "active"]}
        back = member_db.get_by_id(conn, sub.id)
        assert (back.status, back.left_at, back.consent_source) == ("active", None, "cli")
    assert [e[1:3] for e in events_of(db)] == [("cli", "subscribe"), ("one-click", "unsubscribe"), ("cli", "resubscribe")]


def test_the_third_hard_bounce_makes_a_member_bounced(db):
    with db.begin() as conn:
        sub = member_db.add(conn, "eve@example.org", now=NOW)
        for status in ("active", "active", "bounced"):  # a refusal during the send, through the bounce table
            apply(conn, TRANSIENT, sub.id, when=NOW, via=SMTP, policy=BounceSettings())
            assert member_db.get_by_id(conn, sub.id).status == status
        assert member_db.revoke_links(conn, sub.id, source="cli", now=NOW) == 2
    assert rows_of(db, schema.subscribers)[0]["hard_bounces"] == 3
    assert events_of(db)[-2:] == [
        (sub.id, "system", "bounce", {"hard_bounces": [2, 3], "status": ["active", "bounced"]}),
        (sub.id, "cli", "revoke-links", {"token_version": [1, 2]})]


def test_forget_erases_the_member_keeps_a_hash_and_anonymous_deliveries(db):
    with db.begin() as conn:
        sub = member_db.add(conn, "Fay@example.org", "Fay", now=NOW)
        other = member_db.add(conn, "gus@example.org", now=NOW)
        edition = conn.execute(sa.insert(schema.editions).values(
            key="2017-W25", frequency="weekly", window_start=NOW, window_end=NOW, subject="s", built_at=NOW)
        ).inserted_primary_key[0]
        variant = conn.execute(sa.insert(schema.variants).values(
            edition_id=edition, topics="", format="html", subject="s", text="t", item_count=0, rendered_at=NOW)
        ).inserted_primary_key[0]
        conn.execute(sa.insert(schema.deliveries).values(
            edition_id=edition, subscriber_id=sub.id, variant_id=variant, status=3,
            last_error="550 5.1.1 <fay@example.org>: user unknown"))
        assert member_db.export(conn, sub.id)["deliveries"] == [{
            "edition": "2017-W25", "status": "failed", "attempts": 0, "sent_at": None,
            "last_error": "550 5.1.1 <fay@example.org>: user unknown"}]
        member_db.forget(conn, sub.id, now=NOW)
        assert member_db.get_by_email(conn, "fay@example.org") is None
        assert member_db.is_suppressed(conn, "FAY@example.org") and not member_db.is_suppressed(conn, "gus@example.org")
        for attempt in (lambda: member_db.add(conn, "fay@example.org", now=NOW),
                        lambda: member_db.create_pending(conn, "fay@example.org", None, (), "weekly", "html", "web", NOW),
                        lambda: member_db.require(conn, "fay@example.org")):
            with pytest.raises(SubscriberError, match="forgotten"):
                attempt()
    assert rows_of(db, schema.suppressions) == [
        {"email_hash": hashlib.sha256(b"fay@example.org").hexdigest(), "reason": "forgotten", "created_at": NOW}]
    assert [(d["subscriber_id"], d["last_error"], d["status"]) for d in rows_of(db, schema.deliveries)] == [(None, None, 3)]
    assert {e[0] for e in events_of(db)} == {other.id}
    assert [s["email"] for s in rows_of(db, schema.subscribers)] == ["gus@example.org"]


def test_import_members_in_one_go(db):
    rows, problems = members.parse_members_csv(CSV, TAXONOMY)
    with db.begin() as conn:
        plan = member_db.import_members(conn, rows, problems, pending=True, now=NOW)
    assert plan.summary() == "added 2, updated 0, unchanged 0, skipped 6"
    assert [(s["email"], s["status"], s["consent_source"], s["topics"]) for s in rows_of(db, schema.subscribers)] == [
        ("ana@example.org", "pending", "import", "cyber-security,smart-places"),
        ("eve@example.org", "pending", "import", "")]
    assert {e[1:3] for e in events_of(db)} == {("import", "subscribe")}

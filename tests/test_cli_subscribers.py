"""`digest subscribers ...` as an administrator uses it, checked against the rows it leaves."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from digest.db import schema
from conftest import ok

NOW = datetime(2017, 6, 21, 9, 30, tzinfo=timezone.utc)


def rows(db, table, *cols):
    with db.connect() as conn:
        q = sa.select(*(table.c[c] for c in cols) if cols else (table,)).order_by(*table.primary_key.columns)
        return [tuple(r) if cols else dict(r._mapping) for r in conn.execute(q)]


def members(db):
    return rows(db, schema.subscribers, "email", "name", "status", "topics", "frequency", "format")


def actions(db):
    with db.connect() as conn:
        q = (sa.select(schema.subscribers.c.email, schema.events.c.source, schema.events.c.action)
             .join(schema.subscribers).order_by(schema.events.c.id))
        return [tuple(r) for r in conn.execute(q)]



def test_add_then_list_and_show_as_json(run_cli, db):
    ok(run_cli("subscribers", "add", "Sian.Jones@Example.ORG", "--name", "Siân Jones",
               "--topics", "cyber-security,data-protection", "--frequency", "monthly"))
    ok(run_cli("subscribers", "add", "gareth@example.net", "--format", "text", "--pending"))
    assert members(db) == [
        ("Sian.Jones@example.org", "Siân Jones", "active", "data-protection,cyber-security", "monthly", "html"),
        ("gareth@example.net", None, "pending", "", "weekly", "text")]
    [(t1,), (t2,)] = rows(db, schema.subscribers, "created_at")
    expected = [
        {"email": "Sian.Jones@example.org", "name": "Siân Jones", "status": "active",
         "topics": ["data-protection", "cyber-security"], "frequency": "monthly", "format": "html", "paused": False,
         "consent_source": "cli", "consent_at": t1.isoformat(), "created_at": t1.isoformat(),
         "confirmed_at": None, "left_at": None, "language": "", "updated_at": t1.isoformat(), "attributes": {}},
        {"email": "gareth@example.net", "name": None, "status": "pending", "topics": [], "frequency": "weekly",
         "format": "text", "paused": False, "consent_source": "cli", "consent_at": None,
         "created_at": t2.isoformat(), "confirmed_at": None, "left_at": None, "language": "",
         "updated_at": t2.isoformat(), "attributes": {}},
    ]
    out = ok(run_cli("subscribers", "list", "--json")).stdout_bytes
    assert out == (json.dumps(expected, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    assert t1.isoformat().endswith("+00:00")
    pending = ok(run_cli("subscribers", "list", "--status", "pending", "--json")).stdout_bytes
    assert json.loads(pending) == expected[1:]
    shown = ok(run_cli("subscribers", "show", "sian.jones@example.org", "--json")).stdout_bytes
    assert shown == (json.dumps(expected[0], indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def test_list_in_a_pipe_is_tab_separated_and_show_tells_the_history(run_cli):
    ok(run_cli("subscribers", "add", "ana@example.org", "--name", "Ana Lopez", "--topics", "smart-places"))
    ok(run_cli("subscribers", "set", "ana@example.org", "--pause"))
    assert ok(run_cli("subscribers", "list")).stdout == (
        "email\tname\tstatus\ttopics\tfrequency\tformat\n"
        "ana@example.org\tAna Lopez\tactive (paused)\tsmart-places\tweekly\thtml\n")
    shown = ok(run_cli("subscribers", "show", "ANA@example.org")).stdout
    assert "status:    active (paused)\n" in shown and "topics:    smart-places\n" in shown
    assert "cli       subscribe (status active; topics smart-places; frequency weekly; format html)" in shown
    assert "cli       preferences (paused false -> true)" in shown


def test_addresses_are_unique_without_regard_to_case(run_cli, db):
    ok(run_cli("subscribers", "add", "ana@example.org"))
    result = ok(run_cli("subscribers", "add", "ANA@Example.org", "--name", "Ana"), 1)
    assert result.stderr == "Error: ANA@example.org: is already a member (active); change details with `digest subscribers set`\n"
    assert members(db) == [("ana@example.org", None, "active", "", "weekly", "html")]


@pytest.mark.parametrize("args, message", [
    (("add", "not-an-address"), "Error: not-an-address: not a valid email address"),
    (("add", "ana@example.org", "--topics", "gardening"), "Error: ana@example.org: unknown topic 'gardening'"),
    (("add", "ana@example.org", "--name", "Ana\nLopez"), "Error: ana@example.org: name contains a line break"),
    (("show", "nobody@example.org"), "Error: nobody@example.org: no such subscriber"),
    (("set", "nobody@example.org", "--frequency", "daily"), "Error: nobody@example.org: no such subscriber"),
    (("unsubscribe", "nobody@example.org"), "Error: nobody@example.org: no such subscriber"),
    (("export", "nobody@example.org"), "Error: nobody@example.org: no such subscriber"),
    (("forget", "nobody@example.org", "--yes"), "Error: nobody@example.org: no such subscriber"),
])
def test_errors_are_one_line_naming_the_address(run_cli, db, args, message):
    result = ok(run_cli("subscribers", *args), 1)
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert members(db) == []


def prepare_left_and_forgotten(run_cli):
    ok(run_cli("subscribers", "add", "left@example.org", "--name", "Lee Left"))
    ok(run_cli("subscribers", "unsubscribe", "left@example.org"))
    ok(run_cli("subscribers", "add", "gone@example.org", "--name", "Gwen Gone"))
    ok(run_cli("subscribers", "forget", "gone@example.org", "--yes"))


def test_import_reports_every_bad_row_by_line_and_imports_the_rest(run_cli, db, tmp_path):
    from pathlib import Path

    prepare_left_and_forgotten(run_cli)
    csv_path = Path(__file__).parent / "data" / "members_bad.csv"
    result = ok(run_cli("subscribers", "import", csv_path))
    p = str(csv_path)
    assert result.stderr.splitlines() == [
        f"{p}:3: not-an-address: not a valid email address (An email address must have an @-sign.)",
        f"{p}:4: cat@example.org: unknown topic 'gardening' (known: data-protection, cyber-security, smart-places,"
        " digital-transformation, health-social-care, emerging-technology, skills-leadership, member-news)",
        f"{p}:5: dan@example.org: unknown frequency 'fortnightly' (one of: daily, weekly, monthly)",
        f"{p}:6: eve@example.org: name contains a line break",
        f"{p}:8: fay@example.org: unknown format 'pdf' (one of: html, text)",
        f"{p}:10: ANA@example.org: duplicate of line 2",
        f"{p}:11: gone@example.org: was forgotten at the member's request and cannot be added again",
        f"{p}:12: left@example.org: is unsubscribed on {rows(db, schema.subscribers, 'left_at')[0][0]:%Y-%m-%d};"
        " imports and `add` never re-subscribe anyone",
    ]
    assert result.stdout == "added 3, updated 0, unchanged 0, skipped 8\n"
    assert members(db) == [
        ("left@example.org", "Lee Left", "unsubscribed", "", "weekly", "html"),
        ("ana@example.org", "Ana Lopez", "active", "cyber-security,smart-places", "daily", "html"),
        ("ben@example.org", "Ben O'Neil", "active", "", "weekly", "text"),
        ("sian.jones@example.org", "Siân Jones", "active", "data-protection", "monthly", "html"),
    ]
    assert actions(db)[-3:] == [(m, "import", "subscribe") for m in
                                ("ana@example.org", "ben@example.org", "sian.jones@example.org")]


def test_an_import_records_each_members_own_subscribe_event(run_cli, db, tmp_path):
    # Imported in bulk (two statements a batch): each event belongs to its own member, with their own details.
    csv_path = tmp_path / "members.csv"
    csv_path.write_text("email,name,topics,frequency,format\n" + "".join(
        f"m{i}@example.org,M {i},{'member-news' if i % 2 else 'data-protection'},"
        f"{'daily' if i % 3 else 'monthly'},{'text' if i % 5 == 0 else 'html'}\n" for i in range(12)),
        encoding="utf-8")
    assert ok(run_cli("members", "import", csv_path)).stdout == "added 12, updated 0, unchanged 0, skipped 0\n"
    with db.connect() as conn:
        got = conn.execute(sa.select(schema.subscribers.c.email, schema.events.c.source, schema.events.c.action,
                                     schema.events.c.detail).join(schema.subscribers)
                           .order_by(schema.events.c.id)).all()
    assert [(email, source, action, json.loads(detail)) for email, source, action, detail in got] == [
        (f"m{i}@example.org", "import", "subscribe",
         {"status": "active", "topics": ["member-news" if i % 2 else "data-protection"],
          "frequency": "daily" if i % 3 else "monthly", "format": "text" if i % 5 == 0 else "html"})
        for i in range(12)]


def test_reimport_updates_without_duplicates_and_never_reactivates(run_cli, db, tmp_path):
    first = tmp_path / "first.csv"
    first.write_text("email,name,topics,frequency,format\n"
                     "ana@example.org,Ana Lopez,cyber-security,weekly,html\n"
                     "ben@example.org,Ben,,weekly,html\n"
                     "cat@example.org,Cat,,monthly,text\n", encoding="utf-8")
    assert ok(run_cli("subscribers", "import", first)).stdout == "added 3, updated 0, unchanged 0, skipped 0\n"
    assert ok(run_cli("subscribers", "import", first)).stdout == "added 0, updated 0, unchanged 3, skipped 0\n"
    ok(run_cli("subscribers", "unsubscribe", "cat@example.org"))
    second = tmp_path / "second.csv"
    second.write_text("\ufeffEMAIL,Frequency,Topics\n"   # Excel's byte order mark, other order, other case
                      "Ana@Example.org,daily,cyber-security;member-news\n"
                      "ben@example.org,,\n"
                      "cat@example.org,daily,\n"
                      "dee@example.org,,all\n", encoding="utf-8")
    result = ok(run_cli("subscribers", "import", second))
    assert result.stdout == "added 1, updated 1, unchanged 1, skipped 1\n"
    [(left_at,)] = [r[1:] for r in rows(db, schema.subscribers, "email", "left_at") if r[0] == "cat@example.org"]
    assert result.stderr == (f"{second}:4: cat@example.org: is unsubscribed on {left_at:%Y-%m-%d};"
                             " imports and `add` never re-subscribe anyone\n")
    assert members(db) == [
        ("ana@example.org", "Ana Lopez", "active", "cyber-security,member-news", "daily", "html"),
        ("ben@example.org", "Ben", "active", "", "weekly", "html"),
        ("cat@example.org", "Cat", "unsubscribed", "", "monthly", "text"),
        ("dee@example.org", None, "active", "", "weekly", "html"),
    ]
    with db.connect() as conn:
        detail = conn.execute(sa.select(schema.events.c.detail).where(schema.events.c.action == "preferences")).scalar_one()
    assert json.loads(detail) == {"topics": [["cyber-security"], ["cyber-security", "member-news"]],
                                  "frequency": ["weekly", "daily"]}


@pytest.mark.parametrize("content, message", [
    (None, "cannot read the file"),
    (b"", "the file is empty"),
    (b"name,topics\nAna,\n", "line 1: the header row has no 'email' column"),
    (b"email,name\nsi\xe2n@example.org,S\xe2n\n", "is not UTF-8 text"),
])
def test_an_unreadable_file_imports_nothing_and_exits_1(run_cli, db, tmp_path, content, message):
    path = tmp_path / "list.csv"
    if content is not None:
        path.write_bytes(content)
    result = ok(run_cli("subscribers", "import", path), 1)
    assert result.stderr.startswith(f"Error: {path}: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert members(db) == []


def test_pending_import_and_confirmation_by_status(run_cli, db, tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("email\nana@example.org\n", encoding="utf-8")
    ok(run_cli("subscribers", "import", path, "--pending"))
    assert members(db)[0][2] == "pending"
    assert ok(run_cli("subscribers", "set", "ana@example.org", "--status", "active")).stdout == (
        "ana@example.org: status pending -> active\n")
    assert rows(db, schema.subscribers, "confirmed_at")[0][0] is not None
    assert actions(db) == [("ana@example.org", "import", "subscribe"), ("ana@example.org", "cli", "confirm")]


def test_set_changes_details_and_records_them(run_cli, db):
    ok(run_cli("subscribers", "add", "ana@example.org", "--name", "Ana"))
    result = ok(run_cli("subscribers", "set", "ana@example.org", "--name", "Ana Lopez", "--topics", "member-news",
                        "--frequency", "daily", "--format", "text", "--revoke-links"))
    assert result.stdout == ("ana@example.org: name Ana -> Ana Lopez; topics all -> member-news; frequency weekly -> daily;"
                             " format html -> text; token_version 1 -> 2\n")
    assert ok(run_cli("subscribers", "set", "ana@example.org", "--topics", "all", "--name", "")).stdout == (
        "ana@example.org: name Ana Lopez -> (none); topics member-news -> all\n")
    assert ok(run_cli("subscribers", "set", "ana@example.org", "--format", "text")).stdout == "ana@example.org: no change\n"
    assert members(db) == [("ana@example.org", None, "active", "", "daily", "text")]
    assert rows(db, schema.subscribers, "token_version") == [(2,)]
    assert [a[2] for a in actions(db)] == ["subscribe", "preferences", "revoke-links", "preferences"]
    assert ok(run_cli("subscribers", "set", "ana@example.org"), 2).stderr.endswith("nothing to change: give at least one option (see --help)\n")


def test_unsubscribe_keeps_the_member_and_only_set_brings_them_back(run_cli, db):
    ok(run_cli("subscribers", "add", "ana@example.org"))
    assert ok(run_cli("subscribers", "unsubscribe", "ANA@example.org")).stdout == "unsubscribed ana@example.org\n"
    assert ok(run_cli("subscribers", "unsubscribe", "ana@example.org")).stdout == "ana@example.org had already left (unsubscribed)\n"
    [(status, left_at)] = rows(db, schema.subscribers, "status", "left_at")
    assert status == "unsubscribed" and left_at is not None
    assert ok(run_cli("subscribers", "add", "ana@example.org"), 1).stderr.startswith(
        "Error: ana@example.org: is unsubscribed on ")
    ok(run_cli("subscribers", "set", "ana@example.org", "--status", "active"))
    assert rows(db, schema.subscribers, "status", "left_at") == [("active", None)]
    assert actions(db) == [("ana@example.org", "cli", "subscribe"), ("ana@example.org", "cli", "unsubscribe"),
                           ("ana@example.org", "cli", "resubscribe")]


def test_export_holds_everything_including_events(run_cli):
    ok(run_cli("subscribers", "add", "ana@example.org", "--name", "Ana"))
    ok(run_cli("subscribers", "set", "ana@example.org", "--frequency", "daily"))
    ok(run_cli("subscribers", "unsubscribe", "ana@example.org"))
    data = json.loads(ok(run_cli("subscribers", "export", "ana@example.org")).stdout)
    assert set(data) == {"subscriber", "events", "deliveries"}
    assert {k: data["subscriber"][k] for k in ("email", "email_key", "name", "status", "frequency", "hard_bounces")} == {
        "email": "ana@example.org", "email_key": "ana@example.org", "name": "Ana", "status": "unsubscribed",
        "frequency": "daily", "hard_bounces": 0}
    assert [(e["source"], e["action"], e["detail"]) for e in data["events"]] == [
        ("cli", "subscribe", {"status": "active", "topics": [], "frequency": "weekly", "format": "html"}),
        ("cli", "preferences", {"frequency": ["weekly", "daily"]}),
        ("cli", "unsubscribe", {"status": ["active", "unsubscribed"]}),
    ]


def text_columns_containing(db, needle: str) -> list[str]:
    """Every (table.column) of every table whose text holds needle, in any case."""
    found = []
    with db.connect() as conn:
        for table in _tables(db):
            for col in table.columns:
                if isinstance(col.type, (sa.String, sa.Text)):
                    q = sa.select(sa.func.count()).where(sa.func.lower(col).contains(needle.lower()))
                    if conn.execute(q).scalar():
                        found.append(f"{table.name}.{col.name}")
    return sorted(found)


def _tables(db):
    meta = sa.MetaData()
    meta.reflect(db.engine)  # every table in the database, not only those the schema module knows
    return meta.sorted_tables


def add_failed_delivery(db, email: str, error: str) -> None:
    with db.begin() as conn:
        sub_id = conn.execute(sa.select(schema.subscribers.c.id).where(schema.subscribers.c.email_key == email)).scalar_one()
        edition = conn.execute(sa.select(schema.editions.c.id)).scalar() or conn.execute(sa.insert(schema.editions).values(
            key="2017-W25", frequency="weekly", window_start=NOW, window_end=NOW, subject="s", built_at=NOW)
        ).inserted_primary_key[0]
        variant = conn.execute(sa.insert(schema.variants).values(
            edition_id=edition, topics=f"v{sub_id}", format="html", subject="s", text="t", item_count=0, rendered_at=NOW)
        ).inserted_primary_key[0]
        conn.execute(sa.insert(schema.deliveries).values(
            edition_id=edition, subscriber_id=sub_id, variant_id=variant, status=3, last_error=error))


def test_forget_leaves_no_trace_but_blocks_reimport(run_cli, db, tmp_path):
    ok(run_cli("subscribers", "add", "Fay.Forgotten@example.org", "--name", "Fay Forgotten"))
    ok(run_cli("subscribers", "add", "gus@example.org"))
    ok(run_cli("subscribers", "set", "fay.forgotten@example.org", "--frequency", "daily", "--name", "Fay Forgotten-Smith"))
    add_failed_delivery(db, "fay.forgotten@example.org", "550 5.1.1 <Fay.Forgotten@example.org>: no such user")
    add_failed_delivery(db, "gus@example.org", "421 try later")
    # The scan finds the address and name wherever they are before forgetting.
    assert text_columns_containing(db, "fay.forgotten") == [
        "deliveries.last_error", "subscribers.email", "subscribers.email_key"]
    assert text_columns_containing(db, "Fay Forgotten") == ["events.detail", "subscribers.name"]
    assert "Erase everything" in ok(run_cli("subscribers", "forget", "fay.forgotten@example.org", input="n\n"), 1).output
    assert len(members(db)) == 2
    assert ok(run_cli("subscribers", "forget", "FAY.forgotten@example.org", "--yes")).stdout == "forgot FAY.forgotten@example.org\n"
    for needle in ("fay.forgotten", "Fay Forgotten", "Forgotten-Smith"):
        assert text_columns_containing(db, needle) == []
    assert members(db) == [("gus@example.org", None, "active", "", "weekly", "html")]
    assert [a[0] for a in actions(db)] == ["gus@example.org"]
    assert [(d is None, e) for d, e in rows(db, schema.deliveries, "subscriber_id", "last_error")] == [
        (True, None), (False, "421 try later")]
    assert rows(db, schema.suppressions, "reason") == [("forgotten",)]

    path = tmp_path / "again.csv"
    path.write_text("email,name\nfay.forgotten@EXAMPLE.org,Fay\n", encoding="utf-8")
    result = ok(run_cli("subscribers", "import", path))
    assert result.stderr == (f"{path}:2: fay.forgotten@example.org: was forgotten at the member's request"
                             " and cannot be added again\n")
    assert result.stdout == "added 0, updated 0, unchanged 0, skipped 1\n"
    assert ok(run_cli("subscribers", "set", "fay.forgotten@example.org", "--status", "active"), 1).stderr == (
        "Error: fay.forgotten@example.org: was forgotten at the member's request\n")
    assert len(members(db)) == 1


def test_sample_members_import_cleanly(run_cli, db):
    from pathlib import Path

    sample = Path(__file__).parent.parent / "samples" / "members.csv"
    result = ok(run_cli("subscribers", "import", sample))
    assert (result.stdout, result.stderr) == ("added 12, updated 0, unchanged 0, skipped 0\n", "")
    listed = members(db)
    assert any(name == "Siân Jones" for _, name, *_ in listed)
    assert {m[5] for m in listed} == {"html", "text"} and {m[4] for m in listed} == {"daily", "weekly", "monthly"}


def test_pending_members_are_asked_to_confirm_once_and_the_link_activates(run_cli, tmp_path, db, settings):
    import email
    import email.policy
    import re

    from digest.web import create_app

    csv = tmp_path / "pending.csv"
    csv.write_text("email,name,topics,frequency\nann@example.org,Ann,,weekly\nbob@example.org,Bob,,monthly\n",
                   encoding="utf-8")
    assert run_cli("subscribers", "import", csv, "--pending").exit_code == 0
    first = run_cli("subscribers", "ask-confirm", "--transport", "file")
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "asked 2 pending member(s) to confirm"
    again = run_cli("subscribers", "ask-confirm", "--transport", "file")
    assert again.output.strip() == "asked 0 pending member(s) to confirm; 2 asked recently, not again"
    mails = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(mails) == 2
    msg = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == f"Confirm your subscription to {settings.organisation}"
    link = re.search(r"https://news\.example\.org/confirm/\S+", msg.get_body(("plain",)).get_content()).group(0)
    client = create_app(settings, db).test_client()
    assert client.get(link.removeprefix("https://news.example.org")).status_code == 200  # a button: no change
    assert json.loads(run_cli("subscribers", "show", str(msg["To"]), "--json").output)["status"] == "pending"
    assert client.post(link.removeprefix("https://news.example.org")).status_code == 200
    shown = json.loads(run_cli("subscribers", "show", str(msg["To"]), "--json").output)
    assert shown["status"] == "active"


def test_forget_deletes_the_members_messages_from_the_outbox_and_only_theirs(run_cli, queue_members, tmp_path):
    queue_members(3)
    ok(run_cli("send", "--transport", "file"))
    outbox = tmp_path / "outbox"
    (outbox / "notes.eml").write_bytes(b"not a message at all")  # unreadable ones are left alone
    before = {p.name: p.read_bytes() for p in outbox.glob("*.eml")}
    assert len(before) == 4
    result = ok(run_cli("subscribers", "forget", "Member001@example.org", "--yes"))
    assert result.output == f"forgot Member001@example.org and deleted 1 message(s) to them in {outbox}\n"
    after = {p.name: p.read_bytes() for p in outbox.glob("*.eml")}
    [gone] = set(before) - set(after)
    assert b"member001@example.org" in before[gone] and all(b"member001@" not in m for m in after.values())
    assert len(after) == 3 and all(after[n] == before[n] for n in after)
    # Someone with nothing in the outbox: the same one line as ever, and nothing deleted.
    ok(run_cli("subscribers", "add", "late@example.org"))
    assert ok(run_cli("subscribers", "forget", "late@example.org", "--yes")).output == "forgot late@example.org\n"
    assert len(list(outbox.glob("*.eml"))) == 3


def test_members_add_sends_the_welcome_when_configured_and_import_and_sync_never_do(run_cli, tmp_path, monkeypatch,
                                                                                    settings):
    import email.policy

    outbox = tmp_path / "outbox"

    def sent() -> list:
        return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                for p in sorted(outbox.glob("*.eml"))]

    ok(run_cli("members", "add", "quiet@example.org", "--transport", "file"))  # off by default
    assert sent() == []
    cfg = tmp_path / "digest.toml"
    cfg.write_text("[members]\nwelcome = true\n", encoding="utf-8")
    monkeypatch.setenv("DIGEST_CONFIG", str(cfg))
    ok(run_cli("members", "add", "Ana@Example.org", "--name", "Ana", "--transport", "file"))
    [welcome] = sent()
    assert welcome["To"] == "Ana@example.org"
    assert welcome["Subject"] == f"Welcome to the {settings.organisation} digest"
    assert "https://news.example.org/" in welcome.get_body(("plain",)).get_content()
    ok(run_cli("members", "add", "later@example.org", "--pending", "--transport", "file"))  # welcomed on confirming
    csv = tmp_path / "members.csv"
    csv.write_text("email\nimported@example.org\n", encoding="utf-8")
    ok(run_cli("members", "import", csv))
    crm = tmp_path / "crm.csv"
    crm.write_text("email\nsynced@example.org\n", encoding="utf-8")
    ok(run_cli("members", "sync", crm))
    assert len(sent()) == 1

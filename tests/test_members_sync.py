"""`digest members sync` with a 1,000-member export: lapses, returns, the brake, consent winning,
a dry run changing nothing, and the same sync twice changing nothing the second time."""

from __future__ import annotations

import json

import sqlalchemy as sa

from digest.db import schema
from feed_server import feed_server  # noqa: F401  (the fixture)

CONFIG = """
[members.sync]
max_lapse = "5%"
[members.sync.columns]
email = "Email Address"
name = "Full Name"
topics = "Interests"
frequency = "Digest"
[members.sync.attributes]
region = "Region"
grade = "Membership Grade"
"""


def export(path, ids, *, region="North", grade=lambda i: "Fellow" if i % 10 == 0 else "Member"):
    lines = ["Member No,Email Address,Full Name,Interests,Digest,Region,Membership Grade,Phone"]
    lines += [f"{i},member{i:04d}@example.org,Member {i},{'cyber-security' if i % 2 else ''},weekly,"
              f"{region},{grade(i)},0100" for i in ids]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def snapshot(db):
    with db.connect() as conn:
        members = [tuple(r) for r in conn.execute(sa.select(
            schema.subscribers.c.email, schema.subscribers.c.status, schema.subscribers.c.name,
            schema.subscribers.c.topics, schema.subscribers.c.attributes, schema.subscribers.c.updated_at,
        ).order_by(schema.subscribers.c.id))]
        events = conn.execute(sa.select(sa.func.count()).select_from(schema.events)).scalar()
    return members, events


def status_of(db, email):
    with db.connect() as conn:
        return conn.execute(sa.select(schema.subscribers.c.status)
                            .where(schema.subscribers.c.email == email)).scalar()


def test_a_thousand_members_synced_lapsed_returned_and_braked(run_cli, db, tmp_path):
    cfg = tmp_path / "digest.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    sync = lambda *a: run_cli("--config", cfg, "members", "sync", *a)  # noqa: E731
    full = export(tmp_path / "full.csv", range(1000))

    # A dry run on an empty list prints the difference and writes nothing.
    r = sync(full, "--complete", "--dry-run", "--quiet")
    assert r.exit_code == 0, r.output
    assert "would have added 1000, changed 0, lapsed 0, unchanged 0" in r.output
    assert snapshot(db) == ([], 0)

    r = sync(full, "--complete", "--quiet")
    assert r.exit_code == 0, r.output
    assert "added 1000, changed 0, lapsed 0, unchanged 0" in r.output
    with db.connect() as conn:
        row = conn.execute(sa.select(schema.subscribers).where(
            schema.subscribers.c.email == "member0010@example.org")).one()
    assert (row.status, row.name, row.consent_source) == ("active", "Member 10", "sync")
    assert json.loads(row.attributes) == {"grade": "Fellow", "region": "North"}  # Phone is not kept

    # The same sync twice changes nothing the second time: no row, no event.
    before = snapshot(db)
    r = sync(full, "--complete", "--quiet")
    assert "added 0, changed 0, lapsed 0, unchanged 1000" in r.output
    assert snapshot(db) == before

    # A member who joined through the public form, and one who unsubscribed / complained / was forgotten.
    assert run_cli("members", "add", "web.joiner@example.org").exit_code == 0
    with db.begin() as conn:
        conn.execute(sa.update(schema.subscribers).where(schema.subscribers.c.email == "web.joiner@example.org")
                     .values(consent_source="web"))
    assert run_cli("members", "unsubscribe", "member0001@example.org").exit_code == 0
    assert run_cli("members", "set", "member0002@example.org", "--status", "complained").exit_code == 0
    assert run_cli("members", "forget", "member0003@example.org", "--yes").exit_code == 0

    # 40 members leave the CRM (4% of the 998 active: under the 5% brake): lapsed, not deleted.
    gone = set(range(100, 140))
    r = sync(export(tmp_path / "minus40.csv", [i for i in range(1000) if i not in gone]), "--complete")
    assert r.exit_code == 0, r.output
    assert "lapsed 40," in r.output
    assert "left alone 3" in r.output  # consent wins: unsubscribed, complained, forgotten stay as they are
    assert status_of(db, "member0100@example.org") == "lapsed"
    assert status_of(db, "web.joiner@example.org") == "active"  # the CRM does not know them yet
    assert status_of(db, "member0001@example.org") == "unsubscribed"
    assert status_of(db, "member0002@example.org") == "complained"
    assert status_of(db, "member0003@example.org") is None  # forgotten stays forgotten
    assert "  left alone member0003@example.org: was forgotten" in r.output

    # A half-exported file: the brake refuses it and nothing changes; --force lets it through.
    before = snapshot(db)
    half = export(tmp_path / "half.csv", range(500))
    r = sync(half, "--complete")
    assert r.exit_code == 1
    assert "sync refused, nothing changed: it would lapse 500 of 958 active members (52.2%), more than " \
           "max_lapse 5%" in r.stderr
    assert snapshot(db) == before
    r = sync(half, "--complete", "--dry-run", "--quiet")  # a dry run shows the same, still changing nothing
    assert r.exit_code == 1 and snapshot(db) == before

    # They come back: lapsed members in the export are active again, with their history.
    r = sync(full, "--complete", "--quiet")
    assert r.exit_code == 0, r.output
    assert "changed 40 (40 back from lapsed), lapsed 0" in r.output
    assert status_of(db, "member0100@example.org") == "active"
    history = run_cli("members", "show", "member0100@example.org").output
    assert "sync      lapse (status active -> lapsed; reason not in the membership export)" in history
    assert "sync      return (status lapsed -> active)" in history

    # A change of region and interests is a change; the second time it is not.
    moved = export(tmp_path / "moved.csv", range(1000), region="South")
    assert "changed 997," in sync(moved, "--complete", "--quiet").output  # 3 are left alone
    assert "changed 0, lapsed 0, unchanged 997" in sync(moved, "--complete", "--quiet").output

    # require_in_crm: the public form's member is lapsed too.
    cfg.write_text(CONFIG.replace('max_lapse = "5%"', 'max_lapse = "5%"\nrequire_in_crm = true'), encoding="utf-8")
    r = sync(moved, "--complete")
    assert "  lapsed web.joiner@example.org" in r.output and status_of(db, "web.joiner@example.org") == "lapsed"


def test_sync_json_export_and_problems(run_cli, db, tmp_path):
    data = {"members": [
        {"email": "ana@example.org", "name": "Ana", "topics": ["cyber-security"], "format": "text"},
        {"email": "not-an-address"},
        {"email": "ANA@example.org"},
    ]}
    path = tmp_path / "crm.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    r = run_cli("members", "sync", path)
    assert r.exit_code == 0, r.output
    assert "added 1," in r.output and "bad rows 2" in r.output
    assert f"{path}:2: not-an-address: not a valid email address" in r.stderr
    assert f"{path}:3: ANA@example.org: duplicate of record 1" in r.stderr


def test_sync_refuses_an_unreadable_export_in_one_line(run_cli, db, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text("Name,Phone\nAna,1\n", encoding="utf-8")
    r = run_cli("members", "sync", path)
    assert r.exit_code == 1
    assert r.stderr == f"Error: {path}: the export has no 'email' column for the email address " \
                       "([members.sync.columns] email)\n"
    r = run_cli("members", "sync", tmp_path / "missing.csv")
    assert r.exit_code == 1 and "cannot read the export" in r.stderr


def test_subscribers_is_a_hidden_alias(run_cli, db):
    assert run_cli("subscribers", "add", "ana@example.org").exit_code == 0
    assert "ana@example.org" in run_cli("members", "list").output
    assert "subscribers" not in run_cli("--help").output


def test_run_syncs_first_and_a_tripped_brake_holds_the_mailing(run_cli, db, tmp_path, monkeypatch, seed_path,
                                                               smtp_sink):
    crm = export(tmp_path / "crm.csv", range(20))
    config = tmp_path / "digest.toml"
    config.write_text('[organisation]\neditors = ["editor@example.org"]\n' + CONFIG.replace(
        'max_lapse = "5%"', f'max_lapse = "5%"\nbefore_run = true\nsource = "{crm}"'), encoding="utf-8")
    monkeypatch.setenv("DIGEST_CONFIG", str(config))
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    assert run_cli("ingest", seed_path, "--published", "2017-06-21").exit_code == 0

    # The CRM's file is cut short: the brake holds the edition and the editors are told.
    assert run_cli("members", "sync", crm, "--complete").exit_code == 0
    export(crm, range(10))
    result = run_cli("run", "--week", "2017-W25")
    assert result.exit_code == 2, result.output
    assert "held 2017-W25: members sync refused: it would lapse 10 of 20 active members (50.0%)" in result.output
    assert status_of(db, "member0015@example.org") == "active"  # nothing changed
    [notice] = smtp_sink.messages
    assert notice.rcpt_tos == ("editor@example.org",) and "members sync refused" in notice.message.get_content()

    # The whole file again: synced first, then the edition goes to the members it lists.
    export(crm, range(19))
    result = run_cli("run", "--week", "2017-W25")
    assert result.exit_code == 0, result.output
    assert status_of(db, "member0019@example.org") == "lapsed"
    assert len(smtp_sink.messages) == 1 + 19


def test_sync_from_a_url_sends_the_token_header_and_refuses_plain_http_elsewhere(run_cli, db, tmp_path,
                                                                               monkeypatch, feed_server):
    feed_server.serve("/export.json", json.dumps([{"email": "ana@example.org", "region": "West"}]).encode(),
                      content_type="application/json")
    cfg = tmp_path / "digest.toml"
    cfg.write_text('[members.sync]\nheader = "X-Api-Key"\ntoken_env = "CRM_KEY"\n'
                   '[members.sync.attributes]\nregion = "region"\n', encoding="utf-8")
    monkeypatch.setenv("CRM_KEY", "s3cret")
    r = run_cli("--config", cfg, "members", "sync", feed_server.url("/export.json"))
    assert r.exit_code == 0, r.output
    assert "added 1," in r.output
    assert feed_server.requests_for("/export.json")[0]["X-Api-Key"] == "s3cret"
    feed_server.gone("/export.json")
    r = run_cli("--config", cfg, "members", "sync", feed_server.url("/export.json"))
    assert r.exit_code == 1 and "the export could not be fetched: HTTP 404" in r.stderr
    r = run_cli("members", "sync", "http://crm.example.org/export.csv")
    assert r.exit_code == 1 and "use an https:// URL" in r.stderr
    r = run_cli("members", "sync", "https://10.0.0.5/export.csv")
    assert r.exit_code == 1 and "refused" in r.stderr and "private address" in r.stderr

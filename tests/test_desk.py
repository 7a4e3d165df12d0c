"""The desk's controls and previews, through Flask's test client on a real database.

One code path: the desk's preview bytes are `digest preview`'s, and a
member's preview is what they are sent. The editor's controls (pin, exclude,
order, summary, topics, the edition's words, send-test, build, queue) change
what preview shows and are audited; `digest editors` manages who may sign in.
"""

from __future__ import annotations

import re

import pytest

from digest.db import articles as article_db
from digest.db import editors as editor_db
from desk_fixtures import (  # noqa: F401  (fixtures)
    EMAIL, NOW, SAMPLES, app, csrf_of, desk, editor, outbox, week25,
)


@pytest.mark.parametrize("variant", [("data-protection", "html"), ("", "html"), ("cyber-security", "text")])
def test_the_desks_preview_is_byte_for_byte_digest_preview(desk, run_cli, tmp_path, week25, variant):
    topics, fmt = variant
    client, _ = desk
    args = ["preview", "--week", "2017-W25", "--out", tmp_path / "cli.out"]
    query = f"period=2017-W25&format={fmt}"
    if topics:
        args += ["--topics", topics]
        query += f"&topics={topics}"
    if fmt == "text":
        args.append("--text")
    assert run_cli(*args).exit_code == 0
    desk_bytes = client.get(f"/desk/preview/{'text' if fmt == 'text' else 'frame'}?{query}").data
    assert desk_bytes == (tmp_path / "cli.out").read_bytes()
    assert len(desk_bytes) > 1000


def test_pin_exclude_move_summary_and_topics_change_what_preview_shows(desk, db, settings, week25):
    client, csrf = desk
    post = lambda a, action, **data: client.post(f"/desk/articles/{a}/{action}",  # noqa: E731
                                                 data={"csrf": csrf, "period": "2017-W25", **data})
    from digest.editorial.preview import PreviewRequest, make_preview

    def order():
        return [i.article_id for i in make_preview(db, settings, PreviewRequest(week="2017-W25"), now=NOW).items]

    before = order()
    assert post(8, "pin").status_code == 303
    assert order()[0] == 8
    assert post(before[1], "exclude").status_code == 303
    assert before[1] not in order()
    third = order()[2]
    assert post(third, "up").status_code == 303
    assert order().index(third) == 1
    resp = post(8, "down")  # the only pinned article: nowhere to go within its group
    assert order()[0] == 8 and "cannot move down any further" in client.get(resp.headers["Location"]).text
    assert post(6, "summary", summary="  A   summary\nby hand. ").status_code == 303
    with db.connect() as conn:
        [a6] = article_db.list_articles(conn, ids=[6])
    assert a6.summary_override == "A summary by hand."
    assert post(6, "topics", topics=["member-news", "nonsense"]).status_code == 303
    with db.connect() as conn:
        [a6] = article_db.list_articles(conn, ids=[6])
        reasons = article_db.topic_reasons(conn, [6])[6]
    assert a6.topics == ["member-news"] and a6.topics_by_hand
    assert reasons[0].reason == f"set by hand by {EMAIL}"
    # Re-ingesting keeps topics set by hand.
    from digest.ingest.store import ingest_sources

    ingest_sources(db, settings, [str(SAMPLES)], now=NOW)
    with db.connect() as conn:
        assert article_db.list_articles(conn, ids=[6])[0].topics == ["member-news"]
    assert post(6, "topics", automatic="1").status_code == 303
    with db.connect() as conn:
        assert article_db.list_articles(conn, ids=[6])[0].topics == ["cyber-security"]
        trail = [(r["editor"], r["action"], r["target"]) for r in reversed(editor_db.list_audit(conn))]
    assert trail == [(EMAIL, "sign-in", EMAIL), (EMAIL, "pin", "8"), (EMAIL, "exclude", str(before[1])),
                     (EMAIL, "up", str(third)), (EMAIL, "summary", "6"),
                     (EMAIL, "topics", "6"), (EMAIL, "topics", "6")]
    page = client.get("/desk/?period=2017-W25").text
    assert "Pinned “Preparing for GDPR" not in page  # notes are shown once, then gone
    assert page.count("In the edition, place") == 10 and "Excluded</li>" in page


def test_the_week_page_shows_why_and_the_summary_warnings(desk, db, week25):
    client, csrf = desk
    client.post("/desk/articles/6/summary", data={"csrf": csrf, "period": "2017-W25",
                                                  "summary": "WannaCry one month on: lessons for local public "
                                                             "services, and " + "more words " * 30 + "and so…"})
    page = client.get("/desk/?period=2017-W25").text
    card = page[page.index('id="a-6"'):]
    card = card[:card.find('<li class="article')]
    assert "Over the budget: 72 words, the budget is 50." in card
    assert "Cut off mid-thought" in card and "Repeats the title." in card
    assert "category &#39;Cyber security&#39; is the slug of cyber-security" in card
    assert "72 of 50 words" in card


def test_the_week_page_says_where_a_link_comes_from_when_not_the_source(desk, db, week25):
    """Issue 26: as `digest articles` says "[link: resolved]", a card says when its link is not the source's."""
    from sqlalchemy import update

    from digest.db.schema import articles

    with db.begin() as conn:
        conn.execute(update(articles).where(articles.c.id == 6).values(link_origin="resolved"))
        conn.execute(update(articles).where(articles.c.id == 7).values(link_origin="website"))
    client, _ = desk
    page = client.get("/desk/?period=2017-W25").text

    def card(n: int) -> str:
        text = page[page.index(f'id="a-{n}"'):]
        return text[:text.find('<li class="article', 1)]

    assert '<li class="badge">link: resolved</li>' in card(6)
    assert '<li class="badge">link: our website (no link in the source)</li>' in card(7)
    assert page.count("link: ") == 2  # a source's own link says nothing


def test_send_me_a_test_build_and_queue_from_the_desk(desk, db, settings, outbox, week25):
    from digest.db import members as member_db

    with db.begin() as conn:
        member_db.add(conn, "m@example.org", "M", ("data-protection",), "weekly", "html", now=NOW)
    client, csrf = desk
    page = client.get("/desk/preview?period=2017-W25&topics=data-protection&format=html").text
    assert "Members who get exactly this:</strong> 1" in page
    resp = client.post("/desk/preview/test", data={"csrf": csrf, "period": "2017-W25", "topics": "data-protection",
                                                  "format": "html"})
    assert resp.status_code == 303
    [(envelope, message)] = outbox.sent
    assert envelope.recipients == (EMAIL,) and b"Preparing for GDPR" in message
    assert "Sent a test of 2017-W25 (data-protection:html) to eda@example.org." in client.get(resp.headers["Location"]).text
    assert client.post("/desk/edition/build", data={"csrf": csrf, "period": "2017-W25"}).status_code == 303
    assert client.post("/desk/edition/queue", data={"csrf": csrf, "period": "2017-W25"}).status_code == 303
    page = client.get("/desk/?period=2017-W25").text
    assert "<td>Queued</td><td>1</td>" in page and "it is frozen" in page
    with db.connect() as conn:
        actions = [r["action"] for r in editor_db.list_audit(conn)]
    assert actions[:3] == ["queue", "build", "send-test"]


def test_a_bad_period_is_one_line_and_a_400(desk):
    client, _ = desk
    resp = client.get("/desk/?period=2017-W99")
    assert resp.status_code == 400 and "That period does not work" in resp.text


def test_editors_cli_add_list_remove_and_the_printed_link(run_cli, db, settings):
    out = run_cli("editors", "add", "Ed@Example.org", "--name", "Ed", "--print-link").output
    assert "added editor Ed@example.org (Ed)" in out
    assert re.search(r"link for Ed@example.org \(works once\): https://news.example.org/desk/link/\S+", out)
    result = run_cli("editors", "add", "ed@example.org")
    assert result.exit_code == 1 and "is already an editor" in result.output
    assert run_cli("editors", "add", "not an address").exit_code == 1
    listed = run_cli("editors", "list", "--json").output
    assert '"email": "Ed@example.org"' in listed and '"password": false' in listed
    # No mail server: the link is printed, with a warning.
    result = run_cli("editors", "link", "ed@example.org")
    assert result.exit_code == 0 and "could not be sent" in result.output and "/desk/link/" in result.output
    assert run_cli("editors", "remove", "ed@example.org").exit_code == 0
    assert run_cli("editors", "remove", "ed@example.org").exit_code == 1
    with db.connect() as conn:
        trail = [r["action"] for r in reversed(editor_db.list_audit(conn))]
    assert trail == ["editor-add", "editor-link", "editor-remove"]


def test_editors_add_emails_the_link_through_the_smtp_server(run_cli, smtp_sink, monkeypatch):
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    out = run_cli("editors", "add", "eda@example.org").output
    assert "emailed a set-password link to eda@example.org via smtp" in out
    [msg] = smtp_sink.wait_for(1)
    assert msg.rcpt_tos == ("eda@example.org",)
    assert "/desk/link/" in msg.message.get_content()


def test_the_editions_words_are_saved_shown_and_frozen_once_queued(desk, db, settings, week25):
    from digest.editorial.text import edition_text

    client, csrf = desk
    page = client.get("/desk/?period=2017-W25").text
    assert re.search(r"Leave it empty for “Cyber essentials for schools and libraries: a practical guide, and 9 more”\.", page)
    data = {"csrf": csrf, "period": "2017-W25", "subject": "  A  subject ", "preheader": "",
            "note": "<b>Hello</b> members.\r\n\r\n\r\nSee [the report](https://example.org/r)."}
    resp = client.post("/desk/edition/text", data=data)
    assert resp.status_code == 303
    saved = edition_text(db, "2017-W25")
    assert (saved.subject, saved.preheader, saved.updated_by) == ("A subject", "", EMAIL)
    assert saved.note == "<b>Hello</b> members.\n\nSee [the report](https://example.org/r)."
    page = client.get(resp.headers["Location"]).text
    assert "&lt;b&gt;Hello&lt;/b&gt; members." in page and "<b>Hello</b>" not in page
    frame = client.get("/desk/preview/frame?period=2017-W25&format=html").text
    assert "&lt;b&gt;Hello&lt;/b&gt; members." in frame and '<a href="https://example.org/r"' in frame
    resp = client.post("/desk/edition/text", data={**data, "subject": "x" * 151})
    assert "Not saved: edition 2017-W25: the subject is 151 characters; at most 150" in \
        client.get(resp.headers["Location"]).text
    resp = client.post("/desk/edition/text", data={**data, "note": "[bad](javascript:alert(1))"})
    assert "only http(s) addresses can be linked" in client.get(resp.headers["Location"]).text
    assert edition_text(db, "2017-W25").subject == "A subject"
    client.post("/desk/edition/build", data={"csrf": csrf, "period": "2017-W25"})
    client.post("/desk/edition/queue", data={"csrf": csrf, "period": "2017-W25"})
    page = client.get("/desk/?period=2017-W25").text
    assert 'action="/desk/edition/text"' not in page and "<dd>A subject</dd>" in page
    resp = client.post("/desk/edition/text", data={**data, "subject": "Too late"})
    assert "its words are frozen with it" in client.get(resp.headers["Location"]).text
    with db.connect() as conn:
        assert [r["action"] for r in editor_db.list_audit(conn)].count("edition-text") == 1


def test_a_members_preview_is_what_they_are_sent(run_cli, tmp_path, db):
    """The preview of a member (desk or `digest preview --member`) is their variant as queued:
    a pinned article goes only to members of its topics, and the text part is the sent one, byte for byte."""
    from email import message_from_bytes
    from email import policy as email_policy

    assert run_cli("ingest", SAMPLES).exit_code == 0
    for email, topics in (("c@example.org", "cyber-security"), ("d@example.org", "data-protection,cyber-security")):
        assert run_cli("subscribers", "add", email, "--name", "Ann Member", "--topics", topics).exit_code == 0
    assert run_cli("article", "pin", "8").exit_code == 0  # Preparing for GDPR: data protection
    previews = {}
    for email in ("c@example.org", "d@example.org"):
        out = tmp_path / f"{email}.txt"
        assert run_cli("preview", "--week", "2017-W25", "--subscriber", email, "--text", "--out", out).exit_code == 0
        previews[email] = out.read_text(encoding="utf-8")
    assert "Preparing for GDPR" not in previews["c@example.org"]
    assert "Preparing for GDPR" in previews["d@example.org"]
    assert run_cli("weekly", "--week", "2017-W25", "--transport", "file").exit_code == 0
    for eml in (tmp_path / "outbox").glob("*.eml"):
        msg = message_from_bytes(eml.read_bytes(), policy=email_policy.default)
        sent = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")  # the wire has CRLF
        assert sent == previews[msg["To"].addresses[0].addr_spec]


def test_previewing_a_members_copy_and_an_unknown_address(desk, db, week25):
    from digest.db import members as member_db

    with db.begin() as conn:
        member_db.add(conn, "text@example.org", "Tex", ("cyber-security",), "weekly", "text", now=NOW)
    client, _ = desk
    page = client.get("/desk/preview?period=2017-W25&member=text@example.org").text
    assert "What text@example.org gets" in page and "Members who get exactly this" not in page
    assert "No member gets exactly this" not in page
    assert "<iframe" not in page and "Plain-text members get the text part only." in page
    assert "Cyber essentials for schools" in page and "Preparing for GDPR" not in page
    resp = client.get("/desk/preview?period=2017-W25&member=nobody@example.org")
    assert resp.status_code == 400 and "nobody@example.org: no such member" in resp.text
    resp = client.get("/desk/preview?period=2017-W99")
    assert resp.status_code == 400 and "2017-W99" in resp.text


def test_sources_fetched_from_the_desk_a_failure_holds_the_edition_and_a_reason_sends_it(env, tmp_path):
    """Honest about failures: a source that failed is on the page, the edition is held as `digest weekly`
    would hold it, and queueing it anyway needs a reason, recorded with the edition."""
    import shutil

    from digest.config import load_settings
    from digest.db import Database
    from digest.db import editions as edition_db
    from digest.web import create_app
    from desk_fixtures import sign_in

    shutil.copy(SAMPLES, tmp_path / "news.xml")
    (tmp_path / "digest.toml").write_text(
        '[digest]\nfetch_images = false\n\n'
        '[[sources]]\nname = "news"\npath = "news.xml"\nmax_age_days = 14\n\n'
        '[[sources]]\nname = "listing"\npath = "gone.txt"\n', encoding="utf-8")
    settings = load_settings(tmp_path / "digest.toml", environ={**env, "DIGEST_CONFIG": ""})
    db = Database(settings.database_url)
    try:
        with db.begin() as conn:
            e = editor_db.add(conn, EMAIL, None, now=NOW)
            from digest.editorial.editors import hash_password

            editor_db.set_password(conn, e.id, hash_password("a long enough passphrase"))
        client = create_app(settings, db, transport_factory=MemoryTransportFactory()).test_client()
        assert sign_in(client).status_code == 303
        page = client.get("/desk/?period=2017-W25").text
        assert re.search(r"<strong>news</strong>:\s*not fetched yet\.", page)
        csrf = csrf_of(page)
        resp = client.post("/desk/sources/fetch", data={"csrf": csrf, "period": "2017-W25"})
        page = client.get(resp.headers["Location"]).text
        assert "source news: rss, 16 item(s): 16 new, 0 updated, 0 unchanged" in page
        assert re.search(r'<p class="note note-problem">source listing: .*gone\.txt', page)
        assert "the last fetch failed" in page and "Queueing now would be held" in page
        assert "source listing failed:" in page
        client.post("/desk/edition/build", data={"csrf": csrf, "period": "2017-W25"})
        page = client.get("/desk/?period=2017-W25").text
        assert "Queue it for members</button>" not in page and "Queue it anyway</button>" in page
        resp = client.post("/desk/edition/queue", data={"csrf": csrf, "period": "2017-W25", "force": "1"})
        assert "say why" in client.get(resp.headers["Location"]).text
        resp = client.post("/desk/edition/queue", data={"csrf": csrf, "period": "2017-W25", "force": "1",
                                                        "reason": "the listing export moved; news is complete"})
        page = client.get(resp.headers["Location"]).text
        assert "Sent past the gate" in page and "After the send" not in page  # nothing sent yet
        with db.connect() as conn:
            built = edition_db.load_edition(conn, "2017-W25")
            trail = [(r["action"], r["target"]) for r in editor_db.list_audit(conn)]
            [forced] = [r for r in editor_db.list_audit(conn) if r["action"] == "force"]
        assert forced["editor"] == EMAIL and forced["detail"]["reason"] == "the listing export moved; news is complete"
        assert forced["detail"]["held"] and "listing" in " ".join(forced["detail"]["held"])
        assert "the listing export moved; news is complete" in client.get("/desk/audit").text
        assert built.queued_at is not None and built.forced_by == EMAIL
        assert built.forced_reason == "the listing export moved; news is complete"
        assert trail[:2] == [("force", "2017-W25"), ("build", "2017-W25")] and ("fetch-sources", "2017-W25") in trail
    finally:
        db.dispose()


class MemoryTransportFactory:
    def __call__(self):
        from digest.sending.transports import MemoryTransport

        return MemoryTransport()

"""Languages, second part (issue 22): the editor's words per language, articles' languages and translations.

A Welsh member reads the editor's Welsh words, the Welsh version of an article where there is one, and
the English one labelled "Saesneg yn unig" (and marked lang="en") where there is not. Real database
(SQLite, and PostgreSQL with DIGEST_TEST_DATABASE_URL), real files, the real CLI and desk.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from lxml import html as lxml_html
from sqlalchemy import select

from conftest import ok
from desk_fixtures import csrf_of, sign_in, editor  # noqa: F401  (the fixture)
from digest.config import load_settings
from digest.db import articles as article_db
from digest.db.schema import articles, editions
from digest.edition.render import render_variant
from digest.editorial.candidates import plan_edition
from digest.edition.periods import parse_period
from digest.ingest.feeds import parse_feed
from digest.ingest.jsonfeed import parse_jsonfeed
from digest.ingest.store import article_language
from digest.ingest.wordpress import parse_wordpress
from digest.models import EditionWords, Translation
from digest.sending.transports import MemoryTransport
from test_render import GOLDEN, _normalise, week25

T0 = datetime(2017, 6, 26, 7, 0, tzinfo=timezone.utc)
W25 = "2017-W25"


@pytest.fixture
def config(tmp_path, env):
    path = tmp_path / "digest.toml"
    path.write_text('[organisation]\nlanguages = ["en-GB", "cy"]\neditors = ["editor@example.org"]\n',
                    encoding="utf-8")
    env["DIGEST_CONFIG"] = str(path)
    return path


@pytest.fixture
def cy_settings(config, env):
    return load_settings(None, environ=env)


def welsh_week():
    """W25 with a Welsh translation of the lead story, an article written in Welsh, and the editor's Welsh words."""
    items = week25().items
    items[0] = replace(items[0], translations=(Translation(
        "cy", "Araith y Frenhines: beth i gadw llygad arno", "https://www.example.org/cy/2017/06/araith-y-frenhines/",
        "Beth mae’r araith yn ei ddweud am ddata, a beth sydd ar goll."),))
    items[1] = replace(items[1], language="cy", title="Cynghorau Cymru yn rhannu gwasanaethau digidol",
                       summary="Mae chwe chyngor wedi cytuno i rannu tîm digidol.")
    words = {"cy": EditionWords("Araith y Frenhines a mwy", "Yr wythnos hon: data, cynghorau a mwy",
                                "Croeso i’r rhifyn hwn.\n\nDarllenwch [ein hadroddiad](https://www.example.org/cy/adroddiad).")}
    return replace(week25(items), subject="The Queen’s speech and more", preheader="This week: data and councils",
                   note="Welcome to this edition.", words=words)


# ---- rendering: the member's language's words and articles ---------------------------------------------


def test_a_welsh_member_reads_welsh_words_the_welsh_version_and_english_only_labelled(cy_settings):
    r = render_variant(welsh_week(), cy_settings, lang="cy")
    assert r.subject == "Araith y Frenhines a mwy" and r.preheader == "Yr wythnos hon: data, cynghorau a mwy"
    doc = lxml_html.document_fromstring(r.html)
    note = doc.xpath("//td[contains(@class, 'note-cell')]")
    assert len(note) == 1 and note[0].get("lang") is None and "Croeso i’r rhifyn hwn." in note[0].text_content()
    heads = doc.xpath("//*[contains(concat(' ', @class, ' '), ' headline ')]")
    assert heads[0].text_content() == "Araith y Frenhines: beth i gadw llygad arno" and heads[0].get("lang") is None
    assert heads[0].xpath(".//a/@href") == ["https://www.example.org/cy/2017/06/araith-y-frenhines/"]
    assert heads[1].text_content() == "Cynghorau Cymru yn rhannu gwasanaethau digidol" and heads[1].get("lang") is None
    assert all(h.get("lang") == "en" for h in heads[2:])  # no Welsh version: English, in an English voice
    labels = [e.text_content() for e in doc.xpath("//span[@class='only-in']")]
    assert labels == ["Saesneg yn unig"] * (len(heads) - 2)
    assert "[Saesneg yn unig]" in r.text and "Croeso i’r rhifyn hwn." in r.text
    assert "Read more" not in r.text and "Araith y Frenhines: beth i gadw llygad arno" in r.text


def test_an_english_member_reads_english_words_and_the_welsh_article_labelled(cy_settings):
    r = render_variant(welsh_week(), cy_settings)
    assert r.subject == "The Queen’s speech and more" and r.preheader == "This week: data and councils"
    doc = lxml_html.document_fromstring(r.html)
    heads = doc.xpath("//*[contains(concat(' ', @class, ' '), ' headline ')]")
    assert heads[0].text_content().startswith("Queen’s speech") and heads[0].get("lang") is None
    assert heads[1].get("lang") == "cy"
    assert [e.text_content() for e in doc.xpath("//span[@class='only-in']")] == ["Welsh only"]


def test_a_welsh_word_not_written_is_the_first_languages_marked_with_its_language(cy_settings):
    week = replace(welsh_week(), words={"cy": EditionWords(subject="Pwnc yn unig")})
    r = render_variant(week, cy_settings, lang="cy")
    assert r.subject == "Pwnc yn unig" and r.preheader == "This week: data and councils"
    [note] = lxml_html.document_fromstring(r.html).xpath("//td[contains(@class, 'note-cell')]")
    assert note.get("lang") == "en" and "Welcome to this edition." in note.text_content()


def test_the_bilingual_email_says_each_languages_words_in_order(cy_settings):
    both = replace(cy_settings, language_mode="bilingual", bilingual_order=("cy", "en-GB"))
    r = render_variant(welsh_week(), both, lang="cy+en-GB")
    assert r.subject == "Araith y Frenhines a mwy / The Queen’s speech and more"
    notes = lxml_html.document_fromstring(r.html).xpath("//td[contains(@class, 'note-cell')]")
    assert [n.get("lang") for n in notes] == [None, "en"]
    assert r.text.index("Croeso i’r rhifyn hwn.") < r.text.index("Welcome to this edition.")


@pytest.mark.parametrize("part", ["html", "txt"])
def test_golden_welsh_member_with_translations_and_welsh_words(cy_settings, part):
    r = render_variant(welsh_week(), cy_settings, lang="cy")
    got = _normalise(r.html if part == "html" else r.text)
    path = GOLDEN / f"digest-2017-W25.cy-translated.{part}"
    if os.environ.get("DIGEST_UPDATE_GOLDEN") or not path.exists():
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8")


# ---- the editor's words per language: the command line and the gate ------------------------------------


def test_edition_set_per_language_and_show(run_cli, config, tmp_path):
    note = tmp_path / "nodyn.md"
    note.write_text("Croeso i’r rhifyn hwn.\n", encoding="utf-8")
    ok(run_cli("edition", "set", W25, "--subject", "GDPR in a year", "--note", "Welcome."))
    shown = run_cli("edition", "set", W25, "--language", "cy", "--subject", "GDPR mewn blwyddyn")
    assert shown.exit_code == 0, shown.output
    assert "warning: edition 2017-W25 has no Welsh note (digest edition set 2017-W25 --language cy)" in shown.output
    ok(run_cli("edition", "set", W25, "--language", "cy", "--note-file", str(note)))
    out = ok(run_cli("edition", "show", W25)).output
    assert "  en-GB (English):\n    subject:   GDPR in a year\n" in out
    assert "  cy (Welsh):\n    subject:   GDPR mewn blwyddyn\n" in out
    assert "    preheader: (made from the headlines)" in out and "      Croeso i’r rhifyn hwn." in out
    assert "warning" not in out
    refused = run_cli("edition", "set", W25, "--language", "fr", "--subject", "x")
    assert refused.exit_code == 1 and "unknown language 'fr' (one of: en-GB, cy)" in refused.output


def test_the_gate_holds_an_edition_without_welsh_words_when_every_language_is_required(
        run_cli, config, seed_path, tmp_path, db, smtp_sink, monkeypatch):
    config.write_text(config.read_text(encoding="utf-8").replace(
        'languages = ["en-GB", "cy"]', 'languages = ["en-GB", "cy"]\nrequire_every_language = true'), encoding="utf-8")
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    ok(run_cli("subscribers", "add", "ann@example.org"))
    ok(run_cli("edition", "set", W25, "--subject", "GDPR in a year"))
    held = run_cli("weekly", "--week", W25)
    assert held.exit_code == 2, held.output
    line = "edition 2017-W25 has no Welsh subject (digest edition set 2017-W25 --language cy)"
    assert f"held 2017-W25: {line}" in held.output.splitlines()
    [notice] = smtp_sink.messages
    assert notice.rcpt_tos == ("editor@example.org",) and f"- {line}" in notice.message.get_content()
    with db.connect() as conn:
        assert conn.execute(select(editions.c.id)).first() is None  # nothing built
    ok(run_cli("edition", "set", W25, "--language", "cy", "--subject", "GDPR mewn blwyddyn"))
    sent = run_cli("weekly", "--week", W25)
    assert sent.exit_code == 0, sent.output
    with db.connect() as conn:
        words = conn.execute(select(editions.c.words)).scalar_one()
    assert json.loads(words) == {"cy": {"subject": "GDPR mewn blwyddyn", "preheader": "", "note": ""}}


def test_without_the_requirement_missing_welsh_words_do_not_hold(run_cli, config, seed_path):
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    ok(run_cli("edition", "set", W25, "--subject", "GDPR in a year"))
    assert run_cli("weekly", "--week", W25, "--transport", "file").exit_code == 0


# ---- articles' languages: declared by the source, else the feed's own --------------------------------------


RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Newyddion</title><link>https://www.example.org/</link><language>{lang}</language>
<description>d</description>{items}</channel></rss>"""
ITEM = "<item><title>{title}</title><link>{link}</link><pubDate>Tue, 20 Jun 2017 09:00:00 +0100</pubDate></item>"


def test_feed_languages_rss_atom_entry_json_feed_and_wordpress():
    _, [a], _ = parse_feed(RSS.format(lang="cy-GB", items=ITEM.format(title="Helo", link="https://e.org/a")).encode(),
                           "news")
    assert a.language == "cy-GB"
    atom = ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="cy"><title>T</title><id>x</id>'
            '<updated>2017-06-20T10:00:00Z</updated>'
            '<entry><title>Helo</title><id>a</id><link href="https://e.org/a"/><updated>2017-06-20T10:00:00Z</updated>'
            '</entry><entry xml:lang="en"><title>Hello</title><id>b</id><link href="https://e.org/b"/>'
            '<updated>2017-06-20T10:00:00Z</updated></entry></feed>')
    _, found, _ = parse_feed(atom.encode(), "atom")
    assert [x.language for x in found] == ["cy", "en"]
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "T", "language": "cy",
            "items": [{"id": "1", "url": "https://e.org/1", "title": "Un"},
                      {"id": "2", "url": "https://e.org/2", "title": "Two", "language": "en-GB"}]}
    assert [x.language for x in parse_jsonfeed(feed, "json")[0]] == ["cy", "en-GB"]
    polylang = {"id": 57, "type": "post", "link": "https://e.org/cy/newyddion/", "guid": {"rendered": "https://e.org/?p=57"},
                "title": {"rendered": "Newyddion"}, "date_gmt": "2017-06-20T09:00:00", "lang": "cy",
                "translations": {"en": 12, "cy": 57}}
    wpml = {"id": 12, "type": "post", "link": "https://e.org/news/", "guid": {"rendered": "https://e.org/?p=12"},
            "title": {"rendered": "News"}, "date_gmt": "2017-06-20T09:00:00", "wpml_current_locale": "en_GB",
            "wpml_translations": [{"locale": "cy", "id": 57, "href": "https://e.org/cy/newyddion/"}]}
    [cy, en], _ = parse_wordpress([polylang, wpml], "wp")
    assert (cy.language, cy.translation_refs) == ("cy", ("https://e.org/?p=12",))
    assert (en.language, en.translation_refs) == ("en-GB", ("https://e.org/cy/newyddion/",))


def test_an_articles_language_as_stored():
    assert article_language("en", ("en-GB", "cy")) == ""  # the first language: ""
    assert article_language("cy_GB", ("en-GB", "cy")) == "cy"  # a configured language, as configured
    assert article_language("fr", ("en-GB", "cy")) == "fr" and article_language("", ("en-GB", "cy")) == ""
    assert article_language("x-pig-latin", ("en-GB", "cy")) == ""  # a tag CLDR does not know: the first


def _ingest(run_cli, tmp_path, config, name: str, lang: str, items: str, declared: str = "") -> None:
    feed = tmp_path / f"{name}.xml"
    feed.write_text(RSS.format(lang=lang, items=items), encoding="utf-8")
    more = f'language = "{declared}"\n' if declared else ""
    with config.open("a", encoding="utf-8") as f:
        f.write(f'\n[[sources]]\nname = "{name}"\npath = "{feed}"\n{more}')
    ok(run_cli("sources", "fetch", name))


def _stored(db) -> dict[str, tuple[str, int | None, int]]:
    with db.connect() as conn:
        rows = conn.execute(select(articles.c.id, articles.c.url, articles.c.language, articles.c.translation_id))
        return {r.url: (r.language, r.translation_id, r.id) for r in rows}


def test_translations_matched_by_the_cy_path_and_a_welsh_member_gets_the_welsh_one(run_cli, config, tmp_path, db):
    _ingest(run_cli, tmp_path, config, "news", "en-GB",
            ITEM.format(title="Councils share a digital team", link="https://www.example.org/news/share/")
            + ITEM.format(title="Only in English", link="https://www.example.org/news/english/"))
    # The Welsh site's feed says nothing of its language: the source declares it.
    _ingest(run_cli, tmp_path, config, "newyddion", "",
            ITEM.format(title="Cynghorau yn rhannu tîm digidol", link="https://www.example.org/cy/news/share/"),
            declared="cy")
    stored = _stored(db)
    en, cy = stored["https://www.example.org/news/share/"], stored["https://www.example.org/cy/news/share/"]
    assert (en[0], en[1], cy[0], cy[1]) == ("", cy[2], "cy", en[2])
    assert stored["https://www.example.org/news/english/"][:2] == ("", None)
    settings = load_settings()
    edition = plan_edition(db, settings, parse_period(W25, settings.timezone))
    assert len(edition.items) == 2  # the pair is one item
    r = render_variant(edition, settings, lang="cy")
    assert "Cynghorau yn rhannu tîm digidol" in r.text and "Councils share" not in r.text
    assert "https://www.example.org/cy/news/share/" in r.text and r.text.count("[Saesneg yn unig]") == 1
    from digest.editorial.week import load_week
    week = load_week(db, settings, parse_period(W25, settings.timezone))
    [welsh] = [row for row in week.rows if row.article.id == cy[2]]
    assert welsh.state == "left-out" and welsh.warnings[-1:] == [
        f"The translation of article {en[2]} (number {[r.article.id for r in week.rows].index(en[2]) + 1} in the "
        "edition): members who read cy get it in that one's place."]


def test_digest_article_translation_links_and_refuses(run_cli, config, tmp_path, db):
    _ingest(run_cli, tmp_path, config, "news", "en-GB",
            ITEM.format(title="Smart places", link="https://www.example.org/2017/smart/")
            + ITEM.format(title="Data", link="https://www.example.org/2017/data/"))
    _ingest(run_cli, tmp_path, config, "newyddion", "cy",
            ITEM.format(title="Lleoedd clyfar", link="https://newyddion.example.org/clyfar/"))
    stored = _stored(db)
    smart, data, clyfar = (stored[u][2] for u in ("https://www.example.org/2017/smart/",
                                                  "https://www.example.org/2017/data/",
                                                  "https://newyddion.example.org/clyfar/"))
    assert stored["https://newyddion.example.org/clyfar/"][:2] == ("cy", None)  # no path to match: not linked
    same = run_cli("article", "translation", str(smart), str(data))
    assert same.exit_code == 1 and f"articles {smart} and {data} are both in en-GB" in same.output
    assert run_cli("article", "translation", str(smart), "999").exit_code == 1
    out = ok(run_cli("article", "translation", str(clyfar), str(smart))).output
    assert out.strip() == f"article {clyfar} (cy) and article {smart} (en-GB) are each other's translation"
    with db.connect() as conn:
        assert article_db.languages_of(conn, [smart]) == {smart: ""}
    assert _stored(db)["https://www.example.org/2017/smart/"][1] == clyfar
    ok(run_cli("article", "translation", str(smart), "--clear"))
    assert _stored(db)["https://newyddion.example.org/clyfar/"][1] is None


def test_a_sources_language_must_be_a_tag(config, env):
    with config.open("a", encoding="utf-8") as f:
        f.write('\n[[sources]]\nname = "x"\npath = "x.xml"\nlanguage = "klingon-xx-yy"\n')
    from digest.errors import ConfigError
    with pytest.raises(ConfigError, match=r"sources\[1\] \(x\)\.language"):
        load_settings(None, environ=env)


# ---- the desk: both languages' words side by side, the preview in each language ---------------------------


@pytest.fixture
def cy_desk(cy_settings, db, editor):  # noqa: F811
    from digest.web import create_app
    from desk_fixtures import SAMPLES, NOW
    from digest.ingest.store import ingest_sources

    ingest_sources(db, cy_settings, [str(SAMPLES)], now=NOW)
    app = create_app(cy_settings, db, transport_factory=MemoryTransport)
    client = app.test_client()
    assert sign_in(client).status_code == 303
    return client, csrf_of(client.get("/desk/?period=2017-W25").text)


def test_the_desk_shows_both_languages_words_and_warns_when_welsh_is_missing(cy_desk, db):
    client, csrf = cy_desk
    page = client.get("/desk/?period=2017-W25").text
    assert 'id="subject-cy"' in page and 'lang="cy"' in page and "The words in Welsh" in page
    resp = client.post("/desk/edition/text", data={"csrf": csrf, "period": W25, "subject": "GDPR in a year",
                                                   "preheader": "", "note": "Welcome.", "subject-cy": "GDPR mewn blwyddyn",
                                                   "preheader-cy": "", "note-cy": ""})
    assert resp.status_code == 303
    page = client.get("/desk/?period=2017-W25").text
    assert 'value="GDPR mewn blwyddyn"' in page
    assert "edition 2017-W25 has no Welsh note" in page
    assert "Members of these languages would get the words of the first language instead:" in page
    bad = client.post("/desk/edition/text", data={"csrf": csrf, "period": W25, "subject": "New English",
                                                  "subject-cy": "x" * 151})
    assert bad.status_code == 303
    assert "New English" not in client.get("/desk/?period=2017-W25").text  # all or nothing


def test_the_desk_previews_each_language(cy_desk):
    client, _ = cy_desk
    page = client.get("/desk/preview?period=2017-W25&language=cy").text
    assert 'id="l-cy" name="language" value="cy" checked' in page
    frame = client.get("/desk/preview/frame?period=2017-W25&format=html&language=cy").text
    assert '<html lang="cy"' in frame and "Saesneg yn unig" in frame
    english = client.get("/desk/preview/frame?period=2017-W25&format=html").text
    assert '<html lang="en-GB"' in english and "Saesneg yn unig" not in english


def test_digest_preview_language_cy_and_bilingual_refused_per_member(run_cli, config, seed_path, tmp_path):
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    out = tmp_path / "cy.html"
    ok(run_cli("preview", "--week", W25, "--language", "cy", "--out", str(out)))
    assert '<html lang="cy"' in out.read_text(encoding="utf-8")
    refused = run_cli("preview", "--week", W25, "--language", "bilingual")
    assert refused.exit_code == 1 and 'language_mode is not "bilingual"' in refused.output


# ---- the API: a member's language -------------------------------------------------------------------------


def test_the_api_sets_shows_and_refuses_a_members_language(cy_settings, db):
    from digest.membership.tokens import SCOPES, issue
    from digest.web import create_app

    outbox = MemoryTransport()
    app = create_app(cy_settings, db, transport_factory=lambda: outbox)
    client = app.test_client()
    h = {"Authorization": "Bearer " + issue(db, "crm", SCOPES, now=T0)}
    made = client.put("/api/v1/members/sian@example.org", headers=h, json={"language": "cy"})
    assert made.status_code == 201 and made.get_json()["language"] == "cy"
    changed = client.patch("/api/v1/members/sian@example.org", headers=h, json={"language": "default"})
    assert changed.status_code == 200 and changed.get_json()["changed"] == {"language": ["cy", ""]}
    bad = client.patch("/api/v1/members/sian@example.org", headers=h, json={"language": "fr"})
    assert bad.status_code == 422 and "body.language: unknown language 'fr' (one of: en-GB, cy)" in bad.get_json()["detail"]
    asked = client.post("/api/v1/subscribe", headers=h, json={"email": "ifan@example.org", "language": "cy"})
    assert asked.status_code == 202
    app.extensions["digest"].mailer.wait_idle()
    [(envelope, message)] = outbox.sent  # the confirmation, in the language asked for
    assert envelope.recipients == ("ifan@example.org",) and b"Subject: Cadarnhewch eich tanysgrifiad" in message


def test_digest_preview_of_the_bilingual_email(run_cli, config, seed_path, tmp_path):
    config.write_text(config.read_text(encoding="utf-8").replace(
        'languages = ["en-GB", "cy"]', 'languages = ["en-GB", "cy"]\nlanguage_mode = "bilingual"'), encoding="utf-8")
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    ok(run_cli("edition", "set", W25, "--note", "Welcome."))
    ok(run_cli("edition", "set", W25, "--language", "cy", "--note", "Croeso."))
    out = tmp_path / "both.html"
    ok(run_cli("preview", "--week", W25, "--language", "bilingual", "--out", str(out)))
    doc = lxml_html.document_fromstring(out.read_text(encoding="utf-8"))
    assert doc.get("lang") == "cy"
    notes = doc.xpath("//td[contains(@class, 'note-cell')]")
    assert [(n.get("lang"), n.text_content().strip()) for n in notes] == [(None, "Croeso."), ("en", "Welcome.")]


def test_an_article_language_cldr_does_not_know_is_shown_as_it_is(cy_settings):
    items = week25().items
    items[0] = replace(items[0], language="zz")  # stored before tags were checked
    r = render_variant(week25(items), cy_settings, lang="cy")
    head = lxml_html.document_fromstring(r.html).xpath("//*[contains(concat(' ', @class, ' '), ' headline ')]")[0]
    assert head.get("lang") is None and head.text_content().startswith("Queen’s speech")


def test_send_test_of_the_welsh_variant(run_cli, config, seed_path, tmp_path):
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    ok(run_cli("edition", "set", W25, "--language", "cy", "--subject", "Rhifyn prawf"))
    ok(run_cli("send-test", W25, "--to", "eda@example.org", "--variant", "*:html:cy", "--transport", "file"))
    [sent] = (tmp_path / "outbox").glob("*.eml")
    assert "Subject: Rhifyn prawf" in sent.read_text(encoding="utf-8")
    refused = run_cli("send-test", W25, "--to", "eda@example.org", "--variant", "*:html:fr", "--transport", "file")
    assert refused.exit_code == 1 and "unknown language 'fr'" in refused.output

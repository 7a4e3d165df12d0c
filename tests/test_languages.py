"""Languages (issue 22): the configured list, a member's language, the Welsh email, pages and variants.

The Welsh words come from digest/locale/cy (tests/test_catalogue.py checks it is whole); these tests
check that each place a member reads takes them, and that English stays as it was.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import date, datetime, timezone

import pytest
from babel.messages.pofile import read_po
from lxml import html as lxml_html
from sqlalchemy import select

from digest.config import load_settings
from digest.db import members as member_db
from digest.db.schema import deliveries, variants
from digest.edition.periods import parse_period
from digest.edition.render import render_variant
from digest.editorial.build import build_edition
from digest.errors import ConfigError, SubscriberError
from digest.i18n import LOCALE_DIR, language
from digest.members import check_language, parse_members_csv
from digest.message.links import Links
from digest.editorial.build import queue_edition
from digest.sending.transports.memory import MemoryTransport
from digest.web import create_app
from test_render import GOLDEN, _normalise, week25

T0 = datetime(2017, 6, 26, 7, 0, tzinfo=timezone.utc)
BILINGUAL = ("en-GB", "cy")


@pytest.fixture
def config(tmp_path, env):
    path = tmp_path / "digest.toml"
    path.write_text('[organisation]\nlanguages = ["en-GB", "cy"]\n', encoding="utf-8")
    env["DIGEST_CONFIG"] = str(path)
    return path


@pytest.fixture
def cy_settings(config, env):
    return load_settings(None, environ=env)


def _visible(html: str) -> str:
    doc = lxml_html.document_fromstring(html)
    for hidden in doc.xpath("//*[contains(translate(@style,' ',''),'display:none')]"):
        hidden.drop_tree()
    return " ".join(doc.text_content().split())


# ---- the configured languages ----------------------------------------------------------------


def test_english_alone_by_default_and_tags_checked_against_cldr(settings, tmp_path, env):
    assert settings.languages == ("en-GB",) and settings.language == "en-GB"
    bad = tmp_path / "bad.toml"
    for text, reason in (('[organisation]\nlanguages = ["en-GB", "xx-nope"]', "not a language tag CLDR knows"),
                         ("[organisation]\nlanguages = []", "non-empty list"),
                         ('[organisation]\nlanguages = ["cy", "cy"]', "lists a language twice"),
                         ('[[topics]]\nslug = "health"\nlabels = { cy = "" }', "non-empty labels by language"),
                         ('[[topics]]\nslug = "health"\nlabels = { xx-nope = "Iechyd" }', "topics.+labels.xx-nope")):
        bad.write_text(text + "\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=reason) as caught:
            load_settings(bad, environ=env)
        assert "languages" in str(caught.value) or "labels" in str(caught.value)
    assert settings.topic("data-protection").label_in("cy") == "Diogelu data"
    assert settings.topic("data-protection").label_in("en-GB") == "Data protection"


def test_a_member_language_is_one_of_the_configured_tags():
    assert check_language("CY", BILINGUAL) == "cy" and check_language("en_gb", BILINGUAL) == "en-GB"
    assert check_language("default", BILINGUAL) == "" and check_language("", BILINGUAL) == ""
    with pytest.raises(SubscriberError, match=r"unknown language 'fr' \(one of: en-GB, cy\)"):
        check_language("fr", BILINGUAL, email="ana@example.org")


def test_the_csv_language_column_is_checked_row_by_row():
    rows, problems = parse_members_csv("email,language\nsian@example.org,cy\nana@example.org,fr\nbob@example.org,\n",
                                       ["data-protection"], languages=BILINGUAL)
    assert [(r.email, r.language) for r in rows] == [("sian@example.org", "cy"), ("bob@example.org", None)]
    assert [(p.line, p.reason) for p in problems] == [(3, "unknown language 'fr' (one of: en-GB, cy)")]


def test_subscribers_set_language_and_its_refusal(run_cli, config, db):
    assert run_cli("subscribers", "add", "sian@example.org").exit_code == 0
    result = run_cli("subscribers", "set", "sian@example.org", "--language", "cy")
    assert result.exit_code == 0, result.output
    assert "language" in result.output and "cy" in result.output
    with db.connect() as conn:
        assert member_db.get_by_email(conn, "sian@example.org").language == "cy"
    refused = run_cli("subscribers", "set", "sian@example.org", "--language", "fr")
    assert refused.exit_code != 0
    assert "unknown language 'fr' (one of: en-GB, cy)" in refused.output and "Traceback" not in refused.output


# ---- dates from CLDR ---------------------------------------------------------------------------


def test_dates_and_ranges_in_welsh_and_british_english():
    cy, en = language("cy"), language("en-GB")
    assert cy.date_range(date(2017, 6, 19), date(2017, 6, 25)) == "19–25 Mehefin 2017"
    assert en.date_range(date(2017, 6, 19), date(2017, 6, 25)) == "19–25 June 2017"
    assert en.date_range(date(2017, 5, 29), date(2017, 6, 4)) == "29 May – 4 June 2017"
    assert en.date_range(date(2017, 12, 29), date(2018, 1, 4)) == "29 December 2017 – 4 January 2018"
    assert cy.month_year(date(2017, 6, 1)) == "Mehefin 2017" and cy.long_date(date(2017, 2, 1)) == "1 Chwefror 2017"


def test_welsh_plurals_follow_cldr_six_forms():
    cy = language("cy")
    po = read_po((LOCALE_DIR / "cy" / "LC_MESSAGES" / "messages.po").open("rb"))
    assert po.num_plurals == 6
    for n in (0, 1, 2, 3, 6, 7):  # zero, one, two, few, many, other
        assert cy.ngettext("%(num)d article", "%(num)d articles", n) % {"num": n} == f"{n} erthygl"


# ---- the Welsh email ---------------------------------------------------------------------------

# English words of the email's chrome (never of the articles): none may show in the Welsh email.
ENGLISH_CHROME = ["Read the whole edition on our website", "Hello", "Here are", "In this issue", "Weekly digest", "By ",
                  "You are receiving this", "Manage your preferences", "Unsubscribe", "Read more", "June",
                  "all topics", "week of", "This week", "asked for", "news on", "and 5 more"]


def test_the_welsh_email_has_no_english_chrome_and_marks_the_english_articles(cy_settings):
    r = render_variant(week25(), cy_settings, member_topics=("data-protection",), lang="cy")
    seen = _visible(r.html)
    for words in ENGLISH_CHROME:
        assert words not in seen and words not in r.text, words
    assert "Crynhoad wythnosol" in seen and "19–25 Mehefin 2017" in seen and "Dad-danysgrifio" in seen
    assert r.subject == "Queen’s speech: what to watch for and what’s missing, a 5 arall"
    by_period = render_variant(week25(), replace(cy_settings, subject="{organisation}: {period}"), lang="cy")
    assert by_period.subject == "Public Digital Leaders Network: wythnos yn dechrau 19 Mehefin 2017"
    assert r.preheader.startswith("Yr wythnos hon: ")
    doc = lxml_html.document_fromstring(r.html)
    assert doc.get("lang") == "cy"
    # What the sources wrote is read in an English voice; the topics, bylines and dates are Welsh.
    written = doc.xpath("//*[contains(concat(' ', @class, ' '), ' headline ') or contains(@class, 'summary')]")
    assert len(written) >= 12 and all(e.get("lang") == "en" for e in written)
    assert seen.count("Saesneg yn unig") == 6  # each article says it is in English only
    assert "Diogelu data" in seen and "Gan Martin Ferguson" in seen and "21 Mehefin 2017" in seen
    assert "ac wedi gofyn am newyddion am y pwnc hwn: Diogelu data." in seen


def test_english_is_unchanged_when_welsh_is_configured(cy_settings):
    english_only = replace(cy_settings, languages=("en-GB",))
    for fmt in ("html", "text"):
        assert render_variant(week25(), cy_settings, fmt=fmt) == render_variant(week25(), english_only, fmt=fmt)


def test_an_editors_subject_is_kept_and_a_made_one_is_made_again_in_welsh(cy_settings):
    made = render_variant(week25(), cy_settings).subject
    frozen = replace(week25(), subject=made)  # as a build freezes it
    assert made.endswith(", and 5 more")
    assert render_variant(frozen, cy_settings, lang="cy").subject == f"{made.removesuffix(', and 5 more')}, a 5 arall"
    own = replace(week25(), subject="Rhifyn arbennig")
    assert render_variant(own, cy_settings, lang="cy").subject == "Rhifyn arbennig"


# ---- variants: one per (topics, format, language) ----------------------------------------------


def test_a_welsh_member_gets_the_welsh_variant_rendered_once(run_cli, seed_path, db, cy_settings):
    assert run_cli("ingest", seed_path, "--published", "2017-06-21").exit_code == 0
    with db.begin() as conn:
        for email, lang in (("en1@example.org", ""), ("en2@example.org", "en-GB"), ("cy1@example.org", "cy"),
                            ("cy2@example.org", "cy")):
            sub = member_db.add(conn, email, None, (), now=T0)
            member_db.update_preferences(conn, sub.id, language=lang or None, source="test", now=T0)
    build_edition(db, cy_settings, parse_period("2017-W25", cy_settings.timezone), now=T0)
    report = queue_edition(db, cy_settings, "2017-W25", now=T0)
    assert report.queued == 4
    with db.connect() as conn:
        rows = conn.execute(select(variants.c.id, variants.c.language, variants.c.subject)).all()
        by_member = dict(conn.execute(select(deliveries.c.subscriber_id, deliveries.c.variant_id)).all())
        ids = {m.email: m.id for m in member_db.list_subscribers(conn)}
    languages = {r.id: r.language for r in rows}
    assert sorted(languages.values()) == ["", "cy"]  # "" and "en-GB" members share the default variant
    assert {e: languages[by_member[i]] for e, i in ids.items()} == {
        "en1@example.org": "", "en2@example.org": "", "cy1@example.org": "cy", "cy2@example.org": "cy"}
    assert [r.subject for r in rows if r.language == "cy"][0].startswith("Queen’s speech: what to watch for and what’s missing, a ")
    assert [r.subject for r in rows if r.language == "cy"][0].endswith(" arall")


# ---- the member's pages ------------------------------------------------------------------------


def test_a_welsh_members_pages_are_welsh_and_the_choice_is_on_the_preference_page(cy_settings, db):
    app = create_app(cy_settings, db, transport_factory=MemoryTransport, clock=lambda: T0)
    client = app.test_client()
    with db.begin() as conn:
        sub = member_db.add(conn, "sian@example.org", "Siân", (), now=T0)
    links = Links(cy_settings.secret_key, cy_settings.base_url)
    path = "/" + links.preferences_url(sub.id, sub.token_version).split("/", 3)[3]
    page = client.get(path).get_data(as_text=True)
    assert '<html lang="en">' in page and "Your email preferences" in page
    assert '<label for="language-cy" lang="cy">Cymraeg</label>' in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = {"csrf": csrf, "action": "save", "frequency": "weekly", "format": "html", "paused": "0", "name": "Siân",
            "topics": list(cy_settings.topic_slugs)}
    saved = client.post(path, data={**form, "language": "cy"}).get_data(as_text=True)
    assert "<html lang=\"cy\">" in saved and "Dewisiadau wedi’u cadw" in saved and "Iaith" in saved
    page = client.get(path).get_data(as_text=True)
    assert "Eich dewisiadau e-bost" in page and "Neidio i’r prif gynnwys" in page
    unsub = "/" + links.unsubscribe_url(sub.id, sub.token_version).split("/", 3)[3]
    assert "Ie, dad-danysgrifio" in client.get(unsub).get_data(as_text=True)
    refused = client.post(path, data={**form, "language": "fr"})
    assert refused.status_code == 400 and "Dewiswch un o’r ieithoedd a restrir." in refused.get_data(as_text=True)


def test_preview_in_welsh_and_an_unknown_language_refused(run_cli, seed_path, config, tmp_path):
    assert run_cli("ingest", seed_path, "--published", "2017-06-21").exit_code == 0
    result = run_cli("preview", "--week", "2017-W25", "--language", "cy", "--out", tmp_path / "cy.html")
    assert result.exit_code == 0, result.output
    html = (tmp_path / "cy.html").read_text(encoding="utf-8")
    assert 'lang="cy"' in html and "Crynhoad wythnosol" in html
    assert "subject: Queen’s speech: what to watch for and what’s missing, a 4 arall)" in result.output
    refused = run_cli("preview", "--week", "2017-W25", "--language", "fr")
    assert refused.exit_code != 0 and "unknown language 'fr' (one of: en-GB, cy)" in refused.output


def test_a_welsh_member_is_asked_to_confirm_in_welsh(cy_settings, db):
    from email import message_from_bytes
    from email.header import decode_header, make_header

    from digest.web.subscribe import ask_confirmations

    outbox = MemoryTransport()
    app = create_app(cy_settings, db, transport_factory=lambda: outbox, clock=lambda: T0)
    with db.begin() as conn:
        sub = member_db.add(conn, "sian@example.org", "Siân", (), pending=True, now=T0)
        member_db.update_preferences(conn, sub.id, language="cy", source="test", now=T0)
        member_db.add(conn, "ana@example.org", None, (), pending=True, now=T0)
    assert ask_confirmations(app) == (2, 0)
    subjects = {}
    for envelope, raw in outbox.sent:
        msg = message_from_bytes(raw)
        text = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
        subjects[envelope.recipients[0]] = (str(make_header(decode_header(msg["Subject"]))), text)
    assert subjects["sian@example.org"][0] == "Cadarnhewch eich tanysgrifiad i Public Digital Leaders Network"
    assert subjects["sian@example.org"][1].startswith("Helo Siân,") and "Cadarnhau fy nhanysgrifiad" in subjects[
        "sian@example.org"][1]
    assert subjects["ana@example.org"][0] == "Confirm your subscription to Public Digital Leaders Network"


def test_accept_language_and_the_language_switch_on_pages_without_a_member(cy_settings, db):
    from digest.i18n import best_language

    assert best_language(["cy-GB", "en"], BILINGUAL) == "cy" and best_language(["en-US"], BILINGUAL) == "en-GB"
    assert best_language(["fr", "de"], BILINGUAL) == "en-GB" and best_language([], BILINGUAL) == "en-GB"
    client = create_app(cy_settings, db, transport_factory=MemoryTransport, clock=lambda: T0).test_client()
    welsh = client.get("/subscribe", headers={"Accept-Language": "cy,en-GB;q=0.8"})
    page = welsh.get_data(as_text=True)
    assert '<html lang="cy">' in page and "Cael crynhoad Public Digital Leaders Network" in page
    assert "Accept-Language" in welsh.headers.get("Vary", "")
    assert '<a href="/subscribe?lang=en-GB" lang="en" hreflang="en-GB">English</a>' in page
    assert '<span lang="cy" aria-current="true">Cymraeg</span>' in page
    english = client.get("/subscribe?lang=en-GB", headers={"Accept-Language": "cy"}).get_data(as_text=True)
    assert '<html lang="en">' in english and "Get the Public Digital Leaders Network digest" in english
    archive = client.get("/editions/?lang=cy").get_data(as_text=True)
    assert "Rhifynnau blaenorol" in archive and "Diogelu data" in archive
    missing = client.get("/nothing-here", headers={"Accept-Language": "cy"})
    assert missing.status_code == 404 and "Heb ddod o hyd i’r dudalen" in missing.get_data(as_text=True)
    desk = client.get("/desk/sign-in", headers={"Accept-Language": "cy"}).get_data(as_text=True)
    assert '<html lang="en">' in desk and "Cymraeg" not in desk  # the desk is in the first language only
    english_only = replace(cy_settings, languages=("en-GB",))
    only_english = create_app(english_only, db, transport_factory=MemoryTransport).test_client().get(
        "/subscribe", headers={"Accept-Language": "cy"})
    assert "Vary" not in only_english.headers and 'class="languages"' not in only_english.get_data(as_text=True)


def test_subscribing_on_the_welsh_form_makes_a_welsh_member(cy_settings, db):
    outbox = MemoryTransport()
    app = create_app(cy_settings, db, transport_factory=lambda: outbox, clock=lambda: T0)
    client = app.test_client()
    form = client.get("/subscribe?lang=cy").get_data(as_text=True)
    assert '<input type="radio" id="language-cy" name="language" value="cy" checked>' in form
    data = {"email": "sian@example.org", "topics": ["data-protection"], "frequency": "weekly", "format": "html",
            "name": "", "language": "cy"}
    assert client.post("/subscribe", data=data).status_code == 200
    assert app.extensions["digest"].mailer.wait_idle(timeout=30)
    with db.connect() as conn:
        assert member_db.get_by_email(conn, "sian@example.org").language == "cy"
    [(_envelope, raw)] = outbox.sent
    assert b"Helo," in raw and b"Cadarnhau" in raw  # the confirmation email in Welsh
    refused = client.post("/subscribe", data={**data, "email": "ana@example.org", "language": "fr"})
    assert refused.status_code == 400 and "Choose one of the languages listed." in refused.get_data(as_text=True)


# ---- bilingual: one email in both languages for members who have not chosen -------------------


@pytest.fixture
def bilingual_settings(tmp_path, env):
    path = tmp_path / "bilingual.toml"
    path.write_text('[organisation]\nlanguages = ["en-GB", "cy"]\nlanguage_mode = "bilingual"\n', encoding="utf-8")
    return load_settings(path, environ=env)


def test_bilingual_mode_config_welsh_first_by_default(bilingual_settings, tmp_path, env):
    assert bilingual_settings.bilingual_order == ("cy", "en-GB") and bilingual_settings.unchosen_language == "cy+en-GB"
    bad = tmp_path / "bad.toml"
    for text, reason in (('languages = ["en-GB"]\nlanguage_mode = "bilingual"', "needs two or more languages"),
                         ('language_mode = "both"', "per_member or bilingual"),
                         ('languages = ["en-GB", "cy"]\nbilingual_order = ["cy"]', "each of the languages once")):
        bad.write_text("[organisation]\n" + text + "\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=reason):
            load_settings(bad, environ=env)


def test_the_bilingual_email_says_each_sentence_in_each_language(bilingual_settings):
    r = render_variant(week25(), bilingual_settings, lang=bilingual_settings.unchosen_language)
    seen = _visible(r.html)
    assert r.subject == "Queen’s speech: what to watch for and what’s missing, a 5 arall"  # the first language's pattern
    by_period = render_variant(week25(), replace(bilingual_settings, subject="{organisation}: {period}"),
                               lang=bilingual_settings.unchosen_language)
    assert by_period.subject == "Public Digital Leaders Network: wythnos yn dechrau 19 Mehefin 2017 / week of 19 June 2017"
    assert "Dyma 6 erthygl o 19–25 Mehefin 2017. / Here are 6 articles from 19–25 June 2017." in seen
    assert "ac wedi gofyn am newyddion am bob pwnc. / You are receiving this because" in seen
    assert "asked for news on every topic." in seen
    assert seen.index("Helo") < seen.index("Hello")  # Welsh first
    doc = lxml_html.document_fromstring(r.html)
    assert doc.get("lang") == "cy"
    english = [" ".join(e.text_content().split()) for e in doc.xpath("//span[@lang='en']")]
    assert "Hello[[digest:name]]," in english and "Manage your preferences" in english  # in an English voice
    assert "Darllen mwy / Read more: https://www.example.org/" in r.text


def test_bilingual_variant_for_members_who_have_not_chosen_and_a_choice_wins(run_cli, seed_path, db,
                                                                            bilingual_settings):
    assert run_cli("ingest", seed_path, "--published", "2017-06-21").exit_code == 0
    with db.begin() as conn:
        for email, lang in (("none@example.org", ""), ("en@example.org", "en-GB"), ("cy@example.org", "cy")):
            sub = member_db.add(conn, email, None, (), now=T0)
            member_db.update_preferences(conn, sub.id, language=lang or None, source="test", now=T0)
    build_edition(db, bilingual_settings, parse_period("2017-W25", bilingual_settings.timezone), now=T0)
    assert queue_edition(db, bilingual_settings, "2017-W25", now=T0).queued == 3
    with db.connect() as conn:
        languages = dict(conn.execute(select(variants.c.id, variants.c.language)).all())
        by_member = dict(conn.execute(select(deliveries.c.subscriber_id, deliveries.c.variant_id)).all())
        ids = {m.email: m.id for m in member_db.list_subscribers(conn)}
    assert {e: languages[by_member[i]] for e, i in ids.items()} == {
        "none@example.org": "cy+en-GB", "en@example.org": "", "cy@example.org": "cy"}


# ---- golden files of the demo week: a Welsh member, and a bilingual email --------------------------


@pytest.mark.parametrize("part", ["html", "txt"])
@pytest.mark.parametrize("fixture,lang", [("cy_settings", "cy"), ("bilingual_settings", "cy+en-GB")])
def test_golden(request, fixture, lang, part):
    """The twins of test_render.test_golden (the same member: data protection and cyber security)."""
    rendered = render_variant(week25(), request.getfixturevalue(fixture),
                              member_topics=("data-protection", "cyber-security"), lang=lang)
    actual = _normalise(rendered.html if part == "html" else rendered.text)
    path = GOLDEN / f"digest-2017-W25.{lang}.{part}"
    if os.environ.get("DIGEST_UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with DIGEST_UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8"), f"{path} differs: check, then DIGEST_UPDATE_GOLDEN=1"

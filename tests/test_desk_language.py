"""The editors' language ([organisation] editors_language): the desk, the held notice and the CLI's lines in Welsh,
while members' settings stay as they are; English unchanged without it."""

from __future__ import annotations

import email
from dataclasses import replace
from email.header import decode_header, make_header

import pytest

from digest.config import load_settings
from digest.editorial.editors import held_notice
from digest.errors import ConfigError
from desk_fixtures import NOW, SAMPLES, csrf_of, editor, outbox, sign_in  # noqa: F401  (fixtures)


@pytest.fixture
def welsh(settings):
    return replace(settings, editors_language="cy")


@pytest.fixture
def welsh_desk(welsh, db, outbox, editor):
    from digest.web import create_app

    client = create_app(welsh, db, transport_factory=lambda: outbox).test_client()
    assert sign_in(client).status_code == 303
    return client


def test_the_editors_language_is_the_first_unless_the_config_names_one(env, tmp_path, monkeypatch):
    assert load_settings(None, environ=env).editor_language == "en-GB"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "digest.toml").write_text('[organisation]\nlanguages = ["en-GB"]\neditors_language = "cy"\n')
    assert load_settings(None, environ=env).editor_language == "cy"
    (tmp_path / "digest.toml").write_text('[organisation]\neditors_language = "xx-nonsense"\n')
    with pytest.raises(ConfigError, match="organisation.editors_language"):
        load_settings(None, environ=env)


def test_the_desk_speaks_welsh_its_pages_messages_and_dates(welsh_desk, db, welsh):
    from digest.ingest.store import ingest_sources

    ingest_sources(db, welsh, [str(SAMPLES)], now=NOW)
    page = welsh_desk.get("/desk/?period=2017-W25").text
    assert '<html lang="cy">' in page and "Desg y rhifynnau" in page and "Cymeradwyo" in page
    assert "Approve" not in page and "Edition desk" not in page and "Why these topics" not in page
    assert "<h1>Wythnos 2017-W25: 19–25 Mehefin 2017</h1>" in page and "Diogelu data" in page  # CLDR, the taxonomy
    article = int(page.split('id="a-', 1)[1].split('"', 1)[0])
    resp = welsh_desk.post(f"/desk/articles/{article}/pin", data={"csrf": csrf_of(page), "period": "2017-W25"})
    after = welsh_desk.get(resp.headers["Location"]).text
    assert "Piniwyd “" in after and ": mae’n dod yn gyntaf." in after
    sent = welsh_desk.post("/desk/edition/build", data={"csrf": csrf_of(page), "period": "2017-W25"})
    built = welsh_desk.get(sent.headers["Location"]).text
    assert "Adeiladwyd 2017-W25:" in built and "Adeiladwyd ar" in built


def test_a_welsh_sign_in_form_error_and_the_english_desk_unchanged(welsh, settings, db, outbox, editor):
    from digest.web import create_app

    for s, wrong, title in ((welsh, "Nid yw’r cyfeiriad e-bost na’r cyfrinair yn gywir.", "Mewngofnodi"),
                            (settings, "The email address or the password is not right.", "Sign in")):
        client = create_app(s, db, transport_factory=lambda: outbox).test_client()
        page = client.get("/desk/sign-in").text
        resp = client.post("/desk/sign-in", data={"csrf": csrf_of(page), "email": "eda@example.org",
                                                  "password": "not the password at all"})
        assert resp.status_code == 400 and wrong in resp.text and f"<title>{title} – " in resp.text


def test_the_held_notice_is_in_the_editors_language(welsh, settings):
    for s, subject, line in (
            (welsh, "Wedi’i ddal yn ôl: ni anfonwyd rhifyn 2017-W25", "Trwsiwch y ffynonellau a’i redeg eto"),
            (settings, "Held: ", "Fix the sources and run it again, or send it as it is:")):
        _, raw = held_notice(s, "2017-W25", ["source news failed: HTTP 404"], ["eda@example.org"],
                             force_command="digest weekly 2017-W25 --force", now=NOW)
        msg = email.message_from_bytes(raw)
        assert str(make_header(decode_header(msg["Subject"]))).startswith(subject)
        body = msg.get_payload(decode=True).decode("utf-8") if not msg.is_multipart() else \
            msg.get_payload(0).get_payload(decode=True).decode("utf-8")
        assert line in body and "- source news failed: HTTP 404" in body


def test_the_cli_tells_a_welsh_editor_in_welsh(run_cli, seed_path, tmp_path):
    (tmp_path / "digest.toml").write_text('[organisation]\neditors_language = "cy"\n')
    assert run_cli("ingest", seed_path, "--published", "2017-06-21").exit_code == 0
    built = run_cli("edition", "build", "--week", "2017-W25")
    assert built.exit_code == 0 and "\nadeiladwyd 2017-W25 (weekly): 5 erthygl; llinell bwnc: " in built.output
    assert "warning: mae erthygl 1 “" in built.output  # the tag stays, for logs; the words are Welsh
    shown = run_cli("edition", "show", "2017-W25")
    assert "  nodyn:        (dim)" in shown.output, shown.output

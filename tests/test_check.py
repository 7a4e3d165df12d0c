"""Deliverability checks: real messages pass; a message broken for one reason fails with that reason's code."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import pytest

from digest.editorial.preview import check_key
from digest.checks.message import check_message
from digest.config import load_settings
from digest.message.dkim import DkimSigner
from digest.message.assemble import MessageTemplate, Recipient
from digest.models import SLOT_MARKERS, Rendered
from digest.edition.render import render_variant
from digest.message.links import Links

from test_dkim import write_key
from test_render import week25

ROOT = Path(__file__).resolve().parent.parent
DATE = datetime(2017, 6, 26, 7, 0, tzinfo=timezone.utc)
NOW = datetime(2017, 6, 26, 9, 0, tzinfo=timezone.utc)
UNSUB = SLOT_MARKERS["unsubscribe_url"]
ENV = {"DIGEST_SECRET_KEY": "test-secret-key-0123456789", "DIGEST_BASE_URL": "https://news.example.org",
       "DIGEST_CONFIG": "", "DIGEST_DATABASE_URL": "sqlite://"}
SETTINGS = load_settings(None, environ=ENV)
ITEMS = week25().items  # five seed articles and one with hostile characters in title and URL


@lru_cache(maxsize=None)
def rendered(fmt: str) -> Rendered:
    return render_variant(week25(), SETTINGS, fmt=fmt)


def build(fmt: str = "html", *, html=None, text=None, settings=SETTINGS) -> bytes:
    """One member's message of the week-25 edition; html/text: functions that edit the rendered parts."""
    r = rendered(fmt)
    r = replace(r, html=html(r.html) if html else r.html, text=text(r.text) if text else r.text)
    template = MessageTemplate.compile(r, settings=settings, edition_key="2017-W25", fmt=fmt,
                                       links=Links(settings.secret_key, settings.base_url))
    return template.assemble(Recipient(7, 42, "sian@example.net", "Siân Jones", 3), date=DATE)


def codes(message: bytes, settings=SETTINGS) -> set[str]:
    failures = check_message(message, settings, article_titles=[i.title for i in ITEMS],
                             article_urls=[i.url for i in ITEMS])
    for f in failures:
        assert f.message and "\n" not in f.message
    return {f.code for f in failures}


@pytest.mark.parametrize("fmt", ["html", "text"])
def test_good_messages_pass(fmt):
    assert check_message(build(fmt), SETTINGS, article_titles=[i.title for i in ITEMS],
                         article_urls=[i.url for i in ITEMS]) == []


# ---- broken for one reason ------------------------------------------------------------

def before_body_end(snippet: str):
    return lambda h: h.replace("</body>", snippet + "</body>", 1)


def header(name: bytes, value: bytes | None):
    """Replace (or with None, drop) one header line of the assembled message."""
    def edit(m: bytes) -> bytes:
        new = b"" if value is None else name + b": " + value + b"\r\n"
        out, n = re.subn(rb"(?m)^" + name + rb":.*\r\n(?:[ \t].*\r\n)*", lambda _: new, m, count=1)
        assert n == 1, name
        return out
    return edit


def _parts(m: bytes):
    head, _, body = m.partition(b"\r\n\r\n")
    boundary = re.search(rb'boundary="([^"]+)"', head).group(1)
    return head, boundary, body.split(b"--" + boundary)


def swap_parts(m: bytes) -> bytes:
    head, b, (pre, text, html, end) = _parts(m)
    return head + b"\r\n\r\n" + pre + b"--" + b + html + b"--" + b + text + b"--" + b + end


def html_only(m: bytes) -> bytes:
    head, _, (_, _, html, _) = _parts(m)
    head = re.sub(rb"Content-Type: multipart/alternative;[^\r]*", b"", head).replace(b"\r\n\r\n", b"\r\n")
    return head.rstrip(b"\r\n") + html.rstrip(b"\r\n") + b"\r\n"


HTML_BREAKS = {
    "html-size": before_body_end("<p>" + "lorem ipsum dolor " * 6000 + "</p>"),
    "css-size": lambda h: h.replace("</head>", "<style>" + ".x{color:#000000}" * 1100 + "</style></head>", 1),
    "control-characters": lambda h: h.replace("Manage your preferences", "Manage\x07your preferences", 1),
    "doctype": lambda h: h.replace("<!DOCTYPE html>", "", 1),
    "lang": lambda h: h.replace(' lang="en-GB"', "", 1),
    "missing-alt": before_body_end('<img src="https://www.example.org/logo.png" width="1" height="1">'),
    "layout-table": before_body_end("<table><tr><td>Contents</td></tr></table>"),
    "headings": lambda h: re.sub(r"<(/?)h[1-6]\b", r"<\1p", h),
    "empty-link": before_body_end('<a href="https://www.example.org/"> </a>'),
    "link-url": before_body_end('<a href="http://www.example.org/">Our site</a>'),
    "link-url relative": before_body_end('<a href="/about">About us</a>'),
    "image-https": before_body_end('<img alt="" src="http://www.example.org/pixel.png" width="1" height="1">'),
    "image-https relative": before_body_end('<img alt="" src="/logo.png" width="1" height="1">'),
    "image-size": before_body_end('<img alt="" src="https://www.example.org/pixel.png" width="100%">'),
    "template-leftover": before_body_end("<p>Hello {{ name }}</p>"),
    "template-leftover mjml": before_body_end("<mj-text>Hello</mj-text>"),
    "template-leftover slot": before_body_end('<a href="https://digest.invalid/slot/other">Other</a>'),
    "preheader short": lambda h: h.replace(rendered("html").preheader, "Hi there", 1),
    "preheader long": lambda h: h.replace(rendered("html").preheader, "All the news " * 12, 1),
    "preheader missing": lambda h: re.sub(r'<div style="display:none;[^"]*">.*?</div>', "", h, count=1, flags=re.S),
    "unsubscribe-link": lambda h: h.replace(UNSUB, "https://www.example.org/help"),
    "unsubscribe-link hidden": lambda h: re.sub(r'(<a href="' + re.escape(UNSUB) + r'"[^>]*>.*?</a>)',
                                                r'<span style="display: none">\1</span>', h, count=1),
    "postal-address": lambda h: h.replace("1 Example Street", "Somewhere"),
}
TEXT_BREAKS = {
    "control-characters": lambda t: t.replace("Read more", "Read\x1bmore", 1),
    "template-leftover": lambda t: t + "{% endif %}\n",
    "text-articles": lambda t: t.replace(ITEMS[3].title, "An article"),  # also in "In this issue"
    "text-articles url": lambda t: t.replace(ITEMS[2].url, "https://www.example.org/", 1),
    "text-unsubscribe": lambda t: t.replace("Unsubscribe: " + UNSUB, "", 1),
    "postal-address": lambda t: t.replace("1 Example Street", "Somewhere", 1),
}
MESSAGE_BREAKS = {
    "date": header(b"Date", None),
    "date unparsable": header(b"Date", b"last Monday"),
    "message-id": header(b"Message-ID", b"12345"),
    "list-unsubscribe": header(b"List-Unsubscribe", None),
    "list-unsubscribe mailto only": header(b"List-Unsubscribe", b"<mailto:leave@example.org>"),
    "list-unsubscribe http": header(b"List-Unsubscribe", b"<http://news.example.com/unsubscribe/1>"),
    "list-unsubscribe-post": header(b"List-Unsubscribe-Post", None),
    "list-unsubscribe-post wrong": header(b"List-Unsubscribe-Post", b"List-Unsubscribe=Yes"),
    "missing-header": header(b"To", None),
    "control-characters": header(b"Subject", b"Weekly \x01digest"),
    "template-leftover": header(b"Subject", b"Weekly digest for [[digest:name]]"),
    "mime-structure": swap_parts,
    "mime-structure html only": html_only,
    "mime-structure mixed": lambda m: m.replace(b"multipart/alternative", b"multipart/mixed", 1),
}


@pytest.mark.parametrize("case", sorted(HTML_BREAKS))
def test_html_broken_for_one_reason(case):
    assert codes(build("html", html=HTML_BREAKS[case])) == {case.split()[0]}


@pytest.mark.parametrize("case", sorted(TEXT_BREAKS))
@pytest.mark.parametrize("fmt", ["html", "text"])
def test_text_broken_for_one_reason(case, fmt):
    assert codes(build(fmt, text=TEXT_BREAKS[case])) == {case.split()[0]}


@pytest.mark.parametrize("case", sorted(MESSAGE_BREAKS))
def test_message_broken_for_one_reason(case):
    good = build("html")
    broken = MESSAGE_BREAKS[case](good)
    assert broken != good
    assert codes(broken) == {case.split()[0]}


def test_image_weight_over_the_limit():
    pics = "".join(f'<img alt="" src="https://img.example.org/{n}.jpg" width="96" height="54">' for n in range(3))
    message = build("html", html=before_body_end(pics))
    weights = {f"https://img.example.org/{n}.jpg": 300 * 1024 for n in range(3)}
    assert codes(message) == set()
    failures = check_message(message, SETTINGS, article_titles=[i.title for i in ITEMS],
                             article_urls=[i.url for i in ITEMS], image_bytes=weights)
    assert [(f.code, f.message) for f in failures] == [
        ("image-weight", "the images weigh 900 KB together; keep them under 800 KB (image_weight_kb): slow on phones")]
    lighter = {u: 200 * 1024 for u in weights}
    assert check_message(message, SETTINGS, article_titles=[i.title for i in ITEMS],
                         article_urls=[i.url for i in ITEMS], image_bytes=lighter) == []


def test_failure_messages_say_what_is_wrong():
    failures = check_message(build("html", html=HTML_BREAKS["html-size"]), SETTINGS)
    assert [str(f) for f in failures] == [failures[0].code + ": " + failures[0].message]
    assert re.fullmatch(r"the encoded HTML part is 1\d\d,\d{3} bytes; Gmail clips it at 102,000", failures[0].message)
    [f] = check_message(build("html", html=HTML_BREAKS["preheader short"]), SETTINGS)
    assert f.message == "the preheader is 8 characters; inboxes show 40 to 130 well: 'Hi there'"


def test_demo_base_url_links_are_accepted():
    """The demo serves on http://127.0.0.1:8000: links under the configured base URL pass."""
    demo = load_settings(None, environ={**ENV, "DIGEST_BASE_URL": "http://127.0.0.1:8000"})
    message = build("html", settings=demo, html=before_body_end('<a href="http://127.0.0.1:8000/about">About</a>'))
    assert codes(message, demo) == set()
    other = build("html", settings=demo, html=before_body_end('<a href="http://127.0.0.1:9000/x">Elsewhere</a>'))
    assert codes(other, demo) == {"link-url"}


def test_no_postal_address_configured():
    bare = replace(SETTINGS, address="")
    failures = check_message(build("html", settings=bare), bare)
    assert [f.code for f in failures] == ["postal-address"]
    assert "organisation.address" in failures[0].message


# ---- DKIM --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signed_settings(tmp_path_factory):
    key = write_key(tmp_path_factory.mktemp("dkim") / "dkim.pem")
    return load_settings(None, environ={**ENV, "DIGEST_DKIM_DOMAIN": "example.org",
                                        "DIGEST_DKIM_SELECTOR": "digest1", "DIGEST_DKIM_KEY_FILE": str(key)})


def test_dkim_checked_when_configured(signed_settings):
    s = signed_settings
    signer = DkimSigner.from_settings(s)
    message = build("html", settings=s)
    assert codes(signer.sign(message), s) == set()
    assert codes(message, s) == {"dkim"}  # configured, but this one was not signed
    tampered = header(b"Subject", b"Something else")(signer.sign(message))
    assert codes(tampered, s) == {"dkim"}
    narrow = DkimSigner(s.dkim.domain, s.dkim.selector, signer._key, headers=("From", "To", "Subject"))
    [f] = check_message(narrow.sign(message), s)
    assert f.code == "dkim" and "does not cover list-unsubscribe, list-unsubscribe-post" in f.message
    # Without DKIM configured a signature is not checked (there is no key to check it with).
    assert codes(tampered) == set()


# ---- editions and the command ---------------------------------------------------------------


def _members(db, members):
    from digest.db import members as member_db

    with db.begin() as conn:
        for n, (topics, fmt) in enumerate(members):
            member_db.add(conn, f"m{n}@example.org", f"Member {n}", topics, "weekly", fmt, now=NOW)


MEMBERS = [((), "html"), ((), "text"), (("cyber-security",), "html"), (("cyber-security",), "text"),
           (("data-protection", "smart-places"), "html"), (("health-social-care",), "html")]


def test_every_variant_of_an_edition_passes(db, settings):
    from digest.editorial.build import build_edition
    from digest.edition.periods import parse_period
    from digest.ingest.store import ingest_sources

    ingest_sources(db, settings, [str(ROOT / "samples" / "news.xml")], now=NOW)
    _members(db, MEMBERS)
    planned = check_key(db, settings, "2017-W25", now=NOW)  # not built: as `edition build` would make it
    build_edition(db, settings, parse_period("2017-W25", settings.timezone), now=NOW)
    built = check_key(db, settings, "2017-W25", now=NOW)
    for results in (planned, built):
        assert {"*:html", "*:text", "cyber-security:html", "cyber-security:text"} <= set(results)
        assert any(k.startswith("data-protection") or k.startswith("smart-places") for k in results)
        assert all(key.endswith((":html", ":text")) for key in results)
        assert results == {key: [] for key in results}
    bare = replace(settings, address="")
    assert all([f.code for f in v] == ["postal-address"] for v in check_key(db, bare, "2017-W25", now=NOW).values())


def test_an_empty_edition_fails(db, settings):
    [(key, failures)] = check_key(db, settings, "2016-W01", now=NOW).items()
    assert key == "*:html" and [f.code for f in failures] == ["no-articles"]


def test_check_command(run_cli, tmp_path):
    good, bad = tmp_path / "good.eml", tmp_path / "bad.eml"
    good.write_bytes(build("html"))
    bad.write_bytes(build("html", html=HTML_BREAKS["missing-alt"], text=TEXT_BREAKS["text-unsubscribe"]))
    result = run_cli("check", str(good))
    assert result.exit_code == 0 and result.output.startswith("OK: 1 message(s) pass")
    result = run_cli("check", str(good), str(bad))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert [line.split(": ")[:2] for line in lines] == [[str(bad), "text-unsubscribe"], [str(bad), "missing-alt"]]
    result = run_cli("check", str(good), str(bad), "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data[str(good)] == [] and {f["code"] for f in data[str(bad)]} == {"missing-alt", "text-unsubscribe"}
    result = run_cli("check", str(tmp_path / "nothere.eml"))
    assert result.exit_code == 1 and "no such file" in result.output

    assert run_cli("ingest", str(ROOT / "samples" / "news.xml")).exit_code == 0
    result = run_cli("check", "2017-W25")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "OK: 2 message(s) pass every check"
    result = run_cli("check", "2017-W25", "--json")
    assert json.loads(result.output) == {"2017-W25 *:html": [], "2017-W25 *:text": []}

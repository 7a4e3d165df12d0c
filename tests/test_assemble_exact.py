"""The assembler's exact bytes: header by header, part by part, member against member.

test_message.py holds assembled messages to what the standard library parses
back; here the bytes themselves are pinned, because a reader's mail client
sees bytes: header names and their order, how a line is folded, the MIME
boundary, the quoted-printable soft breaks around each member's own links.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from test_message import (
    DATE, FIXED_HEADERS, JANE, KEY, LINKS, NAME, PREFS, SETTINGS, UNSUB, bodies, compile_, display_name, fill,
    header_block, parse, realistic_rendered,
)

from digest.errors import ConfigError, RenderError, SubscriberError
from digest.message.assemble import MessageTemplate, Recipient, build_reference, first_name, message_id
from digest.message.links import Links
from digest.models import Rendered

SMALL = Rendered(
    subject="Hi",
    preheader="",
    html=f'<p>Hello{NAME},</p><a href="{PREFS}">p</a> <a href="{UNSUB}">u</a>\n',
    text=f"Hello{NAME},\n{PREFS}\n{UNSUB}\n",
)
# JANE's links (subscriber 42, token version 3) under the test secret.
JANE_PREFS = "https://news.example.org/preferences/42.3.7_L6hi2CKpIE1CkIJH8tP1qLZHPVuN4IaiaIoLNdIuw"
JANE_UNSUB = "https://news.example.org/unsubscribe/42.3.pWXxGOTEi6zGKy-NEUGT0INjn0gMuA9pDAQLtX3hOIo"
JANE_TOKEN = JANE_UNSUB.rpartition("/")[2]
# The same links as quoted-printable pieces: 75 characters and a soft break, the rest and a soft break.
QP_PREFS = JANE_PREFS[:75] + "=\r\n" + JANE_PREFS[75:] + "=\r\n"
QP_UNSUB = JANE_UNSUB[:75] + "=\r\n" + JANE_UNSUB[75:] + "=\r\n"
SOURCE = replace(SETTINGS, source="/etc/digest.toml")


def boundary_of(rendered: Rendered, key: str = KEY) -> str:
    """The boundary as the spec has it: '=_digest_' and 24 hex digits of a hash of the variant."""
    joined = "\0".join((key, rendered.text, rendered.html))
    return "=_digest_" + hashlib.sha256(joined.encode("utf-8", "replace")).hexdigest()[:24]


def lines(raw: bytes) -> list[str]:
    return raw.decode("ascii").split("\r\n")


# --- the whole message --------------------------------------------------------

def test_an_html_message_byte_for_byte():
    s = replace(SETTINGS, reply_to="Membership team <members@example.org>",
                unsubscribe_mailto="mailto:leave@example.org")
    raw = compile_(SMALL, settings=s).assemble(JANE, date=DATE)
    b = boundary_of(SMALL)
    assert JANE_PREFS == LINKS.preferences_url(42, 3) and JANE_UNSUB == LINKS.unsubscribe_url(42, 3)
    assert raw.decode("ascii") == (
        "From: Public Digital Leaders Network <news@example.org>\r\n"
        "To: Jane Smith <jane.smith@example.com>\r\n"
        "Subject: Hi\r\n"
        "Date: Wed, 21 Jun 2017 09:30:00 +0000\r\n"
        "Message-ID: <edition.2017-W25.501@example.org>\r\n"
        "Reply-To: Membership team <members@example.org>\r\n"
        "List-Id: Public Digital Leaders Network digest <digest.example.org>\r\n"
        f"List-Unsubscribe: <{JANE_UNSUB}>,\r\n"
        f" <mailto:leave@example.org?subject=unsubscribe%20{JANE_TOKEN}>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/alternative;\r\n"
        f' boundary="{b}"\r\n'
        "\r\n"
        f"--{b}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "Hello=\r\n Jane=\r\n,\r\n"
        + QP_PREFS + "\r\n" + QP_UNSUB + "\r\n"
        "\r\n"
        f"--{b}\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        '<p>Hello=\r\n Jane=\r\n,</p><a href=3D"=\r\n'
        + QP_PREFS + '">p</a> <a href=3D"=\r\n' + QP_UNSUB + '">u</a>\r\n'
        "\r\n"
        f"--{b}--\r\n"
    )


def test_a_text_only_message_byte_for_byte():
    raw = compile_(SMALL, "text").assemble(replace(JANE, name=None), date=DATE)
    assert raw.decode("ascii") == (
        "From: Public Digital Leaders Network <news@example.org>\r\n"
        "To: jane.smith@example.com\r\n"
        "Subject: Hi\r\n"
        "Date: Wed, 21 Jun 2017 09:30:00 +0000\r\n"
        "Message-ID: <edition.2017-W25.501@example.org>\r\n"
        "List-Id: Public Digital Leaders Network digest <digest.example.org>\r\n"
        f"List-Unsubscribe: <{JANE_UNSUB}>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "Hello=\r\n,\r\n" + QP_PREFS + "\r\n" + QP_UNSUB + "\r\n"
    )


def test_the_boundary_is_a_hash_of_the_variant_and_fits_no_body():
    rendered = realistic_rendered()
    raw = compile_(rendered).assemble(JANE, date=DATE)
    b = boundary_of(rendered).encode()
    assert len(b) == len("=_digest_") + 24
    assert raw.count(b) == 4  # the parameter, two delimiters, the close
    assert raw.endswith(b"\r\n--" + b + b"--\r\n")
    assert compile_(rendered).assemble(JANE, date=DATE) == raw  # compiled again: the same boundary
    next_week = MessageTemplate.compile(rendered, settings=SETTINGS, edition_key="2017-W26", fmt="html", links=LINKS)
    assert boundary_of(rendered, "2017-W26").encode() in next_week.assemble(JANE, date=DATE)


def test_an_edition_key_that_is_not_valid_unicode_still_gets_a_boundary():
    key = "2017-W25\ud800"  # a lone surrogate: the hash takes it as '?'
    raw = MessageTemplate.compile(SMALL, settings=SETTINGS, edition_key=key, fmt="html",
                                  links=LINKS).assemble(JANE, date=DATE)
    assert boundary_of(SMALL, key).encode() in raw
    assert parse(raw)["Message-ID"] == "<edition.2017-W25.501@example.org>"


def test_two_members_of_one_variant_differ_only_in_their_own_lines():
    t = compile_(SMALL)
    pat = Recipient(delivery_id=502, subscriber_id=7, email="pat@example.net", name="Pat Lee", token_version=1)
    a, b = lines(t.assemble(JANE, date=DATE)), lines(t.assemble(pat, date=DATE))
    assert len(a) == len(b)
    prefs, unsub = LINKS.preferences_url(7, 1), LINKS.unsubscribe_url(7, 1)
    changed = [(x, y) for x, y in zip(a, b) if x != y]
    assert changed == [
        ("To: Jane Smith <jane.smith@example.com>", "To: Pat Lee <pat@example.net>"),
        ("Message-ID: <edition.2017-W25.501@example.org>", "Message-ID: <edition.2017-W25.502@example.org>"),
        (f"List-Unsubscribe: <{JANE_UNSUB}>", f"List-Unsubscribe: <{unsub}>"),
        # text part
        (" Jane=", " Pat="), (JANE_PREFS[:75] + "=", prefs[:75] + "="), (JANE_PREFS[75:] + "=", prefs[75:] + "="),
        (JANE_UNSUB[:75] + "=", unsub[:75] + "="), (JANE_UNSUB[75:] + "=", unsub[75:] + "="),
        # html part
        (" Jane=", " Pat="), (JANE_PREFS[:75] + "=", prefs[:75] + "="), (JANE_PREFS[75:] + "=", prefs[75:] + "="),
        (JANE_UNSUB[:75] + "=", unsub[:75] + "="), (JANE_UNSUB[75:] + "=", unsub[75:] + "="),
    ]


def test_the_size_is_the_bytes_every_member_shares():
    rendered = Rendered("Hi", "", "<p>Hello</p>\n", "Hello\n")  # no slots in the bodies
    t = compile_(rendered)
    raw = t.assemble(JANE, date=DATE)
    own = [line for line in header_block(raw) if line.startswith((b"To:", b"Date:", b"Message-ID:", b"List-Unsubscribe:"))]
    assert t.size == len(raw) - sum(len(line) + 2 for line in own)


# --- headers ------------------------------------------------------------------

@pytest.mark.parametrize("name, to", [
    ("Jane Smith", b"To: Jane Smith <jane.smith@example.com>"),
    ('Dr "Jim" Jones', b'To: "Dr \\"Jim\\" Jones" <jane.smith@example.com>'),
    ("back\\slash", b'To: "back\\\\slash" <jane.smith@example.com>'),
    ("O'Brien, Pat", b'To: "O\'Brien, Pat" <jane.smith@example.com>'),
    ("Siân", b"To: =?utf-8?b?U2nDom4=?= <jane.smith@example.com>"),
    ("", b"To: jane.smith@example.com"),
    (None, b"To: jane.smith@example.com"),
    ("\r\n\t", b"To: jane.smith@example.com"),
])
def test_the_to_header(name, to):
    raw = compile_(SMALL).assemble(replace(JANE, name=name), date=DATE)
    assert header_block(raw)[1] == to
    assert display_name(raw) == (name or "").strip()


def test_a_long_name_and_address_fold_within_78():
    name = "Ffion ap Siôn-Llywelyn o Gaerfyrddin a Cheredigion, Cymdeithas Llywodraeth Leol"
    address = "ffion.ap.sion-llywelyn." + "x" * 40 + "@cymdeithas-llywodraeth-leol.example.org"
    raw = compile_(SMALL).assemble(replace(JANE, name=name, email=address), date=DATE)
    to = [line for line in header_block(raw)[1:5] if line.startswith((b"To:", b" "))]
    assert len(to) > 1 and all(len(line) <= 78 for line in to[:-1])
    assert to[-1] == b" <" + address.encode() + b">"  # an address is one token: never split
    msg = parse(raw)
    assert display_name(raw) == name and msg["To"].addresses[0].addr_spec == address


def test_a_member_without_a_name_gets_the_bare_address_and_hello():
    raw = compile_(SMALL).assemble(replace(JANE, name=None), date=DATE)
    assert b"\r\nTo: jane.smith@example.com\r\n" in raw
    assert bodies(parse(raw)) == {"plain": fill(SMALL.text, None, JANE, False), "html": fill(SMALL.html, None, JANE, True)}
    assert bodies(parse(raw))["plain"].startswith("Hello,\n")


@pytest.mark.parametrize("key, domain, expected", [
    ("2017-W25", "example.org", "<edition.2017-W25.7@example.org>"),
    ("k" * 70, "example.org", "<edition." + "k" * 64 + ".7@example.org>"),
    ("Xmas 2017 X", "example.org", "<edition.Xmas-2017-X.7@example.org>"),
    ("--a--", "example.org", "<edition.a.7@example.org>"),
    ("//", "example.org", "<edition.edition.7@example.org>"),
    ("", "example.org", "<edition.edition.7@example.org>"),
    ("k", ".News.Example.ORG.", "<edition.k.7@News.Example.ORG>"),
    ("k", "Xample.example", "<edition.k.7@Xample.example>"),
    ("k", "@@@", "<edition.k.7@localhost>"),
    ("k", "", "<edition.k.7@localhost>"),
])
def test_message_id_form(key, domain, expected):
    assert message_id(key, 7, domain) == expected


def test_the_message_id_header_is_the_delivery_one():
    t = MessageTemplate.compile(SMALL, settings=SETTINGS, edition_key="Xmas 2017", fmt="html", links=LINKS)
    raw = t.assemble(replace(JANE, delivery_id=123456789), date=DATE)
    assert header_block(raw)[4] == b"Message-ID: " + message_id("Xmas 2017", 123456789, "example.org").encode()
    assert header_block(raw)[4] == b"Message-ID: <edition.Xmas-2017.123456789@example.org>"


def test_date_header_forms():
    t = compile_(SMALL)
    plus_two = DATE.astimezone(timezone(timedelta(hours=2)))
    got = [header_block(t.assemble(JANE, date=d))[3] for d in (DATE, plus_two, plus_two, DATE + timedelta(days=1))]
    assert got == [b"Date: Wed, 21 Jun 2017 09:30:00 +0000", b"Date: Wed, 21 Jun 2017 11:30:00 +0200",
                   b"Date: Wed, 21 Jun 2017 11:30:00 +0200", b"Date: Thu, 22 Jun 2017 09:30:00 +0000"]


def test_date_now_is_this_second_in_utc():
    t = compile_(SMALL)
    before = int(time.time())
    got = [header_block(t.assemble(JANE))[3] for _ in range(3)]  # the later ones from the cache
    after = int(time.time())
    allowed = {b"Date: " + email.utils.format_datetime(datetime.fromtimestamp(s, timezone.utc)).encode()
               for s in range(before, after + 1)}
    assert set(got) <= allowed and all(g.endswith(b" +0000") for g in got)


def test_a_naive_date_is_refused():
    with pytest.raises(ValueError, match="^message date must be timezone-aware$"):
        compile_(SMALL).assemble(JANE, date=datetime(2017, 6, 21, 9, 30))


def test_list_unsubscribe_per_rfc_8058():
    raw = compile_(SMALL).assemble(JANE, date=DATE)
    block = header_block(raw)
    assert block[6:8] == [b"List-Unsubscribe: <" + JANE_UNSUB.encode() + b">",
                          b"List-Unsubscribe-Post: List-Unsubscribe=One-Click"]


# The member's signed unsubscribe token ends the subject: a request by mail is attributed by it, not by From.
@pytest.mark.parametrize("mailto, shown", [
    ("leave@example.org", "<mailto:leave@example.org?subject=unsubscribe%20TOKEN>"),
    ("mailto:leave@example.org", "<mailto:leave@example.org?subject=unsubscribe%20TOKEN>"),
    ("  mailto:leave@example.org ", "<mailto:leave@example.org?subject=unsubscribe%20TOKEN>"),
    ("leave@example.org?subject=Leave%20the%20digest", "<mailto:leave@example.org?subject=Leave%20the%20digest%20TOKEN>"),
    ("leave@example.org?subject=why?&body=x", "<mailto:leave@example.org?subject=why?%20TOKEN&body=x>"),
    ("leave@example.org?body=x&Subject=bye", "<mailto:leave@example.org?body=x&Subject=bye%20TOKEN>"),
    ("leave@example.org?body=x", "<mailto:leave@example.org?subject=unsubscribe%20TOKEN&body=x>"),
])
def test_a_mailto_goes_on_its_own_line(mailto, shown):
    raw = compile_(SMALL, settings=replace(SETTINGS, unsubscribe_mailto=mailto)).assemble(JANE, date=DATE)
    shown = shown.replace("TOKEN", JANE_TOKEN)
    assert header_block(raw)[6:9] == [b"List-Unsubscribe: <" + JANE_UNSUB.encode() + b">,", b" " + shown.encode(),
                                      b"List-Unsubscribe-Post: List-Unsubscribe=One-Click"]
    slow = build_reference(SMALL, settings=replace(SETTINGS, unsubscribe_mailto=mailto), edition_key=KEY,
                           fmt="html", links=LINKS, recipient=JANE, date=DATE)
    assert parse(slow)["List-Unsubscribe"] == f"<{JANE_UNSUB}>, {shown}"


def test_list_id_forms():
    for list_id, header in [
        ("Public Digital Leaders Network digest <digest.example.org>",
         b"List-Id: Public Digital Leaders Network digest <digest.example.org>"),
        ("Digest <Digest.Example.ORG>", b"List-Id: Digest <Digest.Example.ORG>"),
        ("digest.example.org", b"List-Id: <digest.example.org>"),
        ("  Digest.Example.ORG  ", b"List-Id: <Digest.Example.ORG>"),
        ("Crynodeb “wythnosol” <digest.example.org>",
         b"List-Id: =?utf-8?b?Q3J5bm9kZWIg4oCcd3l0aG5vc29s4oCd?= <digest.example.org>"),
    ]:
        raw = compile_(SMALL, settings=replace(SETTINGS, list_id=list_id)).assemble(JANE, date=DATE)
        assert header_block(raw)[5] == header, list_id


def test_reply_to_only_when_set():
    for reply_to, want in [("", None), ("  ", None), ("members@example.org", b"Reply-To: <members@example.org>"),
                           ("Membership team <members@example.org>",
                            b"Reply-To: Membership team <members@example.org>")]:
        block = header_block(compile_(SMALL, settings=replace(SETTINGS, reply_to=reply_to)).assemble(JANE, date=DATE))
        assert [line for line in block if line.startswith(b"Reply-To:")] == ([want] if want else [])


# --- links in the bodies --------------------------------------------------------

@pytest.mark.parametrize("base_url", ["https://x.example/a&b", "https://x.example/o'brien"])
def test_links_with_html_special_characters_are_escaped_in_html_only(base_url):
    links = Links(SETTINGS.secret_key, base_url)
    t = MessageTemplate.compile(SMALL, settings=SETTINGS, edition_key=KEY, fmt="html", links=links)
    got = bodies(parse(t.assemble(JANE, date=DATE)))
    prefs, unsub = links.preferences_url(42, 3), links.unsubscribe_url(42, 3)
    assert got["plain"] == f"Hello Jane,\n{prefs}\n{unsub}\n"
    escaped = "&amp;" if "&" in base_url else "&#x27;"
    html_prefs, html_unsub = (u.replace("&", "&amp;").replace("'", "&#x27;") for u in (prefs, unsub))
    assert got["html"] == f'<p>Hello Jane,</p><a href="{html_prefs}">p</a> <a href="{html_unsub}">u</a>\n'
    assert escaped in html_prefs and escaped in html_unsub and escaped not in got["plain"]


def test_a_greeting_with_html_special_characters():
    t = compile_(SMALL)
    got = bodies(parse(t.assemble(replace(JANE, name="<Siân> & co"), date=DATE)))
    assert got["plain"].startswith("Hello <Siân>,\n") and got["html"].startswith("<p>Hello &lt;Siân&gt;,</p>")


@pytest.mark.parametrize("name, greeting", [
    ("Lee, Ann Marie, OBE", "Ann"), ("MX Jo Bloggs", "MX Bloggs"), ("Dr Jones", "Dr Jones"), ("Dr.", "Dr."),
    # What follows a second comma, or a comma after a full name, is a role or letters, never the name.
    ("Smith, Jane, Chair", "Jane"), ("Dr Jane Smith, PhD", "Dr Smith"), ("Jane Smith, MBE", "Jane"),
    (", Pat", "Pat"), ("Smith,", "Smith"), ("Smith, , Chair", "Smith"),
])
def test_first_name_more_cases(name, greeting):
    assert first_name(name) == greeting


# --- refusals say what and where --------------------------------------------------

@pytest.mark.parametrize("change, key, reason", [
    ({"sender": "Nobody <not an address>"}, "organisation.sender",
     "'Nobody <not an address>' is not a usable address"),
    ({"reply_to": "x"}, "organisation.reply_to", "'x' is not a usable address"),
    ({"list_id": "no <spaces here>"}, "digest.list_id", "'no <spaces here>' is not 'Name <list.id.domain>'"),
    ({"list_id": "two words"}, "digest.list_id", "'two words' is not 'Name <list.id.domain>'"),
    ({"unsubscribe_mailto": "mailto:<bad>"}, "digest.unsubscribe_mailto", "'<bad>' is not an address"),
    ({"unsubscribe_mailto": "leave@example.org?subject=désabonner"}, "digest.unsubscribe_mailto",
     "'leave@example.org?subject=désabonner' is not an address"),
    ({"unsubscribe_mailto": "leave@example.org?subject=a b"}, "digest.unsubscribe_mailto",
     "'leave@example.org?subject=a b' is not an address"),
    ({"unsubscribe_mailto": "leave@example.org?a=<b>"}, "digest.unsubscribe_mailto",
     "'leave@example.org?a=<b>' is not an address"),
])
def test_bad_settings_name_the_file_the_key_and_the_value(change, key, reason):
    with pytest.raises(ConfigError) as e:
        compile_(SMALL, settings=replace(SOURCE, **change))
    assert (e.value.path, e.value.key, e.value.reason) == ("/etc/digest.toml", key, reason)


@pytest.mark.parametrize("base_url", ["https://bücher.example", "https://x.example/a b", "https://x.example/<a>",
                                      'https://x.example/"'])
def test_a_base_url_that_cannot_go_into_a_header(base_url):
    with pytest.raises(ConfigError) as e:
        MessageTemplate.compile(SMALL, settings=SOURCE, edition_key=KEY, fmt="html",
                                links=Links(SETTINGS.secret_key, base_url))
    assert (e.value.path, e.value.key) == ("/etc/digest.toml", "organisation.base_url")
    assert e.value.reason == f"{base_url!r} cannot go into a header (use the ASCII/punycode form)"


def test_unknown_formats_and_empty_bodies_say_which():
    with pytest.raises(ValueError, match="^unknown format 'pdf'$"):
        compile_(SMALL, "pdf")
    with pytest.raises(RenderError, match="^edition 2017-W25: the html variant has no HTML body$"):
        compile_(Rendered("s", "", " \n", "text"))
    with pytest.raises(RenderError, match="^edition 2017-W25: the text variant has no text body$"):
        compile_(Rendered("s", "", "<p>x</p>", "  \n"), "text")
    with pytest.raises(RenderError, match="^edition 2017-W25: the html variant has no text body$"):
        compile_(Rendered("s", "", "<p>x</p>", ""))


def test_a_text_variant_may_carry_any_text():
    rendered = Rendered("s", "", "", "XXXX =_digest_ --=_digest_x--\n")
    raw = compile_(rendered, "text").assemble(JANE, date=DATE)
    assert bodies(parse(raw)) == {"plain": rendered.text}


@pytest.mark.parametrize("address", ["a@b.example\r\nBcc: evil@example.net", "jané@example.com", ""])
def test_a_refused_address_is_named(address):
    with pytest.raises(SubscriberError) as e:
        compile_(SMALL).assemble(replace(JANE, email=address), date=DATE)
    assert (e.value.email, e.value.reason) == (address, "address cannot be written into a message header")


# --- the standard-library reference itself -----------------------------------------

@pytest.mark.parametrize("fmt", ["html", "text"])
@pytest.mark.parametrize("mailto", ["", "leave@example.org"])
def test_the_reference_has_the_same_headers_and_parts(fmt, mailto):
    s = replace(SETTINGS, reply_to="Members <members@example.org>", unsubscribe_mailto=mailto)
    fast_raw = compile_(SMALL, fmt, settings=s).assemble(JANE, date=DATE)
    slow_raw = build_reference(SMALL, settings=s, edition_key=KEY, fmt=fmt, links=LINKS, recipient=JANE, date=DATE)
    assert b"\n" not in slow_raw.replace(b"\r\n", b"")  # CRLF, as SMTP wants
    fast, slow = parse(fast_raw), parse(slow_raw)
    names = FIXED_HEADERS[:5] + ["Reply-To"] + FIXED_HEADERS[5:8]
    assert list(slow.keys())[:9] == list(fast.keys())[:9] == names  # then the MIME headers, in another order
    assert sorted(slow.keys()[9:]) == sorted(fast.keys()[9:])
    for header in names:
        assert str(slow[header]) == str(fast[header]), header
    if not mailto:
        assert slow["List-Unsubscribe"] == f"<{JANE_UNSUB}>"
    for f, p in zip(fast.walk(), slow.walk()):
        assert f.get_content_type() == p.get_content_type()
        if not p.is_multipart():
            assert str(p["Content-Type"]) == f'{p.get_content_type()}; charset="utf-8"'
            assert p["Content-Transfer-Encoding"] == f["Content-Transfer-Encoding"] == "quoted-printable"
    assert bodies(fast) == bodies(slow)


def test_the_reference_without_a_name():
    r = replace(JANE, name=None)
    slow_raw = build_reference(SMALL, settings=SETTINGS, edition_key=KEY, fmt="html", links=LINKS, recipient=r,
                               date=DATE)
    assert b"\r\nTo: jane.smith@example.com\r\n" in slow_raw
    assert bodies(parse(slow_raw)) == bodies(parse(compile_(SMALL).assemble(r, date=DATE)))


def test_parsed_back_without_defects():
    raw = compile_(realistic_rendered()).assemble(JANE, date=DATE)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert not any(p.defects for p in msg.walk())


@pytest.mark.parametrize("fmt", ["html", "text"])
def test_the_reference_is_quoted_printable_even_where_7bit_would_do(fmt):
    short = Rendered("Hi", "", f"<p>Hello{NAME},</p>\n", f"Hello{NAME},\n")
    slow = parse(build_reference(short, settings=SETTINGS, edition_key=KEY, fmt=fmt, links=LINKS, recipient=JANE,
                                 date=DATE))
    leaves = [p for p in slow.walk() if not p.is_multipart()]
    assert [p["Content-Transfer-Encoding"] for p in leaves] == ["quoted-printable"] * (2 if fmt == "html" else 1)
    assert bodies(slow) == bodies(parse(compile_(short, fmt).assemble(JANE, date=DATE)))

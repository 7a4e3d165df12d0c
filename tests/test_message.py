"""Per-recipient messages: parsed back by the standard library, they must say exactly what was rendered."""

from __future__ import annotations

import email
import email.policy
import html
import quopri
import re
import unicodedata
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.header import decode_header, make_header

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from digest.config import load_settings
from digest.errors import ConfigError, RenderError, SubscriberError
from digest.message.assemble import MessageTemplate, Recipient, build_reference, first_name, message_id
from digest.message.mime import fold_header, qp_piece, text_tokens
from digest.models import SLOT_MARKERS, Rendered
from digest.message.links import Links

NAME, PREFS, UNSUB = SLOT_MARKERS["name"], SLOT_MARKERS["preferences_url"], SLOT_MARKERS["unsubscribe_url"]
DATE = datetime(2017, 6, 21, 9, 30, tzinfo=timezone.utc)
KEY = "2017-W25"
SETTINGS = load_settings(
    None,
    environ={"DIGEST_SECRET_KEY": "test-secret-key-0123456789", "DIGEST_BASE_URL": "https://news.example.org",
             "DIGEST_CONFIG": "", "DIGEST_DATABASE_URL": "sqlite://"},
)
LINKS = Links(SETTINGS.secret_key, SETTINGS.base_url)
FIXED_HEADERS = ["From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe",
                 "List-Unsubscribe-Post", "MIME-Version", "Content-Type"]

TITLES = [
    "“Data protection by design” – what the new guidance means for councils",
    "Siân Phillips on digital inclusion in rural Wales: ‘we can’t leave anyone behind’",
    "Procurement reform — the 2017–18 framework, explained",
    "Cyber security: €2m fund for shared SOCs… and £500k for training",
    "Café-style drop-ins help residents get online (naïve approaches need not apply)",
]


def realistic_rendered(subject: str = "Your weekly digest – “Data” and Siân’s 5 picks") -> Rendered:
    """About 30 KB of HTML shaped like MJML + premailer output, and its text twin."""
    td = ('style="font-family:Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5;color:#1f2933;'
          'padding:0 24px 16px 24px;text-align:left;word-break:break-word;mso-line-height-rule:exactly"')
    items_html, items_text = [], []
    for n in range(12):
        title = TITLES[n % len(TITLES)]
        url = f"https://www.example.org/news/{n}-item?utm_source=digest&utm_medium=email&utm_campaign={KEY}"
        summary = (f"Item {n}: members from 40 authorities met on 14–15 June; “the aim,” said Siân, "
                   f"“is simple – fewer forms.” Costs fell 12% = £1.2m. ") * 3
        items_html.append(
            f'<tr><td align="left" {td}><h2 style="margin:0;font-size:20px;line-height:1.3;color:#1d4f91">'
            f'<a href="{html.escape(url)}" style="color:#1d4f91;text-decoration:underline" target="_blank">'
            f"{html.escape(title)}</a></h2></td></tr>\n"
            f"<tr><td align=\"left\" {td}><p style=\"margin:0 0 12px 0\">{html.escape(summary)}</p>"
            f'<p style="margin:0;font-size:13px;color:#52606d">Data protection · Procurement</p></td></tr>\n'
        )
        items_text.append(f"{title}\n{url}\n\n{summary}\n\n")
    long_line = "<!--[if mso | IE]><table role=\"presentation\" border=\"0\" cellpadding=\"0\" cellspacing=\"0\">" + (
        '<tr><td class="" style="vertical-align:top;width:600px;" ></td></tr>' * 40) + "</table><![endif]-->"
    body = (
        '<!doctype html>\n<html xmlns="http://www.w3.org/1999/xhtml" lang="en-GB"><head><meta charset="utf-8">'
        "<title>Weekly digest</title><style>#outlook a{padding:0}body{margin:0;padding:0}</style></head>\n"
        '<body style="word-spacing:normal;background-color:#f2f5fa">'
        '<div style="display:none;font-size:1px;max-height:0;overflow:hidden">Five stories – this week’s picks'
        "&#847; &zwnj; &nbsp; " * 3 + "</div>\n" + long_line + "\n"
        f'<table role="presentation" width="100%"><tr><td {td}><p>Hello{NAME},</p>'
        "<p>Here’s what happened this week — in brief.</p></td></tr>\n"
        + "".join(items_html) * 2
        + f'<tr><td {td}><p style="font-size:13px">You get this because you’re a member. '
        f'<a href="{PREFS}" style="color:#1d4f91">Choose topics or frequency</a> · '
        f'<a href="{UNSUB}" style="color:#1d4f91">Unsubscribe</a><br>{UNSUB}</p></td></tr>'
        "</table></body></html>\n"
    )
    text = (
        f"Hello{NAME},\n\nHere’s what happened this week — in brief.\n\n"
        + "".join(items_text)
        + f"Choose topics or frequency: {PREFS}\nUnsubscribe: {UNSUB}\n"
    )
    return Rendered(subject=subject, preheader="Five stories – this week’s picks", html=body, text=text)


def clean(name: str | None) -> str:
    """The spec for names in headers and greetings: control characters out, one line."""
    drop = {"Cc", "Cs", "Zl", "Zp"}
    return " ".join("".join(" " if unicodedata.category(c) in drop else c for c in name or "").split())


def greeting_name(name: str | None) -> str:
    """The greeting uses the first name (the rule itself: test_first_name_for_the_greeting)."""
    return first_name(name)


def fill(body: str, name: str | None, r: Recipient, html_part: bool) -> str:
    esc = html.escape if html_part else str
    values = {
        NAME: esc(" " + greeting_name(name)) if greeting_name(name) else "",
        PREFS: esc(LINKS.preferences_url(r.subscriber_id, r.token_version)),
        UNSUB: esc(LINKS.unsubscribe_url(r.subscriber_id, r.token_version)),
    }
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub("|".join(map(re.escape, values)), lambda m: values[m.group(0)], body)


def compile_(rendered: Rendered, fmt: str = "html", settings=SETTINGS) -> MessageTemplate:
    return MessageTemplate.compile(rendered, settings=settings, edition_key=KEY, fmt=fmt, links=LINKS)


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def bodies(msg) -> dict[str, str]:
    parts = list(msg.iter_parts()) if msg.is_multipart() else [msg]
    return {p.get_content_subtype(): p.get_content().replace("\r\n", "\n") for p in parts}


def display_name(raw: bytes) -> str:
    """The To display name, decoded per RFC 2047 section 6.2.

    Python 3.11's parser keeps the space between two adjacent encoded-words in a
    display name (CPython gh-128110, fixed in later versions); every RFC-minded
    mail client drops it, so the test decodes the phrase itself.
    """
    value = email.message_from_bytes(raw, policy=email.policy.compat32)["To"]
    value = re.sub(r"\r?\n(?=[ \t])", "", str(value)).strip()
    if not value.endswith(">"):
        return ""
    phrase = value.rpartition(" <")[0]
    if phrase.startswith('"'):
        return re.sub(r"\\(.)", r"\1", phrase[1:-1])
    if "=?" in phrase:
        return str(make_header(decode_header(phrase)))
    return phrase


def check_lines(raw: bytes) -> None:
    """CRLF only; every line <= 998; quoted-printable body lines <= 76 and no trailing blanks."""
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert raw.endswith(b"\r\n")
    in_qp = seen_cte = False
    for line in raw.split(b"\r\n"):
        assert len(line) <= 998
        if line.startswith(b"--=_digest_"):
            in_qp = seen_cte = False
        elif line == b"Content-Transfer-Encoding: quoted-printable":
            seen_cte = True
        elif seen_cte and line == b"" and not in_qp:
            in_qp = True
        elif in_qp:
            assert len(line) <= 76, line
            assert not line.endswith((b" ", b"\t")), line
            assert line.isascii()


def header_block(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


JANE = Recipient(delivery_id=501, subscriber_id=42, email="jane.smith@example.com", name="Jane Smith", token_version=3)


def test_headers_are_exactly_right():
    raw = compile_(realistic_rendered()).assemble(JANE, date=DATE)
    msg = parse(raw)
    assert list(msg.keys()) == FIXED_HEADERS
    assert msg["From"] == "Public Digital Leaders Network <news@example.org>"
    assert msg["To"].addresses[0].display_name == display_name(raw) == "Jane Smith"
    assert msg["To"].addresses[0].addr_spec == "jane.smith@example.com"
    assert msg["Subject"] == "Your weekly digest – “Data” and Siân’s 5 picks"
    assert msg["Date"].datetime == DATE
    assert msg["Message-ID"] == "<edition.2017-W25.501@example.org>"
    assert msg["List-Id"] == "Public Digital Leaders Network digest <digest.example.org>"
    unsub = msg["List-Unsubscribe"]
    assert unsub == f"<{LINKS.unsubscribe_url(42, 3)}>"
    assert LINKS.read("unsubscribe", unsub.rsplit("/", 1)[1].rstrip(">")) == (42, 3)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    for part in msg.iter_parts():
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
    assert not msg.defects and not any(p.defects for p in msg.walk())
    # The raw headers: ASCII, and folded within 78 except the one-token List-Unsubscribe line.
    for line in header_block(raw):
        assert line.isascii()
        assert len(line) <= 78 or line.startswith(b"List-Unsubscribe: <https://")


def test_optional_headers_reply_to_and_mailto():
    s = replace(SETTINGS, reply_to="Membership team <members@example.org>",
                unsubscribe_mailto="mailto:leave@example.org")
    msg = parse(compile_(realistic_rendered(), settings=s).assemble(JANE, date=DATE))
    assert list(msg.keys()) == FIXED_HEADERS[:5] + ["Reply-To"] + FIXED_HEADERS[5:]
    assert msg["Reply-To"] == "Membership team <members@example.org>"
    unsub = LINKS.unsubscribe_url(42, 3)
    assert msg["List-Unsubscribe"] == (f"<{unsub}>, "
                                       f"<mailto:leave@example.org?subject=unsubscribe%20{unsub.rpartition('/')[2]}>")


def test_non_ascii_settings_are_encoded():
    s = replace(SETTINGS, sender="Cymdeithas Siân – Newyddion <news@example.org>",
                list_id="Crynodeb “wythnosol” <digest.example.org>", reply_to="aelodau@example.org")
    raw = compile_(realistic_rendered(), settings=s).assemble(JANE, date=DATE)
    msg = parse(raw)
    assert msg["From"].addresses[0].display_name == "Cymdeithas Siân – Newyddion"
    assert msg["List-Id"] == "Crynodeb “wythnosol” <digest.example.org>"
    assert msg["Reply-To"] == "aelodau@example.org"
    assert all(line.isascii() and len(line) <= 78 for line in header_block(raw) if not line.startswith(b"List-U"))


def test_bad_settings_are_config_errors():
    for change in ({"sender": "Nobody <not an address>"}, {"reply_to": "x"}, {"list_id": "no <spaces here>"},
                   {"unsubscribe_mailto": "mailto:<bad>"}):
        with pytest.raises(ConfigError):
            compile_(realistic_rendered(), settings=replace(SETTINGS, **change))
    with pytest.raises(ConfigError):
        MessageTemplate.compile(realistic_rendered(), settings=SETTINGS, edition_key=KEY, fmt="html",
                                links=Links(SETTINGS.secret_key, "https://bücher.example"))


def test_bodies_are_the_rendered_ones_with_slots_filled():
    rendered = realistic_rendered()
    assert 28_000 < len(rendered.html.encode()) < 60_000
    for r in (JANE, replace(JANE, name="Siân O’Brien <Chair> & “Treasurer”"), replace(JANE, name=None)):
        raw = compile_(rendered).assemble(r, date=DATE)
        got = bodies(parse(raw))
        assert got["plain"] == fill(rendered.text, r.name, r, html_part=False)
        assert got["html"] == fill(rendered.html, r.name, r, html_part=True)
        check_lines(raw)
    assert "Hello Siân," in fill(rendered.html, "Siân O'Brien <Chair> & “Treasurer”", JANE, True)
    assert "Hello &lt;Siân&gt;," in fill(rendered.html, "<Siân> O'Brien", JANE, True)
    assert got["plain"].startswith("Hello,\n") and "<p>Hello,</p>" in got["html"]


def test_text_format_is_a_single_plain_part():
    rendered = realistic_rendered()
    raw = compile_(rendered, "text").assemble(JANE, date=DATE)
    msg = parse(raw)
    assert list(msg.keys()) == FIXED_HEADERS + ["Content-Transfer-Encoding"]
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    assert bodies(msg) == {"plain": fill(rendered.text, "Jane Smith", JANE, html_part=False)}
    assert b"<html" not in raw and b"multipart" not in raw
    check_lines(raw)


@pytest.mark.parametrize("name", [
    "Jane Smith", "Siân Phillips", "O'Brien, Pat", 'Dr "Jim" Jones', "back\\slash", "Zoë 🐍 Ng",
    "李小龍", "a" * 150, "Jane\r\nBcc: evil@example.net", None,
])
@pytest.mark.parametrize("fmt", ["html", "text"])
def test_same_as_the_standard_library_reference(name, fmt):
    rendered = realistic_rendered()
    s = replace(SETTINGS, reply_to="Members <members@example.org>", unsubscribe_mailto="leave@example.org")
    r = replace(JANE, name=name)
    fast_raw = compile_(rendered, fmt, settings=s).assemble(r, date=DATE)
    slow_raw = build_reference(rendered, settings=s, edition_key=KEY, fmt=fmt, links=LINKS, recipient=r, date=DATE)
    fast, slow = parse(fast_raw), parse(slow_raw)
    assert bodies(fast) == bodies(slow)
    for header in ("From", "Subject", "Date", "Message-ID", "Reply-To", "List-Id", "List-Unsubscribe",
                   "List-Unsubscribe-Post", "MIME-Version"):
        assert str(fast[header]) == str(slow[header]), header
    assert [a.addr_spec for a in fast["To"].addresses] == [a.addr_spec for a in slow["To"].addresses]
    assert display_name(fast_raw) == display_name(slow_raw) == clean(name)
    assert fast.get_content_type() == slow.get_content_type()
    assert "Bcc" not in fast and "Bcc" not in slow


@pytest.mark.parametrize("name, shown", [
    ("=?utf-8?q?x?=", "=?utf-8?q?x?="),  # the standard library decodes this into "x"; a name is not a header
    ("Jane\r\nBcc: evil@example.net", "Jane Bcc: evil@example.net"),
    ("\nX-Injected: yes\r\n\r\nbody", "X-Injected: yes body"),
    ("Siân\u2028Bcc: evil@example.net", "Siân Bcc: evil@example.net"),
    ("  Jane \t Smith\x00 ", "Jane Smith"),
    ("\r\n", ""),
    ("Ffion ap Siôn-Llywelyn o Gaerfyrddin a Cheredigion, Cymdeithas Llywodraeth Leol", None),
])
def test_names_in_the_to_header_and_greeting(name, shown):
    shown = name if shown is None else shown
    raw = compile_(realistic_rendered()).assemble(replace(JANE, name=name), date=DATE)
    msg = parse(raw)
    assert list(msg.keys()) == FIXED_HEADERS
    assert display_name(raw) == shown and msg["To"].addresses[0].addr_spec == JANE.email
    greeting = f"Hello {greeting_name(shown)}," if shown else "Hello,"
    assert bodies(msg)["plain"].startswith(greeting + "\n")
    assert f"<p>{html.escape(greeting)}</p>" in bodies(msg)["html"]
    assert all(len(line) <= 78 for line in header_block(raw) if line.startswith((b"To:", b" ")))


@pytest.mark.parametrize("name, greeting", [
    ("Siân Phillips", "Siân"), ("Jane", "Jane"), ("O'Brien, Pat", "Pat"), ("Smith,Jane Ann", "Jane"),
    ("Dr Jim Jones", "Dr Jones"), ("Cllr. Ann Lee", "Cllr. Lee"), ("Prof", "Prof"), ("李小龍", "李小龍"),
    ("  Zoë \t Ng ", "Zoë"), ("Jane Smith, Chair", "Jane"), (", 0", "0"), ("", ""), (None, ""),
])
def test_first_name_for_the_greeting(name, greeting):
    assert first_name(name) == greeting


def test_message_id_is_stable_per_delivery():
    t = compile_(realistic_rendered())
    first = parse(t.assemble(JANE, date=DATE))["Message-ID"]
    again = parse(compile_(realistic_rendered()).assemble(JANE, date=DATE + timedelta(hours=2)))["Message-ID"]
    other = parse(t.assemble(replace(JANE, delivery_id=502), date=DATE))["Message-ID"]
    assert first == again == message_id(KEY, 501, "example.org") and other != first
    assert message_id("2017-06-01..2017-06-08", 7, "example.org") == "<edition.2017-06-01-2017-06-08.7@example.org>"
    assert message_id("weird key/with<>@", 7, "exa mple.org>") == "<edition.weird-key-with.7@example.org>"


def test_date_defaults_to_now_and_must_be_aware():
    t = compile_(realistic_rendered())
    dates = [DATE, DATE + timedelta(hours=1), DATE.astimezone(timezone(timedelta(hours=1))), DATE]
    headers = [parse(t.assemble(JANE, date=d))["Date"] for d in dates]
    assert headers == ["Wed, 21 Jun 2017 09:30:00 +0000", "Wed, 21 Jun 2017 10:30:00 +0000",
                       "Wed, 21 Jun 2017 10:30:00 +0100", "Wed, 21 Jun 2017 09:30:00 +0000"]
    sent = parse(t.assemble(JANE))["Date"].datetime
    assert abs(sent - datetime.now(timezone.utc)) < timedelta(minutes=5) and sent.utcoffset() == timedelta(0)
    with pytest.raises(ValueError):
        t.assemble(JANE, date=datetime(2017, 6, 21, 9, 30))


@pytest.mark.parametrize("address", ["a@b.example\r\nBcc: evil@example.net", "Jane <jane@example.com>",
                                     "jané@example.com", "no-at-sign", "a b@example.com"])
def test_addresses_that_cannot_go_in_a_header_are_refused(address):
    with pytest.raises(SubscriberError):
        compile_(realistic_rendered()).assemble(replace(JANE, email=address), date=DATE)


def test_boundary_text_in_a_body_does_no_harm():
    t = compile_(realistic_rendered())
    boundary = re.search(rb'boundary="([^"]+)"', t.assemble(JANE, date=DATE)).group(1).decode()
    sneaky = Rendered("s", "", f"<p>--{boundary}--</p>\n--{boundary}\n", f"--{boundary}\nHello{NAME}\n")
    raw = compile_(sneaky).assemble(JANE, date=DATE)
    new = re.search(rb'boundary="([^"]+)"', raw).group(1)
    assert raw.count(new) == 4  # the parameter, two delimiters, the close
    assert bodies(parse(raw)) == {"plain": fill(sneaky.text, "Jane Smith", JANE, False),
                                  "html": fill(sneaky.html, "Jane Smith", JANE, True)}


def test_empty_bodies_are_render_errors():
    with pytest.raises(RenderError):
        compile_(Rendered("s", "", "", "text"))
    with pytest.raises(RenderError):
        compile_(Rendered("s", "", "<p>x</p>", "  \n"), "text")


# --- properties --------------------------------------------------------------

NASTY = st.sampled_from(["\r\nBcc: evil@x", "\nX-Injected: 1", "\r", "\x00", "\x0b", "\u2028", "\u0085", "=", "==",
                         "=?utf-8?q?=41?=", '"', "\\", "<", ">", ",", "(", "@", "“", "–", "é", "🐍", "👩‍💻", " ",
                         "\t", "李", "Siân", "=20", "=\r\n"])
NAMES = st.one_of(st.none(), st.text(max_size=200), st.lists(st.one_of(NASTY, st.text(max_size=12)), max_size=25).map("".join))
CHUNK = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=120),
    st.sampled_from(["=", "= ", "  ", "\t\n", " \n", "=\n", "a=3D", "\n\n", "“quoted” – Siân ", "é" * 40, "x" * 300,
                     ".\n", "From here\n", "\r\n", "--=_digest_", "😀"]),
    st.sampled_from([NAME, PREFS, UNSUB]),
)
BODIES = st.lists(CHUNK, min_size=1, max_size=25).map("".join).filter(lambda b: b.strip())


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=NAMES, text=BODIES, body_html=BODIES, fmt=st.sampled_from(["html", "text"]), subject=st.text(max_size=150))
def test_any_name_and_body_decode_exactly_and_inject_nothing(name, text, body_html, fmt, subject):
    rendered = Rendered(subject=subject, preheader="", html=body_html, text=text)
    r = replace(JANE, name=name)
    t = compile_(rendered, fmt)
    raw = t.assemble(r, date=DATE)
    check_lines(raw)
    msg = parse(raw)
    expected = FIXED_HEADERS + (["Content-Transfer-Encoding"] if fmt == "text" else [])
    assert list(msg.keys()) == expected
    for line in header_block(raw):  # every line starts a known header or continues one
        assert line[:1] in (b" ", b"\t") or line.split(b":", 1)[0].decode() in expected
        if line.startswith((b"To:", b"Subject:")) or line[:1] == b" ":
            assert len(line) <= 78
    assert msg["Subject"] == clean(subject)
    to = msg["To"].addresses
    assert len(to) == 1 and to[0].addr_spec == JANE.email and display_name(raw) == clean(name)
    want = {"plain": fill(text, name, r, html_part=False)}
    if fmt == "html":
        want["html"] = fill(body_html, name, r, html_part=True)
    assert bodies(msg) == want
    assert t.assemble(r, date=DATE) == raw  # same delivery, same bytes


@hsettings(max_examples=200, deadline=None)
@given(text=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",))) | CHUNK, cuts=st.lists(st.integers(0, 400)))
def test_quoted_printable_pieces_concatenate(text, cuts):
    text = text.replace("\r", "")
    bounds = sorted({0, len(text), *(c for c in cuts if c < len(text))})
    pieces = [qp_piece(text[a:b]) for a, b in zip(bounds, bounds[1:])]
    joined = b"".join(pieces)
    assert quopri.decodestring(joined).decode("utf-8").replace("\r\n", "\n") == text
    for piece in pieces:
        assert piece.endswith(b"\r\n")
        assert all(len(line) <= 76 and not line.endswith((b" ", b"\t")) for line in piece.split(b"\r\n"))


@pytest.mark.parametrize("subject", [
    "“" + "Ymgynghoriad ar ddiogelu data – canllawiau newydd i gynghorau " * 5 + "”",
    "Read https://www.example.org/news/" + "a" * 200 + " now",
    "😀" * 80,
    "Weekly digest: 21 June 2017 " * 8,
    "=?utf-8?q?not_an_encoded_word?= really",
])
def test_long_and_odd_subjects_fold_and_decode(subject):
    header = fold_header("Subject", text_tokens(subject))
    assert all(len(line) <= 78 for line in header.split(b"\r\n"))
    raw = compile_(realistic_rendered(subject=subject)).assemble(JANE, date=DATE)
    assert parse(raw)["Subject"] == " ".join(subject.split())
    check_lines(raw)

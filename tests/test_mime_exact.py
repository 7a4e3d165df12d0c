"""The MIME encoders byte for byte, and round-trips through the standard library's decoders.

Expected bytes are worked out from the rules (RFC 2045 section 6.7 for
quoted-printable, RFC 2047 for encoded-words, RFC 5322 for phrases and folding);
the standard library (quopri, email.header, email.parser with policy.default)
is the reference decoder.
"""

from __future__ import annotations

import base64
import quopri
import re
from email import message_from_bytes, policy
from email.header import decode_header, make_header

import pytest
from hypothesis import given, settings, strategies as st

from digest.message.mime import clean_text, encoded_words, fold_header, phrase_tokens, qp_piece, text_tokens

SOFT = b"=\r\n"


def unqp(encoded: bytes) -> str:
    return quopri.decodestring(encoded.replace(b"\r\n", b"\n")).decode("utf-8")


def b_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def decoded(words: list[str]) -> str:
    return str(make_header(decode_header(" ".join(words))))


# --- clean_text ---------------------------------------------------------------


@pytest.mark.parametrize(("value", "want"), [
    ("Zoë Ångström", "Zoë Ångström"),  # printable, single spaces: as it is
    ("Jane  Doe", "Jane Doe"),
    (" Jane", "Jane"),
    ("Jane ", "Jane"),
    ("Jane\tDoe", "Jane Doe"),
    ("Jane\x00Doe", "Jane Doe"),  # a control character that is not whitespace becomes a space too
    ("Jane\x7fDoe", "Jane Doe"),
    ("Jane\ud800Doe", "Jane Doe"),  # a lone surrogate
    ("Jane\u2028Doe\u2029x", "Jane Doe x"),
    ("Jane\r\nBcc: x@example.org", "Jane Bcc: x@example.org"),  # no header injection
    ("\x00\t \x01", ""),
    ("Jane\u00adDoe", "Jane\u00adDoe"),  # a soft hyphen (format character) is not a control character
    ("a\x00 \x00b", "a b"),
])
def test_clean_text(value, want):
    assert clean_text(value) == want


# --- quoted-printable: short pieces ---------------------------------------------


@pytest.mark.parametrize(("text", "want"), [
    ("", b""),
    ("Jane", b"Jane=\r\n"),  # no newline at the end: a soft break, so the next piece continues the line
    (" Zoë Ångström", b" Zo=C3=AB =C3=85ngstr=C3=B6m=\r\n"),
    ("a=b\n", b"a=3Db\r\n"),
    ("a\tb\n", b"a=09b\r\n"),  # tabs are always encoded
    ("a \n", b"a=20\r\n"),  # a space before a hard break must be encoded
    ("a  \nb", b"a =20\r\nb=\r\n"),  # only the last one
    ("a ", b"a =\r\n"),  # before a soft break it may stay
    ("\n", b"\r\n"),
    ("a\n\nb", b"a\r\n\r\nb=\r\n"),
    ("\x00\x7f\x80", b"=00=7F=C2=80=\r\n"),
    ("~<>", b"~<>=\r\n"),
])
def test_qp_piece_short(text, want):
    assert qp_piece(text) == want
    assert unqp(want) == text


@pytest.mark.parametrize(("n", "want"), [
    (75, b"x" * 75 + SOFT),  # 75 + "=" = 76, the longest line RFC 2045 allows
    (76, b"x" * 75 + SOFT + b"x" + SOFT),
    (150, (b"x" * 75 + SOFT) * 2),
    (151, (b"x" * 75 + SOFT) * 2 + b"x" + SOFT),
])
def test_plain_ascii_breaks_after_75_characters(n, want):
    assert qp_piece("x" * n) == want


@pytest.mark.parametrize("n", [1, 74, 75, 76, 77, 150, 151, 152, 400, 512])
def test_a_long_link_is_broken_only_by_soft_breaks(n):
    url = ("https://example.org/" + "a1B2c3" * 100)[:n]
    encoded = qp_piece(url)
    lines = encoded.split(b"\r\n")
    assert lines[-1] == b""
    assert all(line.endswith(b"=") and len(line) == 76 for line in lines[:-2])
    assert 2 <= len(lines[-2]) <= 76
    assert b"".join(line[:-1] for line in lines) == url.encode("ascii")


@pytest.mark.parametrize(("text", "want"), [
    # A line ending in a hard break may use all 76 characters; one more and it is broken at 75 + "=".
    ("x" * 76 + "\n", b"x" * 76 + b"\r\n"),
    ("x" * 77 + "\n", b"x" * 75 + SOFT + b"xx\r\n"),
    ("x" * 75 + " \n", b"x" * 75 + SOFT + b"=20\r\n"),
    ("x" * 73 + "=\n", b"x" * 73 + b"=3D\r\n"),
    ("x" * 74 + "=\n", b"x" * 74 + SOFT + b"=3D\r\n"),
    # An escape is never split: the break goes before an "=XX" that would pass column 75.
    ("x" * 72 + "é", b"x" * 72 + b"=C3" + SOFT + b"=A9" + SOFT),
    ("x" * 73 + "é", b"x" * 73 + SOFT + b"=C3=A9" + SOFT),
    ("x" * 74 + "é", b"x" * 74 + SOFT + b"=C3=A9" + SOFT),
    ("x" * 75 + "é", b"x" * 75 + SOFT + b"=C3=A9" + SOFT),
    ("x" * 71 + "é", b"x" * 71 + b"=C3" + SOFT + b"=A9" + SOFT),
    ("x" * 69 + "é", b"x" * 69 + b"=C3=A9" + SOFT),  # 75: fits
    ("é" + "x" * 68 + "é", b"=C3=A9" + b"x" * 68 + SOFT + b"=C3=A9" + SOFT),  # the escape at the cut moves, not the first
    ("é" * 30, b"=C3=A9" * 12 + b"=C3" + SOFT + b"=A9" + b"=C3=A9" * 12 + SOFT + b"=C3=A9" * 5 + SOFT),
    ("x" * 150 + "\nend\n", b"x" * 75 + SOFT + b"x" * 75 + b"\r\nend\r\n"),
])
def test_qp_piece_line_breaks(text, want):
    assert qp_piece(text) == want
    assert unqp(want) == text


# --- quoted-printable: long pieces (over 512 characters, encoded by binascii) ---------


@pytest.mark.parametrize(("text", "want"), [
    ("x" * 600, (b"x" * 75 + SOFT) * 8),
    ("x" * 600 + "\n", (b"x" * 75 + SOFT) * 7 + b"x" * 75 + b"\r\n"),
    # The open last line gets a soft break, whose "=" must fit in 76 too.
    ("a\n" * 300 + "x" * 76, b"a\r\n" * 300 + b"x" * 75 + SOFT + b"x" + SOFT),
    ("a\n" * 300 + "x" * 75, b"a\r\n" * 300 + b"x" * 75 + SOFT),
    ("a\n" * 300 + "é" * 20, b"a\r\n" * 300 + b"=C3=A9" * 12 + b"=C3" + SOFT + b"=A9" + b"=C3=A9" * 7 + SOFT),
    # Whitespace escaped before a hard break ("=09", "=20") can make binascii's line 77 or 78 long.
    ("a\n" * 300 + "x" * 74 + "\t\n", b"a\r\n" * 300 + b"x" * 74 + SOFT + b"=09\r\n"),
    ("a\n" * 300 + "x" * 74 + "\t\nend", b"a\r\n" * 300 + b"x" * 74 + SOFT + b"=09\r\nend" + SOFT),
    ("a\n" * 300 + "x" * 73 + "\t\n" + "y" * 80,
     b"a\r\n" * 300 + b"x" * 73 + b"=09\r\n" + b"y" * 75 + SOFT + b"yyyyy" + SOFT),
    ("a\n" * 300 + "x" * 74 + "\t", b"a\r\n" * 300 + b"x" * 74 + SOFT + b"=09" + SOFT),
    ("a\n" * 300 + "x" * 200 + "\t\n",
     b"a\r\n" * 300 + (b"x" * 75 + SOFT) * 2 + b"x" * 50 + b"=09\r\n"),
    ("x" * 600 + "\t\nab\t\n", (b"x" * 75 + SOFT) * 8 + b"=09\r\nab=09\r\n"),
])
def test_qp_piece_long(text, want):
    assert len(text) > 512
    assert qp_piece(text) == want
    assert unqp(want) == text


def test_a_long_piece_with_a_soft_broken_overlong_line():
    text = "a\n" * 300 + "x" * 80 + "\t\n" + "z"
    encoded = qp_piece(text)
    assert unqp(encoded) == text
    assert encoded == b"a\r\n" * 300 + b"x" * 75 + SOFT + b"xxxxx=09\r\nz" + SOFT


# --- quoted-printable: properties ------------------------------------------------

TEXT = st.text(st.sampled_from(["x", "y", " ", "\t", "\n", "=", ".", "é", "€", "😀", "\x00"]), max_size=700)
ESCAPE = re.compile(rb"=(?![0-9A-F]{2}|\r\n)")


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT)
def test_pieces_decode_to_their_text_and_concatenate(a, b):
    ea, eb = qp_piece(a), qp_piece(b)
    assert unqp(ea + eb) == a + b
    for encoded in (ea, eb):
        assert encoded == b"" or encoded.endswith(b"\r\n")
        body = encoded.split(b"\r\n")
        assert all(len(line) <= 76 for line in body)
        assert not any(line.endswith((b" ", b"\t")) for line in body)  # trailing whitespace is escaped
        assert not ESCAPE.search(encoded)  # every "=" starts an escape or a soft break


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=700))
def test_a_body_of_pieces_parses_as_the_text(text):
    text = text.replace("\r", "")
    raw = (b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + qp_piece(text) + qp_piece("\n"))
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg.get_content().replace("\r\n", "\n") == text + "\n"


# --- RFC 2047 encoded-words -------------------------------------------------------


@pytest.mark.parametrize(("text", "want"), [
    ("Zoë", ["=?utf-8?q?Zo=C3=AB?="]),  # Q and B both 8 characters: Q
    ("café au lait", ["=?utf-8?q?caf=C3=A9_au_lait?="]),
    ("a-b/c*d+e!f", ["=?utf-8?q?a-b/c*d+e!f?="]),  # the characters Q may carry literally in a phrase
    ("Dr.Jekyll_and=Hyde?", ["=?utf-8?q?Dr=2EJekyll=5Fand=3DHyde=3F?="]),  # Q 27, B 28: Q
    ("a.b_c=d?e", [b_word("a.b_c=d?e")]),  # Q 17, B 12: B
    ("Zoë Ångström", [b_word("Zoë Ångström")]),  # Q would be 27 characters, B is 20
    ("Münchner", [b_word("Münchner")]),  # Q 13, B 12
    ("Münchners", ["=?utf-8?q?M=C3=BCnchners?="]),  # Q 14, B 16
    ("Price: 10€ only today", ["=?utf-8?q?Price=3A_10=E2=82=AC_only_today?="]),  # Q 31, B 32
    ("Smile 😀 and everyone smiles back", ["=?utf-8?q?Smile_=F0=9F=98=80_and_everyone_smiles_back?="]),
    ("Smile 山 and everyone smiles back", ["=?utf-8?q?Smile_=E5=B1=B1_and_everyone_smiles_back?="]),
    ("a" * 56 + "é", ["=?utf-8?q?" + "a" * 56 + "?=", "=?utf-8?q?=C3=A9?="]),
    ("a" * 57, ["=?utf-8?q?" + "a" * 56 + "?=", "=?utf-8?q?a?="]),
    ("a" * 50 + "é" + "b", ["=?utf-8?q?" + "a" * 50 + "=C3=A9?=", "=?utf-8?q?b?="]),
    ("a" * 51 + "é" + "b", ["=?utf-8?q?" + "a" * 51 + "?=", "=?utf-8?q?=C3=A9b?="]),  # whole characters only
    ("é" * 30, [b_word("é" * 21), b_word("é" * 9)]),  # 42 bytes: 56 base64 characters
    ("é" * 21, [b_word("é" * 21)]),
    ("a" + "€" * 14 + "é", [b_word("a" + "€" * 13), b_word("€é")]),
    ("😀😀", [b_word("😀😀")]),
    ("", ["=?utf-8?q??="]),
])
def test_encoded_words(text, want):
    words = encoded_words(text)
    assert words == want
    assert all(len(w) <= 68 for w in words)
    assert decoded(words) == text


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=200))
def test_encoded_words_decode_and_fit(text):
    words = encoded_words(text)
    assert all(len(w) <= 68 for w in words)
    assert decoded(words) == text


# --- phrases (display names) -------------------------------------------------------


@pytest.mark.parametrize(("name", "want"), [
    ("", []),
    ("Jane", ["Jane"]),
    ("Jane Doe", ["Jane", "Doe"]),
    ("O'Neil & Sons", ["O'Neil", "&", "Sons"]),  # atext
    ("Jane Q. Public", ['"Jane', "Q.", 'Public"']),  # "." is not atext: a quoted-string
    ('Jane "JJ" Doe', ['"Jane', '\\"JJ\\"', 'Doe"']),
    ("back\\slash", ['"back\\\\slash"']),
    ("Doe, Jane", ['"Doe,', 'Jane"']),
    # Tokens are written with one space between them, so every space of the name is kept.
    ("Doe,  Jane", ['"Doe,', "", 'Jane"']),
    ("Jane  Doe", ["Jane", "", "Doe"]),
    ("a" * 68, ["a" * 68]),
    ("a" * 69, ["=?utf-8?q?" + "a" * 56 + "?=", "=?utf-8?q?" + "a" * 13 + "?="]),  # too long for a line
    ("Jo " + "a" * 66 + ".", ['"Jo', "a" * 66 + '."']),  # a part of 68 characters
    ("Jo " + "a" * 67 + ".", ["=?utf-8?q?Jo_" + "a" * 53 + "?=", "=?utf-8?q?" + "a" * 14 + "=2E?="]),
    ("=?utf-8?q?x?=", [b_word("=?utf-8?q?x?=")]),  # would otherwise be decoded as an encoded-word
    ("a=?b.", [b_word("a=?b.")]),
    ("Zoë Ångström", [b_word("Zoë Ångström")]),
    ("Zoë", ["=?utf-8?q?Zo=C3=AB?="]),
])
def test_phrase_tokens(name, want):
    assert phrase_tokens(name) == want


@pytest.mark.parametrize("name", [
    "Jane", "Jane Q. Public", 'Jane "JJ" Doe', "back\\slash", "Doe, Jane", "Zoë Ångström", "=?utf-8?q?x?=",
    "Jo " + "a" * 66 + ".", "(not a comment)", "Jane <jane@example.org>", "Zoë Ångström Łukasiewicz-Wojciechowska",
])
def test_a_display_name_parses_back(name):
    raw = fold_header("To", phrase_tokens(name) + ["<jane@example.org>"]) + b"\r\n"
    msg = message_from_bytes(raw, policy=policy.default)
    (address,) = msg["To"].addresses
    assert address.display_name == name
    assert address.addr_spec == "jane@example.org"


# --- unstructured text (Subject) ------------------------------------------------------


@pytest.mark.parametrize(("text", "want"), [
    ("", []),
    ("Weekly digest", ["Weekly", "digest"]),
    ("Weekly  digest", ["Weekly", "", "digest"]),  # an unstructured header keeps its spaces
    ("Weekly digest: café", ["Weekly", "digest:", b_word("café")]),
    # consecutive words that need encoding are encoded together (the space between them is kept)
    ("café crème now", [b_word("café crème"), "now"]),
    ("a café b crème", ["a", b_word("café"), "b", b_word("crème")]),
    ("in Großbritannien", ["in", "=?utf-8?q?Gro=C3=9Fbritannien?="]),  # Q 19, B 20
    ("see =?x?= now", ["see", b_word("=?x?="), "now"]),
    ("a" * 68 + " b", ["a" * 68, "b"]),
    ("a" * 69 + " b", ["=?utf-8?q?" + "a" * 56 + "?=", "=?utf-8?q?" + "a" * 13 + "?=", "b"]),
])
def test_text_tokens(text, want):
    assert text_tokens(text) == want


@pytest.mark.parametrize("text", [
    "Weekly digest: café", "café crème now", "a café b crème", "see =?x?= now", "a" * 69 + " b",
    "Weekly  digest", "Price: 10€ only today", "山田 太郎 さんへ",
    "Zoë's picks — Ångström, café and more news for you this week and every week after",
])
def test_a_subject_parses_back(text):
    raw = fold_header("Subject", text_tokens(text)) + b"\r\n"
    assert message_from_bytes(raw, policy=policy.default)["Subject"] == text


# --- folding ----------------------------------------------------------------------------


@pytest.mark.parametrize(("tokens", "want"), [
    ([], b"Subject:\r\n"),
    (["Hi"], b"Subject: Hi\r\n"),
    (["a" * 69], b"Subject: " + b"a" * 69 + b"\r\n"),  # 78 exactly
    (["a" * 80], b"Subject: " + b"a" * 80 + b"\r\n"),  # the first token is never moved to a line of its own
    (["a" * 60, "b" * 8], b"Subject: " + b"a" * 60 + b" " + b"b" * 8 + b"\r\n"),  # 78: fits
    (["a" * 60, "b" * 9], b"Subject: " + b"a" * 60 + b"\r\n " + b"b" * 9 + b"\r\n"),  # 79: folded
    (["a" * 60, "b" * 9, "c"], b"Subject: " + b"a" * 60 + b"\r\n " + b"b" * 9 + b" c\r\n"),
    (["a" * 77, "b" * 77], b"Subject: " + b"a" * 77 + b"\r\n " + b"b" * 77 + b"\r\n"),
])
def test_fold_header(tokens, want):
    assert fold_header("Subject", tokens) == want


def test_a_folded_line_is_filled_up_to_78():
    tokens = ["w" * 9] * 20
    header = fold_header("Subject", tokens)
    lines = header.split(b"\r\n")
    assert lines[-1] == b""
    assert lines[0] == b"Subject:" + b" wwwwwwwww" * 7  # 78 characters
    assert lines[1:-1] == [b" wwwwwwwww" * 7, b" wwwwwwwww" * 6]


def test_a_non_ascii_token_is_refused():
    with pytest.raises(UnicodeEncodeError):
        fold_header("To", ["<zoë@example.org>"])


@pytest.mark.parametrize("size", [100, 600, 5000])
def test_a_carriage_return_is_escaped_whatever_the_length_of_the_piece(size):
    # A bare CR on the wire is refused by some relays and read as a line end by others.
    text = ("word " * (size // 5))[:size] + "\r\nend\rof it\n"
    encoded = qp_piece(text)
    assert b"\r" not in encoded.replace(b"\r\n", b"")
    assert encoded.count(b"=0D") == 2
    assert quopri.decodestring(encoded.replace(b"\r\n", b"\n")).decode() == text

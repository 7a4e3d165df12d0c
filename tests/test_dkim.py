"""DKIM: signatures made over the assembled bytes verify with dkimpy against the published record."""

from __future__ import annotations

import base64
import re
from datetime import datetime, timezone

import dkim
import dkim.util
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from dkim.canonicalization import Relaxed

from digest.config import load_settings
from digest.message.dkim import DkimSigner, canonical_body, canonical_header, dkim_record, parse_record, split_message, verify
from digest.errors import ConfigError
from digest.message.assemble import MessageTemplate, Recipient
from digest.edition.render import render_variant
from digest.message.links import Links

from test_render import week25

DATE = datetime(2017, 6, 26, 7, 0, tzinfo=timezone.utc)
COVERED = ["from", "to", "subject", "date", "message-id", "list-id", "list-unsubscribe", "list-unsubscribe-post",
           "mime-version", "content-type"]


def write_key(path, bits: int = 2048):
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    return write_key(tmp_path_factory.mktemp("dkim") / "dkim.pem")


def dkim_settings(key_file, selector: str = "digest1", **extra):
    return load_settings(None, environ={
        "DIGEST_SECRET_KEY": "test-secret-key-0123456789", "DIGEST_BASE_URL": "https://news.example.org",
        "DIGEST_CONFIG": "", "DIGEST_DATABASE_URL": "sqlite://", "DIGEST_DKIM_DOMAIN": "example.org",
        "DIGEST_DKIM_SELECTOR": selector, "DIGEST_DKIM_KEY_FILE": str(key_file), **extra})


@pytest.fixture(scope="module")
def settings_dkim(key_file):
    return dkim_settings(key_file)


@pytest.fixture(scope="module")
def messages(settings_dkim):
    """The week-25 edition as one member's html and text messages (unsigned)."""
    s = settings_dkim
    out = {}
    for fmt in ("html", "text"):
        rendered = render_variant(week25(), s, fmt=fmt)
        template = MessageTemplate.compile(rendered, settings=s, edition_key="2017-W25", fmt=fmt,
                                           links=Links(s.secret_key, s.base_url))
        out[fmt] = template.assemble(Recipient(7, 42, "sian@example.net", "Siân Jones", 3), date=DATE)
    return out


@pytest.fixture(scope="module")
def signer(settings_dkim):
    return DkimSigner.from_settings(settings_dkim)


def tags_of(signed: bytes) -> dict[bytes, bytes]:
    fields, _ = split_message(signed)
    name, value = fields[0]
    assert name == b"DKIM-Signature"
    return dkim.util.parse_tag_value(value)


@pytest.mark.parametrize("fmt", ["html", "text"])
def test_signature_verifies_against_the_published_record(fmt, messages, signer, settings_dkim):
    signed = signer.sign(messages[fmt])
    assert signed.endswith(messages[fmt])  # prepended: the assembled bytes are untouched
    record = dkim_record(settings_dkim)
    assert verify(signed, record)
    # dkimpy itself, with a DNS answer of exactly the TXT strings the record publishes.
    txt = "".join(re.findall(r'"([^"]*)"', record)).encode()
    asked = []
    assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: asked.append(name) or txt)
    assert asked == [b"digest1._domainkey.example.org."]


def test_the_listed_headers_are_signed(messages, signer):
    signed = signer.sign(messages["html"])
    tags = tags_of(signed)
    h = re.sub(r"\s", "", tags[b"h"].decode()).split(":")
    assert set(COVERED) <= set(h)
    for name in ("from", "subject", "list-unsubscribe", "list-unsubscribe-post"):
        assert h.count(name) == 2, name  # oversigned: a second copy added later breaks the signature
    assert tags[b"a"] == b"rsa-sha256" and tags[b"c"] == b"relaxed/relaxed"
    assert tags[b"d"] == b"example.org" and tags[b"s"] == b"digest1"
    header = signed[: len(signed) - len(messages["html"])]
    assert max(len(line) for line in header.split(b"\r\n")) <= 78


def _edit_header(message: bytes, name: bytes, value: bytes) -> bytes:
    out, n = re.subn(rb"(?m)^" + name + rb": .*\r\n", name + b": " + value + b"\r\n", message, count=1)
    assert n == 1
    return out


TAMPERING = {
    "subject": lambda m: _edit_header(m, b"Subject", b"You have won"),
    "list-unsubscribe": lambda m: _edit_header(m, b"List-Unsubscribe", b"<https://evil.example.com/u>"),
    "list-unsubscribe-post": lambda m: _edit_header(m, b"List-Unsubscribe-Post", b"List-Unsubscribe=Nope"),
    "body": lambda m: m.replace(b"Read more", b"Read MORE", 1),
    "body appended": lambda m: m + b"P.S. click here\r\n",
    "second subject": lambda m: b"Subject: You have won\r\n" + m,
    "second from": lambda m: b"From: boss@example.org\r\n" + m,
}


@pytest.mark.parametrize("how", sorted(TAMPERING))
def test_tampering_breaks_the_signature(how, messages, signer, settings_dkim):
    signed = signer.sign(messages["html"])
    changed = TAMPERING[how](signed)
    assert changed != signed
    assert not verify(changed, dkim_record(settings_dkim))


def test_relays_may_refold_and_pad_whitespace(messages, signer, settings_dkim):
    """relaxed/relaxed: what relays commonly do to whitespace does not break it."""
    signed = signer.sign(messages["html"])
    refolded = re.sub(rb"\r\nSubject: (\S+) ", rb"\r\nSubject:  \1\r\n\t", signed, count=1)
    padded = refolded.replace(b"=\r\n", b"=  \r\n", 3)
    assert refolded != signed and padded != refolded
    assert verify(padded, dkim_record(settings_dkim))


def test_wrong_key_or_selector_does_not_verify(messages, signer, settings_dkim, tmp_path):
    signed = signer.sign(messages["text"])
    other = dkim_settings(write_key(tmp_path / "other.pem"))
    assert not verify(signed, dkim_record(other))
    # The right key published under another selector is not the signature's record.
    record = dkim_record(settings_dkim).replace("digest1._domainkey", "digest2._domainkey")
    assert not verify(signed, record)
    # Bare TXT contents (no owner name) are accepted as the answer.
    assert verify(signed, "".join(re.findall(r'"([^"]*)"', dkim_record(settings_dkim))))


def test_lf_line_ends_are_signed_as_crlf(messages, signer, settings_dkim):
    lf = messages["text"].replace(b"\r\n", b"\n")
    signed = signer.sign(lf)
    assert b"\n" not in signed.replace(b"\r\n", b"")
    assert verify(signed, dkim_record(settings_dkim))


BODIES = [b"", b"\r\n", b"\r\n\r\n", b"a \t b\t\r\n\r\n\r\n", b"no newline  ", b"  \r\n  \r\n", b"x\r\n \r\ny",
          b"\t\tindented\r\n", b"a    b  \t  c \r\n\r\nd\r\n", b"=20 \r\n"]


@pytest.mark.parametrize("body", BODIES)
def test_body_canonicalisation_matches_dkimpy(body):
    assert canonical_body(body) == Relaxed.canonicalize_body(body)


@pytest.mark.parametrize("name,value", [
    (b"Subject", b" Hello   world \r\n\tfolded  "), (b"TO", b"a@example.org"), (b"X-Y ", b"\t x\r\n y\r\n  z"),
])
def test_header_canonicalisation_matches_dkimpy(name, value):
    [(n, v)] = Relaxed.canonicalize_headers([(name, value)])
    assert canonical_header(name, value) == n + b":" + v


def test_the_published_record(settings_dkim, key_file):
    record = dkim_record(settings_dkim)
    name, _, rest = record.partition(" IN TXT ")
    assert name == "digest1._domainkey.example.org."
    strings = re.findall(r'"([^"]*)"', rest)
    assert len(strings) == 2 and all(len(s) <= 255 for s in strings)
    txt = "".join(strings)
    assert txt.startswith("v=DKIM1; k=rsa; p=")
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    assert base64.b64decode(txt.partition("p=")[2]) == der
    assert parse_record(record) == ("digest1._domainkey.example.org", txt.encode())


def test_settings_without_dkim_sign_nothing(settings):
    assert settings.dkim is None
    assert DkimSigner.from_settings(settings) is None
    with pytest.raises(ConfigError, match="DKIM signing is not configured"):
        dkim_record(settings)


def test_bad_key_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"dkim.key_file: .*missing.pem does not exist; create one with"):
        DkimSigner.from_settings(dkim_settings(tmp_path / "missing.pem"))
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(ConfigError, match="junk.pem is not an unencrypted PEM private key"):
        DkimSigner.from_settings(dkim_settings(tmp_path / "junk.pem"))
    ec_key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "ec.pem").write_bytes(ec_key.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
    with pytest.raises(ConfigError, match="ec.pem is not an RSA key"):
        dkim_record(dkim_settings(tmp_path / "ec.pem"))


def test_dkim_record_command(run_cli, monkeypatch, key_file, settings_dkim):
    result = run_cli("dkim-record")
    assert result.exit_code == 2  # a configuration error
    assert "DKIM signing is not configured" in result.output and len(result.output.strip().splitlines()) == 1
    for var, value in {"DIGEST_DKIM_DOMAIN": "example.org", "DIGEST_DKIM_SELECTOR": "digest1",
                       "DIGEST_DKIM_KEY_FILE": str(key_file)}.items():
        monkeypatch.setenv(var, value)
    result = run_cli("dkim-record")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == dkim_record(settings_dkim)

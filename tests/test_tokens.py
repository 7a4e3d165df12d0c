"""Signed links: round trips, and every way a token must be refused."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from itsdangerous import Signer

from digest.errors import TokenError
from digest.message.links import PURPOSES, Links

SECRET = "test-secret-key-0123456789"
BASE = "https://news.example.org"


@pytest.fixture
def links() -> Links:
    return Links(SECRET, BASE + "/")


@pytest.mark.parametrize("purpose", PURPOSES)
def test_round_trip_carries_id_and_version(links, purpose):
    for sid, version in [(1, 1), (123, 7), (0, 0), (987654321, 42)]:
        token = links.token(purpose, sid, version)
        assert links.read(purpose, token) == (sid, version)


def test_tokens_are_compact_url_safe_and_unpadded(links):
    for sid in range(1, 300):
        for purpose in PURPOSES:
            token = links.token(purpose, sid, 3)
            assert "=" not in token
            assert set(token) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
            assert token.startswith(f"{sid}.3.")
            assert len(token) < 70


def test_token_holds_no_address_and_differs_per_purpose_and_version(links):
    tokens = {links.token(p, 5, v) for p in PURPOSES for v in (1, 2)}
    assert len(tokens) == 6
    assert all("@" not in t and "example" not in t for t in tokens)


def test_urls(links):
    assert links.preferences_url(9, 2).startswith(BASE + "/preferences/9.2.")
    assert links.unsubscribe_url(9, 2).startswith(BASE + "/unsubscribe/9.2.")
    assert links.confirm_url(9, 2).startswith(BASE + "/confirm/9.2.")
    token = links.unsubscribe_url(9, 2).rsplit("/", 1)[1]
    assert links.read("unsubscribe", token) == (9, 2)


def test_wrong_purpose_is_rejected(links):
    for made in PURPOSES:
        token = links.token(made, 77, 1)
        for other in PURPOSES:
            if other != made:
                with pytest.raises(TokenError):
                    links.read(other, token)


def test_tampered_tokens_are_rejected(links):
    token = links.token("unsubscribe", 77, 1)
    sid, version, sig = token.split(".")
    forged = [
        f"78.{version}.{sig}",  # someone else's id
        f"{sid}.2.{sig}",  # a revoked link brought back to life
        f"{sid}.{version}.{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}",
        f"{sid}.{version}.{sig[:-2]}",
        f"{sid}.{version}",
        f"{sid}.{version}.",
        sig,
        "",
        "....",
        token + "=",
        token + "x" * 300,
        token.replace("7", "७"),  # non-ASCII digits
        token[:-1] + chr(ord(token[-1]) + 1),  # same bytes, another base64 spelling
    ]
    for bad in forged:
        with pytest.raises(TokenError):
            links.read("unsubscribe", bad)


def test_other_secret_is_rejected(links):
    other = Links("another-secret-0123456789", BASE)
    for purpose in PURPOSES:
        with pytest.raises(TokenError):
            links.read(purpose, other.token(purpose, 5, 1))


def test_validly_signed_nonsense_payload_is_rejected(links):
    # Only someone holding the key could make these; the reader still refuses.
    signer = links._signers["unsubscribe"]
    for payload in (b"abc", b"1.2.3", b"-1.1", b"01.1", b"1"):
        token = signer.sign(payload).decode()
        with pytest.raises(TokenError):
            links.read("unsubscribe", token)


def test_signature_is_hmac_sha256_with_a_derived_key(links):
    """The precomputed HMAC in token() agrees with itsdangerous' own verifier and hmac."""
    token = links.token("preferences", 31, 4)
    plain = Signer(SECRET, salt="digest.preferences", key_derivation="hmac", digest_method=hashlib.sha256)
    assert plain.sign(b"31.4").decode() == token
    key = hmac.new(SECRET.encode(), b"digest.preferences", hashlib.sha256).digest()
    assert plain.get_signature(b"31.4") == links._signers["preferences"].get_signature(b"31.4")
    assert hmac.new(key, b"31.4", hashlib.sha256).digest() == plain.algorithm.get_signature(key, b"31.4")


def test_confirm_token_expires():
    clock = [1_700_000_000.0]
    links = Links(SECRET, BASE, clock=lambda: clock[0])
    token = links.confirm_url(12, 1).rsplit("/", 1)[1]
    assert links.read("confirm", token, max_age=3600) == (12, 1)
    clock[0] += 3599
    assert links.read("confirm", token, max_age=3600) == (12, 1)
    clock[0] += 2
    with pytest.raises(TokenError, match="expired"):
        links.read("confirm", token, max_age=3600)
    assert links.read("confirm", token) == (12, 1)  # no max_age: the caller chose not to limit


def test_confirm_timestamp_is_signed():
    links = Links(SECRET, BASE, clock=lambda: 1_700_000_000.0)
    later = Links(SECRET, BASE, clock=lambda: 1_800_000_000.0)
    old = links.token("confirm", 12, 1)
    fresh_ts = later.token("confirm", 12, 1).split(".")[2]
    sid, version, _, sig = old.split(".")
    with pytest.raises(TokenError):
        later.read("confirm", f"{sid}.{version}.{fresh_ts}.{sig}", max_age=60)


def test_programming_errors_are_not_token_errors(links):
    with pytest.raises(ValueError):
        links.token("newsletter", 1, 1)
    with pytest.raises(ValueError):
        links.read("newsletter", links.token("unsubscribe", 1, 1))
    with pytest.raises(ValueError):
        links.read("unsubscribe", links.token("unsubscribe", 1, 1), max_age=60)
    with pytest.raises(ValueError):
        links.token("unsubscribe", -1, 1)
    with pytest.raises(ValueError):
        Links("", BASE)

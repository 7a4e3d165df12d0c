"""digest.message.verp: each delivery's own envelope sender, and reading a delivery back from it."""

from __future__ import annotations

import pytest

from digest.errors import TokenError
from digest.message.verp import ReturnPath

KEY = "k" * 32
RP = ReturnPath(KEY, "bounces@news.example.org")


@pytest.mark.parametrize("delivery_id", [0, 1, 35, 36, 7, 12345, 36**12, 2**62])
def test_a_token_reads_back_as_its_delivery(delivery_id):
    token = RP.token(delivery_id)
    assert RP.read(token) == delivery_id
    payload, sig = token.split("-")
    assert int(payload, 36) == delivery_id and payload == payload.lower() and len(sig) == 16


def test_the_address_is_local_plus_token_at_domain_and_fits_in_a_local_part():
    address = RP.address(2**62)
    local, domain = address.split("@")
    assert domain == "news.example.org" and local == "bounces+" + RP.token(2**62)
    assert len(local) <= 64
    assert RP.address(7) == "bounces+7-" + RP.token(7).split("-")[1] + "@news.example.org"


def test_a_token_read_back_in_upper_case_is_the_same_delivery():
    """Some relays upper-case the local part of the address a bounce goes back to."""
    token = RP.token(9001)
    assert token != token.upper()
    assert RP.read(token.upper()) == 9001
    assert RP.read(f"  {token.upper()}\r\n") == 9001


@pytest.mark.parametrize("bad, why", [
    ("", "not a bounce token"),
    (None, "not a bounce token"),
    ("7", "not a bounce token"),
    ("7-abcdefghijklmnop-x", "not a bounce token"),
    ("7-abcdefghijklmno", "not a bounce token"),  # a signature one short
    ("7-abcdefghijklmnopq", "not a bounce token"),  # one long
    ("7-abcdefghijklmno1", "not a bounce token"),  # 1 is not base 32
    ("0123456789abcd-abcdefghijklmnop", "not a bounce token"),  # 14 digits: not an id we make
    ("7_abcdefghijklmnop", "not a bounce token"),
])
def test_what_is_not_a_token(bad, why):
    with pytest.raises(TokenError, match=f"^{why}$"):
        RP.read(bad)


def test_a_token_with_another_signature_or_key_or_id_is_refused():
    token = RP.token(42)
    payload, sig = token.split("-")
    flipped = sig[:-1] + ("a" if sig[-1] != "a" else "b")
    for forged in (f"{payload}-{flipped}", f"{int(payload, 36) + 1:x}-{sig}", f"43-{sig}",
                   ReturnPath("another key", "bounces@news.example.org").token(42)):
        with pytest.raises(TokenError, match="^bounce token with a bad signature$"):
            RP.read(forged)
    # The address is not signed: the same key on another bounce address reads the same token.
    assert ReturnPath(KEY, "returns@other.example").read(token) == 42


def test_the_salt_is_its_own_so_no_other_signature_replays_here():
    from itsdangerous import Signer

    other = Signer(KEY, salt="digest.unsubscribe", key_derivation="hmac").derive_key()
    assert RP._key != other and len(RP._key) == 32


def test_the_local_part_is_before_the_first_at():
    assert ReturnPath(KEY, "bounces@news@example.org").address(1).startswith("bounces+1-")


@pytest.mark.parametrize("address", ["bounces", "@news.example.org", "bounces@", "b+x@news.example.org", ""])
def test_an_address_that_cannot_carry_verp_is_refused(address):
    with pytest.raises(ValueError, match="cannot be a VERP bounce address"):
        ReturnPath(KEY, address)


def test_no_secret_no_verp_and_no_negative_ids():
    with pytest.raises(ValueError):
        ReturnPath("", "bounces@news.example.org")
    with pytest.raises(ValueError, match="^delivery id must not be negative$"):
        RP.token(-1)
    assert RP.token(0).startswith("0-")

"""One signer with named purposes: every token digest made before it still reads, byte for byte.

The expected tokens below were made by the code as it stood before
digest.signing (one room per token kind, each with its own salt handling),
with this key and clock; a change to a salt or a scheme breaks links in mail
already sent, and this test.
"""

from __future__ import annotations

import pytest
from itsdangerous import BadSignature

from digest.edition.clicks import ClickLinks
from digest.editorial.editors import EditorLinks
from digest.message.links import Links
from digest.message.verp import ReturnPath
from digest.signing import PURPOSES, Signing

KEY = "a-fixed-test-secret-key"
T = 1_500_000_000


def test_member_links_are_byte_identical():
    links = Links(KEY, "https://d.example.org", clock=lambda: T)
    assert links.token("preferences", 7, 2) == "7.2.X331UKDXPl43aJ8lAHVXIzQirD8yD4tvcGhRfk98MT0"
    assert links.token("unsubscribe", 7, 2) == "7.2.lrG5av4wX5GMjSm4zzho7bOd9y6FkEljIsE9U4mbYgs"
    assert links.token("confirm", 7, 2) == "7.2.WWgvAA.EAMBODIP45YUA2fIBfFRsnrLdpz5Fh1Nn1GAgCYg5_w"


def test_verp_click_desk_and_csrf_tokens_are_byte_identical():
    assert ReturnPath(KEY, "bounces@example.org").token(12345) == "9ix-duorwjw2uyfxdx5t"
    assert ClickLinks(KEY, "https://d.example.org").url(3, 1, "*:html", "https://e.org/a") == (
        "https://d.example.org/r/WzMsMSwiKjpodG1sIiwiaHR0cHM6Ly9lLm9yZy9hIl0.2Mhm0jZ9H1GkILuiy9ORNP4QGbE")
    desk = Signing(KEY, clock=lambda: T).serializer("desk-link")
    assert desk.dumps([4, "sign-in", "nonce123"]) == "WzQsInNpZ24taW4iLCJub25jZTEyMyJd.WWgvAA.GqzEOKFwUCvb6S3ohCQcQqinIIU"
    assert EditorLinks(KEY, "https://d.example.org", clock=lambda: T).read(
        "WzQsInNpZ24taW4iLCJub25jZTEyMyJd.WWgvAA.GqzEOKFwUCvb6S3ohCQcQqinIIU", max_age=60)[:2] == (4, "sign-in")
    assert Signing(KEY, clock=lambda: T).serializer("csrf").dumps("abc") == "ImFiYyI.WWgvAA.TY6BCvMTeJNG9c6iwgYIow-9NvU"
    assert Signing(KEY).key("desk-session").hex() == (
        "7f735276b5fe5ba6aba2ae0080b393f4f214c47aab1e7992a32da9f4bb3d7995")


def test_a_token_of_one_purpose_is_refused_for_every_other():
    signing = Signing(KEY, clock=lambda: T)
    salts = [p.salt for p in PURPOSES.values()]
    assert len(set(salts)) == len(salts)
    for made_for in PURPOSES:
        token = signing.serializer(made_for).dumps("x")
        for other in PURPOSES:
            if other != made_for:
                with pytest.raises(BadSignature):
                    signing.serializer(other).loads(token)
    with pytest.raises(ValueError, match="unknown signing purpose 'nope'"):
        signing.signer("nope")
    with pytest.raises(ValueError, match="secret key"):
        Signing("")

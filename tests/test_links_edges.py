"""Signed links at their edges: what each refusal says (for logs), id and version 0, the length limit.

Written against what mutation testing (scripts/mutants links) found unguarded.
"""

from __future__ import annotations

import time

import pytest

from digest.errors import TokenError
from digest.message.links import Links

KEY = "test-secret-key-0123456789"


@pytest.fixture
def links():
    return Links(KEY, "https://news.example.org/")


def reason(links, purpose, token, **kw) -> str:
    with pytest.raises(TokenError) as exc:
        links.read(purpose, token, **kw)
    return str(exc.value)


def test_each_refusal_says_why(links):
    good = links.token("unsubscribe", 7, 2)
    assert reason(links, "unsubscribe", good[:-5]) == "the link is damaged or incomplete"
    assert reason(links, "unsubscribe", "x" * 500) == "the link is damaged or incomplete"
    assert reason(links, "unsubscribe", None) == "the link is damaged or incomplete"  # not even text
    assert reason(links, "preferences", good) == "the link is not valid (damaged, or made for something else)"
    old = Links(KEY, "https://news.example.org", clock=lambda: time.time() - 8 * 86400).token("confirm", 7, 2)
    assert reason(links, "confirm", old, max_age=7 * 86400) == "the link has expired"
    with pytest.raises(ValueError, match="^unsubscribe tokens carry no timestamp; max_age does not apply$"):
        links.read("unsubscribe", good, max_age=60)


def test_a_token_signed_over_unexpected_contents_is_refused(links):
    # Only someone with the key can sign "07.2" (a leading zero): still refused.
    signer = links._signers["unsubscribe"]
    forged = (b"07.2." + signer.get_signature(b"07.2")).decode("ascii")
    assert reason(links, "unsubscribe", forged) == "the link is not valid (unexpected contents)"


def test_id_and_version_zero_are_fine_negative_ones_are_not(links):
    for make in (links.preferences_url, links.unsubscribe_url, links.confirm_url):
        url = make(0, 0)
        purpose, token = url.split("/")[-2:]
        assert links.read(purpose, token) == (0, 0)
        for sub_id, version in ((-1, 0), (0, -1)):
            with pytest.raises(ValueError, match="^subscriber id and token version must not be negative$"):
                make(sub_id, version)
    assert links.unsubscribe_url(3, 1).startswith("https://news.example.org/unsubscribe/3.1.")


def test_the_longest_real_token_is_read(links):
    # An 18-digit id and a 9-digit version, timestamped: the longest token there is, under the limit.
    token = links.token("confirm", 10**18 - 1, 10**9 - 1)
    assert len(token) <= 120
    assert links.read("confirm", token, max_age=60) == (10**18 - 1, 10**9 - 1)
    assert reason(links, "confirm", token + "A") == "the link is damaged or incomplete"


def test_setup_and_arguments_are_checked_with_a_reason():
    with pytest.raises(ValueError, match="^Links needs a secret key$"):
        Links("", "https://news.example.org")
    links = Links(KEY, "https://example.org/newsX/")  # one trailing slash goes, nothing else
    assert links.base_url == "https://example.org/newsX"
    assert links.unsubscribe_url(1, 1).startswith("https://example.org/newsX/unsubscribe/1.1.")
    with pytest.raises(ValueError, match="^unknown token purpose 'nonsense'$"):
        links.token("nonsense", 1, 1)
    with pytest.raises(ValueError, match="^subscriber id and token version must not be negative$"):
        links.token("confirm", -1, 1)


def test_a_signature_over_text_is_the_signature_over_its_bytes(links):
    signer = links._signers["preferences"]
    assert signer.get_signature("7.2 Siân") == signer.get_signature("7.2 Siân".encode())

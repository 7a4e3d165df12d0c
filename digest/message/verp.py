"""VERP: each delivery's own envelope sender, so a bounce names the delivery it is about.

    bounces@news.example.org  ->  bounces+7ps-k4mq2x9dnb3c7vha@news.example.org
                                          ^id  ^signature (80 bits)

The token is the delivery id in base 36 and a truncated HMAC-SHA256 of it
(the "verp" purpose of digest.signing: a key of its own, so no other link's
signature can be replayed here), both lower-case base 36/32: relays and
mailbox providers may lower-case the local part, and the token must survive
that. It carries no address and nothing about the member; without the secret
key nobody can make one that reads as another delivery. The whole local part
stays well under RFC 5321's 64 characters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from ..errors import TokenError
from ..signing import Signing

_TOKEN = re.compile(r"([0-9a-z]{1,13})-([a-z2-7]{16})")


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


class ReturnPath:
    """Makes the envelope sender for a delivery and reads the delivery back from a token."""

    def __init__(self, secret_key: str, bounce_address: str):
        local, at, domain = bounce_address.partition("@")
        if not secret_key or not at or not local or not domain or "+" in local:
            raise ValueError(f"{bounce_address!r} cannot be a VERP bounce address (want name@domain, no '+')")
        self.local, self.domain = local, domain
        self._key = Signing(secret_key).key("verp")

    def _signature(self, payload: str) -> str:
        mac = hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()[:10]
        return base64.b32encode(mac).decode("ascii").lower()

    def token(self, delivery_id: int) -> str:
        if delivery_id < 0:
            raise ValueError("delivery id must not be negative")
        payload = _b36(delivery_id)
        return f"{payload}-{self._signature(payload)}"

    def address(self, delivery_id: int) -> str:
        """bounces+TOKEN@domain for one delivery."""
        return f"{self.local}+{self.token(delivery_id)}@{self.domain}"

    def read(self, token: str) -> int:
        """The delivery id in a token; TokenError if it is not one we made."""
        m = _TOKEN.fullmatch((token or "").strip().lower())
        if m is None:
            raise TokenError("not a bounce token")
        if not hmac.compare_digest(self._signature(m.group(1)), m.group(2)):
            raise TokenError("bounce token with a bad signature")
        return int(m.group(1), 36)

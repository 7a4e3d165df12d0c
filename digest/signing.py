"""One signer for every token digest makes, by named purpose.

    signing = Signing(settings.secret_key)
    signing.signer("unsubscribe")             # an itsdangerous Signer (TimestampSigner for a timed purpose)
    signing.serializer("click")               # URLSafe(Timed)Serializer, for tokens that carry JSON
    signing.key("verp")                       # the purpose's derived key, for a MAC of one's own

Every purpose has its own salt, so a token made for one is refused for any
other, and the secret key itself signs nothing. The table below is the only
place a salt or a scheme is written. Never change a row: the tokens in mail
already sent (unsubscribe links, bounce addresses, click links) were signed
with it. A new purpose is a new row, and takes SHA256.

Schemes: SHA256 is HMAC-SHA256 with an HMAC-derived key (member links, VERP,
the desk's session key); LEGACY_SHA1 is itsdangerous' default (HMAC-SHA1,
key = SHA1(salt + "signer" + secret)), which the click, desk-link and CSRF
tokens were made with before there was one signer; they keep it so links
already out keep working.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Callable

from itsdangerous import Signer, TimestampSigner, URLSafeSerializer, URLSafeTimedSerializer

SHA256 = {"key_derivation": "hmac", "digest_method": hashlib.sha256}
LEGACY_SHA1 = {"key_derivation": "django-concat", "digest_method": hashlib.sha1}


@dataclass(frozen=True)
class Purpose:
    salt: str
    scheme: dict
    timed: bool = False  # carries a timestamp; the reader gives max_age


PURPOSES: dict[str, Purpose] = {
    "preferences": Purpose("digest.preferences", SHA256),  # a member's preferences link
    "unsubscribe": Purpose("digest.unsubscribe", SHA256),  # a member's one-click unsubscribe
    "confirm": Purpose("digest.confirm", SHA256, timed=True),  # double opt-in
    "verp": Purpose("digest.verp", SHA256),  # a delivery's envelope sender (message/verp.py)
    "click": Purpose("digest.click", LEGACY_SHA1),  # an article link counted at /r/ (edition/clicks.py)
    "desk-link": Purpose("digest.desk.link", LEGACY_SHA1, timed=True),  # an editor's one-time link
    "desk-session": Purpose("digest.desk.session", SHA256),  # the desk's session cookie key
    "csrf": Purpose("digest.web.csrf", LEGACY_SHA1, timed=True),  # a member's form, bound to its link
}


class Signing:
    """Signers, serializers and keys for the named purposes, all from one secret key."""

    def __init__(self, secret_key: str, *, clock: Callable[[], float] = time.time):
        """clock: seconds since the epoch, for timed purposes' timestamps and their age."""
        if not secret_key:
            raise ValueError("signing needs a secret key")
        self.secret_key, self.clock = secret_key, clock

    @staticmethod
    def purpose(name: str) -> Purpose:
        try:
            return PURPOSES[name]
        except KeyError:
            raise ValueError(f"unknown signing purpose {name!r}") from None

    def signer(self, name: str, *, cls: type[Signer] | None = None) -> Signer:
        """The purpose's Signer (a TimestampSigner on this clock for a timed purpose); cls: a subclass to use."""
        p = self.purpose(name)
        cls = cls or (TimestampSigner if p.timed else Signer)
        signer = cls(self.secret_key, salt=p.salt, **p.scheme)
        if p.timed:
            clock = self.clock
            signer.get_timestamp = lambda: int(clock())
        return signer

    def serializer(self, name: str) -> URLSafeSerializer:
        """A URL-safe serializer signed for the purpose (timed when the purpose is)."""
        p = self.purpose(name)
        signer = type("_PurposeSigner", (TimestampSigner if p.timed else Signer,), {})
        if p.timed:
            clock = self.clock
            signer.get_timestamp = lambda _self: int(clock())
        kwargs = {"signer": signer, "signer_kwargs": dict(p.scheme)}
        if p.timed:
            return URLSafeTimedSerializer(self.secret_key, salt=p.salt, **kwargs)
        return URLSafeSerializer(self.secret_key, salt=p.salt, **kwargs)

    def key(self, name: str) -> bytes:
        """The purpose's derived key, for a MAC made outside itsdangerous (VERP's short tokens, a cookie key)."""
        return self.signer(name).derive_key()

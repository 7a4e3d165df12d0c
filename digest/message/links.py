"""Signed links: preferences, unsubscribe and confirm tokens for a subscriber.

A token is ``"<subscriber id>.<token version>.<signature>"`` (confirm tokens
carry a timestamp before the signature), URL-safe and without '=' padding.
The address is never in it. Each purpose signs with its own salt, so a token
made for one purpose is rejected for another; bumping a subscriber's
token_version revokes every link they hold (the reader compares the version
it gets back with the one stored).

The signers come from digest.signing (the one signer; HMAC-SHA256, key
derived from settings.secret_key and the purpose). token() runs twice per message on the send path, so the
signers keep the HMAC's inner and outer hash states precomputed and a token
costs two hash copies instead of a key derivation and an HMAC setup.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import time
from typing import Callable

from itsdangerous import BadSignature, SignatureExpired, Signer, TimestampSigner

from ..errors import TokenError
from ..signing import PURPOSES as SIGNING_PURPOSES
from ..signing import Signing

PURPOSES = ("preferences", "unsubscribe", "confirm")
TIMESTAMPED = frozenset(p for p in PURPOSES if SIGNING_PURPOSES[p].timed)  # the reader passes max_age for these

_PAYLOAD = re.compile(rb"(0|[1-9][0-9]{0,17})\.(0|[1-9][0-9]{0,8})")
_MAX_TOKEN = 120  # longer than any real token; refuse to look at more
_URLSAFE = bytes.maketrans(b"+/", b"-_")
# The one spelling a token can have: id.version[.timestamp].signature, where the
# signature is 32 bytes in unpadded URL-safe base64. Its last character carries
# two unused bits; requiring them to be zero stops one token having four
# spellings (and "=" padding a fifth) that the base64 decoder would all accept.
_SHAPE = re.compile(r"[0-9]{1,18}\.[0-9]{1,9}\.(?:[A-Za-z0-9_-]{1,12}\.)?[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]")


class _PrecomputedHmac:
    """get_signature() with the HMAC key schedule done once per signer."""

    def _prepare(self) -> None:
        key = self.derive_key().ljust(64, b"\0")  # SHA-256 block size is 64 bytes
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def get_signature(self, value: str | bytes) -> bytes:
        if isinstance(value, str):
            value = value.encode("utf-8")
        inner = self._inner.copy()
        inner.update(value)
        outer = self._outer.copy()
        outer.update(inner.digest())
        # itsdangerous.encoding.base64_encode, without its Python-level detours
        return binascii.b2a_base64(outer.digest(), newline=False).rstrip(b"=").translate(_URLSAFE)


class _FastSigner(_PrecomputedHmac, Signer):
    pass


class _FastTimestampSigner(_PrecomputedHmac, TimestampSigner):
    pass  # its clock is Signing's


class Links:
    """Makes and reads the signed links in messages and on web pages."""

    def __init__(self, secret_key: str, base_url: str, *, clock: Callable[[], float] = time.time):
        """clock: seconds since the epoch, for confirm timestamps and their max_age."""
        if not secret_key:
            raise ValueError("Links needs a secret key")
        self.base_url = base_url.rstrip("/")
        signing = Signing(secret_key, clock=clock)
        self._signers: dict[str, Signer] = {}
        for purpose in PURPOSES:
            signer = signing.signer(purpose, cls=_FastTimestampSigner if purpose in TIMESTAMPED else _FastSigner)
            signer._prepare()
            self._signers[purpose] = signer
        self._sign = {p: s.get_signature for p, s in self._signers.items() if p not in TIMESTAMPED}
        self._prefix = {p: f"{self.base_url}/{p}/" for p in self._sign}

    def _signer(self, purpose: str) -> Signer:
        try:
            return self._signers[purpose]
        except KeyError:
            raise ValueError(f"unknown token purpose {purpose!r}") from None

    def token(self, purpose: str, subscriber_id: int, version: int) -> str:
        """A signed token for one subscriber, purpose and token version."""
        if subscriber_id < 0 or version < 0:
            raise ValueError("subscriber id and token version must not be negative")
        payload = b"%d.%d" % (subscriber_id, version)
        signer = self._signer(purpose)
        if purpose in TIMESTAMPED:
            return signer.sign(payload).decode("ascii")
        # Signer.sign() is exactly this; calling get_signature directly saves
        # two conversions on the send path.
        return (payload + b"." + signer.get_signature(payload)).decode("ascii")

    def read(self, purpose: str, token: str, *, max_age: int | None = None) -> tuple[int, int]:
        """(subscriber_id, version) from a token; TokenError if it is not a valid one.

        max_age (seconds) applies to timestamped purposes (confirm) only.
        """
        signer = self._signer(purpose)
        if max_age is not None and purpose not in TIMESTAMPED:
            raise ValueError(f"{purpose} tokens carry no timestamp; max_age does not apply")
        if not isinstance(token, str) or len(token) > _MAX_TOKEN or not _SHAPE.fullmatch(token):
            raise TokenError("the link is damaged or incomplete")
        try:
            if purpose in TIMESTAMPED:
                payload = signer.unsign(token, max_age=max_age)
            else:
                payload = signer.unsign(token)
        except SignatureExpired:
            raise TokenError("the link has expired") from None
        except BadSignature:
            raise TokenError("the link is not valid (damaged, or made for something else)") from None
        m = _PAYLOAD.fullmatch(payload)
        if m is None:  # only reachable with the secret key: still refuse it
            raise TokenError("the link is not valid (unexpected contents)")
        return int(m.group(1)), int(m.group(2))

    def _url(self, purpose: str, subscriber_id: int, version: int) -> str:
        # token() inlined: two of these run for every message sent.
        if subscriber_id < 0 or version < 0:
            raise ValueError("subscriber id and token version must not be negative")
        payload = b"%d.%d" % (subscriber_id, version)
        return self._prefix[purpose] + (payload + b"." + self._sign[purpose](payload)).decode("ascii")

    def preferences_url(self, subscriber_id: int, version: int) -> str:
        return self._url("preferences", subscriber_id, version)

    def unsubscribe_url(self, subscriber_id: int, version: int) -> str:
        return self._url("unsubscribe", subscriber_id, version)

    def confirm_url(self, subscriber_id: int, version: int) -> str:
        return f"{self.base_url}/confirm/{self.token('confirm', subscriber_id, version)}"

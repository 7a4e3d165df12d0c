"""DKIM signatures for assembled messages, the DNS record to publish, and verification.

Signing works on the bytes assemble.py already built: the signature header is
prepended, nothing is re-encoded. Canonicalisation is relaxed/relaxed (RFC
6376 section 3.4), done here with a few byte regexes; the RSA step runs in
OpenSSL through `cryptography`. dkimpy does the same in pure Python at a few
milliseconds a message, which would dominate the send path; tests/test_dkim.py
holds this signer to dkimpy's verifier and to dkimpy's canonicalisation.

    signer = DkimSigner.from_settings(settings)   # None when DKIM is not configured
    signed = signer.sign(message_bytes)
    print(dkim_record(settings))                  # sel._domainkey.example.org. IN TXT "v=DKIM1; k=rsa; p=..."
    verify(signed, dkim_record(settings))         # True
"""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Callable, Sequence

from ..config import Settings
from ..errors import ConfigError

# What the signature covers (issue 6 and Gmail's bulk-sender rules: the
# one-click unsubscribe headers must be signed). Reply-To is signed when present.
SIGNED_HEADERS = (
    "From", "To", "Subject", "Date", "Message-ID", "Reply-To", "List-Id", "List-Unsubscribe",
    "List-Unsubscribe-Post", "MIME-Version", "Content-Type",
)
# Listed once more in h= so that a second copy added on the way breaks the
# signature (RFC 6376 section 8.15, "oversigning").
OVERSIGNED = ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post")
MIN_KEY_BITS = 1024  # what dkimpy (and receivers) accept; 2048 is what to use

_WSP = re.compile(rb"[\t ]+")
# Literal two-byte prefixes let the regex engine skip ahead; "[\t ]+" stops at
# every single space of a 35 KB body and costs more than the RSA signature.
_SPACES = re.compile(rb"   *")
_EOL_SPACE = re.compile(rb" \r\n")
_FOLD = re.compile(rb"\r?\n(?=[\t ])")
_LINE_END = re.compile(rb"\r?\n")
_MAX_LINE = 76


def canonical_body(body: bytes) -> bytes:
    """Relaxed body canonicalisation: no trailing WSP, runs of WSP as one space, no empty lines at the end."""
    if b"\t" in body:  # rare: QP encodes tabs
        body = body.replace(b"\t", b" ")
    body = _EOL_SPACE.sub(b"\r\n", _SPACES.sub(b" ", body))
    end = len(body)
    while body.endswith(b"\r\n", 0, end):
        end -= 2
    return body[:end] + b"\r\n" if end else b""


def canonical_header(name: bytes, value: bytes) -> bytes:
    """Relaxed header canonicalisation of one field, with its CRLF."""
    return name.strip().lower() + b":" + _WSP.sub(b" ", _FOLD.sub(b"", value)).strip() + b"\r\n"


def split_message(message: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """([(name, raw value incl. folds)], body) of an RFC 5322 message with CRLF line ends."""
    head, _, body = message.partition(b"\r\n\r\n")
    return _fields(head), body


def _fields(head: bytes) -> list[tuple[bytes, bytes]]:
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + b"\r\n" + line)
        elif line:
            name, _, value = line.partition(b":")
            fields.append((name, value))
    return fields


def select_headers(fields: Sequence[tuple[bytes, bytes]], names: Sequence[bytes]) -> list[tuple[bytes, bytes]]:
    """The instances h= names, each taken from the bottom up (RFC 6376 section 5.4.2)."""
    chosen = []
    used: dict[bytes, int] = {}
    for name in names:
        i = used.get(name, len(fields))
        while i > 0:
            i -= 1
            if fields[i][0].strip().lower() == name:
                chosen.append(fields[i])
                break
        used[name] = i
    return chosen


def _fold(tags: list[bytes]) -> bytes:
    """'v=1; a=...; h=from:to:...; b=' folded at 76 columns (after '; ' or ':')."""
    tokens: list[bytes] = []
    for n, tag in enumerate(tags):
        pieces = tag.split(b":") if tag.startswith(b"h=") else [tag]
        for k, piece in enumerate(pieces):
            last_piece = k == len(pieces) - 1
            tokens.append(piece + (b"" if last_piece else b":") + (b";" if last_piece and n < len(tags) - 1 else b""))
    out, line = [], len("DKIM-Signature:")
    for token in tokens:
        if line + 1 + len(token) > _MAX_LINE and out:
            out.append(b"\r\n " + token)
            line = 1 + len(token)
        else:
            sep = b"" if out and out[-1].endswith(b":") else b" "
            out.append(sep + token)
            line += len(sep) + len(token)
    return b"".join(out)


class DkimSigner:
    """Signs assembled messages for one domain and selector with an RSA key (rsa-sha256, relaxed/relaxed)."""

    def __init__(self, domain: str, selector: str, private_key, *,
                 headers: Sequence[str] = SIGNED_HEADERS, clock: Callable[[], float] = time.time):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise TypeError("DKIM signing needs an RSA private key")
        self.domain, self.selector = domain, selector
        self._key = private_key
        self._padding, self._hash = padding.PKCS1v15(), hashes.SHA256()
        self._names = tuple(h.lower().encode("ascii") for h in headers)
        self._over = tuple(h.lower().encode("ascii") for h in OVERSIGNED if h in headers)
        self._clock = clock
        self._fixed = [b"v=1", b"a=rsa-sha256", b"c=relaxed/relaxed", b"d=" + domain.encode("ascii"),
                       b"s=" + selector.encode("ascii")]

    @classmethod
    def from_settings(cls, settings: Settings) -> DkimSigner | None:
        """The signer settings.dkim describes, or None when DKIM is not configured."""
        if settings.dkim is None:
            return None
        return cls(settings.dkim.domain, settings.dkim.selector, load_private_key(settings))

    @classmethod
    def from_pem(cls, domain: str, selector: str, pem: bytes, **kw) -> DkimSigner:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        return cls(domain, selector, load_pem_private_key(pem, password=None), **kw)

    def sign(self, message: bytes) -> bytes:
        """message with a DKIM-Signature header prepended (CRLF line ends expected, as assemble.py makes)."""
        pending = self.prepare(message)
        return pending.finish(self.rsa(pending.data))

    def rsa(self, data: bytes) -> bytes:
        """The RSA step alone (OpenSSL, without the GIL: it can run in another thread)."""
        return self._key.sign(data, self._padding, self._hash)

    def prepare(self, message: bytes) -> PendingSignature:
        """Everything before the RSA step: canonicalisation, hashes, the header's tags."""
        if b"\r\n\r\n" not in message:  # LF line ends (a file from elsewhere): make them CRLF
            message = _LINE_END.sub(b"\r\n", message)
        fields, body = split_message(message)
        bh = base64.b64encode(_sha256(canonical_body(body)))
        present = {f[0].strip().lower() for f in fields}
        names = [n for n in self._names if n in present] + [n for n in self._over if n in present]
        if b"from" not in names:
            raise ValueError("a message without a From header cannot be DKIM-signed")
        tags = self._fixed + [b"t=%d" % int(self._clock()), b"h=" + b":".join(names), b"bh=" + bh, b"b="]
        value = _fold(tags)
        signed = b"".join(canonical_header(n, v) for n, v in select_headers(fields, names))
        signed += canonical_header(b"DKIM-Signature", value)[:-2]  # hashed without its CRLF
        return PendingSignature(signed, value, message)


class PendingSignature:
    """A message whose signature is computed but for the RSA step: `data` is what RSA signs."""

    __slots__ = ("data", "_value", "_message")

    def __init__(self, data: bytes, value: bytes, message: bytes):
        self.data, self._value, self._message = data, value, message

    def finish(self, signature: bytes) -> bytes:
        """The signed message: the DKIM-Signature header (b= folded at 72) prepended."""
        b = base64.b64encode(signature)
        chunks = b"".join(b"\r\n " + b[i:i + 72] for i in range(0, len(b), 72))
        return b"DKIM-Signature:" + self._value + chunks + b"\r\n" + self._message


def _sha256(data: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(data).digest()


def _key_path(settings: Settings) -> Path:
    assert settings.dkim is not None
    return Path(settings.dkim.key_file).expanduser()


def load_private_key(settings: Settings):
    """settings.dkim.key_file as an RSA private key; ConfigError naming the file and what is wrong."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    path = _key_path(settings)
    hint = f"create one with: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out {path}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(settings.source, "dkim.key_file", f"{path} does not exist; {hint}") from None
    except OSError as exc:
        raise ConfigError(settings.source, "dkim.key_file", f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(settings.source, "dkim.key_file",
                          f"{path} is not an unencrypted PEM private key ({exc}); {hint}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(settings.source, "dkim.key_file", f"{path} is not an RSA key; {hint}")
    if key.key_size < MIN_KEY_BITS:
        raise ConfigError(settings.source, "dkim.key_file",
                          f"{path} is a {key.key_size}-bit key; receivers want at least 2048 bits")
    return key


def public_key_text(private_key) -> str:
    """The p= value: the public key's SubjectPublicKeyInfo (DER) in base64."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    der = private_key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def record_name(domain: str, selector: str) -> str:
    return f"{selector}._domainkey.{domain.rstrip('.')}."


def dkim_record(settings: Settings) -> str:
    """'SELECTOR._domainkey.DOMAIN. IN TXT "v=DKIM1; k=rsa; p=..."' (strings of at most 255 characters)."""
    if settings.dkim is None:
        raise ConfigError(settings.source, "dkim", "DKIM signing is not configured: set DIGEST_DKIM_DOMAIN, "
                                                   "DIGEST_DKIM_SELECTOR and DIGEST_DKIM_KEY_FILE (or [dkim] in "
                                                   "digest.toml)")
    txt = "v=DKIM1; k=rsa; p=" + public_key_text(load_private_key(settings))
    strings = " ".join(f'"{txt[i:i + 255]}"' for i in range(0, len(txt), 255))
    return f"{record_name(settings.dkim.domain, settings.dkim.selector)} IN TXT {strings}"


def parse_record(dns_txt: str) -> tuple[str | None, bytes]:
    """(owner name or None, TXT contents) from a zone-file line or from bare TXT contents."""
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', dns_txt)
    if not strings:
        return None, dns_txt.strip().encode("ascii")
    name = dns_txt.split(None, 1)[0] if not dns_txt.lstrip().startswith('"') else None
    return (name.rstrip(".").lower() if name else None), "".join(strings).encode("ascii")


def verify(message: bytes, dns_txt: str) -> bool:
    """dkimpy's verification of the first DKIM-Signature, with DNS answered from dns_txt.

    dns_txt: a record as dkim_record() prints it (the name must then match the
    signature's s= and d=) or the bare TXT contents ("v=DKIM1; k=rsa; p=...").
    """
    import dkim

    owner, txt = parse_record(dns_txt)

    def dnsfunc(name, timeout=5):
        queried = (name.decode("ascii") if isinstance(name, bytes) else name).rstrip(".").lower()
        return txt if owner is None or queried == owner else None

    try:
        return bool(dkim.verify(message, dnsfunc=dnsfunc, minkey=MIN_KEY_BITS))
    except dkim.DKIMException:
        return False

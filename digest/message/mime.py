"""The few MIME encoders assemble.py needs, written for speed on short inputs.

- clean_text: one line of header-safe text (no control characters).
- qp_piece: quoted-printable that ends on a line boundary, so pieces encoded
  separately can be concatenated and still decode to the concatenated text.
- phrase_tokens / text_tokens / fold_header: RFC 5322 headers with RFC 2047
  encoded-words for non-ASCII, folded at 78 characters.

The standard library's email package does all of this too, at a cost of
milliseconds per message; these functions run once per variant for the fixed
parts and in microseconds per recipient for names and links.
"""

from __future__ import annotations

import binascii
import re
import unicodedata

# --- one line of text ------------------------------------------------------

# Control characters, surrogates, and the Unicode line and paragraph separators:
# none may reach a header (CR/LF would start a new one) or a greeting.
_DROP = frozenset({"Cc", "Cs", "Zl", "Zp"})


def clean_text(value: str) -> str:
    """value on one line: control characters become spaces, runs of spaces one."""
    # isprintable() is False for every character dropped here and for all
    # whitespace but " ", so most names pass without a per-character loop.
    if value.isprintable() and "  " not in value and value == value.strip():
        return value
    cat = unicodedata.category
    return " ".join("".join(" " if cat(c) in _DROP else c for c in value).split())


# --- quoted-printable body pieces -----------------------------------------

# Applied to UTF-8 bytes seen as Latin-1 text: every byte that QP may not carry
# literally becomes =XX. Newlines stay (they are split on); tabs are encoded so
# only a trailing space needs the end-of-line rule.
_QP_TABLE = str.maketrans(
    {i: f"={i:02X}" for i in range(256) if i != 10 and (i < 32 or i == 61 or i >= 127)}
)
_QP_SAFE = re.compile(r"[ !-<>-~]*")  # printable ASCII but '=': nothing to encode
_MAX_QP = 76  # RFC 2045 line length, not counting CRLF


def _wrap(line: str, end: str, out: list[str]) -> None:
    """Append an escaped line, split with soft breaks into lines of <= 76 characters."""
    # A soft break itself takes one character ("="), so only a line ending in a
    # hard break may use all 76.
    limit = _MAX_QP if end == "\r\n" else _MAX_QP - 1
    while len(line) > limit:
        cut = _MAX_QP - 1
        eq = line.rfind("=", cut - 2, cut)  # never split an =XX escape
        if eq != -1:
            cut = eq
        out.append(line[:cut])
        out.append("=\r\n")
        line = line[cut:]
    out.append(line)
    out.append(end)


def qp_piece(text: str) -> bytes:
    """text ('\\n' line ends) as quoted-printable with CRLF, ending on a line boundary.

    A piece that does not end with a newline ends with a soft break ("=\\r\\n"),
    so the next piece starts on a fresh line and the decoded text continues
    without a break. The empty string encodes to b"".
    """
    if "\n" not in text and _QP_SAFE.fullmatch(text):  # links, most names: nothing to escape
        if len(text) < _MAX_QP:
            return (text + "=\r\n").encode("ascii") if text else b""
        step = _MAX_QP - 1
        return ("=\r\n".join([text[i : i + step] for i in range(0, len(text), step)]) + "=\r\n").encode("ascii")
    if len(text) > 512:  # the fixed parts of a variant: binascii does the work in C
        return _qp_long(text)
    lines = text.encode("utf-8").decode("latin-1").translate(_QP_TABLE).split("\n")
    out: list[str] = []
    last = lines.pop()
    for line in lines:
        if line.endswith(" "):  # trailing space before a hard break must be encoded
            line = line[:-1] + "=20"
        _wrap(line, "\r\n", out)
    if last:
        _wrap(last, "=\r\n", out)  # spaces before a soft break may stay (RFC 2045 rule 3)
    return "".join(out).encode("ascii")


def _qp_long(text: str) -> bytes:
    """qp_piece for long text: binascii.b2a_qp (C) does the escaping and wrapping."""
    data = binascii.b2a_qp(text.encode("utf-8"), istext=True)
    if any(len(line) > _MAX_QP for line in data.split(b"\n")):
        # b2a_qp can leave a line of 77 or 78 characters when it escapes whitespace
        # before a line break ("=09"): wrap every line again.
        return _rewrap(data, ends_open=not text.endswith("\n"))
    if text.endswith("\n"):
        return data.replace(b"\n", b"\r\n")
    head, _, last = data.rpartition(b"\n")
    # The open last line gets a soft break, whose "=" must fit in 76 too.
    tail: list[str] = []
    _wrap(last.decode("ascii"), "=\r\n", tail)
    out = (head + b"\n").replace(b"\n", b"\r\n") if head or data.startswith(b"\n") else b""
    return out + "".join(tail).encode("ascii")


def _rewrap(data: bytes, *, ends_open: bool) -> bytes:
    """Quoted-printable lines ("\\n" line ends, "=" soft breaks) split again into lines of <= 76."""
    lines = data.decode("ascii").split("\n")
    last = lines.pop()
    out: list[str] = []
    for line in lines:
        if line.endswith("="):  # a soft break: the line goes on
            _wrap(line[:-1], "=\r\n", out)
        else:
            _wrap(line, "\r\n", out)
    if ends_open:
        _wrap(last, "=\r\n", out)
    return "".join(out).encode("ascii")


# --- headers -----------------------------------------------------------------

_MAX_LINE = 78
_MAX_WORD = 68  # fits after the longest header name we write ("Reply-To: ")
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")
# RFC 2047 section 5 (3): in a phrase, Q-encoded text may use only these.
_Q_LITERAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_Q_PAYLOAD = _MAX_WORD - len("=?utf-8?q??=")
_B_BYTES = _Q_PAYLOAD // 4 * 3


_Q_CHARS: dict[str, str] = {chr(i): chr(i) if chr(i) in _Q_LITERAL else f"={i:02X}" for i in range(128)}
_Q_CHARS[" "] = "_"


def _q(c: str) -> str:
    """c Q-encoded; remembered, since names repeat their letters."""
    q = _Q_CHARS.get(c)
    if q is None:
        q = _Q_CHARS[c] = "".join(f"={b:02X}" for b in c.encode("utf-8"))
    return q


def encoded_words(text: str) -> list[str]:
    """text as RFC 2047 encoded-words (UTF-8, Q or B, whichever is shorter).

    Each word is at most 68 characters and holds whole characters only;
    whitespace between adjacent encoded-words is dropped when decoding.
    """
    qs = [_q(c) for c in text]
    size = len(text.encode("utf-8"))
    if sum(map(len, qs)) <= (size + 2) // 3 * 4:
        words, cur = [], ""
        for q in qs:
            if len(cur) + len(q) > _Q_PAYLOAD:
                words.append(cur)
                cur = ""
            cur += q
        words.append(cur)
        return [f"=?utf-8?q?{w}?=" for w in words]
    chunks, cur = [], b""
    for c in text:
        b = c.encode("utf-8")
        if len(cur) + len(b) > _B_BYTES:
            chunks.append(cur)
            cur = b""
        cur += b
    chunks.append(cur)
    return [f"=?utf-8?b?{binascii.b2a_base64(c, newline=False).decode('ascii')}?=" for c in chunks]


def phrase_tokens(name: str) -> list[str]:
    """A display name (already clean_text) as header tokens: atoms, quoted-string or encoded-words."""
    if not name:
        return []
    words = name.split(" ")
    if name.isascii() and "=?" not in name:  # "=?" would be decoded as an encoded-word
        if _ATEXT.fullmatch(name):
            if max(map(len, words)) <= _MAX_WORD:
                return words
        else:
            quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
            parts = quoted.split(" ")  # folding at these spaces keeps them (FWS in a quoted-string)
            if max(map(len, parts)) <= _MAX_WORD:
                return parts
    return encoded_words(name)


def text_tokens(text: str) -> list[str]:
    """Unstructured header text (already clean_text) as tokens: plain words, encoded runs."""
    tokens: list[str] = []
    run: list[str] = []  # consecutive words that need encoding, encoded together
    for word in text.split(" ") if text else ():
        if word.isascii() and len(word) <= _MAX_WORD and "=?" not in word:
            if run:
                tokens.extend(encoded_words(" ".join(run)))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens.extend(encoded_words(" ".join(run)))
    return tokens


def fold_header(name: str, tokens: list[str]) -> bytes:
    """'Name: tok tok ...' folded before a token that would pass 78 characters; CRLF at the end."""
    line = name + ":"
    lines = []
    first = True
    for tok in tokens:
        if not first and len(line) + 1 + len(tok) > _MAX_LINE:
            lines.append(line)
            line = " " + tok
        else:
            line += " " + tok
        first = False
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("ascii")

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
_QP_SAFE = re.compile(r"[ !-<>-~]*")  # printable ASCII but '=', so no newline either: nothing to encode
_MAX_QP = 76  # RFC 2045 line length, not counting CRLF


def _wrap(line: str, end: str, out: list[str]) -> None:
    """Append an escaped line, split with soft breaks into lines of <= 76 characters."""
    # A soft break itself takes one character ("="), so only a line ending in a
    # hard break may use all 76.
    limit = _MAX_QP if end == "\r\n" else _MAX_QP - 1
    while len(line) > limit:
        cut = _MAX_QP - 1
        eq = line[:cut].rfind("=")
        if eq > cut - 3:  # an =XX escape that would cross the cut moves to the next line whole
            cut = eq
        out.append(line[:cut])
        out.append("=\r\n")
        line = line[cut:]
    out.append(line)
    out.append(end)


def _qp_lines(lines: list[str]) -> bytes:
    """Escaped lines (split on the text's newlines; the last one has none) as CRLF quoted-printable."""
    out: list[str] = []
    last = lines.pop()
    for line in lines:
        if line.endswith(" "):  # trailing space before a hard break must be encoded
            line = line[:-1] + "=20"
        _wrap(line, "\r\n", out)
    if last:
        _wrap(last, "=\r\n", out)  # spaces before a soft break may stay (RFC 2045 rule 3)
    return "".join(out).encode()


def qp_piece(text: str) -> bytes:
    """text ('\\n' line ends) as quoted-printable with CRLF, ending on a line boundary.

    A piece that does not end with a newline ends with a soft break ("=\\r\\n"),
    so the next piece starts on a fresh line and the decoded text continues
    without a break. The empty string encodes to b"".
    """
    if _QP_SAFE.fullmatch(text):  # links, most names: nothing to escape, no newline
        if len(text) < _MAX_QP:
            return (text + "=\r\n").encode() if text else b""
        step = _MAX_QP - 1
        return ("=\r\n".join([text[i : i + step] for i in range(0, len(text), step)]) + "=\r\n").encode()
    # The fixed parts of a variant: binascii does the work in C. It passes a CR
    # through as it is (a bare CR on the wire), so text with one takes the slow
    # path, which writes =0D like every other control character.
    if len(text) > 512 and "\r" not in text:
        return _qp_long(text)
    return _qp_lines(text.encode().decode("latin-1").translate(_QP_TABLE).split("\n"))


def _qp_long(text: str) -> bytes:
    """qp_piece for long text: binascii.b2a_qp (C) does the escaping and wrapping."""
    data = binascii.b2a_qp(text.encode())
    lines = data.split(b"\n")
    if max(map(len, lines)) > _MAX_QP:
        # b2a_qp can leave a line of 77 or 78 characters when it escapes whitespace
        # before a line break ("=09"): wrap every line again (its soft-broken lines,
        # at most 76 long with their "=", stay as they are).
        return _qp_lines([line.decode() for line in lines])
    last = lines[-1]  # empty if the text ends with a newline
    body = data[: len(data) - len(last)].replace(b"\n", b"\r\n")
    if not last:
        return body
    tail: list[str] = []
    _wrap(last.decode(), "=\r\n", tail)  # the open last line gets a soft break, whose "=" must fit in 76 too
    return body + "".join(tail).encode()


# --- headers -----------------------------------------------------------------

_MAX_LINE = 78
_MAX_WORD = 68  # fits after the longest header name we write ("Reply-To: ")
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")
# RFC 2047 section 5 (3): in a phrase, Q-encoded text may use only these.
_Q_LITERAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_Q_ONE = _Q_LITERAL | {" "}  # one character each in Q ("_" for a space); any other byte takes three
_Q_PAYLOAD = _MAX_WORD - len("=?utf-8?q??=")
_B_BYTES = _Q_PAYLOAD // 4 * 3


# Every character of one or two UTF-8 bytes (Latin, Greek, Cyrillic, Hebrew, Arabic
# names), Q-encoded once; the rest are rare enough to encode each time.
_Q_CHARS: dict[str, str] = {
    c: c if c in _Q_LITERAL else "".join(f"={b:02X}" for b in c.encode()) for c in map(chr, range(0x800))
}
_Q_CHARS[" "] = "_"


def _q(c: str) -> str:
    """c Q-encoded."""
    q = _Q_CHARS.get(c)
    return q if q is not None else "=" + c.encode().hex("=").upper()


def encoded_words(text: str) -> list[str]:
    """text as RFC 2047 encoded-words (UTF-8, Q or B, whichever is shorter).

    Each word is at most 68 characters and holds whole characters only;
    whitespace between adjacent encoded-words is dropped when decoding.
    """
    size = len(text.encode())
    if 3 * size - 2 * sum(map(_Q_ONE.__contains__, text)) <= (size + 2) // 3 * 4:
        words, cur = [], ""
        for c in text:
            q = _q(c)
            if len(cur) + len(q) > _Q_PAYLOAD:
                words.append(cur)
                cur = ""
            cur += q
        words.append(cur)
        return [f"=?utf-8?q?{w}?=" for w in words]
    chunks, cur = [], b""
    for c in text:
        b = c.encode()
        if len(cur) + len(b) > _B_BYTES:
            chunks.append(cur)
            cur = b""
        cur += b
    chunks.append(cur)
    return [f"=?utf-8?b?{binascii.b2a_base64(c, newline=False).decode()}?=" for c in chunks]


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
    head = line = name + ":"
    lines = []
    for tok in tokens:
        if len(line) + 1 + len(tok) > _MAX_LINE and line != head:  # never fold before the first token
            lines.append(line)
            line = " " + tok
        else:
            line += " " + tok
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("ascii")

"""Rendering's caches on disk: what a fresh `digest` process would otherwise work out again.

`digest preview` is a new process each time: Jinja2 would parse and compile the
email's templates again, and premailer would inline the same email's CSS again
(with cssutils: together most of the time the rendering took). Both
are kept in one folder of the user's own:

    DIGEST_CACHE_DIR, else $XDG_CACHE_HOME/digest, else ~/.cache/digest  (DIGEST_CACHE_DIR="": none)

Safe because an entry is found by a hash of everything that shapes it
(templates: Jinja2 also checks the source's checksum; premailer's output: its
input, the CSS, the base URL and the libraries' versions), so a hit is what the
work would give, byte for byte; the folder is made private (0700) and not used
if someone else owns it or others may write to it; an entry that cannot be read
or written is a miss, never an error; each kind keeps its newest MAX_ENTRIES.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from functools import lru_cache
from pathlib import Path

import jinja2
import jinja2.bccache

MAX_ENTRIES = 64  # texts of one kind kept (an email is about 30 KB)


@lru_cache(maxsize=1)
def folder() -> Path | None:
    """The cache folder, made if missing; None when there is none to use."""
    given = os.environ.get("DIGEST_CACHE_DIR")
    if given is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        given = os.path.join(base, "digest")
    if not given:
        return None
    path = Path(given)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
    except OSError:
        return None
    private = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022
    return path if private else None


class _Templates(jinja2.FileSystemBytecodeCache):
    """Jinja2's files of compiled templates, where one that cannot be read or written is a miss, not an error."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a damaged file (pickle's or marshal's error) or an unreadable one: compile the source
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:  # a full disk, a folder gone: the next process compiles again
            pass


@lru_cache(maxsize=1)
def templates() -> jinja2.BytecodeCache | None:
    """Compiled templates for every environment of edition/render.py (they differ in globals only, which
    compiled code looks up when it runs); Jinja2 keys each by the template's file and checks its source."""
    where = folder()
    return _Templates(str(where), "jinja-%s.cache") if where else None


def key(*parts: str) -> str:
    """A hash of the parts (each one's length included, so no two lists of parts share a key)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        h.update(b"%d:" % len(data))
        h.update(data)
    return h.hexdigest()


def read(kind: str, digest: str) -> str | None:
    where = folder()
    if where is None:
        return None
    try:
        return (where / f"{kind}-{digest}.txt").read_text(encoding="utf-8")
    except (OSError, UnicodeError):
        return None


def write(kind: str, digest: str, text: str) -> None:
    """Keep the text (whole or not at all: written aside, then renamed), and drop the oldest beyond MAX_ENTRIES."""
    where = folder()
    if where is None:
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=where, prefix=f".{kind}-", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, where / f"{kind}-{digest}.txt")
        kept = sorted(where.glob(f"{kind}-*.txt"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[MAX_ENTRIES:]:
            old.unlink(missing_ok=True)
    except OSError:
        Path(tmp).unlink(missing_ok=True)

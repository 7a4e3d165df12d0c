"""Polite, bounded reading of a source: an http(s) URL or a regular file.

    got = fetch_url(url, etag=..., last_modified=..., agent=user_agent(website))
    got.not_modified      a 304: nothing was downloaded, nothing to parse
    got.body              the body, decompressed, at most limits.max_bytes
    got.moved_to          where a 301/308 says the source now lives (record it)

Polite: one GET with the validators of the last download (If-None-Match,
If-Modified-Since), so an unchanged feed costs a 304 and no body; a
User-Agent that names digest and the organisation's website; gzip accepted.
Bounded: every read waits at most `read_timeout` seconds AND the whole fetch,
redirects included, ends at `deadline` seconds (a server dripping a byte
every few seconds is cut off); the body is capped *after* decompression, so
a small gzip that expands past the cap is refused without being inflated in
full; a path must be a regular file (a device or a pipe would never end).

Every request goes through digest.outbound (the one outbound client: no
internal address, every redirect hop checked, one deadline); this module
adds what a source needs: the validators, the moved-to of permanent
redirects, the cap's wording, and reading a path.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit

from digest.errors import IngestError
from digest.outbound import Deadline, Outbound, OutboundError, redact, user_agent

__all__ = ["FetchLimits", "Fetched", "fetch_url", "read_path", "user_agent", "is_url"]

MAX_BYTES = 50 * 1024 * 1024  # a news feed is kilobytes; anything this big is a mistake
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/json, application/xml;q=0.9, text/xml;q=0.9, text/plain;q=0.8, */*;q=0.5"
)
_PERMANENT = (301, 308)
_REDIRECT = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class FetchLimits:
    read_timeout: float = 20.0  # seconds any one read (or the connect) may wait
    deadline: float = 60.0  # seconds the whole fetch may take, redirects included
    max_bytes: int = MAX_BYTES  # of the body as parsed: after decompression


@dataclass
class Fetched:
    url: str  # where the body finally came from
    status: int  # 200 (or another 2xx) or 304
    body: bytes | None  # None for a 304
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None  # the target of the permanent redirects the URL led through
    headers: Message | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def is_url(source: str) -> bool:
    return urlsplit(source).scheme.lower() in ("http", "https")


def read_path(source: str, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file (or file://...), refusing devices, pipes and sockets."""
    path = Path(source[len("file://"):] if source.startswith("file://") else source).expanduser()
    try:
        info = path.stat()  # stat, not open: opening a pipe would block until someone writes
        if stat.S_ISDIR(info.st_mode):
            raise IngestError(source, "is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):  # what stat() can say besides a file and a directory
            mode = info.st_mode
            kind = "a pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
            raise IngestError(source, f"is {kind}, not a regular file")
        if info.st_size > max_bytes:
            raise IngestError(source, f"larger than {_mb(max_bytes)}: not a news source")
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)  # the file may have grown since stat
    except FileNotFoundError:
        raise IngestError(source, "no such file") from None
    except IsADirectoryError:
        raise IngestError(source, "is a directory, not a file") from None
    except PermissionError:
        raise IngestError(source, "permission denied") from None
    except OSError as exc:
        raise IngestError(source, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise IngestError(source, f"larger than {_mb(max_bytes)}: not a news source")
    return data


def _mb(n: int) -> str:
    return f"{n // 2**20} MB" if n >= 2**20 else f"{n} bytes"


def fetch_url(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    agent: str | None = None,
    limits: FetchLimits = FetchLimits(),
    client: Outbound | None = None,
    deadline: Deadline | None = None,
) -> Fetched:
    """GET `url` politely and within limits; IngestError(url, reason) when it cannot be had.

    client: the outbound client (its address policy); default one that
    allows no internal address. deadline: shared by every page of one source
    (default: limits.deadline from now). Errors are named by the URL as given
    (its password hidden), whatever redirects it went through.
    """
    client = client or Outbound()
    headers = {"Accept": ACCEPT, "Accept-Encoding": "gzip, deflate", "User-Agent": agent or client.user_agent}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        r = client.get(url, headers=headers, deadline=deadline or Deadline(limits.deadline),
                       max_bytes=limits.max_bytes, read_timeout=limits.read_timeout)
    except OutboundError as exc:
        raise IngestError(exc.url, exc.reason + (": not a news source" if exc.kind == "too_big" else "")) from None
    moved_to = _moved_to(r.history, r.url)
    if r.status in _REDIRECT:
        raise IngestError(redact(url), f"HTTP {r.status} without a Location")
    if r.status == 304:
        if not (etag or last_modified):
            raise IngestError(redact(url), "HTTP 304 Not Modified to a request that was not conditional")
        return Fetched(r.url, 304, None, r.headers.get("Content-Type"), r.headers.get("ETag") or etag,
                       r.headers.get("Last-Modified") or last_modified, moved_to, r.headers)
    if not 200 <= r.status < 300:
        raise IngestError(redact(url), f"HTTP {r.status} {r.reason}".strip())
    return Fetched(r.url, r.status, r.body, r.headers.get("Content-Type"), r.headers.get("ETag"),
                   r.headers.get("Last-Modified"), moved_to, r.headers)


def _moved_to(history: list[tuple[int, str]], final: str) -> str | None:
    """Where the leading run of permanent redirects (301, 308) led; None when the first was temporary.

    A 302 then a 301 is no move of the source: the site only borrowed a path for now."""
    moved = None
    targets = [u for _, u in history[1:]] + [final]
    for (status, _), target in zip(history, targets):
        if status not in _PERMANENT:
            break
        moved = target
    return moved

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

Built on the standard library's http.client (urllib's own layer), not on
urllib or httpx: it needs no dependency, and it gives the three things this
module is for with nothing in the way - the socket of the response, whose
timeout is set before every read to what is left of the deadline; read1(),
which returns whatever one recv brought (a buffered read(n) would wait for n
bytes, so a drip would never time out); and the raw bytes, which go through
our own zlib decompressor with a max_length. Redirects are followed by hand
(at most MAX_REDIRECTS) so a permanent one can be recorded. Proxies
(HTTP_PROXY) are not used: sources are fetched directly.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import stat
import time
import zlib
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from digest.errors import IngestError

__all__ = ["FetchLimits", "Fetched", "fetch_url", "read_path", "user_agent", "is_url"]

MAX_BYTES = 50 * 1024 * 1024  # a news feed is kilobytes; anything this big is a mistake
MAX_REDIRECTS = 5
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/json, application/xml;q=0.9, text/xml;q=0.9, text/plain;q=0.8, */*;q=0.5"
)
_PERMANENT = (301, 308)
_REDIRECT = (301, 302, 303, 307, 308)


def user_agent(website: str | None = None) -> str:
    """'digest/0.1 (+https://www.example.org/; email news digest)': who is asking, and where to find them."""
    try:
        from importlib.metadata import version

        ours = version("digest")
    except Exception:  # running from a checkout that is not installed
        ours = "0"
    where = f"+{website}; " if website else ""
    return f"digest/{ours} ({where}email news digest)"


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
        if not stat.S_ISREG(info.st_mode):
            kind = ("a pipe" if stat.S_ISFIFO(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode)
                    else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "not a file")
            raise IngestError(source, f"is {kind}, not a regular file" if kind != "not a file" else
                              "not a regular file")
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


class _Clock:
    """What is left of the deadline, and the timeout for the next read."""

    def __init__(self, limits: FetchLimits):
        self.limits = limits
        self.ends = time.monotonic() + limits.deadline

    def left(self) -> float:
        return self.ends - time.monotonic()

    def next_timeout(self, source: str) -> float:
        left = self.left()
        if left <= 0:
            raise self.expired(source)
        return min(self.limits.read_timeout, left)

    def expired(self, source: str) -> IngestError:
        return IngestError(source, f"cut off by the overall deadline of {self.limits.deadline:g} s")

    def timed_out(self, source: str) -> IngestError:
        if self.left() <= 0.05:
            return self.expired(source)
        return IngestError(source, f"timed out after {self.limits.read_timeout:g} s")


def fetch_url(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    agent: str | None = None,
    limits: FetchLimits = FetchLimits(),
    ssl_context: ssl.SSLContext | None = None,
) -> Fetched:
    """GET `url` politely and within limits; IngestError(url, reason) when it cannot be had.

    Errors are named by the URL as given, whatever redirects it went through.
    """
    clock = _Clock(limits)
    headers = {
        "User-Agent": agent or user_agent(),
        "Accept": ACCEPT,
        "Accept-Encoding": "gzip, deflate",
        "Connection": "close",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current, moved_to, permanent_so_far = url, None, True
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(current)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise IngestError(url, f"not an http(s) URL: {current}")
        conn, response, sock = _request(url, parts, headers, clock, ssl_context)
        try:
            status = response.status
            if status in _REDIRECT:
                location = response.getheader("Location")
                if not location:
                    raise IngestError(url, f"HTTP {status} without a Location")
                target = urljoin(current, location.strip())
                if status in _PERMANENT and permanent_so_far:
                    moved_to = target
                else:
                    permanent_so_far = False
                current = target
                continue
            if status == 304:
                if not (etag or last_modified):
                    raise IngestError(url, "HTTP 304 Not Modified to a request that was not conditional")
                return Fetched(current, 304, None, response.getheader("Content-Type"),
                               response.getheader("ETag") or etag,
                               response.getheader("Last-Modified") or last_modified, moved_to, response.msg)
            if not 200 <= status < 300:
                raise IngestError(url, f"HTTP {status} {response.reason}".strip())
            body = _read_body(url, response, sock, clock, limits)
            return Fetched(current, status, body, response.getheader("Content-Type"),
                           response.getheader("ETag"), response.getheader("Last-Modified"), moved_to, response.msg)
        finally:
            response.close()
            conn.close()
    raise IngestError(url, f"more than {MAX_REDIRECTS} redirects")


def _request(url, parts, headers, clock: _Clock, ssl_context):
    """Connect and send the GET; returns (connection, response with headers read, socket)."""
    host, port = parts.hostname, parts.port
    timeout = clock.next_timeout(url)
    if parts.scheme.lower() == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=ssl_context or ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.connect()
        sock = conn.sock
        conn.request("GET", path, headers=headers)
        sock.settimeout(clock.next_timeout(url))
        response = conn.getresponse()
    except IngestError:
        conn.close()
        raise
    except (socket.timeout, TimeoutError):
        conn.close()
        raise clock.timed_out(url) from None
    except ssl.SSLError as exc:
        conn.close()
        raise IngestError(url, f"TLS failed: {getattr(exc, 'verify_message', None) or exc.reason or exc}") from None
    except (ConnectionError, socket.gaierror, OSError) as exc:
        conn.close()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise IngestError(url, f"cannot connect: {reason}") from None
    except http.client.HTTPException as exc:
        conn.close()
        raise IngestError(url, f"not an HTTP answer: {type(exc).__name__} {exc}".strip()) from None
    return conn, response, sock


def _decompressor(encoding: str, url: str):
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise IngestError(url, f"cannot read a body in {encoding!r} encoding")


def _read_body(url: str, response: http.client.HTTPResponse, sock, clock: _Clock, limits: FetchLimits) -> bytes:
    encoding = (response.getheader("Content-Encoding") or "").strip().lower()
    inflate = _decompressor(encoding, url)
    declared = (response.getheader("Content-Length") or "").strip()
    too_big = IngestError(url, f"larger than {_mb(limits.max_bytes)}" + (" once decompressed" if inflate else "")
                          + ": not a news source")
    if not inflate and declared.isdigit() and int(declared) > limits.max_bytes:
        raise too_big
    out: list[bytes] = []
    raw_size = size = 0
    try:
        while True:
            sock.settimeout(clock.next_timeout(url))
            chunk = response.read1(65536)
            if not chunk:
                break
            raw_size += len(chunk)
            if inflate is not None:
                # At most one byte past the cap: anything more stays compressed (unconsumed_tail).
                chunk = inflate.decompress(chunk, limits.max_bytes - size + 1)
            size += len(chunk)
            if size > limits.max_bytes or raw_size > limits.max_bytes:
                raise too_big
            out.append(chunk)
    except (socket.timeout, TimeoutError):
        raise clock.timed_out(url) from None
    except http.client.IncompleteRead as exc:
        raise IngestError(url, f"download cut short: got {raw_size + len(exc.partial)} bytes, more were due") from None
    except zlib.error as exc:
        raise IngestError(url, f"cannot decompress {encoding} body: {exc}") from None
    except (http.client.HTTPException, OSError) as exc:
        raise IngestError(url, f"download failed: {exc}") from None
    if declared.isdigit() and raw_size < int(declared):
        raise IngestError(url, f"download cut short: got {raw_size} of {declared} bytes")
    if inflate is not None:
        if not inflate.eof:
            raise IngestError(url, f"cannot decompress {encoding} body: it is cut short")
    return b"".join(out)

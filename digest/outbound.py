"""The one outbound HTTP client: everything digest fetches goes through it.

    client = Outbound(allow_private=("10.1.2.0/24",), user_agent=user_agent(website))
    client = for_settings(settings)     # the same, from [fetch] allow_private and [organisation] website
    r = client.request("GET", url, headers={...}, deadline=10.0, max_bytes=10_000_000,
                       https_only=False, follow_redirects=True)
    r.status, r.headers, r.body, r.url (final), r.history [(status, url), ...]
    OutboundError(url, reason): "http://127.0.0.1:8080/x: refused 127.0.0.1, a loopback address ..."

What it promises, because a feed, a picture URL or a redirect is chosen by
someone outside:
- only http and https (urllib would follow a redirect to ftp:// or file://);
- every address the host name resolves to is checked, and the socket is
  connected to the very address that was checked, so DNS rebinding cannot
  slip an internal address in between the check and the connect; loopback,
  private, link-local, carrier-grade NAT, multicast, reserved and
  unspecified addresses are refused, IPv4 and IPv6 alike, an IPv4-mapped
  IPv6 address by the IPv4 address inside it; `allow_private` CIDRs (the
  config's [fetch] allow_private) let an intranet source through;
- every redirect hop is checked again, the same way;
- one overall deadline across the connects, every read and every redirect
  (and across several requests when they share one Deadline, as a
  WordPress source's pages do); each read also waits at most `read_timeout`;
- the body is capped after decompression (gzip, deflate), so a small bomb is
  refused without being inflated in full.

Built on http.client, not urllib or httpx: its socket's timeout can be set
before every read to what is left of the deadline, read1() returns whatever
one recv brought (a drip cannot hold a read open), and its connection's
`_create_connection` is the one place to put the address check. No proxy is
used (HTTP_PROXY would route around the check).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
import zlib
from dataclasses import dataclass, field
from email.message import Message
from importlib.metadata import PackageNotFoundError, version
from typing import Iterable, Mapping
from urllib.parse import urljoin, urlsplit, urlunsplit

from .config import Settings
from .errors import DigestError

__all__ = ["Outbound", "OutboundError", "Response", "Deadline", "redact", "check_address", "parse_networks",
           "user_agent", "for_settings"]

MAX_REDIRECTS = 5
_REDIRECT = (301, 302, 303, 307, 308)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundError(DigestError):
    """One line: the URL (its password hidden) and what went wrong.

    kind: "refused" (the address or scheme is not allowed), "timeout",
    "too_big", "http" (not an HTTP answer, cut short) or "connect".
    """

    def __init__(self, url: str, reason: str, kind: str = "connect"):
        self.url, self.reason, self.kind = redact(url), reason, kind
        super().__init__(f"{self.url}: {reason}")


@dataclass
class Response:
    status: int
    reason: str
    headers: Message  # case-insensitive .get()
    body: bytes  # decompressed; b"" for a redirect not followed, a 304, a HEAD
    url: str  # where the answer finally came from
    history: list[tuple[int, str]] = field(default_factory=list)  # each redirect: (status, the URL that said it)


class Deadline:
    """One clock for a whole job: a source's every page, a picture, a webhook."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def left(self) -> float:
        return self.ends - time.monotonic()


def redact(url: str) -> str:
    """url with the password of its user:password@ part replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


def parse_networks(cidrs: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The networks of allow_private; ValueError naming the one that is not a CIDR."""
    out = []
    for cidr in cidrs:
        try:
            out.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
        except ValueError:
            raise ValueError(f"{cidr!r} is not an address or network like 10.1.2.0/24") from None
    return tuple(out)


def check_address(ip: str, allowed: Iterable = ()) -> str | None:
    """Why digest must not connect to `ip` ("a loopback address"), or None when it may."""
    address = ipaddress.ip_address(ip.split("%", 1)[0])  # a scoped IPv6 address: fe80::1%eth0
    if any(address in net for net in allowed if net.version == address.version):
        return None
    if address.version == 6:
        inner = address.ipv4_mapped or (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
                                        if address in _NAT64 else None) or address.sixtofour
        if inner is not None:
            return check_address(str(inner), allowed)
    for test, what in ((address.is_loopback, "a loopback"), (address.is_link_local, "a link-local"),
                       (address.version == 4 and address in _CGNAT, "a carrier-grade NAT"),
                       (address.is_multicast, "a multicast"), (address.is_unspecified, "an unspecified"),
                       (address.is_private, "a private"), (not address.is_global, "a reserved")):
        if test:
            return f"{what} address"
    return None


def user_agent(website: str | None = None) -> str:
    """'digest/0.1 (+https://www.example.org/; email news digest)': who is asking, and where to find them."""
    try:
        ours = version("digest")
    except PackageNotFoundError:  # running from a checkout that is not installed
        ours = "0"
    where = f"+{website}; " if website else ""
    return f"digest/{ours} ({where}email news digest)"


_default_agent = user_agent  # Outbound's keyword of the same name hides the function


class Outbound:
    """An HTTP client that cannot be pointed inside (see the module's docstring)."""

    def __init__(self, allow_private: Iterable[str] = (), *, user_agent: str | None = None,
                 read_timeout: float = 20.0, ssl_context: ssl.SSLContext | None = None):
        self.allowed = parse_networks(allow_private)
        self.user_agent = user_agent or _default_agent()
        self.read_timeout = read_timeout
        self.ssl_context = ssl_context

    def get(self, url: str, **options) -> Response:
        return self.request("GET", url, **options)

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None, body: bytes | None = None,
                deadline: float | Deadline = 10.0, max_bytes: int = 10_000_000, https_only: bool = False,
                follow_redirects: bool = True, read_timeout: float | None = None) -> Response:
        """Send one request (and follow its redirects); OutboundError(url, reason) when it cannot be had.

        A non-2xx answer is a Response like any other: the caller decides.
        Errors name the URL as given, whatever redirects it went through.
        """
        clock = deadline if isinstance(deadline, Deadline) else Deadline(deadline)
        call = _Call(self, url, clock, read_timeout or self.read_timeout, max_bytes, https_only)
        sent = {"User-Agent": self.user_agent, "Connection": "close", **(headers or {})}
        current, history = url, []
        for _ in range(MAX_REDIRECTS + 1):
            response, sock = call.exchange(method, current, sent, body, hop=current != url)
            status = response.status
            location = response.getheader("Location") if status in _REDIRECT else None
            if location and follow_redirects:
                response.close()
                history.append((status, current))
                current = urljoin(current, location.strip())
                if status == 303 or (status in (301, 302) and method == "POST"):
                    method, body = "GET", None
                if urlsplit(current).hostname != urlsplit(url).hostname:
                    sent = {k: v for k, v in sent.items() if k.lower() not in ("authorization", "cookie")}
                continue
            try:
                data = call.read_body(response, sock, method)
            finally:
                response.close()
            return Response(status, response.reason, response.msg, data, current, history)
        raise OutboundError(url, f"more than {MAX_REDIRECTS} redirects", "http")


class _Call:
    """One request with its redirects: the checks, the clock and the reads."""

    def __init__(self, client: Outbound, url: str, clock: Deadline, read_timeout: float, max_bytes: int,
                 https_only: bool):
        self.client, self.url, self.clock = client, url, clock
        self.read_timeout, self.max_bytes, self.https_only = read_timeout, max_bytes, https_only

    def fail(self, reason: str, kind: str = "connect") -> OutboundError:
        return OutboundError(self.url, reason, kind)

    def timeout(self) -> float:
        left = self.clock.left()
        if left <= 0:
            raise self.expired()
        return min(self.read_timeout, left)

    def expired(self) -> OutboundError:
        return self.fail(f"cut off by the overall deadline of {self.clock.seconds:g} s", "timeout")

    def timed_out(self) -> OutboundError:
        if self.clock.left() <= 0.05:
            return self.expired()
        return self.fail(f"timed out after {self.read_timeout:g} s", "timeout")

    def exchange(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None,
                 hop: bool) -> tuple[http.client.HTTPResponse, socket.socket]:
        """Connect (checked), send, and read the status line and headers; (response, its socket)."""
        where = f"redirected to {redact(url)}: " if hop else ""
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError as exc:
            raise self.fail(f"{where}not a URL: {exc}", "refused") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not host:
            raise self.fail(f"{where}only http and https URLs are fetched", "refused")
        if self.https_only and scheme != "https":
            raise self.fail(f"{where}only https is allowed here", "refused")
        port = port or (443 if scheme == "https" else 80)  # explicit: "::1" alone would parse as host ":" port 1
        if scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=self.timeout(), context=self.client.ssl_context or ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout())
        conn._create_connection = lambda address, timeout, source=None: self.connect(address, where)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request(method, target, body=body, headers=dict(headers))
            sock = conn.sock  # kept: the response's reads are timed on it (getresponse may drop conn.sock)
            sock.settimeout(self.timeout())
            return conn.getresponse(), sock
        except OutboundError:
            conn.close()
            raise
        except (socket.timeout, TimeoutError):
            conn.close()
            raise self.timed_out() from None
        except ssl.SSLError as exc:
            conn.close()
            raise self.fail(f"{where}TLS failed: {getattr(exc, 'verify_message', None) or exc.reason or exc}") from None
        except http.client.HTTPException as exc:
            conn.close()
            raise self.fail(f"{where}not an HTTP answer: {type(exc).__name__} {exc}".strip(), "http") from None
        except (OSError, ValueError, UnicodeError) as exc:
            conn.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            raise self.fail(f"{where}cannot connect: {reason}") from None

    def connect(self, address: tuple[str, int], where: str) -> socket.socket:
        """A socket connected to one of the host's addresses, every one of them checked first."""
        host, port = address
        try:
            found = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise self.fail(f"{where}cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}") from None
        for *_, sockaddr in found:
            why = check_address(sockaddr[0], self.client.allowed)
            if why:
                named = sockaddr[0] if sockaddr[0] == host.strip("[]") else f"{host} ({sockaddr[0]})"
                raise self.fail(f"{where}refused {named}, {why} (digest fetches only public "
                                f"addresses; an intranet's goes in [fetch] allow_private)", "refused")
        error: OSError | None = None
        for family, kind, proto, _, sockaddr in found:
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(self.timeout())
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        raise error or OSError(f"no address for {host}")

    def read_body(self, response: http.client.HTTPResponse, sock: socket.socket, method: str) -> bytes:
        """The body, decompressed, within the cap and the deadline."""
        if method == "HEAD" or response.status in (204, 304):
            return b""
        encoding = (response.getheader("Content-Encoding") or "").strip().lower()
        inflate = _decompressor(encoding)
        if inflate is False:
            raise self.fail(f"cannot read a body in {encoding!r} encoding", "http")
        declared = (response.getheader("Content-Length") or "").strip()
        too_big = self.fail(f"larger than {_size(self.max_bytes)}" + (" once decompressed" if inflate else ""),
                            "too_big")
        if not inflate and declared.isdigit() and int(declared) > self.max_bytes:
            raise too_big
        out: list[bytes] = []
        raw = size = 0
        try:
            while True:
                sock.settimeout(self.timeout())
                chunk = response.read1(65536)
                if not chunk:
                    break
                raw += len(chunk)
                if inflate is not None:
                    # At most one byte past the cap: anything more stays compressed (unconsumed_tail).
                    chunk = inflate.decompress(chunk, self.max_bytes - size + 1)
                size += len(chunk)
                if size > self.max_bytes or raw > self.max_bytes:
                    raise too_big
                out.append(chunk)
        except (socket.timeout, TimeoutError):
            raise self.timed_out() from None
        except http.client.IncompleteRead as exc:
            raise self.fail(f"download cut short: got {raw + len(exc.partial)} bytes, more were due", "http") from None
        except zlib.error as exc:
            raise self.fail(f"cannot decompress {encoding} body: {exc}", "http") from None
        except (http.client.HTTPException, OSError) as exc:
            raise self.fail(f"download failed: {exc}", "http") from None
        if declared.isdigit() and raw < int(declared):
            raise self.fail(f"download cut short: got {raw} of {declared} bytes", "http")
        if inflate is not None and not inflate.eof:
            raise self.fail(f"cannot decompress {encoding} body: it is cut short", "http")
        return b"".join(out)


def _decompressor(encoding: str):
    """A zlib decompressor for the encoding; None for none; False for one we cannot read."""
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    return False


def _size(n: int) -> str:
    return f"{n // 2**20} MB" if n >= 2**20 else f"{n // 1024} KB" if n >= 4096 else f"{n} bytes"


def for_settings(settings: Settings, *, read_timeout: float | None = None) -> Outbound:
    """The client the configuration asks for: [fetch] allow_private, a User-Agent naming the website."""
    return Outbound(settings.allow_private, user_agent=_default_agent(settings.website),
                    read_timeout=read_timeout or settings.fetch_timeout)

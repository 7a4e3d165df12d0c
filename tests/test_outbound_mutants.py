"""Tests written from the mutants that survived tests/ alone (scripts/mutants)."""

from __future__ import annotations

import dataclasses
import gzip
import socket
import struct
import threading
import time
import zlib

import pytest

from digest.outbound import (Deadline, Outbound, OutboundError, _size, check_address, for_settings, redact,
                             user_agent)

LOCAL = Outbound(allow_private=("127.0.0.0/8", "::1/128"))


class Raw:
    """A server on 127.0.0.1 answering each connection with the next canned bytes; it keeps what it was sent."""

    def __init__(self, *answers: bytes, at_once: bool = False, reset: bool = False):
        self.answers, self.at_once, self.reset = list(answers), at_once, reset
        self.received: list[bytes] = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self, path: str = "/x", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def _serve(self) -> None:
        for answer in self.answers:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                try:
                    self._exchange(conn, answer)
                except OSError:  # the client gave up (a TLS hello, a timeout): the test says what it saw
                    pass

    def _exchange(self, conn: socket.socket, answer: bytes) -> None:
        conn.settimeout(5)
        if self.at_once:  # before reading anything: what a plain server says to a TLS hello
            conn.sendall(answer)
            return
        data = b""
        while b"\r\n\r\n" not in data:
            part = conn.recv(65536)
            if not part:
                break
            data += part
        head, _, rest = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(rest) < length:
            rest += conn.recv(65536)
        self.received.append(head + b"\r\n\r\n" + rest)
        conn.sendall(answer)
        if self.reset:  # end with a reset, not a close: the client's next read fails
            time.sleep(0.2)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def close(self) -> None:
        self.listener.close()

    def request(self, n: int) -> tuple[str, dict[str, str], bytes]:
        head, _, body = self.received[n].partition(b"\r\n\r\n")
        first, *lines = head.decode("latin-1").split("\r\n")
        return first, {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}, body


def answer(status: str = "200 OK", body: bytes = b"", **headers: str) -> bytes:
    head = [f"HTTP/1.1 {status}"] + [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    if "Content_Length" not in headers:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@pytest.fixture
def raw():
    servers = []

    def make(*answers: bytes, at_once: bool = False) -> Raw:
        servers.append(Raw(*answers, at_once=at_once))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def failure(url: str, client: Outbound = LOCAL, **options) -> OutboundError:
    with pytest.raises(OutboundError) as caught:
        client.request(options.pop("method", "GET"), url, **options)
    assert "\n" not in str(caught.value)
    return caught.value


def test_what_is_sent_the_agent_a_closed_connection_and_the_urls_password_as_basic_auth(raw):
    web = raw(answer(body=b"ok"))
    client = Outbound(allow_private=("127.0.0.0/8",), user_agent="digest/test (+https://e.org/)")
    r = client.get(f"http://ed%40home:pa%3Ass@127.0.0.1:{web.port}/feed?a=1", headers={"Accept": "text/xml"})
    assert (r.status, r.reason, r.body) == (200, "OK", b"ok")
    first, headers, _ = web.request(0)
    assert first == "GET /feed?a=1 HTTP/1.1"
    assert headers["user-agent"] == "digest/test (+https://e.org/)" and headers["connection"] == "close"
    assert headers["accept"] == "text/xml"
    assert headers["authorization"] == "Basic ZWRAaG9tZTpwYTpzcw=="  # "ed@home:pa:ss"


def test_a_user_without_a_password_and_no_user_at_all(raw):
    web = raw(answer(), answer())
    LOCAL.get(f"http://ed@127.0.0.1:{web.port}")
    LOCAL.get(web.url("/"))
    assert web.request(0)[0] == "GET / HTTP/1.1" and web.request(0)[1]["authorization"] == "Basic ZWQ6"  # "ed:"
    assert "authorization" not in web.request(1)[1]


def test_a_post_is_sent_with_its_body_and_a_307_sends_it_again(raw):
    web = raw(answer("307 Temporary Redirect", Location="/again"), answer("200 OK", b"done"))
    r = LOCAL.request("POST", web.url("/hook"), body=b'{"a":1}', headers={"Content-Type": "application/json"})
    assert (r.status, r.body, r.history) == (200, b"done", [(307, web.url("/hook"))])
    for n, path in ((0, "/hook"), (1, "/again")):
        first, headers, body = web.request(n)
        assert (first, body, headers["content-type"]) == (f"POST {path} HTTP/1.1", b'{"a":1}', "application/json")


@pytest.mark.parametrize("status", ["303 See Other", "302 Found", "301 Moved Permanently"])
def test_a_post_redirected_by_303_302_or_301_becomes_a_get_without_its_body(raw, status):
    web = raw(answer(status, Location=" /after "), answer("200 OK", b"done"))
    assert LOCAL.request("POST", web.url("/hook"), body=b"payload").body == b"done"
    first, _, body = web.request(1)
    assert (first, body) == ("GET /after HTTP/1.1", b"")


def test_a_get_redirected_by_303_stays_a_get_and_a_put_by_307_stays_a_put(raw):
    web = raw(answer("303 See Other", Location="/b"), answer("200 OK", b"x"),
              answer("308 Permanent Redirect", Location="/d"), answer("200 OK", b"y"))
    assert LOCAL.get(web.url("/a")).body == b"x"
    assert LOCAL.request("PUT", web.url("/c"), body=b"z").body == b"y"
    assert [web.request(n)[0] for n in range(4)] == ["GET /a HTTP/1.1", "GET /b HTTP/1.1", "PUT /c HTTP/1.1",
                                                      "PUT /d HTTP/1.1"]
    assert web.request(3)[2] == b"z"


def test_credentials_go_only_to_the_host_they_were_given_for(raw):
    web = raw(answer("302 Found", Location="/same"), answer("302 Found", Location="PLACEHOLDER"), answer(body=b"x"))
    web.answers[1] = answer("302 Found", Location=web.url("/other", host="localhost"))
    r = LOCAL.get(f"http://ed:pw@127.0.0.1:{web.port}/first", headers={"Cookie": "s=1", "X-Keep": "yes"})
    assert r.body == b"x"
    same, moved = web.request(1)[1], web.request(2)[1]
    assert same["authorization"] == "Basic ZWQ6cHc=" and same["cookie"] == "s=1"
    assert "authorization" not in moved and "cookie" not in moved and moved["x-keep"] == "yes"


def test_five_redirects_are_followed_and_a_sixth_is_refused(raw):
    hops = [answer("302 Found", Location=f"/{n + 1}") for n in range(5)]
    web = raw(*hops, answer(body=b"end"))
    r = LOCAL.get(web.url("/0"))
    assert r.body == b"end" and len(r.history) == 5 and r.url == web.url("/5")
    loop = raw(*[answer("302 Found", Location="/again")] * 6)
    error = failure(loop.url("/start"))
    assert str(error) == f"{loop.url('/start')}: more than 5 redirects" and error.kind == "http"


def test_a_redirect_without_a_location_is_the_answer(raw):
    web = raw(answer("301 Moved Permanently", b"gone"))
    r = LOCAL.get(web.url())
    assert (r.status, r.body, r.history) == (301, b"gone", [])


def test_a_head_reads_no_body_whatever_length_is_declared(raw):
    web = raw(answer("200 OK", Content_Length="5"))
    assert LOCAL.request("HEAD", web.url()).body == b""
    assert web.request(0)[0] == "HEAD /x HTTP/1.1"


def test_204_and_304_read_no_body(raw):
    web = raw(answer("204 No Content"), answer("304 Not Modified"))
    assert (LOCAL.get(web.url()).status, LOCAL.get(web.url()).status) == (204, 304)


@pytest.mark.parametrize("encoding, packed", [
    ("gzip", gzip.compress(b"<rss/>", mtime=0)), (" X-GZIP ", gzip.compress(b"<rss/>", mtime=0)),
    ("deflate", zlib.compress(b"<rss/>")), ("identity", b"<rss/>"), ("", b"<rss/>")])
def test_every_encoding_we_read_is_decoded(raw, encoding, packed):
    web = raw(answer(body=packed, Content_Encoding=encoding))
    assert LOCAL.get(web.url()).body == b"<rss/>"


def test_an_encoding_we_cannot_read_is_one_line(raw):
    web = raw(answer(body=b"xx", Content_Encoding="BR"))
    error = failure(web.url())
    assert str(error) == f"{web.url()}: cannot read a body in 'br' encoding" and error.kind == "http"


def test_a_declared_length_over_the_cap_is_refused_before_reading_and_the_cap_itself_is_allowed(raw):
    web = raw(answer(body=b"x" * 4097), answer(body=b"x" * 4096), answer(body=b"y" * 10))
    error = failure(web.url(), max_bytes=4096)
    assert str(error) == f"{web.url()}: larger than 4 KB" and error.kind == "too_big"
    assert LOCAL.get(web.url(), max_bytes=4096).body == b"x" * 4096
    assert str(failure(web.url(), max_bytes=9)) == f"{web.url()}: larger than 9 bytes"


def test_a_body_without_a_length_is_cut_at_the_cap(raw):
    web = raw(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"z" * 5000,
              b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"z" * 4096)
    error = failure(web.url(), max_bytes=4096)
    assert str(error) == f"{web.url()}: larger than 4 KB" and error.kind == "too_big"
    assert LOCAL.get(web.url(), max_bytes=4096).body == b"z" * 4096


def test_a_gzip_body_exactly_at_the_cap_is_read_and_one_byte_more_is_not(raw):
    web = raw(answer(body=gzip.compress(b"a" * 5000), Content_Encoding="gzip"),
              answer(body=gzip.compress(b"a" * 5001), Content_Encoding="gzip"))
    assert LOCAL.get(web.url(), max_bytes=5000).body == b"a" * 5000
    assert str(failure(web.url(), max_bytes=5000)) == f"{web.url()}: larger than 4 KB once decompressed"


def test_a_compressed_body_larger_than_the_cap_is_refused_even_if_it_inflates_to_less(raw):
    import random

    noise = random.Random(7).randbytes(10240)  # does not compress: its gzip is a little longer
    packed = gzip.compress(noise)
    assert len(packed) > 10250
    web = raw(answer(body=packed, Content_Encoding="gzip"), answer(body=packed, Content_Encoding="gzip"))
    assert str(failure(web.url(), max_bytes=10250)) == f"{web.url()}: larger than 10 KB once decompressed"
    assert LOCAL.get(web.url(), max_bytes=len(packed)).body == noise


def test_a_body_cut_short_is_refused(raw):
    web = raw(answer(body=b"abc", Content_Length="10"))
    error = failure(web.url())
    assert str(error) == f"{web.url()}: download cut short: got 3 of 10 bytes" and error.kind == "http"


def test_a_corrupt_or_truncated_gzip_is_one_line(raw):
    whole = gzip.compress(b"<rss>" * 100)
    web = raw(answer(body=b"\x1f\x8b\x08\x00garbage!", Content_Encoding="gzip"),
              answer(body=whole[: len(whole) // 2], Content_Encoding="gzip"))
    error = failure(web.url())
    assert str(error).startswith(f"{web.url()}: cannot decompress gzip body: ") and error.kind == "http"
    error = failure(web.url())
    assert str(error) == f"{web.url()}: cannot decompress gzip body: it is cut short" and error.kind == "http"


def test_garbage_instead_of_http_is_one_line(raw):
    web = raw(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    error = failure(web.url())
    assert str(error) == f"{web.url()}: not an HTTP answer: BadStatusLine SSH-2.0-OpenSSH_9.6" and error.kind == "http"


def test_a_closed_port_and_a_bad_url_and_tls_to_a_plain_server(raw):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    error = failure(f"http://127.0.0.1:{port}/x")
    assert str(error) == f"http://127.0.0.1:{port}/x: cannot connect: Connection refused" and error.kind == "connect"
    error = failure("http://[::1/x")
    assert str(error).startswith("http://[::1/x: not a URL: ") and error.kind == "refused"
    assert str(failure("http:///x")) == "http:///x: only http and https URLs are fetched"
    plain = raw(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", at_once=True)
    error = failure(f"https://127.0.0.1:{plain.port}/x")
    assert str(error) == f"https://127.0.0.1:{plain.port}/x: TLS failed: WRONG_VERSION_NUMBER"
    assert error.kind == "connect"


def test_a_read_timeout_within_the_deadline_says_timed_out(raw):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/slow"
        error = failure(url, deadline=5.0, read_timeout=0.3)
        assert str(error) == f"{url}: timed out after 0.3 s" and error.kind == "timeout"
        error = failure(url, client=Outbound(allow_private=("127.0.0.0/8",), read_timeout=0.2), deadline=5)
        assert str(error) == f"{url}: timed out after 0.2 s"
    finally:
        listener.close()


def test_a_name_with_a_closed_first_address_falls_through_to_the_next(raw, monkeypatch):
    web = raw(answer(body=b"second"))
    closed = socket.socket()
    closed.bind(("127.0.0.2", 0))
    dead = closed.getsockname()[1]
    closed.close()
    real = socket.getaddrinfo

    def two(host, port, *args, **kwargs):
        if host == "two.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", dead)),
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", web.port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", two)
    assert LOCAL.get(f"http://two.example:{web.port}/").body == b"second"
    assert web.request(0)[1]["host"] == f"two.example:{web.port}"


def test_a_name_that_does_not_resolve_is_one_line(monkeypatch):
    def nowhere(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", nowhere)
    error = failure("http://nowhere.example/feed", client=Outbound())
    assert str(error) == "http://nowhere.example/feed: cannot resolve nowhere.example: Name or service not known"
    assert error.kind == "connect"


def test_a_resolvers_own_bug_is_not_hidden(monkeypatch):
    def broken(host, *args, **kwargs):
        raise RuntimeError("resolver bug")

    monkeypatch.setattr(socket, "getaddrinfo", broken)
    with pytest.raises(RuntimeError, match="resolver bug"):
        Outbound().get("http://bug.example/")


def test_the_default_ports_are_80_and_443(monkeypatch):
    asked = []

    def record(host, port, *args, **kwargs):
        asked.append((host, port))
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", record)
    assert "refused a.example (127.0.0.1), a loopback" in str(failure("http://a.example/", client=Outbound()))
    assert "refused b.example (127.0.0.1), a loopback" in str(failure("https://b.example/", client=Outbound()))
    assert asked == [("a.example", 80), ("b.example", 443)]


def test_scoped_ipv6_reserved_and_allowed_addresses():
    assert check_address("fe80::1%eth0") == "a link-local address"
    assert check_address("::1", LOCAL.allowed) is None
    assert check_address("::ffff:127.0.0.1", LOCAL.allowed) is None  # mapped: judged as the IPv4 inside
    assert check_address("127.0.0.1", Outbound(allow_private=("::1/128",)).allowed) == "a loopback address"
    assert check_address("64:ff9b::a01:203") == "a private address"  # NAT64 of 10.1.2.3
    assert check_address("64:ff9b::5db8:d822") is None  # NAT64 of a public address
    assert check_address("2001:db8::1") == "a private address"
    assert check_address("100.63.255.255") is None and check_address("100.128.0.0") is None


def test_sizes_and_agents_and_deadlines():
    assert (_size(2**20), _size(3 * 2**20 + 1), _size(4096), _size(4095), _size(5000)) == (
        "1 MB", "3 MB", "4 KB", "4095 bytes", "4 KB")
    assert _size(2**20 - 1) == "1023 KB"
    assert user_agent("https://e.org/").endswith(" (+https://e.org/; email news digest)")
    assert user_agent().startswith("digest/") and user_agent().endswith(" (email news digest)")
    assert Deadline(2.5).seconds == 2.5 and 2.4 < Deadline(2.5).left() <= 2.5
    assert redact("https://ed@e.org/f") == "https://ed@e.org/f"
    assert redact("https://ed:p@ss@e.org/f") == "https://ed:***@e.org/f"
    assert redact("http://[::1/x") == "http://[::1/x"


def test_for_settings_takes_the_networks_the_website_and_the_timeout(settings):
    settings = dataclasses.replace(settings, allow_private=("10.1.2.0/24",), website="https://e.org/",
                                   fetch_timeout=7.0)
    client = for_settings(settings)
    assert check_address("10.1.2.3", client.allowed) is None and check_address("10.1.3.3", client.allowed)
    assert client.user_agent == user_agent("https://e.org/") and client.read_timeout == 7.0
    assert for_settings(settings, read_timeout=3.0).read_timeout == 3.0
    assert Outbound().read_timeout == 20.0 and Outbound().user_agent == user_agent()


def test_a_chunked_body_cut_short_is_refused(raw):
    web = raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n")
    error = failure(web.url())
    assert str(error) == f"{web.url()}: download cut short: got 5 bytes, more were due" and error.kind == "http"


def test_a_header_that_cannot_be_sent_is_one_line(raw):
    web = raw(answer())
    error = failure(web.url(), headers={"X-Note": "a\nb"})
    assert str(error) == f"{web.url()}: cannot connect: Invalid header value b'a\\nb'" and error.kind == "connect"


def test_a_name_too_long_to_encode_is_one_line():
    host = "a" * 64 + ".example"
    error = failure(f"http://{host}/", client=Outbound())
    assert str(error) == (f"http://{host}/: cannot resolve {host}: encoding with 'idna' codec failed "
                          "(UnicodeError: label empty or too long)")


def test_a_name_with_no_address_is_one_line(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: [])
    assert str(failure("http://empty.example/", client=Outbound())) == (
        "http://empty.example/: cannot connect: no address for empty.example")


def test_only_a_redirect_status_follows_a_location_and_the_scheme_is_read_in_any_case(raw):
    web = raw(answer("201 Created", b"made", Location="/elsewhere"))
    r = LOCAL.get(web.url().replace("http://", "HTTP://"))
    assert (r.status, r.body, r.history) == (201, b"made", [])


def test_the_callers_headers_win_over_the_defaults(raw):
    web = raw(answer())
    LOCAL.get(web.url(), headers={"User-Agent": "mine/1", "Connection": "keep-alive"})
    headers = web.request(0)[1]
    assert headers["user-agent"] == "mine/1" and headers["connection"] == "keep-alive"


def test_allow_private_takes_host_bits_and_spaces_and_names_what_is_wrong():
    from digest.outbound import parse_networks

    assert [str(n) for n in parse_networks([" 10.1.2.9/24 ", "::1"])] == ["10.1.2.0/24", "::1/128"]
    with pytest.raises(ValueError) as caught:
        parse_networks(["intranet"])
    assert str(caught.value) == "'intranet' is not an address or network like 10.1.2.0/24"


def test_the_agent_names_the_installed_version_or_0_from_a_checkout(monkeypatch):
    from importlib.metadata import PackageNotFoundError, version

    import digest.outbound as outbound

    assert user_agent() == f"digest/{version('digest')} (email news digest)"

    def not_installed(name):
        raise PackageNotFoundError(name)

    monkeypatch.setattr(outbound, "version", not_installed)
    assert user_agent("https://e.org/") == "digest/0 (+https://e.org/; email news digest)"


def test_a_given_tls_context_is_the_one_used(raw):
    import ssl

    used = []

    class Recording(ssl.SSLContext):
        def wrap_socket(self, *args, **kwargs):
            used.append(kwargs.get("server_hostname"))
            return super().wrap_socket(*args, **kwargs)

    plain = raw(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", at_once=True)
    client = Outbound(allow_private=("127.0.0.0/8",), ssl_context=Recording(ssl.PROTOCOL_TLS_CLIENT))
    assert "TLS failed" in str(failure(f"https://127.0.0.1:{plain.port}/x", client=client))
    assert used == ["127.0.0.1"]


def test_a_read_timeout_well_before_the_deadline_is_not_called_the_deadline():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/slow"
        assert str(failure(url, deadline=1.2, read_timeout=0.2)) == f"{url}: timed out after 0.2 s"
    finally:
        listener.close()


def test_a_304_or_204_that_declares_a_length_has_no_body_and_is_not_cut_short(raw):
    web = raw(answer("304 Not Modified", Content_Length="1234"), answer("204 No Content", Content_Length="10"))
    assert (LOCAL.get(web.url()).body, LOCAL.get(web.url()).body) == (b"", b"")


def test_a_length_over_the_cap_is_refused_without_waiting_for_the_body(raw):
    web = raw(answer(body=b"abc", Content_Length="99999"))
    error = failure(web.url(), max_bytes=100)
    assert str(error) == f"{web.url()}: larger than 100 bytes" and error.kind == "too_big"


def test_a_body_read_in_many_pieces_is_whole(raw):
    import random

    body = random.Random(3).randbytes(300_000)
    web = raw(answer(body=body))
    assert LOCAL.get(web.url()).body == body


def test_a_zlib_body_labelled_gzip_is_refused(raw):
    web = raw(answer(body=zlib.compress(b"<rss/>"), Content_Encoding="gzip"))
    error = failure(web.url())
    assert str(error) == (f"{web.url()}: cannot decompress gzip body: Error -3 while decompressing data: "
                          "incorrect header check") and error.kind == "http"


def test_a_connection_reset_in_the_middle_of_the_body_is_one_line():
    web = Raw(answer(body=b"<rss>", Content_Length="100"), reset=True)
    try:
        error = failure(web.url())
    finally:
        web.close()
    assert str(error) == f"{web.url()}: download failed: [Errno 104] Connection reset by peer" and error.kind == "http"


def test_a_resolver_that_never_answers_is_a_timeout(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: time.sleep(2) or [])
    error = failure("http://slow.example/", client=Outbound(), deadline=0.3)
    assert error.kind == "timeout" and str(error).endswith("cannot resolve slow.example: no answer within the deadline")

"""The one outbound HTTP client: it cannot be pointed inside, and one deadline ends every request.

A real HTTP server on 127.0.0.1 (tests/feed_server.py); the client allows
only 127.0.0.1/32 where a test needs to reach it, so every other internal
address stays refused.
"""

from __future__ import annotations

import gzip
import socket
import time

import pytest

from digest.outbound import Deadline, Outbound, OutboundError, check_address, redact
from feed_server import feed_server  # noqa: F401  (the fixture)

LOCAL = Outbound(allow_private=("127.0.0.1/32",))
NOBODY = Outbound()


def refused(client: Outbound, url: str, **options) -> str:
    with pytest.raises(OutboundError) as caught:
        client.get(url, **options)
    line = str(caught.value)
    assert "\n" not in line and caught.value.kind == "refused", line
    return line


def test_loopback_and_metadata_addresses_are_refused_before_any_connect():
    assert refused(NOBODY, "http://127.0.0.1:9/x") == (
        "http://127.0.0.1:9/x: refused 127.0.0.1, a loopback address (digest fetches only public addresses; "
        "an intranet's goes in [fetch] allow_private)")
    assert "169.254.169.254, a link-local address" in refused(NOBODY, "http://169.254.169.254/latest/meta-data/")
    assert "::1, a loopback address" in refused(NOBODY, "http://[::1]:9/x")
    assert "127.0.0.1, a loopback address" in refused(NOBODY, "http://[::ffff:127.0.0.1]:9/x")
    named = refused(NOBODY, "http://localhost:9/x")
    assert "refused localhost (" in named and ", a loopback address" in named


@pytest.mark.parametrize("ip, what", [
    ("10.1.2.3", "a private"), ("172.16.0.1", "a private"), ("192.168.1.1", "a private"),
    ("100.64.0.1", "a carrier-grade NAT"), ("224.0.0.1", "a multicast"), ("239.255.255.250", "a multicast"),
    ("0.0.0.0", "an unspecified"), ("240.0.0.1", "a private"), ("255.255.255.255", "a private"),
    ("fe80::1", "a link-local"), ("fc00::1", "a private"), ("ff02::1", "a multicast"), ("::", "an unspecified"),
    ("::ffff:10.0.0.1", "a private"), ("64:ff9b::7f00:1", "a loopback"), ("2002:7f00:1::", "a loopback"),
    ("192.0.2.1", "a private"), ("198.18.0.1", "a private"),
])
def test_every_internal_range_is_named(ip, what):
    assert check_address(ip) == f"{what} address"


def test_public_addresses_pass_and_allow_private_lets_a_network_through():
    from digest.outbound import parse_networks

    assert check_address("93.184.216.34") is None and check_address("2606:2800:220:1::1") is None
    intranet = parse_networks(["10.1.2.0/24"])
    assert check_address("10.1.2.9", intranet) is None
    assert check_address("::ffff:10.1.2.9", intranet) is None
    assert check_address("10.1.3.9", intranet) == "a private address"
    with pytest.raises(ValueError, match="not an address or network"):
        parse_networks(["10.1.2.0/33"])


def test_a_name_is_checked_by_every_address_it_resolves_to(monkeypatch):
    """A name with one public and one internal address is refused: the check is of
    what the connect would use, so a rebinding answer cannot slip past."""
    real = socket.getaddrinfo

    def two_answers(host, port, *args, **kwargs):
        if host == "rebind.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", two_answers)
    assert "rebind.example (127.0.0.1), a loopback address" in refused(NOBODY, "http://rebind.example/feed")


def test_a_redirect_to_loopback_is_checked_again(feed_server):
    web = feed_server
    web.serve("/secret", b"internal")
    port = web.base.rsplit(":", 1)[1]
    web.redirect("/to-loopback", f"http://127.0.0.2:{port}/secret", status=302)
    web.redirect("/to-v6", f"http://[::1]:{port}/secret", status=301)
    assert refused(LOCAL, web.url("/to-loopback")) == (
        f"{web.url('/to-loopback')}: redirected to http://127.0.0.2:{port}/secret: refused 127.0.0.2, a loopback "
        "address (digest fetches only public addresses; an intranet's goes in [fetch] allow_private)")
    assert "redirected to http://[::1]" in refused(LOCAL, web.url("/to-v6"))


def test_a_redirect_to_ftp_or_file_is_refused(feed_server):
    web = feed_server
    web.redirect("/to-ftp", "ftp://127.0.0.1/etc/passwd", status=302)
    web.redirect("/to-file", "file:///etc/passwd", status=301)
    assert refused(LOCAL, web.url("/to-ftp")) == (
        f"{web.url('/to-ftp')}: redirected to ftp://127.0.0.1/etc/passwd: only http and https URLs are fetched")
    assert "only http and https" in refused(LOCAL, web.url("/to-file"))
    assert refused(LOCAL, "ftp://127.0.0.1/x") == "ftp://127.0.0.1/x: only http and https URLs are fetched"


def test_https_only_refuses_http_and_a_redirect_down_to_it(feed_server):
    assert refused(LOCAL, feed_server.url("/x"), https_only=True) == (
        f"{feed_server.url('/x')}: only https is allowed here")


def test_a_dripping_server_is_cut_off_by_the_one_deadline(feed_server):
    web = feed_server
    web.drip("/drip", every=0.2)  # never trips the 2 s read timeout
    started = time.monotonic()
    with pytest.raises(OutboundError) as caught:
        LOCAL.get(web.url("/drip"), deadline=1.0, read_timeout=2)
    assert time.monotonic() - started < 1.8
    assert str(caught.value) == f"{web.url('/drip')}: cut off by the overall deadline of 1 s"
    assert caught.value.kind == "timeout"


def test_one_deadline_is_shared_by_several_requests(feed_server):
    web = feed_server
    web.serve("/page", b"x")
    web.drip("/drip", every=0.2)
    shared = Deadline(1.0)
    assert LOCAL.get(web.url("/page"), deadline=shared).body == b"x"
    with pytest.raises(OutboundError, match="deadline of 1 s"):
        LOCAL.get(web.url("/drip"), deadline=shared)
    with pytest.raises(OutboundError, match="deadline of 1 s"):  # nothing is left for a next page
        LOCAL.get(web.url("/page"), deadline=shared)


def test_a_stall_past_the_deadline_but_within_the_read_timeout_is_cut_at_the_deadline():
    """A server that accepts and then says nothing: the read waits what is left of the deadline, not 20 s."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/stall"
    try:
        started = time.monotonic()
        with pytest.raises(OutboundError, match="deadline of 0.5 s"):
            LOCAL.get(url, deadline=0.5, read_timeout=20)
        assert time.monotonic() - started < 1.5
    finally:
        listener.close()


def test_redirects_are_followed_and_listed(feed_server):
    web = feed_server
    web.serve("/new", b"body")
    web.redirect("/old", "/moved", status=302)
    web.redirect("/moved", "/new", status=301)
    r = LOCAL.get(web.url("/old"))
    assert (r.status, r.body, r.url) == (200, b"body", web.url("/new"))
    assert r.history == [(302, web.url("/old")), (301, web.url("/moved"))]
    r = LOCAL.get(web.url("/old"), follow_redirects=False)
    assert (r.status, r.headers["Location"], r.body) == (302, "/moved", b"")


def test_a_gzip_body_is_never_inflated_past_the_cap(feed_server):
    web = feed_server
    web.serve("/bomb", gzip.compress(b" " * (8 * 2**20)), headers={"Content-Encoding": "gzip"})
    with pytest.raises(OutboundError) as caught:
        LOCAL.get(web.url("/bomb"), max_bytes=2**20)
    assert str(caught.value) == f"{web.url('/bomb')}: larger than 1 MB once decompressed"
    assert caught.value.kind == "too_big"


def test_a_password_in_a_url_is_never_printed():
    assert redact("https://ed:s3cret@www.example.org/feed") == "https://ed:***@www.example.org/feed"
    assert redact("https://www.example.org/feed") == "https://www.example.org/feed"
    line = refused(NOBODY, "http://ed:s3cret@127.0.0.1:9/feed")
    assert "s3cret" not in line and "ed:***@127.0.0.1" in line

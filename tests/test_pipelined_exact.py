"""The pipelined SMTP client, exactly: every line it sends, every outcome and error it gives, every decision.

What scripts/mutants runs (with test_relay_session and the client tests of
test_one_trip and test_relay) against sending/transports/pipelined.py, so
each test is quick and asserts what a relay or the worker can observe: the
commands in order (the AUTH exchange, RSET after a failed transaction, the
"." of an abandoned DATA, QUIT), outcomes as SendResults, exceptions and
their one-line messages, `busy` (fewer connections) and `out_of_step` (two
round trips from now on). The relay is written here (asyncio, 127.0.0.1, in
the test's own event loop) and answers each line as the test says; no
database, no send worker.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import time

import pytest

from digest.config import SmtpSettings
from digest.errors import DeliveryError
from digest.sending.transports import Dropped, Envelope, SendResult
from digest.sending.transports.base import RelayUnusable, TimedOut
from digest.sending.transports.pipelined import (SmtpRelay, _answers, _busy, _refused, _stuffed, _unsure, _verdict,
                                                 _why)
from digest.sending.transports.smtp import SmtpTransport
from smtp_server import make_certificate

FROM = "news@example.org"
PIPELINING = b"250-relay.test\r\n250-PIPELINING\r\n250 SIZE 10000000\r\n"
PLAIN_EHLO = b"250-relay.test\r\n250 SIZE 10000000\r\n"  # no PIPELINING
QUICK = SmtpSettings(connect_timeout=0.5, greeting_timeout=0.5, command_timeout=0.5, data_timeout=0.5)

DEFAULTS = {b"EHLO": PIPELINING, b"HELO": b"250 relay.test\r\n", b"MAIL": b"250 2.1.0 ok\r\n",
            b"RCPT": b"250 2.1.5 ok\r\n", b"DATA": b"354 go ahead\r\n", b".": b"250 2.0.0 queued as 1\r\n",
            b"RSET": b"250 2.0.0 reset\r\n", b"QUIT": b"221 2.0.0 bye\r\n", b"STARTTLS": b"220 2.0.0 go ahead\r\n",
            b"NOOP": b"250 ok\r\n"}


class Wire:
    """A relay answering each line by `table` (a prefix -> reply; a callable, or None to hang up; b"" is silence).

    `lines` is every command that arrived (a message's body as one entry, then
    b"."), `closed` is set when the client hangs up.
    """

    def __init__(self, table: dict | None = None, greeting: bytes | None = b"220 relay.test ESMTP\r\n",
                 tls: ssl.SSLContext | None = None):
        self.table = {**DEFAULTS, **(table or {})}
        self.greeting, self.tls = greeting, tls
        self.lines: list[bytes] = []
        self.closed = asyncio.Event()

    def answer(self, line: bytes) -> bytes | None:
        for prefix in sorted(self.table, key=len, reverse=True):
            if line.upper().startswith(prefix.upper()):
                reply = self.table[prefix]
                return reply(line) if callable(reply) else reply
        return b"500 5.5.2 what\r\n"

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.greeting:
            writer.write(self.greeting)
        body, in_data = bytearray(), False
        try:
            while line := await reader.readline():
                if in_data and line != b".\r\n":
                    body += line
                    continue
                if in_data and body:
                    self.lines.append(bytes(body))
                if in_data:
                    body, in_data = bytearray(), False
                self.lines.append(line.rstrip(b"\r\n"))
                reply = self.answer(self.lines[-1])
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
                in_data = reply.startswith(b"354")
                if self.lines[-1].upper() == b"STARTTLS" and reply.startswith(b"220") and self.tls:
                    await writer.start_tls(self.tls)
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            self.closed.set()
            writer.close()

    def run(self, script, user: str | None = None, password: str = "pa ss", scheme: str = "smtp",
            timeouts: SmtpSettings = QUICK, host: str = "127.0.0.1", **relay_args):
        """asyncio.run(script(relay)) with this relay listening; `relay` is the client's SmtpRelay."""

        async def go():
            server = await asyncio.start_server(self.session, host, 0,
                                                ssl=self.tls if scheme == "smtps" else None)
            port = server.sockets[0].getsockname()[1]
            auth = f"{user}:{password}@" if user else ""
            name = relay_args.pop("local_hostname", None)
            relay = SmtpRelay.from_url(f"{scheme}://{auth}{host}:{port}", timeouts=timeouts, **relay_args)
            relay.local_hostname = name or relay.local_hostname
            try:  # a guard: a client that waits forever fails here, not at mutmut's much later timeout
                return await asyncio.wait_for(script(relay), 8)
            finally:
                server.close()

        return asyncio.run(go())


def envelope(*recipients: str) -> Envelope:
    return Envelope(FROM, recipients or ("a@example.org",))


def message(n: int = 1) -> bytes:
    return f"Subject: {n}\r\n\r\nHello {n}.\r\n".encode()


def mail(data: bytes = message(), options: str = "") -> bytes:
    return f"MAIL FROM:<{FROM}> SIZE={len(data)}{options}".encode()


async def refused_connect(relay: SmtpRelay):
    with pytest.raises((Dropped, RelayUnusable, TimedOut)) as caught:
        await relay.connect()
    return caught.value


async def closed_soon(wire: Wire) -> bool:
    """Did the client hang up (within half a second)?"""
    try:
        await asyncio.wait_for(wire.closed.wait(), 0.5)
    except TimeoutError:
        return False
    return True


def ok(code: int = 250, text: str = "2.0.0 queued as 1") -> SendResult:
    return SendResult(True, False, code, f"{code} {text}")


# -- the pure parts -----------------------------------------------------------------------------


@pytest.mark.parametrize("code, text, busy", [
    (421, "4.7.0 anything", True), (554, "Too Many connections", True), (554, "please TRY AGAIN LATER", True),
    (550, "server Busy", True), (550, "no more CONCURRENT sessions", True), (554, "go away", False),
    (450, "not now", False), (420, "", False),
])
def test_busy_is_a_421_or_words_asking_for_fewer_connections(code, text, busy):
    assert _busy(code, text) is busy


def test_why_a_connection_broke_is_said_in_words():
    assert _why(TimeoutError()) == "timed out"
    assert _why(asyncio.IncompleteReadError(b"", 4)) == "connection closed by the server"
    assert _why(ConnectionResetError(104, "Connection reset by peer")) == "[Errno 104] Connection reset by peer"
    assert _why(BrokenPipeError()) == "BrokenPipeError"
    assert _why(EOFError("the end")) == "the end"


@pytest.mark.parametrize("code, permanent", [(550, True), (500, True), (599, True), (499, False), (600, False),
                                             (451, False)])
def test_a_refusal_is_permanent_for_5xx_only(code, permanent):
    assert _refused("RCPT TO <a@x>", code, "no  such\r\n user") == SendResult(
        False, permanent, code, f"RCPT TO <a@x>: {code} no such user")


@pytest.mark.parametrize("command, code, fits", [
    (b"DATA", 354, True), (b"DATA", 400, True), (b"DATA", 399, False), (b"DATA", 250, False), (b"DATA", 599, True),
    (b"DATA", 600, False), (b"MAIL FROM:<a>", 250, True), (b"MAIL FROM:<a>", 200, True),
    (b"MAIL FROM:<a>", 199, False), (b"MAIL FROM:<a>", 300, False), (b"MAIL FROM:<a>", 399, False),
    (b"MAIL FROM:<a>", 400, True), (b"MAIL FROM:<a>", 599, True), (b"MAIL FROM:<a>", 600, False),
    (b".", 354, False), (b".", 550, True), (b"RCPT TO:<a>", -1, False),
])
def test_which_reply_code_fits_which_command(command, code, fits):
    assert _answers(command, code) is fits


def test_the_unsure_outcome_says_the_message_may_have_gone():
    assert _unsure() == SendResult(False, False, None, 'the relay answered out of step after the final ".": it may '
                                                       "have been accepted")


@pytest.mark.parametrize("data, stuffed, end", [
    (b"a\r\n.b\r\n", b"a\r\n..b\r\n", b".\r\n"),
    (b".a\r\nb", b"..a\r\nb", b"\r\n.\r\n"),
    (b"a\r\n.\r\n..\r\n", b"a\r\n..\r\n...\r\n", b".\r\n"),
    (b"a", b"a", b"\r\n.\r\n"),
])
def test_a_body_is_dot_stuffed_and_ended(data, stuffed, end):
    assert _stuffed(data) == (stuffed, end)


def test_the_verdict_on_an_envelope_names_the_first_refusal():
    env = envelope("a@x", "b@x", "c@x")
    fine = [(250, "ok"), (250, "ok"), (251, "forwarded"), (250, "ok"), (354, "go")]
    assert _verdict(env, fine) == []
    assert _verdict(env, [(250, "ok"), (550, "no a"), (250, "ok"), (450, "later c"), (354, "go")]) == [
        ("a@x", 550, "no a"), ("c@x", 450, "later c")]
    assert _verdict(env, [(553, "bad sender"), (250, "ok"), (250, "ok"), (250, "ok"), (354, "go")]) == SendResult(
        False, True, 553, "MAIL FROM: 553 bad sender")
    assert _verdict(env, [(250, "ok"), (450, "no a"), (550, "no b"), (551, "no c"), (354, "go")]) == SendResult(
        False, False, 450, "RCPT TO <a@x>: 450 no a")
    assert _verdict(env, [(250, "ok"), (250, "ok"), (250, "ok"), (250, "ok"), (554, "no data")]) == SendResult(
        False, True, 554, "DATA: 554 no data")
    assert _verdict(env, [(250, "ok"), (250, "ok"), (250, "ok"), (250, "ok"), (250, "odd")]) == SendResult(
        False, False, 250, "DATA: 250 odd")


# -- the relay and its connection ------------------------------------------------------------------


def test_the_relay_checks_its_security_and_remembers_how_to_reach_the_relay():
    with pytest.raises(DeliveryError) as caught:
        SmtpRelay("h", 25, security="ssl")
    assert str(caught.value) == "SMTP security must be plain, starttls or tls, not 'ssl'"
    for security in ("plain", "starttls", "tls"):
        assert SmtpRelay("h", 25, security=security).security == security
    relay = SmtpRelay("mx.example.org", 2525)
    assert (relay.host, relay.port, relay.url, relay.username, relay.opened) == ("mx.example.org", 2525,
                                                                               "mx.example.org:2525", None, 0)
    assert relay.local_hostname == socket.getfqdn() and relay.timeouts == SmtpSettings() and relay.one_trip
    assert repr(relay) == "<SmtpRelay mx.example.org:2525>"
    assert not SmtpRelay("h", 25, timeouts=SmtpSettings(round_trips=2)).one_trip
    assert SmtpRelay("h", 25, local_hostname="me.example").local_hostname == "me.example"


def test_from_url_takes_every_part_of_the_url():
    url, timeouts, context = "smtp+starttls://us%40er:p%3Ass@mx.example.org:2525", SmtpSettings(
        command_timeout=7), ssl.create_default_context()
    relay = SmtpRelay.from_url(url, timeouts=timeouts, ssl_context=context)
    plain = SmtpTransport.from_url(url)
    assert (relay.host, relay.port, relay.security, relay.username, relay._password, relay.url) == (
        "mx.example.org", 2525, "starttls", "us@er", "p:ss", plain.url)
    assert relay.timeouts is timeouts and relay._context() is context and repr(relay) == f"<SmtpRelay {plain.url}>"
    with pytest.raises(DeliveryError):
        SmtpRelay.from_url("http://mx.example.org")


def test_the_default_tls_context_checks_certificates_and_is_made_once():
    relay = SmtpRelay("h", 25, security="tls")
    context = relay._context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname and relay._context() is context


def test_a_connection_counts_itself_and_sends_without_nagle():
    wire = Wire()

    async def script(relay):
        first = await relay.connect()
        second = await relay.connect()
        nodelay = first.writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        first.abort(), second.abort()
        return relay.opened, nodelay, first.messages, first.closed, first.holding

    assert wire.run(script) == (2, 1, 0, True, False)


def test_ehlo_names_us_in_idna_and_reads_each_extension():
    wire = Wire({b"EHLO": b"250-relay.test says hi\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-Auth Plain LOGIN\r\n"
                          b"250 8BITMIME\r\n"})

    async def script(relay):
        conn = await relay.connect()
        conn.abort()
        return conn

    conn = wire.run(script, local_hostname="bücher.example")
    assert wire.lines == [b"EHLO xn--bcher-kva.example"]
    assert conn.extensions == {"pipelining": "", "size": "1000", "auth": "Plain LOGIN", "8bitmime": ""}
    assert conn.esmtp and conn.pipelining and conn.one_trip


def test_two_round_trips_when_asked_or_when_the_relay_does_not_pipeline():
    async def script(relay):
        conn = await relay.connect()
        conn.abort()
        return conn.pipelining, conn.one_trip

    assert Wire().run(script, timeouts=SmtpSettings(round_trips=2)) == (True, False)
    assert Wire({b"EHLO": PLAIN_EHLO}).run(script) == (False, False)


def test_a_multi_line_reply_is_read_whole_and_garbage_is_no_code():
    wire = Wire(greeting=b"554-relay.test\r\n554-no \xff entry\r\n554 go away\r\n")
    exc = wire.run(refused_connect)
    assert isinstance(exc, RelayUnusable) and exc.reason if False else str(exc).endswith(
        ": 554 relay.test no \ufffd entry go away")
    exc = Wire(greeting=b"hello there\r\n").run(refused_connect)
    assert isinstance(exc, RelayUnusable) and str(exc).endswith(": -1 o there")


@pytest.mark.parametrize("greeting, kind", [(b"400 x", Dropped), (b"499 x", Dropped), (b"500 x", RelayUnusable),
                                            (b"399 x", RelayUnusable)])
def test_a_greeting_refused_with_4xx_asks_for_fewer_connections(greeting, kind):
    wire = Wire(greeting=greeting + b"\r\n")

    async def script(relay):
        exc = await refused_connect(relay)
        return relay.url, exc, await closed_soon(wire), relay.opened

    url, exc, closed, opened = wire.run(script)
    assert type(exc) is kind and str(exc) == f"greeting of {url}: {greeting.decode()}" and closed and opened == 0
    assert kind is RelayUnusable or exc.busy


def test_a_relay_that_never_greets_times_out_and_is_hung_up_on():
    wire = Wire(greeting=None)

    async def script(relay):
        started = time.monotonic()
        exc = await refused_connect(relay)
        return relay.url, exc, time.monotonic() - started, await closed_soon(wire)

    url, exc, took, closed = wire.run(script, timeouts=SmtpSettings(greeting_timeout=0.3, command_timeout=9))
    assert isinstance(exc, TimedOut) and closed and 0.25 < took < 6  # 0.3 s, not 9 (room for a loaded machine)
    assert str(exc) == f"{url} did not answer with its greeting (or to EHLO, STARTTLS, AUTH) within 0.3 s"


def test_a_relay_that_hangs_up_instead_of_greeting_drops_the_connection():
    wire = Wire(greeting=None, table={})

    async def script(relay):
        async def hang_up(reader, writer):
            writer.close()

        server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
        relay.port = server.sockets[0].getsockname()[1]
        relay.url = f"127.0.0.1:{relay.port}"
        try:
            return relay.url, await refused_connect(relay)
        finally:
            server.close()

    url, exc = wire.run(script)
    assert type(exc) is Dropped and not exc.busy
    assert str(exc) == (f"connect to {url}: IncompleteReadError 0 bytes read on a total of undefined expected bytes")


def test_a_refused_connection_stops_the_run_in_the_words_of_the_system():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    relay = SmtpRelay.from_url(f"smtp://127.0.0.1:{port}")
    exc = asyncio.run(refused_connect(relay))
    assert type(exc) is RelayUnusable and str(exc) == f"connect to {relay.url}: [Errno 111] Connection refused"


def test_a_connection_that_never_completes_times_out():
    # A listening socket whose queue is full: the next SYN is dropped and the connection hangs.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(0)
        port = s.getsockname()[1]
        filler = []
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            filler.append(c)
        time.sleep(0.1)
        relay = SmtpRelay.from_url(f"smtp://127.0.0.1:{port}", timeouts=SmtpSettings(connect_timeout=0.3))
        started = time.monotonic()
        exc = asyncio.run(refused_connect(relay))
        took = time.monotonic() - started
        for c in filler:
            c.close()
    assert type(exc) is TimedOut and 0.25 < took < 10  # the 0.3 s given, not the default 30 s (a loaded machine is slow)
    assert str(exc) == f"{relay.url} did not answer to the connection within 0.3 s"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


def server_context(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


def client_context(certificate) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


@pytest.mark.parametrize("scheme", ["smtps", "smtp+starttls"])
def test_tls_with_a_certificate_we_trust_speaks_ehlo_again_inside(scheme, certificate):
    wire = Wire({b"EHLO": lambda line: (PIPELINING if len(wire.lines) > 2 or scheme == "smtps"
                                        else b"250-relay.test\r\n250 STARTTLS\r\n")}, tls=server_context(certificate))

    async def script(relay):
        conn = await relay.connect()
        result = await conn.send(envelope(), message())
        await conn.quit()
        return conn.extensions, conn.writer.get_extra_info("ssl_object") is not None, result

    extensions, tls, result = wire.run(script, scheme=scheme, ssl_context=client_context(certificate))
    assert tls and extensions == {"pipelining": "", "size": "10000000"} and result == ok(text="2.0.0 queued as 1")
    name = socket.getfqdn().encode("idna")
    start = [b"EHLO " + name, b"STARTTLS"] if scheme == "smtp+starttls" else []
    assert wire.lines == [*start, b"EHLO " + name, mail(), b"RCPT TO:<a@example.org>", b"DATA", message(), b".",
                          b"QUIT"]


@pytest.mark.parametrize("scheme", ["smtps", "smtp+starttls"])
def test_tls_with_a_certificate_we_do_not_trust_stops_the_run(scheme, certificate):
    wire = Wire({b"EHLO": b"250-relay.test\r\n250 STARTTLS\r\n"}, tls=server_context(certificate))

    async def script(relay):
        return relay.url, await refused_connect(relay)

    url, exc = wire.run(script, scheme=scheme)
    assert type(exc) is RelayUnusable and exc.result.fatal
    assert str(exc) == f"TLS with {url}: self-signed certificate"


def test_tls_to_a_relay_that_does_not_speak_it_stops_the_run():
    async def script(relay):
        return relay.url, await refused_connect(relay)

    url, exc = Wire().run(script, scheme="smtps")
    assert type(exc) is RelayUnusable and str(exc) == f"TLS handshake with {url} failed: WRONG_VERSION_NUMBER"
    wire = Wire({b"EHLO": b"250-relay.test\r\n250 STARTTLS\r\n", b"STARTTLS": b"220 go ahead\r\nthis is not TLS\r\n"})
    url, exc = wire.run(script, scheme="smtp+starttls")
    assert type(exc) is RelayUnusable and str(exc) == f"TLS handshake with {url} failed: WRONG_VERSION_NUMBER"


@pytest.mark.parametrize("reply, kind", [(b"454 4.7.0 TLS not available now", Dropped),
                                         (b"554 5.7.0 no TLS for you", RelayUnusable)])
def test_a_refused_starttls_is_one_line(reply, kind):
    wire = Wire({b"EHLO": b"250-relay.test\r\n250 STARTTLS\r\n", b"STARTTLS": reply + b"\r\n"})

    async def script(relay):
        return relay.url, await refused_connect(relay), await closed_soon(wire)

    url, exc, closed = wire.run(script, scheme="smtp+starttls")
    assert type(exc) is kind and str(exc) == f"STARTTLS at {url}: {reply.decode()}" and closed
    assert wire.lines[1:] == [b"STARTTLS"]


def test_starttls_not_offered_stops_the_run_before_anything_is_sent():
    async def script(relay):
        return relay.url, await refused_connect(relay)

    wire = Wire()
    url, exc = wire.run(script, scheme="smtp+starttls")
    assert type(exc) is RelayUnusable and str(exc) == f"{url}: STARTTLS extension not supported by server."
    assert len(wire.lines) == 1


# -- AUTH ----------------------------------------------------------------------------------------


def auth_wire(offer: bytes, table: dict) -> Wire:
    return Wire({b"EHLO": b"250-relay.test\r\n250-PIPELINING\r\n250 " + offer + b"\r\n", **table})


async def connected(relay):
    conn = await relay.connect()
    conn.abort()
    return relay.url, conn


def test_auth_plain_in_utf8_when_offered_in_any_case():
    wire = auth_wire(b"auth login plain", {b"AUTH": b"235 2.7.0 ok\r\n"})
    wire.run(connected, user="n%C3%BCws", password="p%C3%A4ss")
    assert wire.lines[1:] == [b"AUTH PLAIN " + base64.b64encode("\0nüws\0päss".encode())]


def test_auth_login_exchange_in_utf8():
    wire = auth_wire(b"AUTH LOGIN", {b"AUTH LOGIN": b"334 VXNlcm5hbWU6\r\n",
                                     base64.b64encode("nüws".encode()): b"334 UGFzc3dvcmQ6\r\n",
                                     base64.b64encode("päss".encode()): b"235 2.7.0 ok\r\n"})
    url, conn = wire.run(connected, user="n%C3%BCws", password="p%C3%A4ss")
    assert wire.lines[1:] == [b"AUTH LOGIN", base64.b64encode("nüws".encode()), base64.b64encode("päss".encode())]


@pytest.mark.parametrize("table, sent, reply, kind, busy", [
    ({b"AUTH LOGIN": b"504 5.5.4 not now\r\n"}, 1, "504 5.5.4 not now", RelayUnusable, None),
    ({b"AUTH LOGIN": b"334 VXNlcm5hbWU6\r\n", b"bmV3cw": b"334 UGFzc3dvcmQ6\r\n", b"cGEgc3M": b"535 5.7.8 bad\r\n"},
     3, "535 5.7.8 bad", RelayUnusable, None),
    ({b"AUTH LOGIN": b"334 VXNlcm5hbWU6\r\n", b"bmV3cw": b"421 4.7.0 too many\r\n"}, 2, "421 4.7.0 too many",
     Dropped, True),
])
def test_auth_login_refused_at_each_step(table, sent, reply, kind, busy):
    wire = auth_wire(b"AUTH LOGIN", table)

    async def script(relay):
        return relay.url, await refused_connect(relay), await closed_soon(wire)

    url, exc, closed = wire.run(script, user="news")
    assert type(exc) is kind and str(exc) == f"AUTH at {url}: {reply}" and closed
    assert len(wire.lines) == 1 + sent
    if busy is not None:
        assert exc.busy is busy


@pytest.mark.parametrize("code, kind, busy", [(400, Dropped, False), (499, Dropped, False), (455, Dropped, False),
                                              (454, RelayUnusable, None), (500, RelayUnusable, None),
                                              (334, RelayUnusable, None), (250, RelayUnusable, None),
                                              (236, RelayUnusable, None), (421, Dropped, True)])
def test_what_each_auth_reply_code_means(code, kind, busy):
    wire = auth_wire(b"AUTH PLAIN", {b"AUTH": f"{code} x\r\n".encode()})

    async def script(relay):
        return relay.url, await refused_connect(relay)

    url, exc = wire.run(script, user="news")
    assert type(exc) is kind and str(exc) == f"AUTH at {url}: {code} x"
    if busy is not None:
        assert exc.busy is busy


def test_no_user_no_auth_even_when_offered():
    wire = auth_wire(b"AUTH PLAIN", {})
    url, conn = wire.run(connected)
    assert wire.lines == [b"EHLO " + socket.getfqdn().encode("idna")] and not conn.closed is False


def test_auth_offered_only_in_lower_case_keyword_is_found():
    wire = Wire({b"EHLO": b"250-relay.test\r\n250 auth PLAIN\r\n", b"AUTH": b"235 ok\r\n"})
    wire.run(connected, user="news")
    assert wire.lines[1:] == [b"AUTH PLAIN " + base64.b64encode(b"\0news\0pa ss")]


# -- sending, two round trips ---------------------------------------------------------------------


def sending(wire: Wire, *items, user=None, **args):
    """Connect, send() each (envelope, message), quit: the results and the connection."""

    async def script(relay):
        conn = await relay.connect()
        results = []
        for env, data in items:
            try:
                results.append(await conn.send(env, data))
            except (Dropped, TimedOut) as exc:
                results.append(exc)
        await conn.quit()
        return results, conn

    return wire.run(script, user=user, **args)


def test_send_two_messages_on_one_connection():
    wire = Wire()
    (one, two), conn = sending(wire, (envelope(), message(1)), (envelope("b@example.org", "c@example.org"),
                                                                message(2)))
    assert one == two == ok() and conn.messages == 2 and conn.closed
    assert wire.lines[1:] == [mail(message(1)), b"RCPT TO:<a@example.org>", b"DATA", message(1), b".",
                              mail(message(2)), b"RCPT TO:<b@example.org>", b"RCPT TO:<c@example.org>", b"DATA",
                              message(2), b".", b"QUIT"]


def test_a_message_with_no_recipients_is_not_sent_or_counted():
    wire = Wire()
    (result,), conn = sending(wire, (Envelope(FROM, ()), message()))
    assert result == SendResult(False, True, None, "no recipients") and conn.messages == 0
    assert wire.lines[1:] == [b"QUIT"]


def test_mail_from_options_follow_the_extensions():
    data = "Subject: é\r\n\r\nCafé\r\n".encode()
    wire = Wire({b"EHLO": b"250-relay.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 100\r\n"})
    results, _ = sending(wire, (envelope(), data), (envelope(), message()), (Envelope(FROM, ("é@example.org",)),
                                                                             message()))
    assert results == [ok()] * 3
    mails = [line for line in wire.lines if line.startswith(b"MAIL")]
    assert mails == [mail(data, " BODY=8BITMIME"), mail(), mail(options=" SMTPUTF8")]


def test_no_options_to_a_relay_without_esmtp_and_no_8bitmime_unless_offered():
    data = "Subject: é\r\n\r\nCafé\r\n".encode()
    results, _ = sending(wire := Wire({b"EHLO": b"502 no\r\n"}), (envelope(), data))
    assert results == [ok()] and wire.lines[2] == f"MAIL FROM:<{FROM}>".encode()
    results, _ = sending(wire := Wire({b"EHLO": b"250-relay.test\r\n250 PIPELINING\r\n"}), (envelope(), data))
    assert results == [ok()] and wire.lines[1] == f"MAIL FROM:<{FROM}>".encode()


def test_an_international_address_needs_smtputf8():
    wire = Wire()
    results, conn = sending(wire, (Envelope(FROM, ("a@example.org", "zoë@example.org")), message()),
                            (Envelope("bounce-é@example.org", ("a@example.org",)), message()))
    url = conn.relay.url
    assert results == [SendResult(False, True, None, f"{url} does not support SMTPUTF8, needed for zoë@example.org"),
                       SendResult(False, True, None, f"{url} does not support SMTPUTF8, needed for "
                                                     "bounce-é@example.org")]
    assert wire.lines[1:] == [b"QUIT"] and conn.messages == 0


def test_a_refused_envelope_sends_rset_before_the_next_one():
    wire = Wire({b"RCPT TO:<gone": b"550 5.1.1 no such user\r\n", b"DATA": lambda line: (
        b"554 5.5.1 no valid recipients\r\n" if wire.lines[-2].startswith(b"RCPT TO:<gone") else b"354 go\r\n")})
    results, _ = sending(wire, (envelope("gone@example.org"), message(1)), (envelope(), message(2)))
    assert results == [SendResult(False, True, 550, "RCPT TO <gone@example.org>: 550 5.1.1 no such user"), ok()]
    assert wire.lines[1:] == [mail(message(1)), b"RCPT TO:<gone@example.org>", b"DATA", b"RSET", mail(message(2)),
                              b"RCPT TO:<a@example.org>", b"DATA", message(2), b".", b"QUIT"]


def test_a_data_accepted_with_nobody_to_deliver_to_is_ended_at_once():
    wire = Wire({b"RCPT TO:<gone": b"550 5.1.1 no such user\r\n", b".": lambda line: (
        b"554 5.5.1 no recipients\r\n" if b"gone" in wire.lines[-3] else b"250 2.0.0 queued as 1\r\n")})
    results, conn = sending(wire, (envelope("gone@example.org"), message(1)), (envelope(), message(2)))
    assert results == [SendResult(False, True, 550, "RCPT TO <gone@example.org>: 550 5.1.1 no such user"), ok()]
    assert wire.lines[1:] == [mail(message(1)), b"RCPT TO:<gone@example.org>", b"DATA", b".", b"RSET",
                              mail(message(2)), b"RCPT TO:<a@example.org>", b"DATA", message(2), b".", b"QUIT"]


def test_a_data_accepted_with_nobody_to_deliver_to_and_no_answer_to_its_dot_closes():
    wire = Wire({b"RCPT TO:<gone": b"550 5.1.1 no such user\r\n", b".": b""})

    async def script(relay):
        conn = await relay.connect()
        started = time.monotonic()
        result = await conn.send(envelope("gone@example.org"), message())
        return result, time.monotonic() - started, conn.closed, await closed_soon(wire)

    result, took, closed, hung_up = wire.run(script, timeouts=SmtpSettings(command_timeout=0.3))
    assert result == SendResult(False, True, 550, "RCPT TO <gone@example.org>: 550 5.1.1 no such user")
    assert closed and hung_up and 0.25 < took < 6  # 0.3 s, not the data timeout (room for a loaded machine)


def test_a_refused_dot_ends_the_transaction_without_rset():
    wire = Wire({b".": lambda line: b"552 5.3.4 too big\r\n" if len(wire.lines) < 8 else b"250 2.0.0 queued\r\n"})
    results, _ = sending(wire, (envelope(), message(1)), (envelope(), message(2)))
    assert results == [SendResult(False, True, 552, "DATA: 552 5.3.4 too big"), ok(text="2.0.0 queued")]
    assert b"RSET" not in wire.lines


def test_some_recipients_refused_is_the_first_refusal_and_the_count_of_the_others():
    wire = Wire({b"RCPT TO:<gone": b"450 4.2.1 mailbox busy\r\n", b"RCPT TO:<away": b"550 5.1.1 away\r\n"})
    results, _ = sending(wire, (envelope("a@x.org", "gone@x.org", "b@x.org", "away@x.org", "c@x.org"), message()),
                         (envelope(), message(2)))
    assert results == [SendResult(False, False, 450, "RCPT TO <gone@x.org> (accepted for 3 other(s)): 450 4.2.1 "
                                                     "mailbox busy"), ok()]
    assert b"RSET" not in wire.lines  # the message went to the others: the transaction ended with its "."


def test_a_dot_answered_by_a_421_drops_the_connection_asking_for_fewer():
    wire = Wire({b".": b"421 4.7.0 too many messages\r\n"})
    (result,), conn = sending(wire, (envelope(), message()))
    assert type(result) is Dropped and result.busy and str(result) == "421 4.7.0 too many messages"
    assert conn.closed and b"QUIT" not in wire.lines


def test_a_relay_that_hangs_up_after_the_body_is_a_temporary_failure():
    wire = Wire({b".": None})
    (result,), conn = sending(wire, (envelope(), message()))
    assert result == SendResult(False, False, None, "after the message: connection closed by the server")
    assert conn.closed


def test_a_relay_silent_after_the_body_times_out():
    wire = Wire({b".": b""})

    async def script(relay):
        conn = await relay.connect()
        with pytest.raises(TimedOut) as caught:
            await conn.send(envelope(), message())
        return relay.url, str(caught.value), conn.closed

    url, why, closed = wire.run(script, timeouts=SmtpSettings(data_timeout=0.3, command_timeout=9))
    assert why == f'{url} did not answer to the final "." of a message within 0.3 s' and closed


def test_a_relay_silent_after_mail_from_times_out():
    wire = Wire({b"MAIL": b""})

    async def script(relay):
        conn = await relay.connect()
        with pytest.raises(TimedOut) as caught:
            await conn.send(envelope(), message())
        return relay.url, str(caught.value), conn.closed

    url, why, closed = wire.run(script, timeouts=SmtpSettings(command_timeout=0.3, data_timeout=9))
    assert why == f"{url} did not answer to MAIL FROM, RCPT TO or DATA within 0.3 s" and closed


@pytest.mark.parametrize("ehlo", [PIPELINING, PLAIN_EHLO])
def test_a_421_to_mail_from_drops_the_connection_asking_for_fewer(ehlo):
    wire = Wire({b"EHLO": ehlo, b"MAIL": b"421 4.7.0 too many connections\r\n"})
    (result,), conn = sending(wire, (envelope(), message()))
    assert type(result) is Dropped and result.busy and str(result) == "421 4.7.0 too many connections"
    assert result.previous is None and conn.closed


def test_a_421_to_rset_drops_the_connection_too():
    wire = Wire({b"MAIL": lambda line: b"550 no\r\n" if len(wire.lines) < 3 else b"250 ok\r\n",
                 b"RSET": b"421 4.3.2 closing\r\n"})
    (first, second), conn = sending(wire, (envelope(), message(1)), (envelope(), message(2)))
    assert first == SendResult(False, True, 550, "MAIL FROM: 550 no")
    assert type(second) is Dropped and second.busy and str(second) == "421 4.3.2 closing"


# -- without PIPELINING: one command, one reply ---------------------------------------------------------


def test_without_pipelining_a_refused_mail_from_sends_nothing_more():
    wire = Wire({b"EHLO": PLAIN_EHLO, b"MAIL": lambda line: b"553 5.1.8 bad\r\n" if len(wire.lines) < 3 else
                 b"250 ok\r\n"})
    results, _ = sending(wire, (envelope("a@x.org", "b@x.org"), message(1)), (envelope(), message(2)))
    assert results == [SendResult(False, True, 553, "MAIL FROM: 553 5.1.8 bad"), ok()]
    assert wire.lines[1:] == [mail(message(1)), b"RSET", mail(message(2)), b"RCPT TO:<a@example.org>", b"DATA",
                              message(2), b".", b"QUIT"]


def test_without_pipelining_every_recipient_refused_means_no_data():
    wire = Wire({b"EHLO": PLAIN_EHLO, b"RCPT": b"550 5.1.1 no\r\n"})
    results, _ = sending(wire, (envelope("a@x.org", "b@x.org"), message(1)))
    assert results == [SendResult(False, True, 550, "RCPT TO <a@x.org>: 550 5.1.1 no")]
    assert wire.lines[1:] == [mail(message(1)), b"RCPT TO:<a@x.org>", b"RCPT TO:<b@x.org>", b"QUIT"]


def test_without_pipelining_one_recipient_accepted_is_enough_for_data():
    wire = Wire({b"EHLO": PLAIN_EHLO, b"RCPT TO:<a": b"550 5.1.1 no\r\n", b"RCPT TO:<b": b"251 5.1.1 forwarded\r\n"})
    results, _ = sending(wire, (envelope("a@x.org", "b@x.org", "c@x.org"), message(1)))
    assert results == [SendResult(False, True, 550, "RCPT TO <a@x.org> (accepted for 2 other(s)): 550 5.1.1 no")]
    assert wire.lines[1:] == [mail(message(1)), b"RCPT TO:<a@x.org>", b"RCPT TO:<b@x.org>", b"RCPT TO:<c@x.org>",
                              b"DATA", message(1), b".", b"QUIT"]


def test_without_pipelining_a_421_to_a_recipient_stops_there():
    wire = Wire({b"EHLO": PLAIN_EHLO, b"RCPT TO:<b": b"421 4.7.0 closing\r\n"})
    (result,), _ = sending(wire, (envelope("a@x.org", "b@x.org", "c@x.org"), message(1)))
    assert type(result) is Dropped and result.busy and str(result) == "421 4.7.0 closing"
    assert wire.lines[1:] == [mail(message(1)), b"RCPT TO:<a@x.org>", b"RCPT TO:<b@x.org>"]


def test_pipelined_replies_after_a_421_are_not_waited_for():
    wire = Wire({b"MAIL": b"421 4.7.0 closing\r\n", b"RCPT": b"", b"DATA": b""})

    async def script(relay):
        conn = await relay.connect()
        started = time.monotonic()
        with pytest.raises(Dropped) as caught:
            await conn.send(envelope("a@x.org", "b@x.org"), message())
        return caught.value, time.monotonic() - started

    exc, took = wire.run(script, timeouts=SmtpSettings(command_timeout=9))
    assert exc.busy and str(exc) == "421 4.7.0 closing" and took < 5  # at once, not after the 9 s


# -- the "." held until the previous commit ---------------------------------------------------------


def test_send_holds_the_dot_until_the_commit_is_done():
    wire = Wire()

    async def script(relay):
        conn = await relay.connect()
        hold = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(conn.send(envelope(), message(), hold=hold))
        await asyncio.sleep(0.2)
        before = list(wire.lines)
        hold.set_result(None)
        result = await task
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        again = await conn.send(envelope(), message(2), hold=done)
        await conn.quit()
        return before, result, again

    before, result, again = wire.run(script)
    assert result == again == ok()
    assert before[-1] == b"DATA" and wire.lines[-3:] == [message(2), b".", b"QUIT"]


@pytest.mark.parametrize("done", [True, False])
def test_a_failed_commit_never_completes_the_message(done):
    wire = Wire()

    async def script(relay):
        conn = await relay.connect()
        hold = asyncio.get_running_loop().create_future()
        if done:
            hold.set_exception(RuntimeError("commit failed"))
        else:
            asyncio.get_running_loop().call_later(0.1, hold.set_exception, RuntimeError("commit failed"))
        with pytest.raises(RuntimeError) as caught:
            await conn.send(envelope(), message(), hold=hold)
        return str(caught.value), conn.closed, await closed_soon(wire)

    assert wire.run(script) == ("commit failed", True, True)
    assert b"." not in wire.lines


def test_send_while_a_message_is_held_is_a_mistake():
    async def script(relay):
        conn = await relay.connect()
        await conn.send_next(envelope(), message())
        with pytest.raises(RuntimeError) as caught:
            await conn.send(envelope(), message(2))
        conn.abort()
        return str(caught.value)

    assert Wire().run(script) == 'send() while a message is held: finish() it first'


# -- one round trip a message: send_next and finish ---------------------------------------------------


def test_one_round_trip_holds_each_dot_until_the_next_message_or_the_finish():
    wire = Wire()

    async def script(relay):
        conn = await relay.connect()
        first = await conn.send_next(envelope(), message(1))
        holding = conn.holding
        second = await conn.send_next(envelope("b@example.org"), message(2))
        last = await conn.finish(quit=True)
        return first, holding, second, last, conn.holding, conn.closed, conn.messages

    assert wire.run(script) == ((None, None), True, (ok(), None), ok(), False, True, 2)
    assert wire.lines[1:] == [mail(message(1)), b"RCPT TO:<a@example.org>", b"DATA", message(1), b".",
                              mail(message(2)), b"RCPT TO:<b@example.org>", b"DATA", message(2), b".", b"QUIT"]


def test_finish_without_quit_leaves_the_connection_open():
    wire = Wire()

    async def script(relay):
        conn = await relay.connect()
        await conn.send_next(envelope(), message(1))
        last = await conn.finish()
        closed = conn.closed
        again = await conn.send(envelope(), message(2))
        await conn.quit()
        return last, closed, again

    assert wire.run(script) == (ok(), False, ok())
    assert wire.lines[-1] == b"QUIT" and wire.lines.count(b"QUIT") == 1


def test_finish_with_nothing_held_is_a_mistake():
    async def script(relay):
        conn = await relay.connect()
        with pytest.raises(RuntimeError) as caught:
            await conn.finish()
        conn.abort()
        return str(caught.value)

    assert Wire().run(script) == "finish() with no message held"


@pytest.mark.parametrize("bye", [b"221 2.0.0 bye\r\n", b"", None])
def test_the_last_dot_with_quit_is_answered_then_closed_whatever_quit_gets(bye):
    wire = Wire({b"QUIT": bye})

    async def script(relay):
        conn = await relay.connect()
        await conn.send_next(envelope(), message(1))
        started = time.monotonic()
        last = await conn.finish(quit=True)
        return last, conn.closed, time.monotonic() - started, await closed_soon(wire)

    last, closed, took, hung_up = wire.run(script, timeouts=SmtpSettings(command_timeout=2))
    assert last == ok() and closed and hung_up and took < (1.5 if bye else 6)  # a 221 is not waited out


def test_the_wait_for_the_221_after_the_last_dot_is_at_most_five_seconds():
    wire = Wire({b"QUIT": b""})

    async def script(relay):
        conn = await relay.connect()
        await conn.send_next(envelope(), message(1))
        started = time.monotonic()
        last = await conn.finish(quit=True)
        return last, time.monotonic() - started, conn.closed

    last, took, closed = wire.run(script, timeouts=SmtpSettings(command_timeout=60))
    assert last == ok() and 4.9 < took < 15 and closed  # 5 s, not the 60 s command timeout


def test_the_wait_for_the_221_to_quit_is_at_most_five_seconds():
    wire = Wire({b"QUIT": b""})

    async def script(relay):
        conn = await relay.connect()
        started = time.monotonic()
        await conn.quit()
        return time.monotonic() - started, conn.closed

    took, closed = wire.run(script, timeouts=SmtpSettings(command_timeout=60))
    assert 4.9 < took < 15 and closed  # 5 s, not the 60 s command timeout


def test_a_quick_quit_is_answered_and_closed():
    wire = Wire()

    async def script(relay):
        conn = await relay.connect()
        started = time.monotonic()
        await conn.quit()
        took = time.monotonic() - started
        await conn.quit()  # twice: nothing more
        return took, conn.closed, await closed_soon(wire)

    took, closed, hung_up = wire.run(script, timeouts=SmtpSettings(command_timeout=3))
    assert took < 2 and closed and hung_up and wire.lines[1:] == [b"QUIT"]


def test_quit_on_a_connection_the_relay_closed_does_not_raise():
    wire = Wire({b"QUIT": None})

    async def script(relay):
        conn = await relay.connect()
        await conn.quit()
        return conn.closed

    assert wire.run(script) is True


def test_quit_with_a_message_held_never_completes_it():
    wire = Wire()

    async def script(relay):
        conn = await relay.connect()
        await conn.send_next(envelope(), message(1))
        await conn.quit()
        return conn.closed, conn.holding, await closed_soon(wire)

    assert wire.run(script) == (True, False, True)
    assert wire.lines[-2:] == [b"RCPT TO:<a@example.org>", b"DATA"]


def test_send_next_waits_for_the_commit_before_the_held_dot():
    wire = Wire()

    async def script(relay):
        conn = await relay.connect()
        await conn.send_next(envelope(), message(1))
        hold = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(conn.send_next(envelope("b@example.org"), message(2), hold=hold))
        await asyncio.sleep(0.2)
        before = len(wire.lines)
        hold.set_result(None)
        result = await task
        hold2 = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.1, hold2.set_exception, RuntimeError("commit failed"))
        with pytest.raises(RuntimeError) as caught:
            await conn.finish(hold=hold2)
        return before, result, str(caught.value), conn.closed

    before, result, why, closed = wire.run(script)
    assert before == 4 and result == (ok(), None) and why == "commit failed" and closed  # EHLO MAIL RCPT DATA
    assert wire.lines.count(b".") == 1


def test_a_message_refused_before_its_body_is_the_second_outcome_and_rset_follows():
    wire = Wire({b"RCPT TO:<gone": b"550 5.1.1 no such user\r\n", b"DATA": lambda line: (
        b"554 5.5.1 no valid recipients\r\n" if wire.lines[-2].startswith(b"RCPT TO:<gone") else b"354 go\r\n")})

    async def script(relay):
        conn = await relay.connect()
        first = await conn.send_next(envelope(), message(1))
        second = await conn.send_next(envelope("gone@example.org"), message(2))
        holding = conn.holding
        third = await conn.send_next(envelope(), message(3))
        return first, second, holding, third, await conn.finish(quit=True)

    first, second, holding, third, last = wire.run(script)
    assert first == (None, None) and not holding and third == (None, None) and last == ok()
    assert second == (ok(), SendResult(False, True, 550, "RCPT TO <gone@example.org>: 550 5.1.1 no such user"))
    assert wire.lines[5:] == [b".", mail(message(2)), b"RCPT TO:<gone@example.org>", b"DATA", b"RSET",
                              mail(message(3)), b"RCPT TO:<a@example.org>", b"DATA", message(3), b".", b"QUIT"]


def test_a_refused_held_dot_then_no_rset_before_the_next():
    wire = Wire({b".": lambda line: b"552 5.3.4 too big\r\n" if wire.lines.count(b".") == 1 else b"250 ok\r\n"})

    async def script(relay):
        conn = await relay.connect()
        await conn.send_next(envelope(), message(1))
        second = await conn.send_next(envelope(), message(2))
        third = await conn.send_next(envelope(), message(3))
        return second, third, await conn.finish(quit=True)

    second, third, last = wire.run(script)
    assert second == (SendResult(False, True, 552, "DATA: 552 5.3.4 too big"), None)
    assert third == (ok(text="ok"), None) and last == ok(text="ok") and b"RSET" not in wire.lines


@pytest.mark.parametrize("one_trip", [True, False])
def test_a_message_that_cannot_go_is_refused_before_anything_is_written(one_trip):
    wire = Wire()

    async def script(relay):
        conn = await relay.connect()
        nobody = (await conn.send_next(Envelope(FROM, ()), message())) if one_trip else None
        utf8 = await conn.send_next(Envelope(FROM, ("é@x.org",)), message())
        conn.abort()
        return nobody, utf8, conn.messages

    nobody, utf8, count = wire.run(script)
    assert utf8[0] is None and utf8[1].message.endswith("does not support SMTPUTF8, needed for é@x.org")
    assert count == 0 and len(wire.lines) == 1
    if one_trip:
        assert nobody == (None, SendResult(False, True, None, "no recipients"))


def test_the_held_dot_answered_and_then_a_hang_up_gives_the_outcome_with_the_drop():
    wire = Wire({b"MAIL": lambda line: None if wire.lines.count(b".") else b"250 ok\r\n"})

    async def script(relay):
        conn = await relay.connect()
        await conn.send_next(envelope(), message(1))
        with pytest.raises(Dropped) as caught:
            await conn.send_next(envelope(), message(2))
        return caught.value, conn.closed

    exc, closed = wire.run(script)
    assert str(exc) == "before DATA: connection closed by the server" and exc.previous == ok() and closed
    assert not exc.busy and not exc.out_of_step


def test_the_held_dot_answered_and_the_commands_not_is_out_of_step():
    wire = Wire({b"MAIL": lambda line: b"" if wire.lines.count(b".") else b"250 ok\r\n"})

    async def script(relay):
        conn = await relay.connect()
        await conn.send_next(envelope(), message(1))
        started = time.monotonic()
        with pytest.raises(Dropped) as caught:
            await conn.send_next(envelope(), message(2))
        return relay.url, caught.value, conn.closed, time.monotonic() - started

    url, exc, closed, took = wire.run(script, timeouts=SmtpSettings(command_timeout=0.3, data_timeout=9))
    assert exc.out_of_step and exc.previous == ok() and closed and 0.25 < took < 6  # 0.3 s, not 9
    assert str(exc) == f'{url} answered pipelined commands out of step (no reply to the commands after a final ".")'


def test_a_421_to_the_commands_behind_the_held_dot_keeps_its_outcome():
    wire = Wire({b"MAIL": lambda line: b"421 4.7.0 bye\r\n" if wire.lines.count(b".") else b"250 ok\r\n"})

    async def script(relay):
        conn = await relay.connect()
        await conn.send_next(envelope(), message(1))
        with pytest.raises(Dropped) as caught:
            await conn.send_next(envelope(), message(2))
        return caught.value, conn.closed

    exc, closed = wire.run(script)
    assert exc.busy and exc.previous == ok() and str(exc) == "421 4.7.0 bye" and closed


def test_the_held_dot_answered_by_a_421_means_neither_went():
    wire = Wire({b".": b"421 4.7.0 closing\r\n"})

    async def script(relay):
        conn = await relay.connect()
        await conn.send_next(envelope(), message(1))
        with pytest.raises(Dropped) as caught:
            await conn.send_next(envelope(), message(2))
        return caught.value, conn.closed

    exc, closed = wire.run(script)
    assert exc.busy and exc.previous is None and str(exc) == "421 4.7.0 closing" and closed


def test_a_hang_up_instead_of_the_held_dots_reply_may_have_sent_it():
    wire = Wire({b".": None})

    async def script(relay):
        conn = await relay.connect()
        await conn.send_next(envelope(), message(1))
        with pytest.raises(Dropped) as caught:
            await conn.send_next(envelope(), message(2))
        return caught.value

    exc = wire.run(script)
    result = SendResult(False, False, None, "after the message: connection closed by the server")
    assert exc.previous == result and str(exc) == result.message


@pytest.mark.parametrize("reply, what", [
    (b"354 again\r\n", 'the final "." answered 354 again'),
    (b"199 what\r\n", 'the final "." answered 199 what'),
])
def test_a_dot_answered_with_a_code_that_does_not_fit_is_out_of_step(reply, what):
    wire = Wire({b".": reply})

    async def script(relay):
        conn = await relay.connect()
        await conn.send_next(envelope(), message(1))
        with pytest.raises(Dropped) as caught:
            await conn.send_next(envelope(), message(2))
        first = caught.value
        conn = await relay.connect()
        await conn.send_next(envelope(), message(3))
        with pytest.raises(Dropped) as caught:
            await conn.finish()
        return relay.url, first, caught.value, conn.closed

    url, first, last, closed = wire.run(script)
    for exc in (first, last):
        assert exc.out_of_step and exc.previous == _unsure() and closed
        assert str(exc) == f"{url} answered pipelined commands out of step ({what})"


@pytest.mark.parametrize("table, what, held", [
    ({b"MAIL": b"334 go\r\n"}, "MAIL FROM answered 334 go", False),
    ({b"RCPT": b"334 go\r\n"}, "RCPT TO answered 334 go", False),
    ({b"DATA": b"250 ok\r\n"}, "DATA answered 250 ok", False),
    ({b"MAIL": lambda line: b"334 go\r\n" if wire_of[0].lines.count(b".") else b"250 ok\r\n"},
     "MAIL FROM answered 334 go", True),
])
def test_a_command_answered_with_a_code_that_does_not_fit_is_out_of_step(table, what, held):
    wire = Wire(table)
    wire_of[0] = wire

    async def script(relay):
        conn = await relay.connect()
        if held:
            await conn.send_next(envelope(), message(1))
        with pytest.raises(Dropped) as caught:
            await conn.send_next(envelope(), message(2))
        return relay.url, caught.value, conn.closed

    url, exc, closed = wire.run(script)
    assert exc.out_of_step and closed and str(exc) == f"{url} answered pipelined commands out of step ({what})"
    assert exc.previous == (_unsure() if held else None)


wire_of: list = [None]


def test_an_rset_reply_is_not_taken_for_a_command_reply():
    wire = Wire({b"MAIL": lambda line: b"550 no\r\n" if len(wire.lines) < 3 else b"250 ok\r\n",
                 b"DATA": lambda line: b"503 5.5.1 no mail\r\n" if len(wire.lines) < 5 else b"354 go\r\n",
                 b"RSET": b"250 reset\r\n"})

    async def script(relay):
        conn = await relay.connect()
        first = await conn.send_next(envelope(), message(1))
        second = await conn.send_next(envelope(), message(2))
        return first, second, await conn.finish(quit=True)

    first, second, last = wire.run(script)
    assert first == (None, SendResult(False, True, 550, "MAIL FROM: 550 no")) and second == (None, None)
    assert last == ok() and wire.lines[4:6] == [b"RSET", mail(message(2))]


def test_a_reply_nobody_asked_for_is_out_of_step_and_a_421_waiting_means_closing():
    async def script(relay, say):
        conn = await relay.connect()
        await conn.send_next(envelope(), message(1))
        await asyncio.sleep(0.1)
        with pytest.raises(Dropped) as caught:
            await conn.send_next(envelope(), message(2))
        return relay.url, caught.value

    for say, expect in [(b"250 stray\r\n", "{url} answered pipelined commands out of step (a reply nobody asked "
                                           "for: b'250 stray\\r\\n')"),
                        (b"421 4.4.2 idle too long\r\n", "421 4.4.2 idle too long")]:
        wire = Wire({b"DATA": b"354 go\r\n" + say})
        url, exc = wire.run(lambda relay: script(relay, say))
        assert str(exc) == expect.format(url=url) and exc.previous is None
        assert exc.busy is say.startswith(b"421") and exc.out_of_step is not say.startswith(b"421")


def test_a_relay_that_closed_while_idle_drops_the_next_message():
    wire = Wire({b"DATA": lambda line: None})

    async def script(relay):
        conn = await relay.connect()
        with pytest.raises(Dropped):
            await conn.send_next(envelope(), message(1))
        conn2 = await relay.connect()
        conn2.writer.write(b"NOOP\r\n")
        await conn2._reply()
        wire.table[b"NOOP"] = None
        conn2.writer.write(b"NOOP\r\n")
        await asyncio.sleep(0.2)
        with pytest.raises(Dropped) as caught:
            await conn2.send_next(envelope(), message(2))
        return caught.value, conn2.closed

    exc, closed = wire.run(script)
    assert str(exc) == "connection closed by the server" and not exc.busy and not exc.out_of_step and closed


def test_the_held_message_with_some_recipients_refused_says_so_when_its_dot_is_answered():
    wire = Wire({b"RCPT TO:<gone": b"550 5.1.1 no such user\r\n"})

    async def script(relay):
        conn = await relay.connect()
        await conn.send_next(envelope("a@x.org", "gone@x.org", "b@x.org"), message(1))
        second = await conn.send_next(envelope(), message(2))
        return second, await conn.finish(quit=True)

    second, last = wire.run(script)
    assert second == (SendResult(False, True, 550, "RCPT TO <gone@x.org> (accepted for 2 other(s)): 550 5.1.1 no "
                                                   "such user"), None)
    assert last == ok()


def test_the_last_message_with_some_recipients_refused_says_so_when_finished():
    wire = Wire({b"RCPT TO:<gone": b"450 4.2.1 full\r\n"})

    async def script(relay):
        conn = await relay.connect()
        await conn.send_next(envelope("gone@x.org", "a@x.org"), message(1))
        return await conn.finish(quit=True)

    assert wire.run(script) == SendResult(False, False, 450, "RCPT TO <gone@x.org> (accepted for 1 other(s)): 450 "
                                                             "4.2.1 full")


@pytest.mark.parametrize("done", [True, False])
def test_a_commit_failing_with_a_connection_error_drops_the_message_before_its_dot(done):
    wire = Wire()

    async def script(relay):
        conn = await relay.connect()
        hold = asyncio.get_running_loop().create_future()
        if done:
            hold.set_exception(ConnectionResetError(104, "Connection reset by peer"))
        else:
            asyncio.get_running_loop().call_later(0.1, hold.set_exception, EOFError())
        with pytest.raises(Dropped) as caught:
            await conn.send(envelope(), message(), hold=hold)
        return caught.value, conn.closed, await closed_soon(wire)

    exc, closed, hung_up = wire.run(script)
    assert str(exc) == ("during DATA: [Errno 104] Connection reset by peer" if done else "during DATA: EOFError")
    assert closed and hung_up and not exc.busy and exc.previous is None and b"." not in wire.lines


def test_one_trip_a_data_accepted_with_nobody_to_deliver_to_is_ended_at_once():
    wire = Wire({b"RCPT TO:<gone": b"550 5.1.1 no such user\r\n", b".": lambda line: (
        b"554 5.5.1 no recipients\r\n" if b"gone" in wire.lines[-3] else b"250 2.0.0 queued as 1\r\n")})

    async def script(relay):
        conn = await relay.connect()
        first = await conn.send_next(envelope("gone@example.org"), message(1))
        second = await conn.send_next(envelope(), message(2))
        return first, second, await conn.finish(quit=True)

    first, second, last = wire.run(script)
    assert first == (None, SendResult(False, True, 550, "RCPT TO <gone@example.org>: 550 5.1.1 no such user"))
    assert second == (None, None) and last == ok()
    assert wire.lines[1:] == [mail(message(1)), b"RCPT TO:<gone@example.org>", b"DATA", b".", b"RSET",
                              mail(message(2)), b"RCPT TO:<a@example.org>", b"DATA", message(2), b".", b"QUIT"]


def test_a_long_reply_nobody_asked_for_is_shown_by_its_first_80_bytes():
    stray = b"250 " + b"x" * 120 + b"\r\n"
    wire = Wire({b"DATA": b"354 go\r\n" + stray})

    async def script(relay):
        conn = await relay.connect()
        await conn.send_next(envelope(), message(1))
        await asyncio.sleep(0.1)
        with pytest.raises(Dropped) as caught:
            await conn.send_next(envelope(), message(2))
        return relay.url, caught.value

    url, exc = wire.run(script)
    assert str(exc) == f"{url} answered pipelined commands out of step (a reply nobody asked for: {stray[:80]!r})"


def test_one_rset_only_after_the_failed_transaction():
    wire = Wire({b"RCPT TO:<gone": b"550 5.1.1 no such user\r\n", b"DATA": lambda line: (
        b"554 5.5.1 no valid recipients\r\n" if wire.lines[-2].startswith(b"RCPT TO:<gone") else b"354 go\r\n")})

    async def script(relay):
        conn = await relay.connect()
        results = [await conn.send(envelope("gone@example.org"), message(1))]
        results += [await conn.send(envelope(), message(n)) for n in (2, 3)]
        results.append(await conn.send_next(envelope("gone@example.org"), message(4)))
        results += [await conn.send_next(envelope(), message(n)) for n in (5, 6)]
        results.append(await conn.finish(quit=True))
        return results

    gone = SendResult(False, True, 550, "RCPT TO <gone@example.org>: 550 5.1.1 no such user")
    assert wire.run(script) == [gone, ok(), ok(), (None, gone), (None, None), (ok(), None), ok()]
    rset = [i for i, line in enumerate(wire.lines) if line == b"RSET"]
    assert len(rset) == 2 and wire.lines[rset[0] + 1] == mail(message(2)) and wire.lines[rset[1] + 1] == mail(
        message(5))


@pytest.mark.parametrize("one_trip", [True, False])
def test_a_421_to_data_in_a_pipelined_group_drops_the_connection_asking_for_fewer(one_trip):
    wire = Wire({b"DATA": b"421 4.7.0 too many connections\r\n"})

    async def script(relay):
        conn = await relay.connect()
        with pytest.raises(Dropped) as caught:
            await (conn.send_next if one_trip else conn.send)(envelope(), message())
        return caught.value, conn.closed

    exc, closed = wire.run(script)
    assert exc.busy and str(exc) == "421 4.7.0 too many connections" and closed and exc.previous is None


def test_a_multi_line_refusal_of_ehlo_is_one_line():
    wire = Wire({b"EHLO": b"554-relay.test\r\n554 5.3.2 Too busy for you\r\n"})

    async def script(relay):
        return relay.url, await refused_connect(relay)

    url, exc = wire.run(script)
    assert type(exc) is Dropped and exc.busy and str(exc) == f"EHLO at {url}: 554 relay.test 5.3.2 Too busy for you"


def test_without_pipelining_a_recipient_forwarded_with_251_is_enough_for_data():
    wire = Wire({b"EHLO": PLAIN_EHLO, b"RCPT TO:<a": b"550 5.1.1 no\r\n", b"RCPT TO:<b": b"251 2.1.5 forwarded\r\n"})
    results, _ = sending(wire, (envelope("a@x.org", "b@x.org"), message(1)))
    assert results == [SendResult(False, True, 550, "RCPT TO <a@x.org> (accepted for 1 other(s)): 550 5.1.1 no")]
    assert wire.lines[1:] == [mail(message(1)), b"RCPT TO:<a@x.org>", b"RCPT TO:<b@x.org>", b"DATA", message(1),
                              b".", b"QUIT"]


def test_without_pipelining_the_one_recipient_refused_is_named():
    wire = Wire({b"EHLO": PLAIN_EHLO, b"RCPT": b"550 5.1.1 no\r\n"})
    results, _ = sending(wire, (envelope("a@x.org"), message(1)), (envelope("b@x.org"), message(2)))
    assert results == [SendResult(False, True, 550, "RCPT TO <a@x.org>: 550 5.1.1 no"),
                       SendResult(False, True, 550, "RCPT TO <b@x.org>: 550 5.1.1 no")]
    assert wire.lines[1:] == [mail(message(1)), b"RCPT TO:<a@x.org>", b"RSET", mail(message(2)),
                              b"RCPT TO:<b@x.org>", b"QUIT"]


@pytest.mark.parametrize("scheme", ["smtps", "smtp+starttls"])
def test_a_certificate_for_another_name_stops_the_run(scheme, tmp_path):
    certificate = make_certificate(tmp_path, "other.example")
    wire = Wire({b"EHLO": b"250-relay.test\r\n250 STARTTLS\r\n"}, tls=server_context(certificate))

    async def script(relay):
        return relay.url, await refused_connect(relay)

    url, exc = wire.run(script, scheme=scheme, ssl_context=client_context(certificate))
    assert type(exc) is RelayUnusable
    assert str(exc) == f"TLS with {url}: IP address mismatch, certificate is not valid for '127.0.0.1'."


def test_tls_goes_to_the_host_named_in_the_url(tmp_path):
    certificate = make_certificate(tmp_path, "127.0.0.2")
    wire = Wire(tls=server_context(certificate))
    _, conn = wire.run(connected, scheme="smtps", host="127.0.0.2", ssl_context=client_context(certificate))
    assert conn.esmtp and wire.lines == [b"EHLO " + socket.getfqdn().encode("idna")]


def test_a_name_that_does_not_resolve_stops_the_run_in_the_words_of_the_resolver():
    # Worded as smtplib's transport words it: os.strerror does not know the resolver's codes ("Unknown error -2").
    try:
        socket.getaddrinfo("nosuch.invalid", 25)
    except socket.gaierror as exc:
        words = str(exc)
    else:
        pytest.skip("this machine resolves nosuch.invalid")
    relay = SmtpRelay.from_url("smtp://nosuch.invalid:25")
    exc = asyncio.run(refused_connect(relay))
    assert type(exc) is RelayUnusable and str(exc) == f"connect to {relay.url}: {words}"
    assert str(SmtpTransport.from_url("smtp://nosuch.invalid:25").send(envelope(), message()).message) == str(exc)

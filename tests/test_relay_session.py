"""The pipelined client's session set-up, line by line: greeting, EHLO (HELO), AUTH, and what each refusal means.

A relay written in the test (asyncio, 127.0.0.1) answers each line as the
test says and records what arrived, so the exact commands (the AUTH PLAIN
token, the LOGIN exchange) and the exact one-line errors can be checked:
what scripts/mutants runs, with test_one_trip and test_relay, against
sending/transports/pipelined.py.
"""

from __future__ import annotations

import asyncio
import base64

import pytest

from digest.sending.transports import Dropped, Envelope
from digest.sending.transports.base import RelayUnusable
from digest.sending.transports.pipelined import SmtpRelay


def ehlo(*extensions: str) -> bytes:
    lines = ["relay.test", *extensions]
    return b"".join(f"250{'-' if i < len(lines) - 1 else ' '}{x}\r\n".encode() for i, x in enumerate(lines))


class Relay:
    """Answers each line with answer(line) (None closes the connection); `lines` is what arrived."""

    def __init__(self, answer, greeting: bytes = b"220 relay.test ESMTP\r\n"):
        self.answer, self.greeting, self.lines = answer, greeting, []

    async def _session(self, reader, writer):
        writer.write(self.greeting)
        while not reader.at_eof():
            line = (await reader.readline()).rstrip(b"\r\n")
            if not line and reader.at_eof():
                break
            self.lines.append(line)
            reply = self.answer(line)
            if reply is None:
                break
            writer.write(reply)
            await writer.drain()
        writer.close()

    def connect(self, user: str | None = None, password: str = "pa ss"):
        """(the relay's URL as the client words it, the connection or the exception connecting raised)."""

        async def go():
            server = await asyncio.start_server(self._session, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            relay = SmtpRelay.from_url(f"smtp://{user}:{password}@127.0.0.1:{port}" if user
                                       else f"smtp://127.0.0.1:{port}", )
            try:
                conn = await relay.connect()
            except (Dropped, RelayUnusable) as exc:
                return relay, exc
            finally:
                server.close()
            conn.abort()
            return relay, conn

        return asyncio.run(go())


def replies(table: dict[bytes, bytes], ehlo_reply: bytes):
    def answer(line: bytes) -> bytes | None:
        if line.startswith(b"EHLO"):
            return ehlo_reply
        for prefix, reply in table.items():
            if line.startswith(prefix):
                return reply
        return b"500 what\r\n"
    return answer


def test_auth_plain_sends_one_token_of_user_and_password():
    relay = Relay(replies({b"AUTH": b"235 2.7.0 ok\r\n"}, ehlo("PIPELINING", "AUTH LOGIN PLAIN")))
    client, conn = relay.connect("news", "pa ss")
    assert not isinstance(conn, Exception) and conn.esmtp and conn.extensions["auth"] == "LOGIN PLAIN"
    token = base64.b64encode(b"\0news\0pa ss")
    assert relay.lines == [b"EHLO " + client.local_hostname.encode(), b"AUTH PLAIN " + token]


def test_auth_login_when_it_is_the_only_mechanism_offered_in_any_case():
    relay = Relay(replies({b"AUTH LOGIN": b"334 VXNlcm5hbWU6\r\n", b"bmV3cw": b"334 UGFzc3dvcmQ6\r\n",
                           b"cGEgc3M": b"235 ok\r\n"}, ehlo("auth login")))
    _, conn = relay.connect("news", "pa ss")
    assert not isinstance(conn, Exception)
    assert relay.lines[1:] == [b"AUTH LOGIN", base64.b64encode(b"news"), base64.b64encode(b"pa ss")]


def test_auth_login_refused_at_the_user_name_never_sends_the_password():
    relay = Relay(replies({b"AUTH LOGIN": b"334 VXNlcm5hbWU6\r\n", b"bmV3cw": b"535 5.7.8 no such user\r\n"},
                          ehlo("AUTH LOGIN")))
    client, exc = relay.connect("news", "pa ss")
    assert isinstance(exc, RelayUnusable) and str(exc) == f"AUTH at {client.url}: 535 5.7.8 no such user"
    assert relay.lines[1:] == [b"AUTH LOGIN", base64.b64encode(b"news")]


@pytest.mark.parametrize("extensions, why", [
    (("PIPELINING",), "{url}: SMTP AUTH extension not supported by server."),
    (("AUTH CRAM-MD5 XOAUTH2",), "{url}: no AUTH mechanism in common (server offers CRAM-MD5 XOAUTH2)"),
    (("AUTH",), "{url}: no AUTH mechanism in common (server offers none)"),
])
def test_no_auth_we_can_use_stops_the_run(extensions, why):
    relay = Relay(replies({}, ehlo(*extensions)))
    client, exc = relay.connect("news")
    assert isinstance(exc, RelayUnusable) and str(exc) == why.format(url=client.url)
    assert exc.result.fatal and len(relay.lines) == 1  # nothing sent after EHLO


@pytest.mark.parametrize("reply, kind, busy", [
    (b"421 4.7.0 too many connections", Dropped, True),
    (b"432 4.7.12 a password transition is needed", Dropped, False),
    (b"454 4.7.0 temporary authentication failure", RelayUnusable, None),
    (b"535 5.7.8 authentication credentials invalid", RelayUnusable, None),
])
def test_what_a_refused_auth_means(reply, kind, busy):
    relay = Relay(replies({b"AUTH": reply + b"\r\n"}, ehlo("AUTH PLAIN")))
    client, exc = relay.connect("news")
    assert type(exc) is kind and str(exc) == f"AUTH at {client.url}: {reply.decode()}"
    if busy is not None:
        assert exc.busy is busy


@pytest.mark.parametrize("greeting, kind, busy", [
    (b"554 5.7.1 you are not welcome", RelayUnusable, None),
    (b"450 4.3.2 not now", Dropped, True),
    (b"554 5.7.1 Too Many connections from your address", Dropped, True),
    (b"550 server busy", Dropped, True),
    (b"550 5.7.1 try again later", Dropped, True),
    (b"550 5.7.1 no more concurrent sessions", Dropped, True),
])
def test_a_refused_greeting_says_whether_to_try_fewer_connections(greeting, kind, busy):
    relay = Relay(replies({}, ehlo()), greeting=greeting + b"\r\n")
    client, exc = relay.connect()
    assert type(exc) is kind and str(exc) == f"greeting of {client.url}: {greeting.decode()}"
    if busy is not None:
        assert exc.busy is busy


def test_a_relay_refusing_ehlo_is_spoken_to_with_helo():
    relay = Relay(replies({b"HELO": b"250 relay.test\r\n"}, b"502 5.5.1 EHLO not implemented\r\n"))
    client, conn = relay.connect()
    assert not isinstance(conn, Exception) and (conn.esmtp, conn.extensions, conn.pipelining) == (False, {}, False)
    name = client.local_hostname.encode()
    assert relay.lines == [b"EHLO " + name, b"HELO " + name]


@pytest.mark.parametrize("ehlo_reply, helo_reply, why", [
    (b"421 4.3.2 shutting down", None, "EHLO at {url}: 421 4.3.2 shutting down"),
    (b"554 5.3.2 too busy for you", None, "EHLO at {url}: 554 5.3.2 too busy for you"),
    (b"502 5.5.1 no EHLO", b"550 5.7.1 go away", "HELO at {url}: 550 5.7.1 go away"),
])
def test_a_refused_ehlo_or_helo_is_one_line(ehlo_reply, helo_reply, why):
    relay = Relay(replies({b"HELO": (helo_reply or b"250 ok") + b"\r\n"}, ehlo_reply + b"\r\n"))
    client, exc = relay.connect()
    assert str(exc) == why.format(url=client.url)
    assert isinstance(exc, RelayUnusable if helo_reply else Dropped)
    assert len(relay.lines) == (2 if helo_reply else 1)


def test_a_relay_that_closes_before_data_drops_the_message_saying_so():
    relay = Relay(lambda line: ehlo("PIPELINING") if line.startswith(b"EHLO") else None)

    async def go():
        server = await asyncio.start_server(relay._session, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        conn = await SmtpRelay.from_url(f"smtp://127.0.0.1:{port}").connect()
        try:
            await conn.send(Envelope("news@example.org", ("a@example.org",)), b"Subject: x\r\n\r\nhi\r\n")
        except Dropped as exc:
            return exc
        finally:
            conn.abort()
            server.close()

    exc = asyncio.run(go())
    assert isinstance(exc, Dropped) and str(exc) == "before DATA: connection closed by the server"
    assert not exc.busy


def test_a_held_message_answered_out_of_step_may_have_gone_and_is_tried_again_later():
    from scripted_relay import ScriptedRelay

    def message(n: int) -> bytes:
        return f"From: news@example.org\r\nTo: r{n}@example.org\r\nSubject: {n}\r\n\r\nHello.\r\n".encode()

    with ScriptedRelay(after_dot="reorder") as relay:
        async def go():
            conn = await SmtpRelay.from_url(relay.url).connect()
            await conn.send_next(Envelope("news@example.org", ("r1@example.org",)), message(1))
            with pytest.raises(Dropped) as caught:
                await conn.send_next(Envelope("news@example.org", ("r2@example.org",)), message(2))
            return caught.value

        exc = asyncio.run(go())
    assert exc.out_of_step and (exc.previous.ok, exc.previous.permanent, exc.previous.code) == (False, False, None)
    assert exc.previous.message == 'the relay answered out of step after the final ".": it may have been accepted'

"""A real SMTP server on 127.0.0.1 for tests, subprocess tests and benchmarks.

    with SmtpSink() as sink:                        # or the smtp_sink fixture
        sink.reply_for["gone@example.org"] = "550 5.1.1 No such user"
        sink.fail_first("slow@example.org", 2)      # 451 twice, then accept
        ... send to sink.url (smtp://127.0.0.1:PORT) ...
        msg = sink.wait_for(1)[0]                   # ReceivedMessage
        msg.data, msg.message["Subject"], msg.connection

aiosmtpd runs in a thread of its own. Each message is kept exactly as it came
after DATA (dot-unstuffed, nothing added). A reply starting 421 closes the
connection after it is sent, as real servers do. Optional AUTH (LOGIN/PLAIN,
one user) and TLS (STARTTLS or implicit) with a self-signed certificate made
on the spot; `sink.client_context()` trusts it.

Importable without pytest (scripts/bench); the fixtures are at the bottom.
Run `python -m tests.smtp_server` to keep one up and print its URL.
"""

from __future__ import annotations

import asyncio
import datetime
import email
import email.policy
import ipaddress
import logging
import socket
import ssl
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword

__all__ = ["SmtpSink", "ReceivedMessage", "make_certificate"]

# aiosmtpd logs these on every connection of a test server with AUTH but no TLS.
_NOISE = ("auth_required == True but auth_require_tls == False", "Session.login_data is deprecated")
logging.getLogger("mail.log").addFilter(lambda record: not str(record.msg).startswith(_NOISE))


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # exactly as received after DATA
    connection: int  # which connection (1, 2, ...) carried it
    mail_options: tuple[str, ...] = ()
    auth_user: str | None = None
    tls: bool = False
    peer: tuple = field(default=(), compare=False)

    @cached_property
    def message(self) -> email.message.EmailMessage:
        """The bytes parsed with the modern email policy (on first use: parsing is not free)."""
        return email.message_from_bytes(self.data, policy=email.policy.default)


def make_certificate(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for HOST and localhost; returns (cert file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())  # much quicker to make than RSA
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp-sink.test")])
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class _SinkSMTP(SMTP):
    """aiosmtpd's SMTP that tells the sink when a connection opens and closes."""

    def __init__(self, sink: "SmtpSink", handler, **kwargs):
        super().__init__(handler, **kwargs)
        self.sink = sink
        self.number = 0  # set at the first EHLO/HELO
        self.admitted = False  # counted as an open session (see SmtpSink.max_connections)

    def connection_made(self, transport) -> None:
        first = self.transport is None  # STARTTLS calls this again on the same object
        super().connection_made(transport)
        if first:
            self.sink._opened(self)

    def connection_lost(self, error) -> None:
        self.sink._closed(self)
        super().connection_lost(error)

    def hang_up(self) -> None:
        for t in (self.transport, self._original_transport):
            if t is not None:
                t.close()


class _Handler:
    def __init__(self, sink: "SmtpSink"):
        self.sink = sink

    @staticmethod
    def _answer(server: _SinkSMTP, reply: str) -> str:
        if reply.startswith("421"):
            # Runs after the reply is written: this task writes before it yields.
            server.loop.call_soon(server.hang_up)
        return reply

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.sink._greeted(server)
        session.host_name = hostname
        if not self.sink._admit(server):
            return [self._answer(server, "421 4.7.0 Too many connections, try again later")]
        if self.sink.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        self.sink._greeted(server)
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_QUIT(self, server, session, envelope):
        with self.sink._cond:
            self.sink.quits += 1
        return MISSING

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        # RCPT and DATA already waiting behind MAIL: the client pipelined them (RFC 2920).
        if b"DATA\r\n" in bytes(getattr(server._reader, "_buffer", b"")).upper():
            with self.sink._cond:
                self.sink.pipelined_groups += 1
        reply = self.sink._mail_reply(address)
        if reply:
            return self._answer(server, reply)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.sink._rcpt_reply(address)
        if reply:
            return self._answer(server, reply)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.sink.data_delay:
            await asyncio.sleep(self.sink.data_delay)
        for rcpt in envelope.rcpt_tos:
            reply = self.sink.data_reply_for.get(rcpt.lower())
            if reply:
                return self._answer(server, reply)
        auth = session.auth_data
        self.sink._record(
            ReceivedMessage(
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=bytes(envelope.original_content),
                connection=server.number,
                mail_options=tuple(envelope.mail_options),
                auth_user=auth.login.decode() if isinstance(auth, LoginPassword) else None,
                tls=self.sink.tls is not None and (self.sink.tls == "implicit" or session.ssl is not None),
                peer=tuple(session.peer or ()),
            )
        )
        if self.sink.answer_delay:  # taken and recorded: only the sender does not know yet
            await asyncio.sleep(self.sink.answer_delay)
        return "250 2.0.0 OK: queued"


class _Controller(Controller):
    def __init__(self, sink: "SmtpSink", **kwargs):
        self.sink = sink
        super().__init__(_Handler(sink), **kwargs)

    def factory(self):
        with warnings.catch_warnings():  # "AUTH without TLS" is the point of a test server
            warnings.simplefilter("ignore")
            return _SinkSMTP(self.sink, self.handler, **self.SMTP_kwargs)


class SmtpSink:
    """An aiosmtpd server on HOST:PORT (a free port by default) that records what it accepts.

    auth=(user, password) offers LOGIN and PLAIN and requires AUTH before MAIL;
    tls="starttls" offers STARTTLS, tls="implicit" speaks TLS from the start (smtps).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        auth: tuple[str, str] | None = None,
        tls: str | None = None,
        data_size_limit: int = 2**25,
        pipelining: bool = False,
        max_connections: int | None = None,
        data_delay: float = 0.0,
    ):
        if tls not in (None, "starttls", "implicit"):
            raise ValueError("tls must be None, 'starttls' or 'implicit'")
        self.host, self.port = host, port or _free_port(host)
        self.auth, self.tls = auth, tls
        self.data_size_limit = data_size_limit
        self.pipelining = pipelining  # advertise PIPELINING (RFC 2920) in the EHLO reply
        self.max_connections = max_connections  # beyond this many at once: 421 at EHLO, and hang up
        self.data_delay = data_delay  # seconds before answering the final "." (a slow or tarpitting relay)
        # Seconds between recording a message and answering its final ".": the relay has it, the
        # sender does not know yet (the window a kill -9 can fall into). May be changed at any time.
        self.answer_delay = 0.0
        self.pipelined_groups = 0  # MAIL FROMs that arrived with their DATA already behind them
        self.peak_connections = 0  # most sessions open at once
        self.busy_replies = 0  # 421s given for too many connections or by busy_at_mail
        self.mails = 0  # MAIL FROM commands seen
        self._busy_at: dict[int, str] = {}
        self.reply_for: dict[str, str] = {}  # RCPT TO address -> reply, e.g. "550 5.1.1 No such user"
        self.mail_reply_for: dict[str, str] = {}  # MAIL FROM address -> reply
        self.data_reply_for: dict[str, str] = {}  # recipient -> reply to the end of DATA
        self.attempts: dict[str, int] = {}  # RCPT TO address -> how many times it was tried
        self.quits = 0  # how many clients said QUIT
        self._fail_first: dict[str, list] = {}
        self._messages: list[ReceivedMessage] = []
        self._cond = threading.Condition()
        self._live: set[_SinkSMTP] = set()
        self._connections = 0
        self._controller: _Controller | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.cert_file: Path | None = None
        if tls:
            self._tmp = tempfile.TemporaryDirectory(prefix="smtp-sink-")
            self.cert_file, self._key_file = make_certificate(Path(self._tmp.name), host)

    # -- life -----------------------------------------------------------------

    def start(self) -> "SmtpSink":
        """Listen (again, on the same port after stop())."""
        if self._controller is not None:
            return self
        kwargs: dict = {
            "hostname": self.host,
            "port": self.port,
            "server_hostname": "sink.test",  # else aiosmtpd looks up the FQDN per connection
            "data_size_limit": self.data_size_limit,
            "enable_SMTPUTF8": True,
            "ready_timeout": 10,
        }
        if self.tls == "starttls":
            kwargs["tls_context"] = self._server_context()
        elif self.tls == "implicit":
            kwargs["ssl_context"] = self._server_context()
        if self.auth:
            kwargs.update(authenticator=self._authenticate, auth_required=True, auth_require_tls=False)
        controller = _Controller(self, **kwargs)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Hang up on every client, then stop listening: the server is gone."""
        controller, self._controller = self._controller, None
        if controller is None:
            return
        self._hang_up_all(controller)
        controller.stop()

    def drop_connections(self) -> None:
        """Hang up on every client but keep listening (like an idle timeout)."""
        if self._controller is not None:
            self._hang_up_all(self._controller)

    def _hang_up_all(self, controller: _Controller) -> None:
        async def hang_up() -> None:
            for proto in list(self._live):
                proto.hang_up()
            for _ in range(5):  # let the transports finish closing
                await asyncio.sleep(0)

        future = asyncio.run_coroutine_threadsafe(hang_up(), controller.loop)
        future.result(timeout=10)

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    # -- where ----------------------------------------------------------------

    @property
    def scheme(self) -> str:
        return {"starttls": "smtp+starttls", "implicit": "smtps"}.get(self.tls or "", "smtp")

    @property
    def url(self) -> str:
        """scheme://host:port, without credentials."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def url_for(self, user: str, password: str) -> str:
        """The URL with (URL-encoded) credentials."""
        return f"{self.scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}"

    def client_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts this sink's certificate (and checks the host name)."""
        if self.cert_file is None:
            raise ValueError("this sink has no TLS")
        return ssl.create_default_context(cafile=str(self.cert_file))

    def _server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.cert_file), str(self._key_file))
        return ctx

    # -- what it says ---------------------------------------------------------

    def fail_first(self, address: str, times: int, reply: str = "451 4.3.0 Try again later") -> None:
        """Refuse ADDRESS at RCPT with REPLY for the next TIMES attempts, then accept it."""
        with self._cond:
            self._fail_first[address.lower()] = [times, reply]

    def busy_at_mail(self, number: int, reply: str = "421 4.7.0 Too busy, closing connection") -> None:
        """Answer the NUMBER-th MAIL FROM (counted from 1 over all connections) with REPLY (and hang up on 421)."""
        with self._cond:
            self._busy_at[number] = reply

    def _mail_reply(self, address: str) -> str | None:
        with self._cond:
            self.mails += 1
            reply = self._busy_at.pop(self.mails, None)
            if reply:
                self.busy_replies += 1
                return reply
        return self.mail_reply_for.get(address.lower())

    def _admit(self, proto: _SinkSMTP) -> bool:
        """At EHLO: may PROTO stay (within max_connections of the sessions open now)?"""
        with self._cond:
            if proto.admitted:
                return True
            admitted = sum(1 for p in self._live if p.admitted)
            if self.max_connections is not None and admitted >= self.max_connections:
                self.busy_replies += 1
                return False
            proto.admitted = True
            self.peak_connections = max(self.peak_connections, admitted + 1)
            return True

    def _rcpt_reply(self, address: str) -> str | None:
        key = address.lower()
        with self._cond:
            self.attempts[key] = self.attempts.get(key, 0) + 1
            pending = self._fail_first.get(key)
            if pending and pending[0] > 0:
                pending[0] -= 1
                return pending[1]
        return self.reply_for.get(key)

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.auth is not None
            and (auth_data.login, auth_data.password) == (self.auth[0].encode(), self.auth[1].encode())
        )
        return AuthResult(success=ok, auth_data=auth_data if ok else None, handled=False)

    # -- what it got ----------------------------------------------------------

    def _opened(self, proto: _SinkSMTP) -> None:
        with self._cond:
            self._live.add(proto)

    def _closed(self, proto: _SinkSMTP) -> None:
        with self._cond:
            self._live.discard(proto)

    def _greeted(self, proto: _SinkSMTP) -> None:
        # Counted at EHLO/HELO: aiosmtpd's own start-up probe connects but never says hello.
        with self._cond:
            if not proto.number:
                self._connections += 1
                proto.number = self._connections

    def _record(self, msg: ReceivedMessage) -> None:
        with self._cond:
            self._messages.append(msg)
            self._cond.notify_all()

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A copy of everything accepted so far, in order."""
        with self._cond:
            return list(self._messages)

    @property
    def connections(self) -> int:
        """How many SMTP sessions (EHLO/HELO seen) there have been."""
        with self._cond:
            return self._connections

    @property
    def open_connections(self) -> int:
        with self._cond:
            return len(self._live)

    def wait_for(self, count: int, timeout: float = 10) -> list[ReceivedMessage]:
        """Block until COUNT messages have arrived (for senders in another process)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(f"{len(self._messages)} of {count} message(s) arrived within {timeout}s")
            return list(self._messages)

    def clear(self) -> None:
        """Forget messages, counts and replies."""
        with self._cond:
            self._messages.clear()
            self.attempts.clear()
            self._fail_first.clear()
            self._connections = 0
            self.quits = 0
            self.pipelined_groups = self.peak_connections = self.busy_replies = self.mails = 0
            self._busy_at.clear()
        self.reply_for.clear()
        self.mail_reply_for.clear()
        self.data_reply_for.clear()


def main() -> None:  # pragma: no cover - a manual tool
    import argparse
    import time

    parser = argparse.ArgumentParser(description="Run a recording SMTP sink until Ctrl-C.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--save", type=Path, help="also write each message to this folder")
    args = parser.parse_args()
    with SmtpSink(port=args.port) as sink:
        print(sink.url, flush=True)
        seen = 0
        try:
            while True:
                time.sleep(0.5)
                msgs = sink.messages
                for n, msg in enumerate(msgs[seen:], seen + 1):
                    if args.save:
                        args.save.mkdir(parents=True, exist_ok=True)
                        (args.save / f"{n:06d}.eml").write_bytes(msg.data)
                if len(msgs) > seen:
                    print(f"{len(msgs)} message(s)", flush=True)
                seen = len(msgs)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # pragma: no cover
    main()


try:
    import pytest
except ImportError:  # scripts/bench without pytest
    pass
else:

    @pytest.fixture
    def smtp_sink():
        """A running SmtpSink on 127.0.0.1, stopped after the test."""
        with SmtpSink() as sink:
            yield sink

    @pytest.fixture
    def smtp_url(smtp_sink) -> str:
        """smtp://127.0.0.1:PORT of the smtp_sink fixture."""
        return smtp_sink.url

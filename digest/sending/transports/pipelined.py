"""A pipelined asyncio SMTP client: many cheap connections to one relay.

    relay = SmtpRelay.from_url("smtp+starttls://user:pass@smtp.example.org")
    conn = await relay.connect()            # greeting, EHLO, STARTTLS, AUTH
    before, result = await conn.send_next(envelope, message_bytes, hold=previous_commit)
    result = await conn.finish(hold=previous_commit, quit=True)
    await conn.quit()

One round trip a message. With ESMTP PIPELINING (RFC 2920) advertised, a
message's body goes out as soon as DATA is answered, but its final "." is
held; it goes out in the next write, followed by the next message's MAIL
FROM, RCPT TO and DATA (RFC 2920 lets the end of data be followed by the
next transaction's commands). One read brings back the reply to the "."
(the outcome of the message before) and the replies to the new commands:

    write  ".\r\nMAIL FROM:<b>\r\nRCPT TO:<m2>\r\nDATA\r\n"   read 250 250 250 354
    write  <body of m2>                                          (no reply awaited)
    ...the outcome of m1 is committed...
    write  ".\r\nMAIL FROM:<b>\r\nRCPT TO:<m3>\r\nDATA\r\n"   read 250 250 250 354
    ...
    write  ".\r\nQUIT\r\n" (or "." alone)                      read 250 (221)

`send()` is the two-round-trip way (MAIL, RCPT and DATA together, then
the body and its "."), for a relay without PIPELINING (each command then
waits for its reply), and for a connection whose relay answered the
pipelined group out of step (too many or too few replies, a 354 where a
250 belongs, replies that stop coming): send_next() raises Dropped with
`out_of_step`, the connection is closed, and its successor uses send().
Replies stay matched to their commands: a 4xx/5xx to one RCPT fails that
recipient only, and the connection goes on (an RSET goes out in front of
the next message's group).

`hold` is what makes a crash cost at most one duplicate per connection: a
message's final "." goes out only once `hold` (the commit of this
connection's previous outcome) is done. Until the "." the relay has not
accepted the message, so a message the relay accepted and our database
does not know about is always the last one of a connection.

What a caller meets:
  SendResult       an answer about this message (ok, 4xx, 5xx), as every Transport gives
  Dropped          the connection is gone and the message certainly did not go
                   (421, "too many connections", a drop before the final "."):
                   send it again on another connection without spending an attempt;
                   `busy` says the relay asked for fewer connections; `previous`, the
                   outcome of the held message when known (else it did not go either)
  RelayUnusable    the relay cannot be used at all (refused connection, TLS,
                   authentication): stop the run, spend nobody's attempts
  TimedOut         the relay did not answer within the step's timeout ([smtp]
                   settings): give the delivery back to the queue, no attempt
                   spent (after the final "." it may have gone all the same)

The DATA body is written as it is (CRLF already, dot-stuffing by one
bytes.replace), never through smtplib's whole-message regexes.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import ssl

from ...config import SmtpSettings
from ...errors import DeliveryError
from .base import AsyncConnection, AsyncTransport, Dropped, Envelope, RelayUnusable, SendResult, TimedOut
from .base import one_line as _one_line
from .smtp import SmtpTransport, crlf

_BUSY_WORDS = ("too many", "try again later", "busy", "concurrent")


def _busy(code: int, text: str) -> bool:
    lowered = text.lower()
    return code == 421 or any(w in lowered for w in _BUSY_WORDS)


class SmtpRelay(AsyncTransport):
    """Where the relay is and how to speak to it; opens RelayConnections."""

    def __init__(self, host: str, port: int, *, security: str = "plain", username: str | None = None,
                 password: str = "", timeouts: SmtpSettings | None = None, local_hostname: str | None = None,
                 ssl_context: ssl.SSLContext | None = None, url: str = ""):
        if security not in ("plain", "starttls", "tls"):
            raise DeliveryError(f"SMTP security must be plain, starttls or tls, not {security!r}")
        self.host, self.port, self.security = host, port, security
        self.username, self._password = username, password
        self.timeouts = timeouts or SmtpSettings()
        self.local_hostname = local_hostname or socket.getfqdn()
        self._ssl_context = ssl_context
        self.url = url or f"{host}:{port}"
        self.opened = 0  # connections opened so far (sessions, for logs and tests)
        # [smtp] round_trips = 2 keeps every connection to two round trips a message.
        self.one_trip = self.timeouts.round_trips == 1

    @classmethod
    def from_url(cls, url: str, *, timeouts: SmtpSettings | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> "SmtpRelay":
        """The same URLs as SmtpTransport.from_url, checked the same way (DeliveryError when malformed)."""
        t = SmtpTransport.from_url(url, ssl_context=ssl_context)
        return cls(t.host, t.port, security=t.security, username=t.username, password=t._password,
                   timeouts=timeouts, ssl_context=ssl_context, url=t.url)

    def __repr__(self) -> str:
        return f"<SmtpRelay {self.url}>"

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    async def connect(self) -> "RelayConnection":
        """Open, greet, EHLO (HELO if refused), STARTTLS and AUTH as the URL says."""
        try:
            async with asyncio.timeout(self.timeouts.connect_timeout):
                if self.security == "tls":
                    reader, writer = await asyncio.open_connection(
                        self.host, self.port, ssl=self._context(), server_hostname=self.host)
                else:
                    reader, writer = await asyncio.open_connection(self.host, self.port)
        except ssl.SSLCertVerificationError as exc:
            raise RelayUnusable(f"TLS with {self.url}: {exc.verify_message or exc}") from None
        except ssl.SSLError as exc:  # the handshake itself failed (no TLS there, no common protocol)
            raise RelayUnusable(f"TLS handshake with {self.url} failed: {exc.reason or exc}") from None
        except TimeoutError:
            raise TimedOut("to the connection", self.timeouts.connect_timeout, self.url) from None
        except OSError as exc:  # refused, unreachable, no such host (worded as smtplib's transport words it)
            # asyncio words a refusal "Connect call failed (...)"; a name that does not resolve keeps the
            # resolver's own words (os.strerror does not know its codes: "Unknown error -2").
            resolver = isinstance(exc, socket.gaierror)
            why = f"[Errno {exc.errno}] {os.strerror(exc.errno)}" if exc.errno and not resolver else str(exc)
            raise RelayUnusable(f"connect to {self.url}: {why}") from None
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = RelayConnection(self, reader, writer)
        try:
            async with asyncio.timeout(self.timeouts.greeting_timeout):
                await conn._hello()
        except (RelayUnusable, Dropped):
            conn.abort()
            raise
        except TimeoutError:
            conn.abort()
            raise TimedOut("with its greeting (or to EHLO, STARTTLS, AUTH)", self.timeouts.greeting_timeout,
                           self.url) from None
        except ssl.SSLCertVerificationError as exc:
            conn.abort()
            raise RelayUnusable(f"TLS with {self.url}: {exc.verify_message or exc}") from None
        except ssl.SSLError as exc:
            conn.abort()
            raise RelayUnusable(f"TLS handshake with {self.url} failed: {exc.reason or exc}") from None
        except (OSError, EOFError, asyncio.IncompleteReadError) as exc:
            conn.abort()
            raise Dropped(f"connect to {self.url}: {type(exc).__name__} {exc}".strip()) from None
        self.opened += 1
        return conn


class RelayConnection(AsyncConnection):
    """One SMTP session. Not shared: one coroutine sends on it at a time."""

    def __init__(self, relay: SmtpRelay, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.relay = relay
        self.reader, self.writer = reader, writer
        self.extensions: dict[str, str] = {}
        self.esmtp = False
        self.messages = 0  # messages handed over (accepted or not) on this connection
        self._reset_needed = False
        self.closed = False
        self._held: tuple[bytes, list] | None = None  # a body written, its final "." not: (the ".", refused RCPTs)

    @property
    def pipelining(self) -> bool:
        return "pipelining" in self.extensions

    @property
    def one_trip(self) -> bool:
        """One round trip a message: the relay pipelines, and nobody asked for two."""
        return self.pipelining and self.relay.one_trip

    @property
    def holding(self) -> bool:
        """A message's body is written and its final "." held."""
        return self._held is not None

    # -- replies -------------------------------------------------------------

    async def _reply(self) -> tuple[int, str]:
        """One (possibly multi-line) reply: (code, text). EOF raises IncompleteReadError."""
        code, lines = await self._reply_lines()
        return code, " ".join(lines)

    async def _reply_lines(self) -> tuple[int, list[str]]:
        lines = []
        while True:
            line = await self.reader.readuntil(b"\n")
            lines.append(line)
            if line[3:4] != b"-":
                break
        head = lines[-1][:3]
        code = int(head) if head.isdigit() else -1
        return code, [x[4:].strip().decode("utf-8", "replace") for x in lines]

    async def _command(self, line: bytes) -> tuple[int, str]:
        self.writer.write(line + b"\r\n")
        return await self._reply()

    # -- session set-up ------------------------------------------------------

    async def _hello(self) -> None:
        url = self.relay.url
        code, text = await self._reply()
        if code != 220:
            self._refused_at_connect(f"greeting of {url}", code, text)
        await self._ehlo()
        if self.relay.security == "starttls":
            if "starttls" not in self.extensions:
                raise RelayUnusable(f"{url}: STARTTLS extension not supported by server.")
            code, text = await self._command(b"STARTTLS")
            if code != 220:
                self._refused_at_connect(f"STARTTLS at {url}", code, text)
            await self.writer.start_tls(self.relay._context(), server_hostname=self.relay.host)
            await self._ehlo()
        if self.relay.username:
            await self._auth()

    def _refused_at_connect(self, stage: str, code: int, text: str) -> None:
        if 400 <= code < 500 or _busy(code, text):
            raise Dropped(f"{stage}: {code} {text}", busy=True)
        raise RelayUnusable(f"{stage}: {code} {text}")

    async def _ehlo(self) -> None:
        name = self.relay.local_hostname.encode("idna")
        self.writer.write(b"EHLO " + name + b"\r\n")
        code, lines = await self._reply_lines()
        text = " ".join(lines)
        if code == 250:
            self.esmtp = True
            self.extensions = {}
            for line in lines[1:]:  # the first line is the server's name
                keyword, _, params = line.partition(" ")
                self.extensions[keyword.lower()] = params
            return
        if code == 421 or _busy(code, text):
            self._refused_at_connect(f"EHLO at {self.relay.url}", code, text)
        code, text = await self._command(b"HELO " + name)
        if code != 250:
            self._refused_at_connect(f"HELO at {self.relay.url}", code, text)
        self.esmtp, self.extensions = False, {}

    async def _auth(self) -> None:
        user, password = self.relay.username or "", self.relay._password
        methods = self.extensions.get("auth", "").upper().split()
        url = self.relay.url
        if "AUTH" not in {k.upper() for k in self.extensions}:
            raise RelayUnusable(f"{url}: SMTP AUTH extension not supported by server.")
        if "PLAIN" in methods:
            token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
            code, text = await self._command(f"AUTH PLAIN {token}".encode())
        elif "LOGIN" in methods:
            code, text = await self._command(b"AUTH LOGIN")
            if code == 334:
                code, text = await self._command(base64.b64encode(user.encode()))
            if code == 334:
                code, text = await self._command(base64.b64encode(password.encode()))
        else:
            raise RelayUnusable(f"{url}: no AUTH mechanism in common (server offers {' '.join(methods) or 'none'})")
        if code != 235:
            if code == 421 or (400 <= code < 500 and code != 454):
                raise Dropped(f"AUTH at {url}: {code} {text}", busy=code == 421)
            raise RelayUnusable(f"AUTH at {url}: {code} {text}")

    # -- sending -------------------------------------------------------------

    def _mail_options(self, envelope: Envelope, data: bytes) -> bytes | SendResult:
        opts = b""
        if not self.esmtp:
            return opts
        if "size" in self.extensions:
            opts += b" SIZE=%d" % len(data)
        if not data.isascii() and "8bitmime" in self.extensions:
            opts += b" BODY=8BITMIME"
        addresses = (envelope.sender, *envelope.recipients)
        if not all(a.isascii() for a in addresses):
            if "smtputf8" not in self.extensions:
                odd = next(a for a in addresses if not a.isascii())
                return SendResult(False, True, None, _one_line(f"{self.relay.url} does not support SMTPUTF8, "
                                                                f"needed for {odd}"))
            opts += b" SMTPUTF8"
        return opts

    async def send(self, envelope: Envelope, message: bytes, *, hold: asyncio.Future | None = None) -> SendResult:
        """One mail transaction, two round trips: a SendResult, or Dropped (send it on another connection).

        `hold`, when given, is awaited after the body is written and before its
        final "." goes out; if it fails, the connection is dropped and its error raised.
        """
        if self._held is not None:
            raise RuntimeError('send() while a message is held: finish() it first')
        prepared = self._prepare(envelope, message)
        if isinstance(prepared, SendResult):
            return prepared
        data, options = prepared
        replies = await self._envelope(self._transaction(envelope, options))
        verdict = _verdict(envelope, replies)
        if isinstance(verdict, SendResult):
            await self._abandon(replies[-1][0])
            return verdict
        await self._body(data, hold)
        reply = await self._final_reply()
        if isinstance(reply, SendResult):
            return reply
        return self._outcome(*reply, verdict, len(envelope.recipients))

    async def send_next(self, envelope: Envelope, message: bytes, *,
                        hold: asyncio.Future | None = None) -> tuple[SendResult | None, SendResult | None]:
        """One round trip: the held "." (once `hold` is done) and this message's commands in one write.

        Returns (the held message's outcome, None if none was held; this
        message's outcome if it was refused before its body, else None: its
        body is written and its "." is now held, for the next send_next() or finish()).
        """
        prepared = self._prepare(envelope, message)
        if isinstance(prepared, SendResult):
            return None, prepared
        data, options = prepared
        commands = self._transaction(envelope, options)
        held, self._held = self._held, None
        before = None
        if held is None:
            self._quiet()
            replies = await self._envelope(commands)
        else:
            before, replies = await self._after_dot(held, commands, hold)
        self._in_step([c for c in commands if c != b"RSET"], replies, before)
        verdict = _verdict(envelope, replies)
        if isinstance(verdict, SendResult):
            await self._abandon(replies[-1][0])
            return before, verdict
        data, end = _stuffed(data)
        self.writer.write(data)  # the body now; its "." with the next message's commands, or alone
        self._held = (end, verdict, len(envelope.recipients))
        return before, None

    async def finish(self, *, hold: asyncio.Future | None = None, quit: bool = False) -> SendResult:
        """The held "." alone (with QUIT in the same write when the connection ends): the held message's outcome."""
        if self._held is None:
            raise RuntimeError("finish() with no message held")
        (end, refused, recipients), self._held = self._held, None
        await self._wait(hold)
        self._quiet()
        self.writer.write((end + b"QUIT\r\n") if quit else end)
        reply = await self._final_reply()
        if isinstance(reply, SendResult):
            return reply
        code, text = reply
        if not _answers(b".", code):
            self._out_of_step(f'the final "." answered {code} {text}', _unsure())
        if quit:
            await self._bye()
        return self._outcome(code, text, refused, recipients)

    def _prepare(self, envelope: Envelope, message: bytes) -> tuple[bytes, bytes] | SendResult:
        """The message as CRLF bytes and MAIL FROM's options, or why it cannot be sent at all."""
        if not envelope.recipients:
            return SendResult(False, True, None, "no recipients")
        data = crlf(message)
        options = self._mail_options(envelope, data)
        if isinstance(options, SendResult):
            return options
        self.messages += 1
        return data, options

    def _transaction(self, envelope: Envelope, options: bytes) -> list[bytes]:
        """MAIL FROM, RCPT TO, DATA (after an RSET if the last transaction failed)."""
        commands = [b"MAIL FROM:<" + envelope.sender.encode() + b">" + options]
        commands += [b"RCPT TO:<" + r.encode() + b">" for r in envelope.recipients]
        commands.append(b"DATA")
        if self._reset_needed:
            commands.insert(0, b"RSET")
        return commands

    def _outcome(self, code: int, text: str, refused: list, recipients: int) -> SendResult:
        """The reply to a message's final "." (and the RCPTs refused before it) as the message's outcome."""
        if code != 250:
            self._reset_needed = False  # a refused message ends the transaction
            return _refused("DATA", code, text)
        if refused:
            rcpt, rcode, rtext = refused[0]
            accepted = recipients - len(refused)
            return _refused(f"RCPT TO <{rcpt}> (accepted for {accepted} other(s))", rcode, rtext)
        return SendResult(True, False, code, _one_line(f"{code} {text}"))

    async def _envelope(self, commands: list[bytes]) -> list[tuple[int, str]]:
        """MAIL FROM, RCPT TO, DATA (and RSET): their replies, RSET's dropped."""
        seconds = self.relay.timeouts.command_timeout
        try:
            async with asyncio.timeout(seconds):
                replies = await self._commands(commands)
        except TimeoutError:
            self.abort()
            raise TimedOut("to MAIL FROM, RCPT TO or DATA", seconds, self.relay.url) from None
        except (OSError, EOFError, asyncio.IncompleteReadError) as exc:
            self.abort()
            raise Dropped(f"before DATA: {_why(exc)}") from None
        return self._after_reset(commands, self._no_421(replies))

    async def _after_dot(self, held: tuple, commands: list[bytes],
                         hold: asyncio.Future | None) -> tuple[SendResult, list[tuple[int, str]]]:
        """The held "." and the next commands in one write: the held message's outcome, the commands' replies."""
        end, refused, recipients = held
        await self._wait(hold)
        self._quiet()
        self.writer.write(end + b"\r\n".join(commands) + b"\r\n")
        reply = await self._final_reply()  # 421: Dropped, and the held message did not go either
        if isinstance(reply, SendResult):  # the connection broke after the ".": that message may have gone
            raise Dropped(reply.message, previous=reply)
        code, text = reply
        if not _answers(b".", code):
            self._out_of_step(f'the final "." answered {code} {text}', _unsure())
        before = self._outcome(code, text, refused, recipients)
        try:
            async with asyncio.timeout(self.relay.timeouts.command_timeout):
                replies = await self._read_replies(len(commands))
        except TimeoutError:  # the "." was answered and the commands behind it not: not pipelining after all
            self._out_of_step('no reply to the commands after a final "."', before)
        except (OSError, EOFError, asyncio.IncompleteReadError) as exc:
            self.abort()
            raise Dropped(f"before DATA: {_why(exc)}", previous=before) from None
        return before, self._after_reset(commands, self._no_421(replies, before))

    def _no_421(self, replies: list[tuple[int, str]], before: SendResult | None = None) -> list[tuple[int, str]]:
        for code, text in replies:
            if code == 421:  # the relay is closing the connection (RSET included): nothing was taken
                self.abort()
                raise Dropped(f"{code} {text}", busy=True, previous=before)
        return replies

    def _after_reset(self, commands: list[bytes], replies: list[tuple[int, str]]) -> list[tuple[int, str]]:
        if commands[0] == b"RSET":
            self._reset_needed = False
            return replies[1:]
        return replies

    def _in_step(self, commands: list[bytes], replies: list[tuple[int, str]], before: SendResult | None) -> None:
        """Each reply of a pipelined group fits its command (a 354 to DATA only), else out of step."""
        for command, (code, text) in zip(commands, replies):
            if not _answers(command, code):
                verb = command.split(b":")[0].decode("ascii", "replace")
                self._out_of_step(f"{verb} answered {code} {text}", None if before is None else _unsure())

    def _quiet(self) -> None:
        """Before a group goes out the relay owes us nothing: what is waiting is a reply nobody asked for."""
        waiting = bytes(getattr(self.reader, "_buffer", b""))  # StreamReader has no public peek
        if waiting.startswith(b"421"):  # closing on its own (an idle timeout): nothing held went
            self.abort()
            raise Dropped(_one_line(waiting), busy=True)
        if waiting:
            self._out_of_step(f"a reply nobody asked for: {waiting[:80]!r}", None)
        if self.reader.at_eof():
            self.abort()
            raise Dropped("connection closed by the server")

    def _out_of_step(self, what: str, previous: SendResult | None):
        """The relay's replies do not fit the pipelined commands: close; the next connection takes two trips."""
        self.abort()
        raise Dropped(f"{self.relay.url} answered pipelined commands out of step ({what})", previous=previous,
                      out_of_step=True) from None

    async def _wait(self, hold: asyncio.Future | None) -> None:
        """The commit of the previous outcome, before a "." goes out (a failed commit stops us here)."""
        if hold is None:
            return
        try:
            await hold
        except BaseException:  # the commit failed (or we are cancelled): the held message must not complete
            self.abort()
            raise

    async def _bye(self) -> None:
        """QUIT went out with the last "." : its 221 (or nothing), then close."""
        try:
            async with asyncio.timeout(min(self.relay.timeouts.command_timeout, 5)):
                await self._reply()
        except Exception:
            pass
        self.abort()

    async def _abandon(self, data_code: int) -> None:
        """The transaction failed before the body: an RSET goes in front of the next one."""
        if data_code == 354:  # an old server took DATA with no one to deliver to: end it at once
            try:
                async with asyncio.timeout(self.relay.timeouts.command_timeout):
                    await self._command(b".")
            except (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError):
                self.abort()
        self._reset_needed = True

    async def _body(self, data: bytes, hold: asyncio.Future | None) -> None:
        """The message, dot-stuffed; its final "." only once `hold` (the previous commit) is done."""
        data, end = _stuffed(data)
        try:
            if hold is not None and not hold.done():
                self.writer.write(data)
                await hold  # the previous message's outcome is committed before this one can be accepted
                self.writer.write(end)
            else:
                if hold is not None:
                    hold.result()  # a failed commit stops us here too
                self.writer.write(data + end)
        except (OSError, EOFError) as exc:  # nothing accepted without the final "."
            self.abort()
            raise Dropped(f"during DATA: {_why(exc)}") from None
        except BaseException:  # the commit failed (or we are cancelled): this message must not complete
            self.abort()
            raise

    async def _final_reply(self) -> tuple[int, str] | SendResult:
        """The relay's answer to the final "." (a 421 drops the connection: the message did not go)."""
        seconds = self.relay.timeouts.data_timeout
        try:
            async with asyncio.timeout(seconds):
                await self.writer.drain()
                code, text = await self._reply()
        except TimeoutError:  # the "." went out: the relay may or may not have the message
            self.abort()
            raise TimedOut('to the final "." of a message', seconds, self.relay.url) from None
        except (OSError, EOFError, asyncio.IncompleteReadError) as exc:
            self.abort()
            return SendResult(False, False, None, _one_line(f"after the message: {_why(exc)}"))
        if code == 421:
            self.abort()
            raise Dropped(f"{code} {text}", busy=True)
        return code, text

    async def _commands(self, commands: list[bytes]) -> list[tuple[int, str]]:
        """Send commands and read one reply each: all at once when pipelining, else one by one."""
        if self.pipelining:
            self.writer.write(b"\r\n".join(commands) + b"\r\n")
            return await self._read_replies(len(commands))
        replies: list[tuple[int, str]] = []
        rcpt_ok = False
        for i, line in enumerate(commands):
            code, text = await self._command(line)
            replies.append((code, text))
            verb = line[:4]
            rcpt_ok = rcpt_ok or (verb == b"RCPT" and code in (250, 251))
            # Without pipelining: a refused MAIL, or every RCPT refused, means no DATA.
            stop = code == 421 or (verb == b"MAIL" and code != 250)
            stop = stop or (verb == b"RCPT" and commands[i + 1] == b"DATA" and not rcpt_ok)
            if stop:
                replies += [(503, "not sent")] * (len(commands) - i - 1)
                break
        return replies

    async def _read_replies(self, count: int) -> list[tuple[int, str]]:
        """The replies to `count` pipelined commands, in order (after a 421 no more will come)."""
        replies: list[tuple[int, str]] = []
        for n in range(count):
            code, text = await self._reply()
            replies.append((code, text))
            if code == 421:  # the relay is hanging up: no more replies will come
                replies += [(421, text)] * (count - n - 1)
                break
        return replies

    async def quit(self) -> None:
        """QUIT politely; never raises. A held message is not completed: QUIT inside DATA would be its text."""
        if self.closed:
            return
        if self._held is not None:
            self._held = None
            self.abort()
            return
        try:
            async with asyncio.timeout(min(self.relay.timeouts.command_timeout, 5)):
                await self._command(b"QUIT")
        except Exception:
            pass
        self.abort()

    def abort(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.writer.close()
        except Exception:
            pass


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "connection closed by the server"
    return str(exc) or type(exc).__name__


def _verdict(envelope: Envelope, replies: list[tuple[int, str]]) -> SendResult | list:
    """The replies to MAIL FROM, RCPT TO, DATA: why the body cannot follow (a SendResult), else the refused RCPTs."""
    (mail_code, mail_text), *rest = replies
    rcpt_replies, (data_code, data_text) = rest[:-1], rest[-1]
    refused = [(r, c, t) for r, (c, t) in zip(envelope.recipients, rcpt_replies) if c not in (250, 251)]
    if mail_code != 250 or len(refused) == len(envelope.recipients) or data_code != 354:
        if mail_code != 250:
            return _refused("MAIL FROM", mail_code, mail_text)
        if refused:
            rcpt, code, text = refused[0]
            return _refused(f"RCPT TO <{rcpt}>", code, text)
        return _refused("DATA", data_code, data_text)
    return refused


def _answers(command: bytes, code: int) -> bool:
    """Does this reply code fit this command? DATA: 354 or a refusal; the others (and "."): never a 3xx."""
    if not 200 <= code <= 599:
        return False
    if command == b"DATA":
        return code == 354 or code >= 400
    return not 300 <= code < 400


def _unsure() -> SendResult:
    """A held message whose "." went out and whose reply cannot be trusted: it may have gone; try again later."""
    return SendResult(False, False, None, 'the relay answered out of step after the final ".": it may have '
                                          "been accepted")


def _stuffed(data: bytes) -> tuple[bytes, bytes]:
    """The body dot-stuffed, and the final "." that ends it."""
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\r\n.", b"\r\n..")
    return data, (b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n")


def _refused(stage: str, code: int, text: str) -> SendResult:
    permanent = 500 <= code <= 599
    return SendResult(False, permanent, code, _one_line(f"{stage}: {code} {text}"))

"""SMTP delivery: one reused connection per sending thread.

Built on smtplib for the protocol (EHLO, STARTTLS, AUTH, replies), with the
mail transaction written out (MAIL, RCPT, DATA) so that a dropped connection
is retried only when nothing can have been sent yet, and DATA without
smtplib's whole-message regexes (see _data).
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import replace
from urllib.parse import unquote, urlsplit

from ...errors import DeliveryError
from .base import Envelope, SendResult, one_line

_SCHEMES = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}
_BARE_LF = re.compile(rb"(?<!\r)\n")
_QUIT_TIMEOUT = 5.0


def _refused(stage: str, code: int, reply: str | bytes, *, fatal: bool = False) -> SendResult:
    permanent = 500 <= code <= 599
    return SendResult(False, permanent, code, one_line(f"{stage}: {code} {one_line(reply)}"), fatal and permanent)


def _trouble(stage: str, exc: BaseException) -> SendResult:
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, TimeoutError):
        reason = f"timed out ({reason})" if "timed out" not in reason else reason
    return SendResult(False, False, None, one_line(f"{stage}: {reason}"))


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, safe to print or log."""
    head, sep, rest = url.partition("://")
    if not sep:
        head, rest = "", url
    at = rest.rfind("@")  # the last @: a password may hold an unescaped one
    colon = rest.find(":", 0, at) if at >= 0 else -1
    if colon < 0:
        return url
    return f"{head}{sep}{rest[: colon + 1]}***{rest[at:]}"


def _data(conn: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
    """DATA with the message as it is: smtplib.SMTP.data without its two regexes.

    smtplib re-normalises line ends and dot-stuffs with re.sub over the whole
    message, which for a 30-50 KB digest costs more CPU than the rest of the
    send; our messages are CRLF already (crlf() below), so dot-stuffing is one
    bytes.replace. Same protocol, same replies and exceptions as smtplib.
    """
    code, reply = conn.docmd("data")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\r\n.", b"\r\n..")
    # One send: a separate small ".\r\n" would wait on Nagle and a delayed ACK.
    conn.send(data + (b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"))
    return conn.getreply()


def crlf(message: bytes) -> bytes:
    """Line ends as SMTP wants them: a bare LF becomes CRLF; CRLF input is returned as is."""
    # Two C-speed counts instead of a look-behind regex scan (which cost more
    # than the rest of a send for a 30 KB message).
    if message.count(b"\n") != message.count(b"\r\n"):
        return _BARE_LF.sub(b"\r\n", message)
    return message


class SmtpTransport:
    """One SMTP connection, opened on first send and reused until close().

    A stale connection (the server hung up while we were idle) is noticed at
    MAIL FROM, before any of the message went out, and reopened once; a drop
    later in the transaction is reported as temporary, because the server
    may or may not have taken the message.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str = "plain",
        username: str | None = None,
        password: str = "",
        timeout: float = 30,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        url: str = "",
    ):
        if security not in ("plain", "starttls", "tls"):
            raise DeliveryError(f"SMTP security must be plain, starttls or tls, not {security!r}")
        self.host, self.port, self.security = host, port, security
        self.username, self._password = username, password
        self.timeout, self.local_hostname = timeout, local_hostname
        self._ssl_context = ssl_context
        self.url = mask_url(url) if url else f"{host}:{port}"
        self.connections = 0  # how many times a connection was opened, for logs and tests
        self._conn: smtplib.SMTP | None = None

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout: float = 30,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> "SmtpTransport":
        """smtp://[user:pass@]host[:port] (plain, 25), smtp+starttls:// (587), smtps:// (465).

        User and password are URL-decoded. TLS certificates are checked against
        the system store (SSL_CERT_FILE overrides it) unless ssl_context is given.
        """
        if not url or not url.strip():
            raise DeliveryError("no SMTP URL configured: set DIGEST_SMTP_URL or [digest] smtp_url")
        url = url.strip()
        shown = mask_url(url)

        def bad(reason: str) -> DeliveryError:
            return DeliveryError(f"SMTP URL {shown}: {reason}")

        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise bad(str(exc)) from None
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            given = f"{parts.scheme}://" if "://" in url else "none"  # "host:25" parses as scheme "host"
            raise bad(f"scheme must be smtp://, smtp+starttls:// or smtps://, not {given}")
        security, default_port = _SCHEMES[scheme]
        try:
            host, port = parts.hostname, parts.port
        except ValueError:
            raise bad("port must be a number from 1 to 65535") from None
        if not host:
            raise bad("no host")
        if port == 0:
            raise bad("port must be a number from 1 to 65535")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise bad("a path or query is not allowed")
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password or "")
        return cls(
            host,
            port or default_port,
            security=security,
            username=username,
            password=password,
            timeout=timeout,
            local_hostname=local_hostname,
            ssl_context=ssl_context,
            url=url,
        )

    def __repr__(self) -> str:
        return f"<SmtpTransport {self.url}>"

    def __enter__(self) -> "SmtpTransport":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- connection ---------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _connect(self) -> smtplib.SMTP:
        kwargs = {"local_hostname": self.local_hostname, "timeout": self.timeout}
        if self.security == "tls":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, context=self._context(), **kwargs)
        else:
            conn = smtplib.SMTP(self.host, self.port, **kwargs)
        try:
            conn.ehlo_or_helo_if_needed()
            if self.security == "starttls":
                code, reply = conn.starttls(context=self._context())
                if code != 220:  # smtplib returns a refusal instead of raising it
                    raise smtplib.SMTPResponseException(code, reply)
                conn.ehlo_or_helo_if_needed()
            if self.username:
                conn.login(self.username, self._password)
        except BaseException:
            conn.close()
            raise
        self.connections += 1
        return conn

    def _open(self) -> smtplib.SMTP | SendResult:
        """A fresh connection, or the result that explains why there is none.

        Every failure here is the relay's, not a recipient's: refused or
        unreachable, a TLS handshake or certificate that fails, a greeting,
        EHLO, STARTTLS or AUTH refused (any code). So each is `fatal`: the
        worker stops the run and gives its claims back without spending an
        attempt. Only replies after RCPT TO and DATA count against a recipient.
        """
        try:
            self._conn = self._connect()
            return self._conn
        except smtplib.SMTPAuthenticationError as exc:
            result = _refused(f"AUTH at {self.url}", exc.smtp_code, exc.smtp_error)
        except smtplib.SMTPNotSupportedError as exc:  # STARTTLS or AUTH not offered
            result = SendResult(False, True, None, one_line(f"{self.url}: {exc}"))
        except smtplib.SMTPResponseException as exc:  # greeting, EHLO or STARTTLS refused
            result = _refused(f"connect to {self.url}", exc.smtp_code, exc.smtp_error)
        except ssl.SSLCertVerificationError as exc:
            result = SendResult(False, True, None, one_line(f"TLS with {self.url}: {exc.verify_message or exc}"))
        except ssl.SSLError as exc:  # the handshake itself failed (no TLS there, no common protocol)
            result = SendResult(False, True, None, one_line(f"TLS handshake with {self.url} failed: {exc.reason or exc}"))
        except smtplib.SMTPServerDisconnected as exc:
            result = _trouble(f"connect to {self.url}", exc)
        except smtplib.SMTPException as exc:  # e.g. no AUTH mechanism in common
            result = SendResult(False, True, None, one_line(f"{self.url}: {exc}"))
        except OSError as exc:  # refused, unreachable, timeout
            result = _trouble(f"connect to {self.url}", exc)
        return replace(result, fatal=True)

    def _discard(self) -> None:
        """Forget the connection without a word to the server (it is gone or said 421)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def close(self) -> None:
        """QUIT politely and drop the connection; never raises."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.sock is not None:
                conn.sock.settimeout(min(self.timeout, _QUIT_TIMEOUT))
            conn.quit()
        except Exception:
            pass
        finally:
            try:
                conn.close()
            except Exception:
                pass

    # -- sending ------------------------------------------------------------

    def send(self, envelope: Envelope, message: bytes) -> SendResult:
        """MAIL FROM, RCPT TO, DATA on the open connection; reconnect once if it went stale."""
        if not envelope.recipients:
            return SendResult(False, True, None, "no recipients")
        data = crlf(message)
        reused = self._conn is not None
        conn = self._conn if reused else self._open()
        if isinstance(conn, SendResult):
            return conn
        result = self._transaction(conn, envelope, data, stale_ok=reused)
        if result is None:  # stale: nothing was sent yet, so a second try is safe
            self._discard()
            conn = self._open()
            if isinstance(conn, SendResult):
                return conn
            result = self._transaction(conn, envelope, data, stale_ok=False)
        assert result is not None
        return result

    def _mail_options(self, conn: smtplib.SMTP, envelope: Envelope, data: bytes) -> list[str] | SendResult:
        options: list[str] = []
        if not conn.does_esmtp:
            return options
        if conn.has_extn("size"):
            options.append(f"SIZE={len(data)}")
        # Messages are 7-bit (quoted-printable) by design; declare 8BITMIME only
        # when something slipped through, and send as is if the server lacks it.
        if not data.isascii() and conn.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        addresses = (envelope.sender, *envelope.recipients)
        if not all(a.isascii() for a in addresses):
            if not conn.has_extn("smtputf8"):
                odd = next(a for a in addresses if not a.isascii())
                return SendResult(False, True, None, one_line(f"{self.url} does not support SMTPUTF8, needed for {odd}"))
            options.append("SMTPUTF8")
        return options

    def _transaction(self, conn: smtplib.SMTP, envelope: Envelope, data: bytes, *, stale_ok: bool) -> SendResult | None:
        """One mail transaction; None means the connection was stale at MAIL FROM."""
        options = self._mail_options(conn, envelope, data)
        if isinstance(options, SendResult):
            return options
        try:
            code, reply = conn.mail(envelope.sender, options)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            if stale_ok:
                return None
            self._discard()
            return _trouble("MAIL FROM", exc)
        # An idle server that timed us out says 421 as it hangs up; we read it here.
        if code == 421 and stale_ok:
            return None
        if code != 250:  # the relay refuses our sender: no recipient's fault, so the run stops
            return replace(self._failed(conn, "MAIL FROM", code, reply), fatal=True)
        try:
            refused: dict[str, tuple[int, bytes]] = {}
            for rcpt in envelope.recipients:
                code, reply = conn.rcpt(rcpt)
                if code not in (250, 251):
                    refused[rcpt] = (code, reply)
                    if code == 421:
                        break
            if refused and (len(refused) == len(envelope.recipients) or code == 421):
                rcpt, (code, reply) = next(iter(refused.items()))
                return self._failed(conn, f"RCPT TO <{rcpt}>", code, reply)
            code, reply = _data(conn, data)
            if code != 250:
                return self._failed(conn, "DATA", code, reply)
        except smtplib.SMTPDataError as exc:  # no 354 after DATA
            return self._failed(conn, "DATA", exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._discard()
            return _trouble("during the transaction", exc)
        if refused:
            # We send one recipient per message, so this only happens to other
            # callers: report the first refusal as the result, say who got it.
            rcpt, (rcode, rreply) = next(iter(refused.items()))
            accepted = len(envelope.recipients) - len(refused)
            result = _refused(f"RCPT TO <{rcpt}> (accepted for {accepted} other(s))", rcode, rreply)
            return result
        return SendResult(True, False, code, one_line(reply))

    def _failed(self, conn: smtplib.SMTP, stage: str, code: int, reply: bytes | str) -> SendResult:
        """A refused command: reset for the next message, or drop the connection after 421."""
        if code == 421 or code < 0:
            self._discard()
        else:
            try:
                rcode, _ = conn.rset()
                if rcode != 250:
                    self._discard()
            except (smtplib.SMTPException, OSError):
                self._discard()
        return _refused(stage, code, reply)

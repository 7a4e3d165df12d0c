"""Transports against a real SMTP server on 127.0.0.1 (tests/smtp_server.py), a real folder, a list."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time

import pytest
from smtp_server import SmtpSink

from digest.sending.transports import Envelope, FileTransport, MemoryTransport, SendResult, SmtpTransport, Transport, crlf, make_transport, mask_url
from digest.errors import DeliveryError

BOUNCE = "bounces@news.example.org"


def message(n: int = 1, to: str = "ada@example.net", body: str = "") -> bytes:
    """A 7-bit message as message.py makes them: CRLF, quoted-printable, a Message-ID."""
    return (
        "From: Digest <news@example.org>\r\n"
        f"To: {to}\r\n"
        f"Subject: Weekly digest {n}\r\n"
        f"Message-ID: <edition-7.{n}@news.example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        # A leading dot must survive dot-stuffing; =E2=80=94 is an em dash.
        f".hidden dot line\r\nLine with a soft break =\r\ncontinued =E2=80=94 done {n}\r\n{body}"
        "..two dots\r\n"
    ).encode("ascii")


def env(to: str = "ada@example.net") -> Envelope:
    return Envelope(BOUNCE, (to,))


@pytest.fixture
def smtp(smtp_sink):
    transport = SmtpTransport.from_url(smtp_sink.url, timeout=10)
    yield transport
    transport.close()


# -- SMTP: the happy path ------------------------------------------------------


def test_message_arrives_byte_for_byte_with_the_envelope(smtp, smtp_sink):
    msg = message()
    result = smtp.send(Envelope(BOUNCE, ("ada@example.net",)), msg)
    assert result.ok and not result.permanent and result.code == 250
    (got,) = smtp_sink.messages
    assert got.data == msg
    assert (got.mail_from, got.rcpt_tos) == (BOUNCE, ("ada@example.net",))
    assert got.message["Subject"] == "Weekly digest 1"
    assert "8BITMIME" not in " ".join(got.mail_options)  # 7-bit needs no BODY=


def test_bare_line_feeds_go_out_as_crlf(smtp, smtp_sink):
    msg = message().replace(b"\r\n", b"\n")
    assert smtp.send(env(), msg).ok
    assert smtp_sink.messages[0].data == message()
    already = message()
    assert crlf(already) is already  # CRLF input is passed through untouched, not copied


def test_many_sends_share_one_connection(smtp, smtp_sink):
    results = [smtp.send(env(f"m{n}@example.net"), message(n)) for n in range(5)]
    assert all(r.ok for r in results)
    assert smtp_sink.connections == 1 and smtp.connections == 1
    assert [m.connection for m in smtp_sink.messages] == [1] * 5
    assert [m.data for m in smtp_sink.messages] == [message(n) for n in range(5)]


def test_eight_bit_message_is_declared_and_a_utf8_address_uses_smtputf8(smtp, smtp_sink):
    msg = message().replace(b"=E2=80=94", "\u2014".encode())
    assert smtp.send(env("zoë@example.net"), msg).ok
    got = smtp_sink.messages[0]
    assert got.data == msg and got.rcpt_tos == ("zoë@example.net",)
    assert "BODY=8BITMIME" in got.mail_options and "SMTPUTF8" in got.mail_options


def test_the_sink_serves_a_sender_in_another_process(smtp_sink):
    code = (
        "import sys; from digest.sending.transports import Envelope, SmtpTransport\n"
        "with SmtpTransport.from_url(sys.argv[1]) as t:\n"
        "    r = t.send(Envelope(sys.argv[2], (sys.argv[3],)), sys.stdin.buffer.read())\n"
        "print(r.ok, r.code)"
    )
    argv = [sys.executable, "-c", code, smtp_sink.url, BOUNCE, "ada@example.net"]
    done = subprocess.run(argv, input=message(), capture_output=True, timeout=60)
    assert done.stdout.decode().split() == ["True", "250"], done.stderr.decode()
    assert smtp_sink.wait_for(1)[0].data == message()


# -- SMTP: refusals --------------------------------------------------------------


def test_451_is_temporary_and_the_connection_stays_usable(smtp, smtp_sink):
    smtp_sink.reply_for["slow@example.net"] = "451 4.3.0 Try again later"
    result = smtp.send(env("slow@example.net"), message())
    assert (result.ok, result.permanent, result.code, result.fatal) == (False, False, 451, False)
    assert result.message == "RCPT TO <slow@example.net>: 451 4.3.0 Try again later"
    assert smtp.send(env(), message(2)).ok
    assert smtp_sink.connections == 1 and len(smtp_sink.messages) == 1


def test_550_is_permanent(smtp, smtp_sink):
    smtp_sink.reply_for["gone@example.net"] = "550 5.1.1 No such user"
    result = smtp.send(env("gone@example.net"), message())
    assert (result.ok, result.permanent, result.code) == (False, True, 550)
    assert "5.1.1 No such user" in result.message and "\n" not in result.message
    assert smtp_sink.messages == []


def test_fail_first_n_then_accept(smtp, smtp_sink):
    smtp_sink.fail_first("flaky@example.net", 2)
    codes = [smtp.send(env("flaky@example.net"), message()).code for _ in range(3)]
    assert codes == [451, 451, 250]
    assert smtp_sink.attempts["flaky@example.net"] == 3 and len(smtp_sink.messages) == 1


@pytest.mark.parametrize(
    "where, reply, permanent",
    [("mail", "451 4.7.1 Greylisted", False), ("mail", "553 5.7.1 Sender refused", True),
     ("data", "554 5.6.0 Message rejected as spam", True), ("data", "452 4.3.1 Out of memory", False)],
)
def test_refusal_at_mail_from_or_after_data(smtp, smtp_sink, where, reply, permanent):
    table = smtp_sink.mail_reply_for if where == "mail" else smtp_sink.data_reply_for
    table[BOUNCE if where == "mail" else "ada@example.net"] = reply
    result = smtp.send(env(), message())
    assert (result.ok, result.permanent, result.code) == (False, permanent, int(reply[:3]))
    assert result.message.startswith("MAIL FROM: " if where == "mail" else "DATA: ")
    assert result.fatal == (where == "mail")  # a refused sender is no recipient's fault: the run stops
    table.clear()
    assert smtp.send(env(), message(2)).ok  # RSET left the session clean
    assert smtp_sink.connections == 1


def test_421_closes_the_connection_and_the_next_send_reconnects(smtp, smtp_sink):
    smtp_sink.reply_for["busy@example.net"] = "421 4.3.2 Service shutting down"
    result = smtp.send(env("busy@example.net"), message())
    assert (result.ok, result.permanent, result.code) == (False, False, 421)
    assert smtp.send(env(), message(2)).ok
    assert smtp.connections == 2 and smtp_sink.connections == 2


def test_partial_acceptance_reports_the_refused_address(smtp, smtp_sink):
    smtp_sink.reply_for["gone@example.net"] = "550 5.1.1 No such user"
    result = smtp.send(Envelope(BOUNCE, ("ada@example.net", "gone@example.net")), message())
    assert (result.ok, result.permanent, result.code) == (False, True, 550)
    assert "gone@example.net" in result.message and "accepted for 1" in result.message
    assert smtp_sink.messages[0].rcpt_tos == ("ada@example.net",)


# -- SMTP: connections that go away ----------------------------------------------


def test_a_connection_the_server_dropped_is_reopened_once_transparently(smtp, smtp_sink):
    assert smtp.send(env(), message(1)).ok
    smtp_sink.drop_connections()  # as an idle timeout would
    result = smtp.send(env(), message(2))
    assert result.ok, result.message
    assert smtp.connections == 2 and [m.connection for m in smtp_sink.messages] == [1, 2]


def test_421_at_mail_from_on_an_idle_connection_reconnects_once_only(smtp, smtp_sink):
    assert smtp.send(env(), message(1)).ok
    smtp_sink.mail_reply_for[BOUNCE] = "421 4.4.2 Idle timeout"  # what an idle server says as it hangs up
    result = smtp.send(env(), message(2))
    assert (result.ok, result.permanent, result.code) == (False, False, 421)
    assert smtp.connections == 2 and smtp_sink.connections == 2  # one retry on a fresh connection, no more


def test_server_gone_is_the_transports_fault_and_sending_resumes_when_it_is_back(smtp, smtp_sink):
    assert smtp.send(env(), message(1)).ok
    smtp_sink.stop()
    down = smtp.send(env(), message(2))
    # Not this recipient's fault: fatal (the run stops, no attempt spent), and temporary.
    assert (down.ok, down.permanent, down.code, down.fatal) == (False, False, None, True)
    assert "refused" in down.message.lower()
    again = smtp.send(env(), message(2))  # still down: no stale connection is kept
    assert not again.ok and again.code is None
    smtp_sink.start()
    assert smtp.send(env(), message(3)).ok
    assert [m.data for m in smtp_sink.messages] == [message(1), message(3)]


def test_a_server_that_never_answers_times_out_as_temporary():
    with socket.socket() as listener:  # accepts TCP (backlog) but never greets
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with SmtpTransport.from_url(f"smtp://127.0.0.1:{port}", timeout=0.5) as transport:
            result = transport.send(env(), message())
    assert (result.ok, result.permanent, result.code) == (False, False, None)
    assert "timed out" in result.message


def test_close_quits_and_never_raises(smtp_sink):
    transport = SmtpTransport.from_url(smtp_sink.url)
    transport.close()  # never connected
    assert transport.send(env(), message()).ok
    assert smtp_sink.open_connections == 1
    smtp_sink.stop()  # the server is gone: QUIT fails quietly
    transport.close()
    transport.close()


def test_close_sends_quit(smtp_sink):
    transport = SmtpTransport.from_url(smtp_sink.url)
    assert transport.send(env(), message()).ok
    transport.close()
    assert smtp_sink.quits == 1  # smtplib waits for the 221, so the count is in
    deadline = time.monotonic() + 10  # the server thread notices the hang-up shortly after
    while smtp_sink.open_connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert smtp_sink.open_connections == 0


# -- SMTP: AUTH and TLS -------------------------------------------------------------

USER, PASSWORD = "digest@example.org", "p:w@/ d%"  # every character a URL must escape


def test_auth_with_url_encoded_credentials():
    with SmtpSink(auth=(USER, PASSWORD)) as sink:
        url = sink.url_for(USER, PASSWORD)
        assert "%40" in url and "%3A" in url
        with SmtpTransport.from_url(url) as transport:
            assert transport.send(env(), message()).ok
        assert sink.messages[0].auth_user == USER


def test_wrong_password_is_a_permanent_fatal_535_and_no_auth_is_530():
    with SmtpSink(auth=(USER, PASSWORD)) as sink:
        with SmtpTransport.from_url(sink.url_for(USER, "wrong")) as transport:
            result = transport.send(env(), message())
        assert (result.ok, result.permanent, result.code, result.fatal) == (False, True, 535, True)
        assert "wrong" not in result.message and "***" in result.message
        with SmtpTransport.from_url(sink.url) as transport:
            result = transport.send(env(), message())
        assert (result.permanent, result.code) == (True, 530)
        assert sink.messages == []


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_tls_with_a_trusted_certificate(tls):
    with SmtpSink(tls=tls, auth=(USER, PASSWORD)) as sink:
        assert sink.url.startswith("smtp+starttls://" if tls == "starttls" else "smtps://")
        with SmtpTransport.from_url(sink.url_for(USER, PASSWORD), ssl_context=sink.client_context()) as t:
            assert t.send(env(), message(1)).ok and t.send(env(), message(2)).ok
        assert [(m.tls, m.auth_user, m.connection) for m in sink.messages] == [(True, USER, 1)] * 2


def test_untrusted_certificate_is_fatal_and_nothing_is_sent():
    with SmtpSink(tls="starttls") as sink:
        with SmtpTransport.from_url(sink.url) as transport:  # system trust store: self-signed fails
            result = transport.send(env(), message())
        assert (result.ok, result.permanent, result.fatal) == (False, True, True)
        assert "certificate" in result.message and sink.messages == []


def test_starttls_asked_of_a_server_without_it_is_fatal(smtp_sink):
    with SmtpTransport.from_url(smtp_sink.url.replace("smtp://", "smtp+starttls://")) as transport:
        result = transport.send(env(), message())
    assert (result.ok, result.permanent, result.fatal) == (False, True, True)
    assert "STARTTLS" in result.message and smtp_sink.messages == []


# -- SMTP URLs -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, security, port",
    [("smtp://mail.example.org", "plain", 25), ("smtp+starttls://mail.example.org", "starttls", 587),
     ("smtps://mail.example.org", "tls", 465), ("SMTP://mail.example.org:2525/", "plain", 2525)],
)
def test_url_schemes_and_default_ports(url, security, port):
    t = SmtpTransport.from_url(url)
    assert (t.host, t.port, t.security, t.username) == ("mail.example.org", port, security, None)


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://user:s3cret@mail.example.org", "scheme must be"),
        ("smtp://user:s3cret@", "no host"),
        ("smtp://user:s3cret@mail.example.org:99999", "port must be"),
        ("smtp://user:s3cret@mail.example.org:abc", "port must be"),
        ("smtp://user:s3cret@mail.example.org:0", "port must be"),
        ("smtp://user:s3cret@mail.example.org/inbox?x=1", "path or query"),
        ("mail.example.org:25", "smtps://, not none"),
        ("", "no SMTP URL configured"),
    ],
)
def test_bad_url_is_one_line_naming_it_with_the_password_masked(url, reason):
    with pytest.raises(DeliveryError) as info:
        SmtpTransport.from_url(url)
    text = str(info.value)
    assert reason in text and "\n" not in text and "s3cret" not in text
    if "user:" in url:
        assert "user:***@" in text


def test_mask_url_hides_passwords_even_with_odd_characters():
    assert mask_url("smtp://u:p@ss/w@host:25") == "smtp://u:***@host:25"
    assert mask_url("smtp://u@host") == "smtp://u@host"
    assert mask_url("smtp://host:25") == "smtp://host:25"
    assert mask_url("u:pw@host") == "u:***@host"
    assert "pw" not in repr(SmtpTransport.from_url("smtps://u:pw@host"))


# -- FileTransport ---------------------------------------------------------------


def test_file_transport_names_files_by_message_id_and_overwrites_on_resend(tmp_path):
    outbox = tmp_path / "out" / "box"  # created, parents too
    transport = FileTransport(outbox)
    first = transport.send(env(), message(1))
    assert first.ok and not first.permanent
    path = outbox / "edition-7.1@news.example.org.eml"
    assert path.read_bytes() == message(1)

    with open(path, "rb") as reader:  # a reader of the old file keeps it whole
        changed = message(1, body="resent\r\n")
        assert transport.send(env(), changed).ok
        assert reader.read() == message(1)
    assert path.read_bytes() == changed
    assert sorted(os.listdir(outbox)) == [path.name]  # replaced, not added; no temp files left


def test_file_transport_keeps_names_safe_and_distinct(tmp_path):
    transport = FileTransport(tmp_path)
    evil = message().replace(b"<edition-7.1@news.example.org>", b"<../../etc/passwd>")
    folded = message().replace(b"Message-ID: <edition-7.1@news.example.org>", b"Message-ID:\r\n <folded.1@x>")
    no_id = message().replace(b"Message-ID: <edition-7.1@news.example.org>\r\n", b"")
    for m in (evil, folded, no_id):
        assert transport.send(env(), m).ok
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 3 and all(n.endswith(".eml") and not n.startswith(".") for n in names)
    assert "folded.1@x.eml" in names
    assert not (tmp_path.parent / "etc").exists() and all("/" not in n for n in names)
    assert FileTransport.file_name(no_id) == FileTransport.file_name(no_id)  # a re-send overwrites


def test_file_transport_cannot_create_its_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DeliveryError, match="outbox .*file/sub: cannot create"):
        FileTransport(blocker / "sub")


def test_file_transport_write_failure_is_temporary(tmp_path):
    transport = FileTransport(tmp_path / "out")
    (tmp_path / "out").rmdir()
    (tmp_path / "out").write_text("now a file")  # the folder went away under us
    result = transport.send(env(), message())
    assert (result.ok, result.permanent, result.code) == (False, False, None)
    assert "outbox" in result.message


# -- MemoryTransport and make_transport ----------------------------------------------


def test_memory_transport_answers_as_told():
    t = MemoryTransport({"gone@example.net": "550 5.1.1 No such user"})
    t.answer("slow@example.net", "451 4.3.0 Try again later", times=2)
    assert t.send(env(), message()) == SendResult(True, False, 250, "250 OK (memory)")
    gone = t.send(env("gone@example.net"), message())
    assert (gone.ok, gone.permanent, gone.code, gone.message) == (False, True, 550, "550 5.1.1 No such user")
    assert [t.send(env("slow@example.net"), message()).code for _ in range(3)] == [451, 451, 250]
    assert [e.recipients for e, _ in t.sent] == [("ada@example.net",), ("slow@example.net",)]
    t.answer("*", "connection refused")
    down = t.send(env(), message())
    assert (down.ok, down.permanent, down.code) == (False, False, None)
    t.forget("*")
    assert t.send(env("GONE@example.net"), message()).code == 550  # addresses match case-insensitively
    t.close()
    assert t.closed == 1


def test_make_transport_builds_each_kind(settings, smtp_sink, tmp_path):
    s = dataclasses.replace(settings, smtp_url=smtp_sink.url, outbox=str(tmp_path / "outbox"))
    for kind, cls in (("smtp", SmtpTransport), ("file", FileTransport), ("memory", MemoryTransport)):
        t = make_transport(kind, s)
        assert isinstance(t, cls) and isinstance(t, Transport)
        assert t.send(env(), message()).ok
        t.close()
    assert len(smtp_sink.messages) == 1 and len(os.listdir(tmp_path / "outbox")) == 1
    with pytest.raises(DeliveryError, match="unknown transport 'pigeon'"):
        make_transport("pigeon", s)

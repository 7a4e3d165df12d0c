"""digest.bounces.sources.fetch_imap against a real Dovecot, called directly (no CLI, no week sent): exactly what
is filed where, what each message became, and the one line for each way the server can refuse.

Fast enough for scripts/mutants bounces-sources; test_bounces_fetch.py has the same through `digest bounces fetch`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

import bounce_samples as s
from digest.bounces import sources
from digest.bounces.sources import fetch_imap, read_files
from digest.errors import MailboxError
from imap_server import Dovecot, dovecot_available
from test_bounces_process import world  # noqa: F401  (the fixture)


@pytest.fixture(scope="module")
def server():
    """One Dovecot for the module (starting one takes seconds); each test empties it first."""
    if why := dovecot_available():
        pytest.skip(why)
    folder = Path(tempfile.mkdtemp(prefix="digest-dovecot-"))
    box = Dovecot(folder).start()
    yield box
    pid = int((folder / "run" / "master.pid").read_text())
    os.kill(pid, signal.SIGTERM)  # at once: `doveadm stop` waits for every child
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def dovecot(server):
    c = server.client()
    try:
        for name in server.folders():
            if name != "INBOX":
                assert c.delete(name)[0] == "OK"
        if int(c.select("INBOX")[1][0]):
            c.store("1:*", "+FLAGS", "\\Deleted")
            c.expunge()
    finally:
        c.logout()
    return server


def _uids(server) -> list[str]:
    """The INBOX's UIDs now (they go on counting across this module's tests)."""
    c = server.client()
    try:
        c.select("INBOX", readonly=True)
        return [f"INBOX uid {u.decode()}" for u in c.uid("SEARCH", None, "ALL")[1][0].split()]
    finally:
        c.logout()


def _report(who, message_id="<r@relay>"):
    return s.postfix_dsn(to=who["verp"], recipient="x@example.net", original=who["original"], message_id=message_id)


def test_each_message_is_processed_then_moved_to_its_folder(world, dovecot):  # noqa: F811
    dovecot.append(_report(world["ada"]))
    dovecot.append(s.garbled())
    assert "processed" not in dovecot.folders() and "quarantine" not in dovecot.folders()
    one, two = _uids(dovecot)
    result = fetch_imap(dovecot.url, world["proc"])
    assert [(where, p.outcome, p.folder) for where, p in result.items] == [
        (one, "bounced", "processed"), (two, "quarantined", "quarantine")]
    assert dovecot.messages("INBOX") == []
    assert len(dovecot.messages("processed")) == 1 and s.garbled() in dovecot.messages("quarantine")[0]
    assert fetch_imap(dovecot.url, world["proc"]).items == []  # nothing left, the folders are there


def test_the_limit_reads_that_many_and_leaves_the_rest(world, dovecot):  # noqa: F811
    for who, mid in ((world["ada"], "<a@relay>"), (world["bob"], "<b@relay>")):
        dovecot.append(_report(who, mid))
    one, two = _uids(dovecot)
    first = fetch_imap(dovecot.url, world["proc"], limit=1)
    assert [where for where, _ in first.items] == [one] and len(dovecot.messages("INBOX")) == 1
    rest = fetch_imap(dovecot.url, world["proc"], limit=5)
    assert [where for where, _ in rest.items] == [two] and dovecot.messages("INBOX") == []


def test_folders_named_in_the_settings_are_made_or_used(world, dovecot):  # noqa: F811
    settings = world["settings"]
    world["proc"].settings = replace(settings, bounces=replace(settings.bounces, processed_folder="Done",
                                                               quarantine_folder="Look"))
    c = dovecot.client()
    try:
        assert c.create("Done")[0] == "OK"  # one there already, one to make
    finally:
        c.logout()
    dovecot.append(_report(world["ada"]))
    dovecot.append(s.garbled())
    fetch_imap(dovecot.url, world["proc"])
    assert {"Done", "Look"} <= set(dovecot.folders()) and "processed" not in dovecot.folders()
    assert (len(dovecot.messages("Done")), len(dovecot.messages("Look")), dovecot.messages("INBOX")) == (1, 1, [])


def test_a_message_over_a_reports_size_is_filed_unread(world, dovecot, monkeypatch):  # noqa: F811
    small, big = _report(world["ada"]), _report(world["bob"], "<b@relay>") + b"x" * 3 * 2**20
    monkeypatch.setattr(sources, "MAX_BYTES", len(big) - 1)
    dovecot.append(big)  # first: the one after it is read all the same
    dovecot.append(small)
    one, two = _uids(dovecot)
    result = fetch_imap(dovecot.url, world["proc"])
    (w2, p2), (w1, p1) = result.items
    assert (w1, p1.outcome) == (two, "bounced")
    assert (w2, p2.key, p2.kind, p2.folder, p2.outcome, p2.why) == (
        one, "", "unknown", "quarantine", "refused", "is larger than 3 MB: not returned mail")
    assert len(dovecot.messages("quarantine")) == 1 and len(dovecot.messages("processed")) == 1
    monkeypatch.setattr(sources, "MAX_BYTES", len(big))  # exactly at the cap: read (and acted on: new to us)
    dovecot.append(big)
    assert [p.outcome for _, p in fetch_imap(dovecot.url, world["proc"]).items] == ["bounced"]


def test_the_size_the_server_states_is_read(dovecot):
    c = dovecot.client()
    try:
        dovecot.append(b"Subject: x\r\n\r\n" + b"y" * 1000)
        [uid] = [w.rpartition(" ")[2] for w in _uids(dovecot)]
        c.select("INBOX")

        class Box:
            client = c

        assert sources._imap_size(Box, uid) == 1014
        assert sources._imap_size(Box, "99") is None  # no such message: the server states nothing
    finally:
        c.logout()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _refused(url, proc):
    with pytest.raises(MailboxError) as e:
        fetch_imap(url, proc)
    return e.value.where, e.value.reason


def test_a_server_that_is_not_there_is_one_line_naming_it(world):  # noqa: F811
    port = _closed_port()
    where, reason = _refused(f"imap://u:secretpw@127.0.0.1:{port}/Returned", world["proc"])
    assert where == f"imap 127.0.0.1:{port}/Returned"
    assert reason.startswith("cannot connect: ") and "refused" in reason and "secretpw" not in reason


def test_imaps_to_a_server_without_tls_does_not_connect(world, dovecot):  # noqa: F811
    where, reason = _refused(dovecot.url.replace("imap://", "imaps://"), world["proc"])
    assert where == f"imap 127.0.0.1:{dovecot.port}/INBOX" and reason.startswith("cannot connect: ")


def test_a_wrong_password_or_folder_is_one_line_naming_the_server(world, dovecot):  # noqa: F811
    for url in (dovecot.url.replace("bouncepw", "wrongpw"), dovecot.url.replace("/INBOX", "/NoSuchFolder")):
        where, reason = _refused(url, world["proc"])
        assert where == f"imap 127.0.0.1:{dovecot.port}/{url.rpartition('/')[2]}"
        assert reason.startswith("cannot log in or open the folder: ") and "wrongpw" not in reason


def test_a_file_growing_after_its_check_is_read_only_up_to_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_FILE_BYTES", 200)
    first, grows = tmp_path / "first.eml", tmp_path / "grows.eml"
    first.write_bytes(b"Subject: a\r\n\r\n")
    grows.write_bytes(b"Subject: b\r\n\r\n")
    it = read_files([first, grows])
    assert next(it) == (str(first), first.read_bytes())  # both checked: small enough
    grows.write_bytes(b"Subject: b\r\n\r\n" + b"z" * 5000)
    name, data = next(it)
    assert name == str(grows) and len(data) <= 205 and grows.read_bytes().startswith(data)


def test_a_folder_the_server_will_not_make_is_one_line_naming_it(world, dovecot):  # noqa: F811
    settings = world["settings"]
    world["proc"].settings = replace(settings, bounces=replace(settings.bounces, quarantine_folder="a..b"))
    dovecot.append(s.garbled())
    where, reason = _refused(dovecot.url, world["proc"])
    assert (where, reason) == (f"imap 127.0.0.1:{dovecot.port}/INBOX", "cannot create the folder 'a..b'")
    assert len(dovecot.messages("INBOX")) == 1  # nothing read


class _TakesTheNext:
    """The real Processor; while it reads the first message, another fetch run takes the second."""

    def __init__(self, proc, server, uid):
        self.settings, self._proc, self._server, self._uid = proc.settings, proc, server, uid

    def process(self, raw, where):
        if self._uid is not None:
            c = self._server.client()
            try:
                c.select("INBOX")
                c.uid("STORE", self._uid, "+FLAGS", "\\Deleted")
                c.expunge()
            finally:
                c.logout()
            self._uid = None
        return self._proc.process(raw, where)


def test_a_message_taken_by_another_run_meanwhile_is_skipped_and_the_rest_are_read(world, dovecot):  # noqa: F811
    dovecot.append(_report(world["ada"], "<a@relay>"))
    dovecot.append(s.garbled())
    dovecot.append(_report(world["bob"], "<b@relay>"))
    one, two, three = _uids(dovecot)
    result = fetch_imap(dovecot.url, _TakesTheNext(world["proc"], dovecot, two.rpartition(" ")[2]))
    assert [(where, p.outcome) for where, p in result.items] == [(one, "bounced"), (three, "bounced")]
    assert dovecot.messages("INBOX") == [] and len(dovecot.messages("processed")) == 2

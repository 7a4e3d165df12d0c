"""digest.bounces.sources without a mail server: IMAP URLs, what a file may be, Maildir filing.

test_bounces_fetch.py reads a real Dovecot; these are the fast, exact cases.
"""

from __future__ import annotations

import mailbox
import os
import pickle
import pwd
import stat
import tempfile
from pathlib import Path

import pytest

import bounce_samples as s
from digest.bounces import sources
from digest.bounces.sources import ImapTarget, fetch_files, fetch_maildir, mask, read_files, refusal
from digest.errors import ConfigError, MailboxError
from test_bounces_process import world  # noqa: F401  (the fixture)


@pytest.mark.parametrize("url, target", [
    ("imaps://bounces:pw@mail.example.org/INBOX", (True, "mail.example.org", 993, "bounces", "pw", "INBOX")),
    ("imap://bounces:pw@mail.example.org/INBOX", (False, "mail.example.org", 143, "bounces", "pw", "INBOX")),
    ("imap://b@127.0.0.1:1143", (False, "127.0.0.1", 1143, "b", "", "INBOX")),
    ("imaps://a%40b:p%2Fw%3A@mx/Returned%20mail", (True, "mx", 993, "a@b", "p/w:", "Returned mail")),
    ("imaps://u:p@mx/", (True, "mx", 993, "u", "p", "INBOX")),
    ("imaps://u:p@mx/XX-Returned", (True, "mx", 993, "u", "p", "XX-Returned")),
])
def test_an_imap_url_is_read_into_a_target(url, target):
    t = ImapTarget.parse(url)
    assert (t.secure, t.host, t.port, t.user, t.password, t.folder) == target


@pytest.mark.parametrize("url, why", [
    ("https://u:secret@mx/INBOX", "'https://u:***@mx/INBOX' is not imap(s)://user:pass@host[:port]/FOLDER"),
    ("imap:///INBOX", "'imap:///INBOX' is not imap(s)://user:pass@host[:port]/FOLDER"),
    ("imap://mx/INBOX", "'imap://mx/INBOX' has no user name"),
    ("imap://u:secret@mx:99999/INBOX", "'imap://u:***@mx:99999/INBOX': bad port"),
])
def test_a_bad_imap_url_is_a_config_error_without_its_password(url, why):
    with pytest.raises(ConfigError) as e:
        ImapTarget.parse(url)
    assert "secret" not in str(e.value) and why in str(e.value)
    assert (e.value.path, e.value.key, e.value.reason) == ("DIGEST_BOUNCE_IMAP_URL", "bounces.imap_url", why)


def test_mask_hides_only_the_password():
    assert mask("imaps://u:secret@mx/INBOX") == "imaps://u:***@mx/INBOX"
    assert mask("imaps://u@mx/INBOX") == "imaps://u@mx/INBOX"
    assert mask("imaps://u:@mx/INBOX") == "imaps://u:***@mx/INBOX"


def test_refusal_names_what_a_file_is(tmp_path):
    (tmp_path / "f").write_bytes(b"x" * 10)
    os.mkfifo(tmp_path / "p")
    (tmp_path / "l").symlink_to(tmp_path / "f")
    assert refusal((tmp_path / "f").stat(), 10) is None
    assert refusal((tmp_path / "f").stat(), 9) == "is larger than 0 MB: not returned mail"
    assert refusal((tmp_path / "p").stat(), 10) == "is a pipe, not a regular file"
    assert refusal((tmp_path / "l").lstat(), 10) == "is a symbolic link, not a regular file"
    assert refusal(tmp_path.stat(), 10) == "is a directory, not a regular file"
    assert refusal(os.stat("/dev/null"), 10) == "is a device, not a regular file"
    assert refusal(os.stat_result((stat.S_IFBLK | 0o600,) + (0,) * 9), 10) == "is a device, not a regular file"
    assert refusal(os.stat_result((stat.S_IFSOCK | 0o600,) + (0,) * 9), 10) == "is a socket, not a regular file"
    assert refusal(os.stat_result((0o600,) + (0,) * 9), 10) == "is not a regular file"
    assert refusal(os.stat_result((stat.S_IFREG | 0o600,) + (0,) * 5 + (3 * 2**20,) + (0,) * 3), 2**21) == \
        "is larger than 2 MB: not returned mail"


def test_files_eml_and_mbox_are_read_in_order(tmp_path):
    one = tmp_path / "one.eml"
    one.write_bytes(b"From nobody\r\nSubject: starts like mbox but is an .eml\r\n\r\nx\r\n")
    box = mailbox.mbox(str(tmp_path / "two.mbox"))
    box.add(b"Subject: a\n\nfirst\n")
    box.add(b"Subject: b\n\nsecond\n")
    box.flush()
    plain = tmp_path / "three"
    plain.write_bytes(b"Subject: c\n\nthird\n")
    got = list(read_files([one, str(tmp_path / "two.mbox"), plain]))
    assert [name for name, _ in got] == [str(one), f"{tmp_path}/two.mbox #1", f"{tmp_path}/two.mbox #2", str(plain)]
    assert got[0][1] == one.read_bytes() and got[3][1] == plain.read_bytes()
    assert b"first" in got[1][1] and b"second" in got[2][1] and b"first" not in got[2][1]


def _read_as_nobody(path: Path) -> tuple[str, str, str]:
    """read_files in a forked child that has given up root (which reads anything): (error type, where, reason)."""
    nobody = pwd.getpwnam("nobody")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        got = ("none", "", "")
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            list(read_files([path]))
        except MailboxError as exc:
            got = ("MailboxError", exc.where, exc.reason)
        except BaseException as exc:  # noqa: BLE001  (reported to the parent, which fails the test)
            got = (type(exc).__name__, "", str(exc))
        finally:
            os.write(w, pickle.dumps(got))
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        got = pickle.loads(fh.read())
    os.waitpid(pid, 0)
    return got


@pytest.mark.parametrize("name", ["missing.eml", "unreadable.eml"])
def test_a_file_that_cannot_be_read_is_one_mailbox_error(tmp_path, name):
    if name == "unreadable.eml" and os.geteuid() == 0:
        # root reads a mode-0 file; a child that has become nobody does not. tmp_path is root's own (0700),
        # so the file sits in a directory nobody may enter but not list: stat works, open does not.
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o711)
            path = Path(d) / name
            path.write_bytes(b"x")
            path.chmod(0)
            # Root itself reads it (and so this test is seen calling read_files: mutmut records the functions
            # a test calls in the test's own process, never in a forked child's, and runs only those tests).
            assert list(read_files([path])) == [(str(path), b"x")]
            assert _read_as_nobody(path) == ("MailboxError", str(path), "Permission denied")
        return
    path = tmp_path / name
    if name == "unreadable.eml":
        path.write_bytes(b"x")
        path.chmod(0)
    with pytest.raises(MailboxError) as e:
        list(read_files([path]))
    assert e.value.where == str(path) and e.value.reason in ("No such file or directory", "Permission denied")


def test_every_file_is_checked_before_any_is_read(tmp_path, monkeypatch):
    good = tmp_path / "good.eml"
    good.write_bytes(b"Subject: x\r\n\r\n")
    monkeypatch.setattr(sources, "MAX_FILE_BYTES", 4)
    it = read_files([tmp_path / "small.eml", good])
    (tmp_path / "small.eml").write_bytes(b"abcd")
    with pytest.raises(MailboxError, match="good.eml: is larger than 0 MB"):
        next(it)


def test_a_file_is_read_only_up_to_the_cap(tmp_path, monkeypatch):
    grows = tmp_path / "grows.eml"
    grows.write_bytes(b"Subject: x\r\n\r\n" + b"y" * 100)
    monkeypatch.setattr(sources, "MAX_FILE_BYTES", 200)
    [(_, data)] = list(read_files([grows]))
    assert data == grows.read_bytes()
    monkeypatch.setattr(sources, "MAX_FILE_BYTES", len(grows.read_bytes()))
    assert list(read_files([grows]))[0][1] == grows.read_bytes()


def test_fetch_files_processes_each_message(world, tmp_path):  # noqa: F811
    ada = world["ada"]
    eml = tmp_path / "ada.eml"
    eml.write_bytes(s.postfix_dsn(to=ada["verp"], recipient="ada@example.net", original=ada["original"]))
    result = fetch_files([eml], world["proc"])
    assert [(where, p.outcome) for where, p in result.items] == [(str(eml), "bounced")]
    assert result.count(outcome="bounced") == 1 and result.count(outcome="counted") == 0


def test_a_maildir_is_filed_and_the_limit_holds(world, tmp_path):  # noqa: F811
    ada, bob = world["ada"], world["bob"]
    md = mailbox.Maildir(str(tmp_path / "md"), create=True)
    for who in (ada, bob):
        md.add(s.postfix_dsn(to=who["verp"], recipient="x@example.net", original=who["original"],
                             message_id=f"<{who['delivery']}@relay>"))
    md.add(s.garbled())
    result = fetch_maildir(tmp_path / "md", world["proc"], limit=2)
    assert len(result.items) == 2 and len(mailbox.Maildir(str(tmp_path / "md"), create=False)) == 1
    rest = fetch_maildir(tmp_path / "md", world["proc"])
    assert len(rest.items) == 1
    assert sorted((p.outcome, p.folder) for _, p in result.items + rest.items) == [
        ("bounced", "processed"), ("bounced", "processed"), ("quarantined", "quarantine")]
    box = mailbox.Maildir(str(tmp_path / "md"), create=False)
    assert (len(box), len(box.get_folder("processed")), len(box.get_folder("quarantine"))) == (0, 2, 1)


def test_a_maildir_with_folders_named_in_the_settings(world, tmp_path):  # noqa: F811
    from dataclasses import replace

    settings = world["settings"]
    world["proc"].settings = replace(settings, bounces=replace(settings.bounces, processed_folder="Done",
                                                               quarantine_folder="Look"))
    md = mailbox.Maildir(str(tmp_path / "md"), create=True)
    md.add(s.garbled())
    s.fifo(tmp_path / "md" / "new" / "pipe.host")
    result = fetch_maildir(tmp_path / "md", world["proc"])
    assert sorted((p.outcome, p.folder) for _, p in result.items) == [("quarantined", "quarantine"),
                                                                     ("refused", "quarantine")]
    [refused] = [p for _, p in result.items if p.outcome == "refused"]
    assert (refused.key, refused.kind, refused.why) == ("", "unknown", "is a pipe, not a regular file")
    box = mailbox.Maildir(str(tmp_path / "md"), create=False)
    assert sorted(box.list_folders()) == ["Done", "Look"] and len(box.get_folder("Look")) == 2
    assert (tmp_path / "md" / ".Look" / "cur" / "pipe.host").exists()


def test_what_is_not_a_maildir_is_one_line(world, tmp_path):  # noqa: F811
    (tmp_path / "half" / "cur").mkdir(parents=True)
    for path in (tmp_path / "half", tmp_path / "nothing"):
        with pytest.raises(MailboxError) as e:
            fetch_maildir(path, world["proc"])
        assert (e.value.where, e.value.reason) == (str(path), "is not a Maildir (no cur/ and new/)")
    assert not Path(tmp_path / "nothing").exists()


class _Meddling:
    """The real Processor, with something done to the Maildir before each message is processed."""

    def __init__(self, proc, before):
        self.settings, self._proc, self._before = proc.settings, proc, before

    def process(self, raw, where):
        self._before(where)
        return self._proc.process(raw, where)


def test_a_message_taken_by_another_run_meanwhile_is_skipped_and_the_rest_are_read(world, tmp_path):  # noqa: F811
    ada, bob = world["ada"], world["bob"]
    md = mailbox.Maildir(str(tmp_path / "md"), create=True)
    keys = sorted(md.add(m) for m in (s.postfix_dsn(to=ada["verp"], recipient="x@example.net",
                                                    original=ada["original"]), s.garbled(),
                                      s.postfix_dsn(to=bob["verp"], recipient="x@example.net",
                                                    original=bob["original"], message_id="<b@relay>")))
    taken = tmp_path / "md" / md._lookup(keys[1])

    def another_run_takes_the_second(where):
        if taken.exists():
            taken.unlink()

    result = fetch_maildir(tmp_path / "md", _Meddling(world["proc"], another_run_takes_the_second))
    assert [key for key, _ in result.items] == [keys[0], keys[2]]  # the one taken is skipped, not the rest
    box = mailbox.Maildir(str(tmp_path / "md"), create=False)
    assert (len(box), len(box.get_folder("processed")) + len(box.get_folder("quarantine"))) == (0, 2)


def test_a_failed_copy_names_the_maildir_the_message_and_the_folder(world, tmp_path):  # noqa: F811
    md = mailbox.Maildir(str(tmp_path / "md"), create=True)
    key = md.add(s.garbled())
    md.add_folder("quarantine")
    (tmp_path / "md" / ".quarantine" / "new").rmdir()
    (tmp_path / "md" / ".quarantine" / "new").write_text("not a directory")
    with pytest.raises(MailboxError) as e:
        fetch_maildir(tmp_path / "md", world["proc"])
    assert (e.value.where, e.value.reason) == (
        str(tmp_path / "md"), f"cannot file message {key} in quarantine: Not a directory (it stays in the inbox)")
    assert list(mailbox.Maildir(str(tmp_path / "md"), create=False).keys()) == [key]


def test_folders_made_by_a_mail_server_are_used_as_they_are(world, tmp_path):  # noqa: F811
    md = mailbox.Maildir(str(tmp_path / "md"), create=True)
    md.add_folder("processed").add(b"Subject: filed last week\r\n\r\nx\r\n")
    md.add(s.garbled())
    fetch_maildir(tmp_path / "md", world["proc"])
    box = mailbox.Maildir(str(tmp_path / "md"), create=False)
    assert (len(box.get_folder("processed")), len(box.get_folder("quarantine"))) == (1, 1)


def test_a_refused_entry_before_the_others_does_not_stop_the_rest_being_read(world, tmp_path):  # noqa: F811
    md = mailbox.Maildir(str(tmp_path / "md"), create=True)
    key = md.add(s.garbled())
    s.fifo(tmp_path / "md" / "new" / "0.pipe")  # sorts before every key Maildir makes
    result = fetch_maildir(tmp_path / "md", world["proc"])
    assert [(k, p.outcome) for k, p in result.items] == [("0.pipe", "refused"), (key, "quarantined")]

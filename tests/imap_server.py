"""A real IMAP server for tests: a throwaway Dovecot on 127.0.0.1 with one user and a Maildir.

    with Dovecot(tmp_path / "imap") as box:           # or the dovecot fixture
        box.append(raw_bytes)                       # into INBOX
        box.url                                     # imap://bounces:bouncepw@127.0.0.1:PORT/INBOX
        box.messages("processed")                   # bytes of each message in a folder

Needs the dovecot binaries (Debian's dovecot-imapd) and root (Dovecot drops
to `nobody` for the mail files). The fixture skips when either is missing;
CI installs the package in .ci/run.
"""

from __future__ import annotations

import imaplib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

USER, PASSWORD = "bounces", "bouncepw"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    def __init__(self, folder: Path):
        self.dir = Path(folder)
        self.port = _free_port()
        self.conf = self.dir / "dovecot.conf"

    def start(self) -> "Dovecot":
        d = self.dir
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o755)  # Dovecot's processes (as nobody) must reach the mail folder
        pw = subprocess.run(["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", PASSWORD], check=True,
                            capture_output=True, text=True).stdout.strip()
        import pwd
        nobody = pwd.getpwnam("nobody")
        home = d / "mail" / USER
        (d / "users").write_text(f"{USER}:{pw}:{nobody.pw_uid}:{nobody.pw_gid}::{home}\n")
        (d / "run").mkdir(exist_ok=True)
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run(["chown", "-R", f"{nobody.pw_uid}:{nobody.pw_gid}", str(d / "mail")], check=True)
        self.conf.write_text(f"""base_dir = {d}/run
state_dir = {d}/run/state
instance_name = digest-test-{uuid.uuid4().hex[:8]}
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {d}/dovecot.log
mail_location = maildir:~/Maildir
default_login_user = nobody
default_internal_user = nobody
default_internal_group = nogroup
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT {d}/users
}}
userdb {{
  driver = passwd-file
  args = {d}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
""")
        # The daemon's children keep whatever stdout/stderr it had: no pipes, or run() waits forever.
        with open(d / "start.log", "wb") as log:
            subprocess.run(["dovecot", "-c", str(self.conf)], check=True, stdin=subprocess.DEVNULL,
                           stdout=log, stderr=log)
        deadline = time.monotonic() + 15
        while True:
            try:
                with imaplib.IMAP4("127.0.0.1", self.port, timeout=5) as c:
                    c.login(USER, PASSWORD)
                    c.logout()
                break
            except (OSError, imaplib.IMAP4.error):
                if time.monotonic() > deadline:
                    log = (d / "dovecot.log").read_text(errors="replace") if (d / "dovecot.log").exists() else ""
                    self.stop()
                    raise RuntimeError(f"dovecot did not come up on port {self.port}: {log[-2000:]}")
                time.sleep(0.1)
        return self

    def stop(self) -> None:
        subprocess.run(["doveadm", "-c", str(self.conf), "stop"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)

    def __enter__(self) -> "Dovecot":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX"

    def client(self) -> imaplib.IMAP4:
        c = imaplib.IMAP4("127.0.0.1", self.port, timeout=30)
        c.login(USER, PASSWORD)
        return c

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        c = self.client()
        try:
            typ, data = c.append(folder, None, imaplib.Time2Internaldate(time.time()), raw)
            assert typ == "OK", data
        finally:
            c.logout()

    def folders(self) -> list[str]:
        c = self.client()
        try:
            typ, data = c.list()
            # '(\\HasNoChildren) "." processed' -> processed
            return sorted(re.match(r'\(.*?\) (?:"."|NIL) "?(.*?)"?$', line.decode()).group(1) for line in data)
        finally:
            c.logout()

    def messages(self, folder: str = "INBOX") -> list[bytes]:
        c = self.client()
        try:
            typ, _ = c.select(folder, readonly=True)
            if typ != "OK":
                return []
            typ, data = c.search(None, "ALL")
            out = []
            for num in data[0].split():
                typ, parts = c.fetch(num, "(BODY.PEEK[])")
                out.append(next(p[1] for p in parts if isinstance(p, tuple)))
            return out
        finally:
            c.logout()


def dovecot_available() -> str | None:
    """Why the fixture cannot run here, or None."""
    if shutil.which("dovecot") is None or shutil.which("doveadm") is None:
        return "dovecot is not installed (apt-get install dovecot-imapd)"
    if os.geteuid() != 0:
        return "a throwaway Dovecot needs root (it drops to nobody for the mail files)"
    return None


@pytest.fixture
def dovecot():
    why = dovecot_available()
    if why:
        pytest.skip(why)
    # Not under pytest's tmp_path: pytest resets its root folder to 0700 whenever any pytest run
    # starts on this machine, and Dovecot's processes (as nobody) must reach the mail folder.
    folder = Path(tempfile.mkdtemp(prefix="digest-dovecot-"))
    server = Dovecot(folder).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)

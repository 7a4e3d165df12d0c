"""Where returned mail is read from: an IMAP folder, a Maildir, or .eml / mbox files.

Nothing is ever deleted. From IMAP and a Maildir each message is moved, once
processed, to the "processed" folder, or to "quarantine" when it could not be
read or attributed (folders named in [bounces], created when missing). Files
given on the command line are only read. A message is processed before it is
moved: after a crash in between, the next run finds it already recorded and
just files it.

Files are refused as `digest ingest` refuses them: only regular files (a
device such as /dev/zero would never end, a pipe would block), at most
MAX_FILE_BYTES; in a Maildir, an entry that is not a regular file (a
symbolic link, a pipe) or is over a report's size is not read but moved to
quarantine as it is.
"""

from __future__ import annotations

import mailbox
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable
from urllib.parse import unquote, urlsplit

from ..config import BounceSettings
from ..errors import ConfigError, MailboxError
from .parse import MAX_BYTES
from .process import PROCESSED, QUARANTINE, Processed, Processor

MAX_FILE_BYTES = 50 * 1024 * 1024  # an mbox of returned mail; the same cap as `digest ingest`
_NOT_REGULAR = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a pipe"), (stat.S_ISSOCK, "a socket"),
                (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISLNK, "a symbolic link"))


@dataclass
class FetchResult:
    items: list[tuple[str, Processed]] = field(default_factory=list)  # (where it was read, what became of it)

    def count(self, **match) -> int:
        return sum(all(getattr(p, k) == v for k, v in match.items()) for _, p in self.items)


def _folder(policy: BounceSettings, folder: str) -> str:
    return policy.processed_folder if folder == PROCESSED else policy.quarantine_folder


def mask(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


# ---------------------------------------------------------------- IMAP


@dataclass(frozen=True)
class ImapTarget:
    secure: bool
    host: str
    port: int
    user: str
    password: str
    folder: str

    @classmethod
    def parse(cls, url: str) -> ImapTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname:
            raise ConfigError("DIGEST_BOUNCE_IMAP_URL", "bounces.imap_url",
                              f"{mask(url)!r} is not imap(s)://user:pass@host[:port]/FOLDER")
        if not parts.username:
            raise ConfigError("DIGEST_BOUNCE_IMAP_URL", "bounces.imap_url", f"{mask(url)!r} has no user name")
        try:
            port = parts.port or (993 if parts.scheme == "imaps" else 143)
        except ValueError:
            raise ConfigError("DIGEST_BOUNCE_IMAP_URL", "bounces.imap_url", f"{mask(url)!r}: bad port") from None
        folder = unquote(parts.path.lstrip("/")) or "INBOX"
        return cls(parts.scheme == "imaps", parts.hostname, port, unquote(parts.username),
                   unquote(parts.password or ""), folder)


def fetch_imap(url: str, processor: Processor, *, limit: int | None = None) -> FetchResult:
    import imaplib

    from imap_tools import MailBox, MailBoxUnencrypted
    from imap_tools.errors import ImapToolsError

    target = ImapTarget.parse(url)
    where = f"imap {target.host}:{target.port}/{target.folder}"
    policy = processor.settings.bounces
    result = FetchResult()
    try:
        box = (MailBox if target.secure else MailBoxUnencrypted)(target.host, target.port, timeout=60)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(where, f"cannot connect: {exc}") from None
    try:
        try:
            box.login(target.user, target.password, initial_folder=target.folder)
        except Exception as exc:  # imap_tools.errors.MailboxLoginError, MailboxFolderSelectError
            raise MailboxError(where, f"cannot log in or open the folder: {exc}") from None
        for name in (policy.processed_folder, policy.quarantine_folder):
            if not box.folder.exists(name):
                try:
                    box.folder.create(name)
                except ImapToolsError:  # another fetch run made it meanwhile?
                    if not box.folder.exists(name):
                        raise MailboxError(where, f"cannot create the folder {name!r}") from None
        for uid in box.uids("ALL"):
            if limit is not None and len(result.items) >= limit:
                break
            size = _imap_size(box, uid)
            if size is not None and size > MAX_BYTES:  # filed unread: not a report, and not to be held in memory
                box.move(uid, policy.quarantine_folder)
                why = f"is larger than {MAX_BYTES // 2**20} MB: not returned mail"
                result.items.append((f"{target.folder} uid {uid}", Processed("", "unknown", QUARANTINE, "refused",
                                                                             why=why)))
                continue
            typ, data = box.client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((item[1] for item in data or () if isinstance(item, tuple) and len(item) == 2), None)
            if typ != "OK" or raw is None:
                continue  # gone meanwhile (another fetch run took it)
            done = processor.process(raw, f"{where} uid {uid}")
            box.move(uid, _folder(policy, done.folder))
            result.items.append((f"{target.folder} uid {uid}", done))
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(where, f"connection lost: {exc}") from None
    except ImapToolsError as exc:  # the server refused a command (what was processed is recorded)
        raise MailboxError(where, " ".join(str(exc).split())[:300]) from None
    finally:
        try:
            box.logout()
        except Exception:
            pass
    return result


def _imap_size(box, uid: str) -> int | None:
    """A message's RFC822.SIZE as the server states it, None when it does not say."""
    typ, data = box.client.uid("FETCH", uid, "(RFC822.SIZE)")
    for item in data or ():
        line = item[0] if isinstance(item, tuple) else item
        m = re.search(rb"RFC822\.SIZE (\d+)", line or b"")
        if typ == "OK" and m:
            return int(m.group(1))
    return None


# ---------------------------------------------------------------- Maildir and files


def refusal(info: os.stat_result, cap: int) -> str | None:
    """Why a file with this stat cannot be read as mail, or None: not regular, or over `cap` bytes."""
    for test, kind in _NOT_REGULAR:
        if test(info.st_mode):
            return f"is {kind}, not a regular file"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    if info.st_size > cap:
        return f"is larger than {cap // 2**20} MB: not returned mail"
    return None


def fetch_maildir(path: str | Path, processor: Processor, *, limit: int | None = None) -> FetchResult:
    path = Path(path)
    if not (path / "cur").is_dir() or not (path / "new").is_dir():
        raise MailboxError(str(path), "is not a Maildir (no cur/ and new/)")
    policy = processor.settings.bounces
    box = mailbox.Maildir(str(path), factory=None, create=False)
    folders = {}
    for name in (policy.processed_folder, policy.quarantine_folder):
        folders[name] = box.get_folder(name) if name in box.list_folders() else box.add_folder(name)
    result = FetchResult()
    for key in sorted(box.keys()):
        if limit is not None and len(result.items) >= limit:
            break
        try:
            entry = path / box._lookup(key)  # the file of a key (Maildir keeps no other public way to it)
            why = refusal(entry.lstat(), MAX_BYTES)  # lstat: never follow a link out of the Maildir
        except (KeyError, FileNotFoundError):
            continue  # taken by another fetch run meanwhile
        if why is not None:  # filed unread, as it is: the link itself moves, not what it points to
            os.replace(entry, path / f".{policy.quarantine_folder}" / "cur" / entry.name)
            result.items.append((key, Processed("", "unknown", QUARANTINE, "refused", why=why)))
            continue
        try:
            raw = box.get_bytes(key)
        except KeyError:
            continue
        done = processor.process(raw, f"maildir {path} {key}")
        folder = _folder(policy, done.folder)
        try:  # copy first, then take it out of the inbox: a failed copy leaves it there for the next run
            folders[folder].add(raw)
        except OSError as exc:
            raise MailboxError(str(path), f"cannot file message {key} in {folder}: "
                                          f"{exc.strerror or exc} (it stays in the inbox)") from None
        box.discard(key)
        result.items.append((key, done))
    return result


def read_files(paths: Iterable[str | Path]) -> Iterable[tuple[str, bytes]]:
    """(name, bytes) of every message in .eml files and mbox files, in order; every file checked first."""
    paths = [Path(p) for p in paths]
    for p in paths:
        try:
            why = refusal(p.stat(), MAX_FILE_BYTES)  # stat, not open: opening a pipe would block
        except OSError as exc:
            raise MailboxError(str(p), exc.strerror or str(exc)) from None
        if why is not None:
            raise MailboxError(str(p), why)
    for p in paths:
        try:
            with p.open("rb") as fh:
                head = fh.read(5)
                data = None if head == b"From " and p.suffix.lower() != ".eml" else head + fh.read(MAX_FILE_BYTES)
        except OSError as exc:
            raise MailboxError(str(p), exc.strerror or str(exc)) from None
        if data is None:
            box = mailbox.mbox(str(p), factory=None, create=False)
            for i, key in enumerate(box.keys(), 1):
                yield f"{p} #{i}", box.get_bytes(key)
        else:
            yield str(p), data


def fetch_files(paths: Iterable[str | Path], processor: Processor) -> FetchResult:
    result = FetchResult()
    for name, raw in read_files(paths):
        result.items.append((name, processor.process(raw, f"file {os.path.basename(name)}")))
    return result

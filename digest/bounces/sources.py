"""Where returned mail is read from: an IMAP folder, a Maildir, or .eml / mbox files.

Nothing is ever deleted. From IMAP and a Maildir each message is moved, once
processed, to the "processed" folder, or to "quarantine" when it could not be
read or attributed (folders named in [bounces], created when missing). Files
given on the command line are only read. A message is processed before it is
moved: after a crash in between, the next run finds it already recorded and
just files it.
"""

from __future__ import annotations

import mailbox
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable
from urllib.parse import unquote, urlsplit

from ..config import BounceSettings
from ..errors import ConfigError, MailboxError
from .process import PROCESSED, Processed, Processor


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


# ---------------------------------------------------------------- Maildir and files


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
            raw = box.get_bytes(key)
        except KeyError:
            continue
        done = processor.process(raw, f"maildir {path} {key}")
        folders[_folder(policy, done.folder)].add(raw)  # copy first, then take it out of the inbox
        box.discard(key)
        result.items.append((key, done))
    return result


def read_files(paths: Iterable[str | Path]) -> Iterable[tuple[str, bytes]]:
    """(name, bytes) of every message in .eml files and mbox files, in order."""
    for p in paths:
        p = Path(p)
        try:
            with p.open("rb") as fh:
                head = fh.read(5)
        except OSError as exc:
            raise MailboxError(str(p), exc.strerror or str(exc)) from None
        if head == b"From " and p.suffix.lower() != ".eml":
            box = mailbox.mbox(str(p), factory=None, create=False)
            for i, key in enumerate(box.keys(), 1):
                yield f"{p} #{i}", box.get_bytes(key)
        else:
            yield str(p), p.read_bytes()


def fetch_files(paths: Iterable[str | Path], processor: Processor) -> FetchResult:
    result = FetchResult()
    for name, raw in read_files(paths):
        result.items.append((name, processor.process(raw, f"file {os.path.basename(name)}")))
    return result

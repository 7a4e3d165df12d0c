"""FileTransport: each message as an .eml file in a folder (the demo's outbox)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from ...errors import DeliveryError
from .base import Envelope, SendResult, one_line

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._@+=-]")


class FileTransport:
    """Writes each message to FOLDER/NAME.eml, named after its Message-ID.

    The file appears whole or not at all (temporary file + os.replace), and a
    re-send of the same message overwrites its file instead of adding one.
    """

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeliveryError(f"outbox {self.folder}: cannot create the folder: {exc.strerror or exc}") from None

    def __repr__(self) -> str:
        return f"<FileTransport {self.folder}>"

    @staticmethod
    def file_name(message: bytes) -> str:
        """NAME.eml from the Message-ID (made safe), or from a hash of the bytes without one."""
        end = message.find(b"\r\n\r\n")
        if end < 0:
            end = message.find(b"\n\n")
        headers = message if end < 0 else message[:end]
        m = _MESSAGE_ID.search(headers)
        raw = "".join(m.group(1).decode("ascii", errors="replace").split()).strip("<>") if m else ""
        if not raw:
            return hashlib.sha256(message).hexdigest()[:32] + ".eml"
        name = _UNSAFE_NAME.sub("_", raw).lstrip(".")[:150]
        if name != raw:  # changed it: keep two different IDs from sharing a file
            name = f"{name}-{hashlib.sha256(raw.encode()).hexdigest()[:8]}"
        return name + ".eml"

    def send(self, envelope: Envelope, message: bytes) -> SendResult:
        path = self.folder / self.file_name(message)
        tmp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(message)
            # No fsync: atomic is what readers need; durability would cost a disk flush a message.
            os.replace(tmp, path)
        except OSError as exc:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            return SendResult(False, False, None, one_line(f"outbox {path}: {exc.strerror or exc}"))
        return SendResult(True, False, None, one_line(f"written to {path}"))

    def close(self) -> None:
        pass


def remove_addressed_to(folder: str | os.PathLike[str], address: str) -> int:
    """Delete the .eml files in `folder` whose To header holds `address`; how many went.

    For `digest subscribers forget`: what the file transport wrote for a
    member (digests, confirmations) is personal data too. Files that cannot
    be read or parsed are left alone.
    """
    wanted, removed = address.strip().lower(), 0
    parser = BytesHeaderParser(policy=policy.default)
    for path in sorted(Path(folder).glob("*.eml")):
        try:
            data = path.read_bytes()
            end = data.find(b"\r\n\r\n")
            head = parser.parsebytes(data if end < 0 else data[:end + 4])
            to = [a.addr_spec.lower() for h in head.get_all("To", []) for a in h.addresses]
        except (OSError, ValueError, TypeError, AttributeError):
            continue
        if wanted in to:
            path.unlink(missing_ok=True)
            removed += 1
    return removed

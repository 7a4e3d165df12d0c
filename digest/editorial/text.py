"""The editor's words for an edition: subject, inbox preview text (preheader) and a note.

Set by key before the edition is built (`digest edition set`, the desk); a
build copies them into the edition, where they are frozen with the articles
once it is queued. An empty value means "made from the articles".
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ..db import Database
from ..db import editions as edition_db
from ..db.editions import EditionText
from ..edition.note import clean_note, note_problem
from ..errors import EditionError

SUBJECT_MAX = 150  # mailbox lists show 40-80 characters; longer is almost surely a mistake
PREHEADER_MAX = 150

UNSET = None  # an argument left as None keeps the stored value; "" clears it


def _line(key: str, what: str, value: str, limit: int) -> str:
    value = " ".join(value.split())
    if len(value) > limit:
        raise EditionError(key, f"{what} is {len(value)} characters; at most {limit}")
    return value


def set_edition_text(db: Database, key: str, *, subject: str | None = UNSET, preheader: str | None = UNSET,
                     note: str | None = UNSET, by: str = "cli", now: datetime) -> EditionText:
    """Store what the editor wrote for edition KEY; refused once the edition is queued (it is frozen)."""
    changes = {}
    if subject is not None:
        changes["subject"] = _line(key, "the subject", subject, SUBJECT_MAX)
    if preheader is not None:
        changes["preheader"] = _line(key, "the preheader", preheader, PREHEADER_MAX)
    if note is not None:
        cleaned = clean_note(note)
        problem = note_problem(cleaned)
        if problem:
            raise EditionError(key, f"the note {problem}")
        changes["note"] = cleaned
    with db.begin() as conn:
        built = edition_db.load_edition(conn, key)
        if built is not None and built.queued_at is not None:
            raise EditionError(key, f"was queued at {built.queued_at:%Y-%m-%d %H:%M} UTC; its words are frozen "
                                    "with it")
        text = replace(edition_db.load_text(conn, key), **changes, updated_at=now, updated_by=by)
        edition_db.save_text(conn, text)
    return text


def edition_text(db: Database, key: str) -> EditionText:
    with db.connect() as conn:
        return edition_db.load_text(conn, key)

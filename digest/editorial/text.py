"""The editor's words for an edition: subject, inbox preview text (preheader) and a note.

Set by key before the edition is built (`digest edition set`, the desk); a
build copies them into the edition, where they are frozen with the articles
once it is queued. An empty value means "made from the articles".

Each configured language has its own words: the first language's are the
subject, preheader and note; the others' are kept by tag (EditionText.words).
A word the editor wrote in the first language and not in another is missing
there (`missing_words`): the desk warns, and the gate holds when
[organisation] require_every_language is set.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Mapping, Sequence

from babel import Locale

from ..db import Database
from ..db import editions as edition_db
from ..db.editions import EditionText
from ..edition.note import clean_note, note_problem
from ..errors import EditionError
from ..models import EditionWords

SUBJECT_MAX = 150  # mailbox lists show 40-80 characters; longer is almost surely a mistake
PREHEADER_MAX = 150

UNSET = None  # an argument left as None keeps the stored value; "" clears it


def _line(key: str, what: str, value: str, limit: int) -> str:
    value = " ".join(value.split())
    if len(value) > limit:
        raise EditionError(key, f"{what} is {len(value)} characters; at most {limit}")
    return value


def set_edition_text(db: Database, key: str, *, subject: str | None = UNSET, preheader: str | None = UNSET,
                     note: str | None = UNSET, by: str = "cli", now: datetime, language: str = "") -> EditionText:
    """Store what the editor wrote for edition KEY; refused once the edition is queued (it is frozen).

    language: a tag of [organisation] languages other than the first, for that language's words;
    "" for the first language's."""
    changes = check_words(key, subject, preheader, note)
    with db.begin() as conn:
        built = edition_db.load_edition(conn, key)
        if built is not None and built.queued_at is not None:
            raise EditionError(key, f"was queued at {built.queued_at:%Y-%m-%d %H:%M} UTC; its words are frozen "
                                    "with it")
        text = edition_db.load_text(conn, key)
        if language:
            words = dict(text.words)
            words[language] = replace(words.get(language, EditionWords()), **changes)
            text = replace(text, words=words, updated_at=now, updated_by=by)
        else:
            text = replace(text, **changes, updated_at=now, updated_by=by)
        edition_db.save_text(conn, text)
    return text


def check_words(key: str, subject: str | None, preheader: str | None, note: str | None) -> dict[str, str]:
    """The given words, each checked (one line, length, the note's Markdown-lite); EditionError names the first
    that is wrong."""
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
    return changes


def edition_text(db: Database, key: str) -> EditionText:
    with db.connect() as conn:
        return edition_db.load_text(conn, key)


FIELDS = ("subject", "preheader", "note")


def missing_words(first: EditionWords, others: Mapping[str, EditionWords],
                  languages: Sequence[str]) -> list[tuple[str, list[str]]]:
    """(language tag, the fields missing in it) for each language after the first that lacks a word the
    editor wrote in the first; [] when every language has them (or the editor wrote none: made ones are
    made in each language)."""
    out = []
    for tag in languages[1:]:
        mine = others.get(tag, EditionWords())
        lacking = [f for f in FIELDS if getattr(first, f) and not getattr(mine, f)]
        if lacking:
            out.append((tag, lacking))
    return out


def missing_lines(key: str, missing: list[tuple[str, list[str]]]) -> list[str]:
    """One line per language that lacks the editor's words (the gate's and the desk's)."""
    return [f"edition {key} has no {english_name(tag)} {', '.join(fields)} (digest edition set {key} "
            f"--language {tag})" for tag, fields in missing]


def english_name(tag: str) -> str:
    """A language tag's name in English ("cy": "Welsh"), for lines written in English."""
    return Locale.parse(tag.replace("-", "_")).get_language_name("en") or tag

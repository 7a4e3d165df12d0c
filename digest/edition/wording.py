"""An edition in one language: the editor's words written for it, and each article in it where it can be.

The first language's words are the edition's subject, preheader and note; the
others' are in Edition.words by tag. A word not written in a language falls
back to the first language's (the desk warns; the gate can hold). An article
is shown in the member's language when it is written in it or has a
translation into it; else as written, marked with its own `lang` (screen
readers switch voice) and labelled ("Saesneg yn unig").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..i18n import Language, locale_of
from ..models import Edition, EditionItem, same_language
from .note import note_as_text, parse_note


def in_language(edition: Edition, tag: str, first: str) -> Edition:
    """The edition with the editor's words for language `tag` (each one not written in it: the first's)."""
    mine = edition.words.get(tag)
    if tag == first or mine is None:
        return edition
    return replace(edition, subject=mine.subject or edition.subject, preheader=mine.preheader or edition.preheader,
                   note=mine.note or edition.note)


def note_language(edition: Edition, tag: str, first: str) -> str:
    """The language the note shown in language `tag` is written in: its own, else the first's."""
    mine = edition.words.get(tag)
    return tag if tag == first or (mine is not None and mine.note) else first


def notes(edition: Edition, lang: Language, first: str) -> list[dict]:
    """The note of each of the email's languages, once each ({"lang", "paras", "text"}): one in a
    one-language email, each language's own in a bilingual one. `lang` is set (a language subtag)
    only where the note's language differs from the email's."""
    out, seen = [], set()
    for part in lang.parts:
        text = in_language(edition, part.tag, first).note
        if not text.strip() or text in seen:
            continue
        seen.add(text)
        written = note_language(edition, part.tag, first)
        attr = "" if same_language(written, lang.html_tag) else locale_of(written).language
        out.append({"lang": attr, "paras": parse_note(text), "text": note_as_text(text)})
    return out


@dataclass(frozen=True)
class Shown:
    """An article as one language's email shows it."""

    title: str
    url: str
    summary: str
    lang: str = ""  # the lang attribute of its words when they are not in the email's language
    only_in: str = ""  # "Saesneg yn unig": said when the member's language has no version of it


def shown(item: EditionItem, lang: Language, first: str) -> Shown:
    """The version of an article for an email in `lang`: written in it, else its translation into it,
    else as written, marked and (one-language emails) labelled. A bilingual email shows each article
    as written, marked with its language where it is not the email's first."""
    written = item.language or first
    page = lang.html_tag
    if same_language(written, page):
        return Shown(item.title, item.url, item.summary)
    translation = item.in_language(page) if len(lang.parts) == 1 else None
    if translation is not None:
        return Shown(translation.title, translation.url, translation.summary)
    try:
        locale = locale_of(written)
    except ValueError:  # a tag stored before it was checked: shown as it is, unmarked
        return Shown(item.title, item.url, item.summary)
    if len(lang.parts) > 1:
        return Shown(item.title, item.url, item.summary, locale.language)
    name = lang.locale.languages.get(locale.language) or written
    # TRANSLATORS: said of an article the member's language has no version of: "English only".
    label = lang.gettext("%(language)s only") % {"language": name[:1].upper() + name[1:]}
    return Shown(item.title, item.url, item.summary, locale.language, label)


def shown_items(items, lang: Language, first: str) -> list[EditionItem]:
    """The items with the title, link and summary an email in `lang` shows (for its links and checks)."""
    out = []
    for it in items:
        own = shown(it, lang, first)
        out.append(replace(it, title=own.title, url=own.url, summary=own.summary))
    return out

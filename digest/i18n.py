"""Languages: the message catalogue (gettext through Babel) and CLDR dates and numbers.

Every word a member or an editor reads is a template's or this catalogue's:
Python code asks a `Language` for it (`lang.gettext("Other news")`), the
templates through the Jinja2 i18n extension (`{% trans %}`, `_()`), and
`tests/test_catalogue.py` fails when extraction finds a string the committed
`digest/locale/messages.pot` lacks. English is the source language: it needs
no catalogue. Another language is `digest/locale/TAG/LC_MESSAGES/messages.po`
(and its compiled `.mo`), not a code change:

    pybabel extract -F digest/locale/babel.cfg -o digest/locale/messages.pot --no-location .
    pybabel update -i digest/locale/messages.pot -d digest/locale -D messages --no-fuzzy-matching
    pybabel compile -d digest/locale -D messages

Editors read one language of their own, `Settings.editor_language` ([organisation] editors_language, else
the first of languages): the desk, the held notice, desk links' emails, the report's chart, the warnings
about an edition, the gate's reasons, and the CLI's lines to an editor (preview, send-test, edition
build/set/show, the weekly/run/queue summary). Operators' diagnostics stay English, by design: config and
usage errors, DigestError reasons, a source's or relay's own error text, send/connection statistics,
bounce processing, logs, and the "warning:"/"Error:" tags that start a line. English output does not
change: an English "article(s)" is kept as both ngettext forms, and the catalogue gives other languages
their plural forms. tests/test_catalogue.py checks the desk's templates and the Python that talks to
editors (EDITOR_PY) for English left outside the catalogue.

Dates come from CLDR (month names, the order of day, month and year, the
shape of a range) for the language's locale: `en-GB` gives "19–25 June
2017", `cy` "19–25 Mehefin 2017", bare `en` the American "June 19–25, 2017".
"""

from __future__ import annotations

import gettext as gettext_lib
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en-GB"
# CLDR 42 put thin spaces around the en dash of a range ("19 – 25"); mail
# clients' fonts and plain-text parts show U+2009 unevenly, so a range is
# written as before: no space between two days of one month, plain spaces otherwise.
_THIN_DASH = "\u2009–\u2009"


def N_(message: str) -> str:
    """Mark a string for the catalogue where it is defined; translate it where it is shown."""
    return message


def locale_of(tag: str) -> Locale:
    """The Babel locale of a BCP 47 tag ('en-GB', 'cy'); ValueError when CLDR does not know it."""
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError(f"{tag!r} is not a language tag CLDR knows ({exc})") from None


@dataclass(frozen=True)
class Language:
    """One language's words and formats: gettext from the catalogue, dates and numbers from CLDR."""

    tag: str  # BCP 47, as configured and as the lang attribute shows it
    locale: Locale
    translations: gettext_lib.NullTranslations

    @property
    def parts(self) -> tuple[Language, ...]:
        """The languages this one writes in: itself (a bilingual one: each of its own)."""
        return (self,)

    @property
    def html_tag(self) -> str:
        """What the lang attribute of a page in this language says."""
        return self.tag

    def join(self, texts: Sequence[str]) -> str:
        """One text per part (see parts) as this language says them together: a bilingual one joins them."""
        return _join(texts)

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return self.translations.pgettext(context, message)

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        return self.translations.npgettext(context, singular, plural, n)

    def long_date(self, day: date) -> str:
        """'21 June 2017' (en-GB), '21 Mehefin 2017' (cy): CLDR's long date."""
        return format_date(day, "long", locale=self.locale)

    def month_year(self, day: date) -> str:
        """'June 2017': CLDR's month-and-year (standalone month name)."""
        return format_date(day, _skeleton_pattern(self.locale, "yMMMM"), locale=self.locale)

    def date_range(self, first: date, last: date) -> str:
        """'19–25 June 2017', '29 May – 4 June 2017', '29 December 2017 – 4 January 2018'."""
        if first == last:
            return self.long_date(first)
        field = "y" if first.year != last.year else "M" if first.month != last.month else "d"
        start, end = _range_patterns(self.locale, field)
        text = format_date(first, start, locale=self.locale) + format_date(last, end, locale=self.locale)
        return text.replace(_THIN_DASH, "–" if field == "d" else " – ").replace("\u2009", " ")


def _skeleton_pattern(locale: Locale, skeleton: str) -> str:
    """The locale's pattern for a CLDR skeleton ('yMMMM' gives 'MMMM y' in English)."""
    return str(locale.datetime_skeletons.get(skeleton) or locale.date_formats["long"]).strip("'")


def _range_patterns(locale: Locale, field: str) -> tuple[str, str]:
    """CLDR's range of two dates differing in `field`, with month names in full.

    CLDR has no interval for a full month name (yMMMMd); its abbreviated one
    (yMMMd) has the shape, and the long date the month's width.
    """
    formats = locale.interval_formats.get("yMMMd") or {}
    parts = formats.get(field)
    if not parts:
        long = str(locale.date_formats["long"])
        return long + " – ", long
    widen = "MMMM" if "MMMM" in str(locale.date_formats["long"]) else "MMM"
    return tuple(re.sub("M{3,4}", widen, p) for p in parts)  # type: ignore[return-value]


def best_language(accepted: Sequence[str], languages: Sequence[str]) -> str:
    """The configured language a reader's Accept-Language prefers (tags best first), else the first.

    A tag matches itself whatever its case, then by its language alone: "cy-GB" finds "cy", "en" finds "en-GB".
    """
    def primary(tag: str) -> str:
        return tag.replace("_", "-").split("-")[0].lower()

    for wanted in accepted:
        for tag in languages:
            if tag.lower() == wanted.replace("_", "-").lower():
                return tag
        for tag in languages:
            if primary(tag) == primary(wanted):
                return tag
    return languages[0]


BILINGUAL_SEPARATOR = " / "


def _join(texts) -> str:
    out: list[str] = []
    for text in texts:  # what the languages say alike (a name, a date in digits) is said once
        if text not in out:
            out.append(text)
    return BILINGUAL_SEPARATOR.join(out)


class _Joined:
    """gettext-like translations that give each language's words in order, joined ("Helo, / Hello,")."""

    def __init__(self, parts: Sequence[Language]):
        self.parts = tuple(parts)

    def gettext(self, message: str) -> str:
        return _join(p.gettext(message) for p in self.parts)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _join(p.ngettext(singular, plural, n) for p in self.parts)

    def pgettext(self, context: str, message: str) -> str:
        return _join(p.pgettext(context, message) for p in self.parts)

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        return _join(p.npgettext(context, singular, plural, n) for p in self.parts)


class PerLanguage(str):
    """A value that differs by language (dates, "all topics") in a bilingual text: reads as every
    language's, joined; a sentence in one language takes its own (see Bilingual.format)."""

    def __new__(cls, texts: Sequence[str]):
        value = super().__new__(cls, _join(texts))
        value.texts = tuple(texts)
        return value


@dataclass(frozen=True)
class Bilingual(Language):
    """Several languages in one text, in order ("cy+en-GB"): for a bilingual email. Every word and date
    is given in each language, joined by BILINGUAL_SEPARATOR; the page's lang is the first's."""

    languages: tuple[Language, ...] = ()

    @property
    def parts(self) -> tuple[Language, ...]:
        return self.languages

    @property
    def html_tag(self) -> str:
        return self.languages[0].tag

    def each(self, message_of, values: dict, wrap=str) -> str:
        """Each language's sentence, filled with that language's values (PerLanguage), joined:
        message_of(part) gives a part's translated text, wrap (Markup, in HTML) makes it safe to fill.
        In HTML the sentences after the first carry their own lang, so screen readers switch voice."""
        texts = [wrap(message_of(p)) % {k: v.texts[i] if isinstance(v, PerLanguage) else v for k, v in values.items()}
                 for i, p in enumerate(self.languages)]
        if wrap is str:
            return BILINGUAL_SEPARATOR.join(dict.fromkeys(texts))
        out = [texts[0]] + [wrap('<span lang="%s">%s</span>') % (p.locale.language, t)
                            for p, t in zip(self.languages[1:], texts[1:]) if t != texts[0]]
        return wrap(BILINGUAL_SEPARATOR).join(out)

    def long_date(self, day: date) -> str:
        return _join(p.long_date(day) for p in self.languages)

    def month_year(self, day: date) -> str:
        return _join(p.month_year(day) for p in self.languages)

    def date_range(self, first: date, last: date) -> str:
        return _join(p.date_range(first, last) for p in self.languages)


@lru_cache(maxsize=32)
def language(tag: str = DEFAULT_LANGUAGE) -> Language:
    """The Language of a BCP 47 tag, its catalogue loaded once (English: the source words);
    "cy+en-GB": those languages together (Bilingual)."""
    if "+" in tag:
        parts = tuple(language(t) for t in tag.split("+"))
        return Bilingual(tag, parts[0].locale, _Joined(parts), parts)  # type: ignore[arg-type]
    locale = locale_of(tag)
    translations = Translations.load(str(LOCALE_DIR), [str(locale)], DOMAIN)
    if not isinstance(translations, Translations):  # no catalogue: the source words, English plurals
        translations = gettext_lib.NullTranslations()
    return Language(tag, locale, translations)


def catalogued() -> list[str]:
    """The tags of the languages that have a compiled catalogue (English needs none)."""
    return sorted(p.parent.parent.name.replace("_", "-") for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo"))
